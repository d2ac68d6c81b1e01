//! `renew` on the shipped fixtures: each filter and action, combinations, `--until none`, a filter that
//! matches nothing, and every output passing `verify --against` its input.

use std::path::{Path, PathBuf};

use crate::util::{self, entries, run, tempdir};

const UNTIL: i64 = 1_819_749_600; // 2027-08-31 through the whole day, Europe/Paris

fn fixture(name: &str) -> PathBuf {
    util::root().join("fixtures").join(name)
}

struct Renewed {
    code: i32,
    stderr: String,
    json: serde_json::Value,
    output: PathBuf,
    _dir: tempfile::TempDir,
}

impl Renewed {
    /// (username, method) → (before, after) as (status, timestart, timeend).
    fn rows(&self) -> Vec<(String, String, [i64; 3], [i64; 3])> {
        let v = |x: &serde_json::Value| {
            [
                x["status"].as_i64().unwrap(),
                x["timestart"].as_i64().unwrap(),
                x["timeend"].as_i64().unwrap(),
            ]
        };
        let mut rows: Vec<_> = self.json["matched"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["username"].as_str().unwrap().to_owned(),
                    r["method"].as_str().unwrap().to_owned(),
                    v(&r["before"]),
                    // What the archive holds (`after` is what the chosen restore target stores).
                    v(&r["archive"]),
                )
            })
            .collect();
        rows.sort();
        rows
    }
    fn users(&self) -> Vec<String> {
        let mut u: Vec<String> = self
            .rows()
            .into_iter()
            .map(|r| format!("{}/{}", r.0, r.1))
            .collect();
        u.dedup();
        u
    }
}

fn renew(input: &Path, args: &[&str]) -> Renewed {
    let dir = tempdir();
    let output = dir.path().join("out.mbz");
    let mut all = vec![
        "renew",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--timezone",
        "Europe/Paris",
        "--json",
    ];
    all.extend_from_slice(args);
    let o = run(&all);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let code = o.status.code().unwrap_or(-1);
    let json = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    if code == 0 {
        // Restore-critical: the output passes verify against its input.
        let v = run(&[
            "verify",
            output.to_str().unwrap(),
            "--against",
            input.to_str().unwrap(),
            "--json",
        ]);
        assert!(
            v.status.success(),
            "verify --against failed for renew {args:?}: {}",
            String::from_utf8_lossy(&v.stdout)
        );
        let proof: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
        let rewritten = proof["changes"]["members_rewritten"].as_array().unwrap();
        assert!(
            rewritten
                .iter()
                .all(|m| m == ".ARCHIVE_INDEX" || m == "course/enrolments.xml"),
            "renew rewrote more than enrolments: {rewritten:?}"
        );
        assert_eq!(
            proof["changes"]["instances"].as_array().unwrap().len(),
            0,
            "instance settings changed"
        );
    }
    Renewed {
        code,
        stderr,
        json,
        output,
        _dir: dir,
    }
}

#[test]
fn seed_procedure_reactivates_and_extends_inactive_manual_students() {
    // seeds/000: method manual, role student, status inactive; set active and an end date.
    let r = renew(
        &fixture("noconvert.mbz"),
        &[
            "--method",
            "manual",
            "--role",
            "student",
            "--status",
            "inactive",
            "--set-status",
            "active",
            "--until",
            "2027-08-31",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.rows(),
        [
            (
                "nc04".into(),
                "manual".into(),
                [1, 1725148800, 0],
                [0, 1725148800, UNTIL]
            ),
            (
                "nc05".into(),
                "manual".into(),
                [0, 1725148800, 1751241600],
                // Active in the live course with an earlier end: the archive starts one second later, so
                // that Moodle's merge applies the new end (and keeps the live start).
                [0, 1725148801, UNTIL]
            ),
        ]
    );
    let nc05 = &r.json["matched"][1];
    assert_eq!(nc05["after"]["timestart"], 1725148800);
    assert_eq!(nc05["after"]["timeend"], UNTIL);
    assert_eq!(r.json["shaped"], 1);
    assert_eq!(r.json["changed"], 2);
    // The summary names each user by username and id, dates in the zone, ends as the last second of access.
    let line = r
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("nc05 "))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    let id = r.json["matched"][1]["userid"].to_string();
    assert!(line.contains(&format!("#{id} ")), "{line}");
    assert!(
        line.contains("->  active 1 Sep 2024 02:00:00 Paris .. 31 Aug 2027 23:59:59 Paris"),
        "{line}"
    );
    assert!(
        r.stderr
            .contains("until: 2027-08-31: access through 31 Aug 2027 23:59:59 Paris")
    );
    assert!(!r.stderr.contains(" = 18"), "an epoch: {}", r.stderr);
}

#[test]
fn each_status_filter() {
    let nc = fixture("noconvert.mbz");
    let r = renew(&nc, &["--status", "suspended", "--until", "2027-08-31"]);
    assert_eq!(r.users(), ["nc04/manual"]);
    let r = renew(
        &nc,
        &[
            "--status",
            "expired",
            "--now",
            "2026-01-01",
            "--until",
            "2027-08-31",
        ],
    );
    assert_eq!(r.users(), ["nc05/manual"]);
    // Before nc05's end it is active, not expired.
    let r = renew(
        &nc,
        &[
            "--status",
            "expired",
            "--now",
            "2025-01-01",
            "--until",
            "2027-08-31",
        ],
    );
    assert!(r.users().is_empty());
    let r = renew(
        &nc,
        &[
            "--status",
            "active",
            "--now",
            "2026-01-01",
            "--set-status",
            "active",
        ],
    );
    assert_eq!(
        r.users(),
        [
            "nc01/manual",
            "nc01/self",
            "nc02/manual",
            "nc03/manual",
            "nc06/self",
            "nc07/self",
            "ncteacher1/manual"
        ]
    );
    assert_eq!(r.json["changed"], 0, "already active: nothing to change");
    let r = renew(&nc, &["--status", "any", "--set-status", "active"]);
    assert_eq!(r.rows().len(), 9);
}

