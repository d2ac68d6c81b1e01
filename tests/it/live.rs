//! The promise where admins really restore: merged into the live course the backup came from, year after year
//! (issue 15). Every fixture is converted, then Moodle's restore is replayed with the library's one model of it
//! (`enrol::restore`, which cites `enrol_manual_plugin::restore_user_enrolment()`): what the archive holds, met
//! with the live course's manual enrolments (the backup's own), must be exactly what the report promises, for each
//! restore target. A two-year run then merges year 1 into the live course, backs that course up (the year-2
//! archive is built from the merged state) and converts it again with a later date: every promised end holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mbz_enrol::enrol::Values;
use mbz_enrol::enrol::model;
use mbz_enrol::enrol::restore::{self, Target};

use crate::util::{self, root, run, shared, tempdir, with_member};

const UNTIL_1: &str = "2027-08-31";
const UNTIL_2: &str = "2028-08-31";

/// The manual enrolments of the first manual instance (what a merge meets, and where the converted ones go),
/// and whether that instance is enabled.
fn manual_of(archive: &Path) -> (BTreeMap<i64, Values>, bool) {
    let members = util::entries(archive);
    let Some(x) = members
        .iter()
        .find(|m| m.path == "course/enrolments.xml")
        .map(|m| m.data.clone())
    else {
        return (BTreeMap::new(), true);
    };
    let instances = model::parse_enrolments(&x).unwrap();
    let Some((_, manual)) = model::first_manual(&instances, &x) else {
        return (BTreeMap::new(), true);
    };
    let mut out = BTreeMap::new();
    for e in &manual.enrolments {
        if let (Some(u), Some(v)) = (e.int(&x, "userid"), e.values_if_present(&x)) {
            out.entry(u).or_insert(v);
        }
    }
    (out, manual.status(&x) == 0)
}

fn values(j: &serde_json::Value) -> Values {
    Values::new(
        j["status"].as_i64().unwrap(),
        j["timestart"].as_i64().unwrap(),
        j["timeend"].as_i64().unwrap(),
    )
}

/// `convert --json` of `input` into `out` until `until`; the report.
fn convert(input: &Path, out: &Path, until: &str, target: &str) -> serde_json::Value {
    try_convert(input, out, until, target).unwrap_or_else(|e| panic!("{}: {e}", input.display()))
}

