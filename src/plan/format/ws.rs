//! Request bodies for Moodle's web services `enrol_manual_enrol_users` and `core_group_add_group_members`: the
//! backup's numeric ids, so valid only on the site that made the backup.
//!
//! Each line is one complete REST request body but the token: `wsfunction=…&moodlewsrestformat=json&…` with the
//! parameters in PHP's bracket syntax, as Moodle's REST server reads `$_POST`
//! (`webservice/rest/locallib.php`, `webservice_rest_server::parse_request()`). Traps avoided:
//! - `enrol_manual_enrol_users` (`enrol/manual/externallib.php`, `enrol_users()`) takes a missing `timestart` or
//!   `timeend` as 0 and a missing `suspend` as active, also for an existing enrolment: every item carries every
//!   field, every time.
//! - PHP drops the form variables past `max_input_vars` (1,000 by default) before Moodle runs, silently: a body
//!   holds at most [`MAX_INPUT_VARS`] variables, `wstoken`, `wsfunction` and `moodlewsrestformat` counted.
//! - `enrol_manual_enrol_users` takes no groups: the memberships go in `core_group_add_group_members`
//!   (`group/externallib.php`, `add_group_members()`, which refuses a user not enrolled), each after the request
//!   that enrols its user.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::{Format, FormatError, Identifier, Keys, Output, Settings, Written};
use crate::plan::{CourseKey, CoursePlan};

/// Web-service bodies: the backup's own ids.
pub(super) static FORMAT: Format = Format::new("ws", "web service", write_ws)
    .with_about(
        "Form-encoded bodies for the `enrol_manual_enrol_users` and `core_group_add_group_members` web services",
    )
    .with_keys(Keys::SourceIds)
    .with_import_note(import_note);

/// PHP's default `max_input_vars`: the variables of one request body past it are dropped silently.
pub const MAX_INPUT_VARS: usize = 1000;

/// `wstoken`, `wsfunction` and `moodlewsrestformat`: in every body.
const FIXED_VARS: usize = 3;

/// Fields of one `enrol_manual_enrol_users` item.
const ENROL_FIELDS: usize = 6;

/// Fields of one `core_group_add_group_members` item.
const MEMBER_FIELDS: usize = 2;

/// Enrolments per `enrol_manual_enrol_users` request: 166.
pub const ENROLMENTS_PER_CALL: usize = (MAX_INPUT_VARS - FIXED_VARS) / ENROL_FIELDS;

/// Members per `core_group_add_group_members` request: 498.
pub const MEMBERS_PER_CALL: usize = (MAX_INPUT_VARS - FIXED_VARS) / MEMBER_FIELDS;

/// One `enrol_manual_enrol_users` item, every field present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Enrolment {
    /// Role to assign (site id).
    pub roleid: i64,
    /// User (site id).
    pub userid: i64,
    /// Course (site id).
    pub courseid: i64,
    /// Start (epoch, 0 = none).
    pub timestart: i64,
    /// End (epoch, 0 = unlimited).
    pub timeend: i64,
    /// 1 suspended, 0 active.
    pub suspend: i64,
}

/// One `core_group_add_group_members` item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Member {
    /// Group (site id).
    pub groupid: i64,
    /// User (site id).
    pub userid: i64,
}

/// One write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `enrol_manual_enrol_users` with these items (at most [`ENROLMENTS_PER_CALL`]).
    Enrol(Vec<Enrolment>),
    /// `core_group_add_group_members` with these items (at most [`MEMBERS_PER_CALL`]).
    AddMembers(Vec<Member>),
}

impl Call {
    /// The web-service function.
    pub fn function(&self) -> &'static str {
        match self {
            Self::Enrol(_) => "enrol_manual_enrol_users",
            Self::AddMembers(_) => "core_group_add_group_members",
        }
    }

    /// The function's parameters, names in PHP's bracket syntax, in order.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match self {
            Self::Enrol(items) => {
                for (i, e) in items.iter().enumerate() {
                    // The optional fields first, the required ones last: PHP keeps the first
                    // `max_input_vars` variables, so an item cut short lacks a required field and Moodle
                    // refuses the whole call (`invalidparameter`) before writing anything, instead of writing
                    // the item with a missing start, end or suspend read as 0 (ws-responses.md §5).
                    for (field, value) in [
                        ("timestart", e.timestart),
                        ("timeend", e.timeend),
                        ("suspend", e.suspend),
                        ("roleid", e.roleid),
                        ("userid", e.userid),
                        ("courseid", e.courseid),
                    ] {
                        out.push((format!("enrolments[{i}][{field}]"), value.to_string()));
                    }
                }
            }
            Self::AddMembers(items) => {
                for (i, m) in items.iter().enumerate() {
                    out.push((format!("members[{i}][groupid]"), m.groupid.to_string()));
                    out.push((format!("members[{i}][userid]"), m.userid.to_string()));
                }
            }
        }
        out
    }

    /// The users it is about, in order.
    pub fn users(&self) -> Vec<i64> {
        match self {
            Self::Enrol(items) => items.iter().map(|e| e.userid).collect(),
            Self::AddMembers(items) => items.iter().map(|m| m.userid).collect(),
        }
    }

    /// The body but the token: `wsfunction=…&moodlewsrestformat=json&…`, each name and value
    /// percent-encoded (brackets too, as PHP decodes them before reading the bracket path).
    pub fn body_without_token(&self) -> String {
        let mut pairs = vec![
            ("wsfunction".to_owned(), self.function().to_owned()),
            ("moodlewsrestformat".to_owned(), "json".to_owned()),
        ];
        pairs.extend(self.params());
        form_encode(&pairs)
    }
}

