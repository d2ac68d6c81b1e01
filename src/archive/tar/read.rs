//! The streaming tar reader: members, extension records applied, and their data.

use std::io::{self, Read};

use super::header::{Overrides, cstr, parse_header};
use super::{BLOCK, EXTENSION_LIMIT, Member, TarError, lossy, padding, read_full};

/// Streaming reader over an uncompressed tar stream.
///
/// Reads one block at a time from `inner`: wrap unbuffered sources (files) in a `BufReader`.
pub struct Reader<R: Read> {
    inner: R,
    /// Unread data bytes of the current member.
    remaining: u64,
    /// Padding after the current member's data, not yet skipped.
    padding: u64,
    /// Path of the last member returned, for messages.
    current: Option<Vec<u8>>,
    /// Whether a header block has been read.
    started: bool,
    /// Whether the end of the archive has been reached.
    done: bool,
    /// Zero-block bytes skipped so far, and how many may be.
    zeros: u64,
    max_zeros: u64,
    /// Bytes read from `inner` so far.
    pos: u64,
    /// The current member's record: where its first block starts, how many header blocks it has (extension
    /// records and zero blocks before it included) and its last header block as read.
    record_start: u64,
    record_blocks: u32,
    header: [u8; BLOCK],
    /// Some padding after a member's data was not zeros.
    dirty_padding: bool,
}

