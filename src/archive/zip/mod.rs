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
pub use plan::central_names;
pub(super) use write::{Packed, deflate, deflate_pieces, prepare, write, write_overlapped};

pub(super) fn open(path: &Path) -> Result<ZipArchive<BufReader<File>>> {
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

/// Reads `buf.len()` bytes at `offset` without moving a shared position.
#[cfg(unix)]
pub(super) fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
pub(super) fn read_at(mut file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}
