//! Deterministic parallel gzip, as pigz does it: the uncompressed stream is cut into fixed-size blocks, each
//! deflated on its own core (primed with the previous block's last 32 KiB as dictionary, so the ratio stays that
//! of one stream) and ended with a sync flush, so their concatenation is one valid deflate stream inside one gzip
//! member that any gzip reader (Moodle's `gzopen`) reads. The bytes depend only on the data, the level and the
//! block size: never on the number of threads or on how the caller's writes were cut.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Uncompressed bytes per block.
pub const BLOCK: usize = 128 << 10;
/// Deflate's window: the dictionary handed from one block to the next.
const WINDOW: usize = 32 << 10;

/// One block to compress.
struct Job {
    seq: u64,
    data: Vec<u8>,
    dict: Vec<u8>,
    out: Vec<u8>,
    last: bool,
}

/// A compressed block, with its buffers back for reuse.
struct Done {
    seq: u64,
    result: io::Result<()>,
    data: Vec<u8>,
    out: Vec<u8>,
}

/// The worker threads and their channels, started with the second block (a small archive is compressed on the
/// caller's thread: no threads to start for a 30-user backup).
struct Pool {
    jobs: Sender<Job>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn start(level: u32, threads: usize) -> Self {
        let (job_tx, job_rx) = channel::<Job>();
        let (done_tx, done_rx) = channel::<Done>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&job_rx);
                let tx = done_tx.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok(mut job) = job else { return };
                        let result = compress(level, &job.data, &job.dict, job.last, &mut job.out);
                        let done = Done {
                            seq: job.seq,
                            result,
                            data: job.data,
                            out: job.out,
                        };
                        if tx.send(done).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Pool {
            jobs: job_tx,
            done: done_rx,
            workers,
        }
    }
}

/// One block, as every path compresses it: incompressible blocks (files already compressed: images, PDFs,
/// archives) are stored, since deflate would spend its time failing to find matches and gain nothing.
fn compress(level: u32, data: &[u8], dict: &[u8], last: bool, out: &mut Vec<u8>) -> io::Result<()> {
    let level = if level > 0 && incompressible(data) {
        0
    } else {
        level
    };
    deflate(data, dict, level, last, out)
}

/// [`compress`] for an archive of one block (most users-only backups): a fresh compressor, whose zeroed window
/// needs no scrub; the bytes are the same as a scrubbed one's (a test checks).
fn compress_once(
    level: u32,
    data: &[u8],
    dict: &[u8],
    last: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let level = if level > 0 && incompressible(data) {
        0
    } else {
        level
    };
    let mut c = Compress::new(Compression::new(level), false);
    deflate_with(&mut c, data, dict, last, out)
}

/// Blocks handed to the workers and not yet written: three per worker keeps two cores busy, and at most 16 (about
/// 5 MiB of buffers) keeps memory flat on machines with many cores.
fn in_flight_limit(threads: usize) -> usize {
    (threads * 3).min(threads.max(16))
}

/// A gzip writer compressing blocks on worker threads while the caller goes on producing data.
///
/// Workers block on a channel (no spinning, which on a small machine would steal the producer's core); results
/// are written strictly in block order.
pub struct ParGz<W: Write> {
    inner: W,
    level: u32,
    threads: usize,
    current: Vec<u8>,
    /// The last `WINDOW` bytes of the previous block.
    tail: Vec<u8>,
    crc: Crc,
    /// Whether the gzip header is written (or, for [`ParGz::raw`], not to be).
    header: bool,
    /// [`ParGz::raw`]: no gzip framing; `Some(true)` when the stream's final block is written here.
    raw: Option<bool>,
    written: u64,
    pool: Option<Pool>,
    next_seq: u64,
    next_write: u64,
    ready: BTreeMap<u64, Done>,
    in_flight: usize,
    /// Recycled buffers: a fresh 128 KiB allocation per block would be an mmap/munmap pair each time.
    free: Vec<Vec<u8>>,
}

