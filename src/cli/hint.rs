//! Library errors as the binary prints them: the option that raises a limit is named here, never in the
//! library (its errors carry the limit and its value).

use std::error::Error as StdError;

use mbz_enrol::archive::{self, Limit, tar::TarError};
use mbz_enrol::enrol::EnrolError;
use mbz_enrol::xml::TooLong;

/// The option that sets `limit`.
fn flag(limit: Limit) -> &'static str {
    match limit {
        Limit::Xml => "--max-xml-mib",
        Limit::Total => "--max-total-gib",
    }
}

/// What a report that went past `limit` appends: the option that raises it ([`mbz_enrol::archive::Limits::raise`]).
pub(crate) fn raise(limit: Limit) -> String {
    format!(" (raise it with {})", flag(limit))
}

/// One error's message (its causes left out), with the option that raises the limit it went past.
pub(crate) fn link(e: &(dyn StdError + 'static)) -> String {
    let text = e.to_string();
    if let Some(mbz_enrol::Error::NothingToConvert { .. }) = e.downcast_ref::<mbz_enrol::Error>() {
        return format!("{text} (--require-change)");
    }
    if let Some(EnrolError::UndefinedRoles { .. }) = e.downcast_ref::<EnrolError>() {
        return format!("{text}: check --stamp-roles");
    }
    let archive = match e.downcast_ref::<mbz_enrol::Error>() {
        Some(mbz_enrol::Error::Archive(a)) => Some(a),
        _ => e.downcast_ref::<archive::Error>(),
    };
    if let Some((limit, _)) = archive.and_then(archive::Error::limit)
        && let Some(open) = text.strip_suffix(')')
    {
        return format!("{open}; raise it with {})", flag(limit));
    }
    if TooLong::within(e).is_some() {
        return format!("{text}{}", raise(Limit::Xml));
    }
    if e.downcast_ref::<TarError>()
        .and_then(TarError::total_limit)
        .is_some()
    {
        return format!("{text} (raise it with {})", flag(Limit::Total));
    }
    text
}

/// An error and its causes on one line, joined by `: ` (as `{:#}` prints an `anyhow::Error`), with hints.
pub(crate) fn chain(e: &(dyn StdError + 'static)) -> String {
    let causes = std::iter::successors(Some(e), |&c: &&(dyn StdError + 'static)| c.source());
    joined(causes.map(link))
}

/// [`chain`] for an `anyhow::Error` (its context messages included).
pub(crate) fn chain_any(e: &anyhow::Error) -> String {
    joined(e.chain().map(link))
}

/// The messages joined by `: `, each cause left out when the text so far already ends with `: ` and it (an
/// error whose message quotes its source's: `tag not closed: ...` was printed twice).
fn joined(links: impl Iterator<Item = String>) -> String {
    let mut s = String::new();
    for (i, l) in links.enumerate() {
        if i == 0 {
            s = l;
        } else if !(s.ends_with(&l) && s[..s.len() - l.len()].ends_with(": ")) {
            s.push_str(": ");
            s.push_str(&l);
        }
    }
    s
}
