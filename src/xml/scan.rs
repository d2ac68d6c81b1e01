//! Span scanner over an in-memory XML document, zero copy.
//!
//! [`walk`] is a hand-written scanner for what Moodle writes (elements, attributes, text, references, processing
//! instructions) with exactly the acceptance rules of quick-xml's reader as configured here: the same documents
//! are refused, with the same errors, and the same spans are reported. A document holding `<!` (comments, CDATA,
//! DOCTYPE), a byte order mark or bytes that are not UTF-8 goes through quick-xml's reader itself
//! ([`walk_quick_xml`], also the reference the tests and the fuzzer compare [`walk`] with). Both accept what
//! Moodle's restore parser accepts (either quote style, CRLF, comments and CDATA anywhere) and refuse what it
//! refuses or would read differently: DOCTYPE (entity declarations), references to undefined entities, bytes
//! that are not UTF-8 (UTF-16 included). Spans are offsets into the document as given, byte order mark included;
//! [`crate::xml::text`] decodes a span's content.

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
    visit: impl FnMut(Visit<'a, '_>) -> Result<(), XmlError>,
) -> Result<(), XmlError> {
    if xml.starts_with(BOM) || memchr::memmem::find(xml, b"<!").is_some() {
        return walk_quick_xml(xml, visit);
    }
    fast::walk(xml, visit)
}

