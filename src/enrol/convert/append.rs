//! Where new enrolments go in the holder's `<user_enrolments>`: as whole indented lines when the container
//! closes on a line of its own (Moodle's layout), else as bare elements; the container is created when needed.
//! New enrolments are copies of enrolments of the original document with a few values changed: they are kept
//! as spans of it ([`Copies`]) and written straight into the rewritten document, never held as a second copy
//! of a course's enrolments.

use std::ops::Range;

use crate::enrol::model::Instance;
use crate::xml::{EditError, Piece};

/// New enrolments as spans of the original document and the changes inside each.
#[derive(Debug, Default)]
pub(super) struct Copies {
    /// Each copy: its span in the original, and the end of its changes in `changes`.
    items: Vec<(Range<usize>, usize)>,
    /// The changes inside the copies, in order and disjoint within each: the span replaced (in the original)
    /// and the end of the replacement in `text`.
    changes: Vec<(Range<usize>, usize)>,
    /// The replacements, one after another.
    text: Vec<u8>,
}

impl Copies {
    /// Adds a copy of `range` of the original with `changes` applied: each the bytes it replaces (in the
    /// original's offsets) and where its replacement is in `text`. Nothing is allocated per copy.
    ///
    /// # Errors
    /// [`EditError`] (offsets relative to `range`) if two changes overlap or one lies outside `range`.
    pub fn push(
        &mut self,
        range: Range<usize>,
        text: &[u8],
        changes: &mut [(Range<usize>, Range<usize>)],
    ) -> Result<(), EditError> {
        // As `xml::splice` orders and checks them (a stable sort).
        changes.sort_by_key(|(r, _)| (r.start, r.end));
        let mut at = range.start;
        let mut last: Option<Range<usize>> = None;
        let relative = |r: &Range<usize>| {
            r.start.saturating_sub(range.start)..r.end.saturating_sub(range.start)
        };
        for (r, _) in changes.iter() {
            if r.start < at || r.end > range.end || r.start > r.end {
                return Err(EditError {
                    first: last.as_ref().map_or(0..0, relative),
                    second: relative(r),
                });
            }
            at = r.end;
            last = Some(r.clone());
        }
        for (r, with) in changes.iter() {
            self.text.extend_from_slice(&text[with.clone()]);
            self.changes.push((r.clone(), self.text.len()));
        }
        self.items.push((range, self.changes.len()));
        Ok(())
    }

    /// No copy.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Calls `f` with the pieces the copies are made of: ranges of the original and the changed values.
    pub fn pieces(&self, f: &mut dyn FnMut(Piece<'_>)) {
        let (mut change, mut text) = (0, 0);
        for (range, changes_end) in &self.items {
            let mut at = range.start;
            for (replaced, text_end) in &self.changes[change..*changes_end] {
                f(Piece::Input(at..replaced.start));
                f(Piece::Bytes(&self.text[text..*text_end]));
                at = replaced.end;
                text = *text_end;
            }
            f(Piece::Input(at..range.end));
            change = *changes_end;
        }
    }
}

/// The indentation before `pos` when only spaces or tabs precede it on its line.
fn indent_of(ex: &[u8], pos: usize) -> Option<&[u8]> {
    let line_start = ex[..pos]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let prefix = &ex[line_start..pos];
    prefix
        .iter()
        .all(|b| matches!(b, b' ' | b'\t'))
        .then_some(prefix)
}

/// Whether new enrolments go in as whole indented lines (Moodle's layout) or as bare elements.
pub(super) fn appends_lines(ex: &[u8], holder: &Instance) -> bool {
    match &holder.user_enrolments {
        Some(c) if !c.empty_tag => indent_of(ex, c.content.end).is_some(),
        Some(_) => true,
        None => false,
    }
}

/// Where the new enrolments go: the holder's `<user_enrolments>` gets them as its last children (built per
/// [`appends_lines`]), and is created when needed.
pub(super) struct Place {
    /// The bytes replaced (an empty range inserts).
    pub range: Range<usize>,
    /// Written before the new enrolments.
    pub before: Vec<u8>,
    /// Written after them.
    pub after: Vec<u8>,
}

/// Where the new enrolments go in the holder, and what surrounds them.
pub(super) fn place(ex: &[u8], holder: &Instance, line_mode: bool) -> Place {
    match &holder.user_enrolments {
        Some(c) if !c.empty_tag => {
            let close = c.content.end;
            let at = match indent_of(ex, close) {
                Some(indent) if line_mode => close - indent.len(),
                _ => close,
            };
            Place {
                range: at..at,
                before: Vec::new(),
                after: Vec::new(),
            }
        }
        Some(c) => {
            let indent = indent_of(ex, c.span.start).unwrap_or_default();
            let mut after = indent.to_vec();
            after.extend_from_slice(b"</user_enrolments>");
            Place {
                range: c.span.clone(),
                before: b"<user_enrolments>\n".to_vec(),
                after,
            }
        }
        None => {
            // Before the holder's closing tag.
            let close = ex[holder.span.clone()]
                .windows(2)
                .rposition(|w| w == b"</")
                .map_or(holder.span.end, |i| holder.span.start + i);
            Place {
                range: close..close,
                before: b"<user_enrolments>".to_vec(),
                after: b"</user_enrolments>".to_vec(),
            }
        }
    }
}
