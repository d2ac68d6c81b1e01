//! The command line on the fixtures shipped in `fixtures/` (these run on a fresh clone too): exit codes,
//! messages, archive guarantees.

use std::path::{Path, PathBuf};

use crate::util::{self, Entry, entries, listing, run, tar_headers, tempdir, zip_raw};

const UNTIL: &str = "2027-08-31";
const UNTIL_EPOCH: i64 = 1_819_749_600; // 2027-09-01T00:00:00+02:00
const REWRITABLE: &[&str] = &[
    "course/enrolments.xml",
    "course/roles.xml",
    "groups.xml",
    ".ARCHIVE_INDEX",
];

fn fixture(name: &str) -> PathBuf {
    util::root().join("fixtures").join(name)
}

fn convert(input: &Path, output: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "convert",
        input.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
        "--until",
        UNTIL,
        "--timezone",
        "Europe/Paris",
        "--from",
        "cohort,database,meta",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn by_path(list: &[Entry]) -> std::collections::BTreeMap<&str, &Entry> {
    list.iter().map(|e| (e.path.as_str(), e)).collect()
}

#[test]
fn convert_prints_the_resolved_instant_and_summary() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let o = convert(&fixture("coh_basic.mbz"), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&UNTIL_EPOCH.to_string()), "{err}");
    assert!(err.contains("2027-09-01T00:00:00+02:00"), "{err}");
    assert!(err.contains("30 users converted"), "{err}");
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

