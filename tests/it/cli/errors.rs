//! Errors: exit 2, the archive named, nothing left; links and devices as outputs; a past `--until`.

use super::*;

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
fn a_stamp_role_the_archive_does_not_define_exits_2_listing_its_roles() {
    let dir = tempdir();
    let d = dir.path();
    let out = d.join("out.mbz");
    let input = d.join("input.mbz");
    std::fs::copy(fixture("coh_basic.mbz"), &input).unwrap();
    let plan = d.join("plan.csv");
    let (out_s, plan_s) = (out.to_str().unwrap(), plan.to_str().unwrap());
    // convert, dry or not, and plan (the same rules).
    let commands: [&[&str]; 3] = [
        &["convert", "-o", out_s],
        &["convert", "--dry-run"],
        &["plan", "--format", "uploaduser", "-o", plan_s],
    ];
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.extend([
            input.to_str().unwrap(),
            "--until",
            UNTIL,
            "--stamp-roles",
            "student,studnet",
        ]);
        assert_fails(
            &args,
            d,
            "input.mbz`: member `roles.xml`: role `studnet` not defined in this backup (it defines: \
             editingteacher, student): check --stamp-roles",
        );
    }
    // A standard role the course does not use (roles.xml lists only the roles a course uses): nobody holds it,
    // a warning; the others are stamped.
    let o = convert(&input, &out, &["--stamp-roles", "student,teacher"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("role `teacher` (--stamp-roles) is not defined"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("30 users converted (30 users ending 31 Aug 2027 23:59:59 Paris"),
        "{}",
        stderr(&o)
    );
}

/// Output whose reader has gone (`mbz-enrol … --json | head -1`): exit 0 and no error said, whether the JSON is
/// small (the write fails when the buffer is flushed) or larger than the buffer (it fails inside serde_json,
/// which wraps the I/O error in its own).
#[test]
fn json_into_a_closed_pipe_exits_0_quietly() {
    let fixtures = crate::util::root().join("fixtures");
    let cb = fixture("coh_basic.mbz");
    let runs: [Vec<&str>; 2] = [
        vec!["inspect", cb.to_str().unwrap(), "--json"],
        vec![
            "renew",
            fixtures.to_str().unwrap(),
            "--dry-run",
            "--set-status",
            "active",
            "--json",
        ],
    ];
    for args in runs {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = crate::util::run_with(&args, |c| c.stdout(writer));
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            !err.contains("mbz-enrol: error") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

/// A summary that cannot be written (stderr on a full device) is an error like any other (exit 2), not a panic.
#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_stderr_is_no_panic() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let cb = fixture("coh_basic.mbz");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = convert_with(&cb, &out, &[], |c| c.stderr(full));
    assert_eq!(o.status.code(), Some(2));
}

/// `plan` given a file named `*.mbz` that is no archive (an error page saved under a backup's name) counts it as
/// a failed course, named, as `renew` and `batch` do: no plan is written without `--allow-partial`; given only
/// such files, the error names them.
#[test]
fn plan_names_a_backup_that_is_no_archive() {
    let dir = tempdir();
    let d = dir.path();
    let bad = d.join("page.mbz");
    std::fs::write(&bad, "<html>not found</html>").unwrap();
    let plan = d.join("plan.json");
    let base = |inputs: &[&str], extra: &[&str]| {
        let mut args = vec!["plan"];
        args.extend_from_slice(inputs);
        args.extend_from_slice(&[
            "--format",
            "json",
            "-o",
            plan.to_str().unwrap(),
            "--until",
            UNTIL,
            "--timezone",
            "UTC",
        ]);
        args.extend_from_slice(extra);
        run(&args.iter().map(|s| &**s).collect::<Vec<_>>())
    };
    let good = fixture("coh_basic.mbz");
    let good_s = good.to_str().unwrap();
    let bad_s = bad.to_str().unwrap();
    let o = base(&[good_s, bad_s], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("FAILED page.mbz: ") && stderr(&o).contains("1 archive(s) failed"),
        "{}",
        stderr(&o)
    );
    assert!(!plan.exists());
    let o = base(&[good_s, bad_s], &["--allow-partial"]);
    assert!(stderr(&o).contains("FAILED page.mbz: "), "{}", stderr(&o));
    assert!(plan.exists());
    std::fs::remove_file(&plan).unwrap();
    let o = base(&[bad_s], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no backup could be read: `")
            && stderr(&o).contains("page.mbz` is not a Moodle backup"),
        "{}",
        stderr(&o)
    );
    assert!(!plan.exists());
}

/// A plan row the format cannot write (here: the course shortname the default key needs is empty) names the
/// archive it comes from.
#[test]
fn plan_format_errors_name_the_archive() {
    let dir = tempdir();
    let input = dir.path().join("noname.mbz");
    crate::util::with_member(
        &fixture("coh_basic.mbz"),
        "moodle_backup.xml",
        |x| {
            x.replace(
                "<original_course_shortname>COH_BASIC</original_course_shortname>",
                "<original_course_shortname></original_course_shortname>",
            )
        },
        &input,
    );
    let plan = dir.path().join("plan.csv");
    // tool_sync's plan of `inputs` fails naming `named` and saying `what`, and writes nothing.
    let fails = |inputs: &[&Path], named: &Path, what: &str| {
        let mut args = vec!["plan"];
        args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
        let tail = [
            "--format",
            "toolsync",
            "-o",
            plan.to_str().unwrap(),
            "--until",
            UNTIL,
        ];
        args.extend(tail);
        args.extend(["--timezone", "UTC"]);
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        let prefix = format!("archive `{}`: user `", named.display());
        assert!(err.contains(&prefix) && err.contains(what), "{err}");
        assert!(!plan.exists());
    };
    fails(&[&input], &input, "the course shortname is empty");
    // A row tool_sync could not read (a group name holding its separator), in the second of two archives.
    let semi = dir.path().join("semi.mbz");
    crate::util::with_member(
        &fixture("coh_group.mbz"),
        "groups.xml",
        |x| x.replace("</name>", ";x</name>"),
        &semi,
    );
    fails(
        &[&fixture("coh_basic.mbz"), &semi],
        &semi,
        "cannot be written",
    );
}

/// An error whose message already quotes its cause's is printed without the cause again.
#[test]
fn a_cause_the_message_quotes_is_printed_once() {
    let dir = tempdir();
    let input = dir.path().join("cut.mbz");
    crate::util::with_member(
        &fixture("coh_group.mbz"),
        "groups.xml",
        |x| x[..x.find("<group ").unwrap() + 7].to_owned(),
        &input,
    );
    let o = run(&["inspect", input.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("member `groups.xml`: malformed XML"), "{err}");
    assert_eq!(
        err.matches("not found before end of input").count(),
        1,
        "{err}"
    );
}

/// `verify` words a file that is no archive as every command does, output or original.
#[test]
fn verify_names_a_non_archive_as_every_command_does() {
    let dir = tempdir();
    let text = dir.path().join("page.mbz");
    std::fs::write(&text, "hello").unwrap();
    let good = fixture("coh_basic.mbz");
    for args in [
        vec!["verify", text.to_str().unwrap()],
        vec![
            "verify",
            good.to_str().unwrap(),
            "--against",
            text.to_str().unwrap(),
        ],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(
                "page.mbz` is not a Moodle backup: it starts with 68 65 6c 6c, expected gzip"
            ),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}
