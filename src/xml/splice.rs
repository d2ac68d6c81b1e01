//! Applies byte-span edits to an original document.

use std::ops::Range;

/// Replace `range` of the original with `with` (an empty range inserts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Bytes of the original to replace.
    pub range: Range<usize>,
    /// Replacement bytes.
    pub with: Vec<u8>,
}

impl Edit {
    /// Replaces `range` with `with`.
    pub fn replace(range: Range<usize>, with: impl Into<Vec<u8>>) -> Self {
        Edit {
            range,
            with: with.into(),
        }
    }

    /// Deletes `range`.
    pub fn delete(range: Range<usize>) -> Self {
        Edit {
            range,
            with: Vec::new(),
        }
    }

    /// Inserts `with` at `at`.
    pub fn insert(at: usize, with: impl Into<Vec<u8>>) -> Self {
        Edit {
            range: at..at,
            with: with.into(),
        }
    }
}

/// Two edits touch the same bytes (a bug in the caller's rules, never the input's fault).
#[derive(Debug, thiserror::Error)]
#[error("overlapping edits at bytes {first:?} and {second:?}")]
pub struct EditError {
    /// The earlier edit.
    pub first: Range<usize>,
    /// The edit that overlaps it.
    pub second: Range<usize>,
}

/// Applies `edits` to `input`. Insertions at the same offset keep their order and come before a replacement
/// that starts there. With no edits the output equals the input.
///
/// # Errors
/// [`EditError`] if two edits overlap or one lies outside `input`.
pub fn splice(input: &[u8], edits: Vec<Edit>) -> Result<Vec<u8>, EditError> {
    apply::<fn(&mut Vec<u8>)>(input, edits, None)
}

/// A replacement written straight into the output by [`splice_filled`]: `len` bytes for `range`.
pub struct Fill<F> {
    /// Bytes of the original to replace (an empty range inserts).
    pub range: Range<usize>,
    /// How many bytes `write` appends.
    pub len: usize,
    /// Appends the replacement to the output.
    pub write: F,
}

/// [`splice`] with one more edit, as if pushed last, whose replacement `fill` writes into the output itself: a
/// large replacement built from pieces of the input need not be held as well as the output.
///
/// # Errors
/// As [`splice`].
pub fn splice_filled<F: FnOnce(&mut Vec<u8>)>(
    input: &[u8],
    edits: Vec<Edit>,
    fill: Fill<F>,
) -> Result<Vec<u8>, EditError> {
    apply(input, edits, Some(fill))
}

fn apply<F: FnOnce(&mut Vec<u8>)>(
    input: &[u8],
    mut edits: Vec<Edit>,
    fill: Option<Fill<F>>,
) -> Result<Vec<u8>, EditError> {
    // Stable sort: insertions (empty ranges) at an offset sort before a replacement starting there.
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let key = |r: &Range<usize>| (r.start, r.end);
    // The filled edit goes where a stable sort puts an edit pushed last: after every edit sorting equal to it.
    let fill_at = fill.as_ref().map_or(edits.len(), |f| {
        edits.partition_point(|e| key(&e.range) <= key(&f.range))
    });
    let grown = |n: usize, range: &Range<usize>, len: usize| {
        (n + len).saturating_sub(range.end.saturating_sub(range.start))
    };
    let mut capacity = edits[..fill_at]
        .iter()
        .fold(input.len(), |n, e| grown(n, &e.range, e.with.len()));
    if let Some(f) = &fill {
        capacity = grown(capacity, &f.range, f.len);
    }
    let capacity = edits[fill_at..]
        .iter()
        .fold(capacity, |n, e| grown(n, &e.range, e.with.len()));
    let mut out = Vec::with_capacity(capacity);
    let mut at = 0;
    let mut last: Option<Range<usize>> = None;
    let mut step = |range: Range<usize>, out: &mut Vec<u8>| {
        if range.start < at || range.end > input.len() || range.start > range.end {
            return Err(EditError {
                first: last.clone().unwrap_or(0..0),
                second: range,
            });
        }
        out.extend_from_slice(&input[at..range.start]);
        at = range.end;
        last = Some(range);
        Ok(())
    };
    let mut fill = fill;
    for (i, edit) in edits.into_iter().enumerate() {
        if i == fill_at
            && let Some(f) = fill.take()
        {
            step(f.range, &mut out)?;
            (f.write)(&mut out);
        }
        step(edit.range, &mut out)?;
        out.extend_from_slice(&edit.with);
    }
    if let Some(f) = fill {
        step(f.range, &mut out)?;
        (f.write)(&mut out);
    }
    out.extend_from_slice(&input[at..]);
    Ok(out)
}

/// Widens `span` to whole lines when the element sits alone on its lines: from the start of its first line
/// (if only spaces or tabs precede it) to after the newline ending its last line (if only spaces or tabs
/// follow it). Used to remove or copy an element with its indentation.
pub fn line_span(xml: &[u8], span: Range<usize>) -> Range<usize> {
    let mut start = span.start;
    while start > 0 && matches!(xml[start - 1], b' ' | b'\t') {
        start -= 1;
    }
    if start > 0 && xml[start - 1] != b'\n' {
        return span;
    }
    let mut end = span.end;
    while end < xml.len() && matches!(xml[end], b' ' | b'\t' | b'\r') {
        end += 1;
    }
    if end < xml.len() && xml[end] == b'\n' {
        end += 1;
    } else if end != xml.len() {
        return span;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_edits_is_identity() {
        let x = b"<a>\n  <b>1</b>\n</a>\n";
        assert_eq!(splice(x, vec![]).unwrap(), x);
    }

    #[test]
    fn replace_delete_insert() {
        let x = b"0123456789";
        let out = splice(
            x,
            vec![
                Edit::replace(2..4, "ab"),
                Edit::insert(6, "X"),
                Edit::insert(6, "Y"),
                Edit::delete(6..8),
            ],
        )
        .unwrap();
        assert_eq!(out, b"01ab45XY89");
    }

    #[test]
    fn filled_edit_goes_where_pushed_last() {
        let x = b"0123456789";
        let edits = || {
            vec![
                Edit::replace(2..4, "ab"),
                Edit::insert(6, "X"),
                Edit::delete(6..8),
            ]
        };
        for (range, with) in [
            (6..6, "Z"),
            (6..8, "Z"),
            (0..0, "Z"),
            (10..10, "Z"),
            (2..4, "Z"),
        ] {
            let mut all = edits();
            all.push(Edit::replace(range.clone(), with));
            let want = splice(x, all);
            let fill = Fill {
                range,
                len: with.len(),
                write: |out: &mut Vec<u8>| out.extend_from_slice(with.as_bytes()),
            };
            let got = splice_filled(x, edits(), fill);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g),
                (Err(w), Err(g)) => assert_eq!((w.first, w.second), (g.first, g.second)),
                (w, g) => panic!("{w:?} != {g:?}"),
            }
        }
    }

    #[test]
    fn overlap_is_an_error() {
        assert!(splice(b"0123", vec![Edit::delete(0..2), Edit::delete(1..3)]).is_err());
        assert!(splice(b"0123", vec![Edit::delete(3..9)]).is_err());
    }

    #[test]
    fn line_span_takes_indentation_and_newline() {
        let x = b"<a>\n  <b>1</b>\n</a>";
        let b = 6..14;
        assert_eq!(&x[b.clone()], b"<b>1</b>");
        assert_eq!(&x[line_span(x, b)], b"  <b>1</b>\n");
        let y = b"<a><b>1</b></a>";
        assert_eq!(line_span(y, 3..11), 3..11);
    }
}
