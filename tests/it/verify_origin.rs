//! `verify --against` separates the original's own flaws (pre-existing) from what the conversion introduced;
//! `convert --verify` and `batch --verify` fail only on the latter. Every shape is built from `coh_basic.mbz`.

use std::path::{Path, PathBuf};

use crate::util::{RawMember, entries, index_for, raw_members, root, run, tempdir, write_tgz};

fn fixture() -> PathBuf {
    root().join("fixtures/coh_basic.mbz")
}

const CONVERT: &[&str] = &[
    "--until",
    "2027-08-31",
    "--from",
    "cohort",
    "--timezone",
    "UTC",
];

/// `coh_basic.mbz` changed by `f`, written to `dir/name`.
fn shape(dir: &Path, name: &str, f: impl FnOnce(&mut Vec<RawMember>)) -> PathBuf {
    let mut m = raw_members(&fixture());
    f(&mut m);
    let path = dir.join(name);
    write_tgz(&path, &m);
    path
}

fn edit(m: &mut [RawMember], path: &str, f: impl FnOnce(String) -> String) {
    let x = m.iter_mut().find(|x| x.0 == path).unwrap();
    x.2 = f(String::from_utf8(x.2.clone()).unwrap()).into_bytes();
}

fn reindex(m: &mut [RawMember]) {
    let index = index_for(m);
    if let Some(x) = m.iter_mut().find(|x| x.0 == ".ARCHIVE_INDEX") {
        x.2 = index;
    }
}

