//! Span scanner over an in-memory XML document (quick-xml slice reader, zero copy).

use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// A malformed document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// The parser refused the bytes.
    #[error("malformed XML at byte {position}")]
    Syntax {
        /// Byte offset of the offending markup.
        position: u64,
        /// The parser's error.
        #[source]
        source: quick_xml::Error,
    },
    /// The document ended with open elements, or has no root element.
    #[error("malformed XML: {0}")]
    Structure(String),
    /// A caller's visitor rejected the content.
    #[error("{0}")]
    Content(String),
}

/// An element start tag, seen when it is opened.
#[derive(Debug)]
pub struct Open<'a, 'b> {
    /// Local name.
    pub name: &'a [u8],
    /// Nesting depth, 1 for the root.
    pub depth: usize,
    /// Offset of its `<`.
    pub start: usize,
    /// The start tag, for attributes.
    pub tag: &'b BytesStart<'a>,
}

/// An element, seen when it is closed.
#[derive(Debug, Clone)]
pub struct Closed<'a> {
    /// Local name.
    pub name: &'a [u8],
    /// Nesting depth, 1 for the root.
    pub depth: usize,
    /// The whole element, from `<` of the start tag to after `>` of the end tag.
    pub span: Range<usize>,
    /// Bytes between the start and end tags (empty at `span.end` for `<x/>`).
    pub content: Range<usize>,
    /// True when it has no child elements (its content is text only).
    pub leaf: bool,
    /// True for the `<x/>` form.
    pub empty_tag: bool,
}

/// One step of [`walk`].
#[derive(Debug)]
pub enum Visit<'a, 'b> {
    /// A start tag (also sent for `<x/>`, before its `Close`).
    Open(Open<'a, 'b>),
    /// An element's end.
    Close(Closed<'a>),
}

struct Frame<'a> {
    name: &'a [u8],
    start: usize,
    content_start: usize,
    leaf: bool,
}

/// Walks `xml`, calling `visit` on every element start and end, with byte offsets into `xml`.
///
/// # Errors
/// [`XmlError`] for malformed input, or whatever `visit` returns.
pub fn walk<'a>(
    xml: &'a [u8],
    mut visit: impl FnMut(Visit<'a, '_>) -> Result<(), XmlError>,
) -> Result<(), XmlError> {
    let mut reader = Reader::from_reader(xml);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;
    config.check_comments = true;
    let mut stack: Vec<Frame<'a>> = Vec::new();
    let mut seen_root = false;
    loop {
        let before = position(&reader);
        let event = reader.read_event().map_err(|source| XmlError::Syntax {
            position: reader.error_position(),
            source,
        })?;
        let after = position(&reader);
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                if stack.is_empty() && seen_root {
                    return Err(XmlError::Structure(format!(
                        "second root element at byte {before}"
                    )));
                }
                seen_root = true;
                if let Some(parent) = stack.last_mut() {
                    parent.leaf = false;
                }
                let name = local(xml, before, tag);
                let depth = stack.len() + 1;
                visit(Visit::Open(Open {
                    name,
                    depth,
                    start: before,
                    tag,
                }))?;
                if matches!(event, Event::Empty(_)) {
                    visit(Visit::Close(Closed {
                        name,
                        depth,
                        span: before..after,
                        content: after..after,
                        leaf: true,
                        empty_tag: true,
                    }))?;
                } else {
                    stack.push(Frame {
                        name,
                        start: before,
                        content_start: after,
                        leaf: true,
                    });
                }
            }
            Event::End(_) => {
                let Some(frame) = stack.pop() else {
                    return Err(XmlError::Structure(format!(
                        "end tag without start at byte {before}"
                    )));
                };
                visit(Visit::Close(Closed {
                    name: frame.name,
                    depth: stack.len() + 1,
                    span: frame.start..after,
                    content: frame.content_start..before,
                    leaf: frame.leaf,
                    empty_tag: false,
                }))?;
            }
            Event::Text(t) if stack.is_empty() && !t.chars().all(char::is_whitespace) => {
                return Err(XmlError::Structure(format!(
                    "text outside the root element at byte {before}"
                )));
            }
            Event::DocType(_) => {
                // Moodle never writes one; entity declarations could expand without bound.
                return Err(XmlError::Structure(format!(
                    "DOCTYPE declaration at byte {before} (Moodle backups have none; entities are refused)"
                )));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError::Structure(format!(
            "document ends inside <{}> opened at byte {}",
            String::from_utf8_lossy(open.name),
            open.start
        )));
    }
    if !seen_root {
        return Err(XmlError::Structure("no root element".into()));
    }
    Ok(())
}

fn position(reader: &Reader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// The local name of `tag`, borrowed from the document itself.
fn local<'a>(xml: &'a [u8], start: usize, tag: &BytesStart<'_>) -> &'a [u8] {
    // The name starts right after '<'; borrow it from `xml` so it outlives the event.
    let len = tag.name().as_ref().len();
    let name = xml.get(start + 1..start + 1 + len).unwrap_or_default();
    match name.iter().rposition(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// The unescaped value of attribute `name` on `tag`, if present.
pub fn attr(tag: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    tag.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref().as_bytes() == name)
        .map(|a| unescape(&a.value))
}

/// The text content at `range`, entities decoded.
pub fn text(xml: &[u8], range: Range<usize>) -> String {
    let raw = String::from_utf8_lossy(xml.get(range).unwrap_or_default());
    unescape(&raw)
}

/// The integer at `range` (surrounding whitespace tolerated), or `None`.
pub fn int(xml: &[u8], range: Range<usize>) -> Option<i64> {
    let raw = xml.get(range)?;
    let s = std::str::from_utf8(raw).ok()?.trim();
    if s.is_empty() {
        return None;
    }
    s.parse().ok()
}

/// `raw` with XML entities decoded (unchanged when it holds an unknown entity).
pub fn unescape(raw: &str) -> String {
    match quick_xml::escape::unescape(raw) {
        Ok(s) => s.into_owned(),
        Err(_) => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closes(xml: &[u8]) -> Vec<(String, usize, String, bool)> {
        let mut out = Vec::new();
        walk(xml, |v| {
            if let Visit::Close(c) = v {
                out.push((
                    String::from_utf8_lossy(c.name).into_owned(),
                    c.depth,
                    String::from_utf8_lossy(&xml[c.span.clone()]).into_owned(),
                    c.leaf,
                ));
            }
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn spans_cover_whole_elements() {
        let xml = b"<?xml version=\"1.0\"?>\n<a>\n  <b id=\"1\">x &amp; y</b>\n  <c/>\n</a>\n";
        let got = closes(xml);
        assert_eq!(
            got[0],
            ("b".into(), 2, "<b id=\"1\">x &amp; y</b>".into(), true)
        );
        assert_eq!(got[1], ("c".into(), 2, "<c/>".into(), true));
        assert_eq!(got[2].0, "a");
        assert!(!got[2].3);
    }

    #[test]
    fn text_and_int() {
        let xml = b"<a><b> 42 </b><c>x &amp; y</c><d>$@NULL@$</d></a>";
        let mut fields = Vec::new();
        walk(xml, |v| {
            if let Visit::Close(c) = v
                && c.depth == 2
            {
                fields.push(c.content);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(int(xml, fields[0].clone()), Some(42));
        assert_eq!(text(xml, fields[1].clone()), "x & y");
        assert_eq!(int(xml, fields[2].clone()), None);
    }

    #[test]
    fn malformed_is_an_error() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"",
            b"<a></a><b></b>",
            b"<a></a>junk",
        ] {
            assert!(
                walk(bad, |_| Ok(())).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
