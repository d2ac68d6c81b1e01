//! Splices written over the input's own buffer, for documents the caller gives up: a rewritten document and
//! its original are never both held (a course of a hundred thousand users has tens of megabytes of each).
//! Same bytes and errors as [`splice`](super::splice) and [`splice_filled`](super::splice_filled).

use std::ops::Range;

use super::splice::{Edit, EditError};

/// [`splice`](super::splice) for an input the caller gives up: `None` when the output equals the input, else
/// the output, written over the input's own buffer ([`splice_pieces_owned`] without a fill).
///
/// # Errors
/// As [`splice`](super::splice).
pub fn splice_owned(input: Vec<u8>, edits: Vec<Edit>) -> Result<Option<Vec<u8>>, EditError> {
    splice_pieces_owned::<fn(&mut dyn FnMut(Piece<'_>))>(input, edits, None)
}

/// A piece of a spliced output: a range of the input, or other bytes.
#[derive(Debug, Clone)]
pub enum Piece<'a> {
    /// These bytes of the input.
    Input(Range<usize>),
    /// These bytes.
    Bytes(&'a [u8]),
}

impl Piece<'_> {
    fn len(&self) -> usize {
        match self {
            Piece::Input(r) => r.len(),
            Piece::Bytes(b) => b.len(),
        }
    }
}

/// A replacement given as pieces ([`splice_pieces_owned`]): `pieces` calls its argument with each piece, in order,
/// the same pieces every time.
pub struct FillPieces<F> {
    /// Bytes of the original to replace (an empty range inserts).
    pub range: Range<usize>,
    /// Gives the replacement's pieces.
    pub pieces: F,
}

/// Beyond this many runs of ascending input ranges, [`splice_pieces_owned`] writes a new buffer.
const MAX_RUNS: usize = 16;

/// Input ranges of a later run closer than this are recorded as one (a few bytes more may be set aside).
const MERGE_GAP: usize = 64;

/// [`splice_filled`](super::splice_filled) for an input the caller gives up, the filled edit given as pieces:
/// `None` when the output equals the input, else the output, written over the input's own buffer.
///
/// The output is a few runs of ascending input ranges (the text before the filled edit, the filled pieces, the
/// text after it). Just before input bytes are overwritten, those a later piece still needs are set aside: the
/// current run's bytes that the output has run ahead of, and the bytes of later runs (recorded in a first
/// pass). For `course/enrolments.xml` that is what the new enrolments outgrow the ones they replace, and the
/// instances' own lines, not a second document.
///
/// # Errors
/// As [`splice`](super::splice).
pub fn splice_pieces_owned<F>(
    input: Vec<u8>,
    mut edits: Vec<Edit>,
    fill: Option<FillPieces<F>>,
) -> Result<Option<Vec<u8>>, EditError>
where
    F: Fn(&mut dyn FnMut(Piece<'_>)),
{
    let fill_at = in_order(&mut edits, fill.as_ref());
    let n = input.len();
    // First pass: checks (as `splice`), the output's length, whether it equals the input, and its runs of
    // ascending, disjoint input ranges: where each starts (its first non-empty input piece) and, for the runs
    // after the first, the input ranges they read.
    let (mut len, mut same) = (0usize, true);
    // No piece reads input bytes that the output before it covers: then nothing needs setting aside.
    let mut behind = true;
    let mut runs: Vec<Run> = Vec::new();
    let (mut ord, mut prev_end) = (0usize, 0usize);
    for_each_piece(n, &edits, fill_at, fill.as_ref(), &mut |p| {
        let piece_len = p.len();
        let bytes = match &p {
            Piece::Input(r) => &input[r.clone()],
            Piece::Bytes(b) => b,
        };
        same = same && input.get(len..len + piece_len) == Some(bytes);
        let written = len;
        len += piece_len;
        if let Piece::Input(r) = p
            && !r.is_empty()
        {
            behind = behind && written <= r.start;
            if runs.is_empty() || r.start < prev_end {
                runs.push(Run {
                    first: ord,
                    reads: Vec::new(),
                    next: 0,
                });
            }
            if runs.len() > 1
                && runs.len() <= MAX_RUNS
                && let Some(run) = runs.last_mut()
            {
                match run.reads.last_mut() {
                    Some(last) if r.start <= last.end + MERGE_GAP => last.end = r.end,
                    _ => run.reads.push(r.clone()),
                }
            }
            prev_end = r.end;
            ord += 1;
        }
    })?;
    if same && len == n {
        return Ok(None);
    }
    if runs.len() > MAX_RUNS {
        let mut out = Vec::with_capacity(len);
        for_each_piece(n, &edits, fill_at, fill.as_ref(), &mut |p| match p {
            Piece::Input(r) => out.extend_from_slice(&input[r]),
            Piece::Bytes(b) => out.extend_from_slice(b),
        })?;
        return Ok(Some(out));
    }
    let mut buf = input;
    buf.resize(n.max(len), 0);
    if behind {
        // The output only ever overwrites bytes no later piece reads (the output before a piece ends at or before
        // the input it reads, and writes are made in order): one pass, nothing set aside. What a document whose
        // values only shrink or keep their length gets (course/roles.xml made manual).
        let mut w = 0;
        for_each_piece(n, &edits, fill_at, fill.as_ref(), &mut |p| match p {
            Piece::Input(r) => {
                let piece_len = r.len();
                buf.copy_within(r, w);
                w += piece_len;
            }
            Piece::Bytes(b) => {
                buf[w..w + b.len()].copy_from_slice(b);
                w += b.len();
            }
        })?;
        buf.truncate(len);
        buf.shrink_to_fit();
        return Ok(Some(buf));
    }
    // `ahead`: the current run's bytes that the output overwrote before they were read; `kept`: later runs'
    // bytes (the current run's too, kept before it began at `began`).
    let (mut ahead, mut kept) = (Stash::default(), Stash::default());
    let mut needed: Vec<Range<usize>> = Vec::new();
    // `floor`: no later piece of the current run reads before it.
    let (mut w, mut ord, mut run, mut began, mut floor) = (0usize, 0usize, 0usize, 0usize, 0usize);
    for_each_piece(n, &edits, fill_at, fill.as_ref(), &mut |p| {
        let piece_len = p.len();
        if piece_len == 0 {
            return;
        }
        if let Piece::Input(r) = &p {
            if run + 1 < runs.len() && runs[run + 1].first == ord {
                run += 1;
                began = w;
                ahead = Stash::default();
            }
            ord += 1;
            floor = r.end;
        }
        // Set aside what a later piece needs of the bytes about to be overwritten.
        let (lo, hi) = (w, (w + piece_len).min(n));
        if lo < hi {
            if floor.max(lo) < hi {
                ahead.keep(floor.max(lo), &buf[floor.max(lo)..hi]);
            }
            needed.clear();
            for later in runs.iter_mut().skip(run + 1) {
                while later.next < later.reads.len() && later.reads[later.next].end <= lo {
                    later.next += 1;
                }
                for r in later.reads[later.next..]
                    .iter()
                    .take_while(|r| r.start < hi)
                {
                    needed.push(r.start.max(lo)..r.end.min(hi));
                }
            }
            needed.sort_unstable_by_key(|r| r.start);
            let mut at = lo;
            for r in &needed {
                let from = r.start.max(at);
                if from < r.end {
                    kept.keep(from, &buf[from..r.end]);
                    at = r.end;
                }
            }
        }
        match p {
            Piece::Bytes(b) => buf[w..w + piece_len].copy_from_slice(b),
            Piece::Input(r) if r.start >= w => buf.copy_within(r, w),
            Piece::Input(r) => {
                // Partly or wholly overwritten already: that part was set aside.
                let split = r.end.min(w);
                if r.end > w {
                    buf.copy_within(w..r.end, w + (w - r.start));
                }
                let mid = split.clamp(r.start, began.max(r.start));
                let dest = &mut buf[w..w + (split - r.start)];
                let (before, after) = dest.split_at_mut(mid - r.start);
                kept.copy(r.start..mid, before);
                ahead.copy(mid..split, after);
            }
        }
        w += piece_len;
        ahead.trim(floor);
        // Nothing reads before the current run's floor and the later runs' first reads any more.
        let low = runs
            .iter()
            .skip(run + 1)
            .filter_map(|r| r.reads.first().map(|f| f.start))
            .fold(floor, usize::min);
        kept.trim(low);
    })?;
    buf.truncate(len);
    buf.shrink_to_fit();
    Ok(Some(buf))
}

/// The output of [`splice_pieces_owned`], not assembled: checked now, written later, piece by piece, to whatever
/// consumes it ([`Streamed::write_to`]); for a member that is only compressed, no second document is built and
/// the input is not written over.
pub struct Streamed<F> {
    input: Vec<u8>,
    edits: Vec<Edit>,
    fill_at: usize,
    fill: Option<FillPieces<F>>,
    len: usize,
}

/// [`splice_pieces_owned`]'s checks and result, the output left to be written: `None` when it equals the input.
///
/// # Errors
/// As [`splice_pieces_owned`] (the same checks, made here, so writing cannot fail on them).
pub fn splice_pieces_streamed<F>(
    input: Vec<u8>,
    mut edits: Vec<Edit>,
    fill: Option<FillPieces<F>>,
) -> Result<Option<Streamed<F>>, EditError>
where
    F: Fn(&mut dyn FnMut(Piece<'_>)),
{
    let fill_at = in_order(&mut edits, fill.as_ref());
    let n = input.len();
    let (mut len, mut same) = (0usize, true);
    for_each_piece(n, &edits, fill_at, fill.as_ref(), &mut |p| {
        let bytes = match &p {
            Piece::Input(r) => &input[r.clone()],
            Piece::Bytes(b) => b,
        };
        same = same && input.get(len..len + bytes.len()) == Some(bytes);
        len += bytes.len();
    })?;
    if same && len == n {
        return Ok(None);
    }
    Ok(Some(Streamed {
        input,
        edits,
        fill_at,
        fill,
        len,
    }))
}

impl<F> Streamed<F>
where
    F: Fn(&mut dyn FnMut(Piece<'_>)),
{
    /// The output's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for an empty output.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Gives the output to `out`, in order, in pieces (the same bytes [`splice_pieces_owned`] returns).
    pub fn write_to(&self, out: &mut dyn FnMut(&[u8])) {
        let input = &self.input;
        // Checked when made: the pieces cannot fail now.
        let _ = for_each_piece(
            input.len(),
            &self.edits,
            self.fill_at,
            self.fill.as_ref(),
            &mut |p| match p {
                Piece::Input(r) => out(&input[r]),
                Piece::Bytes(b) => out(b),
            },
        );
    }
}

/// A run of ascending, disjoint input ranges in a splice's output ([`splice_pieces_owned`]).
struct Run {
    /// Its first non-empty input piece (counted over the output).
    first: usize,
    /// The input it reads, ranges closer than [`MERGE_GAP`] merged (recorded for runs after the first).
    reads: Vec<Range<usize>>,
    /// Reads before this one end before the write position.
    next: usize,
}

/// Input bytes set aside by [`splice_pieces_owned`], in ascending segments of the input.
#[derive(Default)]
struct Stash {
    /// Each segment's input offset and bytes (from `skip` on); adjacent ones are joined.
    segments: std::collections::VecDeque<Segment>,
}

/// Input bytes `start..` are `bytes[skip..]`.
struct Segment {
    start: usize,
    skip: usize,
    bytes: Vec<u8>,
}

impl Segment {
    fn end(&self) -> usize {
        self.start + self.bytes.len() - self.skip
    }
}

impl Stash {
    /// Keeps `bytes`, the input's from `at` on (after everything kept so far).
    fn keep(&mut self, at: usize, bytes: &[u8]) {
        match self.segments.back_mut() {
            Some(seg) if seg.end() == at => seg.bytes.extend_from_slice(bytes),
            _ => self.segments.push_back(Segment {
                start: at,
                skip: 0,
                bytes: bytes.to_vec(),
            }),
        }
    }

    /// Copies the input's bytes `r`, all kept, into `out`.
    fn copy(&self, r: Range<usize>, out: &mut [u8]) {
        let mut at = r.start;
        let first = self
            .segments
            .partition_point(|seg| seg.start <= r.start)
            .saturating_sub(1);
        for seg in self.segments.range(first..) {
            if at >= r.end {
                break;
            }
            let to = r.end.min(seg.end());
            let from = seg.skip + (at - seg.start);
            out[at - r.start..to - r.start].copy_from_slice(&seg.bytes[from..from + (to - at)]);
            at = to;
        }
        debug_assert_eq!(at.max(r.start), r.end.max(r.start));
    }

    /// Forgets the bytes before `low`.
    fn trim(&mut self, low: usize) {
        while let Some(seg) = self.segments.front_mut() {
            if seg.end() <= low {
                self.segments.pop_front();
                continue;
            }
            if seg.start < low {
                seg.skip += low - seg.start;
                seg.start = low;
                // Compacted once half is dead: each byte moves at most once on average.
                if seg.skip > seg.bytes.len() / 2 {
                    seg.bytes.drain(..seg.skip);
                    seg.skip = 0;
                }
            }
            break;
        }
    }
}

/// Calls `f` with each piece of the output of `edits` (sorted) and `fill` (at `fill_at`), checking the edits
/// as [`splice`](super::splice) does.
/// Sorts `edits` by range and returns where the filled edit goes among them (after those whose range sorts at or
/// before its own), as [`for_each_piece`] takes them.
fn in_order<F>(edits: &mut [Edit], fill: Option<&FillPieces<F>>) -> usize {
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let key = |r: &Range<usize>| (r.start, r.end);
    fill.map_or(edits.len(), |f| {
        edits.partition_point(|e| key(&e.range) <= key(&f.range))
    })
}

fn for_each_piece<F>(
    n: usize,
    edits: &[Edit],
    fill_at: usize,
    fill: Option<&FillPieces<F>>,
    f: &mut dyn FnMut(Piece<'_>),
) -> Result<(), EditError>
where
    F: Fn(&mut dyn FnMut(Piece<'_>)),
{
    let mut at = 0;
    let mut last: Option<Range<usize>> = None;
    let mut step = |range: &Range<usize>, f: &mut dyn FnMut(Piece<'_>)| {
        if range.start < at || range.end > n || range.start > range.end {
            return Err(EditError {
                first: last.clone().unwrap_or(0..0),
                second: range.clone(),
            });
        }
        f(Piece::Input(at..range.start));
        at = range.end;
        last = Some(range.clone());
        Ok(())
    };
    let mut fill = fill;
    for (i, edit) in edits.iter().enumerate() {
        if i == fill_at
            && let Some(fp) = fill.take()
        {
            step(&fp.range, f)?;
            (fp.pieces)(f);
        }
        step(&edit.range, f)?;
        f(Piece::Bytes(&edit.with));
    }
    if let Some(fp) = fill {
        step(&fp.range, f)?;
        (fp.pieces)(f);
    }
    f(Piece::Input(at..n));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Rng;
    use crate::xml::{Fill, splice, splice_filled};

    #[test]
    fn owned_splice_equals_splice() {
        let x = b"0123456789";
        let cases: Vec<Vec<Edit>> = vec![
            vec![],
            vec![Edit::replace(2..4, "23")],
            vec![Edit::delete(2..4), Edit::insert(6, "23")],
            vec![Edit::replace(2..4, "a"), Edit::delete(6..8)],
            vec![Edit::replace(2..4, "abc"), Edit::delete(5..8)],
            vec![Edit::replace(2..4, "abc"), Edit::delete(6..8)],
            vec![Edit::insert(0, "x"), Edit::delete(0..1)],
            vec![Edit::delete(0..1), Edit::insert(10, "0")],
            vec![Edit::delete(9..10), Edit::insert(0, "9")],
            vec![Edit::insert(10, "!")],
            vec![Edit::delete(0..2), Edit::delete(1..3)],
            vec![Edit::delete(3..11)],
        ];
        for edits in cases {
            let want = splice(x, edits.clone());
            match (want, splice_owned(x.to_vec(), edits.clone())) {
                (Ok(w), Ok(g)) => assert_eq!((w != x).then_some(w), g, "{edits:?}"),
                (Err(w), Err(g)) => assert_eq!((w.first, w.second), (g.first, g.second)),
                (w, g) => panic!("{edits:?}: {w:?} != {g:?}"),
            }
        }
        // Shifted, yet the same bytes in the end.
        let same = vec![Edit::delete(0..1), Edit::insert(2, "a")];
        assert_eq!(splice(b"aab", same.clone()).unwrap(), b"aab");
        assert_eq!(splice_owned(b"aab".to_vec(), same).unwrap(), None);
    }

    /// Random edits over `n` bytes, and a fill of copies of random input ranges (ascending or not).
    fn random_case(rng: &mut Rng, n: usize) -> (Vec<Edit>, Range<usize>, Vec<Range<usize>>) {
        let mut edits = Vec::new();
        let mut at = 0;
        while at < n && edits.len() < 30 {
            let start = at + rng.below(n - at);
            let end = (start + rng.below(6)).min(n);
            let with: Vec<u8> = (0..rng.below(5)).map(|i| b'A' + i as u8).collect();
            edits.push(Edit::replace(start..end, with));
            at = end + 1;
        }
        let fill_at = rng.below(n + 1);
        let mut copies = Vec::new();
        let mut from = 0;
        for _ in 0..rng.below(40) {
            let start = if rng.below(4) == 0 {
                rng.below(n)
            } else {
                (from + rng.below(8)).min(n)
            };
            let end = (start + rng.below(12)).min(n);
            copies.push(start..end);
            from = end;
        }
        // The fill may replace input bytes (as `<user_enrolments/>` is replaced), not only insert.
        let fill_end = (fill_at + rng.below(4)).min(n);
        (edits, fill_at..fill_end, copies)
    }

    #[test]
    fn pieces_spliced_in_place_equal_splice() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..20_000 {
            let n = 1 + rng.below(300);
            // Random bytes: a copy taken from a wrong offset cannot give the same bytes by chance of a period.
            let input: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
            let (edits, range, copies) = random_case(&mut rng, n);
            let with = |copies: &[Range<usize>]| -> Vec<u8> {
                copies
                    .iter()
                    .flat_map(|r| input[r.clone()].to_vec())
                    .chain(*b"|")
                    .collect()
            };
            let bytes = with(&copies);
            let want = splice_filled(
                &input,
                edits.clone(),
                Fill {
                    range: range.clone(),
                    len: bytes.len(),
                    write: |out: &mut Vec<u8>| out.extend_from_slice(&bytes),
                },
            );
            let pieces = |f: &mut dyn FnMut(Piece<'_>)| {
                for r in &copies {
                    f(Piece::Input(r.clone()));
                }
                f(Piece::Bytes(b"|"));
            };
            let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                splice_pieces_owned(
                    input.clone(),
                    edits.clone(),
                    Some(FillPieces {
                        range: range.clone(),
                        pieces,
                    }),
                )
            }))
            .unwrap_or_else(|_| panic!("case {case}: n {n} {edits:?} at {range:?} {copies:?}"));
            // The same output, not assembled: checked alike, written piece by piece.
            let streamed = splice_pieces_streamed(
                input.clone(),
                edits.clone(),
                Some(FillPieces {
                    range: range.clone(),
                    pieces,
                }),
            )
            .map(|s| {
                s.map(|s| {
                    let mut out = Vec::new();
                    s.write_to(&mut |b| out.extend_from_slice(b));
                    assert_eq!(out.len(), s.len(), "case {case}");
                    out
                })
            });
            match (&got, streamed) {
                (Ok(g), Ok(s)) => assert_eq!(g, &s, "case {case}: streamed"),
                (Err(g), Err(s)) => assert_eq!((&g.first, &g.second), (&s.first, &s.second)),
                (g, s) => panic!("case {case}: {g:?} != streamed {s:?}"),
            }
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(
                    (w != input).then_some(w),
                    g,
                    "case {case}: {edits:?} {copies:?}"
                ),
                (Err(w), Err(g)) => assert_eq!((w.first, w.second), (g.first, g.second)),
                (w, g) => panic!("case {case}: {w:?} != {g:?}"),
            }
        }
    }
}
