//! Streaming tar reader and strict POSIX-ustar writer for the inside of a `.mbz` tar.gz.
//!
//! Gzip is handled by the caller: this module works on plain (uncompressed) `Read`/`Write` tar streams and never
//! holds a member's data in memory.
//!
//! * [`Reader`] reads what real tools write: POSIX ustar, GNU (`ustar  \0` magic, `L`/`K` long-name records,
//!   base-256 numbers) and pax (`x` records: `path`, `linkpath`, `size`, `mtime`, `uid`, `gid`, `uname`, `gname`).
//!   Extension records are consumed and applied, so callers only see real members as format-neutral [`Member`]s.
//!   Old V7 headers (no magic) are rejected, as Moodle's `tgz_extractor` rejects them.
//! * [`Writer`] writes only what Moodle writes (`tgz_packer::write_tar_entry`, moodle-format.md §1.2): one 512-byte
//!   POSIX ustar header per member (never pax or GNU records), zero padding to 512, and an end marker of exactly two
//!   zero blocks with no record padding. Headers are byte-identical to Moodle's for the same metadata, so a
//!   Moodle-written archive read by [`Reader`] and written back by [`Writer`] is identical byte for byte.
//! * [`archive_index`] and [`index_member`] build Moodle's `.ARCHIVE_INDEX`, the first member of every
//!   Moodle tar.gz; Moodle's restore uses its count for progress, so it must be regenerated on every rewrite
//!   (moodle-format.md §1.3).

use std::io::{self, Read, Write};

/// Size of a tar block.
const BLOCK: usize = 512;
/// Largest accepted GNU long-name or pax record data.
const EXTENSION_LIMIT: u64 = 1 << 20;
/// 8^11: the first value that does not fit 11 octal digits (size, mtime).
const OCTAL11_LIMIT: u64 = 1 << 33;
/// 8^7 - 1: the largest value that fits 7 octal digits (mode, uid, gid).
const OCTAL7_MAX: u64 = (1 << 21) - 1;
/// Longest name field (no NUL terminator needed).
const NAME_LEN: usize = 100;
/// Longest prefix field.
const PREFIX_LEN: usize = 155;
/// Longest user or group name (the 32-byte field keeps a NUL terminator).
const OWNER_NAME_MAX: usize = 31;

/// Moodle's `.ARCHIVE_INDEX` (`tgz_packer::ARCHIVE_INDEX_FILE`).
pub const ARCHIVE_INDEX: &[u8] = b".ARCHIVE_INDEX";

/// DEFAULT_TIMESTAMP used by Moodle for in-memory content (mtime `?`): 2013-01-01T00:00:00Z. Moodle also writes it
/// as the header mtime of every directory member.
pub const DEFAULT_TIMESTAMP: u64 = 1356998400;

/// First line of the index, up to the count (`tgz_packer::ARCHIVE_INDEX_COUNT_PREFIX`).
const INDEX_COUNT_PREFIX: &str = "Moodle archive file index. Count: ";

/// Kind of a tar member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Regular file (typeflag `0`, or the old `\0`, or `7` contiguous when read).
    File,
    /// Directory (typeflag `5`).
    Dir,
    /// Anything else, as its raw typeflag: hard link `1`, symlink `2`, device `3`/`4`, FIFO `6`, vendor flags.
    Other(u8),
}

/// One member's metadata, format-neutral: whatever extension records the input used have been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Full path: ustar prefix + `/` + name joined; GNU `L` and pax `path` applied. Directories written by Moodle
    /// end with `/`.
    pub path: Vec<u8>,
    /// File, directory or other.
    pub kind: Kind,
    /// Permission bits only (`mode & 0o7777`).
    pub mode: u32,
    /// Owner id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
    /// Data size in bytes (0 for directories).
    pub size: u64,
    /// Link target (links only; GNU `K` and pax `linkpath` applied).
    pub linkname: Vec<u8>,
    /// Owner name (empty in Moodle's archives).
    pub uname: Vec<u8>,
    /// Group name (empty in Moodle's archives).
    pub gname: Vec<u8>,
}

impl Member {
    /// The path as text, invalid UTF-8 replaced, for messages.
    pub fn path_lossy(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }

    /// A regular file owned by uid/gid 0 with empty owner names, as Moodle writes them.
    pub fn file(path: &[u8], size: u64, mode: u32, mtime: u64) -> Member {
        Member {
            path: path.to_vec(),
            kind: Kind::File,
            mode,
            uid: 0,
            gid: 0,
            mtime,
            size,
            linkname: Vec::new(),
            uname: Vec::new(),
            gname: Vec::new(),
        }
    }

    /// A directory owned by uid/gid 0 with empty owner names. Moodle writes mode `0o755`, mtime
    /// [`DEFAULT_TIMESTAMP`] and a path ending in `/`; the path is stored as given.
    pub fn dir(path: &[u8], mode: u32, mtime: u64) -> Member {
        Member {
            kind: Kind::Dir,
            ..Member::file(path, 0, mode, mtime)
        }
    }
}

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
    #[error("{at}: more than {limit} bytes of zero blocks (raise it with --max-total-gib)")]
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

fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// Bytes of padding after `size` bytes of data.
fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// Reads until `buf` is full or the stream ends; returns the number of bytes read.
fn read_full<R: Read + ?Sized>(inner: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match inner.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A C string field: the bytes up to the first NUL.
fn cstr(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(end) => &field[..end],
        None => field,
    }
}

/// Why a numeric field could not be read.
#[derive(Debug, PartialEq, Eq)]
enum NumError {
    Invalid,
    Negative,
}

/// Octal with optional leading spaces/NULs and trailing spaces/NULs (an empty field is 0).
fn parse_octal(field: &[u8]) -> Option<u64> {
    let start = field
        .iter()
        .position(|&b| b != b' ' && b != 0)
        .unwrap_or(field.len());
    let mut value: u64 = 0;
    let mut end = start;
    for &b in &field[start..] {
        if !(b'0'..=b'7').contains(&b) {
            break;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
        end += 1;
    }
    field[end..]
        .iter()
        .all(|&b| b == b' ' || b == 0)
        .then_some(value)
}

/// A numeric header field: octal, or GNU base-256 when the first byte has its high bit set.
fn parse_numeric(field: &[u8]) -> Result<u64, NumError> {
    match field.first() {
        Some(&first) if first & 0x80 != 0 => {
            // Base-256: the bits after the marker bit form a big-endian two's-complement number.
            if first & 0x40 != 0 {
                return Err(NumError::Negative);
            }
            let mut value = u64::from(first & 0x3f);
            for &b in &field[1..] {
                value = value
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(b)))
                    .ok_or(NumError::Invalid)?;
            }
            Ok(value)
        }
        _ => parse_octal(field).ok_or(NumError::Invalid),
    }
}

/// Unsigned decimal, digits only.
fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// A pax time: `[-]digits[.digits]`, floored; negative times become 0.
fn parse_pax_time(text: &[u8]) -> Option<u64> {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (int, frac) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &[][..]),
    };
    if !frac.iter().all(u8::is_ascii_digit) || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let value = if int.is_empty() {
        0
    } else {
        parse_decimal(int)?
    };
    Some(if negative { 0 } else { value })
}

/// Metadata from GNU `L`/`K` and pax `x` records, applied to the next real member.
#[derive(Debug, Default)]
struct Overrides {
    path: Option<Vec<u8>>,
    linkname: Option<Vec<u8>>,
    size: Option<u64>,
    mtime: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    uname: Option<Vec<u8>>,
    gname: Option<Vec<u8>>,
}

