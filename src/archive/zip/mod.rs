//! zip reading and rewriting: untouched members are raw-copied (same compressed bytes and CRC), rewritten
//! members are deflated with the original's timestamp and permissions.
//!
//! - [`load`](load()): the member list and the wanted members, through the zip crate's reader;
//! - `plan`: the central directory read as bytes, for the byte copier;
//! - `raw`: the byte copier (records copied as they are, offsets rewritten in the central directory);
//! - `write`: the output, sequential or overlapped with the caller's work, and the zip crate's writer for
//!   layouts the byte copier leaves alone (ZIP64).

mod load;
mod local;
mod plan;
mod raw;
mod write;

#[cfg(test)]
mod raw_tests;

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use zip::ZipArchive;
use zip::result::ZipError;

use crate::archive::{Error, Result};

pub(super) use load::load;
pub(super) use plan::RawPlan;
pub use plan::central_names;
#[cfg(test)]
pub(super) use plan::plans_made;
pub(super) use write::{Packed, deflate, deflate_pieces, prepare, write, write_overlapped};

/// The zip reader over a file.
pub(in crate::archive) type Reader = ZipArchive<BufReader<File>>;

/// What the writer has read of a zip before the first pass: its central directory as bytes, planned, and the
/// zip reader that parsed it, which the first pass takes instead of parsing the directory again.
pub(in crate::archive) struct Known<'a> {
    pub(in crate::archive) plan: &'a RawPlan,
    pub(in crate::archive) reader: Option<Reader>,
}

pub(super) fn open(path: &Path) -> Result<Reader> {
    let f = File::open(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    ZipArchive::new(BufReader::with_capacity(32 << 10, f)).map_err(zip_err(path, None))
}

pub(super) fn zip_err(path: &Path, member: Option<&str>) -> impl Fn(ZipError) -> Error {
    let path = path.to_path_buf();
    let member = member.map(str::to_owned);
    move |source| Error::Zip {
        path: path.clone(),
        member: member.clone(),
        source,
    }
}

pub(super) fn name_of(
    archive: &ZipArchive<BufReader<File>>,
    path: &Path,
    i: usize,
) -> Result<String> {
    match archive.name_for_index(i) {
        Some(Ok(n)) => Ok(n.into_owned()),
        Some(Err(e)) => Err(zip_err(path, None)(e)),
        None => Err(zip_err(path, None)(ZipError::FileNotFound)),
    }
}

pub(super) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(super) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads `buf.len()` bytes at `offset`: on unix without moving a shared position (the members inflated beside
/// the loop read the same handle, which only unix allows).
#[cfg(unix)]
pub(super) fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
pub(super) fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    seek_and_read(file, offset, buf)
}

/// [`read_at`] elsewhere: a seek, then a read (compiled and tested on every platform).
#[cfg_attr(unix, allow(dead_code))]
fn seek_and_read(mut file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeking read other platforms use reads what the positioned one reads, and fails where it fails.
    #[test]
    fn both_reads_at_an_offset_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = File::open(&path).unwrap();
        for (offset, len) in [(0, 10), (3, 5), (9, 1), (10, 0), (8, 3), (11, 1)] {
            let (mut a, mut b) = (vec![0; len], vec![0; len]);
            let (ra, rb) = (
                read_at(&file, offset, &mut a),
                seek_and_read(&file, offset, &mut b),
            );
            assert_eq!(ra.is_ok(), rb.is_ok(), "{offset} {len}");
            if ra.is_ok() {
                assert_eq!(a, b);
                assert_eq!(a, &b"0123456789"[offset as usize..offset as usize + len]);
            }
        }
    }
}
