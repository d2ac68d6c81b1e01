//! An element's content as Moodle's restore parser reads it (PHP's xml extension over libxml2): character data
//! with character and predefined entity references decoded, CDATA sections taken literally, comments and
//! processing instructions dropped, line ends normalised (CRLF and a lone CR read as LF, XML 1.0 §2.11).

use std::borrow::Cow;
use std::ops::Range;

use memchr::memmem;

/// The text content at `range`, decoded as Moodle's parser reads it.
pub fn text(xml: &[u8], range: Range<usize>) -> String {
    let raw = xml.get(range).unwrap_or_default();
    // What Moodle writes: plain text with at most a few references.
    if !raw.iter().any(|b| matches!(b, b'<' | b'\r')) {
        return unescape(&String::from_utf8_lossy(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        let rest = &raw[at..];
        let (taken, chars): (usize, Option<&[u8]>) =
            if let Some(body) = rest.strip_prefix(b"<![CDATA[") {
                let end = memmem::find(body, b"]]>").unwrap_or(body.len());
                (9 + end + 3, Some(&body[..end]))
            } else if rest.starts_with(b"<!--") {
                (skip(rest, 4, b"-->"), None)
            } else if rest.starts_with(b"<?") {
                (skip(rest, 2, b"?>"), None)
            } else if rest[0] == b'<' {
                // Markup inside a field with children: its tags are not text.
                (skip(rest, 1, b">"), None)
            } else {
                // Character data up to the next markup, references decoded.
                let end = memchr::memchr(b'<', rest).unwrap_or(rest.len());
                out.push_str(&unescape(&newlines(&rest[..end])));
                (end, None)
            };
        if let Some(chars) = chars {
            out.push_str(&newlines(chars));
        }
        at += taken;
    }
    out
}

/// [`text`] borrowed from `xml` when the raw bytes already are the decoded text (valid UTF-8 with no reference,
/// markup or CR: what Moodle writes), so that reading or comparing a value allocates nothing.
pub fn text_cow(xml: &[u8], range: Range<usize>) -> Cow<'_, str> {
    let raw = xml.get(range.clone()).unwrap_or_default();
    if !raw.iter().any(|b| matches!(b, b'&' | b'<' | b'\r'))
        && let Ok(s) = std::str::from_utf8(raw)
    {
        return Cow::Borrowed(s);
    }
    Cow::Owned(text(xml, range))
}

/// The length of the markup at the start of `rest` that ends with `end` (searched from `from`), or all of it.
fn skip(rest: &[u8], from: usize, end: &[u8]) -> usize {
    memmem::find(rest.get(from..).unwrap_or_default(), end)
        .map_or(rest.len(), |e| from + e + end.len())
}

/// `raw` as text with CRLF and lone CR read as LF.
fn newlines(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        s.into_owned()
    }
}

/// The integer at `range` once decoded (surrounding whitespace tolerated), or `None`.
pub fn int(xml: &[u8], range: Range<usize>) -> Option<i64> {
    let raw = xml.get(range.clone())?;
    // What Moodle writes: ASCII digits, maybe a sign, no room to overflow. Anything else takes the general path.
    let t = raw.trim_ascii();
    let (negative, digits) = match t {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, t),
    };
    if (1..=18).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) {
        let n = digits
            .iter()
            .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
        return Some(if negative { -n } else { n });
    }
    std::str::from_utf8(raw).ok()?;
    let s = text(xml, range);
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    s.parse().ok()
}

/// The text a reference `&name;` stands for: one of the five predefined entities, or a character reference
/// to a character XML 1.0 allows (`&#1;`, `&#xFFFE;` are not). `None` for anything else, which Moodle's parser
/// refuses.
pub fn reference(name: &[u8]) -> Option<String> {
    let whole = format!("&{};", std::str::from_utf8(name).ok()?);
    let s = quick_xml::escape::unescape(&whole).ok()?.into_owned();
    let legal = |c: char| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..);
    s.chars().all(legal).then_some(s)
}

/// `raw` with XML entities decoded (unchanged when it holds an unknown entity).
pub fn unescape(raw: &str) -> String {
    if !raw.contains('&') {
        return raw.to_owned();
    }
    match quick_xml::escape::unescape(raw) {
        Ok(s) => s.into_owned(),
        Err(_) => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> String {
        text(s.as_bytes(), 0..s.len())
    }

    #[test]
    fn every_spelling_decodes_to_the_same_text() {
        for s in [
            "12",
            "<![CDATA[12]]>",
            "&#49;2",
            "&#x31;&#x32;",
            "<!-- c -->1<?pi x?>2",
            "1<![CDATA[2]]>",
        ] {
            assert_eq!(all(s), "12", "{s}");
            assert_eq!(text_cow(s.as_bytes(), 0..s.len()), "12", "{s}");
            assert_eq!(int(s.as_bytes(), 0..s.len()), Some(12), "{s}");
        }
        assert_eq!(all("a &amp; b"), "a & b");
        assert_eq!(all("<![CDATA[a &amp; <b>]]>"), "a &amp; <b>");
        assert_eq!(all("a\r\nb\rc"), "a\nb\nc");
        assert_eq!(all("<![CDATA[x\r\ny]]>"), "x\ny");
        assert_eq!(all("&#13;"), "\r");
        for s in [
            "a &amp; b",
            "a\r\nb",
            "<![CDATA[x]]>",
            "plain",
            "",
            "\u{e9}t\u{e9}",
        ] {
            assert_eq!(text_cow(s.as_bytes(), 0..s.len()), all(s), "{s:?}");
        }
        assert!(matches!(text_cow(b"enrol_cohort", 0..12), Cow::Borrowed(_)));
        assert_eq!(text_cow(b"a\xffb", 0..3), all("a\u{fffd}b"));
        for (name, ok) in [
            ("amp", true),
            ("#48", true),
            ("#x1F600", true),
            ("#1", false),
            ("#0", false),
            ("#xFFFE", false),
            ("#xD800", false),
            ("#X31", false),
            ("nbsp", false),
            ("", false),
        ] {
            assert_eq!(reference(name.as_bytes()).is_some(), ok, "{name}");
        }
        assert_eq!(int(b"<![CDATA[x]]>", 0..13), None);
        assert_eq!(int(b"<!-- 5 -->", 0..10), None);
    }

    #[test]
    fn integers() {
        for (text, want) in [
            ("7", Some(7)),
            (" -12 ", Some(-12)),
            ("+3", Some(3)),
            ("-", None),
            ("", None),
            ("1 2", None),
            ("\u{b}5\u{a0}", Some(5)),
            ("9223372036854775807", Some(i64::MAX)),
            ("9223372036854775808", None),
            ("-9223372036854775808", Some(i64::MIN)),
            ("٣", None),
            ("$@NULL@$", None),
            ("\r\n 4\r\n", Some(4)),
        ] {
            assert_eq!(int(text.as_bytes(), 0..text.len()), want, "{text:?}");
        }
    }
}
