//! The fuzz harness (issue 8), shared by the cargo-fuzz targets in `fuzz/fuzz_targets/` and by the replay test
//! `tests/it/fuzz_replay.rs`, which runs every saved input (`fuzz/regressions/<target>/`) on stable Rust in
//! `cargo test`.
//!
//! Three targets:
//! - [`container`]: arbitrary bytes as an archive (first byte 1: the rest is a tar stream, gzipped here so
//!   the fuzzer can reach the tar layer); detection, reading, inspect, plan, verify and convert.
//! - [`xml`]: arbitrary bytes as `course/enrolments.xml` (the span scanner, the rules, idempotence of the
//!   rewritten document) and as a span-edit script (bytes outside the edits never change).
//! - [`convert`]: three documents (enrolments.xml, course/roles.xml, groups.xml, split at 0xff bytes) put into
//!   a real backup, converted: deterministic, idempotent, and a verified input gives a verified output.
//!
//! A panic anywhere, or a broken property (an `assert!` here), is a finding.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use mbz_enrol::archive::Limits;
use mbz_enrol::enrol::convert::{self, Docs, Options};
use mbz_enrol::xml::{self, Edit};

/// The backup every generated archive starts from.
const BASE: &[u8] = include_bytes!("../fixtures/coh_basic.mbz");
/// The end date stamped by every conversion (2027-09-01 00:00 Europe/Paris).
const UNTIL: i64 = 1_819_749_600;
/// Tight limits: a small input must not make the fuzzer inflate gigabytes.
const LIMITS: Limits = Limits {
    max_xml: 4 << 20,
    max_total: 64 << 20,
    raise: None,
};

fn options() -> Options {
    Options {
        from: vec!["cohort".into(), "database".into(), "meta".into()],
        stamp_roles: vec!["student".into()],
        until: UNTIL,
        ..Default::default()
    }
}

/// A private folder in the temp dir (`TMPDIR=/dev/shm` keeps fuzzing in memory), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mbz-fuzz-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Names in the folder, sorted.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .expect("scratch listing")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip in memory");
    gz.finish().expect("gzip in memory")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read back")
}

/// Converts `input` to `output`; on failure nothing may be left at `output`.
fn convert_to(input: &Path, output: &Path) -> Option<Vec<u8>> {
    let write = mbz_enrol::archive::WriteOptions {
        threads: 1,
        limits: LIMITS,
        ..Default::default()
    };
    match mbz_enrol::job::convert_file_with(input, Some(output), &write, |_| Ok(options())) {
        Ok(_) => Some(read(output)),
        Err(_) => {
            assert!(!output.exists(), "a failed conversion left {output:?}");
            None
        }
    }
}

/// Arbitrary bytes as an archive: every reading command must fail cleanly or succeed, never panic; a failed
/// conversion leaves nothing behind and the input is never modified.
pub fn container(data: &[u8]) {
    let bytes = match data.split_first() {
        Some((1, tar)) => gzip(tar),
        _ => data.to_vec(),
    };
    let s = Scratch::new();
    let input = s.path("in.mbz");
    std::fs::write(&input, &bytes).expect("write input");
    let _ = mbz_enrol::archive::detect(&input);
    let _ = mbz_enrol::archive::load_limited(&input, &["course/enrolments.xml"], &LIMITS);
    let _ = mbz_enrol::job::inspect_file_limited(&input, &LIMITS);
    let _ = mbz_enrol::job::plan_file_limited(&input, &options(), &LIMITS);
    let _ = mbz_enrol::verify::verify_file_limited(&input, None, &LIMITS);
    if let Some(out) = convert_to(&input, &s.path("out.mbz")) {
        let _ = mbz_enrol::verify::verify_file_limited(&s.path("out.mbz"), Some(&input), &LIMITS);
        assert!(!out.is_empty());
    }
    assert_eq!(read(&input), bytes, "the input changed");
    let names = s.names();
    assert!(
        names.iter().all(|n| n == "in.mbz" || n == "out.mbz"),
        "stray files: {names:?}"
    );
}

