//! README quick start, help, what-to-do-next messages, quiet and verbose, help and error snapshots.

use super::*;

#[test]
fn readme_quick_start_has_two_commands_on_a_shipped_fixture() {
    let readme = std::fs::read_to_string(util::root().join("README.md")).unwrap();
    // The first heading that names the quick start (any case), as the project's set-up check reads it.
    let start = readme
        .lines()
        .scan(0, |at, l| {
            let here = *at;
            *at += l.len() + 1;
            Some((here, l))
        })
        .find(|(_, l)| l.starts_with('#') && l.to_lowercase().contains("quick start"))
        .map(|(at, _)| at)
        .expect("Quick start section");
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
        err.contains("users (username, id,")
            && err.contains("editingteacher")
            && err.contains("(the --until end)"),
        "{err}"
    );
    // -v names each user by username beside the id, the end as the last second of access in the zone.
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("dbs001 "))
        .unwrap_or_else(|| panic!("no line for dbs001: {err}"));
    assert!(
        line.contains("#73") && line.contains(".. 31 Aug 2027 23:59:59 "),
        "{line}"
    );
    assert!(!err.contains("T00:00:00"), "an ISO end instant: {err}");
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

/// Runs the binary with `args`, `TZ` unset and `MBZ_TIMEZONE` as given.
fn run_zone_env(args: &[&str], mbz_timezone: Option<&str>) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mbz-enrol"));
    c.args(args).env_remove("TZ").env_remove("MBZ_TIMEZONE");
    if let Some(z) = mbz_timezone {
        c.env("MBZ_TIMEZONE", z);
    }
    c.output().unwrap()
}

#[test]
fn a_zone_nobody_chose_is_named_in_a_warning_and_mbz_timezone_sets_the_default() {
    let input = fixture("coh_basic.mbz");
    let dir = tempdir();
    let plan = dir.path().join("plan.csv");
    let outdir = dir.path().join("out");
    let commands: [Vec<&str>; 4] = [
        vec![
            "convert",
            input.to_str().unwrap(),
            "--dry-run",
            "--until",
            UNTIL,
        ],
        vec![
            "renew",
            input.to_str().unwrap(),
            "--dry-run",
            "--until",
            UNTIL,
        ],
        vec![
            "plan",
            input.to_str().unwrap(),
            "--format",
            "uploaduser",
            "-o",
            plan.to_str().unwrap(),
            "--force",
            "--until",
            UNTIL,
        ],
        vec![
            "batch",
            input.to_str().unwrap(),
            "-o",
            outdir.to_str().unwrap(),
            "--dry-run",
            "--until",
            UNTIL,
        ],
    ];
    for args in &commands {
        // No --timezone, MBZ_TIMEZONE or TZ: the system's zone (or UTC), named in a warning.
        let o = run_zone_env(args, None);
        let err = stderr(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        let warning = err
            .lines()
            .find(|l| l.starts_with("warning: no --timezone, MBZ_TIMEZONE or TZ"))
            .unwrap_or_else(|| panic!("{args:?}: {err}"));
        let (zone, source) = match time_zone_line(&err) {
            Some(z) => z,
            None => panic!("{args:?}: {err}"),
        };
        assert!(warning.contains(&format!(" {zone};")), "{warning}");
        assert!(
            source == "system configuration" || source == "default (UTC)",
            "{source}"
        );
        // MBZ_TIMEZONE sets the default, before TZ; no warning.
        let o = run_zone_env(args, Some("America/Havana"));
        let err = stderr(&o);
        assert!(o.status.success(), "{args:?}: {err}");
        assert!(!err.contains("warning: no --timezone"), "{err}");
        assert_eq!(
            time_zone_line(&err),
            Some((
                "America/Havana".to_owned(),
                "MBZ_TIMEZONE environment variable".to_owned()
            )),
            "{err}"
        );
        // --timezone still wins.
        let mut explicit = args.clone();
        explicit.extend(["--timezone", "Europe/Paris"]);
        let o = run_zone_env(&explicit, Some("America/Havana"));
        assert_eq!(
            time_zone_line(&stderr(&o)).map(|z| z.0),
            Some("Europe/Paris".to_owned())
        );
    }
    // A bad MBZ_TIMEZONE is an error naming the variable.
    let o = run_zone_env(&commands[0], Some("Mars/Olympus"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("unknown time zone `Mars/Olympus` in the MBZ_TIMEZONE environment variable"),
        "{}",
        stderr(&o)
    );
}

/// The zone and its source as the command announced them: `time zone: Z (from S…` or convert's
/// `(Z, zone from S)`.
fn time_zone_line(err: &str) -> Option<(String, String)> {
    for line in err.lines() {
        if let Some(rest) = line.strip_prefix("time zone: ") {
            let (zone, from) = rest.split_once(" (from ")?;
            let source = from.split(')').next()?;
            return Some((zone.to_owned(), source.to_owned()));
        }
        if line.starts_with("until: ")
            && let Some(at) = line.rfind(", zone from ")
        {
            let zone = line[..at].rsplit('(').next()?;
            let source = line[at + ", zone from ".len()..].trim_end_matches(')');
            return Some((zone.to_owned(), source.to_owned()));
        }
    }
    None
}
