//! `--into TARGET.mbz`: compare planned actions with the target course's current manual enrolments, so the
//! plan only changes what needs changing and never shortens or suspends an access the target already grants;
//! and predict what a merge restore of the converted archive would give, with Moodle's own merge rule
//! ([`restore::manual_restore`], moodle-format.md §3.6).

use std::collections::BTreeMap;

use serde::Serialize;

use super::CoursePlan;
/// A manual enrolment's values (status, start, end).
pub use crate::enrol::Values;
use crate::enrol::{merge, restore};

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
    let merge = restore::manual_restore(e, b, true, true).values;
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

/// The target course's first manual instance, as Upload users takes it (`admin/tool/uploaduser/classes/process.php`,
/// `process_line()`: the first `enrol === 'manual'` of `enrol_get_instances($courseid, false)`, disabled ones
/// included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manual {
    /// Its status is 0: enrolments in it give access.
    pub enabled: bool,
    /// Its default enrolment duration (`enrolperiod`, seconds; 0 = none).
    pub enrolperiod: i64,
    /// Its default role (`roleid`; 0 = none).
    pub roleid: i64,
    /// That role's shortname, when the target's `roles.xml` names it.
    pub role: Option<String>,
}

/// The target course as a plan's consumer meets it, read from its backup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The target's backup, as given.
    pub archive: String,
    /// Its first manual instance, if it has one.
    pub manual: Option<Manual>,
    /// The release of the site that made it (the live site).
    pub release: Option<crate::backup::Release>,
}

/// The target course is none of the planned courses: there is nothing to compare.
#[derive(Debug, thiserror::Error)]
#[error("the target course ({}) is none of the planned courses", shortname.as_deref().unwrap_or("?"))]
pub struct NotPlanned {
    /// The target course's shortname, if its backup has one.
    pub shortname: Option<String>,
}

/// One planned action compared with the target.
#[derive(Debug, Clone)]
pub struct Compared {
    /// The user (username).
    pub username: String,
    /// The values now planned (never less access than the target grants).
    pub planned: Values,
    /// How they compare (also stored in the action, when it stays in the plan).
    pub outcome: Outcome,
}

/// Every action of the target's course compared, in plan order.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// One row per action compared.
    pub rows: Vec<Compared>,
}

impl Comparison {
    /// How many actions of each [`Outcome::kind`].
    pub fn totals(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for r in &self.rows {
            *counts.entry(r.outcome.kind).or_default() += 1;
        }
        counts
    }
}

/// Compares the actions of the plans for the target course (matched by `id`, else `shortname`) with its manual
/// enrolments by username (`current`): each action's values become what [`compare`] plans, its outcome is
/// recorded, and the actions with nothing to send (`kept`) leave the plan. The matched plans record `target`.
///
/// # Errors
/// [`NotPlanned`] when no plan is for the target course.
pub fn compare_plans(
    plans: &mut [CoursePlan],
    id: Option<i64>,
    shortname: Option<&str>,
    current: &BTreeMap<String, Values>,
    target: &Target,
) -> Result<Comparison, NotPlanned> {
    let matches = |p: &CoursePlan| {
        (id.is_some() && id == p.course.id) || shortname == Some(p.course.shortname.as_str())
    };
    if !plans.iter().any(matches) {
        return Err(NotPlanned {
            shortname: shortname.map(str::to_owned),
        });
    }
    let mut comparison = Comparison::default();
    for p in plans.iter_mut().filter(|p| matches(p)) {
        p.target = Some(target.clone());
        let mut kept = Vec::new();
        for mut action in std::mem::take(&mut p.actions) {
            let username = action.user.user.username.clone();
            let (values, outcome) = compare(current.get(&username).copied(), action.values);
            action.values = values;
            let send = outcome.kind != "kept";
            comparison.rows.push(Compared {
                username,
                planned: values,
                outcome: outcome.clone(),
            });
            action.into = Some(outcome);
            if send {
                kept.push(action);
            }
        }
        p.actions = kept;
    }
    Ok(comparison)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::v;

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

    #[test]
    fn compared_plans_drop_kept_actions_and_refuse_another_course() {
        use crate::plan::{Action, CourseRef, UserRef};
        let action = |name: &str| {
            let mut user = UserRef::default();
            user.user.username = name.into();
            Action {
                course: CourseRef::default(),
                user,
                roles: Vec::new(),
                groups: Vec::new(),
                group_ids: Vec::new(),
                values: v(0, 0, 9),
                stamped: true,
                sources: Vec::new(),
                into: None,
            }
        };
        let mut plans = vec![CoursePlan {
            archive: "a.mbz".into(),
            course: CourseRef {
                id: Some(7),
                shortname: "c".into(),
                idnumber: String::new(),
            },
            actions: vec![action("kept"), action("new")],
            ..CoursePlan::default()
        }];
        let current = BTreeMap::from([("kept".to_owned(), v(0, 0, 20))]);
        let target = Target {
            archive: "live.mbz".into(),
            ..Target::default()
        };
        let e = compare_plans(&mut plans, Some(8), Some("other"), &current, &target).unwrap_err();
        assert_eq!(e.shortname.as_deref(), Some("other"));
        let c = compare_plans(&mut plans, Some(7), None, &current, &target).unwrap();
        assert_eq!(plans[0].target.as_ref(), Some(&target));
        assert_eq!(c.rows.len(), 2);
        assert_eq!(c.totals(), BTreeMap::from([("kept", 1), ("new", 1)]));
        assert_eq!(plans[0].actions.len(), 1);
        assert_eq!(plans[0].actions[0].user.user.username, "new");
        assert!(plans[0].actions[0].into.is_some());
    }
}