impl Overrides {
    fn apply(self, member: &mut Member) {
        if let Some(path) = self.path {
            member.path = path;
        }
        if let Some(linkname) = self.linkname {
            member.linkname = linkname;
        }
        if let Some(size) = self.size {
            member.size = size;
        }
        if let Some(mtime) = self.mtime {
            member.mtime = mtime;
        }
        if let Some(uid) = self.uid {
            member.uid = uid;
        }
        if let Some(gid) = self.gid {
            member.gid = gid;
        }
        if let Some(uname) = self.uname {
            member.uname = uname;
        }
        if let Some(gname) = self.gname {
            member.gname = gname;
        }
    }

    /// Applies pax records `"%d %s=%s\n"`. An empty value removes an earlier override (POSIX pax semantics).
    fn apply_pax(&mut self, mut data: &[u8]) -> Result<(), &'static str> {
        while !data.is_empty() {
            if data.iter().all(|&b| b == 0) {
                // NUL padding after the last record (some writers leave it): nothing more to apply.
                break;
            }
            let space = data
                .iter()
                .position(|&b| b == b' ')
                .ok_or("record without a length")?;
            let len = parse_decimal(&data[..space])
                .and_then(|len| usize::try_from(len).ok())
                .ok_or("bad record length")?;
            if len <= space + 1 || len > data.len() {
                return Err("bad record length");
            }
            let record = &data[space + 1..len];
            let record = match record.split_last() {
                Some((b'\n', record)) => record,
                _ => return Err("record not ended by a newline"),
            };
            let eq = record
                .iter()
                .position(|&b| b == b'=')
                .ok_or("record without '='")?;
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            let bytes = || (!value.is_empty()).then(|| value.to_vec());
            let number = || -> Result<Option<u64>, &'static str> {
                if value.is_empty() {
                    Ok(None)
                } else {
                    parse_decimal(value).map(Some).ok_or("bad numeric value")
                }
            };
            match key {
                b"path" => self.path = bytes(),
                b"linkpath" => self.linkname = bytes(),
                b"uname" => self.uname = bytes(),
                b"gname" => self.gname = bytes(),
                b"size" => self.size = number()?,
                b"uid" => self.uid = number()?,
                b"gid" => self.gid = number()?,
                b"mtime" => {
                    self.mtime = if value.is_empty() {
                        None
                    } else {
                        Some(parse_pax_time(value).ok_or("bad mtime value")?)
                    }
                }
                _ => {}
            }
            data = &data[len..];
        }
        Ok(())
    }
}

/// A parsed header, before extension records are applied.
struct Header {
    member: Member,
    typeflag: u8,
}

/// Which magic a header has.
#[derive(PartialEq, Eq)]
enum Magic {
    Posix,
    Gnu,
}

/// Parses and checks one non-zero header block. `at` names the member for messages.
fn parse_header(
    block: &[u8; BLOCK],
    first: bool,
    at: &dyn Fn() -> String,
) -> Result<Header, TarError> {
    let magic = match &block[257..263] {
        b"ustar\0" => Magic::Posix,
        b"ustar " => Magic::Gnu,
        _ if first => return Err(TarError::NotTar),
        _ => return Err(TarError::NoMagic { at: at() }),
    };

    let stored = parse_octal(&block[148..156]).ok_or_else(|| TarError::Checksum { at: at() })?;
    // The sum of all bytes with the checksum field counted as eight spaces (both readings of a byte's sign).
    let sum_unsigned = |s: &[u8]| s.iter().map(|&b| u64::from(b)).sum::<u64>();
    let sum_signed = |s: &[u8]| s.iter().map(|&b| i64::from(b as i8)).sum::<i64>();
    let unsigned = sum_unsigned(block) - sum_unsigned(&block[148..156]) + 8 * u64::from(b' ');
    let signed = sum_signed(block) - sum_signed(&block[148..156]) + 8 * i64::from(b' ');
    if stored != unsigned && i64::try_from(stored) != Ok(signed) {
        return Err(TarError::Checksum { at: at() });
    }

    let number = |range: std::ops::Range<usize>, field: &'static str| {
        parse_numeric(&block[range]).map_err(|_| TarError::BadNumber { at: at(), field })
    };
    let mode = number(100..108, "mode")?;
    let uid = number(108..116, "uid")?;
    let gid = number(116..124, "gid")?;
    let size = number(124..136, "size")?;
    let mtime = match parse_numeric(&block[136..148]) {
        Ok(mtime) => mtime,
        Err(NumError::Negative) => 0,
        Err(NumError::Invalid) => {
            return Err(TarError::BadNumber {
                at: at(),
                field: "mtime",
            });
        }
    };
    let typeflag = block[156];

    let name = cstr(&block[..NAME_LEN]);
    // GNU headers keep atime/ctime and sparse data where ustar has the prefix.
    let prefix = match magic {
        Magic::Posix => cstr(&block[345..500]),
        Magic::Gnu => &[],
    };
    let path = if prefix.is_empty() {
        name.to_vec()
    } else {
        [prefix, b"/", name].concat()
    };
    let kind = match typeflag {
        b'0' | 0 | b'7' => Kind::File,
        b'5' => Kind::Dir,
        flag => Kind::Other(flag),
    };
    Ok(Header {
        member: Member {
            path,
            kind,
            // Masked, so the value fits u32.
            mode: (mode & 0o7777) as u32,
            uid,
            gid,
            mtime,
            size,
            linkname: cstr(&block[157..257]).to_vec(),
            uname: cstr(&block[265..297]).to_vec(),
            gname: cstr(&block[297..329]).to_vec(),
        },
        typeflag,
    })
}

/// Streaming reader over an uncompressed tar stream.
///
/// Reads one block at a time from `inner`: wrap unbuffered sources (files) in a `BufReader`.
pub struct Reader<R: Read> {
    inner: R,
    /// Unread data bytes of the current member.
    remaining: u64,
    /// Padding after the current member's data, not yet skipped.
    padding: u64,
    /// Path of the last member returned, for messages.
    current: Option<Vec<u8>>,
    /// Whether a header block has been read.
    started: bool,
    /// Whether the end of the archive has been reached.
    done: bool,
    /// Zero-block bytes skipped so far, and how many may be.
    zeros: u64,
    max_zeros: u64,
}

