//! Generated documents written in every legal XML spelling Moodle's restore parser reads (issue 16): each field
//! value plain, as CDATA, as decimal or hexadecimal character references, around a comment or a processing
//! instruction, split between CDATA and text; each document with or without a byte order mark, CRLF line ends,
//! single-quoted attributes and comments between elements. Every spelling converts to the plain spelling's
//! per-user results and counts.

use super::*;

/// One way to write a field's value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Spell {
    Plain,
    Cdata,
    Decimal,
    Hex,
    Comment,
    Split,
}

const SPELLS: [Spell; 6] = [
    Spell::Plain,
    Spell::Cdata,
    Spell::Decimal,
    Spell::Hex,
    Spell::Comment,
    Spell::Split,
];

/// `v` (plain text, no markup or reference) written as `how`.
fn spell(v: &str, how: Spell) -> String {
    let mut chars = v.chars();
    let first = chars.next();
    let rest: String = chars.collect();
    match (how, first) {
        (_, None) | (Spell::Plain, _) => v.to_owned(),
        (Spell::Cdata, _) => format!("<![CDATA[{v}]]>"),
        (Spell::Decimal, Some(c)) => format!("&#{};{rest}", u32::from(c)),
        (Spell::Hex, Some(c)) => format!("&#x{:X};{rest}", u32::from(c)),
        (Spell::Comment, _) => format!("<!-- {v} -->{v}<?pi?>"),
        (Spell::Split, Some(c)) => format!("<![CDATA[{c}]]>{rest}"),
    }
}

/// How a whole document is written.
#[derive(Debug, Clone)]
pub(crate) struct Spelling {
    fields: Vec<Spell>,
    bom: bool,
    crlf: bool,
    single: bool,
    between: bool,
}

pub(crate) fn spelling() -> impl Strategy<Value = Spelling> {
    (
        vec(select(SPELLS.to_vec()), 1..8),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(fields, bom, crlf, single, between)| Spelling {
            fields,
            bom,
            crlf,
            single,
            between,
        })
}

impl Spelling {
    /// `doc` respelled: the n-th leaf field's value as `fields[n % len]`, then the document-wide choices.
    fn apply(&self, doc: &str) -> String {
        let mut out = String::with_capacity(doc.len() * 2);
        let mut rest = doc;
        let mut n = 0;
        while let Some(lt) = rest.find('<') {
            let gt = lt + rest[lt..].find('>').expect("tag closed");
            let tag = &rest[lt..=gt];
            out.push_str(&rest[..=gt]);
            rest = &rest[gt + 1..];
            let name = &tag[1..tag.len() - 1];
            let leaf = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let close = format!("</{name}>");
            if let (true, Some(end)) = (leaf, rest.find('<')) {
                let value = &rest[..end];
                if rest[end..].starts_with(&close) && !value.contains('&') {
                    out.push_str(&spell(value, self.fields[n % self.fields.len()]));
                    n += 1;
                    rest = &rest[end..];
                }
            }
        }
        out.push_str(rest);
        if self.between {
            out = out.replace(">\n", "><!-- between -->\n");
        }
        if self.single {
            out = quote_singly(&out);
        }
        if self.crlf {
            out = out.replace('\n', "\r\n");
        }
        if self.bom {
            out.insert(0, '\u{feff}');
        }
        out
    }

    fn texts(&self, t: &Texts) -> Texts {
        Texts {
            enrolments: self.apply(&t.enrolments),
            course_roles: self.apply(&t.course_roles),
            roles: self.apply(&t.roles),
            groups: self.apply(&t.groups),
        }
    }
}

/// Attribute values quoted with `'` (the declaration keeps its `"`).
pub(crate) fn quote_singly(xml: &str) -> String {
    let mut in_tag = false;
    let mut prev = ' ';
    xml.chars()
        .map(|c| {
            match c {
                '<' => in_tag = true,
                '?' | '!' if prev == '<' => in_tag = false,
                '>' => in_tag = false,
                _ => {}
            }
            prev = c;
            if in_tag && c == '"' { '\'' } else { c }
        })
        .collect()
}

/// The per-user results and counts of a conversion, for comparison.
fn outcome(c: &Conversion) -> serde_json::Value {
    let r = &c.report;
    serde_json::json!([
        r.users,
        r.totals,
        r.methods,
        r.role_assignments_rewritten,
        r.role_assignments_removed,
        r.group_members_rewritten,
        r.manual_enrolments_suspended,
        c.enrolments.is_some(),
        c.course_roles.is_some(),
        c.groups.is_some(),
    ])
}

proptest! {
    #![proptest_config(config(256))]

    /// A generated case converts to the same per-user results in every spelling; its output, converted again,
    /// changes nothing.
    #[test]
    fn every_spelling_converts_alike(case in case(false), how in spelling()) {
        let plain = case.render();
        let o = case.options();
        let want = convert(&plain.docs(), &o);
        prop_assert!(want.is_ok(), "plain convert failed: {:?}", want.err());
        let spelt = how.texts(&plain);
        if how.fields.iter().any(|s| !matches!(s, Spell::Plain)) {
            prop_assert_ne!(&spelt.enrolments, &plain.enrolments, "not respelt");
        }
        let got = convert(&spelt.docs(), &o);
        prop_assert!(got.is_ok(), "convert failed on {:?}: {:?}", how, got.err());
        let got = got.unwrap();
        prop_assert_eq!(outcome(&got), outcome(&want.unwrap()), "{:?}", how);
        let again = convert(&spelt.after(&got).docs(), &o);
        prop_assert!(again.is_ok(), "second convert failed: {:?}", again.err());
        prop_assert!(again.unwrap().is_noop(), "converting the output again changed it");
    }
}
