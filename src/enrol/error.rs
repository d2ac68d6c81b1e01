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
    /// Roles to stamp that the backup's root `roles.xml` does not define and that are not standard Moodle roles
    /// (a standard one it lacks is held by nobody in the course: a warning): a typo would stamp nobody.
    #[error(
        "member `{member}`: {} not defined in this backup (it defines: {})",
        unknown.iter().map(|r| format!("role `{r}`")).collect::<Vec<_>>().join(", "),
        defined.join(", ")
    )]
    UndefinedRoles {
        /// Archive member path (the root `roles.xml`).
        member: &'static str,
        /// The roles asked for that it lacks, in the order given.
        unknown: Vec<String>,
        /// The shortnames it defines, sorted (never empty: a backup without role definitions only warns).
        defined: Vec<String>,
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