fn convert(input: &Path, out: &Path, verify: bool) -> std::process::Output {
    let mut args = vec![
        "convert",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(CONVERT);
    if verify {
        args.push("--verify");
    }
    run(&args)
}

/// `verify ARCHIVE --against ORIGINAL --json`: exit code and report.
fn verify_against(out: &Path, input: &Path) -> (i32, serde_json::Value) {
    let o = run(&[
        "verify",
        out.to_str().unwrap(),
        "--against",
        input.to_str().unwrap(),
        "--json",
    ]);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_default();
    (o.status.code().unwrap_or(-1), v)
}

fn check<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {v:#}"))
}

/// An original with an enrolment of a user missing from users.xml (restore skips it) and a stale index.
fn flawed(dir: &Path) -> PathBuf {
    shape(dir, "flawed.mbz", |m| {
        edit(m, "course/enrolments.xml", |s| {
            s.replacen("<userid>8</userid>", "<userid>999999</userid>", 1)
        });
        // The index is left as it was: its size for enrolments.xml is now stale.
    })
}

#[test]
fn preexisting_flaws_are_reported_and_do_not_fail() {
    let dir = tempdir();
    let input = flawed(dir.path());
    let (code, v) = {
        let o = run(&["verify", input.to_str().unwrap(), "--json"]);
        (
            o.status.code(),
            serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap(),
        )
    };
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(check(&v, "enrol-users-known")["severity"], "warning");
    assert_eq!(check(&v, "archive-index")["severity"], "warning");

    let out = dir.path().join("out.mbz");
    let o = convert(&input, &out, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (code, v) = verify_against(&out, &input);
    assert_eq!(code, 0, "{v:#}");
    let users = check(&v, "enrol-users-known");
    assert_eq!(users["passed"], true);
    assert!(
        users["pre_existing"][0]
            .as_str()
            .unwrap()
            .contains("user 999999"),
        "{users:#}"
    );
    // The output's index is fresh: nothing stale is left.
    assert_eq!(check(&v, "archive-index")["severity"], "info", "{v:#}");
    // The text report says pre-existing.
    let o = run(&[
        "verify",
        out.to_str().unwrap(),
        "--against",
        input.to_str().unwrap(),
        "--timezone",
        "UTC",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("(pre-existing)"), "{text}");

    // batch --verify keeps the output.
    let (inbox, outbox) = (dir.path().join("in"), dir.path().join("outbox"));
    std::fs::create_dir(&inbox).unwrap();
    std::fs::copy(&input, inbox.join("flawed.mbz")).unwrap();
    let mut args = vec![
        "batch",
        inbox.to_str().unwrap(),
        "-o",
        outbox.to_str().unwrap(),
        "--verify",
    ];
    args.extend_from_slice(CONVERT);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(outbox.join("flawed.mbz").exists());
}

#[test]
fn introduced_flaws_fail_even_warnings() {
    let dir = tempdir();
    let input = dir.path().join("in.mbz");
    std::fs::copy(fixture(), &input).unwrap();
    let out = dir.path().join("out.mbz");
    assert!(convert(&input, &out, false).status.success());
    // A conversion that had enrolled an unknown user: only a warning for restore, but introduced.
    let mut m = raw_members(&out);
    edit(&mut m, "course/enrolments.xml", |s| {
        s.replacen("<userid>8</userid>", "<userid>999999</userid>", 1)
    });
    reindex(&mut m);
    let bad = dir.path().join("bad.mbz");
    write_tgz(&bad, &m);
    let (code, v) = verify_against(&bad, &input);
    assert_eq!(code, 1, "{v:#}");
    let users = check(&v, "enrol-users-known");
    assert_eq!(
        (users["passed"].clone(), users["severity"].clone()),
        (false.into(), "warning".into())
    );
    assert!(users["pre_existing"].is_null(), "{users:#}");
}

#[test]
fn index_is_written_when_the_input_had_none() {
    let dir = tempdir();
    let input = shape(dir.path(), "noindex.mbz", |m| {
        m.retain(|x| x.0 != ".ARCHIVE_INDEX")
    });
    let out = dir.path().join("out.mbz");
    let o = convert(&input, &out, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = entries(&out);
    assert_eq!(after[0].path, ".ARCHIVE_INDEX");
    let (code, v) = verify_against(&out, &input);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(check(&v, "archive-index")["passed"], true);
    assert_eq!(check(&v, "same-members")["passed"], true);
}

#[test]
fn pax_and_gnu_records_are_not_members_for_the_proof() {
    let dir = tempdir();
    let input = shape(dir.path(), "pax.mbz", |m| {
        let at = m
            .iter()
            .position(|x| x.0 == "course/enrolments.xml")
            .unwrap();
        m.insert(
            at,
            (
                "././@PaxHeader".into(),
                b'x',
                b"20 mtime=1600000000\n".to_vec(),
            ),
        );
        m.insert(
            1,
            (
                "././@PaxHeader".into(),
                b'x',
                b"20 mtime=1600000000\n".to_vec(),
            ),
        );
    });
    // The pax records of times only: Moodle extracts them as junk files, a warning.
    let o = run(&["verify", input.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    assert_eq!(check(&v, "tar-no-extensions")["severity"], "warning");
    assert_eq!(check(&v, "no-duplicate-names")["passed"], true);
    let out = dir.path().join("out.mbz");
    let o = convert(&input, &out, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (code, v) = verify_against(&out, &input);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(check(&v, "same-members")["passed"], true);
    assert!(!entries(&out).iter().any(|e| e.path.contains("@PaxHeader")));
}

#[test]
fn pax_path_and_gnu_long_names_are_errors() {
    let dir = tempdir();
    for (name, flag, data) in [
        ("pax-path.mbz", b'x', &b"25 path=course/other.xml\n"[..]),
        ("gnu.mbz", b'L', &b"course/enrolments.xml\0"[..]),
    ] {
        let input = shape(dir.path(), name, |m| {
            m.insert(1, ("././@LongLink".into(), flag, data.to_vec()));
        });
        let o = run(&["verify", input.to_str().unwrap(), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(o.status.code(), Some(1), "{name}: {v:#}");
        assert_eq!(
            check(&v, "tar-no-extensions")["severity"],
            "error",
            "{name}"
        );
    }
}

#[test]
fn manual_instance_without_user_enrolments_passes() {
    let dir = tempdir();
    let input = shape(dir.path(), "bare-manual.mbz", |m| {
        edit(m, "course/enrolments.xml", |s| {
            let start = s.find("<user_enrolments>").unwrap();
            let end = s.find("</user_enrolments>").unwrap() + "</user_enrolments>".len();
            format!("{}{}", &s[..start], &s[end..])
        });
        reindex(m);
    });
    let out = dir.path().join("out.mbz");
    let o = convert(&input, &out, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (code, v) = verify_against(&out, &input);
    assert_eq!(code, 0, "{v:#}");
}

/// `tar -C dir .`: every name `./`-prefixed, the root entry `./` first. Moodle's extractor trims the prefix; the
/// output is written in Moodle's root layout, byte for byte what the clean archive converts to, and verify says so.
#[test]
fn dot_slash_names_convert_as_the_clean_archive() {
    let dir = tempdir();
    let clean = shape(dir.path(), "clean.mbz", |_| {});
    let dotted = shape(dir.path(), "dotted.mbz", |m| {
        for x in m.iter_mut() {
            x.0 = format!("./{}", x.0);
        }
        m.insert(0, ("./".into(), b'5', Vec::new()));
    });
    let (a, b) = (dir.path().join("a.mbz"), dir.path().join("b.mbz"));
    for (input, out) in [(&clean, &a), (&dotted, &b)] {
        let o = convert(input, out, true);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "outputs differ"
    );
    let (code, v) = verify_against(&b, &dotted);
    assert_eq!(code, 0, "{v:#}");
    let o = run(&["verify", dotted.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{v:#}");
    let paths = check(&v, "member-paths");
    assert_eq!(paths["severity"], "warning");
    assert!(
        paths["finding"]
            .as_str()
            .unwrap()
            .contains("restore extracts it as"),
        "{paths:#}"
    );
    // One line for the archive, not one per member; `inspect` says it too, once.
    assert_eq!(
        paths["failures"].as_array().map(Vec::len),
        Some(1),
        "{paths:#}"
    );
    let o = run(&["inspect", dotted.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let said = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("start with `./`"))
        .collect();
    assert_eq!(lines.len(), 1, "{said}");
    assert!(lines[0].contains("from the root"), "{said}");
}
