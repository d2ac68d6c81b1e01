//! Upload users' reading of a plan, replayed on the written CSV as Moodle 4.3 does it
//! (`admin/tool/uploaduser/locallib.php`, `uu_validate_user_upload_columns()`: standard fields or
//! `^(sysrole|cohort|course|group|type|role|enrolperiod|enrolstatus|enroltimestart)\d+$`;
//! `classes/process.php`, `process_line()`: `strtotime($enroltimestart)` in the server zone,
//! `timeend = timestart + (int)enrolperiod * DAYSECS`, the manual instance's default duration when the period is
//! empty). For every shared fixture, in four zones, the enrolment Upload users makes must be the plan's promise,
//! and no start is before 1970; against an `--into` target whose manual instance has a default duration, every
//! row is still exact or left out and listed.

use std::path::Path;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use super::ZONES;
use crate::util;

const STANDARD: &[&str] = &["username", "firstname", "lastname", "email"];
const INDEXED: &[&str] = &[
    "sysrole",
    "cohort",
    "course",
    "group",
    "type",
    "role",
    "enrolperiod",
    "enrolstatus",
    "enroltimestart",
];

/// Runs plan to standard output in `zone`; returns (exit code, stdout).
fn plan(input: &Path, zone: &str, format: &str) -> (i32, Vec<u8>) {
    let (code, _, out) = super::toolsync_replay::plan_stdout(input, zone, &["--format", format]);
    (code, out)
}

