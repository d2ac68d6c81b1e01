//! The tool_sync plugin's enrolment file: `;`-separated with no quoting, so a value holding `;` or a line break
//! is refused rather than written where tool_sync would split it.

use std::io::Write;

use super::{Format, FormatError, Settings, Written, key_of, local_seconds, reads_back};
use crate::plan::CoursePlan;

/// tool_sync: the chosen keys, one line per role.
pub(super) static FORMAT: Format = Format::new("toolsync", "tool_sync", write_toolsync)
    .with_about("The tool_sync plugin's enrolment file (`;`, no quoting)")
    .with_import_note(import_note);

/// The site settings tool_sync needs.
fn import_note(settings: &Settings) -> String {
    let (user_key, course_key) = (
        format!("{:?}", settings.user_key).to_lowercase(),
        format!("{:?}", settings.course_key).to_lowercase(),
    );
    format!(
        "tool_sync settings: separator \";\", encoding UTF-8, user identifier = {user_key}, course identifier = \
         {course_key} (tool_sync/enrols_useridentifier and enrols_courseidentifier); server time zone {}; try \
         it first with \"Simulate result without altering data\"",
        settings.tz
    )
}

/// tool_sync's enrolment file: `;`-separated, no quoting, times `YYYY-MM-DD HH:MM:SS` in the server zone,
/// `cmd` add and `enrol` manual; one line per role. Suspended enrolments cannot be written (`add` forces active):
/// they are left out and returned as warnings.
///
/// Errors: a value tool_sync cannot carry, or an empty identifier.
fn write_toolsync(plans: &[CoursePlan], settings: &Settings, out: &mut dyn Write) -> Written {
    let tz = settings.tz;
    let mut warnings = Vec::new();
    let any_groups = plans
        .iter()
        .flat_map(|p| &p.actions)
        .any(|a| a.values.status == 0 && !a.groups.is_empty());
    let mut header = "cmd;rolename;uid;cid;enrol;starttime;endtime".to_owned();
    if any_groups {
        header.push_str(";gcmd;g1;g2;g3;g4;g5;g6;g7;g8;g9");
    }
    writeln!(out, "{header}")?;
    for a in plans.iter().flat_map(|p| &p.actions) {
        let user = a.user.user.username.clone();
        if a.values.status != 0 {
            warnings.push(format!(
                "user {user} in {}: the planned enrolment is suspended, which tool_sync cannot write (add forces \
                 active): left out",
                a.course.shortname
            ));
            continue;
        }
        if a.roles.is_empty() {
            warnings.push(format!(
                "user {user} holds no role in {}: left out",
                a.course.shortname
            ));
            continue;
        }
        let (uid, cid) = key_of(a, settings)?;
        let check = |column: &'static str, value: &str| {
            if value.contains([';', '\n', '\r']) {
                Err(FormatError::Unquotable {
                    user: user.clone(),
                    column,
                    value: value.to_owned(),
                })
            } else {
                Ok(())
            }
        };
        check("uid", &uid)?;
        check("cid", &cid)?;
        for g in &a.groups {
            check("group", g)?;
        }
        if a.groups.len() > 9 {
            warnings.push(format!(
                "user {user}: tool_sync takes 9 groups per line; the others are left out"
            ));
        }
        let start = local_seconds(a.values.timestart, tz);
        let end = if a.values.timeend == 0 {
            String::new()
        } else {
            local_seconds(a.values.timeend, tz)
        };
        for (epoch, text) in [(a.values.timestart, &start), (a.values.timeend, &end)] {
            if epoch != 0 && !reads_back(text, epoch, tz) {
                warnings.push(format!(
                    "user {user}: {text} is ambiguous in {tz} (DST change): tool_sync may read it an hour off"
                ));
            }
        }
        for role in &a.roles {
            check("rolename", &role.shortname)?;
            let mut line = format!("add;{};{uid};{cid};manual;{start};{end}", role.shortname);
            if any_groups {
                let mut g: Vec<&str> = a.groups.iter().take(9).map(String::as_str).collect();
                g.resize(9, "");
                let gcmd = if a.groups.is_empty() {
                    ""
                } else {
                    "gaddcreate"
                };
                line.push_str(&format!(";{gcmd};{}", g.join(";")));
            }
            writeln!(out, "{line}")?;
        }
    }
    Ok(warnings)
}

