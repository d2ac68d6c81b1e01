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
    assert!(
        rows["corrupted.mbz"]["error"]
            .as_str()
            .unwrap()
            .contains("corrupted.mbz")
    );
    let skipped: Vec<&String> = rows
        .iter()
        .filter(|(_, r)| r["status"] == "skipped")
        .map(|(p, _)| p)
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
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
    assert!(rows.values().all(|r| r["status"] == "skipped"), "{rows:#?}");
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
        "path,course,status,error,users_converted,stamped,suspended,until,warnings,seconds"
    ));
    assert_eq!(text.lines().count(), 1 + 6 + 5, "{text}"); // 6 archives, 5 truth files skipped
}
