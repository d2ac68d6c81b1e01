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
    pub(super) name: String,
    pub(super) start: u64,
    pub(super) data_end: u64,
}

fn refused(path: &Path, member: &str, reason: String) -> Error {
    Error::Member {
        path: path.to_path_buf(),
        member: member.to_owned(),
        reason,
    }
}

/// Reads the local header of `c` (30 bytes and its name, one read) and holds it to the central record; returns
/// where the entry's record lies.
pub(super) fn check(file: &File, path: &Path, member: &str, c: &Central) -> Result<Span, Error> {
    let mut head = vec![0u8; 30 + c.name.len()];
    if read_at(file, c.start, &mut head).is_err() || u32_at(&head, 0) != Some(0x0403_4b50) {
        return Err(refused(
            path,
            member,
            format!(
                "no local header at byte {} where the central directory puts it: the archive is damaged",
                c.start
            ),
        ));
    }
    let field = |at| u16_at(&head, at).unwrap_or(0);
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
        u64::from(u32_at(&head, 18).unwrap_or(0)),
        u64::from(u32_at(&head, 22).unwrap_or(0)),
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
        name: member.to_owned(),
        start: c.start,
        data_end: c.start + 30 + nl as u64 + el + c.sizes.0,
    })
}

/// `Err` naming both entries when one's data runs into the next record (entries sorted by offset).
pub(super) fn apart(path: &Path, spans: &mut [Span]) -> Result<(), Error> {
    spans.sort_by_key(|s| s.start);
    match spans.windows(2).find(|w| w[0].data_end > w[1].start) {
        None => Ok(()),
        Some(w) => Err(refused(
            path,
            &w[0].name,
            format!(
                "its data (to byte {}) overlaps member `{}` (from byte {}): entries share bytes, so two readers \
                 could read different contents and the archive is refused",
                w[0].data_end, w[1].name, w[1].start
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &str, start: u64, data_end: u64) -> Span {
        Span {
            name: name.into(),
            start,
            data_end,
        }
    }

    #[test]
    fn records_touching_are_apart_overlapping_are_not() {
        let p = Path::new("a.mbz");
        let mut ok = vec![span("b", 100, 200), span("a", 0, 100)];
        assert!(apart(p, &mut ok).is_ok());
        let mut bad = vec![span("b", 100, 200), span("a", 0, 101)];
        let err = apart(p, &mut bad).unwrap_err().to_string();
        assert!(
            err.contains("member `a`") && err.contains("member `b`"),
            "{err}"
        );
    }
}
