//! Moodle's `.ARCHIVE_INDEX`: its text and its member header.

use super::{ARCHIVE_INDEX, DEFAULT_TIMESTAMP, INDEX_COUNT_PREFIX, Kind, Member};

/// Builds the index text for `members` (every member written after the index, in order, the index excluded):
/// `"Moodle archive file index. Count: N\n"`, then one `"path\tf|d\tsize\tmtime\n"` line per file or directory
/// (directories: size `0` and mtime `?`; files: size and decimal mtime). [`Kind::Other`] members are left out
/// (Moodle ignores them on extract) and not counted; N is the number of lines.
///
/// Paths are written as they are; Moodle's own paths never hold tabs or newlines.
pub fn archive_index(members: &[Member]) -> Vec<u8> {
    archive_index_with(members, |m| m.size)
}

/// [`archive_index`] with each file's size given by `size` (the size it will have once rewritten).
pub fn archive_index_with(members: &[Member], size: impl Fn(&Member) -> u64) -> Vec<u8> {
    index_of(
        members
            .iter()
            .map(|m| (m.path.as_slice(), m.kind, size(m), m.mtime)),
    )
}

/// The `.ARCHIVE_INDEX` of members given as (path, kind, size, mtime), in order.
pub fn index_of<'a>(members: impl Iterator<Item = (&'a [u8], Kind, u64, u64)>) -> Vec<u8> {
    let mut lines = Vec::new();
    let mut count = 0usize;
    for (path, kind, size, mtime) in members {
        let line = match kind {
            Kind::File => format!("\tf\t{size}\t{mtime}\n"),
            Kind::Dir => "\td\t0\t?\n".to_owned(),
            Kind::Other(_) => continue,
        };
        lines.extend_from_slice(path);
        lines.extend_from_slice(line.as_bytes());
        count += 1;
    }
    let mut out = format!("{INDEX_COUNT_PREFIX}{count}\n").into_bytes();
    out.append(&mut lines);
    out
}

/// The header metadata Moodle uses for the index member: a file with mode 0o644, mtime [`DEFAULT_TIMESTAMP`],
/// uid/gid 0, empty uname/gname and size `len`.
pub fn index_member(len: u64) -> Member {
    Member::file(ARCHIVE_INDEX, len, 0o644, DEFAULT_TIMESTAMP)
}
