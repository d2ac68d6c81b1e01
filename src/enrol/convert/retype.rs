//! Instances made manual: a converted instance is retyped and loses every plugin setting (`customint1` would
//! be read as the 4.4+ welcome option); a disabled manual holder is enabled with its active enrolments
//! suspended, so nobody gains access.

use crate::enrol::members::{CUSTOM_FIELDS, EXPIRY_THRESHOLD, NULLED, ZEROED};
use crate::enrol::model::{Instance, MANUAL};
use crate::fast_hash::IdSet;
use crate::xml::{self, Edit};

/// Adds the edits retyping `inst` to a plain, enabled manual instance.
pub(super) fn retype(ex: &[u8], inst: &Instance, edits: &mut Vec<Edit>) {
    let mut put = |name: &str, value: &str| {
        if let Some(f) = inst.fields.get(name) {
            edits.extend(f.set(ex, name, value));
        }
    };
    put("enrol", MANUAL);
    put("status", "0");
    for name in NULLED.iter().chain(CUSTOM_FIELDS) {
        put(name, xml::NULL);
    }
    for name in ZEROED {
        put(name, "0");
    }
    put("expirythreshold", EXPIRY_THRESHOLD);
    for child in &inst.plugin_children {
        edits.push(Edit::delete(xml::line_span(ex, child.clone())));
    }
}

/// Adds the edits enabling the disabled manual `holder` and suspending its active enrolments, except those
/// at the positions in `combined` (already rewritten by the merge). Returns how many it suspends.
pub(super) fn enable_holder(
    ex: &[u8],
    holder: &Instance,
    combined: &IdSet<usize>,
    edits: &mut Vec<Edit>,
) -> usize {
    if let Some(f) = holder.fields.get("status") {
        edits.extend(f.set(ex, "status", "0"));
    }
    let mut suspended = 0;
    for (ui, ue) in holder.enrolments.iter().enumerate() {
        if combined.contains(&ui) {
            continue;
        }
        if ue.int(ex, "status") == Some(0)
            && let Some(f) = ue.fields.get("status")
        {
            edits.extend(f.set(ex, "status", "1"));
            suspended += 1;
        }
    }
    suspended
}
