//! A tar.gz written from its input's compressed stream: the stretches of the output that equal the input are
//! copied as compressed bytes, never inflated again nor deflated; only the stretches around a change (the
//! index, a rewritten member, the end marker) are compressed, by [`super::pgzip::ParGz`].
//!
//! The input's [`BlockMap`] (from the one inflate of the first pass) says where each deflate block starts. A
//! block's matches reach at most 32 KiB back ([`WINDOW`]), so an input block whose preceding 32 KiB are the same
//! in the output decodes to the same bytes there: each change is widened to the block boundary before it and to
//! the first boundary at least a window past it (a "gap", compressed again from the captured input bytes), and
//! the blocks between gaps are copied.
//!
//! Where a copy starts and ends inside a byte, the bits are kept where they are, so stored blocks keep their
//! alignment: before a copy, empty blocks (which add no output) fill the byte's low bits; after it, an empty
//! stored block brings the stream back to a byte boundary, as a sync flush does (RFC 1951 §3.2.3–§3.2.7).
//! Inflate stops at a block boundary in the last byte it took without saying at which bit; the bit is found by
//! decoding the next block from each of the eight places with the window before it, and keeping the one that
//! gives that block's length and CRC-32 from the first pass.
//!
//! The output is one gzip member, its CRC-32 combined from the pieces'; its bytes depend only on the input, the
//! changes and the level, never on the number of threads.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use zlib_rs::crc32::crc32_combine;
use zlib_rs::{Inflate, InflateFlush, Status};

use super::blockmap::{BlockMap, WINDOW};
use super::pgzip::ParGz;

/// Output bytes `new` in place of the input's `[at, at + del)` (both in the inflated stream).
#[derive(Debug)]
pub struct Change<'a> {
    pub at: u64,
    pub del: u64,
    pub new: Vec<Cow<'a, [u8]>>,
}

/// One piece of the output, in order.
#[derive(Debug)]
enum Piece {
    /// Input blocks from mark `from` to mark `to`, copied; bit positions of both ends in the deflate data (the
    /// end `None`: through the input's final block).
    Copy {
        from: usize,
        to: usize,
        bit_from: u64,
        bit_to: Option<u64>,
    },
    /// Input `[start, end)` with the changes in it, compressed again; `last` when it ends the stream.
    Gap {
        start: u64,
        end: u64,
        changes: std::ops::Range<usize>,
        last: bool,
    },
}

/// How the output is made of the input, decided before anything is written.
#[derive(Debug)]
pub struct Plan {
    pieces: Vec<Piece>,
}

impl Plan {
    /// How many input blocks are copied compressed.
    #[cfg(test)]
    pub fn copied_marks(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Copy { from, to, .. } => to - from,
                Piece::Gap { .. } => 0,
            })
            .sum()
    }
}

/// The plan for `changes` (sorted by `at`, not overlapping) over the input at `path`, or `None` when the
/// input's compressed bytes cannot be reused (a byte needed was not captured, a boundary's bit not found): the
/// caller then compresses everything.
pub fn plan(path: &Path, map: &BlockMap, changes: &[Change<'_>]) -> io::Result<Option<Plan>> {
    let Some(end_mark) = map.marks.len().checked_sub(1) else {
        return Ok(None);
    };
    if changes.windows(2).any(|w| w[0].at + w[0].del > w[1].at) {
        return Ok(None);
    }
    // Gaps: each change widened to the boundary before it and the first one a window past it; merged.
    let mut gaps: Vec<(usize, usize, std::ops::Range<usize>)> = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let from = map.before(c.at);
        let to = map.after(c.at + c.del + WINDOW);
        match gaps.last_mut() {
            Some(g) if from <= g.1 => {
                g.1 = g.1.max(to);
                g.2.end = i + 1;
            }
            _ => gaps.push((from, to, i..i + 1)),
        }
    }
    let mut file = File::open(path)?;
    let mut pieces = Vec::new();
    let mut cursor = 0usize;
    for (from, to, range) in gaps {
        if from > cursor {
            pieces.push(copy_piece(map, &mut file, cursor, from)?);
        }
        let (start, end) = (map.marks[from].u, map.marks[to].u);
        if !covered(map, start, end, &changes[range.clone()]) {
            return Ok(None);
        }
        pieces.push(Piece::Gap {
            start,
            end,
            changes: range,
            last: to == end_mark,
        });
        cursor = to;
    }
    if cursor < end_mark {
        pieces.push(copy_piece(map, &mut file, cursor, end_mark)?);
    }
    // A copy needs its two ends' bits, a whole byte apart; one that could not be placed gives up the plan.
    let placed = |p: &Piece| match *p {
        Piece::Copy {
            bit_from, bit_to, ..
        } => {
            let first_whole = bit_from / 8 + u64::from(bit_from % 8 != 0);
            bit_from != u64::MAX && bit_to.is_none_or(|to| to != u64::MAX && to / 8 >= first_whole)
        }
        Piece::Gap { .. } => true,
    };
    if !pieces.iter().all(placed) {
        return Ok(None);
    }
    Ok(Some(Plan { pieces }))
}

