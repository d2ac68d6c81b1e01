//! The tar reader's and writer's error, naming the member.

use std::io;

/// A tar stream that cannot be read, or a member that cannot be written as strict ustar.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TarError {
    /// The underlying stream failed.
    #[error("read/write error")]
    Io(#[from] io::Error),
    /// The first header has no ustar magic: not a tar stream, or an old V7 tar.
    #[error("not a tar archive: no ustar magic in the first header")]
    NotTar,
    /// The stream is empty.
    #[error("not a tar archive: the input is empty")]
    Empty,
    /// A later header has no ustar magic (old V7 header, or garbage after a wrong size).
    #[error("{at}: no ustar magic in the header (old V7 tar headers are not supported)")]
    NoMagic {
        /// Which member, e.g. "member after `x`".
        at: String,
    },
    /// The header checksum does not match (neither the unsigned nor the signed-char sum).
    #[error("{at}: bad header checksum")]
    Checksum {
        /// Which member.
        at: String,
    },
    /// More zero blocks than the reader was allowed to skip (a bomb of zeros after the end marker).
    #[error("{at}: more than {limit} bytes of zero blocks")]
    TooManyZeroBlocks {
        /// Which member.
        at: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The stream ended inside a header, an extension record or a member's data or padding.
    #[error("{at}: truncated archive (expected {expected} more bytes)")]
    Truncated {
        /// Which member.
        at: String,
        /// Bytes still missing from the block or member being read.
        expected: u64,
    },
    /// A numeric header field is neither octal nor GNU base-256, or is out of range.
    #[error("{at}: invalid {field} field in the header")]
    BadNumber {
        /// Which member.
        at: String,
        /// Field name.
        field: &'static str,
    },
    /// The size field is GNU base-256 (binary), which Moodle's extractor reads as another size (0 for most).
    #[error(
        "member `{path}`: its size ({size} bytes) is written in GNU base-256 (binary), which Moodle's extractor \
         does not read (it would take another size, 0 for most, and read the data as headers): the archive is \
         refused; repack it with a tool that writes octal sizes"
    )]
    Base256Size {
        /// Member path (lossy).
        path: String,
        /// The size it declares.
        size: u64,
    },
    /// A GNU long-name or pax record is larger than 1 MiB.
    #[error("{at}: {record} record of {size} bytes exceeds the 1 MiB limit")]
    ExtensionTooLarge {
        /// Which member.
        at: String,
        /// "GNU long name", "pax header", ...
        record: &'static str,
        /// Declared data size.
        size: u64,
    },
    /// A pax record is malformed.
    #[error("{at}: malformed pax header ({reason})")]
    BadPax {
        /// Which member.
        at: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A GNU long-name or pax record is followed by the end-of-archive marker instead of a member.
    #[error("{at}: extension record not followed by a member")]
    DanglingExtension {
        /// Which member.
        at: String,
    },
    /// The path does not fit the ustar name and prefix fields.
    #[error(
        "member `{path}`: path cannot be stored in a ustar header (name > 100 or no '/' split with prefix <= 155)"
    )]
    PathTooLong {
        /// Member path (lossy).
        path: String,
    },
    /// The path is empty.
    #[error("member with an empty path cannot be stored in a ustar header")]
    EmptyPath,
    /// A text field holds a NUL byte, which ustar uses as terminator.
    #[error("member `{path}`: {field} contains a NUL byte")]
    NulByte {
        /// Member path (lossy).
        path: String,
        /// Field name.
        field: &'static str,
    },
    /// The link name, user name or group name is too long for its field.
    #[error("member `{path}`: {field} is longer than {max} bytes")]
    FieldTooLong {
        /// Member path (lossy).
        path: String,
        /// Field name.
        field: &'static str,
        /// Longest accepted length.
        max: usize,
    },
    /// The size does not fit 11 octal digits.
    #[error("member `{path}`: size exceeds the ustar limit of 8 GiB - 1")]
    TooLarge {
        /// Member path (lossy).
        path: String,
    },
    /// The uid, gid or mtime does not fit its octal field.
    #[error("member `{path}`: {field} {value} does not fit its ustar field (max {max})")]
    NumberTooLarge {
        /// Member path (lossy).
        path: String,
        /// Field name.
        field: &'static str,
        /// Value given.
        value: u64,
        /// Largest value that fits.
        max: u64,
    },
    /// The mode has bits beyond the permission bits.
    #[error("member `{path}`: mode {mode:#o} has bits outside the permission bits 0o7777")]
    BadMode {
        /// Member path (lossy).
        path: String,
        /// Mode given.
        mode: u32,
    },
    /// A pax or GNU extension typeflag was given to the strict ustar writer.
    #[error(
        "member `{path}`: typeflag `{flag}` is a pax/GNU extension record, not written by a strict ustar writer"
    )]
    ExtensionKind {
        /// Member path (lossy).
        path: String,
        /// The typeflag.
        flag: char,
    },
    /// A directory, link or special file with a non-zero size: Moodle's reader would take its data for headers.
    #[error("member `{path}`: a {what} cannot carry data (size {size})")]
    DataNotAllowed {
        /// Member path (lossy).
        path: String,
        /// "directory", "link or special file".
        what: &'static str,
        /// Size given.
        size: u64,
    },
    /// The data source ended before `size` bytes.
    #[error("member `{path}`: data ended early (expected {expected} bytes, got {got})")]
    ShortData {
        /// Member path (lossy).
        path: String,
        /// The member's size.
        expected: u64,
        /// Bytes copied.
        got: u64,
    },
    /// `append_bytes` was given a buffer whose length differs from the member's size.
    #[error("member `{path}`: data is {got} bytes but the member size is {expected}")]
    SizeMismatch {
        /// Member path (lossy).
        path: String,
        /// The member's size.
        expected: u64,
        /// Length of the data.
        got: u64,
    },
}

impl TarError {
    /// The limit on the archive's inflated total this error went past, and its value.
    pub fn total_limit(&self) -> Option<u64> {
        match self {
            TarError::TooManyZeroBlocks { limit, .. } => Some(*limit),
            _ => None,
        }
    }
}
