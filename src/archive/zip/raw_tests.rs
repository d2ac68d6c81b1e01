//! The byte copier: untouched records copied byte for byte, offsets rewritten in the central directory, the
//! replaced records last, and nothing left behind when the conversion fails.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::plan::{RawPlan, raw_plan};
use super::{open, prepare, write, write_overlapped};
use crate::archive::Error;
use crate::archive::WriteOptions;
use crate::archive::output::Atomic;

const REWRITTEN: &str = "course/enrolments.xml";

/// A zip with stored, deflated and directory members, `REWRITTEN` in the middle and a comment.
fn sample(path: &Path) -> Vec<u8> {
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    z.add_directory("course/", stored).unwrap();
    z.start_file("moodle_backup.xml", deflated).unwrap();
    z.write_all(&b"<moodle_backup/>".repeat(200)).unwrap();
    z.start_file(REWRITTEN, deflated).unwrap();
    z.write_all(b"<enrolments></enrolments>").unwrap();
    z.start_file("files/ab/abcdef", stored).unwrap();
    z.write_all(&[7u8; 3000]).unwrap();
    z.start_file("groups.xml", deflated).unwrap();
    z.write_all(b"<groups/>").unwrap();
    z.set_comment("made by a test").unwrap();
    let bytes = z.finish().unwrap().into_inner();
    std::fs::write(path, &bytes).unwrap();
    bytes
}

fn plan_of(path: &Path) -> RawPlan {
    raw_plan(&open(path).unwrap(), path)
        .unwrap()
        .expect("a plain zip")
}

/// Each entry's whole local record (header, data, descriptor), by name.
fn records(bytes: &[u8], plan: &RawPlan) -> BTreeMap<String, Vec<u8>> {
    plan.entries
        .iter()
        .map(|e| {
            let (start, end) = (
                usize::try_from(e.start).unwrap(),
                usize::try_from(e.end).unwrap(),
            );
            (e.name.clone(), bytes[start..end].to_vec())
        })
        .collect()
}

fn written(input: &Path, output: &Path, replacements: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut atomic = Atomic::new(output).unwrap();
    write(
        input,
        replacements,
        &[REWRITTEN],
        &mut atomic,
        &WriteOptions::default(),
    )
    .unwrap();
    atomic.commit().unwrap();
    std::fs::read(output).unwrap()
}

fn replaced() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([(
        REWRITTEN.to_owned(),
        b"<enrolments>new</enrolments>".to_vec(),
    )])
}

#[test]
fn untouched_records_are_copied_byte_for_byte_and_offsets_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.zip"), dir.path().join("out.zip"));
    let before = sample(&input);
    let after = written(&input, &output, &replaced());
    let (plan_in, plan_out) = (plan_of(&input), plan_of(&output));
    let (rec_in, rec_out) = (records(&before, &plan_in), records(&after, &plan_out));
    // The central directory keeps the input's order; the rewritten record moved to the end of the data.
    let names = |p: &RawPlan| p.entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&plan_in), names(&plan_out));
    let last = plan_out.entries.iter().max_by_key(|e| e.start).unwrap();
    assert_eq!(last.name, REWRITTEN);
    assert_eq!(plan_out.comment, plan_in.comment);
    for (e_in, e_out) in plan_in.entries.iter().zip(&plan_out.entries) {
        // Each central record points at its own local header.
        let start = usize::try_from(e_out.start).unwrap();
        let name_len = usize::from(super::u16_at(&after, start + 26).unwrap());
        assert_eq!(
            &after[start + 30..start + 30 + name_len],
            e_out.name.as_bytes()
        );
        if e_in.name == REWRITTEN {
            continue;
        }
        assert_eq!(rec_in[&e_in.name], rec_out[&e_out.name], "{}", e_in.name);
        // Central record: the same bytes but for the local header offset.
        assert_eq!(e_in.central[..42], e_out.central[..42], "{}", e_in.name);
        assert_eq!(e_in.central[46..], e_out.central[46..], "{}", e_in.name);
    }
    // The zip crate reads the output, with the new content.
    let mut z = ZipArchive::new(Cursor::new(&after)).unwrap();
    let mut text = String::new();
    z.by_name(REWRITTEN)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "<enrolments>new</enrolments>");
    let mut data = Vec::new();
    z.by_name("files/ab/abcdef")
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    assert_eq!(data, [7u8; 3000]);
}

#[test]
fn no_replacement_gives_a_zip_whose_records_are_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.zip"), dir.path().join("out.zip"));
    let before = sample(&input);
    let after = written(&input, &output, &BTreeMap::new());
    assert_eq!(
        records(&before, &plan_of(&input)),
        records(&after, &plan_of(&output))
    );
}

#[test]
fn overlapped_write_gives_the_sequential_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (input, a, b) = (
        dir.path().join("in.zip"),
        dir.path().join("a.zip"),
        dir.path().join("b.zip"),
    );
    sample(&input);
    let sequential = written(&input, &a, &replaced());
    let opts = WriteOptions {
        threads: 2,
        ..WriteOptions::default()
    };
    let prepared = prepare(&input, &b).expect("a plain zip");
    let value = write_overlapped(&input, prepared, &[REWRITTEN], &opts, |_| {
        Ok::<_, Error>((replaced(), 3))
    })
    .unwrap();
    assert_eq!(value, 3);
    assert!(std::fs::read(&b).unwrap() == sequential);
}

#[test]
fn a_failing_conversion_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.zip"), dir.path().join("out.zip"));
    sample(&input);
    let opts = WriteOptions {
        threads: 2,
        ..WriteOptions::default()
    };
    let prepared = prepare(&input, &output).expect("a plain zip");
    let failed = write_overlapped(&input, prepared, &[REWRITTEN], &opts, |_| {
        Err::<(BTreeMap<String, Vec<u8>>, ()), _>(Error::Cancelled)
    });
    assert!(matches!(failed, Err(Error::Cancelled)));
    // A replacement outside the members written last is a bug, refused the same way.
    let prepared = prepare(&input, &output).expect("a plain zip");
    let outside = BTreeMap::from([("groups.xml".to_owned(), b"<groups/>".to_vec())]);
    let failed = write_overlapped(&input, prepared, &[REWRITTEN], &opts, |_| {
        Ok::<_, Error>((outside, ()))
    });
    assert!(matches!(failed, Err(Error::Member { .. })), "{failed:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["in.zip"]);
}

/// A name twice in the central directory is refused, and with several such names the first in name order is
/// the one named, whatever their order in the directory (as `verify` names it).
#[test]
fn duplicates_name_the_first_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.zip");
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for name in ["bb", "BB", "aa", "AA"] {
        z.start_file(name, stored).unwrap();
        z.write_all(name.as_bytes()).unwrap();
    }
    let mut bytes = z.finish().unwrap().into_inner();
    // Upper-case names made lower-case in every record: `bb` then `aa`, each twice, in that order.
    for (from, to) in [(b"BB", b"bb"), (b"AA", b"aa")] {
        while let Some(at) = bytes.windows(2).position(|w| w == from) {
            bytes[at..at + 2].copy_from_slice(to);
        }
    }
    std::fs::write(&path, &bytes).unwrap();
    match raw_plan(&open(&path).unwrap(), &path) {
        Err(Error::Duplicate { member, .. }) => assert_eq!(member, "aa"),
        other => panic!("{:?}", other.map(|p| p.map(|p| p.entries.len()))),
    }
}
