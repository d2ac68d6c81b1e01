//! The fuzz harness on stable Rust (issue 8): every saved input under `fuzz/regressions/<target>/` (crashes
//! found by fuzzing, fixed, and inputs kept for coverage) replays through the same harness as
//! `cargo +nightly fuzz run`, and the harness itself runs on inputs built from the shipped fixtures, so it
//! cannot rot between fuzzing campaigns.

#[path = "../../fuzz/harness.rs"]
pub(crate) mod harness;

use std::path::PathBuf;

use crate::util;

fn saved(target: &str) -> Vec<PathBuf> {
    let root = util::root().join("fuzz/regressions");
    // A moved folder must fail here, not replay nothing (a target without findings has no folder of its own).
    assert!(root.is_dir(), "{} is missing", root.display());
    let dir = root.join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let files = saved(target);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| run(&data)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{target}: {} fails again: {msg}", f.display());
        }
    }
    files.len()
}

/// The shipped fixtures' members, for seed inputs.
fn fixture_docs(name: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let members = util::raw_members(&util::root().join("fixtures").join(name));
    let get = |p: &str| {
        members
            .iter()
            .find(|m| m.0 == p)
            .map(|m| m.2.clone())
            .unwrap_or_default()
    };
    (
        get("course/enrolments.xml"),
        get("course/roles.xml"),
        get("groups.xml"),
    )
}

const TGZ: [&str; 4] = [
    "coh_basic.mbz",
    "coh_group.mbz",
    "db_sync.mbz",
    "noconvert.mbz",
];

#[test]
fn container_target() {
    let n = replay("container", harness::container);
    for f in TGZ.iter().chain(&["coh_basic.zip.mbz", "db_sync.zip.mbz"]) {
        let bytes = std::fs::read(util::root().join("fixtures").join(f)).unwrap();
        harness::container(&bytes);
        harness::container(&bytes[..bytes.len() / 2]);
    }
    eprintln!("fuzz replay: {n} saved container inputs");
}

#[test]
fn xml_target() {
    let n = replay("xml", harness::xml);
    for f in TGZ {
        let (enrolments, _, _) = fixture_docs(f);
        harness::xml(&enrolments);
        harness::xml(&enrolments[..enrolments.len() / 3]);
    }
    eprintln!("fuzz replay: {n} saved xml inputs");
}

#[test]
fn convert_target() {
    let n = replay("convert", harness::convert);
    for f in TGZ {
        let (e, r, g) = fixture_docs(f);
        harness::convert(&[e, r, g].join(&0xff));
    }
    eprintln!("fuzz replay: {n} saved convert inputs");
}

/// The span scanner and quick-xml's reader agree on every XML member of every backup at hand: the shipped
/// fixtures, and the shared Moodle 4.3 and real-world backups (Moodle 2.0 to 4.3, tar.gz and zip).
#[test]
fn span_scanner_agrees_with_quick_xml_on_every_backup() {
    // The shipped fixtures, not the hostile corpus under fixtures/bad.
    let mut archives: Vec<PathBuf> = util::mbz_files(&util::root().join("fixtures"))
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "bad"))
        .collect();
    for sub in ["moodle43", "real"] {
        if let Some(dir) = util::shared(sub) {
            archives.extend(util::mbz_files(&dir));
        }
    }
    let shared = archives.len() > 10;
    let mut documents = 0;
    for archive in &archives {
        for entry in util::entries(archive) {
            if entry.path.ends_with(".xml") {
                harness::scanners_agree(&entry.data);
                documents += 1;
            }
        }
    }
    // The shipped fixtures alone hold over a hundred documents; with ../shared, thousands.
    let expected = if shared { 1000 } else { 100 };
    assert!(documents > expected, "only {documents} documents");
    eprintln!(
        "span scanner: {documents} documents in {} archives",
        archives.len()
    );
}
