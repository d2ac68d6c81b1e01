//! `plan`: every format on real fixtures (golden files reviewed by hand; `MBZ_UPDATE_GOLDEN=1` rewrites them),
//! exact Upload users arithmetic, identifier choices, multi-course plans, `--into`, and CSV quoting.

use std::path::{Path, PathBuf};

use crate::util::{self, golden, run, tempdir};

mod toolsync_replay;
mod uploaduser_replay;
mod uploaduser_target;
pub(crate) mod ws_replay;

/// The server zones the consumers' replays run in.
const ZONES: &[&str] = &[
    "Europe/Paris",
    "America/Santiago",
    "Pacific/Auckland",
    "UTC",
];

fn fixture(name: &str) -> PathBuf {
    util::root().join("fixtures").join(name)
}

/// Runs plan; returns (exit code, stderr, plan text).
fn plan(inputs: &[&Path], args: &[&str]) -> (i32, String, String) {
    let dir = tempdir();
    let out = dir.path().join("plan.out");
    let mut all: Vec<String> = vec!["plan".into()];
    all.extend(inputs.iter().map(|p| p.to_str().unwrap().to_owned()));
    all.extend([
        "-o".into(),
        out.to_str().unwrap().into(),
        "--timezone".into(),
        "Europe/Paris".into(),
    ]);
    all.extend(args.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let o = run(&refs);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    (o.status.code().unwrap_or(-1), err, text)
}

const UNTIL: &[&str] = &["--until", "2027-08-31", "--from", "cohort,database"];

#[test]
fn golden_files_for_every_format() {
    let (cg, db) = (fixture("coh_group.mbz"), fixture("db_sync.mbz"));
    let before = mbz_enrol::time::now_epoch();
    let (code, err, text) = plan(&[&cg], &[&["--format", "uploaduser"], UNTIL].concat());
    assert_eq!(code, 0, "{err}");
    golden("coh_group.uploaduser.csv", &run_starts(&text, before));
    assert!(err.contains("28 rows have no start (0)"), "{err}");
    assert!(
        err.contains("Update existing users only")
            && err.contains("comma")
            && err.contains("UTF-8"),
        "{err}"
    );
    let (code, err, text) = plan(&[&cg], &[&["--format", "toolsync"], UNTIL].concat());
    assert_eq!(code, 0, "{err}");
    golden("coh_group.toolsync.csv", &text);
    let (code, err, text) = plan(&[&db], &[&["--format", "toolsync"], UNTIL].concat());
    assert_eq!(code, 0, "{err}");
    // tool_sync cannot write suspended enrolments: the 5 suspended database users are left out, with warnings.
    assert_eq!(text.lines().count(), 1 + 35, "{text}");
    assert_eq!(err.matches("tool_sync cannot write").count(), 5, "{err}");
    golden("db_sync.toolsync.csv", &text);
    let (code, err, text) = plan(
        &[&db],
        &[&["--format", "ws", "--same-site"], UNTIL].concat(),
    );
    assert_eq!(code, 0, "{err}");
    golden("db_sync.ws.txt", &text);
    let (code, err, text) = plan(&[&cg], &[&["--format", "json"], UNTIL].concat());
    assert_eq!(code, 0, "{err}");
    golden("coh_group.plan.json", &text);
}

/// `text` (an Upload users CSV) with each start chosen from the run time (a start of 0: between `before` − 1 day
/// and now) shown as `$RUN_START`, and its period as `$DAYS`: the golden file stays the same from day to day.
fn run_starts(text: &str, before: i64) -> String {
    let after = mbz_enrol::time::now_epoch();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).unwrap();
    for row in r.records() {
        let mut row: Vec<String> = row.unwrap().iter().map(str::to_owned).collect();
        for i in 0..row.len() {
            if headers[i].starts_with("enroltimestart")
                && !row[i].is_empty()
                && (before - 86_400..=after).contains(&paris(&row[i]))
            {
                row[i] = "$RUN_START".into();
                if !row[i + 1].is_empty() {
                    row[i + 1] = "$DAYS".into();
                }
            }
        }
        w.write_record(&row).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

#[test]
fn upload_users_end_is_exact() {
    // Every row: strtotime(enroltimestart) + enrolperiod days == the planned end, and the start is not later
    // than the planned one (read from the JSON plan of the same conversion).
    for name in ["coh_group.mbz", "db_sync.mbz", "coh_basic.mbz"] {
        let f = fixture(name);
        let before = mbz_enrol::time::now_epoch();
        let (_, _, csv) = plan(&[&f], &[&["--format", "uploaduser"], UNTIL].concat());
        let (_, _, json) = plan(&[&f], &[&["--format", "json"], UNTIL].concat());
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let headers = r.headers().unwrap().clone();
        let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
        for (row, action) in r
            .records()
            .zip(json["courses"][0]["actions"].as_array().unwrap())
        {
            let row = row.unwrap();
            assert_eq!(
                &row[col("username")],
                action["user"]["username"].as_str().unwrap()
            );
            let start = paris(&row[col("enroltimestart1")]);
            let mut planned_start = action["timestart"].as_i64().unwrap();
            if planned_start == 0 {
                // No start: the run time, at most a day later than the start written (never 1969).
                assert!(start > before - 86_400 && start >= 0, "{name}: {row:?}");
                planned_start = mbz_enrol::time::now_epoch();
            }
            let planned_end = action["timeend"].as_i64().unwrap();
            assert!(start <= planned_start, "{name}: {row:?}");
            match &row[col("enrolperiod1")] {
                "" => assert_eq!(planned_end, 0, "{name}: {row:?}"),
                days => assert_eq!(
                    start + days.parse::<i64>().unwrap() * 86_400,
                    planned_end,
                    "{name}: {row:?}"
                ),
            }
            assert_eq!(
                row[col("enrolstatus1")].parse::<i64>().unwrap(),
                action["status"].as_i64().unwrap()
            );
        }
    }
}

/// `YYYY-MM-DD HH:MM` in Europe/Paris, as PHP's strtotime reads it (earlier instant when ambiguous).
fn paris(text: &str) -> i64 {
    use chrono::{NaiveDateTime, TimeZone};
    let n = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    chrono_tz::Europe::Paris
        .from_local_datetime(&n)
        .earliest()
        .unwrap()
        .timestamp()
}

#[test]
fn identifier_choices() {
    let db = fixture("db_sync.mbz");
    let (code, _, text) = plan(
        &[&db],
        &[
            &[
                "--format",
                "toolsync",
                "--user-key",
                "idnumber",
                "--course-key",
                "idnumber",
            ],
            UNTIL,
        ]
        .concat(),
    );
    assert_eq!(code, 0);
    let line = text.lines().nth(1).unwrap();
    assert!(
        line.starts_with("add;student;DBS001;DB_SYNC;manual;"),
        "{line}"
    );
    let (_, _, text) = plan(
        &[&db],
        &[
            &[
                "--format",
                "toolsync",
                "--user-key",
                "email",
                "--course-key",
                "id",
            ],
            UNTIL,
        ]
        .concat(),
    );
    let line = text.lines().nth(1).unwrap();
    assert!(
        line.starts_with("add;student;dbs001@corpus.example.com;59;manual;"),
        "{line}"
    );
    // ws needs --same-site.
    let (code, err, _) = plan(&[&db], &[&["--format", "ws"], UNTIL].concat());
    assert_eq!(code, 2);
    assert!(err.contains("--same-site"), "{err}");
}

#[test]
fn multi_course_plan_from_a_folder() {
    let Some(batch) = util::shared("moodle43/batch") else {
        return;
    };
    let (code, err, text) = plan(&[&batch], &[&["--format", "uploaduser"], UNTIL].concat());
    assert_eq!(code, 0, "{err}");
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let courses: std::collections::BTreeSet<String> =
        r.records().map(|row| row.unwrap()[4].to_owned()).collect();
    assert_eq!(courses.len(), 14, "{courses:?}");
    // One row per (user, course): 268 converted users over the 14 courses.
    assert_eq!(text.lines().count(), 1 + 268);
}

#[test]
fn into_a_target_plans_only_changes_and_predicts_the_merge() {
    let dir = tempdir();
    let cb = fixture("coh_basic.mbz");
    // The JSON plan of coh_basic compared with `target`.
    let plan_into = |target: &Path| {
        plan(
            &[&cb],
            &[
                &["--format", "json", "--into", target.to_str().unwrap()],
                UNTIL,
            ]
            .concat(),
        )
    };
    // The course after a restore of coh_basic converted to end on `until`.
    let converted = |name: &str, until: &str| {
        let out = dir.path().join(name);
        let o = run(&[
            "convert",
            cb.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            until,
            "--timezone",
            "Europe/Paris",
        ]);
        assert!(o.status.success());
        out
    };
    // Target = the live course as it is now: cohort users have no manual enrolment: all new.
    let (code, err, text) = plan_into(&cb);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let actions = v["courses"][0]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 30);
    assert!(actions.iter().all(|a| a["into"]["kind"] == "new"));
    // Target = the course after a restore of a conversion ending later: nothing to do, nothing shortened.
    let (code, err, text) = plan_into(&converted("later.mbz", "2028-08-31"));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["courses"][0]["actions"].as_array().unwrap().len(), 0);
    assert!(err.contains("30 kept"), "{err}");
    // Target ending earlier: every student extended to the plan's end. A merge restore would not extend them:
    // Moodle's merge rule ignores a later end when the backup's start is not later (moodle-format.md §3.6), and
    // the prediction says so.
    let (_, err, text) = plan_into(&converted("earlier.mbz", "2026-12-31"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let actions = v["courses"][0]["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 30, "{err}");
    for a in actions {
        assert_eq!(a["into"]["kind"], "extended");
        assert_eq!(a["timeend"], 1_819_749_600);
        assert_eq!(a["into"]["merge_restore"]["timeend"], 1_798_758_000);
    }
}

#[test]
fn csv_quoting_of_commas_quotes_and_accents() {
    let dir = tempdir();
    let name = "O'Brien, \"Zoë\" Ærøskøbing";
    let escaped = name.replace('&', "&amp;").replace('"', "&quot;");
    let input = dir.path().join("names.mbz");
    let edit = |text: &str| {
        let at = text.find("<lastname>").unwrap() + "<lastname>".len();
        let end = text[at..].find("</lastname>").unwrap() + at;
        format!("{}{}{}", &text[..at], escaped, &text[end..])
    };
    util::with_member(&fixture("coh_basic.mbz"), "users.xml", edit, &input);
    let (code, err, csv) = plan(&[&input], &[&["--format", "uploaduser"], UNTIL].concat());
    assert_eq!(code, 0, "{err}");
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let names: Vec<String> = r.records().map(|row| row.unwrap()[2].to_owned()).collect();
    assert!(names.contains(&name.to_owned()), "{names:?}\n{csv}");
    assert!(csv.contains("\"O'Brien, \"\"Zoë\"\" Ærøskøbing\""), "{csv}");
}

#[test]
fn toolsync_refuses_values_it_cannot_carry() {
    let dir = tempdir();
    let input = dir.path().join("semicolon.mbz");
    let edit =
        |text: &str| text.replacen("<name>Existing group B</name>", "<name>Group; B</name>", 1);
    util::with_member(&fixture("coh_group.mbz"), "groups.xml", edit, &input);
    let (code, err, _) = plan(&[&input], &[&["--format", "toolsync"], UNTIL].concat());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("user `cg021`") && err.contains("Group; B"),
        "{err}"
    );
}

#[test]
fn plan_guards() {
    let dir = tempdir();
    let a = dir.path().join("a.mbz");
    let b = dir.path().join("b.mbz");
    std::fs::copy(fixture("coh_basic.mbz"), &a).unwrap();
    std::fs::copy(fixture("db_sync.mbz"), &b).unwrap();
    let before = std::fs::read(&b).unwrap();
    // -o naming an input: refused, input untouched.
    let o = run(&[
        "plan",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        b.to_str().unwrap(),
        "--until",
        "2027-08-31",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&b).unwrap(), before);
    // -o inside an input folder: refused.
    let inside = dir.path().join("p.json");
    let o = run(&[
        "plan",
        dir.path().to_str().unwrap(),
        "--format",
        "json",
        "-o",
        inside.to_str().unwrap(),
        "--until",
        "2027-08-31",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!inside.exists());
    // A failing archive: no partial plan unless asked.
    let broken = dir.path().join("broken.mbz");
    std::fs::write(&broken, &before[..before.len() / 2]).unwrap();
    let out = tempdir();
    let p = out.path().join("p.json");
    let o = run(&[
        "plan",
        a.to_str().unwrap(),
        broken.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        p.to_str().unwrap(),
        "--until",
        "2027-08-31",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!p.exists());
    let o = run(&[
        "plan",
        a.to_str().unwrap(),
        broken.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        p.to_str().unwrap(),
        "--until",
        "2027-08-31",
        "--allow-partial",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(p.exists());
    // Two backups of one course: refused.
    let o = run(&[
        "plan",
        fixture("coh_basic.mbz").to_str().unwrap(),
        fixture("coh_basic.zip.mbz").to_str().unwrap(),
        "--format",
        "json",
        "-o",
        out.path().join("q.json").to_str().unwrap(),
        "--until",
        "2027-08-31",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("one backup per course"));
}
