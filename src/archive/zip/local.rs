//! Each local header held to its central record, and the entries' records kept apart: the central directory is
//! the truth (libzip, hence Moodle, finds every entry through it), so an archive whose local headers tell another
//! story, or whose entries share bytes, is one two readers would read differently and is refused.
//!
//! The rule is libzip's consistency check (`_zip_headercomp` in `lib/zip_open.c`, used by PHP's
//! `ZipArchive::open` with `CHECKCONS`): same name and compression method, and the same sizes unless the local
//! header defers them to a data descriptor (general-purpose bit 3), in which case each is zero or the same.

use std::fs::File;
use std::path::Path;

use super::{read_at, u16_at, u32_at};
use crate::archive::Error;

/// What the central directory says of one entry.
pub(super) struct Central<'a> {
    /// The name as stored.
    pub(super) name: &'a [u8],
    /// Compression method id.
    pub(super) method: u16,
    /// Compressed and uncompressed sizes.
    pub(super) sizes: (u64, u64),
    /// Local header offset.
    pub(super) start: u64,
}

/// One entry's record in the file: from its local header to the end of its data.
#[derive(Debug, Clone)]
pub(super) struct Span {
    /// The entry's rank in the member list (its name is looked up only to report an overlap).
    pub(super) member: usize,
    pub(super) start: u64,
    pub(super) data_end: u64,
}

/// Reads the local headers: a record shorter than [`SMALL_RECORD`] brings the next [`WINDOW`] bytes along, so that
/// the headers of the small records after it (a course's files, thousands of them, in the order the central
/// directory lists them) are read in one call rather than one each; a larger record's header is read alone.
pub(super) struct Headers<'f> {
    file: &'f File,
    /// Where the reads stop: the file's length.
    limit: u64,
    /// Zeroed once, as it grows: each read overwrites its start.
    window: Vec<u8>,
    /// How much of `window` the last read filled.
    held: usize,
    /// The file offset of `window[0]`.
    at: u64,
}

/// Below this length a record's header read brings [`WINDOW`] bytes along.
const SMALL_RECORD: u64 = 4 << 10;
/// What a small record's header read brings along.
const WINDOW: u64 = 32 << 10;

impl<'f> Headers<'f> {
    pub(super) fn new(file: &'f File, limit: u64) -> Self {
        Headers {
            file,
            limit,
            window: Vec::new(),
            held: 0,
            at: 0,
        }
    }

    /// The `len` bytes at `offset`, where a record of `record` bytes starts.
    fn read(&mut self, offset: u64, len: usize, record: u64) -> std::io::Result<&[u8]> {
        let end = offset.checked_add(len as u64);
        if offset < self.at || end.is_none_or(|end| end > self.at + self.held as u64) {
            let along = if record < SMALL_RECORD {
                WINDOW.min(self.limit.saturating_sub(offset))
            } else {
                0
            };
            let want = usize::try_from(along).map_or(len, |a| a.max(len));
            if self.window.len() < want {
                self.window.resize(want, 0);
            }
            self.held = 0;
            read_at(self.file, offset, &mut self.window[..want])?;
            (self.at, self.held) = (offset, want);
        }
        let from = usize::try_from(offset - self.at).map_err(std::io::Error::other)?;
        Ok(&self.window[from..from + len])
    }
}

fn refused(path: &Path, member: &str, reason: String) -> Error {
    Error::Member {
        path: path.to_path_buf(),
        member: member.to_owned(),
        reason,
    }
}

