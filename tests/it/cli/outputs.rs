//! convert and inspect outputs: summaries, untouched members, determinism, zip raw copy, dry run, JSON keys.

use super::*;

#[test]
fn convert_prints_the_resolved_instant_and_summary() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let o = convert(&fixture("coh_basic.mbz"), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    // Admin words: the last second of access in the zone, named; no epoch, no XML tag, plurals right.
    assert!(
        err.contains(
            "until: access through 31 Aug 2027 23:59:59 Paris (2027-08-31 included) (Europe/Paris"
        ),
        "{err}"
    );
    assert!(!err.contains(&UNTIL_EPOCH.to_string()), "{err}");
    assert!(!err.contains("<enrol"), "{err}");
    assert!(
        err.contains("converted into: the course's manual enrolments method"),
        "{err}"
    );
    assert!(
        err.contains("cohort sync (1 instance): 30 users converted (30 users ending 31 Aug 2027 23:59:59 Paris)"),
        "{err}"
    );
    assert!(err.contains("1 duplicate removed"), "{err}");
    assert!(!err.contains("stamped"), "{err}");
    // The next step: both restores, the chosen one (--target live, the default) first, with the setting.
    let next = err.split("next: restore ").nth(1).expect(&err);
    assert!(next.contains("merged into the live course"), "{err}");
    assert!(
        next.find("merged into the live course") < next.find("as a new course"),
        "{err}"
    );
    assert!(
        next.contains("\"Yes, but only if users are included\""),
        "{err}"
    );
    assert!(out.is_file());
}

#[test]
fn untouched_members_are_identical_and_index_is_fresh() {
    for name in ["coh_basic.mbz", "coh_group.mbz", "db_sync.mbz"] {
        let dir = tempdir();
        let out = dir.path().join("out.mbz");
        let o = convert(&fixture(name), &out, &[]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let before = entries(&fixture(name));
        let after = entries(&out);
        let names = |l: &[Entry]| l.iter().map(|e| e.path.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(&before),
            names(&after),
            "{name}: member list and order"
        );
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(
                (b.kind, b.mode, b.mtime),
                (a.kind, a.mode, a.mtime),
                "{name}: {}",
                b.path
            );
            if !REWRITABLE.contains(&b.path.as_str()) {
                assert!(b.data == a.data, "{name}: {} changed", b.path);
            }
        }
        // The index: first member, one line per other member, matching types, sizes and mtimes.
        assert_eq!(after[0].path, ".ARCHIVE_INDEX");
        let index = String::from_utf8(after[0].data.clone()).unwrap();
        let mut lines = index.lines();
        assert_eq!(
            lines.next().unwrap(),
            format!("Moodle archive file index. Count: {}", after.len() - 1)
        );
        for (line, e) in lines.zip(&after[1..]) {
            let expect = if e.kind == b'5' {
                format!("{}\td\t0\t?", e.path)
            } else {
                format!("{}\tf\t{}\t{}", e.path, e.data.len(), e.mtime)
            };
            assert_eq!(line, expect, "{name}");
        }
        assert!(index.ends_with('\n'));
        // Headers: POSIX ustar only.
        for h in tar_headers(&out) {
            assert_eq!(&h[257..265], b"ustar\x0000", "{name}: magic");
            assert!(
                !matches!(h[156], b'x' | b'g' | b'L' | b'K'),
                "{name}: extension record"
            );
        }
    }
}

#[test]
fn noop_round_trip_keeps_every_member() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let o = convert(&fixture("noconvert.mbz"), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing to convert"), "{}", stderr(&o));
    assert_eq!(entries(&fixture("noconvert.mbz")), entries(&out));
    assert_eq!(tar_headers(&fixture("noconvert.mbz")), tar_headers(&out));
}

#[test]
fn deterministic_and_idempotent() {
    for name in [
        "coh_basic.mbz",
        "coh_basic.zip.mbz",
        "db_sync.zip.mbz",
        "noconvert.mbz",
    ] {
        let dir = tempdir();
        let (a, b, c) = (
            dir.path().join("a.mbz"),
            dir.path().join("b.mbz"),
            dir.path().join("c.mbz"),
        );
        assert!(convert(&fixture(name), &a, &[]).status.success());
        assert!(convert(&fixture(name), &b, &[]).status.success());
        assert!(convert(&a, &c, &[]).status.success());
        let (a, b, c) = (
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            std::fs::read(c).unwrap(),
        );
        assert!(a == b, "{name}: two runs differ");
        assert!(a == c, "{name}: converting the output again changed it");
    }
}

#[test]
fn zip_output_raw_copies_untouched_members() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let o = convert(&fixture("db_sync.zip.mbz"), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(&out).unwrap().starts_with(b"PK\x03\x04"));
    let before = zip_raw(&fixture("db_sync.zip.mbz"));
    let after = zip_raw(&out);
    assert_eq!(before.len(), after.len());
    let mut rewritten = Vec::new();
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.0, a.0, "member order");
        if b != a {
            rewritten.push(b.0.clone());
        }
    }
    assert_eq!(rewritten, ["course/roles.xml", "course/enrolments.xml"]);
    let (tb, ta) = (entries(&fixture("db_sync.zip.mbz")), entries(&out));
    let ta = by_path(&ta);
    for e in &tb {
        if !REWRITABLE.contains(&e.path.as_str()) {
            assert_eq!(e.data, ta[e.path.as_str()].data);
        }
    }
}

