//! The library's error type: every failure names the archive and, where there is one, the member.

use std::io;
use std::path::PathBuf;

use crate::archive::tar::TarError;
use crate::enrol::convert::EnrolError;
use crate::time::TimeError;

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading, converting or writing a backup.
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
        "archive `{}`: member `{member}` is too large ({size} bytes, limit {limit}; raise it with {flag})",
        path.display()
    )]
    TooLarge {
        /// The archive.
        path: PathBuf,
        /// The member.
        member: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
        /// The option that raises it.
        flag: &'static str,
    },
    /// A member's content breaks the rules' expectations.
    #[error("archive `{}`", path.display())]
    Enrol {
        /// The archive.
        path: PathBuf,
        /// The cause, naming the member.
        #[source]
        source: EnrolError,
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
}
