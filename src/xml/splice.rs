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
pub fn splice(input: &[u8], mut edits: Vec<Edit>) -> Result<Vec<u8>, EditError> {
    // Stable sort: insertions (empty ranges) at an offset sort before a replacement starting there.
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let mut out = Vec::with_capacity(edits.iter().fold(input.len(), |n, e| {
        (n + e.with.len()).saturating_sub(e.range.end.saturating_sub(e.range.start))
    }));
    let mut at = 0;
    let mut last: Option<Range<usize>> = None;
    for edit in edits {
        if edit.range.start < at
            || edit.range.end > input.len()
            || edit.range.start > edit.range.end
        {
            return Err(EditError {
                first: last.unwrap_or(0..0),
                second: edit.range,
            });
        }
        out.extend_from_slice(&input[at..edit.range.start]);
        out.extend_from_slice(&edit.with);
        at = edit.range.end;
        last = Some(edit.range);
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
