//! Upload users' reading of a plan, replayed on the written CSV as Moodle 4.3 does it
//! (`admin/tool/uploaduser/locallib.php`, `uu_validate_user_upload_columns()`: standard fields or
//! `^(sysrole|cohort|course|group|type|role|enrolperiod|enrolstatus|enroltimestart)\d+$`;
//! `classes/process.php`, `process_line()`: `strtotime($enroltimestart)` in the server zone,
//! `timeend = timestart + (int)enrolperiod * DAYSECS`, the manual instance's default duration when the period is
//! empty). For every shared fixture, in four zones, the enrolment Upload users makes must be the plan's promise,
//! and no start is before 1970.

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
            let actions: Vec<&serde_json::Value> = doc["courses"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["actions"].as_array().unwrap())
                .collect();
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
