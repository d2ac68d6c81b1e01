//! Backups written by real Moodle, Totara and IOMAD sites and published in public repositories
//! (`../shared/fixtures/real`, never committed here): every one converts, or fails with a clear error, and
//! the output keeps every untouched member.

use std::path::Path;

use crate::util::{self, entries, run, tar_headers, tempdir};

/// Every plugin seen in these archives that is not manual/self/guest, so every converter path runs.
const FROM: &str = "database,cohort,meta,lti,ldapteluq,license,autoenrol,apply";
const REWRITABLE: &[&str] = &[
    "course/enrolments.xml",
    "course/roles.xml",
    "groups.xml",
    ".ARCHIVE_INDEX",
];

fn convert(input: &Path, output: &Path) -> std::process::Output {
    let mut o = convert_args(input, output);
    o.push("--verify");
    run(&o)
}

/// [`convert`] without `--verify` (the idempotence check compares bytes).
fn convert_plain(input: &Path, output: &Path) -> std::process::Output {
    run(&convert_args(input, output))
}

fn convert_args<'a>(input: &'a Path, output: &'a Path) -> Vec<&'a str> {
    vec![
        "convert",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--until",
        "2027-08-31",
        "--timezone",
        "Europe/Paris",
        "--from",
        FROM,
    ]
}

