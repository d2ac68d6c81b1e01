//! Corpus builders: the fixture with edits, raw tar headers, zip records patched in place.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Corpus builders.

/// The members of the tar.gz fixture (index first).
pub(crate) fn members() -> Vec<RawMember> {
    raw_members(&fixture("coh_basic.mbz"))
}

/// Recomputes `.ARCHIVE_INDEX` when present, so only the intended damage is in the archive.
pub(crate) fn reindex(members: &mut [RawMember]) {
    let index = index_for(members);
    if let Some(m) = members.iter_mut().find(|m| m.0 == INDEX) {
        m.2 = index;
    }
}

/// The fixture with one extra member.
pub(crate) fn plus(name: &str, flag: u8, data: &[u8]) -> Vec<RawMember> {
    let mut m = members();
    m.push((name.to_owned(), flag, data.to_vec()));
    m
}

/// The fixture's `course/enrolments.xml`, as text.
pub(crate) fn enrolments() -> String {
    let m = members();
    let e = m.iter().find(|m| m.0 == ENROL).unwrap();
    String::from_utf8(e.2.clone()).unwrap()
}

/// The fixture with `course/enrolments.xml` replaced.
pub(crate) fn with_enrolments(data: Vec<u8>) -> Vec<RawMember> {
    let mut m = members();
    m.iter_mut().find(|m| m.0 == ENROL).unwrap().2 = data;
    m
}

/// `s` with `from` (which must occur exactly once) replaced by `to`.
pub(crate) fn replace_once(s: &str, from: &str, to: &str) -> String {
    assert_eq!(s.matches(from).count(), 1, "`{from}` is not unique");
    s.replacen(from, to, 1)
}

/// The first cohort enrolment (user 8) of the fixture, up to its end date.
pub(crate) const USER8: &str =
    "<userid>8</userid>\n          <timestart>0</timestart>\n          <timeend>0</timeend>";

/// gzip of `data`.
pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A raw (uncompressed) tar of the fixture's members, with `edit` applied to each header.
pub(crate) fn tar_with(
    members: &[RawMember],
    mut edit: impl FnMut(&str, &mut [u8; 512]),
) -> Vec<u8> {
    let mut tar = Vec::new();
    for (name, flag, data) in members {
        let mut h = ustar(name, *flag, data.len() as u64);
        edit(name, &mut h);
        tar.extend_from_slice(&h);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

/// Recomputes a header's checksum after an edit.
pub(crate) fn reseal(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A link, device or FIFO header (size 0).
pub(crate) fn special(name: &str, flag: u8, link: &str) -> [u8; 512] {
    let mut h = ustar(name, flag, 0);
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    if matches!(flag, b'3' | b'4') {
        h[329..337].copy_from_slice(b"0000001\0");
        h[337..345].copy_from_slice(b"0000003\0");
    }
    reseal(&mut h);
    h
}

/// Streams a tar.gz to `path`: `members`, then `extra` (header, data), no buffering of the whole archive.
pub(crate) fn write_tgz_with(path: &Path, members: &[RawMember], extra: &[([u8; 512], Vec<u8>)]) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let mut body = tar_with(members, |_, _| {});
    body.truncate(body.len() - 1024);
    for (h, data) in extra {
        body.extend_from_slice(h);
        body.extend_from_slice(data);
        body.resize(body.len().div_ceil(512) * 512, 0);
    }
    body.extend_from_slice(&[0u8; 1024]);
    gz.write_all(&body).unwrap();
    gz.finish().unwrap().flush().unwrap();
}

// zip: records located through the end-of-central-directory record, patched in place.

pub(crate) fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// One zip entry: name, offset of its central record, offset of its local header.
pub(crate) struct ZipRec {
    pub(crate) name: Vec<u8>,
    pub(crate) central: usize,
    pub(crate) local: usize,
}

/// The central directory's start and its records.
pub(crate) fn zip_records(b: &[u8]) -> (usize, Vec<ZipRec>) {
    let eocd = (0..=b.len() - 22)
        .rev()
        .find(|&i| b[i..i + 4] == [0x50, 0x4b, 5, 6])
        .expect("end of central directory");
    let (count, start) = (u16_at(b, eocd + 10), u32_at(b, eocd + 16));
    let mut at = start;
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(b[at..at + 4], [0x50, 0x4b, 1, 2]);
        let (nl, el, cl) = (u16_at(b, at + 28), u16_at(b, at + 30), u16_at(b, at + 32));
        out.push(ZipRec {
            name: b[at + 46..at + 46 + nl].to_vec(),
            central: at,
            local: u32_at(b, at + 42),
        });
        at += 46 + nl + el + cl;
    }
    (start, out)
}

pub(crate) fn zip_rec<'a>(recs: &'a [ZipRec], name: &str) -> &'a ZipRec {
    recs.iter().find(|r| r.name == name.as_bytes()).unwrap()
}

/// The zip fixture with `patch(bytes, central, local)` applied to member `name`'s records.
pub(crate) fn zip_patched(name: &str, patch: impl FnOnce(&mut Vec<u8>, usize, usize)) -> Vec<u8> {
    let mut b = std::fs::read(fixture("coh_basic.zip.mbz")).unwrap();
    let (_, recs) = zip_records(&b);
    let r = zip_rec(&recs, name);
    let (c, l) = (r.central, r.local);
    patch(&mut b, c, l);
    b
}

/// Renames a zip member in both its records (same length).
pub(crate) fn zip_rename(b: &mut [u8], from: &str, to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let (_, recs) = zip_records(b);
    let r = zip_rec(&recs, from);
    let (c, l) = (r.central, r.local);
    b[c + 46..c + 46 + to.len()].copy_from_slice(to);
    b[l + 30..l + 30 + to.len()].copy_from_slice(to);
}

/// A zip of the fixture's members, plus `extra` members, written by the zip crate (deflate).
pub(crate) fn zip_of(extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for e in util::entries(&fixture("coh_basic.zip.mbz")) {
        if e.kind == b'd' {
            w.add_directory(e.path.as_str(), opts).unwrap();
        } else {
            w.start_file(e.path.as_str(), opts).unwrap();
            w.write_all(&e.data).unwrap();
        }
    }
    for (name, data) in extra {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A tar.gz case with one extra member named `path`, converted; checks that nothing appears outside the output
/// (the tool never extracts).
pub(super) fn hostile_path_tgz(case: &str, path: &str) -> (Case, Output) {
    let outside = [
        PathBuf::from("/etc/x"),
        util::root().join("..").join("x"),
        std::env::temp_dir().join("x"),
    ];
    let existed: Vec<bool> = outside.iter().map(|p| p.exists()).collect();
    let c = Case::tgz(case, plus(path, b'0', b"hostile\n"));
    let o = c.convert();
    let after: Vec<bool> = outside.iter().map(|p| p.exists()).collect();
    assert_eq!(existed, after, "{case}: something appeared outside");
    (c, o)
}
