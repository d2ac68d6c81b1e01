//! The archive layer's error: which archive (and member) and what went wrong. A limit is named by what it
//! bounds and its value, never by the option that sets it.

use std::io;
use std::path::PathBuf;

use super::tar::TarError;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The bound a [`Error::TooLarge`] member went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`super::Limits::max_xml`]: the largest XML member held in memory.
    Xml,
    /// [`super::Limits::max_total`]: the largest total of member sizes.
    Total,
}

/// Everything that can go wrong reading or writing a backup container.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input cannot be opened or read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The output cannot be written.
    #[error("cannot write `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Neither gzip nor zip magic bytes.
    #[error(
        "`{}` is not a Moodle backup: it starts with {magic}, expected gzip (1f 8b) or zip (50 4b 03 04)",
        path.display()
    )]
    UnknownContainer {
        /// The file.
        path: PathBuf,
        /// Its first bytes, in hex.
        magic: String,
    },
    /// The tar.gz container is corrupt or unsupported.
    #[error("archive `{}`", path.display())]
    Tar {
        /// The archive.
        path: PathBuf,
        /// The cause, naming the member.
        #[source]
        source: TarError,
    },
    /// The gzip stream of a tar.gz is corrupt or truncated.
    #[error("archive `{}`: {at}: corrupt or truncated gzip data", path.display())]
    Gzip {
        /// The archive.
        path: PathBuf,
        /// Where: `member `x``, `after member `x``, `at the start`, `after the last member`.
        at: String,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
    /// The zip container is corrupt or unsupported.
    #[error("archive `{}`{}", path.display(), member.as_ref().map(|m| format!(": member `{m}`")).unwrap_or_default())]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The member, when known.
        member: Option<String>,
        /// The cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// A member name occurs twice.
    #[error("archive `{}`: member `{member}` occurs twice", path.display())]
    Duplicate {
        /// The archive.
        path: PathBuf,
        /// The member.
        member: String,
    },
    /// A member, or the archive's inflated total, is over a limit.
    #[error(
        "archive `{}`: member `{member}` is too large ({size} bytes, limit {limit})",
        path.display()
    )]
    TooLarge {
        /// The archive.
        path: PathBuf,
        /// The member.
        member: String,
        /// Its size.
        size: u64,
        /// The limit's value.
        limit: u64,
        /// Which limit.
        which: Limit,
    },
    /// A member's name cannot be written (tar) or is otherwise unusable.
    #[error("archive `{}`: member `{member}`: {reason}", path.display())]
    Member {
        /// The archive.
        path: PathBuf,
        /// The member.
        member: String,
        /// Why.
        reason: String,
    },
    /// The output would overwrite the input.
    #[error("output `{}` is the input archive: choose another path (the input is never modified)", path.display())]
    OutputIsInput {
        /// The output path.
        path: PathBuf,
    },
    /// The output exists and is not a regular file.
    #[error("output `{}` exists and is not a regular file (link, device or folder): refusing to replace it", path.display())]
    OutputNotFile {
        /// The output path.
        path: PathBuf,
    },
    /// The output's folder does not exist (or is not a folder).
    #[error("cannot write `{}`: its folder `{}` does not exist (create it first)", path.display(), folder.display())]
    OutputFolderMissing {
        /// The output path.
        path: PathBuf,
        /// Its folder.
        folder: PathBuf,
    },
    /// Stopped through [`super::Cancel`]; nothing was left at the output.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// The limit a [`Error::TooLarge`] went past, and its value (a tar.gz's zero blocks past the total are
    /// [`TarError::total_limit`], in the source).
    pub fn limit(&self) -> Option<(Limit, u64)> {
        match self {
            Error::TooLarge { limit, which, .. } => Some((*which, *limit)),
            _ => None,
        }
    }
}