/// No untouched real backup fails `verify` (warnings are fine: restore skips or misreports, it does not fail).
#[test]
fn real_backups_pass_verify() {
    let Some(dir) = util::shared("real") else {
        return;
    };
    let mut failures = Vec::new();
    let mut warned = 0;
    for input in util::mbz_files(&dir) {
        let o = run(&["verify", input.to_str().unwrap(), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        if o.status.code() != Some(0) || v["passed"] != true {
            failures.push(format!("{name}: {v:#}"));
        }
        let checks = v["checks"].as_array().cloned().unwrap_or_default();
        if checks.iter().any(|c| c["severity"] == "warning") {
            warned += 1;
        }
        assert!(
            checks
                .iter()
                .all(|c| (c["severity"] == "error") == (c["passed"] == false)),
            "{name}: an error that passes or a warning that fails: {v:#}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The corpus holds stale indexes, users missing from users.xml and pax records: they warn.
    assert!(warned >= 3, "only {warned} archives warned");
}

#[test]
fn real_backups_convert_cleanly() {
    let Some(dir) = util::shared("real") else {
        return;
    };
    let tmp = tempdir();
    let files = util::mbz_files(&dir);
    assert!(
        files.len() >= 30,
        "expected the real corpus, found {}",
        files.len()
    );
    // Two workers, so this long test does not finish alone on one core after the others.
    let failures: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let (files, tmp) = (&files, tmp.path());
                s.spawn(move || {
                    files
                        .iter()
                        .skip(w)
                        .step_by(2)
                        .flat_map(|input| converts_cleanly(input, tmp))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One real backup converted (with `--verify`) into `tmp`: what is wrong with it, if anything.
fn converts_cleanly(input: &Path, tmp: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let name = input.file_name().unwrap().to_string_lossy().into_owned();
    let out = tmp.join(&name);
    let o = convert(input, &out);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    if !o.status.success() {
        failures.push(format!("{name}: exit {:?}: {err}", o.status));
        return failures;
    }
    // `./`-prefixed archives (`tar -C dir .`): Moodle's extractor trims the prefix, and the output is written
    // in Moodle's root layout.
    let bare = |e: &util::Entry| {
        let mut e = e.clone();
        while let Some(p) = e.path.strip_prefix("./") {
            e.path = p.to_owned();
        }
        e
    };
    let before: Vec<util::Entry> = entries(input)
        .iter()
        .map(bare)
        .filter(|e| !e.path.is_empty() && e.path != ".")
        .collect();
    let after = entries(&out);
    if after.iter().any(|e| e.path.starts_with("./")) {
        failures.push(format!("{name}: `./` names in the output"));
    }
    let names = |l: &[util::Entry]| {
        l.iter()
            .filter(|e| e.path != ".ARCHIVE_INDEX")
            .map(|e| e.path.clone())
            .collect::<Vec<_>>()
    };
    if names(&before) != names(&after) {
        failures.push(format!("{name}: member list changed"));
    }
    let after_by: std::collections::BTreeMap<_, _> =
        after.iter().map(|e| (e.path.as_str(), e)).collect();
    for b in &before {
        if REWRITABLE.contains(&b.path.as_str()) {
            return failures;
        }
        match after_by.get(b.path.as_str()) {
            Some(a) if a.data == b.data => {}
            _ => failures.push(format!("{name}: member {} changed", b.path)),
        }
    }
    if std::fs::read(input).unwrap()[..2] == [0x1f, 0x8b] {
        for h in tar_headers(&out) {
            if &h[257..265] != b"ustar\x0000" || matches!(h[156], b'x' | b'g' | b'L' | b'K') {
                failures.push(format!("{name}: non-ustar header in output"));
                break;
            }
        }
        // A fresh index first, as Moodle's own backups have, whether or not the input had one.
        if after[0].path != ".ARCHIVE_INDEX" {
            failures.push(format!("{name}: no .ARCHIVE_INDEX first"));
        }
    }
    // Converting again changes nothing.
    let again = tmp.join(format!("again-{name}"));
    let o2 = convert_plain(&out, &again);
    if !o2.status.success() || std::fs::read(&again).unwrap() != std::fs::read(&out).unwrap() {
        failures.push(format!("{name}: second conversion is not identical"));
    }
    failures
}

#[test]
fn real_lti_instance_loses_its_tool_when_converted() {
    let Some(dir) = util::shared("real") else {
        return;
    };
    let input = dir.join("moodle39-tgz-nousers-lti-enrol.mbz");
    let tmp = tempdir();
    let out = tmp.path().join("out.mbz");
    let o = convert(&input, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = entries(&input);
    let after = entries(&out);
    let get = |l: &[util::Entry]| {
        String::from_utf8(
            l.iter()
                .find(|e| e.path == "course/enrolments.xml")
                .unwrap()
                .data
                .clone(),
        )
        .unwrap()
    };
    assert!(get(&before).contains("<tool id="));
    let x = get(&after);
    assert!(!x.contains("<tool id="), "{x}");
    assert!(!x.contains("<enrol>lti</enrol>"), "{x}");
}

#[test]
fn multi_block_outputs_are_deterministic_across_runs() {
    // A multi-megabyte archive is compressed in parallel blocks by reused compressors: the bytes must never
    // depend on which thread compressed which block before (a reset compressor keeps stale window bytes).
    let Some(dir) = util::shared("real") else {
        return;
    };
    let input = dir.join("moodle40-tgz-nousers-meta-3mb.mbz");
    let tmp = tempdir();
    let mut digests = std::collections::BTreeSet::new();
    for i in 0..6 {
        let out = tmp.path().join(format!("o{i}.mbz"));
        assert!(convert(&input, &out).status.success());
        digests.insert(std::fs::read(&out).unwrap());
    }
    assert_eq!(digests.len(), 1, "outputs differ between runs");
}

#[test]
fn a_backup_made_without_users_warns_when_converted_as_inspect_does() {
    let Some(dir) = util::shared("real") else {
        return;
    };
    let input = dir.join("moodle40-tgz-nousers-meta-3mb.mbz");
    let warning = "the backup was made without users: it holds no user enrolments to convert";
    let o = run(&["inspect", input.to_str().unwrap()]);
    assert!(o.status.success());
    let shown =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(shown.contains(warning), "{shown}");
    let tmp = tempdir();
    let out = tmp.path().join("out.mbz");
    let o = convert(&input, &out);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains(&format!("warning: {warning}")), "{err}");
    // And in --json, first among the warnings.
    let o = run(&[
        "convert",
        input.to_str().unwrap(),
        "--dry-run",
        "--json",
        "--until",
        "2027-08-31",
        "--from",
        FROM,
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["warnings"][0], warning, "{v}");
    // A backup with users does not get it.
    let o = convert(
        &dir.join("moodle40-tgz-users4-meta.mbz"),
        &tmp.path().join("u.mbz"),
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("without users"));
}
