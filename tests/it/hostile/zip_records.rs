//! zip records that disagree: a local header whose name, method or sizes differ from its central record, and
//! entries whose records share bytes. The central directory is the truth (libzip, hence Moodle, reads entries
//! through it); an archive two readers would read differently is refused by every command alike.

use super::*;

/// The zip fixture with member `name`'s local header name replaced by `to` (same length; the central record
/// keeps the real one).
fn local_renamed(name: &str, to: &str) -> Vec<u8> {
    assert_eq!(name.len(), to.len());
    zip_patched(name, |b, _, l| {
        b[l + 30..l + 30 + to.len()].copy_from_slice(to.as_bytes());
    })
}

/// `files.xml` (copied untouched) whose local header names it `FILES.XML`.
#[test]
fn zip_local_name_differs_copied_member() {
    let c = Case::new(
        "zip_local_name_copied.mbz",
        &local_renamed("files.xml", "FILES.XML"),
    );
    c.refused_everywhere(&["`files.xml`", "`FILES.XML`"]);
    c.verify_fails(&["zip-directory"]);
}

/// `course/enrolments.xml` (read by the rules) whose local header names it `course/enrolments.xmX`.
#[test]
fn zip_local_name_differs_read_member() {
    let c = Case::new(
        "zip_local_name_read.mbz",
        &local_renamed(ENROL, "course/enrolments.xmX"),
    );
    c.refused_everywhere(&[ENROL, "course/enrolments.xmX"]);
    c.verify_fails(&["zip-directory"]);
}

/// `course/enrolments.xml` deflated, its local header saying stored (method 0).
#[test]
fn zip_local_method_differs() {
    let b = zip_patched(ENROL, |b, _, l| {
        b[l + 8..l + 10].copy_from_slice(&0u16.to_le_bytes());
    });
    let c = Case::new("zip_local_method.mbz", &b);
    c.refused_everywhere(&[ENROL, "compression method 0"]);
    c.verify_fails(&["zip-directory"]);
}

/// `outcomes.xml` (copied untouched) whose local header says one byte more than its central record.
#[test]
fn zip_local_size_differs() {
    let b = zip_patched("outcomes.xml", |b, c, l| {
        let size = u32_at(b, c + 24) as u32 + 1;
        b[l + 22..l + 26].copy_from_slice(&size.to_le_bytes());
    });
    let c = Case::new("zip_local_size.mbz", &b);
    c.refused_everywhere(&["`outcomes.xml`", "84 bytes"]);
    c.verify_fails(&["zip-directory"]);
}

/// Member `name`'s compressed size (both records) grown so that its data runs 16 bytes into the next record,
/// whose name is returned. Its deflate stream still ends where it did, so its content reads the same.
fn overlapping(name: &str) -> (Vec<u8>, String) {
    let b = std::fs::read(fixture("coh_basic.zip.mbz")).unwrap();
    let (_, recs) = zip_records(&b);
    let r = zip_rec(&recs, name);
    let next = recs
        .iter()
        .filter(|x| x.local > r.local)
        .min_by_key(|x| x.local)
        .unwrap();
    let next_name = String::from_utf8(next.name.clone()).unwrap();
    let next_at = next.local;
    let b = zip_patched(name, |b, c, l| {
        let data = l + 30 + u16_at(b, l + 26) + u16_at(b, l + 28);
        let size = (next_at + 16 - data) as u32;
        b[c + 20..c + 24].copy_from_slice(&size.to_le_bytes());
        b[l + 18..l + 22].copy_from_slice(&size.to_le_bytes());
    });
    (b, next_name)
}

/// `outcomes.xml` (copied untouched) whose data runs into the next entry's record.
#[test]
fn zip_overlapping_entries_copied_member() {
    let (b, next) = overlapping("outcomes.xml");
    let c = Case::new("zip_overlap_copied.mbz", &b);
    c.refused_everywhere(&["`outcomes.xml`", &format!("`{next}`"), "overlaps"]);
    c.verify_fails(&["zip-directory"]);
}

/// `course/enrolments.xml` (read by the rules) whose data runs into the next entry's record.
#[test]
fn zip_overlapping_entries_read_member() {
    let (b, next) = overlapping(ENROL);
    let c = Case::new("zip_overlap_read.mbz", &b);
    c.refused_everywhere(&[ENROL, &format!("`{next}`"), "overlaps"]);
    c.verify_fails(&["zip-directory"]);
}