impl<R: Read> Reader<R> {
    /// A reader at the start of a tar stream.
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            remaining: 0,
            padding: 0,
            current: None,
            started: false,
            done: false,
            zeros: 0,
            max_zeros: u64::MAX,
        }
    }

    /// Bounds the zero blocks skipped between and after members (they count towards what the stream inflates
    /// to, like member data).
    #[must_use]
    pub fn max_zero_bytes(mut self, limit: u64) -> Self {
        self.max_zeros = limit;
        self
    }

    /// "member after `x`" (or "first member"), for errors in a header or extension record.
    fn after(&self) -> String {
        match &self.current {
            Some(path) => format!("member after `{}`", lossy(path)),
            None => "first member".to_owned(),
        }
    }

    /// "member `x`", for errors in the current member's data.
    fn this(&self) -> String {
        match &self.current {
            Some(path) => format!("member `{}`", lossy(path)),
            None => "first member".to_owned(),
        }
    }

    /// Skips `n` bytes; an early end is a truncation of the member named by `at`.
    fn skip(&mut self, n: u64, at: impl FnOnce(&Self) -> String) -> Result<(), TarError> {
        let skipped = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if skipped < n {
            return Err(TarError::Truncated {
                at: at(self),
                expected: n - skipped,
            });
        }
        Ok(())
    }

    /// Reads an extension record's data (capped at 1 MiB) and skips its padding.
    fn read_extension(&mut self, size: u64, record: &'static str) -> Result<Vec<u8>, TarError> {
        if size > EXTENSION_LIMIT {
            return Err(TarError::ExtensionTooLarge {
                at: self.after(),
                record,
                size,
            });
        }
        // At most 1 MiB, so the conversion cannot fail on any platform this builds for.
        let len = usize::try_from(size).map_err(|_| TarError::ExtensionTooLarge {
            at: self.after(),
            record,
            size,
        })?;
        let mut data = vec![0; len];
        let got = read_full(&mut self.inner, &mut data)?;
        if got < len {
            return Err(TarError::Truncated {
                at: self.after(),
                expected: size - got as u64 + padding(size),
            });
        }
        self.skip(padding(size), Self::after)?;
        Ok(data)
    }

    /// Next real member (extension records consumed and applied), or `None` at the end of the stream.
    ///
    /// Any unread data of the previous member is skipped first. Zero blocks (end markers, record padding) are
    /// skipped, as Moodle's extractor does, so members after an end marker are read, not dropped; the end of the
    /// stream ends the archive (with or without an end marker).
    ///
    /// # Errors
    ///
    /// The stream ends inside a header, an extension record or a member's data ([`TarError::Truncated`]); a
    /// header has no ustar magic ([`TarError::NotTar`], [`TarError::NoMagic`]), a bad checksum or a bad number;
    /// an extension record is malformed, too large or dangling; the stream is empty or fails.
    pub fn next_member(&mut self) -> Result<Option<Member>, TarError> {
        if self.done {
            return Ok(None);
        }
        let rest = self.remaining.saturating_add(self.padding);
        self.skip(rest, Self::this)?;
        self.remaining = 0;
        self.padding = 0;

        let mut overrides = Overrides::default();
        let mut pending = false;
        loop {
            let mut block = [0u8; BLOCK];
            let got = read_full(&mut self.inner, &mut block)?;
            if got == 0 {
                if pending {
                    return Err(TarError::Truncated {
                        at: self.after(),
                        expected: BLOCK as u64,
                    });
                }
                if !self.started {
                    return Err(TarError::Empty);
                }
                self.done = true;
                return Ok(None);
            }
            if got < BLOCK {
                return Err(TarError::Truncated {
                    at: self.after(),
                    expected: (BLOCK - got) as u64,
                });
            }
            let first = !self.started;
            self.started = true;
            if block.iter().all(|&b| b == 0) {
                if pending {
                    return Err(TarError::DanglingExtension { at: self.after() });
                }
                // Moodle's tgz_extractor skips zero blocks and goes on reading headers, so members after an
                // end marker (concatenated tars) are extracted by restore: read them too, never drop them.
                self.zeros += BLOCK as u64;
                if self.zeros > self.max_zeros {
                    return Err(TarError::TooManyZeroBlocks {
                        at: self.after(),
                        limit: self.max_zeros,
                    });
                }
                continue;
            }

            let header = parse_header(&block, first, &|| self.after())?;
            let size = header.member.size;
            match header.typeflag {
                b'L' => {
                    let mut data = self.read_extension(size, "GNU long name")?;
                    data.truncate(cstr(&data).len());
                    overrides.path = Some(data);
                    pending = true;
                }
                b'K' => {
                    let mut data = self.read_extension(size, "GNU long link name")?;
                    data.truncate(cstr(&data).len());
                    overrides.linkname = Some(data);
                    pending = true;
                }
                b'x' => {
                    let data = self.read_extension(size, "pax header")?;
                    overrides
                        .apply_pax(&data)
                        .map_err(|reason| TarError::BadPax {
                            at: self.after(),
                            reason,
                        })?;
                    pending = true;
                }
                b'g' => {
                    // Global pax records are consumed and ignored.
                    self.read_extension(size, "pax global header")?;
                }
                _ => {
                    let mut member = header.member;
                    overrides.apply(&mut member);
                    self.remaining = member.size;
                    self.padding = padding(member.size);
                    self.current = Some(member.path.clone());
                    return Ok(Some(member));
                }
            }
        }
    }

    /// The current member's remaining data (its padding is skipped by the next [`Reader::next_member`]).
    ///
    /// Reading past the data returns end of file. If the stream ends early, the read fails with
    /// [`io::ErrorKind::UnexpectedEof`] wrapping a [`TarError::Truncated`] that names the member.
    pub fn data(&mut self) -> Data<'_, R> {
        Data { reader: self }
    }

    /// Consumes the reader and returns the inner stream: at its end once [`Reader::next_member`] has returned
    /// `None` (the caller still drains it, so gzip checks its CRC).
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// The remaining data of a [`Reader`]'s current member.
pub struct Data<'a, R: Read> {
    reader: &'a mut Reader<R>,
}

impl<R: Read> Read for Data<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let reader = &mut *self.reader;
        if reader.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        // Bounded by buf.len(), so the conversion back to usize is lossless.
        let max = reader.remaining.min(buf.len() as u64) as usize;
        let n = reader.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                TarError::Truncated {
                    at: reader.this(),
                    expected: reader.remaining.saturating_add(reader.padding),
                },
            ));
        }
        reader.remaining -= n as u64;
        Ok(n)
    }
}

/// Splits a path into ustar (prefix, name) as Moodle does: the shortest prefix, ended at a `/`, that leaves a name
/// of at most 100 bytes. The prefix must be 1..=155 bytes (an empty prefix would lose a leading `/`).
fn split_path(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= NAME_LEN {
        return Some((&[], path));
    }
    for (i, _) in path.iter().enumerate().filter(|&(_, &b)| b == b'/') {
        if i == 0 {
            continue;
        }
        if i > PREFIX_LEN {
            return None;
        }
        if path.len() - i - 1 <= NAME_LEN {
            return Some((&path[..i], &path[i + 1..]));
        }
    }
    None
}

/// Writes `value` as `digits` zero-padded octal digits and a NUL into `field`. The caller checked that it fits.
fn put_octal(field: &mut [u8], value: u64, digits: usize) {
    // `format!("{value:0digits$o}")` cut to `digits`, without the allocation (a header per member).
    let mut octal = [0u8; 22];
    let (mut len, mut v) = (0, value);
    loop {
        octal[len] = b'0' + (v & 7) as u8;
        len += 1;
        v >>= 3;
        if v == 0 {
            break;
        }
    }
    let pad = digits.saturating_sub(len);
    for (i, out) in field[..digits].iter_mut().enumerate() {
        *out = if i < pad {
            b'0'
        } else {
            octal[len - 1 - (i - pad)]
        };
    }
    field[digits] = 0;
}

/// Checks a text field: no NUL, at most `max` bytes.
fn check_text(
    member: &Member,
    value: &[u8],
    field: &'static str,
    max: usize,
) -> Result<(), TarError> {
    if value.contains(&0) {
        return Err(TarError::NulByte {
            path: member.path_lossy(),
            field,
        });
    }
    if value.len() > max {
        return Err(TarError::FieldTooLong {
            path: member.path_lossy(),
            field,
            max,
        });
    }
    Ok(())
}

