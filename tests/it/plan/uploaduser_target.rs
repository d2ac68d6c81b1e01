//! Upload users and the site that reads the plan: the release (`enroltimestart#` came in Moodle 3.10), the target
//! course's manual instance read from an `--into` backup (missing, disabled, a default duration), rows with no
//! role, what the plan assumes without a target, and the exact `admin/tool/uploaduser/cli/uploaduser.php`
//! command. Targets are fixtures/live/live2.mbz and copies of it with one member edited.

use std::path::{Path, PathBuf};

use super::toolsync_replay::plan_stdout;
use crate::util::{self, tempdir};

fn live2() -> PathBuf {
    util::root().join("fixtures/live/live2.mbz")
}

/// A copy of live2.mbz in `dir` with `member` edited by `edit` (which must change it).
fn live2_with(dir: &Path, name: &str, member: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let out = dir.join(name);
    util::with_member(
        &live2(),
        member,
        |text| {
            let edited = edit(text);
            assert_ne!(edited, text, "{name}: the edit changed nothing");
            edited
        },
        &out,
    );
    out
}

/// live2's first manual instance (`<enrol id="13">`) with `field` set to `value`.
fn manual_field(text: &str, field: &str, value: &str) -> String {
    let at = text.find("<enrol id=\"13\">").unwrap();
    let open = format!("<{field}>");
    let start = text[at..].find(&open).unwrap() + at + open.len();
    let end = text[start..].find('<').unwrap() + start;
    format!("{}{value}{}", &text[..start], &text[end..])
}

/// Runs Upload users plan of live2 to standard output, `--into` `target` when given.
fn plan(target: Option<&Path>, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["--format", "uploaduser"];
    if let Some(t) = target {
        args.extend(["--into", t.to_str().unwrap()]);
    }
    args.extend(extra);
    let (code, err, out) = plan_stdout(&live2(), "UTC", &args);
    (code, err, String::from_utf8(out).unwrap())
}

/// The usernames of the CSV's rows.
fn usernames(csv: &str) -> Vec<String> {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    r.records().map(|row| row.unwrap()[0].to_owned()).collect()
}

