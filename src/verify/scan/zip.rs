//! A zip read for verification: the zip reader's entries, each local header held to its central record by a
//! read of its own, the records kept apart, every member's data digested and checked.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::{Found, Scan, check_path, names, read_member};

pub(super) fn scan_zip(path: &Path, scan: &mut Scan) -> io::Result<()> {
    let f = File::open(path)?;
    let mut archive = match zip::ZipArchive::new(BufReader::new(f)) {
        Ok(a) => a,
        Err(e) => {
            scan.fail(names::ZIP, format!("central directory: {e}"));
            scan.incomplete = true;
            return Ok(());
        }
    };
    let mut seen = HashSet::new();
    let mut raw = File::open(path)?;
    // Each entry's record, from its local header to the end of its data, to find entries sharing bytes.
    let mut spans: Vec<(u64, u64, String)> = Vec::new();
    // The zip reader keeps one entry per name: look for duplicates (and NUL bytes) in the directory itself.
    if let Some(names) = crate::archive::zip_central_names(path) {
        let mut sorted = names.clone();
        sorted.sort();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            scan.fail(names::DUPLICATES, format!("member `{}` occurs twice", w[0]));
        }
        for n in names.iter().filter(|n| n.contains('\0')) {
            scan.fail(
                names::PATHS,
                format!(
                    "member `{}` has a NUL byte in its name",
                    n.replace('\0', "\\0")
                ),
            );
        }
    }
    for i in 0..archive.len() {
        let mut file = match archive.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                scan.fail(names::ZIP, format!("entry {i}: {e}"));
                scan.incomplete = true;
                continue;
            }
        };
        let member = String::from_utf8_lossy(file.name_raw()).into_owned();
        let kind = if file.is_dir() { 'd' } else { 'f' };
        let size = file.size();
        match local_header(&mut raw, &file)? {
            Ok(end) => spans.push((file.header_start(), end, member.clone())),
            Err(why) => scan.fail(names::ZIP, format!("member `{member}`: {why}")),
        }
        if member.starts_with("./") {
            scan.fail(
                names::PATHS,
                format!(
                    "member `{member}` starts with `./` (Moodle looks for bare relative paths)"
                ),
            );
        }
        check_path(scan, &member);
        if !seen.insert(member.clone()) {
            scan.fail(names::DUPLICATES, format!("member `{member}` occurs twice"));
        }
        if !scan.count(path, &member, size) {
            return Ok(());
        }
        // A member inflating past its declared size is read one byte past it, enough to tell (a bomb that lies
        // about its size costs nothing more).
        let mut bounded = (&mut file).take(size.saturating_add(1));
        let mut counted = Counted {
            inner: &mut bounded,
            n: 0,
        };
        match read_member(scan, &member, size, &mut counted) {
            Ok(digest) => {
                if counted.n != size {
                    let holds = if counted.n > size {
                        "more".to_owned()
                    } else {
                        counted.n.to_string()
                    };
                    scan.fail(
                        names::ZIP,
                        format!("member `{member}` declares {size} bytes but holds {holds}"),
                    );
                }
                scan.members.push(Found {
                    path: member,
                    kind,
                    size,
                    digest,
                });
            }
            Err(e) => {
                scan.fail(names::ZIP, format!("member `{member}`: {e}"));
                scan.incomplete = true;
            }
        }
    }
    spans.sort();
    for w in spans.windows(2).filter(|w| w[0].1 > w[1].0) {
        scan.fail(
            names::ZIP,
            format!(
                "member `{}`: its data overlaps member `{}`: entries share bytes, which readers may read differently",
                w[0].2, w[1].2
            ),
        );
    }
    Ok(())
}

/// The method id a local header would store for `m`, when the zip reader names it.
fn method_id(m: zip::CompressionMethod) -> Option<u16> {
    match m {
        zip::CompressionMethod::Stored => Some(0),
        zip::CompressionMethod::Deflated => Some(8),
        other => format!("{other:?}")
            .strip_prefix("Unsupported(")?
            .strip_suffix(')')?
            .parse()
            .ok(),
    }
}

/// Reads `entry`'s local header and holds it to its central record as libzip's consistency check does
/// (`_zip_headercomp`, `lib/zip_open.c`): name, method, and sizes unless deferred to a data descriptor (bit 3;
/// then each is zero or the same). `Ok(end of its data)`, or why they disagree.
fn local_header(
    raw: &mut File,
    entry: &zip::read::ZipFile<'_, BufReader<File>>,
) -> io::Result<Result<u64, String>> {
    let mut head = [0u8; 30];
    raw.seek(SeekFrom::Start(entry.header_start()))?;
    if raw.read_exact(&mut head).is_err() || head[..4] != *b"PK\x03\x04" {
        return Ok(Err(
            "no local header where the central directory puts it".into()
        ));
    }
    let u16_at = |at: usize| u16::from_le_bytes([head[at], head[at + 1]]);
    let u32_at =
        |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let (nl, el) = (usize::from(u16_at(26)), u64::from(u16_at(28)));
    let mut name = vec![0u8; nl];
    raw.read_exact(&mut name)?;
    let why = |s: String| {
        Ok(Err(format!(
            "{s}, which the central directory (what Moodle's zip reader follows) contradicts"
        )))
    };
    if name != entry.name_raw() {
        return why(format!(
            "its local header names it `{}`",
            String::from_utf8_lossy(&name)
        ));
    }
    if method_id(entry.compression()).is_some_and(|m| m != u16_at(8)) {
        return why(format!(
            "its local header says compression method {}",
            u16_at(8)
        ));
    }
    let (csize, usize_) = (u64::from(u32_at(18)), u64::from(u32_at(22)));
    let deferred = u16_at(6) & 8 != 0;
    let same = |l: u64, c: u64| l == c || (deferred && l == 0) || l == u64::from(u32::MAX);
    if !same(csize, entry.compressed_size()) || !same(usize_, entry.size()) {
        return why(format!(
            "its local header says {usize_} bytes compressed to {csize}"
        ));
    }
    Ok(Ok(entry.header_start()
        + 30
        + nl as u64
        + el
        + entry.compressed_size()))
}

/// Counts the bytes read through it.
struct Counted<'a> {
    inner: &'a mut dyn Read,
    n: u64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}