/// `pairs` as `application/x-www-form-urlencoded` (RFC 3986 unreserved characters kept, everything else `%XX`).
pub fn form_encode(pairs: &[(String, String)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(name, &mut out);
        out.push('=');
        enc(value, &mut out);
    }
    out
}

/// The requests for `enrolments` then `members`, each within [`MAX_INPUT_VARS`]: every membership comes after
/// the request that enrols its user (all enrolments first).
pub fn calls(enrolments: &[Enrolment], members: &[Member]) -> Vec<Call> {
    let mut out: Vec<Call> = enrolments
        .chunks(ENROLMENTS_PER_CALL)
        .map(|c| Call::Enrol(c.to_vec()))
        .collect();
    out.extend(
        members
            .chunks(MEMBERS_PER_CALL)
            .map(|c| Call::AddMembers(c.to_vec())),
    );
    out
}

/// The items of `plans`: one enrolment per (user, role) and one membership per (user, group) of a user who is
/// enrolled. Errors when a course has no id; the output lists the users left out (no role).
///
/// # Errors
/// [`FormatError::MissingKey`] when a course has no id.
pub fn items(plans: &[CoursePlan]) -> Result<(Vec<Enrolment>, Vec<Member>, Output), FormatError> {
    let mut enrolments = Vec::new();
    let mut members = Vec::new();
    let mut output = Output::new("requests");
    for a in plans.iter().flat_map(|p| &p.actions) {
        if a.roles.is_empty() {
            output.left_out(format!(
                "user {} holds no role in {}: enrol_manual_enrol_users needs one: left out",
                a.user.user.username, a.course.shortname
            ));
            continue;
        }
        let Some(courseid) = a.course.id else {
            return Err(FormatError::MissingKey {
                user: a.user.user.username.clone(),
                course: a.course.shortname.clone(),
                what: Identifier::Course(CourseKey::Id),
            });
        };
        for role in &a.roles {
            enrolments.push(Enrolment {
                roleid: role.id,
                userid: a.user.id,
                courseid,
                timestart: a.values.timestart,
                timeend: a.values.timeend,
                suspend: i64::from(a.values.status != 0),
            });
        }
        members.extend(a.group_ids.iter().map(|&groupid| Member {
            groupid,
            userid: a.user.id,
        }));
    }
    Ok((enrolments, members, output))
}

/// How to send the bodies.
fn import_note(_settings: &Settings) -> String {
    "web service: POST each line, in order, to webservice/rest/server.php with wstoken=TOKEN& in front \
     (Content-Type application/x-www-form-urlencoded); each line names its function and is one all-or-nothing \
     transaction of at most 1,000 form variables (PHP's default max_input_vars)"
        .to_owned()
}

/// Request bodies (all but the token), one per line: the enrolments, then the group memberships.
/// Errors when a course has no id. Returns warnings (users left out).
fn write_ws(plans: &[CoursePlan], _settings: &Settings, out: &mut dyn Write) -> Written {
    let (enrolments, members, mut output) = items(plans)?;
    for call in calls(&enrolments, &members) {
        writeln!(out, "{}", call.body_without_token())?;
        output.rows += 1;
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_within_max_input_vars() {
        assert_eq!((ENROLMENTS_PER_CALL, MEMBERS_PER_CALL), (166, 498));
        let e = Enrolment {
            roleid: 5,
            userid: 1,
            courseid: 2,
            timestart: 0,
            timeend: 0,
            suspend: 0,
        };
        let m = Member {
            groupid: 3,
            userid: 1,
        };
        let calls = calls(&vec![e; 333], &vec![m; 499]);
        let sizes: Vec<usize> = calls.iter().map(|c| c.params().len() + FIXED_VARS).collect();
        assert_eq!(sizes, [999, 999, 9, 999, 5]);
        assert!(calls[0].body_without_token().starts_with(
            "wsfunction=enrol_manual_enrol_users&moodlewsrestformat=json&enrolments%5B0%5D%5Btimestart%5D=0&"
        ));
    }
}
