//! Deterministic parallel gzip, as pigz does it: the uncompressed stream is cut into fixed-size blocks, each
//! deflated on its own core (primed with the previous block's last 32 KiB as dictionary, so the ratio stays that
//! of one stream) and ended with a sync flush, so their concatenation is one valid deflate stream inside one gzip
//! member that any gzip reader (Moodle's `gzopen`) reads. The bytes depend only on the data, the level and the
//! block size: never on the number of threads or on how the caller's writes were cut.

use std::io::{self, Write};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use rayon::prelude::*;

/// Uncompressed bytes per block.
pub const BLOCK: usize = 128 << 10;
/// Deflate's window: the dictionary handed from one block to the next.
const WINDOW: usize = 32 << 10;

/// A gzip writer compressing blocks in parallel.
pub struct ParGz<W: Write> {
    inner: W,
    level: u32,
    /// Full blocks waiting to be compressed, in order.
    pending: Vec<Vec<u8>>,
    /// The block being filled.
    current: Vec<u8>,
    /// The last `WINDOW` bytes before `pending[0]`.
    tail: Vec<u8>,
    crc: Crc,
    batch: usize,
    header: bool,
}

impl<W: Write> ParGz<W> {
    /// A writer at `level` (0–9) that compresses up to `threads` blocks at once.
    pub fn new(inner: W, level: u32, threads: usize) -> Self {
        ParGz {
            inner,
            level: level.min(9),
            pending: Vec::new(),
            current: Vec::with_capacity(BLOCK),
            tail: Vec::new(),
            crc: Crc::new(),
            batch: threads.max(1) * 2,
            header: false,
        }
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header {
            // Magic, deflate, no flags, mtime 0 (determinism), no extra flags, OS unknown.
            self.inner
                .write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
            self.header = true;
        }
        Ok(())
    }

    /// Compresses the pending blocks (the last one finishing the stream when `last`) and writes them in order.
    fn drain(&mut self, last: bool) -> io::Result<()> {
        self.write_header()?;
        let blocks = std::mem::take(&mut self.pending);
        let n = blocks.len();
        let level = self.level;
        let tail = std::mem::take(&mut self.tail);
        let compressed: Vec<io::Result<Vec<u8>>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let dict: &[u8] = if i == 0 {
                    &tail
                } else {
                    let prev = &blocks[i - 1];
                    &prev[prev.len().saturating_sub(WINDOW)..]
                };
                deflate(&blocks[i], dict, level, last && i + 1 == n)
            })
            .collect();
        for c in compressed {
            self.inner.write_all(&c?)?;
        }
        if let Some(b) = blocks.last() {
            self.tail = b[b.len().saturating_sub(WINDOW)..].to_vec();
        } else {
            self.tail = tail;
        }
        Ok(())
    }

    /// Compresses what is left, writes the gzip trailer and returns the inner writer.
    ///
    /// # Errors
    /// Write errors.
    pub fn finish(mut self) -> io::Result<W> {
        let current = std::mem::take(&mut self.current);
        self.pending.push(current);
        self.drain(true)?;
        self.inner.write_all(&self.crc.sum().to_le_bytes())?;
        self.inner.write_all(&self.crc.amount().to_le_bytes())?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParGz<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.crc.update(data);
        let mut rest = data;
        while !rest.is_empty() {
            let take = (BLOCK - self.current.len()).min(rest.len());
            self.current.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.current.len() == BLOCK {
                let full = std::mem::replace(&mut self.current, Vec::with_capacity(BLOCK));
                self.pending.push(full);
                if self.pending.len() >= self.batch {
                    self.drain(false)?;
                }
            }
        }
        Ok(data.len())
    }

    /// Keeps the partial block: flushing it would make the bytes depend on flush points.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Raw deflate of one block, primed with `dict`, ending on a byte boundary (sync flush) or the stream's end.
fn deflate(data: &[u8], dict: &[u8], level: u32, last: bool) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        if out.len() == out.capacity() {
            out.reserve(64 << 10);
        }
        let before_in = c.total_in();
        let before_out = c.total_out();
        let consumed = usize::try_from(before_in).unwrap_or(usize::MAX);
        let status = c
            .compress_vec(&data[consumed.min(data.len())..], &mut out, flush)
            .map_err(io::Error::other)?;
        let done_in = c.total_in() as usize >= data.len();
        match status {
            Status::StreamEnd => break,
            _ if !last && done_in && out.len() < out.capacity() => break,
            _ if c.total_in() == before_in
                && c.total_out() == before_out
                && out.len() < out.capacity() =>
            {
                return Err(io::Error::other("deflate made no progress"));
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(n: usize, seed: u64) -> Vec<u8> {
        // Half text-like, half random.
        let mut x = seed;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if (i / 50_000) % 2 == 0 {
                    b"<enrolment id=\"1\"><status>0</status></enrolment>\n"[i % 49]
                } else {
                    x as u8
                }
            })
            .collect()
    }

    fn gz(data: &[u8], level: u32, threads: usize, cut: usize) -> Vec<u8> {
        let mut w = ParGz::new(Vec::new(), level, threads);
        for piece in data.chunks(cut) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trips_and_is_deterministic() {
        for len in [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 5 * BLOCK + 77] {
            let data = sample(len, len as u64 + 1);
            let a = gz(&data, 6, 4, 1000);
            let b = gz(&data, 6, 1, 77_777);
            assert_eq!(
                a, b,
                "bytes must not depend on threads or write sizes ({len})"
            );
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&a[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{len}");
        }
    }

    #[test]
    fn levels_work_and_ratio_matches_one_stream() {
        let data = sample(3 * BLOCK, 9);
        for level in [0, 1, 6, 9] {
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz(&data, level, 2, 4096)[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
        }
        let ours = gz(&data, 6, 2, 65_536).len();
        let mut one = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        one.write_all(&data).unwrap();
        let one = one.finish().unwrap().len();
        assert!(ours as f64 <= one as f64 * 1.01 + 64.0, "{ours} vs {one}");
    }
}