impl<W: Write> ParGz<W> {
    /// A writer at `level` (0–9) compressing on up to `threads` worker threads.
    pub fn new(inner: W, level: u32, threads: usize) -> Self {
        ParGz {
            inner,
            level: level.min(9),
            threads: threads.max(1),
            // Grows to a block only when the data does: a small archive never allocates 128 KiB.
            current: Vec::new(),
            tail: Vec::new(),
            crc: Crc::new(),
            header: false,
            raw: None,
            written: 0,
            pool: None,
            next_seq: 0,
            next_write: 0,
            ready: BTreeMap::new(),
            in_flight: 0,
            free: Vec::new(),
        }
    }

    /// A stretch of raw deflate blocks, no gzip framing, primed with `dict` (the 32 KiB of output before it):
    /// the rewritten parts of a tar.gz whose untouched parts are copied compressed (`splice.rs`). It ends
    /// on a byte boundary (sync flush), or with the stream's final block when `last`. [`ParGz::finish_raw`]
    /// returns its CRC-32 and length.
    pub fn raw(inner: W, level: u32, threads: usize, dict: &[u8], last: bool) -> Self {
        let mut gz = ParGz::new(inner, level, threads);
        gz.header = true;
        gz.raw = Some(last);
        gz.tail
            .extend_from_slice(&dict[dict.len().saturating_sub(WINDOW)..]);
        gz
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

    /// Makes room for the first `bytes` of data (at most a block) at once, when the caller knows the size: the
    /// block buffer then does not grow (and copy itself) step by step.
    pub fn size_hint(&mut self, bytes: u64) {
        if self.current.is_empty() {
            self.current
                .reserve(usize::try_from(bytes).unwrap_or(BLOCK).min(BLOCK));
        }
    }

    /// Hands the current block to the workers, or compresses it here when it is the only one.
    fn submit(&mut self, last: bool) -> io::Result<()> {
        self.write_header()?;
        let next = self.free.pop().unwrap_or_default();
        let data = std::mem::replace(&mut self.current, next);
        let mut dict = self.free.pop().unwrap_or_default();
        dict.clear();
        dict.extend_from_slice(&self.tail);
        self.tail.clear();
        self.tail
            .extend_from_slice(&data[data.len().saturating_sub(WINDOW)..]);
        let mut out = self.free.pop().unwrap_or_default();
        // The end of a raw stretch is the stream's end only when the caller says so.
        let (final_submit, last) = (last, last && self.raw.unwrap_or(true));
        if final_submit && self.pool.is_none() {
            compress_once(self.level, &data, &dict, last, &mut out)?;
            self.inner.write_all(&out)?;
            self.next_seq += 1;
            self.next_write += 1;
            return Ok(());
        }
        let (level, threads) = (self.level, self.threads);
        let pool = self.pool.get_or_insert_with(|| Pool::start(level, threads));
        let job = Job {
            seq: self.next_seq,
            data,
            dict,
            out,
            last,
        };
        self.next_seq += 1;
        self.in_flight += 1;
        pool.jobs
            .send(job)
            .map_err(|_| io::Error::other("compressor thread stopped"))?;
        while self.in_flight >= in_flight_limit(self.threads) {
            self.collect_one()?;
        }
        Ok(())
    }

    /// Waits for one result and writes every block that is now next in order.
    fn collect_one(&mut self) -> io::Result<()> {
        let pool = self
            .pool
            .as_ref()
            .ok_or_else(|| io::Error::other("no compressor running"))?;
        let done = pool
            .done
            .recv()
            .map_err(|_| io::Error::other("compressor thread stopped"))?;
        self.in_flight -= 1;
        self.ready.insert(done.seq, done);
        while let Some(done) = self.ready.remove(&self.next_write) {
            done.result?;
            self.inner.write_all(&done.out)?;
            self.next_write += 1;
            for mut b in [done.data, done.out] {
                b.clear();
                self.free.push(b);
            }
        }
        Ok(())
    }

    /// Compresses what is left, writes the gzip trailer and returns the inner writer.
    ///
    /// # Errors
    /// Write errors.
    pub fn finish(mut self) -> io::Result<W> {
        self.drain()?;
        let (sum, amount) = (self.crc.sum(), self.crc.amount());
        self.inner.write_all(&sum.to_le_bytes())?;
        self.inner.write_all(&amount.to_le_bytes())?;
        self.inner.flush()?;
        // Dropping a writer without `finish` closes the job channel: the workers end on their own.
        Ok(self.inner)
    }

    /// Ends a [`ParGz::raw`] stretch: the inner writer (not flushed), and the CRC-32 and length of the data.
    ///
    /// # Errors
    /// Write errors.
    pub fn finish_raw(mut self) -> io::Result<(W, u32, u64)> {
        self.drain()?;
        let (sum, len) = (self.crc.sum(), self.written);
        Ok((self.inner, sum, len))
    }

    /// Compresses what is left and writes every block.
    fn drain(&mut self) -> io::Result<()> {
        self.submit(true)?;
        while self.in_flight > 0 {
            self.collect_one()?;
        }
        if let Some(pool) = self.pool.take() {
            drop(pool.jobs);
            for w in pool.workers {
                let _ = w.join();
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for ParGz<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.crc.update(data);
        self.written += data.len() as u64;
        let mut rest = data;
        while !rest.is_empty() {
            let take = (BLOCK - self.current.len()).min(rest.len());
            self.current.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.current.len() == BLOCK {
                self.submit(false)?;
            }
        }
        Ok(data.len())
    }

    /// Keeps the partial block: flushing it would make the bytes depend on flush points.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether `block` looks like random bytes: order-0 entropy above 7.95 bits per byte, where deflate cannot save
/// even 1% (a decision that depends only on the bytes, so output stays deterministic).
fn incompressible(block: &[u8]) -> bool {
    if block.len() < 4096 {
        return false;
    }
    // Four tables: runs of one byte (spaces, zeros) would otherwise wait on the same counter for each increment.
    // Plain indexing, no iterator adapters per byte: the same code in release, and fast enough unoptimised for
    // the debug builds the tests run (this runs on every 128 KiB block).
    let (mut t0, mut t1, mut t2, mut t3) = ([0u32; 256], [0u32; 256], [0u32; 256], [0u32; 256]);
    let mut quads = block.chunks_exact(4);
    for q in &mut quads {
        t0[q[0] as usize] += 1;
        t1[q[1] as usize] += 1;
        t2[q[2] as usize] += 1;
        t3[q[3] as usize] += 1;
    }
    for &b in quads.remainder() {
        t0[b as usize] += 1;
    }
    let mut counts = [0u32; 256];
    for i in 0..256 {
        counts[i] = t0[i] + t1[i] + t2[i] + t3[i];
    }
    let n = block.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    entropy > 7.95
}

/// Raw deflate of one block, primed with `dict`, ending on a byte boundary (sync flush) or the stream's end.
fn deflate(data: &[u8], dict: &[u8], level: u32, last: bool, out: &mut Vec<u8>) -> io::Result<()> {
    // One compressor per thread and level, reset for each block: a fresh deflate state is ~400 KiB, and
    // allocating one per block (thousands per archive, per archive in a batch) fragments the heap.
    thread_local! {
        static COMPRESSORS: std::cell::RefCell<Vec<(u32, Compress)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    COMPRESSORS.with(|cell| {
        let mut cache = cell.borrow_mut();
        let c = match cache.iter().position(|(l, _)| *l == level) {
            Some(i) => {
                let c = &mut cache[i].1;
                scrub(c, level)?;
                c
            }
            None => {
                let mut c = Compress::new(Compression::new(level), false);
                // Same starting state as a reused one.
                scrub(&mut c, level)?;
                cache.push((level, c));
                let last = cache.len() - 1;
                &mut cache[last].1
            }
        };
        deflate_with(c, data, dict, last, out)
    })
}

/// Makes a used compressor's state independent of what it compressed before.
///
/// `reset` clears the hash chains but not the window, and deflate's match search may look at bytes past the end of
/// the input (the choice among equally long matches then depends on stale bytes): the output of a reused
/// compressor would depend on which thread compressed which block before, breaking determinism. Compressing a
/// window's worth of zeros overwrites that history with the same bytes every time; a fresh state per block would
/// do too, but allocating ~400 KiB per block fragments the heap until a long batch grows without bound.
fn scrub(c: &mut Compress, level: u32) -> io::Result<()> {
    static ZEROS: [u8; 2 * WINDOW + 1024] = [0; 2 * WINDOW + 1024];
    c.reset();
    // Only the window's bytes matter, not how the zeros are coded: level 1 writes them about five times faster.
    let fast = level > 1;
    if fast {
        c.set_level(Compression::new(1)).map_err(io::Error::other)?;
    }
    let mut sink = [0u8; 4096];
    let mut fed = 0usize;
    while fed < ZEROS.len() {
        let before = c.total_in();
        c.compress(&ZEROS[fed..], &mut sink, FlushCompress::None)
            .map_err(io::Error::other)?;
        fed += usize::try_from(c.total_in() - before).unwrap_or(0);
    }
    loop {
        let status = c
            .compress(&[], &mut sink, FlushCompress::Finish)
            .map_err(io::Error::other)?;
        if status == Status::StreamEnd {
            break;
        }
    }
    c.reset();
    if fast {
        // On a reset stream (nothing fed yet) this only sets the parameters back.
        c.set_level(Compression::new(level))
            .map_err(io::Error::other)?;
    }
    Ok(())
}

fn deflate_with(
    c: &mut Compress,
    data: &[u8],
    dict: &[u8],
    last: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    out.clear();
    out.reserve(data.len() + data.len() / 16 + 1024);
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
            .compress_vec(&data[consumed.min(data.len())..], out, flush)
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
    Ok(())
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
    fn random_blocks_are_stored_text_is_compressed() {
        let mut x = 7u64;
        let random: Vec<u8> = (0..BLOCK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(incompressible(&random));
        assert!(!incompressible(&sample(BLOCK, 3)[..50_000]));
        let text: Vec<u8> = b"<user><username>x</username></user>\n"
            .iter()
            .copied()
            .cycle()
            .take(BLOCK)
            .collect();
        assert!(!incompressible(&text));
        // Stored random data costs almost nothing in size.
        let out = gz(&random, 6, 2, 4096);
        assert!(
            out.len() < random.len() + random.len() / 500 + 64,
            "{}",
            out.len()
        );
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

#[cfg(test)]
mod reuse {
    use super::*;

    fn random(seed: u64, n: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn output_does_not_depend_on_the_compressors_history() {
        let text: Vec<u8> = (0..BLOCK)
            .map(|i| b"<user><id>12</id></user>\n"[i % 25] ^ ((i / 997) as u8 & 1))
            .collect();
        let histories = [
            random(1, BLOCK),
            text.clone(),
            random(9, 5000),
            vec![7u8; BLOCK],
        ];
        let tail_text: Vec<u8> = text[..BLOCK - 100]
            .iter()
            .copied()
            .chain(random(3, 100))
            .collect();
        for level in [0u32, 1, 6, 9] {
            for (data, dict) in [(&text, &[][..]), (&tail_text, &text[BLOCK - WINDOW..])] {
                let mut outs = Vec::new();
                for h in &histories {
                    let mut c = Compress::new(Compression::new(level), false);
                    let mut scratch = Vec::new();
                    deflate_with(&mut c, h, &[], false, &mut scratch).unwrap();
                    scrub(&mut c, level).unwrap();
                    let mut out = Vec::new();
                    deflate_with(&mut c, data, dict, true, &mut out).unwrap();
                    outs.push(out);
                }
                let mut c = Compress::new(Compression::new(level), false);
                scrub(&mut c, level).unwrap();
                let mut out = Vec::new();
                deflate_with(&mut c, data, dict, true, &mut out).unwrap();
                outs.push(out);
                // A fresh compressor, not scrubbed (the one-block path).
                let mut c = Compress::new(Compression::new(level), false);
                let mut out = Vec::new();
                deflate_with(&mut c, data, dict, true, &mut out).unwrap();
                outs.push(out);
                assert!(outs.windows(2).all(|w| w[0] == w[1]), "level {level}");
            }
        }
    }
}
