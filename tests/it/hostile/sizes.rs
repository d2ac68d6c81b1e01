//! Duplicate names, declared sizes past the data, gzip bombs, zip encryption and compression methods.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Duplicates and sizes.

/// `course/enrolments.xml` twice in a tar.gz (which one would restore read?).
#[test]
fn duplicate_names_tar() {
    let mut m = members();
    let e = m.iter().find(|m| m.0 == ENROL).unwrap().clone();
    m.push(e);
    let c = Case::tgz("duplicate_tar.mbz", m);
    c.convert_fails(&[ENROL, "twice"]);
    c.inspect_fails(&[ENROL, "twice"]);
    c.verify_fails(&["no-duplicate-names"]);
}

/// `course/enrolments.xml` twice in a zip (a second entry renamed in place).
#[test]
fn duplicate_names_zip() {
    let mut b = zip_of(&[("course/enrolments.xmX", enrolments().into_bytes())]);
    zip_rename(&mut b, "course/enrolments.xmX", ENROL.as_bytes());
    let c = Case::new("duplicate_zip.mbz", &b);
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["no-duplicate-names"]);
}

/// A tar member whose header declares 100 000 bytes but the archive ends after 1 000.
#[test]
fn declared_size_exceeds_data_tar() {
    let mut m = members();
    reindex(&mut m);
    let mut tar = tar_with(&m, |_, _| {});
    tar.truncate(tar.len() - 1024);
    tar.extend_from_slice(&ustar("files/short", b'0', 100_000));
    tar.extend_from_slice(&[b'x'; 1000]);
    let c = Case::new("short_member_tar.mbz", &gz(&tar));
    c.convert_fails(&["files/short"]);
    c.inspect_fails(&["files/short"]);
    c.verify_fails(&["tar-sizes"]);
}

/// A zip whose `course/enrolments.xml` declares 1 000 more bytes than its data holds.
#[test]
fn declared_size_exceeds_data_zip() {
    let b = zip_patched(ENROL, |b, c, l| {
        let size = (u32_at(b, c + 24) + 1000) as u32;
        b[c + 24..c + 28].copy_from_slice(&size.to_le_bytes());
        b[l + 22..l + 26].copy_from_slice(&size.to_le_bytes());
    });
    let c = Case::new("short_member_zip.mbz", &b);
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["zip-directory"]);
}

// ---------------------------------------------------------------------------------------------------------
// Bombs.

const MIB: u64 = 1 << 20;

/// Streams `size` zeros into `w`.
fn zeros(w: &mut impl Write, size: u64) {
    let chunk = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB);
        w.write_all(&chunk[..n as usize]).unwrap();
        left -= n;
    }
}

/// Writes the fixture as a tar.gz with member `name` replaced (or added) as `size` zeros, streamed.
fn tgz_with_zeros(path: &Path, name: &str, size: u64) {
    let mut m: Vec<RawMember> = members().into_iter().filter(|m| m.0 != name).collect();
    m.push((name.to_owned(), b'0', Vec::new()));
    // The index lists the real size.
    let mut index = String::from_utf8(index_for(&m)).unwrap();
    index = index.replace(&format!("{name}\tf\t0\t"), &format!("{name}\tf\t{size}\t"));
    m.iter_mut().find(|m| m.0 == INDEX).unwrap().2 = index.into_bytes();
    m.pop();
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let mut body = tar_with(&m, |_, _| {});
    body.truncate(body.len() - 1024);
    body.extend_from_slice(&ustar(name, b'0', size));
    gz.write_all(&body).unwrap();
    zeros(&mut gz, size);
    let pad = (512 - size % 512) % 512;
    zeros(&mut gz, pad + 1024);
    gz.finish().unwrap().flush().unwrap();
}

/// `course/enrolments.xml` of 300 MiB of zeros (past the 256 MiB cap on XML members held in memory).
#[test]
fn gzip_bomb_xml_member() {
    let c = Case::with("bomb_xml.mbz", |p| tgz_with_zeros(p, ENROL, 300 * MIB));
    c.convert_fails(&[ENROL, "too large"]);
    c.inspect_fails(&[ENROL, "too large"]);
}

