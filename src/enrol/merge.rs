//! Merging enrolments: how convert combines a user's sources into one manual enrolment, and what Moodle's
//! restore stores when a backup's manual enrolment meets one the target course already has
//! (moodle-format.md §3.6).

use std::collections::BTreeMap;

use super::error::EnrolError;
use super::members::ENROLMENTS;
use super::model::{self, Values};
use crate::backup::User;

/// The later of two ends, 0 (unlimited) winning.
pub fn later_end(a: i64, b: i64) -> i64 {
    if a == 0 || b == 0 { 0 } else { a.max(b) }
}

/// One user's enrolments combined into one: active if any source gives access (`true` beside its values:
/// its own status and its instance's are both 0); start and end come from the sources that give access, or
/// from all of them when none does; the earliest start, the latest end (0 = unlimited wins).
pub fn combine<I>(sources: I) -> Values
where
    I: IntoIterator<Item = (Values, bool)>,
    I::IntoIter: Clone,
{
    let sources = sources.into_iter();
    let active = sources.clone().any(|(_, effective)| effective);
    let pool = sources
        .filter(|&(_, effective)| effective || !active)
        .map(|(v, _)| v);
    let (timestart, timeend) = pool.fold((None, None), |(start, end): (Option<i64>, _), v| {
        (
            Some(start.map_or(v.timestart, |s| s.min(v.timestart))),
            Some(end.map_or(v.timeend, |e| later_end(e, v.timeend))),
        )
    });
    Values {
        status: if active { 0 } else { 1 },
        timestart: timestart.unwrap_or(0),
        timeend: timeend.unwrap_or(0),
    }
}

/// Two active enrolments as one that grants both: active, the earlier start, the later end.
pub fn widen(a: Values, b: Values) -> Values {
    Values {
        status: 0,
        timestart: a.timestart.min(b.timestart),
        timeend: later_end(a.timeend, b.timeend),
    }
}

/// What Moodle stores when restore merges the backup's manual enrolment `backup` into a course whose manual
/// instance already holds `existing` for the same user (the backup's instance is enabled after conversion).
///
/// Moodle 4.3 and 5.0, `enrol/manual/lib.php`, `enrol_manual_plugin::restore_user_enrolment()`: an active
/// existing enrolment only "merges the times": nothing is written unless the backup starts later (the existing
/// start is kept) or has no end while the existing one has; a suspended backup enrolment changes nothing.
/// A missing or suspended existing enrolment is (re)written with the backup's values.
pub fn restore_user_enrolment(existing: Option<Values>, backup: Values) -> Values {
    match existing {
        Some(e) if e.status == 0 => {
            if backup.status != 0 {
                return e;
            }
            let mut r = backup;
            let mut enrol = false;
            if r.timestart > e.timestart {
                r.timestart = e.timestart;
                enrol = true;
            }
            if r.timeend == 0 {
                if e.timeend != 0 {
                    enrol = true;
                }
            } else if e.timeend == 0 {
                r.timeend = 0;
            } else if r.timeend < e.timeend {
                r.timeend = e.timeend;
                enrol = true;
            }
            if enrol { r } else { e }
        }
        _ => backup,
    }
}

/// What a merge meets: the course's manual enrolments by username (the first manual instance, as restore and
/// Upload users use; the first enrolment of each user; enrolments lacking a value or of a user missing from
/// `users` are left out).
///
/// # Errors
/// [`EnrolError::Xml`] when `course/enrolments.xml` (`x`) is malformed.
pub fn manual_by_username(
    x: &[u8],
    users: &BTreeMap<i64, User>,
) -> Result<BTreeMap<String, Values>, EnrolError> {
    let instances = model::parse_enrolments(x).map_err(EnrolError::xml(ENROLMENTS))?;
    let mut out = BTreeMap::new();
    let Some((_, manual)) = model::first_manual(&instances, x) else {
        return Ok(out);
    };
    for e in &manual.enrolments {
        let (Some(u), Some(values)) = (e.int(x, "userid"), e.values_if_present(x)) else {
            continue;
        };
        let Some(user) = users.get(&u) else { continue };
        out.entry(user.username.clone()).or_insert(values);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(status: i64, timestart: i64, timeend: i64) -> Values {
        Values::new(status, timestart, timeend)
    }

    #[test]
    fn restore_rule_matches_moodle() {
        let merge = restore_user_enrolment;
        // None or suspended: the backup overwrites.
        assert_eq!(merge(None, v(0, 5, 9)), v(0, 5, 9));
        assert_eq!(merge(Some(v(1, 1, 2)), v(0, 5, 9)), v(0, 5, 9));
        // Active vs suspended: no change.
        assert_eq!(merge(Some(v(0, 1, 2)), v(1, 5, 9)), v(0, 1, 2));
        // B later start: start from E, end max.
        assert_eq!(merge(Some(v(0, 1, 5)), v(0, 3, 9)), v(0, 1, 9));
        // B unlimited, E finite.
        assert_eq!(merge(Some(v(0, 3, 5)), v(0, 1, 0)), v(0, 1, 0));
        // B wider in both directions but earlier start and later end: no change (Moodle's quirk).
        assert_eq!(merge(Some(v(0, 3, 5)), v(0, 1, 9)), v(0, 3, 5));
        // E unlimited.
        assert_eq!(merge(Some(v(0, 3, 0)), v(0, 5, 9)), v(0, 3, 0));
    }

    #[test]
    fn combine_prefers_sources_with_access() {
        // One active source: only its dates count.
        assert_eq!(
            combine([(v(0, 5, 9), true), (v(1, 1, 0), false)]),
            v(0, 5, 9)
        );
        // None active: all dates count, suspended.
        assert_eq!(
            combine([(v(0, 5, 9), false), (v(1, 1, 20), false)]),
            v(1, 1, 20)
        );
        // Unlimited wins.
        assert_eq!(
            combine([(v(0, 5, 9), true), (v(0, 7, 0), true)]),
            v(0, 5, 0)
        );
        assert_eq!(widen(v(0, 5, 9), v(1, 3, 7)), v(0, 3, 9));
    }
}