/// A copy of marks `from..to`, its ends' bits found (`u64::MAX` when one was not).
fn copy_piece(map: &BlockMap, file: &mut File, from: usize, to: usize) -> io::Result<Piece> {
    let end_mark = map.marks.len() - 1;
    let bit_from = bit_of(map, file, from)?.unwrap_or(u64::MAX);
    let bit_to = if to == end_mark {
        None
    } else {
        Some(bit_of(map, file, to)?.unwrap_or(u64::MAX))
    };
    Ok(Piece::Copy {
        from,
        to,
        bit_from,
        bit_to,
    })
}

/// Whether every input byte the gap `[start, end)` keeps (outside its changes), and the window before it, were
/// captured.
fn covered(map: &BlockMap, start: u64, end: u64, changes: &[Change<'_>]) -> bool {
    if map.captured(start.saturating_sub(WINDOW), start).is_none() {
        return false;
    }
    let mut pos = start;
    for c in changes {
        if map.captured(pos, c.at).is_none() {
            return false;
        }
        pos = c.at + c.del;
    }
    map.captured(pos, end).is_some()
}

/// The bit (from the deflate data's start) where the block at mark `i` starts: decoding from there, with the
/// window before it, gives the block's length and CRC-32.
fn bit_of(map: &BlockMap, file: &mut File, i: usize) -> io::Result<Option<u64>> {
    let mark = map.marks[i];
    if mark.t == 0 {
        return Ok(Some(0));
    }
    let Some(next) = map.marks.get(i + 1) else {
        return Ok(None);
    };
    let Some(dict) = map.captured(mark.u.saturating_sub(WINDOW), mark.u) else {
        return Ok(None);
    };
    let dict = dict.concat();
    // The block's bytes, from the byte before the stop to the byte after the next one.
    let first = mark.t - 1;
    let mut bytes = vec![0u8; (next.t + 1 - first) as usize];
    file.seek(SeekFrom::Start(map.deflate_at + first))?;
    let got = read_up_to(file, &mut bytes)?;
    bytes.truncate(got);
    let want = (next.u - mark.u, mark.crc);
    for unused in 0..8u64 {
        let bit = 8 * mark.t - unused;
        let skip = (bit - 8 * first) as usize;
        if decodes_to(&bytes, skip, &dict, want) {
            return Ok(Some(bit));
        }
    }
    Ok(None)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    super::tar::read_full(file, buf)
}

/// Whether raw inflate from bit `skip` of `bytes`, primed with `dict`, gives `want.0` bytes of CRC-32 `want.1`.
/// The bits keep their place in their bytes, after empty blocks, as [`copy`] writes them: a stored block's
/// padding then falls where it fell.
fn decodes_to(bytes: &[u8], skip: usize, dict: &[u8], want: (u64, u32)) -> bool {
    let (whole, r) = (skip / 8, (skip % 8) as u32);
    let src = &bytes[whole.min(bytes.len())..];
    let shifted: Vec<u8> = match (r, src.split_first()) {
        (0, _) | (_, None) => src.to_vec(),
        (_, Some((first, rest))) => {
            let (mut v, partial) = filler(r);
            v.push(partial | (first & (0xffu8 << r)));
            v.extend_from_slice(rest);
            v
        }
    };
    let mut inflate = Inflate::new(false, 15);
    if !dict.is_empty() && inflate.set_dictionary(dict).is_err() {
        return false;
    }
    let mut out = vec![0u8; 64 << 10];
    let (mut got, mut crc, mut used) = (0u64, 0u32, 0usize);
    loop {
        let (in0, out0) = (inflate.total_in(), inflate.total_out());
        let Ok(status) = inflate.decompress(&shifted[used..], &mut out, InflateFlush::Block) else {
            return false;
        };
        let produced = (inflate.total_out() - out0) as usize;
        used += (inflate.total_in() - in0) as usize;
        crc = zlib_rs::crc32::crc32(
            crc,
            &out[..produced.min((want.0 - got.min(want.0)) as usize)],
        );
        got += produced as u64;
        if got >= want.0 {
            return got == want.0 && crc == want.1;
        }
        if status == Status::StreamEnd || (produced == 0 && inflate.total_in() == in0) {
            return false;
        }
    }
}

/// Writes the planned output (a whole gzip member) to `out`.
///
/// # Errors
/// Read errors of the input, write errors of the output.
pub fn write<W: Write>(
    path: &Path,
    map: &BlockMap,
    changes: &[Change<'_>],
    plan: &Plan,
    out: &mut W,
    level: u32,
    threads: usize,
) -> io::Result<()> {
    // Magic, deflate, no flags, mtime 0 (determinism), no extra flags, OS unknown: as the parallel gzip writes.
    out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])?;
    let mut file = File::open(path)?;
    let (mut crc, mut len) = (0u32, 0u64);
    for piece in &plan.pieces {
        let (c, n) = match piece {
            Piece::Copy {
                from,
                to,
                bit_from,
                bit_to,
            } => {
                copy(map, &mut file, out, *bit_from, *bit_to)?;
                let marks = &map.marks[*from..=*to];
                let c = marks[..marks.len() - 1]
                    .iter()
                    .zip(&marks[1..])
                    .fold(0u32, |c, (m, n)| crc32_combine(c, m.crc, n.u - m.u));
                (c, marks[marks.len() - 1].u - marks[0].u)
            }
            Piece::Gap {
                start,
                end,
                changes: range,
                last,
            } => {
                let dict = map
                    .captured(start.saturating_sub(WINDOW), *start)
                    .unwrap_or_default()
                    .concat();
                let mut gz = ParGz::raw(&mut *out, level, threads, &dict, *last);
                let mut pos = *start;
                for c in &changes[range.clone()] {
                    for part in map.captured(pos, c.at).unwrap_or_default() {
                        gz.write_all(part)?;
                    }
                    for part in &c.new {
                        gz.write_all(part)?;
                    }
                    pos = c.at + c.del;
                }
                for part in map.captured(pos, *end).unwrap_or_default() {
                    gz.write_all(part)?;
                }
                let (_, c, n) = gz.finish_raw()?;
                (c, n)
            }
        };
        crc = crc32_combine(crc, c, n);
        len += n;
    }
    out.write_all(&crc.to_le_bytes())?;
    // ISIZE: the length modulo 2^32 (RFC 1952 §2.3.1).
    out.write_all(&(len as u32).to_le_bytes())?;
    Ok(())
}