#[test]
fn dry_run_writes_nothing_and_json_is_valid() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let o = convert(&fixture("db_sync.mbz"), &out, &["--dry-run", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["until"], UNTIL_EPOCH);
    assert_eq!(v["container"], "tgz");
    assert_eq!(v["totals"]["users_converted"], 40);
    assert_eq!(v["totals"]["suspended"], 5);
    assert_eq!(v["totals"]["stamped"], 38);
    assert_eq!(v["methods"][0]["plugin"], "database");
    assert_eq!(v["users"].as_array().unwrap().len(), 40);
}

#[test]
fn inspect_json_has_the_documented_keys() {
    let o = run(&[
        "inspect",
        fixture("coh_basic.zip.mbz").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["container"], "zip");
    assert_eq!(v["moodle_release"], "4.3 (Build: 20231009)");
    assert_eq!(v["course"]["shortname"], "COH_BASIC");
    let cohort = v["enrol_instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["plugin"] == "cohort")
        .unwrap();
    assert_eq!(cohort["users"], 30);
    assert_eq!(v["role_assignments_by_component"]["enrol_cohort"], 30);
    assert_eq!(v["role_assignments_by_component"][""], 3);
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("cohort"))
    );
}

/// `convert --json` and `renew --json` write every object's keys sorted, at every depth, in serde_json's pretty
/// layout: the outcome is the same bytes as its own JSON read back and written again through serde_json's map
/// (the per-user lists, the report's and the verification's, are written one element at a time, not as one
/// tree). The verification is `verify --against`'s, field for field.
#[test]
fn outcome_json_keys_are_sorted_at_every_depth() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let out_s = out.to_str().unwrap();
    let mut listed = std::collections::BTreeMap::<&str, usize>::new();
    for name in [
        "coh_basic.mbz",
        "coh_group.mbz",
        "db_sync.zip.mbz",
        "live/live2.mbz",
    ] {
        let input = fixture(name);
        let input_s = input.to_str().unwrap();
        let runs: [Vec<&str>; 2] = [
            vec![
                "convert",
                input_s,
                "-o",
                out_s,
                "--until",
                UNTIL,
                "--from",
                "cohort,database",
                "--force",
                "--json",
                "--verify",
            ],
            vec![
                "renew", input_s, "-o", out_s, "--until", UNTIL, "--force", "--json", "--verify",
            ],
        ];
        for args in runs {
            let o = run(&args);
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
            let text = String::from_utf8(o.stdout).unwrap();
            let tree: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                text,
                serde_json::to_string_pretty(&tree).unwrap() + "\n",
                "{args:?}"
            );
            let list = if args[0] == "convert" {
                "users"
            } else {
                "matched"
            };
            *listed.entry(list).or_default() += tree[list].as_array().map_or(0, Vec::len);
            *listed.entry("changes.users").or_default() += tree["verification"]["changes"]["users"]
                .as_array()
                .map_or(0, Vec::len);
            let verified = run(&["verify", out_s, "--against", input_s, "--json"]);
            let alone: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
            assert_eq!(tree["verification"], alone, "{args:?}");
        }
    }
    // The lists written one element at a time were there to check.
    assert!(listed.values().all(|&n| n > 0), "{listed:?}");
    // renew of a folder: every archive's outcome (or failure) written in turn, the same way.
    let folder = dir.path().join("in");
    std::fs::create_dir(&folder).unwrap();
    for name in ["coh_basic.mbz", "live/live2.mbz", "bad/truncated_gzip.mbz"] {
        let to = folder.join(name.replace('/', "_"));
        std::fs::copy(fixture(name), to).unwrap();
    }
    // And a page saved under a backup's name: no archive, a failed entry too.
    std::fs::write(folder.join("page.mbz"), "<html>").unwrap();
    let args = [
        "renew",
        folder.to_str().unwrap(),
        "--dry-run",
        "--set-status",
        "active",
        "--json",
    ];
    let o = run(&args);
    let text = String::from_utf8(o.stdout).unwrap();
    let tree: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(text, serde_json::to_string_pretty(&tree).unwrap() + "\n");
    let archives = tree["archives"].as_array().unwrap();
    assert_eq!(archives.len(), 4, "{text}");
    assert_eq!(
        archives.iter().filter(|a| a["error"].is_string()).count(),
        2,
        "{text}"
    );
    assert!(
        archives.iter().any(|a| a["error"]
            .as_str()
            .is_some_and(|e| e.contains("page.mbz` is not a Moodle backup"))),
        "{text}"
    );
    assert!(
        archives
            .iter()
            .any(|a| a["matched"].as_array().is_some_and(|m| !m.is_empty()))
    );
}
