//! Streaming tar reader and strict POSIX-ustar writer for the inside of a `.mbz` tar.gz.
//!
//! Gzip is handled by the caller: this module works on plain (uncompressed) `Read`/`Write` tar streams and never
//! holds a member's data in memory.
//!
//! * [`Reader`] reads what real tools write: POSIX ustar, GNU (`ustar  \0` magic, `L`/`K` long-name records,
//!   base-256 numbers) and pax (`x` records: `path`, `linkpath`, `size`, `mtime`, `uid`, `gid`, `uname`, `gname`).
//!   Extension records are consumed and applied, so callers only see real members as format-neutral [`Member`]s.
//!   Old V7 headers (no magic) are rejected, as Moodle's `tgz_extractor` rejects them.
//! * [`Writer`] writes only what Moodle writes (`tgz_packer::write_tar_entry`, moodle-format.md §1.2): one 512-byte
//!   POSIX ustar header per member (never pax or GNU records), zero padding to 512, and an end marker of exactly two
//!   zero blocks with no record padding. Headers are byte-identical to Moodle's for the same metadata, so a
//!   Moodle-written archive read by [`Reader`] and written back by [`Writer`] is identical byte for byte.
//! * [`archive_index`] and [`index_member`] build Moodle's `.ARCHIVE_INDEX`, the first member of every
//!   Moodle tar.gz; Moodle's restore uses its count for progress, so it must be regenerated on every rewrite
//!   (moodle-format.md §1.3).

use std::io::{self, Read};

mod error;
mod header;
mod index;
mod read;
mod write;

#[cfg(test)]
mod concatenated_tests;
#[cfg(test)]
mod tests;

pub use error::TarError;
pub use header::ustar_header;
pub use index::{archive_index, archive_index_with, index_member, index_of};
pub use read::{Data, Reader};
pub use write::Writer;

#[cfg(test)]
use header::{NumError, Overrides, cstr, parse_numeric, parse_pax_time};

/// Size of a tar block.
const BLOCK: usize = 512;
/// Largest accepted GNU long-name or pax record data.
const EXTENSION_LIMIT: u64 = 1 << 20;
/// 8^11: the first value that does not fit 11 octal digits (size, mtime).
const OCTAL11_LIMIT: u64 = 1 << 33;
/// 8^7 - 1: the largest value that fits 7 octal digits (mode, uid, gid).
const OCTAL7_MAX: u64 = (1 << 21) - 1;
/// Longest name field (no NUL terminator needed).
const NAME_LEN: usize = 100;
/// Longest prefix field.
const PREFIX_LEN: usize = 155;
/// Longest user or group name (the 32-byte field keeps a NUL terminator).
const OWNER_NAME_MAX: usize = 31;

/// Moodle's `.ARCHIVE_INDEX` (`tgz_packer::ARCHIVE_INDEX_FILE`).
pub const ARCHIVE_INDEX: &[u8] = b".ARCHIVE_INDEX";

/// DEFAULT_TIMESTAMP used by Moodle for in-memory content (mtime `?`): 2013-01-01T00:00:00Z. Moodle also writes it
/// as the header mtime of every directory member.
pub const DEFAULT_TIMESTAMP: u64 = 1356998400;

/// First line of the index, up to the count (`tgz_packer::ARCHIVE_INDEX_COUNT_PREFIX`).
const INDEX_COUNT_PREFIX: &str = "Moodle archive file index. Count: ";

/// Kind of a tar member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Regular file (typeflag `0`, or the old `\0`).
    File,
    /// Directory (typeflag `5`).
    Dir,
    /// Anything else, as its raw typeflag: hard link `1`, symlink `2`, device `3`/`4`, FIFO `6`, contiguous file
    /// `7` (which Moodle's extractor skips, as it skips links), vendor flags.
    Other(u8),
}

/// One member's metadata, format-neutral: whatever extension records the input used have been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Full path: ustar prefix + `/` + name joined; GNU `L` and pax `path` applied. Directories written by Moodle
    /// end with `/`.
    pub path: Vec<u8>,
    /// File, directory or other.
    pub kind: Kind,
    /// Permission bits only (`mode & 0o7777`).
    pub mode: u32,
    /// Owner id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    /// Data size in bytes (0 for directories).
    pub size: u64,
    /// Link target (links only; GNU `K` and pax `linkpath` applied).
    pub linkname: Vec<u8>,
    /// Owner name (empty in Moodle's archives).
    pub uname: Vec<u8>,
    /// Group name (empty in Moodle's archives).
    pub gname: Vec<u8>,
}

impl Member {
    /// The path as text, invalid UTF-8 replaced, for messages.
    pub fn path_lossy(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }

    /// A regular file owned by uid/gid 0 with empty owner names, as Moodle writes them.
    pub fn file(path: &[u8], size: u64, mode: u32, mtime: u64) -> Member {
        Member {
            path: path.to_vec(),
            kind: Kind::File,
            mode,
            uid: 0,
            gid: 0,
            mtime,
            size,
            linkname: Vec::new(),
            uname: Vec::new(),
            gname: Vec::new(),
        }
    }

    /// A directory owned by uid/gid 0 with empty owner names. Moodle writes mode `0o755`, mtime
    /// [`DEFAULT_TIMESTAMP`] and a path ending in `/`; the path is stored as given.
    pub fn dir(path: &[u8], mode: u32, mtime: u64) -> Member {
        Member {
            kind: Kind::Dir,
            ..Member::file(path, 0, mode, mtime)
        }
    }
}

pub(super) fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// Bytes of padding after `size` bytes of data.
pub(super) fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// Reads until `buf` is full or the stream ends (retrying interrupted reads); returns the number of bytes read.
///
/// # Errors
/// The stream's own read errors.
pub fn read_full<R: Read + ?Sized>(inner: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match inner.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
