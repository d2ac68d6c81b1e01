//! The error of the rules: a member they read is malformed, or lacks a value they need.

use crate::xml::{self, XmlError};

/// A rule could not be applied to a member's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    /// The member is not well-formed XML.
    #[error("member `{member}`")]
    Xml {
        /// Archive member path.
        member: &'static str,
        /// The parse error.
        #[source]
        source: XmlError,
    },
    /// A value the rules need is missing or not an integer.
    #[error("member `{member}`: {what}")]
    Invalid {
        /// Archive member path.
        member: &'static str,
        /// What is wrong, naming the element.
        what: String,
    },
    /// Internal: two edits overlap (never the input's fault).
    #[error("member `{member}`: internal error")]
    Edit {
        /// Archive member path.
        member: &'static str,
        /// The overlap.
        #[source]
        source: xml::EditError,
    },
}

impl EnrolError {
    /// A parse error of `member`, for `map_err`.
    pub fn xml(member: &'static str) -> impl Fn(XmlError) -> Self {
        move |source| EnrolError::Xml { member, source }
    }

    /// An edit error of `member`, for `map_err`.
    pub fn edit(member: &'static str) -> impl Fn(xml::EditError) -> Self {
        move |source| EnrolError::Edit { member, source }
    }
}
