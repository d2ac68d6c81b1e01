//! Request bodies for Moodle's `enrol_manual_enrol_users` web service: the backup's numeric ids, so valid only
//! on the site that made the backup.

use std::io::Write;

use super::{Format, FormatError, Identifier, Keys, Output, Settings, Written};
use crate::plan::{CourseKey, CoursePlan};

/// Web-service bodies: the backup's own ids.
pub(super) static FORMAT: Format = Format::new("ws", "web service", write_ws)
    .with_about("Form-encoded bodies for the `enrol_manual_enrol_users` web service")
    .with_keys(Keys::SourceIds)
    .with_import_note(import_note);

/// How to send the bodies.
fn import_note(_settings: &Settings) -> String {
    "web service: POST each line as the body of enrol_manual_enrol_users (wsfunction=enrol_manual_enrol_users, \
     Content-Type application/x-www-form-urlencoded); each line is one all-or-nothing transaction"
        .to_owned()
}

/// Request bodies for `enrol_manual_enrol_users`, form-encoded, at most 100 enrolments per line (per request).
/// Every field is always present: a missing `timeend` clears the end and a missing `suspend` reactivates.
/// Errors when a course has no id. Returns warnings (users left out).
fn write_ws(plans: &[CoursePlan], _settings: &Settings, out: &mut dyn Write) -> Written {
    let mut items = Vec::new();
    let mut output = Output::new("requests");
    for a in plans.iter().flat_map(|p| &p.actions) {
        if a.roles.is_empty() {
            output.left_out(format!(
                "user {} holds no role in {}: enrol_manual_enrol_users needs one: left out",
                a.user.user.username, a.course.shortname
            ));
        }
        let Some(courseid) = a.course.id else {
            return Err(FormatError::MissingKey {
                user: a.user.user.username.clone(),
                course: a.course.shortname.clone(),
                what: Identifier::Course(CourseKey::Id),
            });
        };
        for role in &a.roles {
            items.push((
                role.id,
                a.user.id,
                courseid,
                a.values.timestart,
                a.values.timeend,
                a.values.status,
            ));
        }
    }
    for chunk in items.chunks(100) {
        let mut parts = Vec::new();
        for (i, (roleid, userid, courseid, ts, te, status)) in chunk.iter().enumerate() {
            parts.push(format!(
                "enrolments[{i}][roleid]={roleid}&enrolments[{i}][userid]={userid}&enrolments[{i}][courseid]={courseid}\
                 &enrolments[{i}][timestart]={ts}&enrolments[{i}][timeend]={te}&enrolments[{i}][suspend]={}",
                i64::from(*status != 0)
            ));
        }
        // The brackets are sent as they are: PHP and curl accept them unencoded in a form body.
        writeln!(out, "{}", parts.join("&"))?;
        output.rows += 1;
    }
    Ok(output)
}

