//! `--into TARGET.mbz`: compare planned actions with the target course's current manual enrolments, so the
//! plan only changes what needs changing and never shortens or suspends an access the target already grants;
//! and predict what a merge restore of the converted archive would give, with Moodle's own merge rule
//! ([`merge::restore_user_enrolment`], moodle-format.md §3.6).

use serde::Serialize;

pub use crate::enrol::Values;
use crate::enrol::merge;

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

/// Compares the planned `b` with the target's manual enrolment `e`. Returns the values to plan (never less
/// access than `e` grants) and the outcome; `kind == "kept"` means nothing to send.
pub fn compare(e: Option<Values>, b: Values) -> (Values, Outcome) {
    let merge = merge::restore_user_enrolment(e, b);
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
    let planned = merge::widen(b, e);
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
        Values::new(status, timestart, timeend)
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