/// A zip whose `course/enrolments.xml` declares its real size (13 921 bytes) but inflates to 300 MiB.
#[test]
fn gzip_bomb_zip_lying_size() {
    let mut b = zip_of(&[("course/enrolments.xmX", vec![0u8; (300 * MIB) as usize])]);
    // Drop the real one by renaming it, then give the bomb its name and a small declared size.
    zip_rename(&mut b, ENROL, b"course/enrolments.old");
    zip_rename(&mut b, "course/enrolments.xmX", ENROL.as_bytes());
    let (_, recs) = zip_records(&b);
    let r = zip_rec(&recs, ENROL);
    let (c, l) = (r.central, r.local);
    b[c + 24..c + 28].copy_from_slice(&13_921u32.to_le_bytes());
    b[l + 22..l + 26].copy_from_slice(&13_921u32.to_le_bytes());
    let c = Case::new("bomb_zip_lying.mbz", &b);
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
}

/// A non-XML member of 1 GiB of zeros: streamed through (no cap applies to members the rules do not read).
#[test]
fn gzip_bomb_large_member_streams() {
    let size = 1024 * MIB;
    let c = Case::with("bomb_1gib.mbz", |p| {
        tgz_with_zeros(p, "files/00/bomb", size)
    });
    c.convert_ok();
    // The member is kept with its size, read back with an independent reader, streamed.
    let f = std::fs::File::open(c.out()).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(f)));
    let mut found = None;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path_bytes().as_ref() == b"files/00/bomb" {
            found = Some(std::io::copy(&mut e, &mut std::io::sink()).unwrap());
        }
    }
    assert_eq!(found, Some(size));
    c.inspect_ok();
}

// ---------------------------------------------------------------------------------------------------------
// zip encryption and compression methods (patched in place in the shipped zip).

/// `course/enrolments.xml` flagged encrypted (general-purpose bit 0).
#[test]
fn zip_encrypted_read_member() {
    let b = zip_patched(ENROL, |b, c, l| {
        b[c + 8] |= 1;
        b[l + 6] |= 1;
    });
    let c = Case::new("zip_encrypted.mbz", &b);
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["zip-directory"]);
}

/// `groups.xml` (a member the rules read only when converting group members) flagged encrypted: Moodle cannot
/// restore it, so it is refused rather than copied.
#[test]
fn zip_encrypted_copied_member() {
    let b = zip_patched("files.xml", |b, c, l| {
        b[c + 8] |= 1;
        b[l + 6] |= 1;
    });
    let c = Case::new("zip_encrypted_copied.mbz", &b);
    c.convert_fails(&["files.xml"]);
    c.verify_fails(&["zip-directory"]);
}

/// `outcomes.xml` (copied untouched) whose local header lost its signature: the central directory points at
/// garbage, which Moodle's reader refuses, so it is refused here too rather than copied.
#[test]
fn zip_damaged_local_header_copied_member() {
    let b = zip_patched("outcomes.xml", |b, _, l| {
        b[l..l + 2].copy_from_slice(b"XX");
    });
    let c = Case::new("zip_bad_local_header.mbz", &b);
    c.convert_fails(&["outcomes.xml"]);
    c.inspect_fails(&["outcomes.xml"]);
    c.verify_fails(&["zip-directory"]);
}

/// `course/enrolments.xml` with compression method 99 (AES), unsupported.
#[test]
fn zip_unsupported_method_read_member() {
    let b = zip_patched(ENROL, |b, c, l| {
        b[c + 10..c + 12].copy_from_slice(&99u16.to_le_bytes());
        b[l + 8..l + 10].copy_from_slice(&99u16.to_le_bytes());
    });
    let c = Case::new("zip_method99.mbz", &b);
    c.convert_fails(&[ENROL, "compression method 99 (Aes) that Moodle cannot read"]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["zip-directory"]);
}

/// `files.xml` (copied untouched) with compression method 12 (bzip2), which this build cannot read.
#[test]
fn zip_unsupported_method_copied_member() {
    let b = zip_patched("files.xml", |b, c, l| {
        b[c + 10..c + 12].copy_from_slice(&12u16.to_le_bytes());
        b[l + 8..l + 10].copy_from_slice(&12u16.to_le_bytes());
    });
    // Moodle's libzip reads bzip2 members: an untouched one is copied as it is (verify cannot decode it here).
    let c = Case::new("zip_bzip2.mbz", &b);
    c.convert_ok();
    c.verify_fails(&["zip-directory"]);
}
