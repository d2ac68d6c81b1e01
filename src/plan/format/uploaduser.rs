//! Moodle's Site administration > Users > Upload users CSV. Upload users matches users by username and courses
//! by shortname, and computes the end from a start and a number of days: [`upload_dates`] makes that exact.

use std::io::{self, Write};

use chrono_tz::Tz;

use super::{Format, FormatError, Keys, Output, Settings, Written, local_minutes, reads_back};
use crate::backup::Release;
use crate::plan::into::Target;
use crate::plan::{Action, CourseKey, CoursePlan, UserKey};
use crate::time;

/// Upload users: matched by username and shortname, whatever keys are chosen.
pub(super) static FORMAT: Format = Format::new("uploaduser", "Upload users", write_uploaduser)
    .with_about("Moodle's Site administration > Users > Upload users (CSV, comma, UTF-8)")
    .with_keys(Keys::Fixed {
        user: UserKey::Username,
        course: CourseKey::Shortname,
    })
    .with_import_note(import_note);

/// Where the import note's command names the plan file; the caller may put the real path there.
pub const PLAN_FILE: &str = "PLAN.csv";

/// The site settings Upload users needs, as web-form choices and as the command of its CLI,
/// `admin/tool/uploaduser/cli/uploaduser.php`. That CLI's options are `--help`, `--file` and one per element
/// of the two upload forms (`classes/cli_helper.php`, `options_definitions()`; `user_form.php`):
/// `--delimiter_name` (`comma`, …, `csv_import_reader::get_delimiter_list()`), `--encoding` (`UTF-8`, …),
/// `--uutype` (3 = `UU_USER_UPDATE`, "Update existing users only", `locallib.php`) and `--uuupdatetype`
/// (0 = `UU_UPDATE_NOCHANGES`: user records left as they are; the enrolment columns are read "for any updated or
/// created users" all the same, `process_line()`).
fn import_note(settings: &Settings) -> String {
    format!(
        "Upload users settings: upload type \"Update existing users only\" (or \"Add new and update existing \
         users\"), existing user details \"No changes\", CSV delimiter \"comma\", encoding \"UTF-8\"; the \
         site's time zone must be {}; the courses need an enabled manual enrolment method. From the Moodle \
         directory, as the web server's user:\n  php admin/tool/uploaduser/cli/uploaduser.php --file={PLAN_FILE} \
         --delimiter_name=comma --encoding=UTF-8 --uutype=3 --uuupdatetype=0",
        settings.tz
    )
}