/// Every error: exit 2, a message naming the file, and nothing left in the output folder.
fn assert_fails(args: &[&str], dir: &Path, needle: &str) {
    let o = run(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(needle),
        "{args:?}: expected `{needle}` in: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let left: Vec<String> = listing(dir)
        .into_iter()
        .filter(|n| n != "input.mbz" && n != "in.txt")
        .collect();
    assert!(left.is_empty(), "{args:?} left {left:?}");
}

#[test]
fn errors_exit_2_name_the_archive_and_leave_nothing() {
    let dir = tempdir();
    let d = dir.path();
    let out = d.join("out.mbz");
    let out_s = out.to_str().unwrap();
    let text = d.join("in.txt");
    std::fs::write(&text, "hello").unwrap();
    assert_fails(
        &[
            "convert",
            text.to_str().unwrap(),
            "-o",
            out_s,
            "--until",
            UNTIL,
        ],
        d,
        "in.txt` is not a Moodle backup",
    );
    // A truncated gzip stream.
    let input = d.join("input.mbz");
    let bytes = std::fs::read(fixture("coh_basic.mbz")).unwrap();
    std::fs::write(&input, &bytes[..bytes.len() / 2]).unwrap();
    let in_s = input.to_str().unwrap();
    assert_fails(
        &["convert", in_s, "-o", out_s, "--until", UNTIL],
        d,
        "input.mbz",
    );
    // A corrupt deflate stream after a valid start.
    let mut bad = bytes.clone();
    let n = bad.len();
    for b in &mut bad[n / 3..n / 3 + 64] {
        *b ^= 0x5a;
    }
    std::fs::write(&input, &bad).unwrap();
    assert_fails(
        &["convert", in_s, "-o", out_s, "--until", UNTIL],
        d,
        "input.mbz",
    );
    // Output equal to input: refused, input untouched.
    std::fs::write(&input, &bytes).unwrap();
    assert_fails(
        &["convert", in_s, "-o", in_s, "--until", UNTIL],
        d,
        "is the input",
    );
    assert_eq!(std::fs::read(&input).unwrap(), bytes);
    let dotted = format!("{}/./input.mbz", d.display());
    assert_fails(
        &["convert", in_s, "-o", &dotted, "--until", UNTIL],
        d,
        "is the input",
    );
    // Usage errors.
    assert_fails(&["convert", in_s, "--until", UNTIL], d, "-o OUT");
    assert_fails(
        &["convert", in_s, "-o", out_s, "--until", "31/08/2027"],
        d,
        "31/08/2027",
    );
    assert_fails(
        &[
            "convert",
            in_s,
            "-o",
            out_s,
            "--until",
            "2027-03-28T02:30",
            "--timezone",
            "Europe/Paris",
        ],
        d,
        "does not exist",
    );
    assert_fails(
        &[
            "convert",
            in_s,
            "-o",
            out_s,
            "--until",
            UNTIL,
            "--timezone",
            "Mars/Olympus",
        ],
        d,
        "Mars/Olympus",
    );
    assert_fails(
        &[
            "convert", in_s, "-o", out_s, "--until", UNTIL, "--from", "manual",
        ],
        d,
        "manual",
    );
    let missing = d.join("nope").join("out.mbz");
    assert_fails(
        &[
            "convert",
            in_s,
            "-o",
            missing.to_str().unwrap(),
            "--until",
            UNTIL,
        ],
        d,
        "nope",
    );
    assert_fails(
        &["inspect", d.join("absent.mbz").to_str().unwrap()],
        d,
        "absent.mbz",
    );
}

#[cfg(unix)]
#[test]
fn output_links_and_devices_are_refused() {
    let dir = tempdir();
    let d = dir.path();
    let input = d.join("input.mbz");
    std::fs::copy(fixture("coh_basic.mbz"), &input).unwrap();
    let link = d.join("link.mbz");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let o = run(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        link.to_str().unwrap(),
        "--until",
        UNTIL,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&input).unwrap(),
        std::fs::read(fixture("coh_basic.mbz")).unwrap()
    );
    let o = run(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        "/dev/null",
        "--until",
        UNTIL,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn past_until_warns() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let o = run(&[
        "convert",
        fixture("coh_basic.mbz").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        "2020-01-01",
    ]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("in the past"), "{}", stderr(&o));
}

#[test]
fn readme_quick_start_has_two_commands_on_a_shipped_fixture() {
    let readme = std::fs::read_to_string(util::root().join("README.md")).unwrap();
    let start = readme.find("## Quick start").expect("Quick start section");
    let block = &readme[start..];
    let open = block.find("```sh\n").unwrap() + 6;
    let close = block[open..].find("```").unwrap();
    let cmds: Vec<&str> = block[open..open + close]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    assert!(cmds[0].contains(" convert fixtures/"), "{}", cmds[0]);
    let file = cmds[0]
        .split_whitespace()
        .find(|w| w.starts_with("fixtures/"))
        .unwrap();
    assert!(util::root().join(file).is_file(), "{file}");
    let ci = std::fs::read_to_string(util::root().join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == cmds[1]),
        "CI must run `{}`",
        cmds[1]
    );
}