/// Builds the 512-byte ustar header for `member`, byte-identical to Moodle's `tgz_packer::write_tar_entry` for
/// the same metadata: mode/uid/gid as 7 octal digits + NUL, size/mtime as 11 + NUL, checksum as 6 octal digits +
/// NUL + space, magic `ustar\0` + `00`, devmajor/devminor NUL, long paths split into prefix + name.
///
/// # Errors
///
/// The path is empty, holds a NUL or cannot be split; a text field holds a NUL or is too long (link name > 100,
/// user/group name > 31); a number does not fit its octal field (size and mtime < 8^11, uid/gid < 8^7) or the
/// mode has non-permission bits; the kind is a pax/GNU record; a directory, link or special file has a size.
pub fn ustar_header(member: &Member) -> Result<[u8; BLOCK], TarError> {
    let path = &member.path;
    if path.is_empty() {
        return Err(TarError::EmptyPath);
    }
    if path.contains(&0) {
        return Err(TarError::NulByte {
            path: member.path_lossy(),
            field: "path",
        });
    }
    let (prefix, name) = split_path(path).ok_or_else(|| TarError::PathTooLong {
        path: member.path_lossy(),
    })?;
    check_text(member, &member.linkname, "link name", NAME_LEN)?;
    check_text(member, &member.uname, "user name", OWNER_NAME_MAX)?;
    check_text(member, &member.gname, "group name", OWNER_NAME_MAX)?;

    if member.mode & !0o7777 != 0 {
        return Err(TarError::BadMode {
            path: member.path_lossy(),
            mode: member.mode,
        });
    }
    for (field, value) in [("uid", member.uid), ("gid", member.gid)] {
        if value > OCTAL7_MAX {
            return Err(TarError::NumberTooLarge {
                path: member.path_lossy(),
                field,
                value,
                max: OCTAL7_MAX,
            });
        }
    }
    if member.size >= OCTAL11_LIMIT {
        return Err(TarError::TooLarge {
            path: member.path_lossy(),
        });
    }
    if member.mtime >= OCTAL11_LIMIT {
        return Err(TarError::NumberTooLarge {
            path: member.path_lossy(),
            field: "mtime",
            value: member.mtime,
            max: OCTAL11_LIMIT - 1,
        });
    }
    let typeflag = match member.kind {
        Kind::File => b'0',
        Kind::Dir => b'5',
        Kind::Other(flag @ (b'x' | b'g' | b'L' | b'K')) => {
            return Err(TarError::ExtensionKind {
                path: member.path_lossy(),
                flag: char::from(flag),
            });
        }
        Kind::Other(flag) => flag,
    };
    // Moodle's reader starts no data for these flags and would read any data as headers.
    let no_data = match member.kind {
        Kind::Dir => Some("directory"),
        Kind::Other(b'1'..=b'7') => Some("link or special file"),
        _ => None,
    };
    if let (Some(what), true) = (no_data, member.size > 0) {
        return Err(TarError::DataNotAllowed {
            path: member.path_lossy(),
            what,
            size: member.size,
        });
    }

    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    put_octal(&mut h[100..108], u64::from(member.mode), 7);
    put_octal(&mut h[108..116], member.uid, 7);
    put_octal(&mut h[116..124], member.gid, 7);
    put_octal(&mut h[124..136], member.size, 11);
    put_octal(&mut h[136..148], member.mtime, 11);
    h[156] = typeflag;
    h[157..157 + member.linkname.len()].copy_from_slice(&member.linkname);
    h[257..265].copy_from_slice(b"ustar\x0000");
    h[265..265 + member.uname.len()].copy_from_slice(&member.uname);
    h[297..297 + member.gname.len()].copy_from_slice(&member.gname);
    // devmajor/devminor (329..345) stay NUL, as in Moodle.
    h[345..345 + prefix.len()].copy_from_slice(prefix);

    h[148..156].fill(b' ');
    let checksum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    // At most 512 * 255 = 0o377000: always 6 octal digits.
    put_octal(&mut h[148..156], checksum, 6);
    h[155] = b' ';
    Ok(h)
}

/// Strict POSIX ustar writer, byte-compatible with Moodle's `tgz_packer::write_tar_entry`.
///
/// After an error the output is incomplete and must be discarded.
pub struct Writer<W: Write> {
    inner: W,
}

impl<W: Write> Writer<W> {
    /// A writer at the start of a tar stream.
    pub fn new(inner: W) -> Self {
        Writer { inner }
    }

    /// Writes one header (ustar only: never pax or GNU records), then exactly `member.size` bytes from `data`,
    /// then zero padding to 512. Bytes of `data` beyond `member.size` are not read.
    ///
    /// # Errors
    ///
    /// See [`ustar_header`]; [`TarError::ShortData`] if `data` ends early; I/O errors of `data` or the output.
    pub fn append(&mut self, member: &Member, data: impl Read) -> Result<(), TarError> {
        let header = ustar_header(member)?;
        self.inner.write_all(&header)?;
        let copied = io::copy(&mut data.take(member.size), &mut self.inner)?;
        if copied < member.size {
            return Err(TarError::ShortData {
                path: member.path_lossy(),
                expected: member.size,
                got: copied,
            });
        }
        self.pad(member.size)
    }

    /// Like [`Writer::append`] with in-memory data, whose length must equal `member.size`.
    ///
    /// # Errors
    ///
    /// [`TarError::SizeMismatch`] (nothing written), or as [`Writer::append`].
    pub fn append_bytes(&mut self, member: &Member, data: &[u8]) -> Result<(), TarError> {
        if data.len() as u64 != member.size {
            return Err(TarError::SizeMismatch {
                path: member.path_lossy(),
                expected: member.size,
                got: data.len() as u64,
            });
        }
        self.append(member, data)
    }

    fn pad(&mut self, size: u64) -> Result<(), TarError> {
        // Less than 512, so the conversion is lossless.
        let n = padding(size) as usize;
        self.inner.write_all(&[0u8; BLOCK][..n])?;
        Ok(())
    }

    /// Writes the end marker (2 x 512 zero bytes, exactly like Moodle: no padding to a 10240-byte record) and
    /// returns the inner writer, not flushed: the caller finishes gzip.
    ///
    /// # Errors
    ///
    /// I/O errors of the output.
    pub fn finish(mut self) -> Result<W, TarError> {
        self.inner.write_all(&[0u8; 2 * BLOCK])?;
        Ok(self.inner)
    }
}

/// Builds the index text for `members` (every member written after the index, in order, the index excluded):
/// `"Moodle archive file index. Count: N\n"`, then one `"path\tf|d\tsize\tmtime\n"` line per file or directory
/// (directories: size `0` and mtime `?`; files: size and decimal mtime). [`Kind::Other`] members are left out
/// (Moodle ignores them on extract) and not counted; N is the number of lines.
///
/// Paths are written as they are; Moodle's own paths never hold tabs or newlines.
pub fn archive_index(members: &[Member]) -> Vec<u8> {
    archive_index_with(members, |m| m.size)
}

/// [`archive_index`] with each file's size given by `size` (the size it will have once rewritten).
pub fn archive_index_with(members: &[Member], size: impl Fn(&Member) -> u64) -> Vec<u8> {
    index_of(
        members
            .iter()
            .map(|m| (m.path.as_slice(), m.kind, size(m), m.mtime)),
    )
}

