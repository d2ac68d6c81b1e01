//! Merge plans: the conversion result of each archive written as enrolment actions for the live course,
//! instead of a restore: Upload users CSV, tool_sync CSV, JSON, or `enrol_manual_enrol_users` request bodies.
//!
//! A plan is never a second implementation of the rules: [`build`] takes the report of
//! [`crate::enrol::convert::convert`] and only adds identifiers (users.xml, roles.xml, groups.xml, course).
//! Each format is one file in [`mod@format`], behind the [`Format`] interface; [`into`] compares the actions with a
//! live course's backup.

pub mod format;
pub mod into;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

pub use format::{
    ASSUMED, Call, ENROLMENTS_PER_CALL, ENROLTIMESTART_SINCE, Encoding, Enrolment, FORMATS, Format,
    FormatError, GROUPS_PER_LINE, Keys, MAX_INPUT_VARS, MAX_LINE_BYTES, MEMBERS_PER_CALL, Member,
    Output, PLAN_FILE, Separator, Settings, calls, form_encode, format, ws_items,
};

use crate::backup::{Release, User};
use crate::enrol::members::USERS;
use crate::enrol::model;
use crate::enrol::{Docs, Report, Warning};

/// Which user identifier the plan uses (tool_sync's `uid`, JSON `user.key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserKey {
    /// `username`.
    Username,
    /// `idnumber`.
    Idnumber,
    /// `email`.
    Email,
    /// The backup's user id (same site only).
    Id,
}

/// Which course identifier the plan uses (tool_sync's `cid`, JSON `course.key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CourseKey {
    /// `shortname`.
    Shortname,
    /// `idnumber`.
    Idnumber,
    /// The backup's course id (same site only).
    Id,
}

/// The course an action is for.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CourseRef {
    /// Source-site id.
    pub id: Option<i64>,
    /// Shortname.
    pub shortname: String,
    /// idnumber (empty when unset).
    pub idnumber: String,
}

impl CourseRef {
    /// The identifier for `key`.
    pub fn key(&self, key: CourseKey) -> String {
        match key {
            CourseKey::Shortname => self.shortname.clone(),
            CourseKey::Idnumber => self.idnumber.clone(),
            CourseKey::Id => self.id.map(|i| i.to_string()).unwrap_or_default(),
        }
    }
}

/// The user an action is for.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserRef {
    /// Source-site id.
    pub id: i64,
    /// From users.xml.
    #[serde(flatten)]
    pub user: User,
}

impl UserRef {
    /// The identifier for `key`.
    pub fn key(&self, key: UserKey) -> String {
        match key {
            UserKey::Username => self.user.username.clone(),
            UserKey::Idnumber => self.user.idnumber.clone(),
            UserKey::Email => self.user.email.clone(),
            UserKey::Id => self.id.to_string(),
        }
    }
}

/// A role in the course.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoleRef {
    /// Source-site role id.
    pub id: i64,
    /// Shortname.
    pub shortname: String,
}

/// One enrolment action: this user, in this course, with these values.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// The course.
    pub course: CourseRef,
    /// The user.
    pub user: UserRef,
    /// Roles the user holds in the course.
    pub roles: Vec<RoleRef>,
    /// Groups the user belongs to in the course.
    pub groups: Vec<String>,
    /// The same groups' ids (groups.xml's `<group id>`: the backup's site ids).
    pub group_ids: Vec<i64>,
    /// Status, start and end (epochs; 0 = none, unlimited), as the enrolment should be.
    #[serde(flatten)]
    pub values: into::Values,
    /// The end was stamped from `--until`.
    pub stamped: bool,
    /// Methods the enrolment came from (`cohort`, `database`, …).
    pub sources: Vec<String>,
    /// With `--into`: how it compares with the target course.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub into: Option<into::Outcome>,
}

/// The actions for one archive.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CoursePlan {
    /// The archive.
    pub archive: String,
    /// The course.
    pub course: CourseRef,
    /// The backup's manual instance default duration (seconds), which Upload users would apply to an empty
    /// `enrolperiod`.
    pub manual_enrolperiod: i64,
    /// Actions, one per user.
    pub actions: Vec<Action>,
    /// Things the admin should know.
    pub warnings: Vec<Warning>,
    /// The release of the site that made the backup (`moodle_release`).
    #[serde(skip)]
    pub release: Option<Release>,
    /// With `--into`: the target course's manual instance, as its consumers would meet it.
    #[serde(skip)]
    pub target: Option<into::Target>,
}

/// Builds one course's actions from the conversion `report` of `docs`.
pub fn build(
    archive: &str,
    course: CourseRef,
    docs: &Docs<'_>,
    users: &BTreeMap<i64, User>,
    report: &Report,
) -> CoursePlan {
    let role_names = docs
        .roles
        .and_then(|x| model::parse_role_names(x).ok())
        .unwrap_or_default();
    let mut roles: BTreeMap<i64, BTreeSet<RoleRef>> = BTreeMap::new();
    if let Some(x) = docs.course_roles
        && let Ok(assignments) = model::parse_assignments(x)
    {
        for a in assignments {
            if let (Some(u), Some(r)) = (a.userid, a.roleid) {
                roles.entry(u).or_default().insert(RoleRef {
                    id: r,
                    shortname: role_names.get(&r).cloned().unwrap_or_default(),
                });
            }
        }
    }
    let mut groups: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
    let mut group_ids: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
    if let Some(x) = docs.groups
        && let Ok(members) = model::parse_group_members(x)
    {
        for m in members {
            if let Some(u) = m.userid {
                if let Some(g) = m.groupid {
                    group_ids.entry(u).or_default().insert(g);
                }
                groups.entry(u).or_default().insert(m.group);
            }
        }
    }
    let manual_enrolperiod = docs
        .enrolments
        .and_then(|x| {
            let instances = model::parse_enrolments(x).ok()?;
            let (_, manual) = model::first_manual(&instances, x)?;
            manual.int(x, "enrolperiod")
        })
        .unwrap_or(0);
    let mut warnings = report.warnings.clone();
    let mut actions = Vec::new();
    for u in report.users.iter() {
        let user = users.get(&u.userid).cloned().unwrap_or_default();
        if user.username.is_empty() {
            warnings.push(Warning::Note(format!(
                "user {} is not in {USERS}: left out of the plan (restore would skip it too)",
                u.userid
            )));
            continue;
        }
        actions.push(Action {
            course: course.clone(),
            user: UserRef { id: u.userid, user },
            roles: roles
                .get(&u.userid)
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default(),
            groups: groups
                .get(&u.userid)
                .map(|g| g.iter().cloned().collect())
                .unwrap_or_default(),
            group_ids: group_ids
                .get(&u.userid)
                .map(|g| g.iter().copied().collect())
                .unwrap_or_default(),
            values: into::Values {
                status: u.status,
                timestart: u.timestart,
                timeend: u.timeend,
            },
            stamped: u.stamped,
            sources: u.methods.to_vec(),
            into: None,
        });
    }
    CoursePlan {
        archive: archive.to_owned(),
        course,
        manual_enrolperiod,
        actions,
        warnings,
        release: None,
        target: None,
    }
}