/// The base backup's members (name, is a folder, data), read once.
fn base_members() -> &'static [(String, bool, Vec<u8>)] {
    static MEMBERS: std::sync::OnceLock<Vec<(String, bool, Vec<u8>)>> = std::sync::OnceLock::new();
    MEMBERS.get_or_init(|| {
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(BASE));
        let mut out = Vec::new();
        for e in ar.entries().expect("base entries") {
            let mut e = e.expect("base entry");
            let name = e.path().expect("name").to_string_lossy().into_owned();
            let dir = e.header().entry_type().is_dir();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).expect("base member");
            out.push((name, dir, data));
        }
        out
    })
}

/// A member of the base backup (empty when absent).
fn base(name: &str) -> &'static [u8] {
    base_members()
        .iter()
        .find(|m| m.0 == name)
        .map_or(&[][..], |m| m.2.as_slice())
}

/// One visit of a walk, or its result.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Name, depth, start, the whole start tag (name and attributes) as the visitor gets it.
    Open(Vec<u8>, usize, usize, String),
    /// Name, depth, span, content, leaf, empty tag.
    Close(
        Vec<u8>,
        usize,
        std::ops::Range<usize>,
        std::ops::Range<usize>,
        bool,
        bool,
    ),
    Done(String),
}

/// What a walk saw (the span scanner, or quick-xml's reader when `reference`): every visit, then its result.
fn trace(data: &[u8], reference: bool) -> Vec<Seen> {
    let mut seen = Vec::new();
    let visit = |v: xml::Visit<'_, '_>| {
        seen.push(match v {
            xml::Visit::Open(o) => Seen::Open(
                o.name.to_vec(),
                o.depth,
                o.start,
                AsRef::<str>::as_ref(o.tag).to_owned(),
            ),
            xml::Visit::Close(c) => Seen::Close(
                c.name.to_vec(),
                c.depth,
                c.span,
                c.content,
                c.leaf,
                c.empty_tag,
            ),
        });
        Ok(())
    };
    let result = if reference {
        xml::walk_quick_xml(data, visit)
    } else {
        xml::walk(data, visit)
    };
    seen.push(Seen::Done(match result {
        Ok(()) => "ok".into(),
        Err(xml::XmlError::Syntax { position, source }) => {
            format!("syntax at {position}: {source:?}")
        }
        Err(e) => format!("{e}"),
    }));
    seen
}

/// The span scanner agrees with quick-xml's reader: the same visits, the same result, the same error.
pub fn scanners_agree(data: &[u8]) {
    assert_eq!(
        trace(data, false),
        trace(data, true),
        "walk and walk_quick_xml disagree"
    );
}

/// Arbitrary bytes as enrolments.xml and as a span-edit script.
pub fn xml(data: &[u8]) {
    // The scanner alone, against quick-xml's reader.
    scanners_agree(data);
    // The rules: a rewritten document converts to itself.
    let (roles, course_roles, groups) = (
        base("roles.xml"),
        base("course/roles.xml"),
        base("groups.xml"),
    );
    let docs = Docs {
        enrolments: Some(data),
        course_roles: Some(course_roles),
        roles: Some(roles),
        groups: Some(groups),
    };
    let _ = mbz_enrol::enrol::summary::summarize(&docs);
    if let Ok(first) = convert::convert(&docs, &options()) {
        let enrolments = first.enrolments.clone().unwrap_or_else(|| data.to_vec());
        let course_roles = first
            .course_roles
            .clone()
            .unwrap_or_else(|| course_roles.to_vec());
        let groups = first.groups.clone().unwrap_or_else(|| groups.to_vec());
        let again = Docs {
            enrolments: Some(&enrolments),
            course_roles: Some(&course_roles),
            roles: Some(roles),
            groups: Some(&groups),
        };
        let second =
            convert::convert(&again, &options()).expect("a rewritten document converts again");
        assert!(
            second.enrolments.is_none() || second.enrolments.as_deref() == Some(&enrolments[..]),
            "converting twice changed enrolments.xml"
        );
        assert!(
            second.course_roles.is_none()
                || second.course_roles.as_deref() == Some(&course_roles[..]),
            "converting twice changed course/roles.xml"
        );
        assert!(
            second.groups.is_none() || second.groups.as_deref() == Some(&groups[..]),
            "converting twice changed groups.xml"
        );
    }
    splice_script(data);
}