/// Copies the deflate data's bits `[from, to)` (`to` `None`: to its end) to `out`, which is at a byte boundary
/// and is left at one.
fn copy<W: Write>(
    map: &BlockMap,
    file: &mut File,
    out: &mut W,
    from: u64,
    to: Option<u64>,
) -> io::Result<()> {
    let end = map.marks.last().map_or(0, |m| m.t);
    let byte = |file: &mut File, at: u64| -> io::Result<u8> {
        let mut b = [0u8; 1];
        file.seek(SeekFrom::Start(map.deflate_at + at))?;
        file.read_exact(&mut b)?;
        Ok(b[0])
    };
    let mut a = from / 8;
    let r = (from % 8) as u32;
    if r != 0 {
        // Empty blocks fill the low bits of the first byte, whose high bits start the copy.
        let (full, partial) = filler(r);
        out.write_all(&full)?;
        let first = partial | (byte(file, a)? & (0xffu8 << r));
        out.write_all(&[first])?;
        a += 1;
    }
    let b = to.map_or(end, |t| t / 8);
    let n = b.checked_sub(a).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a copied stretch ends before it starts",
        )
    })?;
    file.seek(SeekFrom::Start(map.deflate_at + a))?;
    let copied = io::copy(&mut (&mut *file).take(n), out)?;
    if copied < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the archive changed while being read",
        ));
    }
    if let Some(t) = to {
        let s = (t % 8) as u32;
        if s != 0 {
            // The copy's last bits, then an empty stored block: 3 zero header bits, zeros to the byte's end,
            // LEN 0 and NLEN 0xffff.
            let last = byte(file, b)? & ((1u8 << s) - 1);
            out.write_all(&[last])?;
            if s + 3 > 8 {
                out.write_all(&[0])?;
            }
            out.write_all(&[0, 0, 0xff, 0xff])?;
        }
    }
    Ok(())
}