/// Reads the local header of `c` (30 bytes and its name) and holds it to the central record; returns where the
/// entry's record lies. `member` is the entry's name and `rank` its rank in the member list; `record` the
/// length of its record, when known (for how much [`Headers`] reads along).
pub(super) fn check(
    headers: &mut Headers,
    path: &Path,
    (member, rank): (&str, usize),
    c: &Central,
    record: u64,
) -> Result<Span, Error> {
    let head = match headers.read(c.start, 30 + c.name.len(), record) {
        Ok(head) if u32_at(head, 0) == Some(0x0403_4b50) => head,
        _ => {
            return Err(refused(
                path,
                member,
                format!(
                    "no local header at byte {} where the central directory puts it: the archive is damaged",
                    c.start
                ),
            ));
        }
    };
    let field = |at| u16_at(head, at).unwrap_or(0);
    let (flags, method) = (field(6), field(8));
    let (nl, el) = (usize::from(field(26)), u64::from(field(28)));
    let disagree = |what: String| {
        refused(
            path,
            member,
            format!(
                "{what}: the local header and the central directory (which Moodle's zip reader follows) \
                 disagree, so the archive is refused"
            ),
        )
    };
    let local_name = head.get(30..30 + nl).unwrap_or(&head[30..]);
    if nl != c.name.len() || local_name != c.name {
        let mut named = local_name.to_vec();
        if nl > c.name.len() {
            // Only as much as was read: enough to show it differs.
            named.extend_from_slice(b"...");
        }
        return Err(disagree(format!(
            "its local header names it `{}`",
            String::from_utf8_lossy(&named)
        )));
    }
    if method != c.method {
        return Err(disagree(format!(
            "its local header says compression method {method}, its central record {}",
            c.method
        )));
    }
    let local = (
        u64::from(u32_at(head, 18).unwrap_or(0)),
        u64::from(u32_at(head, 22).unwrap_or(0)),
    );
    // ZIP64: the local sizes are in an extra field (0xFFFFFFFF here).
    let zip64 = local.0 == u64::from(u32::MAX) || local.1 == u64::from(u32::MAX);
    let deferred = flags & 0x0008 != 0;
    let same = |l: u64, c: u64| zip64 || l == c || (deferred && l == 0);
    if !(same(local.0, c.sizes.0) && same(local.1, c.sizes.1)) {
        return Err(disagree(format!(
            "its local header says {} bytes compressed to {}, its central record {} to {}",
            local.1, local.0, c.sizes.1, c.sizes.0
        )));
    }
    Ok(Span {
        member: rank,
        start: c.start,
        data_end: c.start + 30 + nl as u64 + el + c.sizes.0,
    })
}

/// `Err` naming both entries when one's data runs into the next record (entries sorted by offset); `name` gives
/// a member's name from its rank.
pub(super) fn apart<'n>(
    path: &Path,
    spans: &mut [Span],
    name: impl Fn(usize) -> &'n str,
) -> Result<(), Error> {
    spans.sort_by_key(|s| s.start);
    match spans.windows(2).find(|w| w[0].data_end > w[1].start) {
        None => Ok(()),
        Some(w) => Err(refused(
            path,
            name(w[0].member),
            format!(
                "its data (to byte {}) overlaps member `{}` (from byte {}): entries share bytes, so two readers \
                 could read different contents and the archive is refused",
                w[0].data_end,
                name(w[1].member),
                w[1].start
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(member: usize, start: u64, data_end: u64) -> Span {
        Span {
            member,
            start,
            data_end,
        }
    }

    #[test]
    fn records_touching_are_apart_overlapping_are_not() {
        let p = Path::new("a.mbz");
        let names = ["a", "b"];
        let mut ok = vec![span(1, 100, 200), span(0, 0, 100)];
        assert!(apart(p, &mut ok, |i| names[i]).is_ok());
        let mut bad = vec![span(1, 100, 200), span(0, 0, 101)];
        let err = apart(p, &mut bad, |i| names[i]).unwrap_err().to_string();
        assert!(
            err.contains("member `a`") && err.contains("member `b`"),
            "{err}"
        );
    }

    /// Whatever the order of the reads and the records' lengths (small ones read along, large ones alone), each
    /// read gives the file's bytes at its offset, and fails where a read of just those bytes fails.
    #[test]
    fn headers_read_what_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let len = 3 * WINDOW as usize + 123;
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = File::open(&path).unwrap();
        let mut rng = crate::testkit::Rng(3);
        let mut headers = Headers::new(&file, len as u64);
        for round in 0..4000 {
            let offset = match round % 4 {
                // Forward in small steps (the usual order), anywhere, near the end, past it.
                0 => (round * 37) % len,
                1 => rng.below(len),
                2 => len - rng.below(100).min(len),
                _ => len + rng.below(10),
            } as u64;
            // A header with its name, now and then one longer than the window (a name of up to 64 KiB).
            let want = if round % 7 == 0 {
                WINDOW as usize + rng.below(1000)
            } else {
                30 + rng.below(300)
            };
            let record = [10, 4095, 4096, 1 << 20][rng.below(4)];
            let direct = {
                let mut b = vec![0u8; want];
                read_at(&file, offset, &mut b).map(|()| b)
            };
            match (headers.read(offset, want, record), direct) {
                (Ok(got), Ok(b)) => assert_eq!(got, &b[..], "{offset} {want}"),
                (Err(_), Err(_)) => {}
                (got, b) => panic!("{offset} {want}: {:?} vs {:?}", got.is_ok(), b.is_ok()),
            }
        }
    }
}
