//! `batch`: whole folders, isolation, per-course dates, shards, resume, reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::{self, run, tempdir};

/// A corpus folder: the shared batch archives in `in/` and `in/sub/`, a corrupted archive and a non-backup.
fn corpus(root: &Path, shared: &Path) -> PathBuf {
    let input = root.join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    for f in util::mbz_files(shared) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let dest = if name.as_str() < "batch_08" {
            input.join(&name)
        } else {
            input.join("sub").join(&name)
        };
        std::fs::copy(&f, dest).unwrap();
    }
    let good = std::fs::read(util::root().join("fixtures/coh_basic.mbz")).unwrap();
    std::fs::write(input.join("corrupted.mbz"), &good[..good.len() / 2]).unwrap();
    std::fs::write(input.join("notes.mbz"), "not a backup").unwrap();
    std::fs::write(input.join("readme.txt"), "hello").unwrap();
    input
}

/// Runs batch with a JSON report; returns (exit code, stderr, archives by path).
fn batch(args: &[&str], report: &Path) -> (i32, String, BTreeMap<String, serde_json::Value>) {
    let mut all = vec![
        "batch",
        "--timezone",
        "Europe/Paris",
        "--report",
        report.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = run(&all);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    let rows = std::fs::read(report)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .map(|v| {
            v["archives"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["path"].as_str().unwrap().to_owned(), r.clone()))
                .collect()
        })
        .unwrap_or_default();
    (o.status.code().unwrap_or(-1), err, rows)
}

/// Runs batch on `input` into `out` until `until`, with `extra`; as [`batch`].
fn batch_into(
    input: &Path,
    out: &Path,
    until: &str,
    extra: &[&str],
    report: &Path,
) -> (i32, String, BTreeMap<String, serde_json::Value>) {
    let mut args = vec![
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        until,
    ];
    args.extend_from_slice(extra);
    batch(&args, report)
}