/// [`convert`], or its stderr when the tool refuses the archive (exit 2).
fn try_convert(
    input: &Path,
    out: &Path,
    until: &str,
    target: &str,
) -> Result<serde_json::Value, String> {
    let o = run(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        until,
        "--timezone",
        "Europe/Paris",
        "--from",
        "database,cohort,meta",
        "--target",
        target,
        "--json",
        "--force",
    ]);
    match o.status.code() {
        Some(0) => Ok(serde_json::from_slice(&o.stdout).unwrap()),
        Some(2) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
        c => panic!(
            "{}: exit {c:?}: {}",
            input.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

/// Replays Moodle's restore of `output` (converted from `input`) for every promised user; returns what the live
/// merge stores, by user.
fn replay(input: &Path, output: &Path, report: &serde_json::Value) -> BTreeMap<i64, Values> {
    let (live, live_enabled) = manual_of(input);
    let (written, _) = manual_of(output);
    let target = report["restore_target"].as_str().unwrap();
    let mut stored = BTreeMap::new();
    for u in report["users"].as_array().unwrap() {
        let id = u["userid"].as_i64().unwrap();
        let archive = written[&id];
        assert_eq!(
            values(&u["archive"]),
            archive,
            "user {id}: the report names what the archive holds"
        );
        // The holder is enabled after conversion; the live course's manual method is as backed up.
        let merged = restore::manual_restore(live.get(&id).copied(), archive, true, live_enabled);
        let outcomes = &u["outcomes"];
        assert_eq!(
            values(&outcomes["live"]),
            merged.values,
            "user {id}: live merge"
        );
        assert_eq!(values(&outcomes["new"]), archive, "user {id}: new course");
        assert_eq!(
            values(&outcomes["existing"]),
            restore::manual_restore(None, archive, true, true).values,
            "user {id}: existing course"
        );
        let promised = match target {
            "live" => merged.values,
            _ => archive,
        };
        assert_eq!(
            values(u),
            promised,
            "user {id}: the per-user values promise the {target} outcome"
        );
        // Whatever the live merge does not store of the conversion's result is said, per user.
        if u["stamped"].as_bool().unwrap() && merged.values.status == 0 {
            let cannot = u["cannot"].as_array().unwrap();
            let end = report["until"].as_i64().unwrap();
            assert!(
                merged.values.timeend == end
                    || cannot
                        .iter()
                        .any(|c| c["kind"] == "stays_unlimited" || c["kind"] == "keeps_later_end"),
                "user {id}: stamped, stores {:?} in the live course, and the report says nothing",
                merged.values
            );
        }
        stored.insert(id, merged.values);
    }
    stored
}

/// Every archive with enrolments to convert: the project's fixtures and the shared ones.
fn archives() -> Vec<PathBuf> {
    let mut out = util::mbz_files(&root().join("fixtures"));
    out.retain(|p| !p.starts_with(root().join("fixtures/bad")));
    for sub in ["moodle43", "real"] {
        if let Some(dir) = shared(sub) {
            out.extend(util::mbz_files(&dir));
        }
    }
    out
}

#[test]
fn each_restore_target_stores_what_the_report_promises_on_every_fixture() {
    let dir = tempdir();
    let mut users = 0;
    for input in archives() {
        for target in ["live", "new", "existing"] {
            let out = dir.path().join("out.mbz");
            // Archives the tool refuses (issue 16's shapes) have nothing to replay.
            let Ok(report) = try_convert(&input, &out, UNTIL_1, target) else {
                continue;
            };
            if report["users"].as_array().is_none_or(Vec::is_empty) {
                continue;
            }
            users += replay(&input, &out, &report).len();
        }
    }
    assert!(users > 0, "no fixture converted anyone");
}

/// The live course after merging `output`: the backup `input` with its first manual instance holding what the
/// merge stored (`stored`), as the next year's backup of that course would.
fn merged_course(input: &Path, stored: &BTreeMap<i64, Values>, next: &Path) {
    with_member(input, "course/enrolments.xml", |x| merged(x, stored), next);
}

/// `course/enrolments.xml` (`x`) with its first manual instance holding `stored`.
fn merged(x: &str, stored: &BTreeMap<i64, Values>) -> String {
    // The first manual <enrol> block.
    let start = x.find("<enrol>manual</enrol>").unwrap();
    let open = x[..start].rfind("<enrol id=").unwrap();
    // Its closing tag, on a line of its own (the block holds `<enrol>manual</enrol>` too).
    let close = start + x[start..].find("\n    </enrol>").unwrap();
    let mut block = x[open..close].to_owned();
    for (user, v) in stored {
        let set = |ue: &str| {
            let mut ue = ue.to_owned();
            for (tag, value) in [
                ("status", v.status),
                ("timestart", v.timestart),
                ("timeend", v.timeend),
            ] {
                let a = ue.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
                let b = a + ue[a..].find('<').unwrap();
                ue.replace_range(a..b, &value.to_string());
            }
            ue
        };
        let key = format!("<userid>{user}</userid>");
        match block.find(&key) {
            Some(at) => {
                let a = block[..at].rfind("<enrolment ").unwrap();
                let b = at + block[at..].find("</enrolment>").unwrap();
                let new = set(&block[a..b]);
                block.replace_range(a..b, &new);
            }
            None => {
                let row = set(&format!(
                    "<enrolment id=\"{}\">\n            <status>0</status>\n            {key}\n            \
                     <timestart>0</timestart>\n            <timeend>0</timeend>\n            \
                     <modifierid>2</modifierid>\n            <timemodified>1700000000</timemodified>\n          \
                     </enrolment>\n          ",
                    900_000 + user
                ));
                match block.find("</user_enrolments>") {
                    Some(at) => block.insert_str(at, &row),
                    // An instance without enrolments has no <user_enrolments> at all.
                    None => block.push_str(&format!(
                        "  <user_enrolments>\n          {row}</user_enrolments>\n    "
                    )),
                }
            }
        }
    }
    format!("{}{block}{}", &x[..open], &x[close..])
}

/// Year 1: `input` converted until [`UNTIL_1`] and merged into its live course (Moodle's rule, replayed); returns
/// the live course's manual enrolments afterwards and its backup, written in `dir` (the year-2 archive).
fn year_one_merged(input: &Path, dir: &Path) -> (BTreeMap<i64, Values>, PathBuf) {
    let out1 = dir.join("year1.mbz");
    let r1 = convert(input, &out1, UNTIL_1, "live");
    let mut live = manual_of(input).0;
    live.extend(replay(input, &out1, &r1));
    let backup2 = dir.join("backup2.mbz");
    merged_course(input, &live, &backup2);
    (live, backup2)
}

#[test]
fn two_years_merged_into_the_live_course_extend_every_promised_end() {
    let dir = tempdir();
    let mut checked = 0;
    let mut inputs: Vec<PathBuf> = [
        "coh_basic.mbz",
        "coh_group.mbz",
        "db_sync.mbz",
        "live/live2.mbz",
    ]
    .iter()
    .map(|f| root().join("fixtures").join(f))
    .collect();
    if let Some(dir) = shared("moodle43") {
        inputs.push(dir.join("full.mbz"));
    }
    for input in inputs {
        // Year 1: converted, merged into the live course; year 2: the merged course backed up, converted with a
        // later date, merged again.
        let (live, backup2) = year_one_merged(&input, dir.path());
        assert_eq!(
            manual_of(&backup2).0,
            live,
            "{}: the merged course",
            input.display()
        );
        let out2 = dir.path().join("year2.mbz");
        let r2 = convert(&backup2, &out2, UNTIL_2, "live");
        let stored2 = replay(&backup2, &out2, &r2);
        let until2 = r2["until"].as_i64().unwrap();
        for u in r2["users"].as_array().unwrap() {
            let id = u["userid"].as_i64().unwrap();
            let year1 = live[&id];
            // Every user whose live enrolment (what year 1 left) is active and ends before the year-2 date, and
            // who is stamped again, gets the year-2 end in the live course.
            if u["stamped"].as_bool().unwrap()
                && year1.status == 0
                && year1.timeend != 0
                && year1.timeend < until2
            {
                assert_eq!(
                    stored2[&id],
                    Values::new(0, year1.timestart, until2),
                    "{}: user {id} in year 2",
                    input.display()
                );
                // A new course gets the same, within one second of the start.
                let new = values(&u["outcomes"]["new"]);
                assert!(new.timestart - year1.timestart <= 1 && new.timeend == until2);
                checked += 1;
            }
        }
        // Converting the converted archive changes nothing (year 2 as much as year 1).
        let again = dir.path().join("again.mbz");
        let r3 = convert(&out2, &again, UNTIL_2, "live");
        assert!(r3["users"].as_array().is_none_or(Vec::is_empty));
        assert_eq!(
            std::fs::read(&again).unwrap(),
            std::fs::read(&out2).unwrap()
        );
    }
    assert!(checked > 50, "only {checked} users extended in year 2");
}

#[test]
fn the_merge_model_covers_every_branch_of_moodles_rule() {
    // Each case: live enrolment, archive enrolment, archive instance enabled, live instance enabled -> stored.
    let v = Values::new;
    let cases = [
        (None, v(0, 5, 9), true, true, v(0, 5, 9)), // no live enrolment: written
        (Some(v(1, 1, 2)), v(0, 5, 9), true, true, v(0, 5, 9)), // live suspended: overwritten
        (None, v(0, 5, 9), false, true, v(1, 5, 9)), // archive instance disabled: suspended
        (Some(v(0, 1, 2)), v(1, 5, 9), true, true, v(0, 1, 2)), // live active, archive suspended: kept
        (Some(v(0, 1, 5)), v(0, 3, 9), true, true, v(0, 1, 9)), // later archive start: later end
        (Some(v(0, 3, 5)), v(0, 3, 9), true, true, v(0, 3, 5)), // equal start: nothing
        (Some(v(0, 3, 5)), v(0, 1, 9), true, true, v(0, 3, 5)), // earlier start: nothing
        (Some(v(0, 3, 5)), v(0, 1, 0), true, true, v(0, 1, 0)), // archive unlimited
        (Some(v(0, 3, 0)), v(0, 5, 9), true, true, v(0, 3, 0)), // live unlimited: kept
    ];
    for (live, archive, a_on, l_on, want) in cases {
        assert_eq!(
            restore::manual_restore(live, archive, a_on, l_on).values,
            want,
            "{live:?} {archive:?}"
        );
    }
    // The shaped start turns the "equal start" case into an extension, and only that.
    let shaped = restore::shape(Some(v(0, 3, 5)), v(0, 3, 9));
    assert_eq!(shaped, v(0, 4, 9));
    assert_eq!(
        restore::manual_restore(Some(v(0, 3, 5)), shaped, true, true).values,
        v(0, 3, 9)
    );
    assert_eq!(Target::default(), Target::Live);
}

#[test]
fn verify_accepts_the_shaped_start_and_nothing_else() {
    let dir = tempdir();
    let input = root().join("fixtures/coh_basic.mbz");
    let (_, backup2) = year_one_merged(&input, dir.path());
    let out2 = dir.path().join("year2.mbz");
    let r2 = convert(&backup2, &out2, UNTIL_2, "live");
    assert!(r2["shaped"].as_u64().unwrap() > 0);
    let verify = |archive: &Path| {
        run(&[
            "verify",
            archive.to_str().unwrap(),
            "--against",
            backup2.to_str().unwrap(),
        ])
    };
    let o = verify(&out2);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // One shaped start moved one more second: not a start the conversion can write.
    let shaped = r2["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["archive"]["timestart"] != u["live_before"]["timestart"])
        .unwrap();
    let (id, start) = (
        shaped["userid"].as_i64().unwrap(),
        shaped["archive"]["timestart"].as_i64().unwrap(),
    );
    let bad = dir.path().join("bad.mbz");
    let tamper = |x: &str| {
        let at = x.find(&format!("<userid>{id}</userid>")).unwrap();
        let from = at + x[at..].find("<timestart>").unwrap();
        let old = format!("<timestart>{start}</timestart>");
        assert!(x[from..].starts_with(&old));
        format!(
            "{}<timestart>{}</timestart>{}",
            &x[..from],
            start + 1,
            &x[from + old.len()..]
        )
    };
    with_member(&out2, "course/enrolments.xml", tamper, &bad);
    let o = verify(&bad);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("user {id}")) && text.contains("starts at"),
        "{text}"
    );
}

#[test]
fn into_a_fresh_backup_of_the_live_course() {
    // Year 1 merged; the archive converted for year 2 is the OLD backup (taken before that merge), and --into
    // gives the live course as it is now: the merge meets the year-1 enrolments all the same.
    let dir = tempdir();
    let input = root().join("fixtures/coh_basic.mbz");
    let (live, fresh) = year_one_merged(&input, dir.path());
    let out2 = dir.path().join("year2.mbz");
    let o = run(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        out2.to_str().unwrap(),
        "--until",
        UNTIL_2,
        "--timezone",
        "Europe/Paris",
        "--into",
        fresh.to_str().unwrap(),
        "--json",
        "--verify",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r2: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let until2 = r2["until"].as_i64().unwrap();
    let (written, _) = manual_of(&out2);
    for u in r2["users"].as_array().unwrap() {
        let id = u["userid"].as_i64().unwrap();
        let Some(&e) = live.get(&id) else { continue };
        let stored = restore::manual_restore(Some(e), written[&id], true, true).values;
        assert_eq!(values(u), stored, "user {id}");
        if u["stamped"].as_bool().unwrap() && e.status == 0 && e.timeend != 0 && e.timeend < until2
        {
            assert_eq!(stored.timeend, until2, "user {id}");
        }
    }
    // Another course is refused.
    let o = run(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        dir.path().join("x.mbz").to_str().unwrap(),
        "--until",
        UNTIL_2,
        "--into",
        root().join("fixtures/db_sync.mbz").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not the archive's"));
}

#[test]
fn welcome_message_warned_and_written_off_on_request() {
    // coh_basic with its manual instance sending the Moodle 4.4+ course welcome message (customint1 = 1).
    let dir = tempdir();
    let input = dir.path().join("welcome.mbz");
    let welcome = |x: &str| {
        let manual = x.find("<enrol>manual</enrol>").unwrap();
        let at = manual + x[manual..].find("<customint1>").unwrap();
        let end = at + x[at..].find("</customint1>").unwrap();
        format!("{}<customint1>1{}", &x[..at], &x[end..])
    };
    let fixture = root().join("fixtures/coh_basic.mbz");
    with_member(&fixture, "course/enrolments.xml", welcome, &input);
    let customint1 = |archive: &Path| {
        let x = util::entries(archive)
            .into_iter()
            .find(|m| m.path == "course/enrolments.xml")
            .unwrap()
            .data;
        let x = String::from_utf8(x).unwrap();
        let manual = x.find("<enrol>manual</enrol>").unwrap();
        let at = manual + x[manual..].find("<customint1>").unwrap() + "<customint1>".len();
        x[at..at + x[at..].find('<').unwrap()].to_owned()
    };
    for (extra, want) in [(None, "1"), (Some("--welcome-off"), "0")] {
        let out = dir.path().join("out.mbz");
        let mut args = vec![
            "convert",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            UNTIL_1,
            "--force",
            "--verify",
        ];
        args.extend(extra);
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        assert!(
            err.contains("welcome message") && err.contains("mails 30 user(s)"),
            "{err}"
        );
        assert_eq!(customint1(&out), want);
    }
}

#[test]
fn inspect_names_what_a_merge_back_cannot_end() {
    let o = run(&[
        "inspect",
        root().join("fixtures/live/live2.mbz").to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("2 active manual enrolment(s) without an end")
            && out.contains("unlimited in the live course"),
        "{out}"
    );
}
