//! Broken containers: truncated, trailing garbage, corrupt zip directory, bad tar checksum, not an archive, empty.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Containers.

/// A tar.gz cut at two thirds: the gzip stream ends inside a member.
#[test]
fn truncated_gzip() {
    let b = std::fs::read(fixture("coh_basic.mbz")).unwrap();
    let c = Case::new("truncated_gzip.mbz", &b[..b.len() * 2 / 3]);
    c.convert_fails(&["member `"]);
    c.inspect_fails(&["member `"]);
    c.verify_fails(&["gzip-stream"]);
}

/// A complete tar.gz followed by non-gzip bytes (zlib's gzread, hence Moodle, ignores them).
#[test]
fn gzip_trailing_garbage() {
    let mut b = std::fs::read(fixture("coh_basic.mbz")).unwrap();
    b.extend_from_slice(&b"this is not gzip data\n".repeat(20));
    let c = Case::new("gzip_trailing_garbage.mbz", &b);
    c.convert_fails(&["after member `moodle_backup.log`"]);
    c.inspect_fails(&["after member `moodle_backup.log`"]);
    c.verify_fails(&["gzip-stream"]);
}

/// A zip cut in half: no central directory.
#[test]
fn truncated_zip() {
    let b = std::fs::read(fixture("coh_basic.zip.mbz")).unwrap();
    let c = Case::new("truncated_zip.mbz", &b[..b.len() / 2]);
    c.convert_fails(&[]);
    c.inspect_fails(&[]);
    c.verify_fails(&["zip-directory"]);
}

/// A zip whose central directory records are scrambled (the end record still points at them).
#[test]
fn zip_corrupt_central_directory() {
    let mut b = std::fs::read(fixture("coh_basic.zip.mbz")).unwrap();
    let (start, _) = zip_records(&b);
    for x in &mut b[start + 4..start + 200] {
        *x ^= 0xa5;
    }
    let c = Case::new("zip_corrupt_cd.mbz", &b);
    c.convert_fails(&[]);
    c.inspect_fails(&[]);
    c.verify_fails(&["zip-directory"]);
}

/// A tar.gz whose `course/roles.xml` header checksum is off by one.
#[test]
fn tar_bad_header_checksum() {
    let mut m = members();
    reindex(&mut m);
    let tar = tar_with(&m, |name, h| {
        if name == "course/roles.xml" {
            h[153] = if h[153] == b'7' { b'6' } else { h[153] + 1 };
        }
    });
    let c = Case::new("tar_bad_checksum.mbz", &gz(&tar));
    c.convert_fails(&["checksum", "member"]);
    c.inspect_fails(&["checksum"]);
    c.verify_fails(&["tar-ustar-headers"]);
}

/// A file that is not an archive at all.
#[test]
fn not_an_archive() {
    let c = Case::new(
        "not_an_archive.mbz",
        b"<html>hello, this is not a backup</html>\n",
    );
    c.convert_fails(&["is not a Moodle backup"]);
    c.inspect_fails(&["is not a Moodle backup"]);
    c.verify_unreadable(&[]);
}

/// An empty file.
#[test]
fn empty_file() {
    let c = Case::new("empty.mbz", b"");
    c.convert_fails(&["empty"]);
    c.inspect_fails(&["empty"]);
    c.verify_unreadable(&[]);
}

/// A backup missing a member restore stops without (`users.xml` when users are included, the course's
/// `course/roles.xml` and `groups.xml`): `convert` and `renew` refuse it naming the member, as `verify` fails it;
/// no output of it could be restored.
#[test]
fn a_member_restore_needs_missing_is_refused() {
    for missing in ["users.xml", "course/roles.xml", "groups.xml", "files.xml"] {
        let m: Vec<RawMember> = members().into_iter().filter(|m| m.0 != missing).collect();
        let c = Case::tgz(&format!("without_{}.mbz", missing.replace('/', "_")), m);
        c.convert_fails(&[&format!(
            "member `{missing}`: missing: Moodle's restore stops"
        )]);
        c.command_fails("renew", &[], &[&format!("member `{missing}`: missing")]);
        c.verify_fails(&["required-files"]);
    }
}