#[test]
fn releases_before_3_10_are_refused_with_the_reason_and_what_to_do() {
    let (code, err, csv) = plan(None, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("Moodle release: 4.3 (from the backups' moodle_release or moodle_version)"),
        "{err}"
    );
    assert!(csv.starts_with("username,"), "{csv}");
    let (code, err, csv) = plan(None, &["--moodle-version", "3.9"]);
    assert_eq!(code, 2, "{err}");
    assert!(csv.is_empty());
    for part in [
        "Moodle 3.9's Upload users does not know the `enroltimestart#` column (it came in Moodle 3.10)",
        "invalidfieldname",
        "--format toolsync",
        "--format ws",
        "upgrade the site",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    let (code, err, _) = plan(None, &["--moodle-version", "3.10"]);
    assert_eq!(code, 0, "{err}");
    for bad in ["3", "3.x", "4.3.1"] {
        let (code, err, _) = plan(None, &["--moodle-version", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("give the release as X.Y"), "{err}");
    }
    // Other formats carry start and end themselves: the release does not matter to them.
    let (code, err, _) = plan_stdout(
        &live2(),
        "UTC",
        &["--format", "toolsync", "--moodle-version", "3.9"],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn the_backups_release_is_the_default_and_an_into_target_overrides_it() {
    let dir = tempdir();
    let old = live2_with(dir.path(), "old.mbz", "moodle_backup.xml", |t| {
        t.replace(
            "<moodle_release>4.3 (Build: 20231009)</moodle_release>",
            "<moodle_release>3.9.2+ (Build: 20201016)</moodle_release>",
        )
    });
    let (code, err, _) = plan_stdout(&old, "UTC", &["--format", "uploaduser"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Moodle 3.9's Upload users"), "{err}");
    // Without a readable moodle_release, moodle_version places the backup (3.9 began at 2020061500, 3.10 at
    // 2020110900).
    let unnamed = live2_with(dir.path(), "unnamed.mbz", "moodle_backup.xml", |t| {
        t.replace(
            "<moodle_release>4.3 (Build: 20231009)</moodle_release>",
            "<moodle_release></moodle_release>",
        )
        .replace(
            "<moodle_version>2023100900</moodle_version>",
            "<moodle_version>2020071000</moodle_version>",
        )
    });
    let (code, err, _) = plan_stdout(&unnamed, "UTC", &["--format", "uploaduser"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Moodle release: 3.9 (from"), "{err}");
    assert!(err.contains("Moodle 3.9's Upload users"), "{err}");
    // The live course's backup says which release reads the plan.
    let live = live2();
    let args = ["--format", "uploaduser", "--into", live.to_str().unwrap()];
    let (code, err, _) = plan_stdout(&old, "UTC", &args);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "Moodle release: 4.3 (from the --into target's moodle_release or moodle_version)"
        ),
        "{err}"
    );
}

#[test]
fn a_target_default_duration_refuses_rows_with_no_end() {
    let dir = tempdir();
    // live2u1 (no end) suspended in the target, so the plan reactivates it; the instance has a 7-day default.
    let target = live2_with(dir.path(), "period.mbz", "course/enrolments.xml", |t| {
        let t = manual_field(t, "enrolperiod", "604800");
        t.replacen(
            "<enrolment id=\"33\">\n          <status>0</status>",
            "<enrolment id=\"33\">\n          <status>1</status>",
            1,
        )
    });
    let (code, err, csv) = plan(Some(&target), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(csv.is_empty());
    assert!(
        err.contains(
            "user `live2u1` in course `LIVE2`: the plan gives them no end, and Upload users would end them after \
             the target manual instance's default duration (7 days)"
        ),
        "{err}"
    );
    assert!(err.contains("--allow-partial"), "{err}");
    assert!(
        err.contains("its manual instance: enabled, default duration 7 days, default role student"),
        "{err}"
    );
    let (code, err, csv) = plan(Some(&target), &["--allow-partial"]);
    assert_eq!(code, 0, "{err}");
    let names = usernames(&csv);
    assert_eq!(names.len(), 8, "{csv}");
    assert!(!names.contains(&"live2u1".to_owned()), "{csv}");
    assert!(err.contains("(1 left out, listed below)"), "{err}");
    assert!(
        err.contains("live2u1") && err.contains(": left out"),
        "{err}"
    );
    // Every row written carries its own period: the default never applies.
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let col = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "enrolperiod1")
        .unwrap();
    for row in r.records() {
        let row = row.unwrap();
        assert!(!row[col].is_empty(), "{row:?}");
    }
    // Without a default duration the same row is written, with an empty period (unlimited).
    let target = live2_with(dir.path(), "suspended.mbz", "course/enrolments.xml", |t| {
        t.replacen(
            "<enrolment id=\"33\">\n          <status>0</status>",
            "<enrolment id=\"33\">\n          <status>1</status>",
            1,
        )
    });
    let (code, err, csv) = plan(Some(&target), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(usernames(&csv).contains(&"live2u1".to_owned()), "{csv}");
    assert!(!err.contains("assumed"), "{err}");
}

#[test]
fn a_disabled_or_missing_manual_instance_in_the_target_refuses_every_row() {
    let dir = tempdir();
    let disabled = live2_with(dir.path(), "disabled.mbz", "course/enrolments.xml", |t| {
        manual_field(t, "status", "1")
    });
    let (code, err, csv) = plan(Some(&disabled), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(csv.is_empty());
    assert!(
        err.contains(
            "in course `LIVE2`: the target's manual enrolment instance is disabled: Upload users would enrol them \
             into it, with no access"
        ),
        "{err}"
    );
    assert!(err.contains("its manual instance: disabled,"), "{err}");
    let (code, err, csv) = plan(Some(&disabled), &["--allow-partial"]);
    assert_eq!(code, 0, "{err}");
    assert!(usernames(&csv).is_empty(), "{csv}");
    assert!(
        err.contains("plan: 0 rows written") && err.contains("(8 left out, listed below)"),
        "{err}"
    );
    let missing = live2_with(dir.path(), "missing.mbz", "course/enrolments.xml", |t| {
        t.replacen("<enrol>manual</enrol>", "<enrol>self</enrol>", 1)
    });
    let (code, err, _) = plan(Some(&missing), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "in course `LIVE2`: the target course has no manual enrolment instance, so Upload users would not \
             enrol them"
        ),
        "{err}"
    );
    assert!(err.contains("its manual instance: none"), "{err}");
    let (code, err, csv) = plan(Some(&missing), &["--allow-partial"]);
    assert_eq!(code, 0, "{err}");
    assert!(usernames(&csv).is_empty(), "{csv}");
    // No manual instance: nothing to keep, every one of the 9 actions is new, and left out.
    assert!(err.contains("(9 left out, listed below)"), "{err}");
}

#[test]
fn a_row_with_no_role_is_refused_naming_the_role_upload_users_would_give() {
    let dir = tempdir();
    // live2u9 (user 16) holds no role in the source course.
    let source = live2_with(dir.path(), "norole.mbz", "course/roles.xml", |t| {
        let at = t.find("<userid>16</userid>").unwrap();
        let start = t[..at].rfind("<assignment ").unwrap();
        let end = t[at..].find("</assignment>").unwrap() + at + "</assignment>".len();
        format!("{}{}", &t[..start], &t[end..])
    });
    let (code, err, out) = plan_stdout(&source, "UTC", &["--format", "uploaduser"]);
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains(
            "user `live2u9` in course `LIVE2`: the plan gives them no role, and Upload users would give them the \
             manual instance's default role"
        ),
        "{err}"
    );
    let live = live2();
    let args = ["--format", "uploaduser", "--into", live.to_str().unwrap()];
    let (code, err, _) = plan_stdout(&source, "UTC", &args);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("would give them the target's default role (student)"),
        "{err}"
    );
    let (code, err, out) = plan_stdout(
        &source,
        "UTC",
        &["--format", "uploaduser", "--allow-partial"],
    );
    assert_eq!(code, 0, "{err}");
    let names = usernames(&String::from_utf8(out).unwrap());
    assert_eq!(names.len(), 8);
    assert!(!names.contains(&"live2u9".to_owned()));
    assert!(err.contains("(1 left out, listed below)"), "{err}");
}

#[test]
fn what_the_plan_assumes_is_said_once_without_a_target() {
    let (_, err, _) = plan(None, &[]);
    assert_eq!(
        err.matches("assumed for courses not compared with --into:")
            .count(),
        1,
        "{err}"
    );
    for part in [
        "manual enrolment plugin is enabled",
        "first manual enrolment instance is enabled",
        "no default enrolment duration",
        "each row names its role",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
    let (_, err, _) = plan(Some(&live2()), &[]);
    assert!(!err.contains("assumed"), "{err}");
    // Two courses, one compared: the other is still assumed, said once.
    let live = live2();
    let o = util::run(&[
        "plan",
        live.to_str().unwrap(),
        util::root()
            .join("fixtures/coh_group.mbz")
            .to_str()
            .unwrap(),
        "--format",
        "uploaduser",
        "-o",
        "-",
        "--until",
        "2027-08-31",
        "--timezone",
        "UTC",
        "--into",
        live.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(
        err.matches("assumed for courses not compared").count(),
        1,
        "{err}"
    );
}

#[test]
fn the_import_note_prints_the_uploaduser_cli_command() {
    // Options of admin/tool/uploaduser/cli/uploaduser.php in Moodle 4.x: --help, --file, and one per element of
    // the two upload forms (classes/cli_helper.php, options_definitions(); user_form.php). The plan uses these.
    const DEFINED: &[&str] = &[
        "file",
        "delimiter_name",
        "encoding",
        "uutype",
        "uuupdatetype",
    ];
    let dir = tempdir();
    let out = dir.path().join("plan with space.csv");
    let o = util::run(&[
        "plan",
        live2().to_str().unwrap(),
        "--format",
        "uploaduser",
        "-o",
        out.to_str().unwrap(),
        "--until",
        "2027-08-31",
        "--timezone",
        "UTC",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let full = std::fs::canonicalize(&out).unwrap();
    let expected = format!(
        "php admin/tool/uploaduser/cli/uploaduser.php --file='{}' --delimiter_name=comma --encoding=UTF-8 \
         --uutype=3 --uuupdatetype=0",
        full.display()
    );
    let line = err
        .lines()
        .find(|l| l.contains("uploaduser.php"))
        .unwrap_or_default();
    assert_eq!(line.trim(), expected, "{err}");
    for option in line.split_whitespace().filter(|w| w.starts_with("--")) {
        let name = option[2..].split('=').next().unwrap();
        assert!(
            DEFINED.contains(&name),
            "{option} is not an uploaduser.php option"
        );
    }
    assert!(
        err.contains("upload type \"Update existing users only\"")
            && err.contains("CSV delimiter \"comma\""),
        "{err}"
    );
    // To standard output there is no file to name.
    let (_, err, _) = plan(None, &[]);
    assert!(err.contains("--file=PLAN.csv"), "{err}");
}