#[test]
fn help_lists_examples_and_exit_codes_for_every_subcommand() {
    let top = String::from_utf8(run(&["--help"]).stdout).unwrap();
    assert!(top.contains("Exit codes:") && top.contains("130"), "{top}");
    for sub in ["convert", "batch", "plan", "renew", "verify", "inspect"] {
        let o = run(&[sub, "--help"]);
        assert!(o.status.success(), "{sub}");
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(
            text.contains("Examples:"),
            "{sub} --help has no examples:\n{text}"
        );
        assert!(text.contains(&format!("mbz-enrol {sub} ")), "{sub}: {text}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert!(o.status.success() && o.stdout.len() > 500, "{shell}");
    }
    let man = String::from_utf8(run(&["manpage"]).stdout).unwrap();
    assert!(man.contains(".TH mbz-enrol 1"), "{man}");
}

#[test]
fn errors_say_what_to_do_next() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let o_str = out.to_str().unwrap();
    // A folder given to convert: suggest batch.
    let o = run(&[
        "convert",
        util::root().join("fixtures").to_str().unwrap(),
        "-o",
        o_str,
        "--until",
        UNTIL,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("mbz-enrol batch"), "{}", stderr(&o));
    // Missing --until: clap names it.
    let o = run(&[
        "convert",
        fixture("coh_basic.mbz").to_str().unwrap(),
        "-o",
        o_str,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--until"), "{}", stderr(&o));
    // A misspelt zone: the closest IANA name.
    let o = run(&[
        "convert",
        fixture("coh_basic.mbz").to_str().unwrap(),
        "-o",
        o_str,
        "--until",
        UNTIL,
        "--timezone",
        "Europe/Pariss",
    ]);
    assert!(
        stderr(&o).contains("did you mean Europe/Paris"),
        "{}",
        stderr(&o)
    );
    // An unknown --from plugin: the ones the archive has.
    let o = run(&[
        "convert",
        fixture("noconvert.mbz").to_str().unwrap(),
        "--dry-run",
        "--until",
        UNTIL,
        "--from",
        "ldap",
    ]);
    assert!(
        stderr(&o).contains("it has: guest, manual, self"),
        "{}",
        stderr(&o)
    );
    // An existing output: --force.
    std::fs::write(&out, "old").unwrap();
    let o = run(&[
        "convert",
        fixture("coh_basic.mbz").to_str().unwrap(),
        "-o",
        o_str,
        "--until",
        UNTIL,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"old");
    let o = run(&[
        "convert",
        fixture("coh_basic.mbz").to_str().unwrap(),
        "-o",
        o_str,
        "--until",
        UNTIL,
        "--force",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A zip that is not a Moodle backup: say what it holds.
    let zip = dir.path().join("photos.mbz");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
        z.start_file("holiday.jpg", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, b"jpeg").unwrap();
        z.finish().unwrap();
    }
    let o = run(&["inspect", zip.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("holiday.jpg"), "{}", stderr(&o));
}

#[test]
fn quiet_prints_nothing_and_verbose_lists_users() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let o = run(&[
        "convert",
        fixture("coh_basic.mbz").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        UNTIL,
        "--quiet",
    ]);
    assert!(o.status.success());
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    let o = run(&[
        "convert",
        fixture("db_sync.mbz").to_str().unwrap(),
        "--dry-run",
        "--until",
        UNTIL,
        "--verbose",
    ]);
    assert!(o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("users:") && err.contains("editingteacher") && err.contains("(stamped)"),
        "{err}"
    );
    // Errors still show with --quiet.
    let fresh = dir.path().join("fresh.mbz");
    let o = run(&[
        "convert",
        "/nonexistent.mbz",
        "-o",
        fresh.to_str().unwrap(),
        "--until",
        UNTIL,
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nonexistent.mbz"));
}

#[test]
fn help_and_error_snapshots() {
    let help = |args: &[&str]| String::from_utf8(run(args).stdout).unwrap();
    util::golden("help.txt", &help(&["--help"]));
    for sub in ["convert", "batch", "plan", "renew", "verify", "inspect"] {
        util::golden(&format!("help-{sub}.txt"), &help(&[sub, "--help"]));
    }
    // The error messages with hints, with temp paths replaced.
    let dir = tempdir();
    let d = dir.path().display().to_string();
    let out = dir.path().join("out.mbz");
    std::fs::write(&out, "old").unwrap();
    let o_str = out.to_str().unwrap();
    let cb = fixture("coh_basic.mbz");
    let text = dir.path().join("notes.mbz");
    std::fs::write(&text, "hello").unwrap();
    let mut all = String::new();
    for args in [
        vec![
            "convert",
            "$ROOT/fixtures",
            "-o",
            "$D/new.mbz",
            "--until",
            UNTIL,
        ],
        vec!["convert", cb.to_str().unwrap(), "-o", "$D/new.mbz"],
        vec![
            "convert",
            cb.to_str().unwrap(),
            "-o",
            "$D/new.mbz",
            "--until",
            UNTIL,
            "--timezone",
            "Europe/Pariss",
        ],
        vec![
            "convert",
            cb.to_str().unwrap(),
            "-o",
            o_str,
            "--until",
            UNTIL,
        ],
        vec![
            "convert",
            cb.to_str().unwrap(),
            "-o",
            cb.to_str().unwrap(),
            "--until",
            UNTIL,
        ],
        vec![
            "convert",
            text.to_str().unwrap(),
            "-o",
            "$D/new.mbz",
            "--until",
            UNTIL,
        ],
        vec![
            "convert",
            cb.to_str().unwrap(),
            "-o",
            "$D/new.mbz",
            "--until",
            "31/08/2027",
        ],
    ] {
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("$ROOT", &util::root().display().to_string())
                    .replace("$D", &d)
            })
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&refs);
        let err = stderr(&o)
            .lines()
            .filter(|l| {
                l.starts_with("mbz-enrol: error") || l.starts_with("error:") || l.starts_with("  ")
            })
            .collect::<Vec<_>>()
            .join("\n");
        all.push_str(&format!(
            "$ {}\n{}\nexit {:?}\n\n",
            refs[1..].join(" "),
            err,
            o.status.code()
        ));
    }
    util::golden("errors.txt", &all.replace(&d, "$TMP"));
}

#[test]
fn reading_limits_refuse_with_the_flag_to_raise_them() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let cb = fixture("coh_basic.mbz");
    let o = run(&[
        "convert",
        cb.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        UNTIL,
        "--max-xml-mib",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--max-xml-mib"), "{}", stderr(&o));
    let o = run(&[
        "convert",
        cb.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        UNTIL,
        "--max-total-gib",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--max-total-gib"), "{}", stderr(&o));
    assert!(listing(dir.path()).is_empty());
    let o = run(&[
        "convert",
        cb.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        UNTIL,
        "--max-xml-mib",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// inspect, plan and verify honour the same limits (exit 2, the option to raise named, nothing written).
#[test]
fn reading_limits_apply_to_inspect_plan_and_verify() {
    let dir = tempdir();
    let cb = fixture("coh_basic.mbz");
    let zip = fixture("coh_basic.zip.mbz");
    let plan = dir.path().join("plan.csv");
    for (flag, archive) in [("--max-xml-mib", &cb), ("--max-total-gib", &zip)] {
        let a = archive.to_str().unwrap();
        let runs: [Vec<&str>; 4] = [
            vec!["inspect", a],
            vec!["verify", a],
            vec!["verify", a, "--against", a],
            vec![
                "plan",
                a,
                "--format",
                "uploaduser",
                "-o",
                plan.to_str().unwrap(),
                "--until",
                UNTIL,
            ],
        ];
        for mut args in runs {
            args.extend([flag, "0"]);
            let o = run(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            let e = stderr(&o);
            assert!(e.contains(flag) && e.contains("coh_basic"), "{args:?}: {e}");
            assert!(!e.contains("panicked"));
        }
        assert!(listing(dir.path()).is_empty());
    }
}

/// An output in a folder that does not exist is refused with a clear message (exit 2), and nothing is created.
#[test]
fn output_into_a_missing_folder_is_refused() {
    let dir = tempdir();
    let missing = dir.path().join("missing").join("deeper");
    let cb = fixture("coh_basic.mbz");
    let out = missing.join("out.mbz");
    let plan = missing.join("plan.csv");
    for args in [
        vec![
            "convert",
            cb.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            UNTIL,
        ],
        vec![
            "renew",
            cb.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            UNTIL,
        ],
        vec![
            "plan",
            cb.to_str().unwrap(),
            "--format",
            "uploaduser",
            "-o",
            plan.to_str().unwrap(),
            "--until",
            UNTIL,
        ],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("does not exist (create it first)"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(listing(dir.path()).is_empty(), "{args:?} created something");
    }
}