/// Reads edits from the first bytes (4 bytes each: start, length, replacement length, filler byte) and applies
/// them to the rest; the result must equal a plain reconstruction, and overlaps must be refused.
fn splice_script(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 8);
    if rest.len() < n * 4 {
        return;
    }
    let (script, doc) = rest.split_at(n * 4);
    let mut edits = Vec::new();
    for e in script.chunks(4) {
        let start = usize::from(e[0]) * doc.len() / 256;
        let end = (start + usize::from(e[1] % 16)).min(doc.len());
        edits.push(Edit::replace(start..end, vec![e[3]; usize::from(e[2] % 8)]));
    }
    // The reference: sorted by start (stable, so inserts keep their order), refused if any two overlap.
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, !e.range.is_empty()));
    let overlap = sorted.windows(2).any(|w| w[0].range.end > w[1].range.start);
    let mut expected = Vec::new();
    let mut at = 0;
    for e in &sorted {
        expected.extend_from_slice(&doc[at.min(e.range.start)..e.range.start]);
        expected.extend_from_slice(&e.with);
        at = at.max(e.range.end);
    }
    expected.extend_from_slice(&doc[at.min(doc.len())..]);
    match xml::splice(doc, edits) {
        Ok(out) => {
            assert!(!overlap, "overlapping edits were applied");
            assert_eq!(out, expected, "bytes outside the edits changed");
        }
        Err(_) => assert!(overlap, "non-overlapping edits were refused"),
    }
}

/// One ustar member (the harness's own writer: inputs must not depend on the code under test).
fn ustar(out: &mut Vec<u8>, name: &str, data: &[u8], dir: bool) {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
        let s = format!("{v:0w$o}\0", w = len - 1);
        h[at..at + len].copy_from_slice(s.as_bytes());
    };
    octal(&mut h, 100, 8, if dir { 0o755 } else { 0o644 });
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    octal(&mut h, 124, 12, data.len() as u64);
    octal(&mut h, 136, 12, 1_700_000_000);
    h[156] = if dir { b'5' } else { b'0' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// The base backup with `docs` in place of enrolments.xml, course/roles.xml and groups.xml (and no index).
fn backup_with(docs: &[&[u8]]) -> Vec<u8> {
    let replaced = ["course/enrolments.xml", "course/roles.xml", "groups.xml"];
    let mut out = Vec::new();
    for (name, dir, data) in base_members() {
        if name == ".ARCHIVE_INDEX" {
            continue;
        }
        let data = match replaced
            .iter()
            .position(|r| r == name)
            .and_then(|i| docs.get(i))
        {
            Some(doc) => doc,
            None => data.as_slice(),
        };
        ustar(&mut out, name, data, *dir);
    }
    out.extend_from_slice(&[0u8; 1024]);
    gzip(&out)
}

/// Three documents, split at 0xff, in a real backup: the conversion is deterministic and idempotent, and when
/// the input verifies, the output verifies against it.
pub fn convert(data: &[u8]) {
    let docs: Vec<&[u8]> = data.split(|&b| b == 0xff).take(3).collect();
    let s = Scratch::new();
    let input = s.path("in.mbz");
    let bytes = backup_with(&docs);
    std::fs::write(&input, &bytes).expect("write input");
    let Some(once) = convert_to(&input, &s.path("once.mbz")) else {
        return;
    };
    let again = convert_to(&input, &s.path("again.mbz")).expect("the same input converts twice");
    assert!(once == again, "two conversions of one input differ");
    let twice =
        convert_to(&s.path("once.mbz"), &s.path("twice.mbz")).expect("an output converts again");
    assert!(once == twice, "converting an output again changed it");
    let before =
        mbz_enrol::verify::verify_file_limited(&input, None, &LIMITS).expect("input verifies");
    let after = mbz_enrol::verify::verify_file_limited(&s.path("once.mbz"), Some(&input), &LIMITS)
        .expect("output verifies");
    if before.passed {
        let failed: Vec<_> = after
            .failed()
            .map(|c| (c.name, c.failures.clone()))
            .collect();
        assert!(
            after.passed,
            "a verified input gave an output that fails: {failed:?}"
        );
    }
    assert_eq!(read(&input), bytes, "the input changed");
}