impl<R: Read> Reader<R> {
    /// A reader at the start of a tar stream.
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            remaining: 0,
            padding: 0,
            current: None,
            started: false,
            done: false,
            zeros: 0,
            max_zeros: u64::MAX,
            pos: 0,
            record_start: 0,
            record_blocks: 0,
            header: [0; BLOCK],
            dirty_padding: false,
        }
    }

    /// Bounds the zero blocks skipped between and after members (they count towards what the stream inflates
    /// to, like member data).
    #[must_use]
    pub fn max_zero_bytes(mut self, limit: u64) -> Self {
        self.max_zeros = limit;
        self
    }

    /// "member after `x`" (or "first member"), for errors in a header or extension record.
    fn after(&self) -> String {
        match &self.current {
            Some(path) => format!("member after `{}`", lossy(path)),
            None => "first member".to_owned(),
        }
    }

    /// "member `x`", for errors in the current member's data.
    fn this(&self) -> String {
        match &self.current {
            Some(path) => format!("member `{}`", lossy(path)),
            None => "first member".to_owned(),
        }
    }

    /// Skips `n` bytes; an early end is a truncation of the member named by `at`.
    fn skip(&mut self, n: u64, at: impl FnOnce(&Self) -> String) -> Result<(), TarError> {
        let skipped = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.pos += skipped;
        if skipped < n {
            return Err(TarError::Truncated {
                at: at(self),
                expected: n - skipped,
            });
        }
        Ok(())
    }

    /// Reads an extension record's data (capped at 1 MiB) and skips its padding.
    fn read_extension(&mut self, size: u64, record: &'static str) -> Result<Vec<u8>, TarError> {
        if size > EXTENSION_LIMIT {
            return Err(TarError::ExtensionTooLarge {
                at: self.after(),
                record,
                size,
            });
        }
        // At most 1 MiB, so the conversion cannot fail on any platform this builds for.
        let len = usize::try_from(size).map_err(|_| TarError::ExtensionTooLarge {
            at: self.after(),
            record,
            size,
        })?;
        let mut data = vec![0; len];
        let got = read_full(&mut self.inner, &mut data)?;
        self.pos += got as u64;
        if got < len {
            return Err(TarError::Truncated {
                at: self.after(),
                expected: size - got as u64 + padding(size),
            });
        }
        self.skip(padding(size), Self::after)?;
        Ok(data)
    }

    /// Next real member (extension records consumed and applied), or `None` at the end of the stream.
    ///
    /// Any unread data of the previous member is skipped first. Zero blocks (end markers, record padding) are
    /// skipped, as Moodle's extractor does, so members after an end marker are read, not dropped; the end of the
    /// stream ends the archive (with or without an end marker).
    ///
    /// # Errors
    ///
    /// The stream ends inside a header, an extension record or a member's data ([`TarError::Truncated`]); a
    /// header has no ustar magic ([`TarError::NotTar`], [`TarError::NoMagic`]), a bad checksum or a bad number;
    /// an extension record is malformed, too large or dangling; the stream is empty or fails.
    pub fn next_member(&mut self) -> Result<Option<Member>, TarError> {
        if self.done {
            return Ok(None);
        }
        let rest = self.remaining.saturating_add(self.padding);
        let skipped = io::copy(&mut (&mut self.inner).take(self.remaining), &mut io::sink())?;
        self.pos += skipped;
        if skipped < self.remaining {
            return Err(TarError::Truncated {
                at: self.this(),
                expected: rest - skipped,
            });
        }
        // The padding is read, not skipped: less than a block, and whether it is zeros tells whether the record
        // is as a strict writer writes it.
        let pad = usize::try_from(self.padding).unwrap_or(BLOCK).min(BLOCK);
        let mut zeros = [0u8; BLOCK];
        let got = read_full(&mut self.inner, &mut zeros[..pad])?;
        self.pos += got as u64;
        if got < pad {
            return Err(TarError::Truncated {
                at: self.this(),
                expected: rest - self.remaining - got as u64,
            });
        }
        self.dirty_padding |= zeros[..pad].iter().any(|&b| b != 0);
        self.remaining = 0;
        self.padding = 0;
        self.record_start = self.pos;
        self.record_blocks = 0;

        let mut overrides = Overrides::default();
        let mut pending = false;
        loop {
            let mut block = [0u8; BLOCK];
            let got = read_full(&mut self.inner, &mut block)?;
            self.pos += got as u64;
            self.record_blocks += 1;
            if got == 0 {
                if pending {
                    return Err(TarError::Truncated {
                        at: self.after(),
                        expected: BLOCK as u64,
                    });
                }
                if !self.started {
                    return Err(TarError::Empty);
                }
                self.done = true;
                return Ok(None);
            }
            if got < BLOCK {
                return Err(TarError::Truncated {
                    at: self.after(),
                    expected: (BLOCK - got) as u64,
                });
            }
            let first = !self.started;
            self.started = true;
            if block.iter().all(|&b| b == 0) {
                if pending {
                    return Err(TarError::DanglingExtension { at: self.after() });
                }
                // Moodle's tgz_extractor skips zero blocks and goes on reading headers, so members after an
                // end marker (concatenated tars) are extracted by restore: read them too, never drop them.
                self.zeros += BLOCK as u64;
                if self.zeros > self.max_zeros {
                    return Err(TarError::TooManyZeroBlocks {
                        at: self.after(),
                        limit: self.max_zeros,
                    });
                }
                continue;
            }

            let header = parse_header(&block, first, &|| self.after())?;
            let size = header.member.size;
            if header.base256_size {
                // Moodle's tgz_extractor reads the size as `octdec(substr($block, 124, 11))`
                // (lib/filestorage/tgz_extractor.php, `extract_or_list()`): binary digits are not octal, so it
                // would take another size (0 for most) and read the data as headers.
                let path = match (header.typeflag, &overrides.path) {
                    (b'L' | b'K' | b'x' | b'g', _) | (_, None) => &header.member.path,
                    (_, Some(path)) => path,
                };
                return Err(TarError::Base256Size {
                    path: String::from_utf8_lossy(path).into_owned(),
                    size,
                });
            }
            match header.typeflag {
                b'L' => {
                    let mut data = self.read_extension(size, "GNU long name")?;
                    data.truncate(cstr(&data).len());
                    overrides.path = Some(data);
                    pending = true;
                }
                b'K' => {
                    let mut data = self.read_extension(size, "GNU long link name")?;
                    data.truncate(cstr(&data).len());
                    overrides.linkname = Some(data);
                    pending = true;
                }
                b'x' => {
                    let data = self.read_extension(size, "pax header")?;
                    overrides
                        .apply_pax(&data)
                        .map_err(|reason| TarError::BadPax {
                            at: self.after(),
                            reason,
                        })?;
                    pending = true;
                }
                b'g' => {
                    // Global pax records are consumed and ignored.
                    self.read_extension(size, "pax global header")?;
                }
                _ => {
                    let mut member = header.member;
                    overrides.apply(&mut member);
                    self.remaining = member.size;
                    self.padding = padding(member.size);
                    self.current = Some(member.path.clone());
                    self.header = block;
                    return Ok(Some(member));
                }
            }
        }
    }

    /// The current member's remaining data (its padding is skipped by the next [`Reader::next_member`]).
    ///
    /// Reading past the data returns end of file. If the stream ends early, the read fails with
    /// [`io::ErrorKind::UnexpectedEof`] wrapping a [`TarError::Truncated`] that names the member.
    pub fn data(&mut self) -> Data<'_, R> {
        Data { reader: self }
    }

    /// Consumes the reader and returns the inner stream: at its end once [`Reader::next_member`] has returned
    /// `None` (the caller still drains it, so gzip checks its CRC).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The inner stream.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The member [`Reader::next_member`] returned last: where its record starts in the stream, and its header
    /// block as read when that is the record's only block (no extension record, no zero block before it).
    pub fn record(&self) -> (u64, Option<&[u8; BLOCK]>) {
        (
            self.record_start,
            (self.record_blocks == 1).then_some(&self.header),
        )
    }

    /// Whether some member's padding held other bytes than zeros.
    pub fn dirty_padding(&self) -> bool {
        self.dirty_padding
    }
}

/// The remaining data of a [`Reader`]'s current member.
pub struct Data<'a, R: Read> {
    reader: &'a mut Reader<R>,
}

impl<R: Read> Read for Data<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let reader = &mut *self.reader;
        if reader.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        // Bounded by buf.len(), so the conversion back to usize is lossless.
        let max = reader.remaining.min(buf.len() as u64) as usize;
        let n = reader.inner.read(&mut buf[..max])?;
        reader.pos += n as u64;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                TarError::Truncated {
                    at: reader.this(),
                    expected: reader.remaining.saturating_add(reader.padding),
                },
            ));
        }
        reader.remaining -= n as u64;
        Ok(n)
    }
}