/// The `.ARCHIVE_INDEX` of members given as (path, kind, size, mtime), in order.
pub fn index_of<'a>(members: impl Iterator<Item = (&'a [u8], Kind, u64, u64)>) -> Vec<u8> {
    let mut lines = Vec::new();
    let mut count = 0usize;
    for (path, kind, size, mtime) in members {
        let line = match kind {
            Kind::File => format!("\tf\t{size}\t{mtime}\n"),
            Kind::Dir => "\td\t0\t?\n".to_owned(),
            Kind::Other(_) => continue,
        };
        lines.extend_from_slice(path);
        lines.extend_from_slice(line.as_bytes());
        count += 1;
    }
    let mut out = format!("{INDEX_COUNT_PREFIX}{count}\n").into_bytes();
    out.append(&mut lines);
    out
}

/// The header metadata Moodle uses for the index member: a file with mode 0o644, mtime [`DEFAULT_TIMESTAMP`],
/// uid/gid 0, empty uname/gname and size `len`.
pub fn index_member(len: u64) -> Member {
    Member::file(ARCHIVE_INDEX, len, 0o644, DEFAULT_TIMESTAMP)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zero blocks are skipped (Moodle reads on after them), but no more of them than allowed.
    #[test]
    fn zero_blocks_are_bounded() {
        let mut tar = Vec::new();
        Writer::new(&mut tar)
            .append_bytes(&Member::file(b"a.xml", 3, 0o644, 0), b"abc")
            .unwrap();
        tar.extend_from_slice(&[0u8; 512 * 8]);
        let mut r = Reader::new(&tar[..]).max_zero_bytes(512 * 8);
        assert!(r.next_member().unwrap().is_some());
        assert!(r.next_member().unwrap().is_none());
        let mut r = Reader::new(&tar[..]).max_zero_bytes(512 * 4);
        assert!(r.next_member().unwrap().is_some());
        let e = r.next_member().unwrap_err();
        assert!(matches!(e, TarError::TooManyZeroBlocks { .. }), "{e}");
        assert!(e.to_string().contains("--max-total-gib"));
    }
    use std::path::{Path, PathBuf};

    /// The shared Moodle 4.3 corpus beside the project (`../shared`).
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/moodle43");

    /// Reads every member with its data.
    fn read_all(tar: &[u8]) -> Result<Vec<(Member, Vec<u8>)>, TarError> {
        let mut reader = Reader::new(tar);
        let mut out = Vec::new();
        while let Some(member) = reader.next_member()? {
            let mut data = Vec::new();
            reader.data().read_to_end(&mut data)?;
            out.push((member, data));
        }
        Ok(out)
    }

    fn write_all(members: &[(Member, Vec<u8>)]) -> Vec<u8> {
        let mut writer = Writer::new(Vec::new());
        for (member, data) in members {
            writer.append_bytes(member, data).unwrap();
        }
        writer.finish().unwrap()
    }

    /// Recomputes the checksum of a hand-built header (unsigned sum).
    fn set_checksum(h: &mut [u8; BLOCK]) {
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }

    /// A hand-built header (independent of `ustar_header`): POSIX magic unless `gnu`.
    fn raw_header(name: &[u8], typeflag: u8, size: u64, gnu: bool) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0001750\0");
        h[116..124].copy_from_slice(b"0001750\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"14524143400\0");
        h[156] = typeflag;
        if gnu {
            h[257..265].copy_from_slice(b"ustar  \0");
        } else {
            h[257..265].copy_from_slice(b"ustar\x0000");
        }
        h[265..269].copy_from_slice(b"root");
        h[297..301].copy_from_slice(b"root");
        set_checksum(&mut h);
        h
    }

    /// Data followed by zero padding to 512.
    fn padded(data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        out.resize(data.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    /// A pax record `"%d key=value\n"` with its self-inclusive length.
    fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
        let body = [b" ", key.as_bytes(), b"=", value, b"\n"].concat();
        let mut len = body.len() + 1;
        while len.to_string().len() + body.len() != len {
            len += 1;
        }
        [len.to_string().as_bytes(), &body].concat()
    }

    fn mbz_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                mbz_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "mbz") {
                out.push(path);
            }
        }
    }

    /// Real Moodle 4.3 tar.gz backups: read + write gives back the same tar bytes, and the index is regenerated
    /// identically. Moodle ends the stream with exactly two zero blocks and no record padding (checked: every
    /// fixture's tar ends right after them), so the whole output must equal the whole input, not just a prefix.
    #[test]
    fn moodle_fixtures_round_trip_byte_identical() {
        if !Path::new(FIXTURES).is_dir() {
            assert!(
                std::env::var_os("MBZ_REQUIRE_SHARED").is_none(),
                "{FIXTURES} is missing and MBZ_REQUIRE_SHARED is set"
            );
            // The real stderr, not println! (captured by the harness), so the skip is visible.
            let _ = writeln!(io::stderr(), "skipped: {FIXTURES} not present");
            return;
        }
        let mut files = Vec::new();
        mbz_files(Path::new(FIXTURES), &mut files);
        let mut checked = 0;
        for path in files {
            let gz = std::fs::read(&path).unwrap();
            if !gz.starts_with(&[0x1f, 0x8b]) {
                continue; // zip container
            }
            let mut tar = Vec::new();
            flate2::read::MultiGzDecoder::new(&gz[..])
                .read_to_end(&mut tar)
                .unwrap();

            let mut reader = Reader::new(&tar[..]);
            let mut members = Vec::new();
            while let Some(member) = reader.next_member().unwrap() {
                let mut data = Vec::new();
                reader.data().read_to_end(&mut data).unwrap();
                assert_eq!(data.len() as u64, member.size);
                members.push((member, data));
            }
            // Zero blocks are skipped to the end of the stream, as Moodle's extractor does.
            assert!(reader.into_inner().is_empty(), "{}", path.display());

            let out = write_all(&members);
            if out != tar {
                let at = out.iter().zip(&tar).position(|(a, b)| a != b);
                panic!(
                    "{}: output differs (lengths {} vs {}, first difference at {at:?})",
                    path.display(),
                    out.len(),
                    tar.len()
                );
            }

            let (index, index_data) = &members[0];
            assert_eq!(index.path, ARCHIVE_INDEX);
            assert_eq!(*index, index_member(index_data.len() as u64));
            let rest: Vec<Member> = members[1..].iter().map(|(m, _)| m.clone()).collect();
            assert_eq!(
                String::from_utf8_lossy(&archive_index(&rest)),
                String::from_utf8_lossy(index_data),
                "{}",
                path.display()
            );
            // Moodle's directories: mode 755, mtime DEFAULT_TIMESTAMP, trailing '/'.
            for m in rest.iter().filter(|m| m.kind == Kind::Dir) {
                assert_eq!(*m, Member::dir(&m.path, 0o755, DEFAULT_TIMESTAMP));
                assert!(m.path.ends_with(b"/"));
            }
            checked += 1;
        }
        assert!(checked > 0, "no tar.gz fixture found under {FIXTURES}");
    }

    #[test]
    fn long_path_is_split_like_moodle() {
        let path = format!("{}/{}/{}", "d".repeat(60), "e".repeat(60), "f".repeat(58));
        assert_eq!(path.len(), 180);
        let member = Member::file(path.as_bytes(), 3, 0o644, 1_700_000_000);
        let h = ustar_header(&member).unwrap();
        // Moodle moves leading components into the prefix until the name fits: prefix "d../e..", name "f..".
        assert_eq!(cstr(&h[..100]), "f".repeat(58).as_bytes());
        assert_eq!(
            cstr(&h[345..500]),
            format!("{}/{}", "d".repeat(60), "e".repeat(60)).as_bytes()
        );

        let tar = write_all(&[(member.clone(), b"abc".to_vec())]);
        let back = read_all(&tar).unwrap();
        assert_eq!(back, vec![(member, b"abc".to_vec())]);

        // A name of exactly 100 bytes needs no prefix and no NUL terminator.
        let exact = Member::file("n".repeat(100).as_bytes(), 0, 0o644, 0);
        let h = ustar_header(&exact).unwrap();
        assert_eq!(&h[..100], "n".repeat(100).as_bytes());
        assert_eq!(h[345], 0);
        assert_eq!(
            read_all(&write_all(&[(exact.clone(), Vec::new())])).unwrap()[0].0,
            exact
        );
    }

    #[test]
    fn writer_output_is_read_by_an_independent_implementation() {
        let long = format!("{}/{}/file.xml", "a".repeat(90), "b".repeat(80));
        let members = vec![
            (
                Member::dir(b"course/", 0o755, DEFAULT_TIMESTAMP),
                Vec::new(),
            ),
            (
                Member::file(long.as_bytes(), 5, 0o644, 1_700_000_000),
                b"hello".to_vec(),
            ),
        ];
        let tar = write_all(&members);
        let mut archive = ::tar::Archive::new(&tar[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path_bytes().into_owned();
            let mtime = entry.header().mtime().unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            seen.push((path, mtime, data));
        }
        assert_eq!(
            seen,
            vec![
                (b"course/".to_vec(), DEFAULT_TIMESTAMP, Vec::new()),
                (long.into_bytes(), 1_700_000_000, b"hello".to_vec()),
            ]
        );
    }

    #[test]
    fn unsplittable_paths_are_errors() {
        let cases = [
            "x".repeat(101),                                   // no '/'
            format!("{}/{}", "p".repeat(156), "n".repeat(50)), // prefix 156
            format!("{}/{}", "p".repeat(20), "n".repeat(101)), // last component 101
            format!("/{}", "n".repeat(101)),                   // only an empty prefix would do
        ];
        for path in cases {
            let err = ustar_header(&Member::file(path.as_bytes(), 0, 0o644, 0)).unwrap_err();
            assert!(matches!(err, TarError::PathTooLong { .. }), "{err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "member `{path}`: path cannot be stored in a ustar header (name > 100 or no '/' split with \
                     prefix <= 155)"
                )
            );
        }
        // Prefix of exactly 155 is fine.
        let ok = format!("{}/{}", "p".repeat(155), "n".repeat(100));
        assert!(ustar_header(&Member::file(ok.as_bytes(), 0, 0o644, 0)).is_ok());
    }

    #[test]
    fn pax_input_is_applied() {
        let long = format!("course/{}/enrolments.xml", "x".repeat(120));
        let records = [
            pax_record("path", long.as_bytes()),
            pax_record("mtime", b"1700000000.75"),
            pax_record("uname", b"moodle"),
            pax_record("size", b"5"),
            pax_record("SCHILY.xattr.user.x", b"ignored"),
        ]
        .concat();
        let global = pax_record("comment", b"global, ignored");
        let mut tar = Vec::new();
        tar.extend_from_slice(&raw_header(
            b"pax_global_header",
            b'g',
            global.len() as u64,
            false,
        ));
        tar.extend(padded(&global));
        tar.extend_from_slice(&raw_header(
            b"PaxHeaders.0/enrolments.xml",
            b'x',
            records.len() as u64,
            false,
        ));
        tar.extend(padded(&records));
        // Header size 0: the pax size (5) decides how much data follows.
        tar.extend_from_slice(&raw_header(b"enrolments.xml", b'0', 0, false));
        tar.extend(padded(b"hello"));
        tar.extend_from_slice(&[0; 2 * BLOCK]);

        let members = read_all(&tar).unwrap();
        assert_eq!(members.len(), 1);
        let (m, data) = &members[0];
        assert_eq!(m.path, long.as_bytes());
        assert_eq!(m.mtime, 1_700_000_000);
        assert_eq!(m.uname, b"moodle");
        assert_eq!(m.gname, b"root");
        assert_eq!(m.uid, 0o1750);
        assert_eq!(m.size, 5);
        assert_eq!(data, b"hello");

        // Written back as plain ustar with a prefix split, no pax.
        let out = write_all(&members);
        assert_eq!(out.len(), 4 * BLOCK);
        assert_eq!(out[156], b'0');
        assert_eq!(read_all(&out).unwrap(), members);
    }

    #[test]
    fn pax_values() {
        assert_eq!(parse_pax_time(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_pax_time(b"1700000000.999999"), Some(1_700_000_000));
        assert_eq!(parse_pax_time(b"-12.5"), Some(0));
        assert_eq!(parse_pax_time(b".5"), Some(0));
        assert_eq!(parse_pax_time(b"12a"), None);
        assert_eq!(parse_pax_time(b"."), None);

        let mut o = Overrides::default();
        assert!(o.apply_pax(b"9 path=a\n").is_ok());
        assert_eq!(o.path.as_deref(), Some(&b"a"[..]));
        assert!(
            o.apply_pax(b"8 path=\n").is_ok(),
            "empty value removes the override"
        );
        assert_eq!(o.path, None);
        assert_eq!(o.apply_pax(b"99 path=a\n"), Err("bad record length"));
        assert_eq!(o.apply_pax(b"9 path=a"), Err("bad record length"));
        assert_eq!(
            o.apply_pax(b"9 path=ab"),
            Err("record not ended by a newline")
        );
        assert_eq!(o.apply_pax(b"9 size=x\n"), Err("bad numeric value"));

        // Malformed pax data in an archive names the member.
        let bad = b"junk";
        let mut tar = Vec::new();
        tar.extend_from_slice(&raw_header(b"PaxHeaders/x", b'x', bad.len() as u64, false));
        tar.extend(padded(bad));
        let err = read_all(&tar).unwrap_err();
        assert_eq!(
            err.to_string(),
            "first member: malformed pax header (record without a length)"
        );
    }

    #[test]
    fn gnu_long_name_input() {
        let long = format!("files/{}/{}", "ab".repeat(40), "c".repeat(70));
        let link = format!("target/{}", "t".repeat(110));
        let name_data = [long.as_bytes(), b"\0"].concat();
        let link_data = [link.as_bytes(), b"\0"].concat();
        let mut tar = Vec::new();
        tar.extend_from_slice(&raw_header(
            b"././@LongLink",
            b'L',
            name_data.len() as u64,
            true,
        ));
        tar.extend(padded(&name_data));
        let mut h = raw_header(&long.as_bytes()[..100], b'0', 3, true);
        // GNU keeps atime/ctime where ustar has the prefix: must be ignored.
        h[345..357].copy_from_slice(b"14524143400\0");
        set_checksum(&mut h);
        tar.extend_from_slice(&h);
        tar.extend(padded(b"xyz"));
        tar.extend_from_slice(&raw_header(
            b"././@LongLink",
            b'K',
            link_data.len() as u64,
            true,
        ));
        tar.extend(padded(&link_data));
        tar.extend_from_slice(&raw_header(b"a-link", b'2', 0, true));
        tar.extend_from_slice(&[0; 2 * BLOCK]);

        let members = read_all(&tar).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].0.path_lossy(), long);
        assert_eq!(members[0].0.kind, Kind::File);
        assert_eq!(members[0].1, b"xyz");
        assert_eq!(members[1].0.path, b"a-link");
        assert_eq!(members[1].0.kind, Kind::Other(b'2'));
        assert_eq!(members[1].0.linkname, link.as_bytes());
    }

    #[test]
    fn checksum_errors_and_signed_sums() {
        let member = Member::file(b"a.txt", 2, 0o644, 1);
        let good = write_all(&[(member, b"hi".to_vec())]);

        let mut bad = good.clone();
        bad[0] = b'b';
        let err = read_all(&bad).unwrap_err();
        assert!(matches!(err, TarError::Checksum { .. }));
        assert_eq!(err.to_string(), "first member: bad header checksum");

        let second = Member::file(b"b.txt", 0, 0o644, 1);
        let mut two = write_all(&[
            (Member::file(b"a.txt", 2, 0o644, 1), b"hi".to_vec()),
            (second, Vec::new()),
        ]);
        two[2 * BLOCK + 3] ^= 1;
        assert_eq!(
            read_all(&two).unwrap_err().to_string(),
            "member after `a.txt`: bad header checksum"
        );

        // Old tars summed signed chars: a name byte >= 0x80 makes the sums differ.
        let mut h = raw_header(b"caf\xe9.txt", b'0', 0, false);
        h[148..156].fill(b' ');
        let signed: i64 = h.iter().map(|&b| i64::from(b as i8)).sum();
        h[148..156].copy_from_slice(format!("{signed:06o}\0 ").as_bytes());
        let tar = [&h[..], &[0; 2 * BLOCK]].concat();
        assert_eq!(read_all(&tar).unwrap()[0].0.path, b"caf\xe9.txt");
    }

    #[test]
    fn truncated_input_errors() {
        let member = Member::file(b"a.txt", 1000, 0o644, 1);
        let data = vec![7u8; 1000];
        let tar = write_all(&[(member, data)]);

        // Inside the data, skipped by next_member.
        let cut = &tar[..BLOCK + 700];
        let mut reader = Reader::new(cut);
        assert!(reader.next_member().unwrap().is_some());
        let err = reader.next_member().unwrap_err();
        assert!(
            matches!(err, TarError::Truncated { expected: 324, .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "member `a.txt`: truncated archive (expected 324 more bytes)"
        );

        // Inside the data, read through data().
        let mut reader = Reader::new(cut);
        assert!(reader.next_member().unwrap().is_some());
        let err = reader.data().read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            err.to_string(),
            "member `a.txt`: truncated archive (expected 324 more bytes)"
        );

        // Inside the padding.
        let err = read_all(&tar[..BLOCK + 1000]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "member `a.txt`: truncated archive (expected 24 more bytes)"
        );

        // Inside the next header.
        let err = read_all(&tar[..3 * BLOCK + 100]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "member after `a.txt`: truncated archive (expected 412 more bytes)"
        );

        // Inside the first header.
        let err = read_all(&tar[..100]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "first member: truncated archive (expected 412 more bytes)"
        );

        // Right after a complete member with no end marker: accepted as the end.
        assert_eq!(read_all(&tar[..3 * BLOCK]).unwrap().len(), 1);

        // An extension record with no member after it.
        let name = b"long\0";
        let mut ext = raw_header(b"././@LongLink", b'L', name.len() as u64, true).to_vec();
        ext.extend(padded(name));
        assert!(matches!(
            read_all(&ext).unwrap_err(),
            TarError::Truncated { expected: 512, .. }
        ));
        ext.extend_from_slice(&[0; 2 * BLOCK]);
        assert!(matches!(
            read_all(&ext).unwrap_err(),
            TarError::DanglingExtension { .. }
        ));

        // Empty input; an archive with only the end marker.
        assert!(matches!(read_all(b"").unwrap_err(), TarError::Empty));
        assert_eq!(read_all(&[0; 2 * BLOCK]).unwrap(), Vec::new());
    }

    #[test]
    fn v7_headers_are_rejected() {
        let mut v7 = raw_header(b"old.txt", b'0', 0, false);
        v7[257..265].fill(0);
        set_checksum(&mut v7);
        let tar = [&v7[..], &[0; 2 * BLOCK]].concat();
        let err = read_all(&tar).unwrap_err();
        assert!(matches!(err, TarError::NotTar));
        assert_eq!(
            err.to_string(),
            "not a tar archive: no ustar magic in the first header"
        );

        let first = raw_header(b"new.txt", b'0', 0, false);
        let tar = [&first[..], &v7[..], &[0; 2 * BLOCK]].concat();
        assert_eq!(
            read_all(&tar).unwrap_err().to_string(),
            "member after `new.txt`: no ustar magic in the header (old V7 tar headers are not supported)"
        );
    }

    #[test]
    fn other_kinds_round_trip() {
        let mut symlink = Member::file(b"course/link.xml", 0, 0o777, 1_700_000_000);
        symlink.kind = Kind::Other(b'2');
        symlink.linkname = b"../course/course.xml".to_vec();
        symlink.uid = 33;
        symlink.gid = 33;
        symlink.uname = b"www-data".to_vec();
        symlink.gname = b"www-data".to_vec();
        let mut hardlink = symlink.clone();
        hardlink.path = b"course/hard.xml".to_vec();
        hardlink.kind = Kind::Other(b'1');
        let mut fifo = Member::file(b"fifo", 0, 0o600, 0);
        fifo.kind = Kind::Other(b'6');
        let members = vec![
            (
                Member::dir(b"course/", 0o755, DEFAULT_TIMESTAMP),
                Vec::new(),
            ),
            (symlink.clone(), Vec::new()),
            (hardlink, Vec::new()),
            (fifo, Vec::new()),
            (
                Member::file(b"course/course.xml", 4, 0o644, 5),
                b"<a/>".to_vec(),
            ),
        ];
        let tar = write_all(&members);
        assert_eq!(read_all(&tar).unwrap(), members);
        let h = ustar_header(&symlink).unwrap();
        assert_eq!(h[156], b'2');
        assert_eq!(&h[108..124], b"0000041\x000000041\0");

        // The index leaves them out.
        let list: Vec<Member> = members.into_iter().map(|(m, _)| m).collect();
        assert_eq!(
            archive_index(&list),
            b"Moodle archive file index. Count: 2\ncourse/\td\t0\t?\ncourse/course.xml\tf\t4\t5\n"
        );
    }

    #[test]
    fn base256_numbers() {
        let mut h = raw_header(b"big.bin", b'0', 0, true);
        // 8 GiB + 5: does not fit 11 octal digits.
        h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 5]);
        // Negative mtime (GNU writes 0xff...): read as 0.
        h[136..148].copy_from_slice(&[0xff; 12]);
        set_checksum(&mut h);
        let mut reader = Reader::new(&h[..]);
        let member = reader.next_member().unwrap().unwrap();
        assert_eq!(member.size, (8 << 30) + 5);
        assert_eq!(member.mtime, 0);

        assert_eq!(
            parse_numeric(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            Ok(256)
        );
        assert_eq!(
            parse_numeric(&[0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(NumError::Invalid)
        );
        assert_eq!(parse_numeric(&[0xff; 8]), Err(NumError::Negative));
        assert_eq!(parse_numeric(b" 0644 \0\0"), Ok(0o644));
        assert_eq!(parse_numeric(b"\0\0\0\0\0\0\0\0"), Ok(0));
        assert_eq!(parse_numeric(b"0000644\0"), Ok(0o644));
        assert_eq!(parse_numeric(b"0006x4\0\0"), Err(NumError::Invalid));
        assert_eq!(parse_numeric(b"06 4\0\0\0\0"), Err(NumError::Invalid));
    }

    #[test]
    fn writer_rejects_what_ustar_cannot_hold() {
        let ok = Member::file(b"a", 0, 0o644, 0);
        let check = |m: Member, expected: &str| {
            assert_eq!(ustar_header(&m).unwrap_err().to_string(), expected);
        };
        check(
            Member {
                path: b"a\0b".to_vec(),
                ..ok.clone()
            },
            "member `a\0b`: path contains a NUL byte",
        );
        check(
            Member {
                path: Vec::new(),
                ..ok.clone()
            },
            "member with an empty path cannot be stored in a ustar header",
        );
        check(
            Member {
                size: 1 << 33,
                ..ok.clone()
            },
            "member `a`: size exceeds the ustar limit of 8 GiB - 1",
        );
        assert!(
            ustar_header(&Member {
                size: (1 << 33) - 1,
                ..ok.clone()
            })
            .is_ok()
        );
        check(
            Member {
                mtime: 1 << 33,
                ..ok.clone()
            },
            "member `a`: mtime 8589934592 does not fit its ustar field (max 8589934591)",
        );
        check(
            Member {
                uid: 1 << 21,
                ..ok.clone()
            },
            "member `a`: uid 2097152 does not fit its ustar field (max 2097151)",
        );
        check(
            Member {
                mode: 0o100644,
                ..ok.clone()
            },
            "member `a`: mode 0o100644 has bits outside the permission bits 0o7777",
        );
        check(
            Member {
                uname: vec![b'u'; 32],
                ..ok.clone()
            },
            "member `a`: user name is longer than 31 bytes",
        );
        check(
            Member {
                linkname: vec![b'l'; 101],
                ..ok.clone()
            },
            "member `a`: link name is longer than 100 bytes",
        );
        check(
            Member {
                kind: Kind::Dir,
                size: 1,
                ..ok.clone()
            },
            "member `a`: a directory cannot carry data (size 1)",
        );
        check(
            Member {
                kind: Kind::Other(b'x'),
                ..ok.clone()
            },
            "member `a`: typeflag `x` is a pax/GNU extension record, not written by a strict ustar writer",
        );

        let mut writer = Writer::new(Vec::new());
        let err = writer
            .append(&Member::file(b"a", 10, 0o644, 0), &b"short"[..])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "member `a`: data ended early (expected 10 bytes, got 5)"
        );
        let mut writer = Writer::new(Vec::new());
        let err = writer
            .append_bytes(&Member::file(b"a", 10, 0o644, 0), b"short")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "member `a`: data is 5 bytes but the member size is 10"
        );
        assert!(
            writer.finish().unwrap().len() == 2 * BLOCK,
            "nothing written before the mismatch"
        );
    }

    #[test]
    fn header_layout_matches_moodle() {
        // The exact bytes Moodle wrote for `course/` (coh_basic.mbz), checksum 007274.
        let h = ustar_header(&Member::dir(b"course/", 0o755, DEFAULT_TIMESTAMP)).unwrap();
        assert_eq!(&h[..8], b"course/\0");
        assert_eq!(
            &h[100..157],
            &b"0000755\x000000000\x000000000\x0000000000000\x0012070423400\x00007274\x00 5"[..]
        );
        assert_eq!(&h[257..265], b"ustar\x0000");
        assert!(h[157..257].iter().chain(&h[265..512]).all(|&b| b == 0));

        let index = archive_index(&[Member::file(b"moodle_backup.xml", 10, 0o644, 1_795_273_327)]);
        assert_eq!(
            index,
            b"Moodle archive file index. Count: 1\nmoodle_backup.xml\tf\t10\t1795273327\n"
        );
        assert_eq!(archive_index(&[]), b"Moodle archive file index. Count: 0\n");
        let im = index_member(index.len() as u64);
        assert_eq!(
            (im.mode, im.mtime, im.uid, im.kind),
            (0o644, DEFAULT_TIMESTAMP, 0, Kind::File)
        );
    }

    #[test]
    fn data_can_be_partly_read_then_skipped() {
        let members = vec![
            (Member::file(b"a", 700, 0o644, 0), vec![1u8; 700]),
            (Member::file(b"b", 3, 0o644, 0), b"bbb".to_vec()),
        ];
        let tar = write_all(&members);
        let mut reader = Reader::new(&tar[..]);
        reader.next_member().unwrap().unwrap();
        let mut part = [0u8; 10];
        reader.data().read_exact(&mut part).unwrap();
        let b = reader.next_member().unwrap().unwrap();
        assert_eq!(b.path, b"b");
        let mut data = Vec::new();
        reader.data().read_to_end(&mut data).unwrap();
        assert_eq!(data, b"bbb");
        assert_eq!(reader.next_member().unwrap(), None);
        assert_eq!(reader.next_member().unwrap(), None);
    }
}

