//! Output safety (a full disk) and bounded reading of streamed XML.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Output safety: a full disk.

/// Runs the binary with files limited to 512 bytes (RLIMIT_FSIZE, `SIGXFSZ` ignored so a write past it fails
/// with EFBIG, as on a full disk), in `dir`.
fn run_on_full_disk(args: &[&str]) -> Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_mbz-enrol"))
        .args(args)
        .env("TZ", "Europe/Paris")
        .output()
        .expect("run mbz-enrol under ulimit")
}

/// A write that fails half-way (the disk fills up) leaves no partial output and no temp file, for every
/// command that writes: convert (tar.gz and zip), renew, plan and batch (outputs and report).
#[test]
fn full_disk_leaves_no_partial_output() {
    let dir = util::tempdir();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = |name: &str| out.join(name).to_str().unwrap().to_owned();
    let tgz = fixture("coh_basic.mbz");
    let zip = fixture("db_sync.zip.mbz");
    let (tgz, zip) = (tgz.to_str().unwrap(), zip.to_str().unwrap());
    let before = [std::fs::read(tgz).unwrap(), std::fs::read(zip).unwrap()];
    let batch_in = dir.path().join("in");
    std::fs::create_dir(&batch_in).unwrap();
    std::fs::copy(tgz, batch_in.join("a.mbz")).unwrap();
    let runs: Vec<Vec<String>> = vec![
        vec![
            "convert".into(),
            tgz.into(),
            "-o".into(),
            o("a.mbz"),
            "--until".into(),
            UNTIL.into(),
        ],
        vec![
            "convert".into(),
            zip.into(),
            "-o".into(),
            o("b.mbz"),
            "--until".into(),
            UNTIL.into(),
        ],
        vec![
            "renew".into(),
            tgz.into(),
            "-o".into(),
            o("c.mbz"),
            "--until".into(),
            UNTIL.into(),
        ],
        vec![
            "plan".into(),
            tgz.into(),
            "--format".into(),
            "json".into(),
            "-o".into(),
            o("plan.json"),
            "--until".into(),
            UNTIL.into(),
        ],
    ];
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run_on_full_disk(&args);
        let err = stderr(&r);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("File too large") && err.contains(&*out.to_string_lossy()),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            util::listing(&out).is_empty(),
            "{args:?} left {:?}",
            util::listing(&out)
        );
    }
    // batch: the archive fails (exit 1, one failure never stops the rest), no output or temp file stays.
    let r = run_on_full_disk(&[
        "batch",
        batch_in.to_str().unwrap(),
        "-o",
        &o("batch"),
        "--until",
        UNTIL,
    ]);
    let err = stderr(&r);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("File too large"), "{err}");
    let left: Vec<_> = walkdir::WalkDir::new(&out)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert!(left.is_empty(), "batch left {left:?}");
    assert_eq!(
        before,
        [std::fs::read(tgz).unwrap(), std::fs::read(zip).unwrap()]
    );
}

/// XML read as a stream (`users.xml` for plan, every XML member for verify) holds one element or text run at a
/// time: a 3 MiB text run is refused past `--max-xml-mib 1` (memory stays bounded by the option, not by the
/// member's size), and accepted at the default.
#[test]
fn streamed_xml_bounds_one_text_run() {
    let run_text = format!("<files>{}</files>", "a".repeat(3 << 20));
    let c = Case::tgz(
        "long_text_files.mbz",
        plus("files.xml", b'0', run_text.as_bytes()),
    );
    let input = c.input.to_str().unwrap().to_owned();
    let o = c.run(&["verify", &input, "--max-xml-mib", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("--max-xml-mib") && out.contains("files.xml"),
        "{out}"
    );
    let o = c.run(&["verify", &input]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("--max-xml-mib"));

    let mut m = members();
    let users = m.iter_mut().find(|m| m.0 == "users.xml").unwrap();
    let text = String::from_utf8(users.2.clone()).unwrap();
    users.2 = replace_once(
        &text,
        "</users>",
        &format!("<x>{}</x></users>", "b".repeat(3 << 20)),
    )
    .into_bytes();
    let c = Case::tgz("long_text_users.mbz", m);
    let plan = c.out_dir().join("plan.csv");
    let args = [
        "plan",
        c.input.to_str().unwrap(),
        "--format",
        "uploaduser",
        "-o",
        plan.to_str().unwrap(),
        "--until",
        UNTIL,
        "--max-xml-mib",
        "1",
    ];
    let o = c.run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    c.names(&stderr(&o), &["--max-xml-mib", "users.xml"]);
    assert!(!plan.exists());
}
