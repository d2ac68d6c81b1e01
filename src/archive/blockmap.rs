//! What one inflate of a tar.gz keeps so the write can reuse the input's compressed bytes ([`super::splice`]):
//! where each deflate block starts (input byte, output offset) with the CRC-32 of its output, and the few
//! stretches of inflated bytes the write will compress again (around the members the rules may rewrite, the
//! index and the end), with the 32 KiB before each, deflate's window.
//!
//! A block's back-references reach at most 32 KiB back, so an input block whose preceding 32 KiB of output are
//! the same in the output decodes to the same bytes there: such blocks are copied, never inflated again.

/// Deflate's window: how far back a block's matches reach.
pub const WINDOW: u64 = 32 << 10;
/// How far behind the inflated position a capture may start (a member's header, read before it is known to be
/// wanted): the history keeps the block boundary before this point and the window before it.
const SLACK: u64 = 64 << 10;
/// History is trimmed once it holds this much.
const TRIM_AT: usize = 256 << 10;
/// Past this the map is given up (a deflate block inflating to many MiB): the write then compresses everything.
const MAX_HISTORY: usize = 4 << 20;

/// A deflate block boundary: `t` bytes of deflate data consumed when inflate stopped there (the boundary is in
/// the last of them, or right after it), `u` bytes of output before it, and the CRC-32 of the output from here
/// to the next mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub t: u64,
    pub u: u64,
    pub crc: u32,
}

/// The block map of one gzip member, and the captured stretches of its output.
#[derive(Debug, Clone, Default)]
pub struct BlockMap {
    /// Where the deflate data starts in the file (after the gzip header).
    pub deflate_at: u64,
    /// Block boundaries in order: the first at the stream's start, the last at its end (`t` is then the length
    /// of the deflate data, `u` the length of the output).
    pub marks: Vec<Mark>,
    /// Stretches of output kept, by starting offset (they may overlap).
    pub captures: Vec<(u64, Vec<u8>)>,
}

impl BlockMap {
    /// The output's length.
    pub fn total(&self) -> u64 {
        self.marks.last().map_or(0, |m| m.u)
    }

    /// Index of the last mark at or before output offset `x`.
    pub fn before(&self, x: u64) -> usize {
        self.marks.partition_point(|m| m.u <= x).saturating_sub(1)
    }

    /// Index of the first mark at or after output offset `x` (the end mark when none is).
    pub fn after(&self, x: u64) -> usize {
        self.marks
            .partition_point(|m| m.u < x)
            .min(self.marks.len().saturating_sub(1))
    }

    /// The captured output bytes `[a, b)`, as slices in order; `None` when some byte was not captured.
    pub fn captured(&self, mut a: u64, b: u64) -> Option<Vec<&[u8]>> {
        let mut parts = Vec::new();
        while a < b {
            let (start, bytes) = self
                .captures
                .iter()
                .filter(|(s, v)| *s <= a && a < s + v.len() as u64)
                .max_by_key(|(s, v)| s + v.len() as u64)?;
            let end = (start + bytes.len() as u64).min(b);
            parts.push(&bytes[(a - start) as usize..(end - start) as usize]);
            a = end;
        }
        Some(parts)
    }
}

/// Builds a [`BlockMap`] while a gzip member is inflated: told of every output byte and every block boundary,
/// it keeps a short history of the output to serve the captures asked for.
#[derive(Debug, Default)]
pub struct Recorder {
    map: BlockMap,
    /// CRC-32 of the current block's output so far.
    block_crc: u32,
    /// Output bytes from `hist_at` to `produced`.
    hist: Vec<u8>,
    hist_at: u64,
    produced: u64,
    /// Captures asked to start at these offsets, kept until a block boundary at least a window past them.
    pending: Vec<u64>,
    ok: bool,
    ended: bool,
}

impl Recorder {
    /// Recording from the stream's first byte; where the deflate data starts is told by [`Recorder::deflate_at`]
    /// once the gzip header is read (captures may be asked for before).
    pub fn new() -> Self {
        Recorder {
            map: BlockMap {
                deflate_at: 0,
                marks: vec![Mark { t: 0, u: 0, crc: 0 }],
                captures: Vec::new(),
            },
            ok: true,
            ..Recorder::default()
        }
    }

    /// The deflate data starts at this offset of the file (after the gzip header).
    pub fn deflate_at(&mut self, at: u64) {
        self.map.deflate_at = at;
    }

