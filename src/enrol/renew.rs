//! Renewal of manual and self enrolments: the participants page's "Edit selected user enrolments" bulk
//! operation (moodle-format.md §7), offline. Filters combine with AND, a list inside one filter means any of
//! them; only the chosen fields of matching `<enrolment>` elements change.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::error::EnrolError;
use super::members::{COURSE_ROLES, Docs, ENROLMENTS, GROUPS, ROLES};
use super::model;
use super::model::Values;
use super::restore;
use super::warning::{Setting, Warning};
use crate::xml::{self, Edit};

/// A `--status` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Gives access now: enrolment and instance enabled, started, not ended.
    Active,
    /// The enrolment or its instance is suspended/disabled.
    Suspended,
    /// Ended: `timeend` in the past.
    Expired,
    /// Not active (suspended, disabled, expired or not yet started): the participants page's "Inactive".
    Inactive,
    /// Everything.
    Any,
}

/// Filters and actions.
#[derive(Debug, Clone)]
pub struct Options {
    /// Enrol plugins whose enrolments may match (`manual`, `self`).
    pub methods: Vec<String>,
    /// Role shortnames held in the course (empty: any).
    pub roles: Vec<String>,
    /// Statuses (empty: any).
    pub statuses: Vec<Status>,
    /// Group names (empty: any).
    pub groups: Vec<String>,
    /// Usernames (empty: any).
    pub users: Vec<String>,
    /// "Now" for active/expired and the warnings.
    pub now: i64,
    /// New status (0 active, 1 suspended).
    pub set_status: Option<i64>,
    /// New start.
    pub start: Option<i64>,
    /// New end (0 = unlimited).
    pub until: Option<i64>,
    /// The restore target whose outcome `after` promises (all three are reported).
    pub target: restore::Target,
}

/// One matched enrolment.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `userid`.
    pub userid: i64,
    /// From users.xml.
    pub username: Option<String>,
    /// `<enrol id>`.
    pub instance: String,
    /// Its plugin.
    pub method: String,
    /// Before.
    pub before: Values,
    /// After: what the chosen restore target stores ([`Options::target`]; the live merge by default).
    pub after: Values,
    /// What the archive holds (the new values, or their start shaped for the live merge).
    pub archive: Values,
    /// What each restore target stores.
    pub outcomes: restore::Outcomes,
    /// What no archive can make the live merge do, in words.
    pub cannot: Vec<restore::Limit>,
    /// Why the result gives no access, if it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_access: Option<String>,
}

/// What renew did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// Matched enrolments (in the JSON through the outcome's `job::Listing`, element by element).
    #[serde(skip)]
    pub matched: Vec<Row>,
    /// Of them, enrolments whose values changed.
    pub changed: usize,
    /// Things the admin should know.
    pub warnings: Vec<Warning>,
    /// The restore target `after` promises.
    pub restore_target: restore::Target,
    /// Manual enrolments whose archive start is one second after their live start, so that a merge into the
    /// live course applies their later end ([`restore::shape`]).
    pub shaped: usize,
}

/// The rewritten `course/enrolments.xml` (`None` = unchanged) and the report.
#[derive(Debug, Clone)]
pub struct Renewal {
    /// New `course/enrolments.xml`.
    pub enrolments: Option<Vec<u8>>,
    /// What was done.
    pub report: Report,
}

