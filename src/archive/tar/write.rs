//! The strict POSIX ustar writer.

use std::io::{self, Read, Write};

use super::header::ustar_header;
use super::{BLOCK, Member, TarError, padding};

/// Strict POSIX ustar writer, byte-compatible with Moodle's `tgz_packer::write_tar_entry`.
///
/// After an error the output is incomplete and must be discarded.
pub struct Writer<W: Write> {
    inner: W,
}

impl<W: Write> Writer<W> {
    /// A writer at the start of a tar stream.
    pub fn new(inner: W) -> Self {
        Writer { inner }
    }

    /// Writes one header (ustar only: never pax or GNU records), then exactly `member.size` bytes from `data`,
    /// then zero padding to 512. Bytes of `data` beyond `member.size` are not read.
    ///
    /// # Errors
    ///
    /// See [`ustar_header`]; [`TarError::ShortData`] if `data` ends early; I/O errors of `data` or the output.
    pub fn append(&mut self, member: &Member, data: impl Read) -> Result<(), TarError> {
        let header = ustar_header(member)?;
        self.inner.write_all(&header)?;
        let copied = io::copy(&mut data.take(member.size), &mut self.inner)?;
        if copied < member.size {
            return Err(TarError::ShortData {
                path: member.path_lossy(),
                expected: member.size,
                got: copied,
            });
        }
        self.pad(member.size)
    }

    /// Like [`Writer::append`] with in-memory data, whose length must equal `member.size`.
    ///
    /// # Errors
    ///
    /// [`TarError::SizeMismatch`] (nothing written), or as [`Writer::append`].
    pub fn append_bytes(&mut self, member: &Member, data: &[u8]) -> Result<(), TarError> {
        if data.len() as u64 != member.size {
            return Err(TarError::SizeMismatch {
                path: member.path_lossy(),
                expected: member.size,
                got: data.len() as u64,
            });
        }
        self.append(member, data)
    }

    fn pad(&mut self, size: u64) -> Result<(), TarError> {
        // Less than 512, so the conversion is lossless.
        let n = padding(size) as usize;
        self.inner.write_all(&[0u8; BLOCK][..n])?;
        Ok(())
    }

    /// Writes the end marker (2 x 512 zero bytes, exactly like Moodle: no padding to a 10240-byte record) and
    /// returns the inner writer, not flushed: the caller finishes gzip.
    ///
    /// # Errors
    ///
    /// I/O errors of the output.
    pub fn finish(mut self) -> Result<W, TarError> {
        self.inner.write_all(&[0u8; 2 * BLOCK])?;
        Ok(self.inner)
    }
}