    /// Output bytes, in order.
    pub fn output(&mut self, bytes: &[u8]) {
        if !self.ok {
            return;
        }
        self.block_crc = zlib_rs::crc32::crc32(self.block_crc, bytes);
        self.hist.extend_from_slice(bytes);
        self.produced += bytes.len() as u64;
        if self.hist.len() > TRIM_AT {
            self.trim();
        }
    }

    fn trim(&mut self) {
        let recent = self.map.marks[self.map.before(self.produced.saturating_sub(SLACK))].u;
        let keep = self
            .pending
            .iter()
            .copied()
            .fold(recent.saturating_sub(WINDOW), u64::min);
        if keep > self.hist_at {
            self.hist.drain(..(keep - self.hist_at) as usize);
            self.hist_at = keep;
        }
        if self.hist.len() > MAX_HISTORY {
            self.give_up();
        }
    }

    /// Stops recording: the write will compress everything.
    pub fn give_up(&mut self) {
        self.ok = false;
        self.hist = Vec::new();
        self.map = BlockMap::default();
        self.pending.clear();
    }

    /// A block boundary at the current output offset, `t` bytes of deflate data in.
    pub fn boundary(&mut self, t: u64) {
        if !self.ok {
            return;
        }
        let u = self.produced;
        let Some(last) = self.map.marks.last_mut() else {
            return;
        };
        if last.u == u {
            // An empty block (a sync flush's): the later stop is the one to copy from (the stream's start stays
            // at byte 0, where no bit needs finding).
            if u > 0 {
                last.t = t;
            }
            return;
        }
        last.crc = self.block_crc;
        self.block_crc = 0;
        self.map.marks.push(Mark { t, u, crc: 0 });
        self.complete(|y| u >= y + WINDOW);
    }

    /// Moves the pending captures that `done` says are complete into the map.
    fn complete(&mut self, done: impl Fn(u64) -> bool) {
        let u = self.produced;
        let mut i = 0;
        while i < self.pending.len() {
            let y = self.pending[i];
            if y > u && !self.ended {
                // Not produced yet.
                i += 1;
                continue;
            }
            if y > u || y < self.hist_at {
                // Past the stream's end (the member it followed was cut short) or no longer held.
                self.give_up();
                return;
            }
            if done(y) {
                self.pending.swap_remove(i);
                let from = (y - self.hist_at) as usize;
                let to = (u - self.hist_at) as usize;
                self.map.captures.push((y, self.hist[from..to].to_vec()));
            } else {
                i += 1;
            }
        }
    }

    /// The deflate stream ended after `t` bytes.
    pub fn end(&mut self, t: u64) {
        if !self.ok || self.ended {
            return;
        }
        self.ended = true;
        let u = self.produced;
        if let Some(last) = self.map.marks.last_mut() {
            if last.u == u {
                last.t = t;
            } else {
                last.crc = self.block_crc;
                self.map.marks.push(Mark { t, u, crc: 0 });
            }
        }
        self.complete(|_| true);
    }

    /// A second gzip member: the map covers one member only.
    pub fn another_member(&mut self) {
        self.give_up();
    }

    /// Keep the output from the block boundary at or before `x` (less a window) up to `x`, which has been
    /// produced.
    pub fn want_before(&mut self, x: u64) {
        if !self.ok {
            return;
        }
        let start = self.map.marks[self.map.before(x)].u.saturating_sub(WINDOW);
        if start < self.hist_at || x > self.produced {
            self.give_up();
            return;
        }
        let bytes =
            self.hist[(start - self.hist_at) as usize..(x - self.hist_at) as usize].to_vec();
        self.map.captures.push((start, bytes));
    }

    /// Keep the output from `y` (not yet produced, or just) to the first block boundary a window past it.
    pub fn want_after(&mut self, y: u64) {
        if !self.ok {
            return;
        }
        if y < self.hist_at {
            self.give_up();
            return;
        }
        self.pending.push(y);
    }

    /// The map, when it covers the whole stream.
    pub fn finish(self) -> Option<BlockMap> {
        (self.ok && self.ended).then(|| {
            let mut map = self.map;
            // Held through the conversion: no spare capacity (a mark per 64 KiB block of a 2 GB archive).
            map.marks.shrink_to_fit();
            map.captures.shrink_to_fit();
            map
        })
    }
}
