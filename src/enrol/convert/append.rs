//! Where new enrolments go in the holder's `<user_enrolments>`: as whole indented lines when the container
//! closes on a line of its own (Moodle's layout), else as bare elements; the container is created when needed.

use crate::enrol::model::Instance;
use crate::xml::Edit;

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

/// The edit adding `items` (built per [`appends_lines`]) as the last children of the holder's
/// `<user_enrolments>`, creating the container when needed.
pub(super) fn append_enrolments(
    ex: &[u8],
    holder: &Instance,
    items: Vec<u8>,
    line_mode: bool,
) -> Edit {
    match &holder.user_enrolments {
        Some(c) if !c.empty_tag => {
            let close = c.content.end;
            match indent_of(ex, close) {
                Some(indent) if line_mode => Edit::insert(close - indent.len(), items),
                _ => Edit::insert(close, items),
            }
        }
        Some(c) => {
            let indent = indent_of(ex, c.span.start).unwrap_or_default();
            let mut with = b"<user_enrolments>\n".to_vec();
            with.extend_from_slice(&items);
            with.extend_from_slice(indent);
            with.extend_from_slice(b"</user_enrolments>");
            Edit::replace(c.span.clone(), with)
        }
        None => {
            // Before the holder's closing tag.
            let close = ex[holder.span.clone()]
                .windows(2)
                .rposition(|w| w == b"</")
                .map_or(holder.span.end, |i| holder.span.start + i);
            let mut with = b"<user_enrolments>".to_vec();
            with.extend_from_slice(&items);
            with.extend_from_slice(b"</user_enrolments>");
            Edit::insert(close, with)
        }
    }
}