/// Applies `opts` to `docs`; `users` maps user ids to usernames (from users.xml).
///
/// # Errors
/// [`EnrolError`] when a member is malformed or a matching enrolment lacks an integer field.
pub fn renew(
    docs: &Docs<'_>,
    users: &BTreeMap<i64, String>,
    opts: &Options,
) -> Result<Renewal, EnrolError> {
    let mut report = Report {
        restore_target: opts.target,
        ..Report::default()
    };
    let Some(ex) = docs.enrolments else {
        report.warnings.push(Warning::Note(format!(
            "no {ENROLMENTS} in this backup: nothing to renew"
        )));
        return Ok(Renewal {
            enrolments: None,
            report,
        });
    };
    let instances = model::parse_enrolments(ex).map_err(EnrolError::xml(ENROLMENTS))?;
    let role_names = match docs.roles {
        Some(x) => model::parse_role_names(x).map_err(EnrolError::xml(ROLES))?,
        None => BTreeMap::new(),
    };
    let mut user_roles: HashMap<i64, BTreeSet<String>> = HashMap::new();
    if let Some(x) = docs.course_roles {
        for a in model::parse_assignments(x).map_err(EnrolError::xml(COURSE_ROLES))? {
            if let (Some(u), Some(r)) = (a.userid, a.roleid) {
                let name = role_names.get(&r).cloned().unwrap_or_default();
                user_roles.entry(u).or_default().insert(name);
            }
        }
    }
    let mut user_groups: HashMap<i64, BTreeSet<String>> = HashMap::new();
    let mut group_names: BTreeSet<String> = BTreeSet::new();
    if let Some(x) = docs.groups {
        for m in model::parse_group_members(x).map_err(EnrolError::xml(GROUPS))? {
            group_names.insert(m.group.clone());
            if let Some(u) = m.userid {
                user_groups.entry(u).or_default().insert(m.group);
            }
        }
    }
    for r in &opts.roles {
        if !role_names.values().any(|n| n == r) {
            report.warnings.push(Warning::Missing {
                setting: Setting::Roles,
                name: r.clone(),
            });
        }
    }
    for g in &opts.groups {
        if !group_names.contains(g) {
            report.warnings.push(Warning::Missing {
                setting: Setting::Groups,
                name: g.clone(),
            });
        }
    }
    let wanted_ids: BTreeSet<i64> = users
        .iter()
        .filter(|(_, name)| opts.users.contains(name))
        .map(|(id, _)| *id)
        .collect();
    for u in &opts.users {
        if !users.values().any(|n| n == u) {
            report.warnings.push(Warning::Missing {
                setting: Setting::Users,
                name: u.clone(),
            });
        }
    }

    let mut edits: Vec<Edit> = Vec::new();
    for inst in &instances {
        let method = inst.plugin(ex);
        if !opts.methods.contains(&method) {
            continue;
        }
        let disabled = inst.status(ex) != 0;
        for ue in &inst.enrolments {
            let Some(userid) = ue.int(ex, "userid") else {
                continue;
            };
            if !opts.users.is_empty() && !wanted_ids.contains(&userid) {
                continue;
            }
            if !opts.roles.is_empty()
                && !user_roles
                    .get(&userid)
                    .is_some_and(|r| opts.roles.iter().any(|w| r.contains(w)))
            {
                continue;
            }
            if !opts.groups.is_empty()
                && !user_groups
                    .get(&userid)
                    .is_some_and(|g| opts.groups.iter().any(|w| g.contains(w)))
            {
                continue;
            }
            let before = ue.values(ex, inst)?;
            if !opts.statuses.is_empty()
                && !opts
                    .statuses
                    .iter()
                    .any(|s| matches(*s, before, disabled, opts.now))
            {
                continue;
            }
            let wanted = Values {
                status: opts.set_status.unwrap_or(before.status),
                timestart: opts.start.unwrap_or(before.timestart),
                timeend: opts.until.unwrap_or(before.timeend),
            };
            // The live course holds `before` (the backup is of it): what a merge of the written values stores.
            let (written, outcomes) = restored(&method, before, wanted, !disabled);
            let cannot = restore::limits(wanted, Some(before), outcomes.live);
            report.shaped += usize::from(written != wanted);
            for (name, old, new) in [
                ("status", before.status, written.status),
                ("timestart", before.timestart, written.timestart),
                ("timeend", before.timeend, written.timeend),
            ] {
                if old != new
                    && let Some(f) = ue.fields.get(name)
                {
                    edits.extend(f.set(ex, name, &new.to_string()));
                }
            }
            report.changed += usize::from(before != written);
            report.matched.push(Row {
                userid,
                username: users.get(&userid).cloned(),
                instance: inst.id.clone(),
                method: method.clone(),
                before,
                after: outcomes.get(opts.target),
                archive: written,
                outcomes,
                cannot,
                no_access: no_access(wanted, disabled, opts.now),
            });
        }
    }
    if report.matched.is_empty() {
        report.warnings.push(Warning::Note(
            "no enrolment matches the filters: nothing changed".into(),
        ));
    }
    for row in &report.matched {
        if let Some(why) = &row.no_access {
            report.warnings.push(Warning::Note(format!(
                "user {} ({} #{}): {why}",
                row.username.as_deref().unwrap_or(&row.userid.to_string()),
                row.method,
                row.instance
            )));
        }
    }
    let out = xml::splice(ex, edits).map_err(EnrolError::edit(ENROLMENTS))?;
    Ok(Renewal {
        enrolments: (out != ex).then_some(out),
        report,
    })
}

