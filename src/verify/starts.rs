//! The change proof's check of converted users' starts: a conversion combines starts and never invents one,
//! except the one second that makes a merge into the live course apply a later end.

use std::collections::{BTreeMap, BTreeSet};

use super::{Book, checks};
use crate::enrol::model;

/// The start of every manual enrolment of a user the conversion merged: the conversion combines starts and
/// never invents one, so each must be one of the user's starts in the original, or one second after one of them
/// (the shaping that makes a merge into the live course apply a later end: one second after the live start,
/// which is the user's manual start, or with `convert --into` the live course's, usually the same sync start;
/// restated here on purpose from `enrol::restore::shape`, so that verify does not share the writer's mistakes).
/// Users the conversion did not touch are left to the other checks (renew sets starts at will).
pub(super) fn converted_starts(
    (b, ib): (&[u8], &[model::Instance]),
    (a, ia): (&[u8], &[model::Instance]),
    converted: &BTreeSet<String>,
    book: &mut Book,
) {
    if converted.is_empty() {
        return;
    }
    // Per user: the starts in the original, and whether the user had an enrolment in a converted instance.
    let mut starts: BTreeMap<i64, (BTreeSet<i64>, bool)> = BTreeMap::new();
    for inst in ib {
        let conv = converted.contains(&inst.id);
        for e in &inst.enrolments {
            let (Some(u), Some(t)) = (e.int(b, "userid"), e.int(b, "timestart")) else {
                continue;
            };
            let entry = starts.entry(u).or_default();
            entry.0.insert(t);
            entry.0.insert(t.saturating_add(1));
            entry.1 |= conv;
        }
    }
    for inst in ia.iter().filter(|i| i.plugin(a) == "manual") {
        for e in &inst.enrolments {
            let (Some(u), Some(t)) = (e.int(a, "userid"), e.int(a, "timestart")) else {
                continue;
            };
            let Some((allowed, true)) = starts.get(&u) else {
                continue;
            };
            if !allowed.contains(&t) {
                book.fail(
                    checks::RECORDS_ONLY,
                    format!(
                        "<enrolment> of user {u} in <enrol id=\"{}\"> starts at {t}, which is none of the user's \
                         starts in the original (nor one second after one of them)",
                        inst.id
                    ),
                );
            }
        }
    }
}