/// `uu_validate_user_upload_columns()`'s test of one header.
fn valid_column(h: &str) -> bool {
    STANDARD.contains(&h)
        || INDEXED.iter().any(|p| {
            h.strip_prefix(p)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// `strtotime("YYYY-MM-DD HH:MM")` in the server zone (the earlier instant when ambiguous).
fn strtotime(text: &str, tz: Tz) -> i64 {
    let n = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&n).earliest().unwrap().timestamp()
}

/// Every action of a JSON plan, in plan order.
fn json_actions(doc: &serde_json::Value) -> Vec<&serde_json::Value> {
    doc["courses"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["actions"].as_array().unwrap())
        .collect()
}

#[test]
fn every_fixture_replayed_by_upload_users_gives_the_plan() {
    let mut inputs = util::shared("moodle43")
        .map(|d| util::mbz_files(&d))
        .unwrap_or_default();
    inputs.push(util::root().join("fixtures/coh_group.mbz"));
    let mut rows_checked = 0;
    for input in &inputs {
        for zone in ZONES {
            let tz: Tz = zone.parse().unwrap();
            let before = mbz_enrol::time::now_epoch();
            let (code, csv) = plan(input, zone, "uploaduser");
            let (jcode, json) = plan(input, zone, "json");
            assert_eq!(code, jcode, "{}", input.display());
            if code != 0 {
                continue;
            }
            let after = mbz_enrol::time::now_epoch();
            let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
            let actions = json_actions(&doc);
            let default_period: Vec<i64> = doc["courses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["manual_enrolperiod"].as_i64().unwrap())
                .collect();
            let mut r = csv::Reader::from_reader(csv.as_slice());
            let headers = r.headers().unwrap().clone();
            for h in &headers {
                assert!(valid_column(h), "invalidfieldname {h}");
            }
            let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
            for (row, a) in r.records().zip(&actions) {
                let row = row.unwrap();
                assert_eq!(
                    &row[col("username")],
                    a["user"]["username"].as_str().unwrap()
                );
                let start = strtotime(&row[col("enroltimestart1")], tz);
                assert!(start >= 0, "a start before 1970: {row:?}");
                let planned_start = a["timestart"].as_i64().unwrap();
                let planned_end = a["timeend"].as_i64().unwrap();
                if planned_start == 0 {
                    assert!(start <= after && start > before - 86_400 - 60, "{row:?}");
                } else {
                    assert!(start <= planned_start && start > planned_start - 86_400 - 60);
                }
                let end = match &row[col("enrolperiod1")] {
                    "" if default_period.iter().all(|p| *p == 0) => 0,
                    "" => continue, // the plan warns: the instance's default duration applies
                    days => start + days.parse::<i64>().unwrap() * 86_400,
                };
                assert_eq!(end, planned_end, "{} {zone}: {row:?}", input.display());
                assert_eq!(
                    row[col("enrolstatus1")].parse::<i64>().ok(),
                    a["status"].as_i64()
                );
                rows_checked += 1;
            }
        }
    }
    assert!(rows_checked > 100, "{rows_checked}");
}

#[test]
fn numeric_or_padded_group_names_are_refused_or_left_out() {
    use super::toolsync_replay::{more_groups, plan_stdout, with_groups};
    let dir = util::tempdir();
    for (file, name) in [("numeric.mbz", "2"), ("padded.mbz", " Padded")] {
        let input = with_groups(dir.path(), file, more_groups(1, move |_| name.to_owned()));
        let (code, err, out) = plan_stdout(&input, "UTC", &["--format", "uploaduser"]);
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty());
        assert!(
            err.contains("user `cg001` in course `COH_GROUP`: group") && err.contains("group id"),
            "{err}"
        );
        let args = ["--format", "uploaduser", "--allow-partial"];
        let (code, err, out) = plan_stdout(&input, "UTC", &args);
        assert_eq!(code, 0, "{err}");
        let csv = String::from_utf8(out).unwrap();
        assert!(!csv.contains("\ncg001,"), "{csv}");
        assert!(csv.contains("\ncg002,"), "{csv}");
        assert!(
            err.contains("plan: 27 rows written to standard output (Upload users): 27 of 28 actions for 1 course (1 left out")
                && err.contains("cg001")
                && err.contains(": left out"),
            "{err}"
        );
    }
}

#[test]
fn every_fixture_into_a_target_with_a_default_duration_gives_the_plan_or_leaves_the_row_out() {
    // The target: the course's own backup, its first manual instance given a 7-day default duration. Upload
    // users applies it to every row with an empty enrolperiod#, so a row with no end cannot be exact.
    let mut inputs: Vec<_> = util::shared("moodle43")
        .map(|d| util::mbz_files(&d))
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".zip.mbz"))
        .collect();
    inputs.push(util::root().join("fixtures/live/live2.mbz"));
    let dir = util::tempdir();
    let (mut rows_checked, mut left_out) = (0, 0);
    for (n, input) in inputs.iter().enumerate() {
        let target = dir.path().join(format!("target{n}.mbz"));
        let edit = |text: &str| {
            let Some(at) = text.find("<enrol>manual</enrol>") else {
                return text.to_owned();
            };
            let start = text[at..].find("<enrolperiod>").unwrap() + at + "<enrolperiod>".len();
            let end = text[start..].find('<').unwrap() + start;
            format!("{}604800{}", &text[..start], &text[end..])
        };
        util::with_member(input, "course/enrolments.xml", edit, &target);
        let into = ["--into", target.to_str().unwrap()];
        let args = [&["--format", "uploaduser", "--allow-partial"][..], &into].concat();
        let (code, err, csv) = super::toolsync_replay::plan_stdout(input, "Europe/Paris", &args);
        let json_args = [&["--format", "json"][..], &into].concat();
        let (jcode, _, json) =
            super::toolsync_replay::plan_stdout(input, "Europe/Paris", &json_args);
        assert_eq!(code, jcode, "{}: {err}", input.display());
        if code != 0 {
            continue;
        }
        let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let (no_end, with_end): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) =
            json_actions(&doc)
                .into_iter()
                .partition(|a| a["timeend"].as_i64() == Some(0));
        for a in &no_end {
            let user = a["user"]["username"].as_str().unwrap();
            assert!(
                err.contains(&format!("user `{user}` in course"))
                    && err.contains("default duration (7 days)"),
                "{}: {err}",
                input.display()
            );
        }
        left_out += no_end.len();
        let mut r = csv::Reader::from_reader(csv.as_slice());
        let headers = r.headers().unwrap().clone();
        let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
        let records: Vec<_> = r.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), with_end.len(), "{}: {err}", input.display());
        for (row, a) in records.iter().zip(&with_end) {
            assert_eq!(
                &row[col("username")],
                a["user"]["username"].as_str().unwrap()
            );
            let start = strtotime(&row[col("enroltimestart1")], chrono_tz::Europe::Paris);
            let days: i64 = row[col("enrolperiod1")]
                .parse()
                .expect("a period: the default never applies");
            assert_eq!(
                start + days * 86_400,
                a["timeend"].as_i64().unwrap(),
                "{row:?}"
            );
            rows_checked += 1;
        }
    }
    assert!(rows_checked > 100, "{rows_checked}");
    assert!(left_out >= 1, "no row without an end was met");
}