/// What to write for an enrolment of `method` that holds `before` (in the live course too) and should hold
/// `wanted`, and what each restore target then stores: manual enrolments follow Moodle's merge rule (the start
/// shaped so that a later end applies), self enrolments are overwritten; other methods are not modelled (their
/// sync rewrites them) and are reported as written.
fn restored(
    method: &str,
    before: Values,
    wanted: Values,
    enabled: bool,
) -> (Values, restore::Outcomes) {
    match method {
        model::MANUAL => {
            let written = restore::shape(Some(before), wanted);
            let outcomes = restore::manual_outcomes(written, enabled, Some(before), enabled);
            (written, outcomes)
        }
        _ => {
            let stored = restore::self_restore(wanted);
            let outcomes = restore::Outcomes {
                new: wanted,
                existing: wanted,
                live: stored.values,
                live_enrols: stored.enrols,
            };
            (wanted, outcomes)
        }
    }
}

/// Whether an enrolment with `v` in an instance (`disabled` or not) has status `s` at `now`.
fn matches(s: Status, v: Values, disabled: bool, now: i64) -> bool {
    let ended = v.timeend != 0 && v.timeend <= now;
    let active = v.status == 0 && !disabled && v.timestart <= now && !ended;
    match s {
        Status::Active => active,
        Status::Suspended => v.status != 0 || disabled,
        Status::Expired => ended,
        Status::Inactive => !active,
        Status::Any => true,
    }
}

/// Why a resulting enrolment gives no access (a suspended result is intended and not reported).
fn no_access(v: Values, disabled: bool, now: i64) -> Option<String> {
    if v.status != 0 {
        return None;
    }
    if disabled {
        return Some("its enrolment method is disabled: the enrolment gives no access".into());
    }
    if v.timeend != 0 && v.timeend <= v.timestart {
        return Some(format!(
            "end {} is not after start {}: the enrolment gives no access",
            v.timeend, v.timestart
        ));
    }
    if v.timeend != 0 && v.timeend <= now {
        return Some(format!(
            "end {} is in the past: the enrolment gives no access",
            v.timeend
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters() {
        let now = 1000;
        let v = |status, timestart, timeend| Values {
            status,
            timestart,
            timeend,
        };
        assert!(matches(Status::Active, v(0, 0, 0), false, now));
        assert!(!matches(Status::Active, v(0, 0, 0), true, now));
        assert!(matches(Status::Suspended, v(0, 0, 0), true, now));
        assert!(matches(Status::Expired, v(0, 0, 999), false, now));
        assert!(!matches(Status::Expired, v(0, 0, 1001), false, now));
        assert!(matches(Status::Inactive, v(0, 2000, 0), false, now));
        assert!(matches(Status::Inactive, v(1, 0, 0), false, now));
        assert!(!matches(Status::Inactive, v(0, 0, 0), false, now));
    }

    #[test]
    fn no_access_reasons() {
        let v = |status, timestart, timeend| Values {
            status,
            timestart,
            timeend,
        };
        assert!(no_access(v(0, 0, 0), false, 10).is_none());
        assert!(no_access(v(1, 0, 5), false, 10).is_none());
        assert!(no_access(v(0, 0, 5), false, 10).unwrap().contains("past"));
        assert!(
            no_access(v(0, 50, 20), false, 10)
                .unwrap()
                .contains("not after")
        );
        assert!(
            no_access(v(0, 0, 0), true, 10)
                .unwrap()
                .contains("disabled")
        );
    }
}