/// [`walk`] through quick-xml's reader: comments, CDATA sections, DOCTYPE (refused) and a byte order mark are
/// handled here; for anything else it is the reference [`walk`] must agree with.
///
/// # Errors
/// As [`walk`].
pub fn walk_quick_xml<'a>(
    xml: &'a [u8],
    mut visit: impl FnMut(Visit<'a, '_>) -> Result<(), XmlError>,
) -> Result<(), XmlError> {
    // quick-xml skips a byte order mark and counts its positions from after it: count them in `xml` instead.
    let bom = if xml.starts_with(BOM) { BOM.len() } else { 0 };
    let mut reader = Reader::from_reader(&xml[bom..]);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;
    config.check_comments = true;
    let mut stack: Vec<Frame<'a>> = Vec::new();
    let mut seen_root = false;
    loop {
        let before = bom + position(&reader);
        let event = reader.read_event().map_err(|source| XmlError::Syntax {
            position: bom as u64 + reader.error_position(),
            source,
        })?;
        let after = bom + position(&reader);
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                start_tag(stack.is_empty(), &mut seen_root, before)?;
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
            Event::Text(t) if stack.is_empty() => outside_text(&t, before)?,
            Event::GeneralRef(r) => reference(AsRef::<str>::as_ref(&r).as_bytes(), before)?,
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
    end_of_document(stack.last().map(|f| (f.name, f.start)), seen_root)
}

/// UTF-8's byte order mark, which Moodle's parser accepts at the start of a document.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Both scanners' rule for a reference `&name;` at `at`: a character reference to a legal character or one
/// of the five predefined entities, as Moodle's parser requires (a document has no others: DOCTYPE is refused).
fn reference(name: &[u8], at: usize) -> Result<(), XmlError> {
    match crate::xml::reference(name) {
        Some(_) => Ok(()),
        None => Err(XmlError::Structure(format!(
            "undefined entity or invalid character reference `&{};` at byte {at} (Moodle's parser refuses it)",
            String::from_utf8_lossy(name)
        ))),
    }
}

/// Both scanners' rule for a start tag at `at`: one root element only.
fn start_tag(outside: bool, seen_root: &mut bool, at: usize) -> Result<(), XmlError> {
    if outside && *seen_root {
        return Err(XmlError::Structure(format!(
            "second root element at byte {at}"
        )));
    }
    *seen_root = true;
    Ok(())
}

/// Both scanners' rule for text at `at` outside the root element: whitespace only.
fn outside_text(text: &str, at: usize) -> Result<(), XmlError> {
    if !text.chars().all(char::is_whitespace) {
        return Err(XmlError::Structure(format!(
            "text outside the root element at byte {at}"
        )));
    }
    Ok(())
}

/// Both scanners' rule at the end of the document: every element closed, a root element seen.
fn end_of_document(open: Option<(&[u8], usize)>, seen_root: bool) -> Result<(), XmlError> {
    if let Some((name, start)) = open {
        return Err(XmlError::Structure(format!(
            "document ends inside <{}> opened at byte {start}",
            String::from_utf8_lossy(name),
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

/// XML whitespace as quick-xml counts it.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\r' | b'\n' | b'\t')
}

/// Length of the name at the start of a tag's content: up to the first whitespace (quick-xml's rule).
fn name_len(content: &[u8]) -> usize {
    content
        .iter()
        .position(|&b| is_space(b))
        .unwrap_or(content.len())
}

/// The unescaped value of attribute `name` on `tag`, if present.
pub fn attr(tag: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    match sole_attr(tag.attributes_raw(), name) {
        Some(value) => Some(value.to_owned()),
        None => attr_general(tag, name),
    }
}

/// [`attr`] of the start tag at `start` (its `<`) in `xml`, whose content (name and attributes, as
/// [`Open::tag`] holds it) is `len` bytes long: the tag read again from the document, so that a caller keeps two
/// numbers instead of a string per element and reads the attribute only when it needs it.
pub fn attr_of(xml: &[u8], start: usize, len: usize, name: &[u8]) -> Option<String> {
    let content = std::str::from_utf8(xml.get(start + 1..start + 1 + len)?).ok()?;
    let name_len = name_len(content.as_bytes());
    attr(&BytesStart::from_content(content, name_len), name)
}

/// [`attr`] through quick-xml's attribute iterator: malformed and duplicate attributes skipped, prefixes ignored,
/// references decoded.
fn attr_general(tag: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    tag.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref().as_bytes() == name)
        .map(|a| crate::xml::unescape(&a.value))
}

/// What Moodle writes, `<enrolment id="12">`, read without quick-xml's iterator (whose setup and checks cost
/// more than the rest of such a tag): the value when `attributes` (a tag's text after its name) is exactly
/// whitespace, `name`, `=`, a quoted value without `&`, and whitespace. Nothing then needs decoding and no other
/// attribute can clash with it, so [`attr_general`] would return the same. `None` for anything else, which goes
/// to [`attr_general`].
fn sole_attr<'t>(attributes: &'t str, name: &[u8]) -> Option<&'t str> {
    let bytes = attributes.as_bytes();
    if name.is_empty() || name.contains(&b':') {
        return None;
    }
    let key = bytes.iter().position(|&b| !is_space(b))?;
    let eq = key + name.len();
    if bytes.get(key..eq)? != name || bytes.get(eq) != Some(&b'=') {
        return None;
    }
    let quote = *bytes.get(eq + 1).filter(|&&q| q == b'"' || q == b'\'')?;
    let start = eq + 2;
    let end = start
        + bytes[start..]
            .iter()
            .position(|&b| b == quote || b == b'&')?;
    if bytes[end] != quote || !bytes[end + 1..].iter().all(|&b| is_space(b)) {
        return None;
    }
    attributes.get(start..end)
}

/// The scanner behind [`walk`] for documents without `<!` or a byte order mark.
mod fast {
    use quick_xml::Error as QxError;
    use quick_xml::errors::{IllFormedError, SyntaxError};
    use quick_xml::events::BytesStart;

    use super::{Closed, Open, Visit, XmlError, is_space, name_len};

    fn syntax(position: usize, source: QxError) -> XmlError {
        XmlError::Syntax {
            position: position as u64,
            source,
        }
    }

    /// The offset of the `>` ending the tag that starts at `from` (a `<`), quotes respected as quick-xml's
    /// element parser does (a `>` inside '...' or "..." does not end it), or the error at the end of input.
    fn tag_end(xml: &[u8], from: usize) -> Result<usize, SyntaxError> {
        #[derive(Clone, Copy)]
        enum State {
            Outside,
            Single,
            Double,
        }
        let mut state = State::Outside;
        for i in memchr::memchr3_iter(b'>', b'\'', b'"', &xml[from..]) {
            state = match (state, xml[from + i]) {
                (State::Outside, b'>') => return Ok(from + i),
                (State::Outside, b'\'') => State::Single,
                (State::Outside, b'"') => State::Double,
                (State::Single, b'\'') | (State::Double, b'"') => State::Outside,
                (s, _) => s,
            };
        }
        Err(match state {
            State::Outside => SyntaxError::UnclosedTag,
            State::Single => SyntaxError::UnclosedSingleQuotedAttributeValue,
            State::Double => SyntaxError::UnclosedDoubleQuotedAttributeValue,
        })
    }

    /// What a byte means to [`open_tag`]'s reading of a name.
    const NAME: u8 = 0;
    const SPACE: u8 = 1;
    const END: u8 = 2;
    const QUOTE: u8 = 3;
    const COLON: u8 = 4;
    static CLASS: [u8; 256] = {
        let mut class = [NAME; 256];
        class[b' ' as usize] = SPACE;
        class[b'\r' as usize] = SPACE;
        class[b'\n' as usize] = SPACE;
        class[b'\t' as usize] = SPACE;
        class[b'>' as usize] = END;
        class[b'\'' as usize] = QUOTE;
        class[b'"' as usize] = QUOTE;
        class[b':' as usize] = COLON;
        class
    };

    /// The start tag at `lt` read in one pass, for a name without quotes: the offset of its `>` (as [`tag_end`]
    /// finds it), of the first whitespace after `<` (or the `>`), and of the name's last `:`. `None` when the
    /// name holds a quote or the tag is unclosed: the caller then reads it the general way. Always inlined: with
    /// [`name_run`] the compiler made it a call, whose cost took back half of what the word-wide scan saves.
    #[inline(always)]
    fn open_tag(xml: &[u8], lt: usize) -> Option<(usize, usize, Option<usize>)> {
        let mut i = lt + 1;
        let mut colon = None;
        let space = loop {
            // Eight bytes at a time over what can only be the name's middle (Moodle's names are mostly letters
            // and `_`), then one byte by the table: the byte found, or the last few before the end.
            i = name_run(xml, i);
            match CLASS[usize::from(*xml.get(i)?)] {
                NAME => {}
                COLON => colon = Some(i),
                SPACE | END => break i,
                _ => return None,
            }
            i += 1;
        };
        // The attributes: a quoted value may hold `>`.
        loop {
            match *xml.get(i)? {
                b'>' => return Some((i, space, colon)),
                q @ (b'"' | b'\'') => i += 1 + xml.get(i + 1..)?.iter().position(|&b| b == q)?,
                _ => {}
            }
            i += 1;
        }
    }

    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;

    /// High bit set in each byte of `w` below `n` (at most 0x80); exact up to the first such byte, which is all
    /// `trailing_zeros` reads (a borrow only runs towards higher bytes).
    fn below(w: u64, n: u8) -> u64 {
        w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH
    }

    /// The offset of the first byte below `A` from `i`, read eight bytes at a time; where fewer than eight bytes
    /// remain before one, the offset they start at. Every byte that ends or splits a name (whitespace, `>`, `/`,
    /// quotes, `:`, `=`) is below `A`; letters, `_` and UTF-8's multi-byte sequences are not, so [`open_tag`]
    /// only reads the byte found (and digits, `-`, `.` one by one) through its table.
    fn name_run(xml: &[u8], mut i: usize) -> usize {
        while let Some(word) = xml.get(i..i + 8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            let found = below(u64::from_le_bytes(bytes), b'A');
            if found != 0 {
                return i + (found.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        i
    }

    /// The offset of the first `<` or `&` from `from`. Text between Moodle's tags is short (indentation, a
    /// number), where a word at a time costs less than a call to memchr; a long text goes to memchr.
    fn markup(xml: &[u8], from: usize) -> Option<usize> {
        /// High bit set in each byte of `w` that is zero, exact as [`below`].
        fn zeros(w: u64) -> u64 {
            below(w, 1)
        }
        let short = xml.len().min(from.saturating_add(64));
        let mut i = from;
        while let Some(word) = xml.get(i..i + 8).filter(|_| i + 8 <= short) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            let w = u64::from_le_bytes(bytes);
            let found = zeros(w ^ (ONES * u64::from(b'<'))) | zeros(w ^ (ONES * u64::from(b'&')));
            if found != 0 {
                return Some(i + (found.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        memchr::memchr2(b'<', b'&', &xml[i..]).map(|j| i + j)
    }

    struct Frame {
        /// The start tag's whole name (prefix included), as an offset range.
        qname: (usize, usize),
        /// The name holds no quote, so `</` + name + `>` is its end tag as [`tag_end`] reads it.
        plain: bool,
        /// Its local name.
        local: (usize, usize),
        start: usize,
        content_start: usize,
        leaf: bool,
    }

    pub(super) fn walk<'a>(
        xml: &'a [u8],
        mut visit: impl FnMut(Visit<'a, '_>) -> Result<(), XmlError>,
    ) -> Result<(), XmlError> {
        // quick-xml checks every piece it reads as UTF-8. A document that is not UTF-8 is refused either way; it
        // goes through quick-xml so that the error is the one quick-xml finds first.
        let Ok(doc) = std::str::from_utf8(xml) else {
            return super::walk_quick_xml(xml, visit);
        };
        let mut stack: Vec<Frame> = Vec::with_capacity(16);
        let mut seen_root = false;
        let mut at = 0usize;
        while at < xml.len() {
            // Text up to the next markup or reference.
            let Some(here) = markup(xml, at) else {
                root_text(doc, at, xml.len(), stack.is_empty())?;
                break;
            };
            root_text(doc, at, here, stack.is_empty())?;
            if xml[here] == b'&' {
                // A reference: `;` must come before another `&`, a `<` or the end.
                match memchr::memchr3(b';', b'&', b'<', &xml[here + 1..]) {
                    Some(j) if xml[here + 1 + j] == b';' => {
                        super::reference(&xml[here + 1..here + 1 + j], here)?;
                        at = here + 2 + j;
                    }
                    _ => {
                        return Err(syntax(
                            here,
                            QxError::IllFormed(IllFormedError::UnclosedReference),
                        ));
                    }
                }
                continue;
            }
            let lt = here;
            match xml.get(lt + 1) {
                None => return Err(syntax(lt, QxError::Syntax(SyntaxError::UnclosedTag))),
                Some(b'?') => {
                    // A processing instruction or the declaration: up to the first `?>`.
                    let end = (lt + 2..xml.len())
                        .find(|&k| xml[k] == b'>' && xml[k - 1] == b'?')
                        .ok_or_else(|| {
                            let decl = xml[lt..].starts_with(b"<?xml")
                                && xml.get(lt + 5).is_none_or(|&b| is_space(b) || b == b'?');
                            syntax(
                                lt,
                                QxError::Syntax(if decl {
                                    SyntaxError::UnclosedXmlDecl
                                } else {
                                    SyntaxError::UnclosedPI
                                }),
                            )
                        })?;
                    if end + 1 - lt <= 3 {
                        // `<?>`: quick-xml reports it unclosed.
                        return Err(syntax(lt, QxError::Syntax(SyntaxError::UnclosedPI)));
                    }
                    at = end + 1;
                }
                Some(b'/') => {
                    // The usual case: `</` + the open element's name + `>`. Its name holds no quote and no
                    // whitespace, so the general reading below finds the same `>` and the same name.
                    if let Some(frame) = stack.last().filter(|f| f.plain) {
                        let name = &xml[frame.qname.0..frame.qname.1];
                        let gt = lt + 2 + name.len();
                        if xml.get(gt) == Some(&b'>') && &xml[lt + 2..gt] == name {
                            let depth = stack.len();
                            let (local, start, content_start, leaf) =
                                (frame.local, frame.start, frame.content_start, frame.leaf);
                            stack.pop();
                            visit(Visit::Close(Closed {
                                name: &xml[local.0..local.1],
                                depth,
                                span: start..gt + 1,
                                content: content_start..lt,
                                leaf,
                                empty_tag: false,
                            }))?;
                            at = gt + 1;
                            continue;
                        }
                    }
                    let gt = tag_end(xml, lt).map_err(|e| syntax(lt, QxError::Syntax(e)))?;
                    let content = &xml[lt + 2..gt];
                    let name_end = content
                        .iter()
                        .rposition(|&b| !is_space(b))
                        .map_or(content.len(), |p| p + 1);
                    let name = &content[..name_end];
                    let Some(frame) = stack.pop() else {
                        return Err(syntax(
                            lt,
                            QxError::IllFormed(IllFormedError::UnmatchedEndTag(
                                doc[lt + 2..lt + 2 + name_end].to_owned(),
                            )),
                        ));
                    };
                    if name != &xml[frame.qname.0..frame.qname.1] {
                        return Err(syntax(
                            lt,
                            QxError::IllFormed(IllFormedError::MismatchedEndTag {
                                expected: doc[frame.qname.0..frame.qname.1].to_owned(),
                                found: doc[lt + 2..lt + 2 + name_end].to_owned(),
                            }),
                        ));
                    }
                    visit(Visit::Close(Closed {
                        name: &xml[frame.local.0..frame.local.1],
                        depth: stack.len() + 1,
                        span: frame.start..gt + 1,
                        content: frame.content_start..lt,
                        leaf: frame.leaf,
                        empty_tag: false,
                    }))?;
                    at = gt + 1;
                }
                Some(_) => {
                    let (gt, space, colon, plain) = match open_tag(xml, lt) {
                        Some((gt, space, colon)) => (gt, space, colon, true),
                        None => {
                            let gt =
                                tag_end(xml, lt).map_err(|e| syntax(lt, QxError::Syntax(e)))?;
                            let space = lt + 1 + name_len(&xml[lt + 1..gt]);
                            let name = &xml[lt + 1..space];
                            let colon = name.iter().rposition(|&b| b == b':');
                            let plain = !name.iter().any(|&b| b == b'"' || b == b'\'');
                            (gt, space, colon.map(|p| lt + 1 + p), plain)
                        }
                    };
                    // `<name .../>` is empty; the content is what lies between `<` and `/>` or `>`.
                    let empty = gt > lt + 1 && xml[gt - 1] == b'/';
                    let content_end = if empty { gt - 1 } else { gt };
                    let content = &doc[lt + 1..content_end];
                    // The name runs to the first whitespace of the content. `space` is the first in the whole
                    // tag (or `gt`): the same when it lies in the content, and the `/` of `/>` is no whitespace.
                    let qname = (lt + 1, space.min(content_end));
                    let qlen = qname.1 - qname.0;
                    super::start_tag(stack.is_empty(), &mut seen_root, lt)?;
                    if let Some(parent) = stack.last_mut() {
                        parent.leaf = false;
                    }
                    // The last `:` before `space` is in the name: only a `/` can lie between the name's end and
                    // `space`.
                    let local_start = colon.map_or(qname.0, |c| c + 1);
                    let name = &xml[local_start..qname.1];
                    let depth = stack.len() + 1;
                    let tag = BytesStart::from_content(content, qlen);
                    visit(Visit::Open(Open {
                        name,
                        depth,
                        start: lt,
                        tag: &tag,
                    }))?;
                    if empty {
                        visit(Visit::Close(Closed {
                            name,
                            depth,
                            span: lt..gt + 1,
                            content: gt + 1..gt + 1,
                            leaf: true,
                            empty_tag: true,
                        }))?;
                    } else {
                        stack.push(Frame {
                            qname,
                            plain,
                            local: (local_start, qname.1),
                            start: lt,
                            content_start: gt + 1,
                            leaf: true,
                        });
                    }
                    at = gt + 1;
                }
            }
        }
        super::end_of_document(
            stack.last().map(|f| (&xml[f.local.0..f.local.1], f.start)),
            seen_root,
        )
    }

    /// Text outside the root element must be whitespace (the rule [`super::walk_quick_xml`] applies to its text
    /// events).
    fn root_text(doc: &str, from: usize, to: usize, outside: bool) -> Result<(), XmlError> {
        if outside && from < to {
            super::outside_text(&doc[from..to], from)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Rng;

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

    /// Every visit of a walk (the start tag as the visitor gets it) and its result, error included. Each start
    /// tag read again from the document ([`attr_of`]) gives the attributes the visitor got.
    fn trace(xml: &[u8], reference: bool) -> Vec<String> {
        let mut seen = Vec::new();
        let visit = |v: Visit<'_, '_>| {
            if let Visit::Open(o) = &v {
                for name in [&b"id"[..], b"b", b"x"] {
                    assert_eq!(
                        attr_of(xml, o.start, o.tag.len(), name),
                        attr(o.tag, name),
                        "{:?} at {}",
                        String::from_utf8_lossy(xml),
                        o.start
                    );
                }
            }
            seen.push(match v {
                Visit::Open(o) => format!(
                    "open {:?} {} {} {:?}",
                    o.name,
                    o.depth,
                    o.start,
                    AsRef::<str>::as_ref(o.tag)
                ),
                Visit::Close(c) => format!(
                    "close {:?} {} {:?} {:?} {} {}",
                    c.name, c.depth, c.span, c.content, c.leaf, c.empty_tag
                ),
            });
            Ok(())
        };
        let result = if reference {
            walk_quick_xml(xml, visit)
        } else {
            walk(xml, visit)
        };
        seen.push(match result {
            Ok(()) => "ok".into(),
            Err(XmlError::Syntax { position, source }) => {
                format!("syntax at {position}: {source:?}")
            }
            Err(e) => e.to_string(),
        });
        seen
    }

    /// The scanner's shortcuts (a start tag read in one pass, its name eight bytes at a time, `</name>` matched
    /// against the open element, text searched a word at a time) against quick-xml's reader, on documents built
    /// from the pieces they treat specially: names with prefixes, quotes or odd whitespace, quoted `>`, long and
    /// multi-byte text with markup at every offset around the word and memchr boundaries, end tags with spaces
    /// or other names; names of every length around the word boundaries, of letters, digits, `-`, `.`, bytes
    /// just below `A`, multi-byte UTF-8 and `:`, opened and closed, and cut off by the document's end; `<!` in
    /// text, attributes and instructions, and bytes that are not UTF-8 anywhere.
    #[test]
    fn shortcuts_agree_with_quick_xml() {
        // Separated by `|`, which none holds.
        const PIECES: &str = concat!(
            "<a>|</a>|<a/>|<a />|<a/ >|</a >|</a\n>|</ a>|<b:a>|</b:a>|<b:a/>|<:a>|</:a>|<a:>|</a:>|<a:/>|",
            "<a\"b>|</a\"b>|<a'b c'>|</a'b>|<a id=\"1\">|<a id='x>y'>|<a id=\"1\"/>|<a id=\"1\" x='2' >|",
            "<a id = \"1\">|<a id=\"1>|<a\tid=\"1\">|<a\nid=\"1\">|<a\r\nid='2'/>|<a\r\n>|<>|</>|< a>|<a|</a|<a b=\"|<a b='|<?pi x?>|",
            "<?xml version=\"1.0\"?>|<?>|&amp;|&#10;|&bad;|&|;|<|>|'|\"|/|=|:| |\n|\r\n|\t|x|é|日本|0123456789|",
            "text with <a> inside|&lt;|<c>|</c>|<enrolment id=\"12\">|</enrolment>|<userid>|</userid>|",
            "<!-- c -->|<![CDATA[x<y]]>|<!DOCTYPE r>|<!|<a b=\"<!\">|<a b='<!--'>|<?pi <!-- ?>|&a<!-- -->;",
        );
        // Characters of generated names: letters at both ends of the range, bytes just below `A` that are
        // still name bytes (`@`, `?`), digits, `-`, `.`, `_`, multi-byte UTF-8 and `:`.
        const NAME_CHARS: [&str; 16] = [
            "a", "z", "A", "Z", "_", "0", "9", "-", ".", "@", "?", "é", "日", ":", "x", "q",
        ];
        // Not UTF-8: a stray continuation byte, a truncated sequence, an invalid byte, a surrogate, an overlong.
        const NOT_UTF8: [&[u8]; 5] = [b"\x80", b"\xc3", b"\xff", b"\xed\xa0\x80", b"\xc0\xaf"];
        let all: Vec<&str> = PIECES.split('|').collect();
        // `walk` hands a document with `<!` or bytes that are not UTF-8 to quick-xml itself: such documents are one
        // round in eight, so that the others reach the scanner's shortcuts.
        let usual: Vec<&str> = all.iter().copied().filter(|p| !p.contains("<!")).collect();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..40_000 {
            let unusual = matches!(round % 16, 6 | 7);
            let pieces = if unusual { &all } else { &usual };
            let mut doc = Vec::new();
            let mut open: Vec<Vec<u8>> = Vec::new();
            for _ in 0..rng.below(16) {
                match rng.below(10) {
                    0..=5 => doc.extend_from_slice(pieces[rng.below(pieces.len())].as_bytes()),
                    6 | 7 => {
                        // A start tag with a generated name of 1 to 20 bytes or more, perhaps not UTF-8.
                        let mut name = Vec::new();
                        for _ in 0..1 + rng.below(20) {
                            if unusual && rng.below(40) == 0 {
                                name.extend_from_slice(NOT_UTF8[rng.below(NOT_UTF8.len())]);
                            } else {
                                // Mostly letters, as Moodle's names.
                                let kinds = 6 + rng.below(NAME_CHARS.len() - 5);
                                name.extend_from_slice(NAME_CHARS[rng.below(kinds)].as_bytes());
                            }
                        }
                        doc.push(b'<');
                        doc.extend_from_slice(&name);
                        let end: &[u8] =
                            [&b">"[..], b"/>", b" id=\"1\">", b"\n>", b""][rng.below(5)];
                        doc.extend_from_slice(end);
                        if end == b">" || end == b" id=\"1\">" || end == b"\n>" {
                            open.push(name);
                        }
                    }
                    8 => {
                        // The end tag of the innermost generated element, or of another.
                        if let Some(name) = open.pop() {
                            doc.extend_from_slice(b"</");
                            doc.extend_from_slice(&name);
                            doc.extend_from_slice([&b">"[..], b" >", b""][rng.below(3)]);
                        }
                    }
                    _ => {
                        if unusual && rng.below(4) == 0 {
                            doc.extend_from_slice(NOT_UTF8[rng.below(NOT_UTF8.len())]);
                        }
                    }
                }
                if rng.below(8) == 0 {
                    // Text long enough to reach past the word-at-a-time search, ending anywhere around it.
                    let filler = ["x", " ", "é"][rng.below(3)];
                    doc.extend_from_slice(filler.repeat(rng.below(80)).as_bytes());
                }
            }
            if rng.below(2) == 0 {
                while let Some(name) = open.pop() {
                    doc.extend_from_slice(b"</");
                    doc.extend_from_slice(&name);
                    doc.push(b'>');
                }
            }
            if round % 2 == 0 {
                doc = [&b"<r>"[..], &doc, b"</r>"].concat();
            }
            let xml = &doc[..];
            assert_eq!(
                trace(xml, false),
                trace(xml, true),
                "{:?}",
                String::from_utf8_lossy(xml)
            );
        }
    }

    /// [`attr`]'s shortcut returns what quick-xml's attribute iterator does, on the tags it takes and on those
    /// it leaves (quoting, references, duplicates, prefixes, whitespace around `=`, unclosed values).
    #[test]
    fn attr_shortcut_agrees_with_quick_xml() {
        let tags = [
            r#"e id="12""#,
            r#"e id='12'"#,
            "e\tid=\"12\"\r\n",
            r#"e  id="12"  "#,
            r#"e id="""#,
            r#"e id="1 2""#,
            r#"e id="a>b""#,
            r#"e id="1'2""#,
            r#"e id='1"2'"#,
            r#"e id="&#49;2""#,
            r#"e id="1&amp;2""#,
            r#"e id="&bad;""#,
            r#"e id="1" id="2""#,
            r#"e id="1"id="2""#,
            r#"e id="1" x="2""#,
            r#"e x="2" id="1""#,
            r#"e x:id="1""#,
            r#"e x:id="1" id="2""#,
            r#"e id = "1""#,
            r#"e id ="1""#,
            r#"e id= "1""#,
            r#"e id=1"#,
            r#"e id="1"#,
            r#"e id"#,
            r#"e idx="1""#,
            r#"e i="1""#,
            r#"e"#,
            r#"e "#,
            r#"e id="é""#,
            r#"e id="1"/"#,
        ];
        for tag in tags {
            let start = BytesStart::from_content(tag, name_len(tag.as_bytes()));
            for name in [&b"id"[..], b"x", b"x:id", b"", b"i"] {
                assert_eq!(
                    attr(&start, name),
                    attr_general(&start, name),
                    "{tag:?} {name:?}"
                );
            }
        }
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
