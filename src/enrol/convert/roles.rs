//! Role assignments (`course/roles.xml`) and group members (`groups.xml`) of the converted plugins become
//! plain manual ones (component '', itemid 0); an assignment that would duplicate a manual one is removed.

use std::collections::BTreeSet;

use super::{EnrolError, Limit, Report};
use crate::enrol::members::{COURSE_ROLES, GROUPS};
use crate::enrol::model::{self, Field};
use crate::fast_hash::IdSet;
use crate::xml::{self, Edit};

/// One converted role assignment's rewrite: removed (an exact duplicate of a manual one), or made manual.
pub(super) enum RoleOp {
    Delete(std::ops::Range<usize>),
    Manual(Option<Field>, Option<Field>),
}

/// Counts the planned rewrite of `course/roles.xml` in [`Report::role_assignments_rewritten`] and
/// [`Report::role_assignments_removed`] (apart from the plan, so that the plan can run on another thread).
pub(super) fn count(ops: &[RoleOp], report: &mut Report) {
    for op in ops {
        match op {
            RoleOp::Delete(_) => report.role_assignments_removed += 1,
            RoleOp::Manual(..) => report.role_assignments_rewritten += 1,
        }
    }
}

/// The rewrite of `course/roles.xml`: assignments of converted plugins become manual (component '', itemid 0),
/// and one that would duplicate a manual assignment (same role and user) is removed.
pub(super) fn plan_assignments(
    x: &[u8],
    assignments: &[model::Assignment],
    components: &BTreeSet<String>,
) -> Vec<RoleOp> {
    // Borrowed when the value needs no decoding (what Moodle writes): no allocation per assignment.
    let component_of = |a: &model::Assignment| a.component.as_ref().map(|c| c.text_cow(x));
    let mut manual: IdSet<(i64, i64)> = assignments
        .iter()
        .filter(|a| component_of(a).is_none_or(|c| c.is_empty()))
        .filter_map(|a| Some((a.roleid?, a.userid?)))
        .collect();
    let mut ops = Vec::new();
    for a in assignments {
        let Some(comp) = component_of(a) else {
            continue;
        };
        if !components.contains(comp.trim()) {
            continue;
        }
        let key = a.roleid.zip(a.userid);
        if key.is_some_and(|k| manual.contains(&k)) {
            ops.push(RoleOp::Delete(xml::line_span(x, a.span.clone())));
            continue;
        }
        if let Some(k) = key {
            manual.insert(k);
        }
        ops.push(RoleOp::Manual(a.component.clone(), a.itemid.clone()));
    }
    ops.shrink_to_fit();
    ops
}

/// Applies the planned rewrite of `course/roles.xml` (`None`: unchanged), in its own buffer when it can be.
pub(super) fn apply_role_ops_owned(
    x: Vec<u8>,
    ops: Vec<RoleOp>,
) -> Result<Option<Vec<u8>>, EnrolError> {
    let edits = role_edits(&x, ops);
    finish_owned(x, edits, COURSE_ROLES)
}

/// The edits of the planned rewrite of `course/roles.xml`.
fn role_edits(x: &[u8], ops: Vec<RoleOp>) -> Vec<Edit> {
    let mut edits = Vec::with_capacity(ops.len() * 2);
    for op in ops {
        match op {
            RoleOp::Delete(span) => edits.push(Edit::delete(span)),
            RoleOp::Manual(component, itemid) => {
                if let Some(c) = &component {
                    edits.extend(c.set(x, "component", ""));
                }
                if let Some(i) = &itemid {
                    edits.extend(i.set(x, "itemid", "0"));
                }
            }
        }
    }
    edits
}

/// Makes the converted plugins' group members manual (`None`: `groups.xml` unchanged), in its own buffer when
/// it can be.
pub(super) fn rewrite_members_owned(
    x: Vec<u8>,
    components: &BTreeSet<String>,
    report: &mut Report,
) -> Result<Option<Vec<u8>>, EnrolError> {
    let edits = member_edits(&x, components, report)?;
    finish_owned(x, edits, GROUPS)
}

/// The edits making the converted plugins' group members manual.
fn member_edits(
    x: &[u8],
    components: &BTreeSet<String>,
    report: &mut Report,
) -> Result<Vec<Edit>, EnrolError> {
    let members = model::parse_group_members(x).map_err(EnrolError::xml(GROUPS))?;
    let mut edits = Vec::new();
    let mut owned: Vec<(i64, Limit)> = Vec::new();
    for m in &members {
        let Some(c) = &m.component else { continue };
        let component = c.text(x);
        if !components.contains(component.trim()) {
            continue;
        }
        // The live course has this membership, owned by the synced method: a merge skips it.
        if let Some(u) = m.userid {
            owned.push((
                u,
                Limit::GroupOwnedBySync {
                    group: m.group.clone(),
                    component: component.trim().to_owned(),
                },
            ));
        }
        edits.extend(c.set(x, "component", ""));
        if let Some(i) = &m.itemid {
            edits.extend(i.set(x, "itemid", "0"));
        }
        report.group_members_rewritten += 1;
    }
    report.add_limits(owned);
    Ok(edits)
}

/// The member with `edits` applied over its own buffer, `None` when nothing changes.
fn finish_owned(
    x: Vec<u8>,
    edits: Vec<Edit>,
    member: &'static str,
) -> Result<Option<Vec<u8>>, EnrolError> {
    if edits.is_empty() {
        return Ok(None);
    }
    xml::splice_owned(x, edits).map_err(EnrolError::edit(member))
}
