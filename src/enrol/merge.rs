//! Merging enrolments: how convert combines a user's sources into one manual enrolment, and the live course's
//! manual enrolments that a merge restore meets (Moodle's rule itself is in [`super::restore`]).

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

/// What a merge meets, by user id: the enrolments of the course's first manual instance (the first of each
/// user; those lacking a value are left out) and whether that instance is enabled (a course without one gets
/// the archive's, enabled).
///
/// # Errors
/// [`EnrolError::Xml`] when `course/enrolments.xml` (`x`) is malformed.
pub fn live_course(x: &[u8]) -> Result<super::restore::LiveCourse, EnrolError> {
    let instances = model::parse_enrolments(x).map_err(EnrolError::xml(ENROLMENTS))?;
    let mut live = super::restore::LiveCourse {
        enabled: true,
        ..Default::default()
    };
    if let Some((_, manual)) = model::first_manual(&instances, x) {
        live.enabled = manual.status(x) == 0;
        for e in &manual.enrolments {
            if let (Some(u), Some(values)) = (e.int(x, "userid"), e.values_if_present(x)) {
                live.enrolments.entry(u).or_insert(values);
            }
        }
    }
    Ok(live)
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
    use crate::testkit::v;

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