#[test]
fn method_role_user_filters() {
    let nc = fixture("noconvert.mbz");
    let r = renew(&nc, &["--method", "self", "--until", "2027-08-31"]);
    assert_eq!(r.users(), ["nc01/self", "nc06/self", "nc07/self"]);
    assert!(r.rows().iter().all(|row| row.3[2] == UNTIL));
    let r = renew(
        &nc,
        &["--role", "editingteacher", "--set-status", "suspended"],
    );
    assert_eq!(
        r.rows(),
        [(
            "ncteacher1".into(),
            "manual".into(),
            [0, 1723680000, 0],
            [1, 1723680000, 0]
        )]
    );
    // Merged into the live course, where the enrolment is active, it stays active (Moodle's rule), and the
    // report says so; a new course gets it suspended.
    let row = &r.json["matched"][0];
    assert_eq!(row["after"]["status"], 0);
    assert_eq!(row["outcomes"]["new"]["status"], 1);
    assert_eq!(row["cannot"][0]["kind"], "stays_active");
    let r = renew(&nc, &["--user", "nc01,nc06", "--start", "2025-01-01"]);
    assert_eq!(r.users(), ["nc01/manual", "nc01/self", "nc06/self"]);
    // 2025-01-01 00:00 in Paris.
    assert!(r.rows().iter().all(|row| row.3[1] == 1_735_686_000));
    // Combined: AND across filters.
    let r = renew(
        &nc,
        &[
            "--method",
            "manual",
            "--user",
            "nc01,nc06",
            "--set-status",
            "suspended",
        ],
    );
    assert_eq!(r.users(), ["nc01/manual"]);
}

#[test]
fn until_none_clears_an_end_date() {
    let r = renew(
        &fixture("noconvert.mbz"),
        &["--user", "nc05", "--until", "none"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.rows(),
        [(
            "nc05".into(),
            "manual".into(),
            [0, 1725148800, 1751241600],
            [0, 1725148800, 0]
        )]
    );
}

#[test]
fn group_filter() {
    let r = renew(
        &fixture("coh_group.mbz"),
        &[
            "--method",
            "manual",
            "--group",
            "Existing group B",
            "--until",
            "2027-08-31",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Existing group B holds two manual members (cgm01, cgm02) and cohort members (not manual).
    assert_eq!(r.users(), ["cgm01/manual", "cgm02/manual"]);
}

#[test]
fn nothing_matches_exits_zero_and_says_so() {
    let nc = fixture("noconvert.mbz");
    let r = renew(&nc, &["--user", "nobody", "--until", "2027-08-31"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("no enrolment matches"), "{}", r.stderr);
    assert!(r.stderr.contains("`nobody`"), "{}", r.stderr);
    assert_eq!(entries(&nc), entries(&r.output));
}

#[test]
fn results_without_access_are_warned() {
    let r = renew(
        &fixture("noconvert.mbz"),
        &["--user", "nc02", "--until", "2020-01-01"],
    );
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("before --now"), "{}", r.stderr);
    let r = renew(
        &fixture("noconvert.mbz"),
        &[
            "--user",
            "nc02",
            "--start",
            "2027-01-01",
            "--until",
            "2026-06-30",
        ],
    );
    assert!(r.stderr.contains("not after start"), "{}", r.stderr);
}

#[test]
fn usage_errors() {
    let nc = fixture("noconvert.mbz");
    let r = renew(&nc, &["--role", "student"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("at least one action"), "{}", r.stderr);
    let r = renew(&nc, &["--until", "someday"]);
    assert_eq!(r.code, 2);
    let r = renew(&nc, &["--status", "sleeping", "--until", "none"]);
    assert_eq!(r.code, 2);
}

#[test]
fn zip_and_idempotence() {
    let input = fixture("coh_basic.zip.mbz");
    let args = ["--method", "manual,self", "--until", "2027-08-31"];
    let a = renew(&input, &args);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let b = renew(&a.output, &args);
    assert_eq!(b.json["changed"], 0);
    assert_eq!(
        std::fs::read(&a.output).unwrap(),
        std::fs::read(&b.output).unwrap()
    );
}

#[test]
fn several_archives_and_folders_use_the_batch_driver() {
    let dir = tempdir();
    let fixtures = util::good_fixtures();
    let out = dir.path().join("out");
    let o = run(&[
        "renew",
        fixtures.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        "2027-08-31",
        "--timezone",
        "Europe/Paris",
        "--verify",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    for name in [
        "coh_basic.mbz",
        "coh_basic.zip.mbz",
        "coh_group.mbz",
        "db_sync.mbz",
        "db_sync.zip.mbz",
        "noconvert.mbz",
    ] {
        assert!(out.join(name).is_file(), "{name}: {err}");
    }
    assert!(err.contains("done: 6 renewed, 0 failed"), "{err}");
}
