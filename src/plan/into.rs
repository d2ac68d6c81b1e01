//! `--into TARGET.mbz`: compare planned actions with the target course's current manual enrolments, so the
//! plan only changes what needs changing and never shortens or suspends an access the target already grants;
//! and predict what a merge restore of the converted archive would give, with Moodle's own merge rule
//! (moodle-format.md §3.6).

use serde::Serialize;

use crate::enrol::convert::later_end;

/// A manual enrolment's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Values {
    /// 0 active, 1 suspended.
    pub status: i64,
    /// Start.
    pub timestart: i64,
    /// End (0 = unlimited).
    pub timeend: i64,
}

/// How an action compares with the target.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// `new`, `extended`, `reactivated` or `kept`.
    pub kind: &'static str,
    /// Why, in words.
    pub why: String,
    /// The target's manual enrolment, if any.
    pub target: Option<Values>,
    /// What a merge restore of the converted archive would leave (Moodle's merge rule).
    pub merge_restore: Values,
}

/// Moodle's `enrol_manual_plugin::restore_user_enrolment` for existing `e` and backup `b` (the backup's
/// instance is enabled after conversion).
pub fn merge_restore(e: Option<Values>, b: Values) -> Values {
    match e {
        Some(e) if e.status == 0 => {
            if b.status != 0 {
                return e;
            }
            let mut r = b;
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
        _ => b,
    }
}

/// Compares the planned `b` with the target's manual enrolment `e`. Returns the values to plan (never less
/// access than `e` grants) and the outcome; `kind == "kept"` means nothing to send.
pub fn compare(e: Option<Values>, b: Values) -> (Values, Outcome) {
    let merge = merge_restore(e, b);
    let Some(e) = e else {
        return (
            b,
            Outcome {
                kind: "new",
                why: "no manual enrolment in the target course".into(),
                target: None,
                merge_restore: merge,
            },
        );
    };
    if e.status == 0 && b.status != 0 {
        return (
            e,
            Outcome {
                kind: "kept",
                why: "the target grants access and the plan would suspend it: not planned".into(),
                target: Some(e),
                merge_restore: merge,
            },
        );
    }
    if e.status != 0 {
        if b.status == 0 {
            return (
                b,
                Outcome {
                    kind: "reactivated",
                    why: "suspended in the target, active in the plan".into(),
                    target: Some(e),
                    merge_restore: merge,
                },
            );
        }
        return (
            e,
            Outcome {
                kind: "kept",
                why: "suspended in both: nothing to change".into(),
                target: Some(e),
                merge_restore: merge,
            },
        );
    }
    // Both active: never shorten; extend where the plan is wider.
    let planned = Values {
        status: 0,
        timestart: b.timestart.min(e.timestart),
        timeend: later_end(b.timeend, e.timeend),
    };
    if planned == e {
        (
            e,
            Outcome {
                kind: "kept",
                why: "the target already grants at least this access".into(),
                target: Some(e),
                merge_restore: merge,
            },
        )
    } else {
        (
            planned,
            Outcome {
                kind: "extended",
                why: "the plan widens the target's dates (earlier start or later end)".into(),
                target: Some(e),
                merge_restore: merge,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(status: i64, timestart: i64, timeend: i64) -> Values {
        Values {
            status,
            timestart,
            timeend,
        }
    }

    #[test]
    fn merge_rule_matches_moodle() {
        // None or suspended: the backup overwrites.
        assert_eq!(merge_restore(None, v(0, 5, 9)), v(0, 5, 9));
        assert_eq!(merge_restore(Some(v(1, 1, 2)), v(0, 5, 9)), v(0, 5, 9));
        // Active vs suspended: no change.
        assert_eq!(merge_restore(Some(v(0, 1, 2)), v(1, 5, 9)), v(0, 1, 2));
        // B later start: start from E, end max.
        assert_eq!(merge_restore(Some(v(0, 1, 5)), v(0, 3, 9)), v(0, 1, 9));
        // B unlimited, E finite.
        assert_eq!(merge_restore(Some(v(0, 3, 5)), v(0, 1, 0)), v(0, 1, 0));
        // B wider in both directions but earlier start and later end: no change (Moodle's quirk).
        assert_eq!(merge_restore(Some(v(0, 3, 5)), v(0, 1, 9)), v(0, 3, 5));
        // E unlimited.
        assert_eq!(merge_restore(Some(v(0, 3, 0)), v(0, 5, 9)), v(0, 3, 0));
    }

    #[test]
    fn plans_never_shorten_or_suspend() {
        assert_eq!(compare(None, v(0, 0, 9)).1.kind, "new");
        let (p, o) = compare(Some(v(0, 0, 20)), v(0, 0, 9));
        assert_eq!((p, o.kind), (v(0, 0, 20), "kept"));
        let (p, o) = compare(Some(v(0, 5, 9)), v(0, 0, 20));
        assert_eq!((p, o.kind), (v(0, 0, 20), "extended"));
        let (p, o) = compare(Some(v(0, 5, 9)), v(1, 0, 20));
        assert_eq!((p, o.kind), (v(0, 5, 9), "kept"));
        let (p, o) = compare(Some(v(1, 5, 9)), v(0, 0, 20));
        assert_eq!((p, o.kind), (v(0, 0, 20), "reactivated"));
    }
}
