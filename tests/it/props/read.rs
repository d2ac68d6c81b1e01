//! Reading documents back (plain text search over the known layout, independent of the crate's parser).

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Reading documents back (plain text search over the known layout, independent of the crate's parser).
// ---------------------------------------------------------------------------------------------------------

/// The text of the first `<tag>…</tag>` in `s`.
pub(crate) fn leaf<'a>(s: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let a = s.find(&open)? + open.len();
    let b = s[a..].find(&close)? + a;
    Some(&s[a..b])
}

pub(crate) fn int(s: &str, tag: &str) -> i64 {
    leaf(s, tag)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no integer <{tag}> in {s}"))
}

/// Each record opened by `open`, up to its `close` (inclusive).
pub(crate) fn records<'a>(s: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    s.match_indices(open)
        .map(|(at, _)| {
            let end = s[at..]
                .find(close)
                .unwrap_or_else(|| panic!("{open} not closed"));
            &s[at..at + end + close.len()]
        })
        .collect()
}

#[derive(Debug, Clone)]
pub(crate) struct PUe {
    pub(crate) user: i64,
    pub(crate) status: i64,
    pub(crate) start: i64,
    pub(crate) end: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct PInst {
    pub(crate) id: String,
    pub(crate) plugin: String,
    pub(crate) status: i64,
    pub(crate) ues: Vec<PUe>,
    /// The whole record.
    pub(crate) text: String,
}

pub(crate) fn parse_enrolments(x: &str) -> Vec<PInst> {
    const OPEN: &str = "<enrol id=\"";
    let starts: Vec<usize> = x.match_indices(OPEN).map(|(i, _)| i).collect();
    let stop = x.rfind("</enrols>").expect("</enrols>");
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let block = x[s..starts.get(k + 1).copied().unwrap_or(stop)].trim_end();
            let id = &block[OPEN.len()..];
            let id = &id[..id.find('"').expect("id")];
            let head = &block[..block.find("<user_enrolments").unwrap_or(block.len())];
            PInst {
                id: id.to_owned(),
                plugin: leaf(head, "enrol").expect("<enrol>").to_owned(),
                status: int(head, "status"),
                ues: records(block, "<enrolment id=\"", "</enrolment>")
                    .into_iter()
                    .map(|r| PUe {
                        user: int(r, "userid"),
                        status: int(r, "status"),
                        start: int(r, "timestart"),
                        end: int(r, "timeend"),
                    })
                    .collect(),
                text: block.to_owned(),
            }
        })
        .collect()
}

/// (roleid, userid, component) of every assignment.
pub(crate) fn parse_assignments(x: &str) -> Vec<(i64, i64, String)> {
    records(x, "<assignment id=\"", "</assignment>")
        .into_iter()
        .map(|r| {
            (
                int(r, "roleid"),
                int(r, "userid"),
                leaf(r, "component").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// (group id, userid, component) of every member.
pub(crate) fn parse_members(x: &str) -> Vec<(i64, i64, String)> {
    let mut out = Vec::new();
    for g in records(x, "<group id=\"", "</group>") {
        let id = &g["<group id=\"".len()..];
        let gid: i64 = id[..id.find('"').expect("id")].parse().expect("group id");
        for m in records(g, "<group_member id=\"", "</group_member>") {
            out.push((
                gid,
                int(m, "userid"),
                leaf(m, "component").unwrap_or_default().to_owned(),
            ));
        }
    }
    out
}

/// role id → shortname from the root roles.xml.
pub(crate) fn parse_role_names(x: &str) -> BTreeMap<i64, String> {
    records(x, "<role id=\"", "</role>")
        .into_iter()
        .map(|r| {
            let id = &r["<role id=\"".len()..];
            (
                id[..id.find('"').expect("id")].parse().expect("role id"),
                leaf(r, "shortname").expect("shortname").to_owned(),
            )
        })
        .collect()
}