/// Empty deflate blocks whose bits add up to `r` (1–7) modulo 8: the whole bytes, and the last byte's low `r`
/// bits. A fixed-Huffman empty block is 10 bits; the dynamic one of [`empty_dynamic`] is 95 (odd).
fn filler(r: u32) -> (Vec<u8>, u8) {
    let mut w = Bits::default();
    let statics = if r.is_multiple_of(2) {
        r / 2
    } else {
        empty_dynamic(&mut w);
        ((r + 1) % 8) / 2
    };
    for _ in 0..statics {
        // BFINAL 0, BTYPE 01 (fixed), end of block (code 0000000).
        w.put(0b010, 3);
        w.put(0, 7);
    }
    w.flush_whole();
    debug_assert_eq!(w.n, r);
    let partial = (w.acc & ((1 << w.n) - 1)) as u8;
    (w.out, partial)
}

/// An empty dynamic-Huffman block of 95 bits: the literal/length code has one symbol (end of block, length 1,
/// allowed incomplete as zlib's `inflate_table` allows a single code), no distance code.
fn empty_dynamic(w: &mut Bits) {
    // BFINAL 0, BTYPE 10; HLIT 0 (257 codes), HDIST 0 (1 code), HCLEN 15 (19 code length codes).
    w.put(0b100, 3);
    w.put(0, 5);
    w.put(0, 5);
    w.put(15, 4);
    // Code length code lengths in RFC 1951's order: 18 gets 1 bit, 0 and 1 get 2 bits (a complete code).
    const ORDER: [u8; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    for sym in ORDER {
        let len = match sym {
            18 => 1,
            0 | 1 => 2,
            _ => 0,
        };
        w.put(len, 3);
    }
    // Canonical codes: 18 -> 0, 0 -> 10, 1 -> 11, written first bit first (so reversed here).
    // 256 zero lengths as two runs (138 and 118: code 18 with 7 extra bits), then length 1 for end of block,
    // then the one distance code's length 0.
    w.put(0, 1);
    w.put(138 - 11, 7);
    w.put(0, 1);
    w.put(118 - 11, 7);
    w.put(0b11, 2);
    w.put(0b01, 2);
    // The block: end of block, code 0.
    w.put(0, 1);
}

/// A little-endian bit writer (deflate's order).
#[derive(Default)]
struct Bits {
    acc: u64,
    n: u32,
    out: Vec<u8>,
}

impl Bits {
    fn put(&mut self, value: u64, bits: u32) {
        self.acc |= value << self.n;
        self.n += bits;
        while self.n >= 16 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn flush_whole(&mut self) {
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
}

#[cfg(test)]
#[path = "splice_tests.rs"]
mod tests;
