//! Two tar streams back to back are read as one, as Moodle's extractor reads them.

use super::header::put_octal;
use super::*;

#[test]
fn members_after_an_end_marker_are_read_not_dropped() {
    let mut tar = Vec::new();
    let mut w = Writer::new(&mut tar);
    w.append_bytes(&Member::file(b"a.xml", 3, 0o644, 1), b"<a/")
        .unwrap();
    w.finish().unwrap();
    let mut w = Writer::new(&mut tar);
    w.append_bytes(&Member::file(b"b.xml", 3, 0o644, 1), b"<b/")
        .unwrap();
    w.finish().unwrap();
    let mut r = Reader::new(&tar[..]);
    let mut names = Vec::new();
    while let Some(m) = r.next_member().unwrap() {
        names.push(m.path_lossy());
    }
    assert_eq!(names, ["a.xml", "b.xml"]);
}

#[test]
fn huge_sizes_do_not_overflow() {
    // A pax size near u64::MAX: an error, never an overflow panic.
    let mut tar = Vec::new();
    let record = format!("29 size={}\n", u64::MAX);
    let mut h = ustar_header(&Member::file(b"PaxHeader", record.len() as u64, 0o644, 0)).unwrap();
    h[156] = b'x';
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    tar.extend_from_slice(&h);
    tar.extend_from_slice(record.as_bytes());
    tar.resize(tar.len().div_ceil(BLOCK) * BLOCK, 0);
    tar.extend_from_slice(&ustar_header(&Member::file(b"x", 0, 0o644, 0)).unwrap());
    tar.extend_from_slice(&[0u8; 2 * BLOCK]);
    let mut r = Reader::new(&tar[..]);
    let first = r.next_member().unwrap().unwrap();
    assert_eq!(first.size, u64::MAX);
    assert!(r.next_member().is_err());
}

#[test]
fn octal_fields_are_formatted_like_format() {
    for digits in [1, 7, 11] {
        for value in [0u64, 1, 7, 8, 0o644, 0o7777, 4096, 1 << 33, u64::MAX] {
            let mut field = [0xffu8; 24];
            put_octal(&mut field, value, digits);
            let text = format!("{value:0digits$o}");
            assert_eq!(
                &field[..digits],
                &text.as_bytes()[..digits],
                "{value} {digits}"
            );
            assert_eq!(field[digits], 0);
        }
    }
}
