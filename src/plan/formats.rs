//! The plan's file formats. Each writer documents the trap it avoids (peers.md §1–3).

use std::io::{self, Write};

use chrono_tz::Tz;
use serde::Serialize;

use super::{Action, CourseKey, CoursePlan, UserKey};
use crate::time;

/// A value a format cannot carry, or a write error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// tool_sync splits on `;` with no quoting and reads line by line.
    #[error(
        "user `{user}`: {column} `{value}` contains a `;` or a line break, which tool_sync cannot read (it has no quoting)"
    )]
    Unquotable {
        /// The user (username).
        user: String,
        /// The column.
        column: &'static str,
        /// The value.
        value: String,
    },
    /// The chosen identifier is empty for this user or course.
    #[error(
        "user `{user}` in course `{course}`: the {what} is empty; choose another --user-key/--course-key"
    )]
    MissingKey {
        /// The user.
        user: String,
        /// The course.
        course: String,
        /// Which identifier.
        what: String,
    },
    /// Writing failed.
    #[error("write error")]
    Io(#[from] io::Error),
}

/// `YYYY-MM-DD HH:MM:SS` in `tz` (tool_sync's only accepted form).
fn local_seconds(epoch: i64, tz: Tz) -> String {
    time::format_iso(epoch, tz)
        .get(..19)
        .map(|s| s.replace('T', " "))
        .unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM` in `tz`.
fn local_minutes(epoch: i64, tz: Tz) -> String {
    local_seconds(epoch, tz)
        .get(..16)
        .unwrap_or_default()
        .to_owned()
}

/// Whether `text` (local time in `tz`) reads back as exactly `epoch` (PHP takes the earlier instant of an
/// ambiguous local time).
fn reads_back(text: &str, epoch: i64, tz: Tz) -> bool {
    use chrono::{NaiveDateTime, TimeZone};
    let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"));
    parsed
        .ok()
        .and_then(|n| tz.from_local_datetime(&n).earliest())
        .is_some_and(|t| t.timestamp() == epoch)
}

/// Upload users computes `timeend = strtotime(enroltimestart) + enrolperiod × 86400`. Chooses a start, never later
/// than `start` and written to the minute, and a whole number of days so that the end is exactly `end`,
/// DST included. Returns (start text, days or `None` for unlimited, a warning when exactness is impossible).
pub fn upload_dates(start: i64, end: i64, tz: Tz) -> (String, Option<i64>, Option<String>) {
    if end == 0 {
        let s = start - start.rem_euclid(60);
        return (local_minutes(s, tz), None, None);
    }
    let mut days = ((end - start) as f64 / 86_400.0).ceil().max(1.0) as i64;
    for _ in 0..4 {
        let s = end - days * 86_400;
        let text = local_minutes(s, tz);
        if s.rem_euclid(60) == 0 && reads_back(&text, s, tz) {
            return (text, Some(days), None);
        }
        if s.rem_euclid(60) != 0 {
            break;
        }
        days += 1; // the local time was ambiguous: one day earlier is not
    }
    let s = end - days * 86_400;
    let s = s - s.rem_euclid(60);
    (
        local_minutes(s, tz),
        Some(days),
        Some(format!(
            "end {} is not a whole minute: Upload users will end at {}",
            time::format_iso(end, tz),
            time::format_iso(s + days * 86_400, tz)
        )),
    )
}

/// Slots per row: one per role and per group (Upload users has one role# and one group# per course#).
fn slots(a: &Action) -> usize {
    a.roles.len().max(a.groups.len()).max(1)
}

/// Moodle's "Upload users" CSV: comma-separated UTF-8, quoted where needed, one row per (user, course).
/// Returns warnings.
///
/// # Errors
/// [`FormatError`].
pub fn write_uploaduser(
    plans: &[CoursePlan],
    tz: Tz,
    out: impl Write,
) -> Result<Vec<String>, FormatError> {
    let mut warnings = Vec::new();
    let actions: Vec<&Action> = plans.iter().flat_map(|p| &p.actions).collect();
    let width = actions.iter().map(|a| slots(a)).max().unwrap_or(1);
    let any_groups = actions.iter().any(|a| !a.groups.is_empty());
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(out);
    let mut header: Vec<String> = ["username", "firstname", "lastname", "email"]
        .map(String::from)
        .to_vec();
    for i in 1..=width {
        header.extend([
            format!("course{i}"),
            format!("role{i}"),
            format!("enroltimestart{i}"),
            format!("enrolperiod{i}"),
            format!("enrolstatus{i}"),
        ]);
        if any_groups {
            header.push(format!("group{i}"));
        }
    }
    w.write_record(&header).map_err(csv_err)?;
    for p in plans {
        if p.manual_enrolperiod > 0 && p.actions.iter().any(|a| a.timeend == 0) {
            warnings.push(format!(
                "course {}: its manual instance has a default duration of {} days, which Upload users applies to \
                 every row with an empty enrolperiod (unlimited end)",
                p.course.shortname,
                p.manual_enrolperiod / 86_400
            ));
        }
        for a in &p.actions {
            let (start, days, warn) = upload_dates(a.timestart, a.timeend, tz);
            if let Some(warn) = warn {
                warnings.push(format!("user {}: {warn}", a.user.user.username));
            }
            if a.roles.is_empty() {
                warnings.push(format!(
                    "user {} holds no role in {}: Upload users gives the manual instance's default role",
                    a.user.user.username, a.course.shortname
                ));
            }
            let mut row = vec![
                a.user.user.username.clone(),
                a.user.user.firstname.clone(),
                a.user.user.lastname.clone(),
                a.user.user.email.clone(),
            ];
            for i in 0..width {
                if i < slots(a) {
                    let role = a
                        .roles
                        .get(i)
                        .or(a.roles.first())
                        .map(|r| r.shortname.clone());
                    row.extend([
                        a.course.shortname.clone(),
                        role.unwrap_or_default(),
                        start.clone(),
                        days.map(|d| d.to_string()).unwrap_or_default(),
                        a.status.to_string(),
                    ]);
                    if any_groups {
                        row.push(a.groups.get(i).cloned().unwrap_or_default());
                    }
                } else {
                    row.extend(std::iter::repeat_n(
                        String::new(),
                        if any_groups { 6 } else { 5 },
                    ));
                }
            }
            w.write_record(&row).map_err(csv_err)?;
        }
    }
    w.flush()?;
    Ok(warnings)
}

fn csv_err(e: csv::Error) -> FormatError {
    FormatError::Io(io::Error::other(e))
}

fn key_of(
    a: &Action,
    user_key: UserKey,
    course_key: CourseKey,
) -> Result<(String, String), FormatError> {
    let (uid, cid) = (a.user.key(user_key), a.course.key(course_key));
    for (value, what) in [
        (&uid, format!("user {user_key:?}").to_lowercase()),
        (&cid, format!("course {course_key:?}").to_lowercase()),
    ] {
        if value.is_empty() {
            return Err(FormatError::MissingKey {
                user: a.user.user.username.clone(),
                course: a.course.shortname.clone(),
                what,
            });
        }
    }
    Ok((uid, cid))
}

/// tool_sync's enrolment file: `;`-separated, no quoting, times `YYYY-MM-DD HH:MM:SS` in the server zone,
/// `cmd` add and `enrol` manual; one line per role. Suspended enrolments cannot be written (`add` forces active):
/// they are left out and returned as warnings.
///
/// # Errors
/// [`FormatError`] for a value tool_sync cannot carry or an empty identifier.
pub fn write_toolsync(
    plans: &[CoursePlan],
    tz: Tz,
    user_key: UserKey,
    course_key: CourseKey,
    mut out: impl Write,
) -> Result<Vec<String>, FormatError> {
    let mut warnings = Vec::new();
    let any_groups = plans
        .iter()
        .flat_map(|p| &p.actions)
        .any(|a| a.status == 0 && !a.groups.is_empty());
    let mut header = "cmd;rolename;uid;cid;enrol;starttime;endtime".to_owned();
    if any_groups {
        header.push_str(";gcmd;g1;g2;g3;g4;g5;g6;g7;g8;g9");
    }
    writeln!(out, "{header}")?;
    for a in plans.iter().flat_map(|p| &p.actions) {
        let user = a.user.user.username.clone();
        if a.status != 0 {
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
        let (uid, cid) = key_of(a, user_key, course_key)?;
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
        let start = local_seconds(a.timestart, tz);
        let end = if a.timeend == 0 {
            String::new()
        } else {
            local_seconds(a.timeend, tz)
        };
        for (epoch, text) in [(a.timestart, &start), (a.timeend, &end)] {
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

/// Request bodies for `enrol_manual_enrol_users`, form-encoded, at most 100 enrolments per line (per request).
/// Every field is always present: a missing `timeend` clears the end and a missing `suspend` reactivates.
///
/// # Errors
/// [`FormatError`] when a course has no id. Returns warnings (users left out).
pub fn write_ws(plans: &[CoursePlan], mut out: impl Write) -> Result<Vec<String>, FormatError> {
    let mut items = Vec::new();
    let mut warnings = Vec::new();
    for a in plans.iter().flat_map(|p| &p.actions) {
        if a.roles.is_empty() {
            warnings.push(format!(
                "user {} holds no role in {}: enrol_manual_enrol_users needs one: left out",
                a.user.user.username, a.course.shortname
            ));
        }
        let Some(courseid) = a.course.id else {
            return Err(FormatError::MissingKey {
                user: a.user.user.username.clone(),
                course: a.course.shortname.clone(),
                what: "course id".into(),
            });
        };
        for role in &a.roles {
            items.push((
                role.id,
                a.user.id,
                courseid,
                a.timestart,
                a.timeend,
                a.status,
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
    }
    Ok(warnings)
}

/// The JSON plan (schema `mbz-enrol/plan/1`, documented in docs/plan-json.md).
///
/// # Errors
/// Write errors.
pub fn write_json(
    plans: &[CoursePlan],
    tz: Tz,
    user_key: UserKey,
    course_key: CourseKey,
    mut out: impl Write,
) -> Result<(), FormatError> {
    #[derive(Serialize)]
    struct Doc<'a> {
        schema: &'static str,
        generator: String,
        timezone: &'a str,
        user_key: UserKey,
        course_key: CourseKey,
        courses: Vec<Course<'a>>,
    }
    #[derive(Serialize)]
    struct Course<'a> {
        archive: &'a str,
        course: &'a super::CourseRef,
        manual_enrolperiod: i64,
        warnings: &'a [crate::enrol::Warning],
        actions: Vec<Item<'a>>,
    }
    #[derive(Serialize)]
    struct Item<'a> {
        user_key: String,
        course_key: String,
        #[serde(flatten)]
        action: &'a Action,
        status_name: &'static str,
        timestart_iso: String,
        timeend_iso: Option<String>,
    }
    for a in plans.iter().flat_map(|p| &p.actions) {
        key_of(a, user_key, course_key)?;
    }
    let doc = Doc {
        schema: "mbz-enrol/plan/1",
        generator: format!("mbz-enrol {}", env!("CARGO_PKG_VERSION")),
        timezone: tz.name(),
        user_key,
        course_key,
        courses: plans
            .iter()
            .map(|p| Course {
                archive: &p.archive,
                course: &p.course,
                manual_enrolperiod: p.manual_enrolperiod,
                warnings: &p.warnings,
                actions: p
                    .actions
                    .iter()
                    .map(|a| Item {
                        user_key: key_of(a, user_key, course_key)
                            .map(|k| k.0)
                            .unwrap_or_default(),
                        course_key: key_of(a, user_key, course_key)
                            .map(|k| k.1)
                            .unwrap_or_default(),
                        action: a,
                        status_name: if a.status == 0 { "active" } else { "suspended" },
                        timestart_iso: time::format_iso(a.timestart, tz),
                        timeend_iso: (a.timeend != 0).then(|| time::format_iso(a.timeend, tz)),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut out, &doc).map_err(io::Error::other)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(start: i64, end: i64, tz: Tz) {
        let (text, days, warn) = upload_dates(start, end, tz);
        assert!(warn.is_none(), "{warn:?}");
        assert!(
            reads_back(&text, end - days.unwrap() * 86_400, tz),
            "{text}"
        );
        let s = end - days.unwrap() * 86_400;
        assert!(s <= start, "{text} is later than the planned start");
        assert_eq!(
            s + days.unwrap() * 86_400,
            end,
            "{text} + {days:?} days in {tz}"
        );
    }

    #[test]
    fn upload_dates_are_exact_across_dst() {
        let paris = chrono_tz::Europe::Paris;
        let santiago = chrono_tz::America::Santiago;
        let until = time::parse_end("2027-08-31", paris).unwrap().epoch;
        check(0, until, paris);
        check(1_725_148_800, until, paris); // start in summer, end in summer, winter between
        let winter_end = time::parse_end("2027-01-15", paris).unwrap().epoch;
        check(1_725_148_800, winter_end, paris);
        for (s, e) in [
            ("2026-03-01", "2026-10-15"),
            ("2026-08-01", "2027-04-10"),
            ("2026-04-01", "2026-04-06"),
        ] {
            let s = time::parse_start(s, santiago).unwrap().epoch;
            let e = time::parse_end(e, santiago).unwrap().epoch;
            check(s, e, santiago);
        }
        // End before start: still exact, with the start moved earlier.
        check(2_000_000_000, 1_900_000_020, paris);
        // Unlimited end: empty period, start to the minute.
        let (text, days, _) = upload_dates(1_725_148_800, 0, paris);
        assert_eq!((text.as_str(), days), ("2024-09-01 02:00", None));
    }
}