/// A folder `in/` under `root` holding `files` (source, name inside it); returns it.
fn folder(root: &Path, files: &[(PathBuf, &str)]) -> PathBuf {
    let input = root.join("in");
    for (src, name) in files {
        let dest = input.join(name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(src, dest).unwrap();
    }
    input
}

#[test]
fn a_folder_converts_verified_with_failures_isolated() {
    let Some(shared) = util::shared("moodle43/batch") else {
        return;
    };
    let dir = tempdir();
    let input = corpus(dir.path(), &shared);
    let out = dir.path().join("out");
    let report = dir.path().join("report.json");
    let (code, err, rows) = batch(
        &[
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            "2027-08-31",
            "--from",
            "cohort",
            "--verify",
        ],
        &report,
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(rows["corrupted.mbz"]["status"], "failed");
    // Named *.mbz but not an archive: a backup that failed to arrive, a failure.
    assert_eq!(rows["notes.mbz"]["status"], "failed");
    assert!(
        rows["corrupted.mbz"]["error"]
            .as_str()
            .unwrap()
            .contains("corrupted.mbz")
    );
    // Not named *.mbz: not an archive, listed as ignored.
    let ignored: Vec<&String> = rows
        .iter()
        .filter(|(_, r)| r["status"] == "ignored")
        .map(|(p, _)| p)
        .collect();
    assert_eq!(ignored, ["readme.txt"]);
    let converted: Vec<&String> = rows
        .iter()
        .filter(|(_, r)| r["status"] == "converted")
        .map(|(p, _)| p)
        .collect();
    assert_eq!(converted.len(), 14, "{rows:#?}");
    // Every good archive has its output, mirrored, and passes verify against its input.
    for f in util::mbz_files(&input) {
        let rel = f.strip_prefix(&input).unwrap();
        let name = rel.to_string_lossy();
        if name.contains("corrupted") || name.contains("notes") {
            assert!(!out.join(rel).exists(), "{name}");
            continue;
        }
        let o = run(&[
            "verify",
            out.join(rel).to_str().unwrap(),
            "--against",
            f.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    // No temp file left anywhere.
    for e in walk(&out) {
        assert!(!e.to_string_lossy().ends_with(".tmp"), "{}", e.display());
    }
    // Not a terminal: one plain line per archive.
    assert_eq!(
        err.lines().filter(|l| l.starts_with('[')).count(),
        15,
        "{err}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn until_map_gives_per_course_dates() {
    let Some(shared) = util::shared("moodle43/batch") else {
        return;
    };
    let dir = tempdir();
    let map = dir.path().join("map.csv");
    std::fs::write(
        &map,
        "course,until\nBATCH_03,2027-06-30\nbatch_1*.mbz,2027-07-31\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let report = dir.path().join("r.json");
    // Without --until, an archive matching no row fails with a clear reason.
    let (code, err, rows) = batch(
        &[
            shared.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until-map",
            map.to_str().unwrap(),
            "--from",
            "cohort",
        ],
        &report,
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(rows["batch_03.mbz"]["until"], "2027-07-01T00:00:00+02:00");
    assert_eq!(rows["batch_12.mbz"]["until"], "2027-08-01T00:00:00+02:00");
    assert_eq!(rows["batch_01.mbz"]["status"], "failed");
    assert!(
        rows["batch_01.mbz"]["error"]
            .as_str()
            .unwrap()
            .contains("no --until-map row matches")
    );
    // With --until as the fallback, everything converts.
    let out2 = dir.path().join("out2");
    let (code, err, rows) = batch(
        &[
            shared.to_str().unwrap(),
            "-o",
            out2.to_str().unwrap(),
            "--until-map",
            map.to_str().unwrap(),
            "--until",
            "2027-08-31",
            "--from",
            "cohort",
        ],
        &report,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(rows["batch_01.mbz"]["until"], "2027-09-01T00:00:00+02:00");
    assert_eq!(rows["batch_03.mbz"]["until"], "2027-07-01T00:00:00+02:00");
    assert_eq!(rows["batch_14.mbz"]["until"], "2027-08-01T00:00:00+02:00");
}

#[test]
fn shards_cover_every_archive_once_and_resume_skips_done_work() {
    let Some(shared) = util::shared("moodle43/batch") else {
        return;
    };
    let dir = tempdir();
    let out = dir.path().join("out");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for k in ["1/2", "2/2"] {
        let report = dir.path().join(format!("r{}.json", &k[..1]));
        let (code, err, rows) = batch(
            &[
                shared.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--until",
                "2027-08-31",
                "--from",
                "cohort",
                "--shard",
                k,
            ],
            &report,
        );
        assert_eq!(code, 0, "{err}");
        for (p, r) in rows {
            if r["status"] == "converted" {
                *seen.entry(p).or_default() += 1;
            }
        }
    }
    assert_eq!(seen.len(), 14, "{seen:?}");
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    // Everything is done: --resume converts nothing.
    let report = dir.path().join("resume.json");
    let (code, err, rows) = batch(
        &[
            shared.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            "2027-08-31",
            "--from",
            "cohort",
            "--resume",
        ],
        &report,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        rows.iter().all(|(path, r)| r["status"]
            == if path.ends_with(".mbz") {
                "skipped"
            } else {
                "ignored"
            }),
        "{rows:#?}"
    );
    let up_to_date = rows
        .values()
        .filter(|r| r["error"].as_str().unwrap().contains("--resume"))
        .count();
    assert_eq!(up_to_date, 14);
}

#[test]
fn usage_errors_and_require_change() {
    let dir = tempdir();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::copy(
        util::root().join("fixtures/noconvert.mbz"),
        input.join("noconvert.mbz"),
    )
    .unwrap();
    std::fs::copy(
        util::root().join("fixtures/db_sync.zip.mbz"),
        input.join("db_sync.zip.mbz"),
    )
    .unwrap();
    let report = dir.path().join("r.json");
    // The output folder inside an input folder is refused.
    let inside = input.join("out");
    let (code, err, _) = batch(
        &[
            input.to_str().unwrap(),
            "-o",
            inside.to_str().unwrap(),
            "--until",
            "2027-08-31",
        ],
        &report,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("inside input folder"), "{err}");
    // No date at all.
    let out = dir.path().join("out");
    let (code, _, _) = batch(
        &[input.to_str().unwrap(), "-o", out.to_str().unwrap()],
        &report,
    );
    assert_eq!(code, 2);
    // Bad report extension: refused before any work.
    let o = run(&[
        "batch",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        "2027-08-31",
        "--report",
        "r.pdf",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    // --jobs 0 is refused like any bad value (it used to panic).
    let (code, err, _) = batch_into(&input, &out, "2027-08-31", &["--jobs", "0"], &report);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid value '0' for '--jobs <N>'"), "{err}");
    assert!(!out.exists());
    // --require-change: nothing to convert is a failure, with no output.
    let (code, err, rows) = batch(
        &[
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            "2027-08-31",
            "--require-change",
        ],
        &report,
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(rows["noconvert.mbz"]["status"], "failed");
    assert!(!out.join("noconvert.mbz").exists());
    assert_eq!(rows["db_sync.zip.mbz"]["status"], "converted");
    assert_eq!(rows["db_sync.zip.mbz"]["users_converted"], 40);
}

#[test]
fn html_and_csv_reports() {
    let dir = tempdir();
    let fixtures = util::good_fixtures();
    let out = dir.path().join("out");
    let html = dir.path().join("r.html");
    let o = run(&[
        "batch",
        fixtures.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        "2027-08-31",
        "--report",
        html.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<table") && page.contains("<script>"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained"
    );
    for name in ["coh_basic.mbz", "db_sync.zip.mbz", "noconvert.mbz"] {
        assert!(page.contains(name), "{name}");
    }
    let csv = dir.path().join("r.csv");
    let out2 = dir.path().join("out2");
    let o = run(&[
        "batch",
        fixtures.path().to_str().unwrap(),
        "-o",
        out2.to_str().unwrap(),
        "--until",
        "2027-08-31",
        "--report",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with(
        "path,course,status,error,users_converted,stamped,suspended,until,warnings,seconds,access_through\n"
    ));
    assert_eq!(text.lines().count(), 1 + 6 + 5, "{text}"); // 6 archives, 5 truth files skipped
}

#[test]
fn an_unreadable_mbz_fails_the_batch_and_comes_first_in_reports() {
    let dir = tempdir();
    let names = ["empty.mbz", "not_an_archive.mbz", "truncated_gzip.mbz"];
    let mut files: Vec<(PathBuf, &str)> = names
        .iter()
        .map(|n| (util::root().join("fixtures/bad").join(n), *n))
        .collect();
    files.push((util::root().join("fixtures/coh_basic.mbz"), "a_good.mbz"));
    let input = folder(dir.path(), &files);
    // What a failed download leaves under the backup's name.
    std::fs::write(
        input.join("z_error_page.mbz"),
        "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>\n",
    )
    .unwrap();
    std::fs::write(input.join("notes.txt"), "not named *.mbz").unwrap();
    let out = dir.path().join("out");
    for ext in ["json", "csv", "html"] {
        let report = dir.path().join(format!("r.{ext}"));
        let (code, err, _) = batch_into(&input, &out, "2027-08-31", &[], &report);
        assert_eq!(code, 1, "{err}");
        for bad in ["empty.mbz", "not_an_archive.mbz", "z_error_page.mbz"] {
            assert!(
                err.lines()
                    .any(|l| l.starts_with(&format!("FAILED  {bad}: "))
                        && l.contains("not a Moodle backup")),
                "{err}"
            );
            assert!(!out.join(bad).exists());
        }
        let text = std::fs::read_to_string(&report).unwrap();
        // Every failure before the converted archive and the skipped file.
        let at = |name: &str| text.find(name).unwrap_or_else(|| panic!("{name}: {text}"));
        for bad in [
            "empty.mbz",
            "not_an_archive.mbz",
            "truncated_gzip.mbz",
            "z_error_page.mbz",
        ] {
            assert!(at(bad) < at("a_good.mbz"), "{ext}: {text}");
        }
        assert!(at("a_good.mbz") < at("notes.txt"), "{ext}: {text}");
        if ext == "json" {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["totals"]["failed"], 4, "{text}");
            assert_eq!(v["totals"]["converted"], 1, "{text}");
            assert_eq!(v["totals"]["skipped"], 0, "{text}");
            assert_eq!(v["totals"]["ignored"], 1, "{text}");
            assert_eq!(v["totals"]["archives"], 5, "{text}");
            let first = &v["archives"][0];
            assert_eq!(first["status"], "failed");
            assert!(
                first["error"].as_str().unwrap().contains("empty file"),
                "{first}"
            );
        }
    }
}

#[test]
fn a_stamp_role_one_archive_lacks_fails_that_archive_only() {
    let Some(real) = util::shared("real") else {
        return;
    };
    let dir = tempdir();
    // A real backup whose roles.xml defines a site's own role, `correcteur`, beside one that does not.
    let input = folder(
        dir.path(),
        &[
            (util::root().join("fixtures/coh_basic.mbz"), "coh_basic.mbz"),
            (
                real.join("moodle41-tgz-nousers-ldapteluq-custom-enrol.mbz"),
                "custom.mbz",
            ),
        ],
    );
    let out = dir.path().join("out");
    let report = dir.path().join("r.json");
    let (code, err, rows) = batch_into(
        &input,
        &out,
        "2027-08-31",
        &["--stamp-roles", "student,correcteur"],
        &report,
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(rows["coh_basic.mbz"]["status"], "failed");
    let why = rows["coh_basic.mbz"]["error"].as_str().unwrap();
    assert!(
        why.contains(
            "role \"correcteur\" not defined in this backup (it defines: editingteacher, student)"
        ) && why.contains("--stamp-roles"),
        "{why}"
    );
    assert!(!out.join("coh_basic.mbz").exists());
    assert_eq!(rows["custom.mbz"]["status"], "unchanged", "{rows:#?}");
    assert!(out.join("custom.mbz").exists());
}

/// The files of `dir` (recursively) with their bytes, by path relative to it.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn resume_trusts_only_outputs_of_the_same_input_and_options() {
    let dir = tempdir();
    let fx = |name: &str| util::root().join("fixtures").join(name);
    let input = folder(
        dir.path(),
        &[
            (fx("coh_basic.mbz"), "coh_basic.mbz"),
            (fx("db_sync.zip.mbz"), "sub/db_sync.zip.mbz"),
        ],
    );
    let out = dir.path().join("out");
    let report = dir.path().join("r.json");
    let go = |until: &str, extra: &[&str]| {
        let mut args = vec!["--resume"];
        args.extend_from_slice(extra);
        let (code, err, rows) = batch_into(&input, &out, until, &args, &report);
        assert_eq!(code, 0, "{err}");
        let status = |p: &str| rows[p]["status"].as_str().unwrap().to_owned();
        (status("coh_basic.mbz"), status("sub/db_sync.zip.mbz"))
    };
    let converted = || ("converted".to_owned(), "converted".to_owned());
    let skipped = || ("skipped".to_owned(), "skipped".to_owned());
    assert_eq!(go("2027-08-31", &[]), converted());
    // The records live in one hidden folder; the outputs are exactly what convert writes.
    let records = out.join(".mbz-enrol-resume");
    assert!(records.join("coh_basic.mbz.json").is_file());
    assert!(records.join("sub/db_sync.zip.mbz.json").is_file());
    let single = dir.path().join("single.mbz");
    let o = run(&[
        "convert",
        fx("coh_basic.mbz").to_str().unwrap(),
        "-o",
        single.to_str().unwrap(),
        "--until",
        "2027-08-31",
        "--timezone",
        "Europe/Paris",
    ]);
    assert!(o.status.success());
    assert_eq!(
        std::fs::read(out.join("coh_basic.mbz")).unwrap(),
        std::fs::read(&single).unwrap()
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(records.join("coh_basic.mbz.json")).unwrap())
            .unwrap();
    assert_eq!(record["input_bytes"], 6143);
    assert_eq!(record["shortname"], "COH_BASIC");
    assert!(record["tool"].as_str().unwrap().starts_with("mbz-enrol "));
    // Same input, same options: done work. The same instant spelt otherwise is the same option.
    assert_eq!(go("2027-08-31", &[]), skipped());
    let first = contents(&out);
    assert_eq!(go("2027-09-01T00:00+02:00", &[]), skipped());
    // --until changed: converted again; and back.
    assert_eq!(go("2027-09-30", &[]), converted());
    assert_ne!(contents(&out), first);
    assert_eq!(go("2027-08-31", &[]), converted());
    assert_eq!(contents(&out), first);
    // Other options that shape the output: the methods, the roles, the level, --verify.
    assert_eq!(
        go("2027-08-31", &["--from", "database,cohort,meta"]),
        converted()
    );
    assert_eq!(
        go("2027-08-31", &["--from", "database,cohort,meta"]),
        skipped()
    );
    assert_eq!(
        go("2027-08-31", &["--stamp-roles", "student,editingteacher"]),
        converted()
    );
    assert_eq!(go("2027-08-31", &["--level", "1"]), converted());
    assert_eq!(go("2027-08-31", &["--verify"]), converted());
    assert_eq!(go("2027-08-31", &[]), converted());
    // A per-course date from --until-map is the option of that course only.
    let map = dir.path().join("map.csv");
    std::fs::write(&map, "course,until\nCOH_BASIC,2027-06-30\n").unwrap();
    let m = map.to_str().unwrap();
    assert_eq!(
        go("2027-08-31", &["--until-map", m]),
        ("converted".to_owned(), "skipped".to_owned())
    );
    assert_eq!(go("2027-08-31", &["--until-map", m]), skipped());
    // The input replaced by other content, older than the output, is converted again.
    let coh = input.join("coh_basic.mbz");
    std::fs::copy(fx("coh_group.mbz"), &coh).unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(&coh)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(
        go("2027-08-31", &["--until-map", m]),
        ("converted".to_owned(), "skipped".to_owned())
    );
    // A removed output or record: converted again.
    std::fs::remove_file(out.join("sub/db_sync.zip.mbz")).unwrap();
    std::fs::remove_file(records.join("coh_basic.mbz.json")).unwrap();
    assert_eq!(go("2027-08-31", &["--until-map", m]), converted());
    assert_eq!(go("2027-08-31", &["--until-map", m]), skipped());
}

/// The HTML report is the record of the night's run: its details, archives only in the totals, the course on
/// a row that failed after reading it, plain-text errors, the last second of access under "until".
#[test]
fn the_html_report_records_the_run() {
    let dir = tempdir();
    let files = [
        (util::root().join("fixtures/coh_basic.mbz"), "coh_basic.mbz"),
        (util::root().join("fixtures/noconvert.mbz"), "noconvert.mbz"),
        (
            util::root().join("fixtures/bad/xml_enrol_id_text.mbz"),
            "late/failed.mbz",
        ),
        (util::root().join("fixtures/bad/empty.mbz"), "empty.mbz"),
        (util::root().join("fixtures/README.md"), "README.md"),
    ];
    let input = folder(dir.path(), &files);
    let out = dir.path().join("out");
    let html = dir.path().join("r.html");
    let (code, err, _) = batch_into(&input, &out, "2027-08-31", &["--verify", "-j", "2"], &html);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("] FAILED  late/failed.mbz (COH_BASIC): ")),
        "{err}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    for detail in [
        "mbz-enrol 0.1.0 (commit ",
        "Europe/Paris",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--until 2027-08-31",
        "--verify",
        "--from database,cohort",
    ] {
        assert!(page.contains(detail), "{detail}: {page}");
    }
    assert!(
        !page.contains("--jobs") && !page.contains("-j 2"),
        "host options"
    );
    assert!(!page.contains('`'), "plain-text errors: {page}");
    assert!(page.contains("31 Aug 2027 23:59:59 Europe/Paris"));
    assert!(
        !page.contains(">2027-09-01"),
        "the exclusive end shown: {page}"
    );
    // Four archives (README.md is not one), two of them failed.
    assert!(page.contains("<div><b>4</b>archives</div>"), "{page}");
    assert!(page.contains("<div><b>2</b>failed</div>"), "{page}");
    assert!(page.contains("1 other file not counted"));
    let row = page
        .lines()
        .find(|l| l.contains("late/failed.mbz"))
        .unwrap();
    assert!(
        row.contains("class=\"failed\"") && row.contains("<td class=\"c\">COH_BASIC</td>"),
        "{row}"
    );
    assert!(row.contains("&quot;course/enrolments.xml&quot;"), "{row}");

    let json = dir.path().join("r.json");
    let (_, _, rows) = batch_into(&input, &out, "2027-08-31", &[], &json);
    assert_eq!(rows["late/failed.mbz"]["course"], "COH_BASIC");
    assert_eq!(rows["empty.mbz"]["course"], "");
    assert_eq!(
        rows["coh_basic.mbz"]["access_through"],
        "2027-08-31T23:59:59+02:00"
    );
    assert_eq!(rows["coh_basic.mbz"]["until"], "2027-09-01T00:00:00+02:00");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["run"]["timezone"], "Europe/Paris");
    assert_eq!(v["run"]["options"][0], "--until 2027-08-31");
    assert_eq!(v["totals"]["archives"], 4);
}
