//! The library's error type: every failure names the archive and, where there is one, the member.

use std::path::PathBuf;

use crate::enrol::convert::EnrolError;
use crate::time::TimeError;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading, converting or writing a backup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input cannot be read (also when it cannot be opened or listed), or the container cannot be read or
    /// written.
    #[error(transparent)]
    Archive(crate::archive::Error),
    /// A member's content breaks the rules' expectations.
    #[error("archive `{}`", path.display())]
    Enrol {
        /// The archive.
        path: PathBuf,
        /// The cause, naming the member.
        #[source]
        source: EnrolError,
    },
    /// A date or zone is invalid.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// Invalid options.
    #[error("{0}")]
    Usage(String),
    /// A change was required and the archive holds nothing to convert.
    #[error("archive `{}`: nothing to convert", path.display())]
    NothingToConvert {
        /// The archive.
        path: PathBuf,
    },
    /// The output was written but failed `verify` against its input.
    #[error(
        "output `{}` failed verification: {}",
        path.display(),
        failed.iter().map(|(name, finding)| format!("{name}: {finding}")).collect::<Vec<_>>().join("; ")
    )]
    VerifyFailed {
        /// The output.
        path: PathBuf,
        /// The failed checks (name, first finding).
        failed: Vec<(&'static str, String)>,
    },
    /// Stopped by the user (Ctrl-C); nothing was left at the output.
    #[error("cancelled")]
    Cancelled,
    /// Putting a course's plan into the live site failed.
    #[error("course `{course}`")]
    Apply {
        /// The course (shortname).
        course: String,
        /// Why.
        #[source]
        source: Box<crate::apply::ApplyError>,
    },
}

impl From<crate::archive::Error> for Error {
    /// A cancelled write is the crate's [`Error::Cancelled`]; every other archive error is wrapped.
    fn from(e: crate::archive::Error) -> Self {
        match e {
            crate::archive::Error::Cancelled => Error::Cancelled,
            other => Error::Archive(other),
        }
    }
}
