//! A tiny quick-xml tree builder that keeps byte spans, so untouched records can be compared byte for byte.

use quick_xml::Reader;
use quick_xml::events::BytesStart;
use quick_xml::events::Event;

// ---------------------------------------------------------------------------------------------
// XML tree with byte spans
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub(crate) struct El {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<El>,
    /// Raw (still escaped) character data directly inside the element.
    pub(crate) text: String,
    /// Byte offset of the `<` of the start tag.
    pub(crate) start: usize,
    /// Byte offset just past the end tag.
    pub(crate) end: usize,
    /// Start of the whitespace run before the element (`start` if none).
    pub(crate) outer: usize,
}

impl El {
    pub(crate) fn new(e: &BytesStart<'_>, start: usize, outer: usize) -> Result<El, String> {
        let name = e.name().as_ref().to_owned();
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|err| format!("bad attribute in <{name}> at byte {start}: {err}"))?;
            attrs.push((a.key.as_ref().to_owned(), a.value.into_owned()));
        }
        Ok(El {
            name,
            attrs,
            children: Vec::new(),
            text: String::new(),
            start,
            end: start,
            outer,
        })
    }

    pub(crate) fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn id(&self) -> Option<i64> {
        self.attr("id").and_then(int)
    }

    pub(crate) fn kids<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub(crate) fn kid(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn leaf(&self, name: &str) -> Option<&str> {
        self.kid(name).map(|c| c.text.as_str())
    }

    pub(crate) fn int(&self, name: &str) -> Option<i64> {
        self.leaf(name).and_then(int)
    }

    pub(crate) fn raw<'s>(&self, src: &'s str) -> &'s str {
        &src[self.start..self.end]
    }

    /// Every descendant (and self) named `name`, in document order.
    pub(crate) fn all<'a>(&'a self, name: &str, out: &mut Vec<&'a El>) {
        if self.name == name {
            out.push(self);
        }
        for c in &self.children {
            c.all(name, out);
        }
    }
}

/// A strict integer: ASCII digits (optional leading `-`), no whitespace.
pub(crate) fn int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a whole document; returns its root element. Fails on any malformation.
pub(crate) fn parse_xml(src: &str) -> Result<El, String> {
    let mut r = Reader::from_str(src);
    let mut stack: Vec<El> = vec![El {
        name: "#document".into(),
        attrs: Vec::new(),
        children: Vec::new(),
        text: String::new(),
        start: 0,
        end: 0,
        outer: 0,
    }];
    let mut last = 0usize;
    loop {
        let before = r.buffer_position() as usize;
        let ev = r
            .read_event()
            .map_err(|e| format!("malformed XML near byte {}: {e}", r.error_position()))?;
        let pos = r.buffer_position() as usize;
        match ev {
            Event::Start(e) => {
                stack.push(El::new(&e, before, last)?);
                last = pos;
            }
            Event::Empty(e) => {
                let mut el = El::new(&e, before, last)?;
                el.end = pos;
                stack.last_mut().unwrap().children.push(el);
                last = pos;
            }
            Event::End(_) => {
                let mut el = stack.pop().unwrap();
                el.end = pos;
                let Some(parent) = stack.last_mut() else {
                    return Err(format!("unbalanced end tag at byte {before}"));
                };
                parent.children.push(el);
                last = pos;
            }
            Event::Text(t) => {
                let s = t.into_inner();
                if !s.trim().is_empty() {
                    last = pos;
                }
                stack.last_mut().unwrap().text.push_str(&s);
            }
            Event::GeneralRef(g) => {
                let top = stack.last_mut().unwrap();
                top.text.push('&');
                top.text.push_str(&g.into_inner());
                top.text.push(';');
                last = pos;
            }
            Event::CData(c) => {
                let top = stack.last_mut().unwrap();
                top.text.push_str("<![CDATA[");
                top.text.push_str(&c.into_inner());
                top.text.push_str("]]>");
                last = pos;
            }
            Event::Eof => break,
            _ => last = pos,
        }
    }
    if stack.len() != 1 {
        return Err(format!(
            "unclosed element <{}> at end of document",
            stack.last().unwrap().name
        ));
    }
    let doc = stack.pop().unwrap();
    if !doc.text.trim().is_empty() {
        return Err("text outside the root element".into());
    }
    let mut roots = doc.children.into_iter();
    match (roots.next(), roots.next()) {
        (Some(root), None) => Ok(root),
        (None, _) => Err("no root element".into()),
        (Some(_), Some(_)) => Err("more than one root element".into()),
    }
}

/// `src` without the given elements; with `ws`, also without the whitespace before each (used
/// when records are removed, so that their indentation goes too).
pub(crate) fn without(src: &str, els: &[&El], ws: bool) -> String {
    let mut spans: Vec<(usize, usize)> = els
        .iter()
        .map(|e| (if ws { e.outer } else { e.start }, e.end))
        .collect();
    spans.sort();
    let mut out = String::new();
    let mut at = 0;
    for (s, e) in spans {
        if s >= at {
            out.push_str(&src[at..s]);
            at = e;
        }
    }
    out.push_str(&src[at..]);
    out
}

/// First difference between two strings, as a short excerpt.
pub(crate) fn first_diff(a: &str, b: &str) -> String {
    let pos = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let excerpt = |s: &str| {
        let mut lo = pos.saturating_sub(60);
        while !s.is_char_boundary(lo) {
            lo -= 1;
        }
        let mut hi = (pos + 60).min(s.len());
        while !s.is_char_boundary(hi) {
            hi += 1;
        }
        s[lo..hi].to_string()
    };
    format!(
        "at byte {pos}: expected …{:?}…, got …{:?}…",
        excerpt(a),
        excerpt(b)
    )
}