#[cfg(test)]
mod concatenated {
    use super::*;

    #[test]
    fn members_after_an_end_marker_are_read_not_dropped() {
        let mut tar = Vec::new();
        let mut w = Writer::new(&mut tar);
        w.append_bytes(&Member::file(b"a.xml", 3, 0o644, 1), b"<a/")
            .unwrap();
        w.finish().unwrap();
        let mut w = Writer::new(&mut tar);
        w.append_bytes(&Member::file(b"b.xml", 3, 0o644, 1), b"<b/")
            .unwrap();
        w.finish().unwrap();
        let mut r = Reader::new(&tar[..]);
        let mut names = Vec::new();
        while let Some(m) = r.next_member().unwrap() {
            names.push(m.path_lossy());
        }
        assert_eq!(names, ["a.xml", "b.xml"]);
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        // A pax size near u64::MAX: an error, never an overflow panic.
        let mut tar = Vec::new();
        let record = format!("29 size={}\n", u64::MAX);
        let mut h =
            ustar_header(&Member::file(b"PaxHeader", record.len() as u64, 0o644, 0)).unwrap();
        h[156] = b'x';
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend_from_slice(&h);
        tar.extend_from_slice(record.as_bytes());
        tar.resize(tar.len().div_ceil(BLOCK) * BLOCK, 0);
        tar.extend_from_slice(&ustar_header(&Member::file(b"x", 0, 0o644, 0)).unwrap());
        tar.extend_from_slice(&[0u8; 2 * BLOCK]);
        let mut r = Reader::new(&tar[..]);
        let first = r.next_member().unwrap().unwrap();
        assert_eq!(first.size, u64::MAX);
        assert!(r.next_member().is_err());
    }

    #[test]
    fn octal_fields_are_formatted_like_format() {
        for digits in [1, 7, 11] {
            for value in [0u64, 1, 7, 8, 0o644, 0o7777, 4096, 1 << 33, u64::MAX] {
                let mut field = [0xffu8; 24];
                put_octal(&mut field, value, digits);
                let text = format!("{value:0digits$o}");
                assert_eq!(
                    &field[..digits],
                    &text.as_bytes()[..digits],
                    "{value} {digits}"
                );
                assert_eq!(field[digits], 0);
            }
        }
    }
}