/// Upload users computes `timeend = strtotime(enroltimestart) + enrolperiod × 86400`
/// (`admin/tool/uploaduser/classes/process.php`, `process_line()`: `$timeend = $timestart + $duration`, the
/// duration `(int)$enrolperiod * DAYSECS`). Chooses a start, never later than the planned one and written to the
/// minute, and a whole number of days so that the end is exactly `end`, DST included. Returns (start text, days
/// or `None` for unlimited, a warning when exactness is impossible).
///
/// A planned start of 0 (none) has no date Upload users could write without showing a 1969 start (and the
/// "duration after enrolment" completion criterion met at once): it is replaced by `now`, the plan's run time.
/// The start written is then the latest whole minute not after `now` that keeps start + whole days = `end`
/// (so between `now` − 1 day and `now`), or `now` to the minute when the end is unlimited.
pub fn upload_dates(start: i64, end: i64, tz: Tz, now: i64) -> (String, Option<i64>, Option<String>) {
    let start = if start == 0 { now } else { start };
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

/// The first release whose Upload users knows `enroltimestart#`. `uu_validate_user_upload_columns()`
/// (`admin/tool/uploaduser/locallib.php`) refuses the whole file (`invalidfieldname`) for any header outside its
/// list: older versions accept `^(sysrole|cohort|course|group|type|role|enrolperiod|enrolstatus)\d+$`
/// (moodle/moodle at 09df5975970f…), later ones add `enroltimestart` (d4673e3047cd…), and Moodle's 3.10 Upload
/// users page lists the column (docs.moodle.org/310/en/Upload_users#Enrolment_fields, quoted in
/// iomad/iomad#1681, where an older install refuses it). Issue 18 states the same bound.
pub const ENROLTIMESTART_SINCE: Release = Release {
    major: 3,
    minor: 10,
};

/// Moodle's "Upload users" CSV: comma-separated UTF-8, quoted where needed, one row per (user, course).
/// Returns warnings.
///
/// # Errors
/// [`FormatError::UnknownColumn`] for a release before [`ENROLTIMESTART_SINCE`]; [`FormatError::Unreadable`] and
/// [`FormatError::Inexact`] for a row Upload users would not apply as planned ([`refusal`]), unless
/// `allow_partial` (then the row is left out and listed).
fn write_uploaduser(plans: &[CoursePlan], settings: &Settings, out: &mut dyn Write) -> Written {
    if let Some(release) = settings.moodle
        && release < ENROLTIMESTART_SINCE
    {
        return Err(FormatError::UnknownColumn {
            release,
            column: "enroltimestart",
            since: ENROLTIMESTART_SINCE,
        });
    }
    let tz = settings.tz;
    let mut warnings = Vec::new();
    let mut no_start = Vec::new();
    let mut moved = Vec::new();
    let mut left_out = Vec::new();
    let mut rows = 0;
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
        if p.target.is_none()
            && p.manual_enrolperiod > 0
            && p.actions.iter().any(|a| a.values.timeend == 0)
        {
            warnings.push(format!(
                "course {}: its manual instance has a default duration of {} days, which Upload users applies to \
                 every row with an empty enrolperiod (unlimited end)",
                p.course.shortname,
                p.manual_enrolperiod / 86_400
            ));
        }
        for a in &p.actions {
            if let Some(e) = refusal(a, p.target.as_ref()) {
                if !settings.allow_partial {
                    return Err(e);
                }
                left_out.push(format!("{e}: left out"));
                continue;
            }
            let (start, days, warn) =
                upload_dates(a.values.timestart, a.values.timeend, tz, settings.now);
            if a.values.timestart == 0 {
                no_start.push(format!(
                    "  {} in {}: start {start}{}",
                    a.user.user.username,
                    a.course.shortname,
                    days.map(|d| format!(" + {d} days = {}", time::format_iso(a.values.timeend, tz)))
                        .unwrap_or_else(|| ", no end".into())
                ));
            }
            let written = days.map_or(a.values.timestart, |d| a.values.timeend - d * 86_400);
            if a.values.timestart != 0 && written - written.rem_euclid(60) != a.values.timestart {
                moved.push(format!(
                    "  {} in {}: planned start {}, written {start}{}",
                    a.user.user.username,
                    a.course.shortname,
                    time::format_iso(a.values.timestart, tz),
                    days.map(|d| format!(" + {d} days = {}", time::format_iso(a.values.timeend, tz)))
                        .unwrap_or_default()
                ));
            }
            if let Some(warn) = warn {
                warnings.push(format!("user {}: {warn}", a.user.user.username));
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
                        a.values.status.to_string(),
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
            rows += 1;
        }
    }
    w.flush()?;
    if !no_start.is_empty() {
        warnings.push(format!(
            "{} rows have no start (0): each is written with the latest start, to the minute, not after the plan's \
             run time ({}) that keeps start + whole days = the planned end (never a 1969 start):\n{}",
            no_start.len(),
            time::format_iso(settings.now, tz),
            no_start.join("\n")
        ));
    }
    if !moved.is_empty() {
        warnings.push(format!(
            "{} rows start earlier than planned: Upload users only adds whole days to a start written to the \
             minute, so each is written with the latest such start not after the planned one that keeps \
             start + whole days = the planned end:\n{}",
            moved.len(),
            moved.join("\n")
        ));
    }
    let left = left_out.len();
    warnings.extend(left_out);
    Ok(Output {
        rows,
        unit: "rows",
        left_out: left,
        warnings,
        assumed: plans
            .iter()
            .any(|p| p.target.is_none())
            .then(|| ASSUMED.to_owned()),
    })
}

/// What a plan assumes of a target course whose backup it has not read (each is a row `refusal` checks when
/// it has).
pub const ASSUMED: &str = "Upload users applies each row exactly only if the site's manual enrolment plugin is \
     enabled and each target course's first manual enrolment instance is enabled, has no default enrolment \
     duration (it would end every row with no end) and is not relied on for a role (each row names its role)";

/// Why Upload users would not apply the row of `a` as planned, if it would not; `target` is the target course's
/// backup, when read. Every rule is `admin/tool/uploaduser/classes/process.php`, `process_line()` (Moodle 4.3):
/// - a numeric or padded group name ([`unreadable_group`]);
/// - no role: with `role#` and `type#` empty, `$roleid = $this->manualcache[$courseid]->roleid`, the instance's
///   default role, is assigned (`enrol_plugin::enrol_user()` calls `role_assign()`), and with no default role
///   (`roleid` 0) `if ($roleid)` enrols nobody;
/// - no manual instance in the target: `$this->manualcache[$courseid]` is false and the row enrols nobody,
///   silently;
/// - a disabled one: `enrol_get_instances($courseid, false)` includes disabled instances, so the row is enrolled
///   into it, and an enrolment in a disabled instance gives no access (`lib/enrollib.php`,
///   `enrol_get_enrolment_end()`: only `e.status = ENROL_INSTANCE_ENABLED` counts);
/// - no end while the instance has a default duration: an empty `enrolperiod#` takes
///   `$timeend = $timestart + $this->manualcache[$courseid]->enrolperiod` when that is above 0.
pub fn refusal(a: &Action, target: Option<&Target>) -> Option<FormatError> {
    let inexact = |why: String| FormatError::Inexact {
        user: a.user.user.username.clone(),
        course: a.course.shortname.clone(),
        why,
    };
    if let Some(bad) = a.groups.iter().find(|g| unreadable_group(g)) {
        return Some(FormatError::Unreadable {
            user: a.user.user.username.clone(),
            course: a.course.shortname.clone(),
            column: "group",
            value: bad.clone(),
            why: "Upload users takes a numeric group# as a group id, and trims values (another or a new group \
                  would be used)"
                .into(),
        });
    }
    let manual = target.map(|t| t.manual.as_ref());
    if a.roles.is_empty() {
        let what = match manual.flatten() {
            Some(m) if m.roleid == 0 => {
                "and the target's manual instance has no default role, so Upload users would not enrol them"
                    .to_owned()
            }
            Some(m) => format!(
                "and Upload users would give them the target's default role ({})",
                m.role.clone().unwrap_or_else(|| format!("role id {}", m.roleid))
            ),
            None => "and Upload users would give them the manual instance's default role".to_owned(),
        };
        return Some(inexact(format!("the plan gives them no role, {what}")));
    }
    match manual {
        Some(None) => {
            return Some(inexact(
                "the target course has no manual enrolment instance, so Upload users would not enrol them".into(),
            ));
        }
        Some(Some(m)) if !m.enabled => {
            return Some(inexact(
                "the target's manual enrolment instance is disabled: Upload users would enrol them into it, with \
                 no access"
                    .into(),
            ));
        }
        Some(Some(m)) if m.enrolperiod > 0 && a.values.timeend == 0 => {
            return Some(inexact(format!(
                "the plan gives them no end, and Upload users would end them after the target manual instance's \
                 default duration ({} days)",
                m.enrolperiod as f64 / 86_400.0
            )));
        }
        _ => {}
    }
    None
}

/// A group name Upload users would not read as that name (`admin/tool/uploaduser/classes/process.php`,
/// `process_line()`: the course's group cache is keyed by group id and by name only `if
/// (!is_numeric($group->name))`, and `array_key_exists($addgroup, …)` then finds a group *id* equal to a numeric
/// value or creates another group; `!empty($user->{'group'.$i})` skips `0`). Values are trimmed (issue 18's
/// reading of the upload), so a name with surrounding spaces names another group.
pub fn unreadable_group(name: &str) -> bool {
    name.trim() != name || name.is_empty() || php_is_numeric(name)
}

/// PHP 8's `is_numeric()` on a string: optional surrounding whitespace, a sign, digits with an optional decimal
/// point, an optional exponent.
fn php_is_numeric(text: &str) -> bool {
    let t = text.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => (digits(a) || a.is_empty()) && (digits(b) || b.is_empty()) && !(a.is_empty() && b.is_empty()),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

fn csv_err(e: csv::Error) -> FormatError {
    FormatError::Io(io::Error::other(e))
}


#[cfg(test)]
mod tests {
    use super::*;

    /// A run time: 2026-12-07 03:21:26 UTC.
    const NOW: i64 = 1_796_613_686;

    fn check(start: i64, end: i64, tz: Tz) {
        let (text, days, warn) = upload_dates(start, end, tz, NOW);
        assert!(warn.is_none(), "{warn:?}");
        assert!(
            reads_back(&text, end - days.unwrap() * 86_400, tz),
            "{text}"
        );
        let s = end - days.unwrap() * 86_400;
        let planned = if start == 0 { NOW } else { start };
        assert!(s <= planned, "{text} is later than the planned start");
        if end > planned {
            // One day more only when the local time a day later is ambiguous (DST).
            assert!(s > planned - 2 * 86_400, "{text} is earlier than needed");
        }
        assert!(s >= 0, "{text} is before 1970");
        assert_eq!(
            s + days.unwrap() * 86_400,
            end,
            "{text} + {days:?} days in {tz}"
        );
    }

    /// A plan of one course with one student `u1` holding `values`.
    fn one_row(values: crate::plan::into::Values, target: Option<Target>) -> CoursePlan {
        let mut user = crate::plan::UserRef::default();
        user.user.username = "u1".into();
        let course = crate::plan::CourseRef {
            id: Some(2),
            shortname: "C1".into(),
            idnumber: String::new(),
        };
        CoursePlan {
            course: course.clone(),
            actions: vec![Action {
                course,
                user,
                roles: vec![crate::plan::RoleRef {
                    id: 5,
                    shortname: "student".into(),
                }],
                groups: Vec::new(),
                group_ids: Vec::new(),
                values,
                stamped: true,
                sources: Vec::new(),
                into: None,
            }],
            target,
            ..CoursePlan::default()
        }
    }

    fn settings(moodle: Option<Release>) -> Settings {
        Settings {
            tz: chrono_tz::America::Santiago,
            user_key: UserKey::Username,
            course_key: CourseKey::Shortname,
            separator: Default::default(),
            encoding: Default::default(),
            now: NOW,
            allow_partial: false,
            moodle,
        }
    }

    #[test]
    fn a_start_moved_to_keep_whole_days_is_listed_with_the_rule() {
        let tz = chrono_tz::America::Santiago;
        // Santiago leaves summer time (UTC-3 to UTC-4) in April: the planned start is 92 days and 1 hour before
        // the end, so Upload users' whole days need a start 23 hours earlier.
        let start = time::parse_start("2026-03-01", tz).unwrap().epoch;
        let end = time::parse_start("2026-06-01", tz).unwrap().epoch;
        let plan = one_row(crate::testkit::v(0, start, end), None);
        let mut out = Vec::new();
        let written = write_uploaduser(&[plan], &settings(None), &mut out).unwrap();
        let moved = written
            .warnings
            .iter()
            .find(|w| w.starts_with("1 rows start earlier than planned"))
            .unwrap_or_else(|| panic!("{:?}", written.warnings));
        assert!(
            moved.contains("u1 in C1: planned start 2026-03-01T00:00:00-03:00, written 2026-02-28 01:00 + 93 days"),
            "{moved}"
        );
        assert!(written.assumed.is_some());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(",2026-02-28 01:00,93,"), "{text}");
    }

    #[test]
    fn a_release_before_3_10_and_an_unreadable_target_are_typed_errors() {
        let plan = one_row(crate::testkit::v(0, 0, NOW + 86_400), None);
        let old = Release::parse("3.9");
        let e = write_uploaduser(std::slice::from_ref(&plan), &settings(old), &mut Vec::new()).unwrap_err();
        assert!(matches!(e, FormatError::UnknownColumn { column: "enroltimestart", .. }));
        let ok = Release::parse("3.10");
        assert!(write_uploaduser(std::slice::from_ref(&plan), &settings(ok), &mut Vec::new()).is_ok());
        let target = Target {
            archive: "live.mbz".into(),
            manual: None,
            release: None,
        };
        let plan = one_row(crate::testkit::v(0, 0, NOW + 86_400), Some(target));
        let e = refusal(&plan.actions[0], plan.target.as_ref()).unwrap();
        assert!(matches!(e, FormatError::Inexact { .. }), "{e}");
        let written = write_uploaduser(
            &[plan],
            &Settings {
                allow_partial: true,
                ..settings(ok)
            },
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!((written.rows, written.left_out), (0, 1));
        assert!(written.assumed.is_none());
    }

    #[test]
    fn group_names_upload_users_misreads() {
        for bad in ["2", " 12", "1.5", "-3", "1e3", ".5", "0", "Padded ", " A", ""] {
            assert!(unreadable_group(bad), "{bad:?}");
        }
        for good in ["Group 2", "2a", "0x1A", "e5", "Manual group A", "1e", "."] {
            assert!(!unreadable_group(good), "{good:?}");
        }
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
        let (text, days, _) = upload_dates(1_725_148_800, 0, paris, NOW);
        assert_eq!((text.as_str(), days), ("2024-09-01 02:00", None));
        // No start and no end: the run time, to the minute.
        let (text, days, _) = upload_dates(0, 0, santiago, NOW);
        assert_eq!((text.as_str(), days), ("2026-12-07 00:21", None));
    }
}
