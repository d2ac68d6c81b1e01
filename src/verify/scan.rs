//! One pass over an archive for verification: raw tar headers (not interpreted: a pax or GNU record is a
//! finding, not a convenience), zip central directory, a SHA-256 digest of every member, streaming
//! well-formedness of every XML member, and the bytes of the few members the content checks read.
//!
//! This reader is deliberately separate from [`crate::archive`]: a verifier that shared the writer's code
//! would share its mistakes.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use quick_xml::events::Event;
use sha2::{Digest, Sha256};

// Plain io plumbing shared with the archive reader (gzip as zlib reads it, full reads); the tar parsing here
// stays verify's own.
use crate::archive::gunzip::Gunzip;
use crate::archive::tar::read_full;
use crate::archive::{Container, Limit, Limits};
use crate::enrol::members::{COURSE_ROLES, ENROLMENTS, GROUPS, MOODLE_BACKUP, ROLES, USERS};

mod zip;

/// Members whose bytes the content checks need.
pub const HELD: &[&str] = &[
    ".ARCHIVE_INDEX",
    MOODLE_BACKUP,
    ENROLMENTS,
    COURSE_ROLES,
    ROLES,
    GROUPS,
];

/// One member as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Path as stored (tar: prefix + "/" + name).
    pub path: String,
    /// `f` file, `d` directory, or the raw tar typeflag.
    pub kind: char,
    /// Data size.
    pub size: u64,
    /// SHA-256 of the data.
    pub digest: [u8; 32],
}

/// Largest `.ARCHIVE_INDEX` held (about a million members).
pub const MAX_INDEX: u64 = 64 << 20;

/// Everything one pass learnt, including container-level problems.
#[derive(Debug, Default)]
pub struct Scan {
    /// The container, when the magic bytes name one.
    pub container: Option<Container>,
    /// Members in order (`.ARCHIVE_INDEX` included).
    pub members: Vec<Found>,
    /// Bytes of the [`HELD`] members (first occurrence).
    pub held: BTreeMap<String, Vec<u8>>,
    /// `users.xml`: user id to username.
    pub users: Option<BTreeMap<i64, String>>,
    /// Failures per check name, in the order found.
    pub failures: Vec<(&'static str, String)>,
    /// Warnings per check name (restore skips or misreports, it does not fail), in the order found.
    pub warnings: Vec<(&'static str, String)>,
    /// The stream could not be read to its end (later checks see a partial archive).
    pub incomplete: bool,
    /// Reading stopped at a limit: the error to report instead of checks.
    pub too_large: Option<crate::Error>,
    limits: Limits,
    total: u64,
    /// Set by someone else to stop the read (its result no longer wanted): the next read of member data fails.
    stop: Option<Arc<AtomicBool>>,
}

impl Scan {
    /// Adds `size` to the running total and checks a member held in memory against the XML limit; past a
    /// limit, records why reading stops and returns false.
    fn count(&mut self, archive: &Path, member: &str, size: u64) -> bool {
        self.total = self.total.saturating_add(size);
        let held =
            HELD.contains(&member) && member != ".ARCHIVE_INDEX" && !self.held.contains_key(member);
        let admitted = self
            .limits
            .check_total(archive, member, self.total)
            .and_then(|()| {
                if held {
                    self.limits.check_xml(archive, member, size)
                } else {
                    Ok(())
                }
            });
        match admitted {
            Ok(()) => true,
            Err(e) => {
                self.too_large = Some(e.into());
                self.incomplete = true;
                false
            }
        }
    }

    fn fail(&mut self, check: &'static str, finding: impl Into<String>) {
        self.failures.push((check, finding.into()));
    }

    fn warn(&mut self, check: &'static str, finding: impl Into<String>) {
        self.warnings.push((check, finding.into()));
    }
}

/// Check names used by the scan.
pub mod names {
    /// Magic bytes name a container Moodle reads.
    pub const CONTAINER: &str = "container";
    /// The gzip stream decodes to its end with a valid CRC and length.
    pub const GZIP: &str = "gzip-stream";
    /// Every tar header is POSIX ustar with a valid checksum.
    pub const USTAR: &str = "tar-ustar-headers";
    /// No pax or GNU extension records.
    pub const EXTENSIONS: &str = "tar-no-extensions";
    /// Every member's data is present.
    pub const SIZES: &str = "tar-sizes";
    /// No `./`, absolute or `..` paths.
    pub const PATHS: &str = "member-paths";
    /// No member name twice.
    pub const DUPLICATES: &str = "no-duplicate-names";
    /// The zip central directory matches its entries.
    pub const ZIP: &str = "zip-directory";
    /// Every XML member is well-formed UTF-8.
    pub const XML: &str = "xml-well-formed";
}

/// `path` without its leading `./`s.
fn strip_dot(path: &str) -> &str {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.trim_start_matches('/');
    }
    if p == "." { "" } else { p }
}

/// Largest pax or GNU record read to judge it.
const MAX_EXTENSION: u64 = 1 << 20;

/// A pax (`x`, `g`) or GNU (`L`, `K`) record: its digest, and what Moodle makes of it. Moodle extracts every
/// one as a junk file; a pax record that only carries times or ids changes nothing else (a warning), one that
/// sets the next member's path, link or size, and any GNU long name, leaves the next member under the truncated
/// ustar name or size Moodle reads instead (an error).
fn extension_record(
    scan: &mut Scan,
    raw: &str,
    flag: u8,
    data: &mut dyn Read,
) -> io::Result<[u8; 32]> {
    let mut bytes = Vec::new();
    data.take(MAX_EXTENSION).read_to_end(&mut bytes)?;
    let mut hasher = Sha256::new();
    hasher.update(&bytes);
    io::copy(&mut HashRead(data, &mut hasher), &mut io::sink())?;
    if matches!(flag, b'L' | b'K') {
        scan.fail(
            names::EXTENSIONS,
            format!(
                "member `{raw}`: GNU long-name record: Moodle extracts it as a junk file and the next member under its truncated 100-byte name"
            ),
        );
    } else {
        let text = String::from_utf8_lossy(&bytes);
        let overrides: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(_, kv)| kv))
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
            .filter(|k| matches!(*k, "path" | "linkpath" | "size"))
            .collect();
        if overrides.is_empty() {
            scan.warn(
                names::EXTENSIONS,
                format!("member `{raw}`: pax record of times or ids: Moodle extracts it as a junk file and ignores it"),
            );
        } else {
            scan.fail(
                names::EXTENSIONS,
                format!(
                    "member `{raw}`: pax record setting {}: Moodle ignores it and reads the next member's ustar header instead",
                    overrides.join(", ")
                ),
            );
        }
    }
    Ok(hasher.finalize().into())
}

/// Hashes what it reads.
struct HashRead<'a>(&'a mut dyn Read, &'a mut Sha256);

impl Read for HashRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1.update(&buf[..n]);
        Ok(n)
    }
}

fn check_path(scan: &mut Scan, path: &str) {
    let bad = if path.starts_with('/') {
        Some("is absolute")
    } else if path.split('/').any(|c| c == "..") {
        Some("contains `..`")
    } else if path.contains('\\') {
        Some("contains a backslash")
    } else if path.is_empty() {
        Some("is empty")
    } else if path.bytes().any(|b| b < 0x20) {
        Some("contains a control character (a NUL byte, a line break, a tab)")
    } else {
        None
    };
    if let Some(why) = bad {
        // On one line: control characters as `\xNN`.
        let shown: String = path
            .chars()
            .map(|c| {
                if u32::from(c) < 0x20 {
                    format!("\\x{:02x}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect();
        scan.fail(names::PATHS, format!("member `{shown}` {why}"));
    }
}

/// Reads a member's data: digest, well-formedness for XML, bytes when held.
fn read_member(
    scan: &mut Scan,
    path: &str,
    size: u64,
    data: &mut dyn Read,
) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut held = HELD.contains(&path) && !scan.held.contains_key(path);
    // The other held members were checked against the XML limit (`Limits::max_xml`) by `Scan::count` before
    // being read.
    if held && path == ".ARCHIVE_INDEX" && size > MAX_INDEX {
        scan.fail(
            names::SIZES,
            format!(
                "member `{path}` is {size} bytes, over the {MAX_INDEX}-byte limit for checking it"
            ),
        );
        held = false;
    }
    let xml = path.ends_with(".xml");
    let users = path == USERS && scan.users.is_none();
    let mut tee = Tee {
        inner: data,
        hasher: &mut hasher,
        keep: held.then(Vec::new),
        stop: scan.stop.clone(),
    };
    if xml {
        let mut reader = BufReader::with_capacity(64 << 10, &mut tee);
        let outcome = check_xml(&mut reader, users, &scan.limits);
        io::copy(&mut reader, &mut io::sink())?;
        match outcome {
            Ok(ids) => {
                if users {
                    scan.users = Some(ids);
                }
            }
            Err(XmlProblem::Io(e)) => return Err(e),
            Err(XmlProblem::Bad(why)) => {
                scan.fail(names::XML, format!("member `{path}`: {why}"));
                if users {
                    scan.users = Some(BTreeMap::new());
                }
            }
        }
    } else {
        io::copy(&mut tee, &mut io::sink())?;
    }
    if let Some(bytes) = tee.keep.take() {
        scan.held.insert(path.to_owned(), bytes);
    }
    Ok(hasher.finalize().into())
}

struct Tee<'a> {
    inner: &'a mut dyn Read,
    hasher: &'a mut Sha256,
    keep: Option<Vec<u8>>,
    stop: Option<Arc<AtomicBool>>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
        {
            return Err(io::Error::other("stopped: the result is no longer wanted"));
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if let Some(k) = self.keep.as_mut() {
            k.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

enum XmlProblem {
    Io(io::Error),
    Bad(String),
}

/// Streams `reader` through the XML parser; with `users`, collects `<user id>` → `<username>`.
fn check_xml(
    reader: &mut impl BufRead,
    users: bool,
    limits: &Limits,
) -> Result<BTreeMap<i64, String>, XmlProblem> {
    let bounded = crate::xml::Bounded::new(reader, limits.max_xml);
    let mut xr = quick_xml::reader::Reader::from_reader(bounded);
    xr.config_mut().check_end_names = true;
    xr.config_mut().check_comments = true;
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut ids = BTreeMap::new();
    let mut current: Option<i64> = None;
    let mut in_username = false;
    loop {
        buf.clear();
        let event = match xr.read_event_into(&mut buf) {
            Ok(e) => {
                xr.get_mut().reset();
                e
            }
            // The per-event bound: a finding about the member, not a broken stream.
            Err(quick_xml::Error::Io(e)) if crate::xml::TooLong::is(&e) => {
                let raise = limits.raise_hint(Limit::Xml);
                return Err(XmlProblem::Bad(format!("{e}{raise}")));
            }
            Err(quick_xml::Error::Io(e)) => {
                return Err(XmlProblem::Io(io::Error::new(e.kind(), e.to_string())));
            }
            Err(e) => {
                return Err(XmlProblem::Bad(format!(
                    "{e} (at byte {})",
                    xr.error_position()
                )));
            }
        };
        match &event {
            Event::Start(t) | Event::Empty(t) => {
                for a in t.attributes().with_checks(true) {
                    let a = a.map_err(|e| XmlProblem::Bad(format!("bad attribute: {e}")))?;
                    control_chars(&a.value)?;
                }
            }
            Event::Text(t) => control_chars(t)?,
            Event::GeneralRef(r) => {
                let name: &str = r;
                // One of the five predefined entities or a reference to a legal character.
                if crate::xml::reference(name.as_bytes()).is_none() {
                    return Err(XmlProblem::Bad(format!(
                        "undefined entity or invalid character reference `&{name};` (Moodle's parser refuses it)"
                    )));
                }
            }
            _ => {}
        }
        match event {
            Event::Start(t) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
                if users && depth == 2 && t.local_name().as_ref() == "user" {
                    current = crate::xml::attr(&t, b"id").and_then(|s| s.parse().ok());
                }
                in_username = users && depth == 3 && t.local_name().as_ref() == "username";
            }
            Event::Empty(_) if depth == 0 => roots += 1,
            Event::End(_) => {
                if depth == 0 {
                    return Err(XmlProblem::Bad("end tag without start".into()));
                }
                depth -= 1;
                in_username = false;
                if depth == 1 {
                    current = None;
                }
            }
            Event::Text(t) if in_username => {
                if let Some(id) = current {
                    let s: &str = &t;
                    ids.entry(id)
                        .or_insert_with(String::new)
                        .push_str(&crate::xml::unescape(s));
                }
            }
            Event::CData(t) if in_username => {
                if let Some(id) = current {
                    ids.entry(id)
                        .or_insert_with(String::new)
                        .push_str(AsRef::<str>::as_ref(&t));
                }
            }
            Event::Text(t) if depth == 0 && !t.chars().all(char::is_whitespace) => {
                return Err(XmlProblem::Bad("text outside the root element".into()));
            }
            Event::DocType(_) => {
                return Err(XmlProblem::Bad(
                    "DOCTYPE declaration (Moodle never writes one; entities are refused)".into(),
                ));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err(XmlProblem::Bad("document ends inside an element".into()));
    }
    if roots != 1 {
        return Err(XmlProblem::Bad(format!("{roots} root elements")));
    }
    if users {
        // A user with no username still counts as present.
        return Ok(ids);
    }
    Ok(BTreeMap::new())
}

/// C0 control characters other than tab, LF and CR are invalid XML 1.0.
fn control_chars(s: &str) -> Result<(), XmlProblem> {
    match s.chars().find(|&c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{fffe}' || c == '\u{ffff}'
    }) {
        Some(c) => Err(XmlProblem::Bad(format!(
            "control character U+{:04X} (invalid in XML 1.0)",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// Scans `path`. Errors only when the file cannot be opened or read at all.
///
/// # Errors
/// The I/O error opening or reading the file itself.
pub fn scan(path: &Path) -> io::Result<Scan> {
    scan_limited(path, &Limits::default())
}

/// [`scan`] within `limits`: XML members over `max_xml` fail their check; past `max_total` inflated bytes
/// reading stops and [`Scan::too_large`] says why.
///
/// # Errors
/// As [`scan`].
pub fn scan_limited(path: &Path, limits: &Limits) -> io::Result<Scan> {
    scan_stopping(path, limits, None)
}

/// [`scan_limited`], failing at its next read of member data once `stop` is set (by a caller that no longer
/// wants the result).
///
/// # Errors
/// As [`scan`], and an error once stopped.
pub fn scan_stopping(
    path: &Path,
    limits: &Limits,
    stop: Option<Arc<AtomicBool>>,
) -> io::Result<Scan> {
    let mut scan = Scan {
        limits: *limits,
        stop,
        ..Scan::default()
    };
    let mut f = File::open(path)?;
    let mut magic = [0u8; 4];
    let n = read_full(&mut f, &mut magic)?;
    scan.container = crate::archive::from_magic(&magic[..n]);
    match scan.container {
        None => {
            scan.fail(
                names::CONTAINER,
                format!(
                    "first bytes {} are neither gzip (1f 8b) nor zip (50 4b 03 04)",
                    hex(&magic[..n])
                ),
            );
            scan.incomplete = true;
        }
        Some(Container::TarGz) => scan_tgz(path, &mut scan)?,
        Some(Container::Zip) => zip::scan_zip(path, &mut scan)?,
    }
    Ok(scan)
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "(empty file)".into();
    }
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn cstr(field: &[u8]) -> &[u8] {
    field
        .iter()
        .position(|&b| b == 0)
        .map_or(field, |i| &field[..i])
}

/// Gzip errors surface as I/O errors of the decoder: record them and stop.
fn gzip_failed(scan: &mut Scan, at: &str, e: &io::Error) {
    scan.fail(names::GZIP, format!("{at}: {e}"));
    scan.incomplete = true;
}

fn scan_tgz(path: &Path, scan: &mut Scan) -> io::Result<()> {
    let f = File::open(path)?;
    let mut gz = Gunzip::new(BufReader::with_capacity(256 << 10, f));
    let mut seen = HashSet::new();
    let mut last = String::from("the start");
    let mut first = true;
    let mut dotted = false;
    loop {
        let mut block = [0u8; 512];
        let n = match read_full(&mut gz, &mut block) {
            Ok(n) => n,
            Err(e) => {
                gzip_failed(scan, &format!("after {last}"), &e);
                return Ok(());
            }
        };
        if n == 0 {
            if first {
                scan.fail(names::USTAR, "the tar stream is empty");
            }
            // End of stream without an end marker: tolerated by Moodle.
            break;
        }
        if n < 512 {
            scan.fail(names::SIZES, format!("truncated header after {last}"));
            scan.incomplete = true;
            return Ok(());
        }
        if block.iter().all(|&b| b == 0) {
            // Moodle's extractor skips zero blocks and reads on: so do we, so nothing after one goes unseen
            // (they count towards the total, so a bomb of zeros stops at the limit).
            // (The message is built only once the limit is reached, not per block.)
            if scan.total.saturating_add(512) > scan.limits.max_total {
                scan.count(path, &format!("zero blocks after {last}"), 512);
                return Ok(());
            }
            scan.total += 512;
            continue;
        }
        let name = cstr(&block[0..100]);
        let prefix = cstr(&block[345..500]);
        // POSIX ustar; GNU's "ustar  \0" is accepted too (Moodle's extractor takes it; its prefix field
        // is not a prefix).
        let posix = &block[257..263] == b"ustar\0";
        let magic_ok = posix || &block[257..265] == b"ustar  \0";
        let mut full = Vec::new();
        if posix && !prefix.is_empty() {
            full.extend_from_slice(prefix);
            full.push(b'/');
        }
        full.extend_from_slice(name);
        let member = String::from_utf8_lossy(&full).into_owned();
        if !magic_ok {
            scan.fail(
                names::USTAR,
                format!(
                    // Placed by what precedes it: what is read here may be a member's data, not a name.
                    "the header after {last} is not a POSIX ustar header (magic {:?}): Moodle's extractor stops there",
                    String::from_utf8_lossy(&block[257..265])
                ),
            );
            // As Moodle's extractor (it throws): nothing after this block is read as the archive's.
            scan.incomplete = true;
            return Ok(());
        }
        let stored = octal(&block[148..156]);
        let sum: u64 = block
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if stored != Some(sum) {
            scan.fail(
                names::USTAR,
                format!("member `{member}`: bad header checksum"),
            );
        }
        let flag = block[156];
        let extension = matches!(flag, b'x' | b'g' | b'L' | b'K');
        let Some(size) = octal(&block[124..136]) else {
            // Moodle's tgz_extractor reads `octdec(substr($block, 124, 11))`: binary is not octal.
            let why = if block[124] & 0x80 != 0 {
                "size field is GNU base-256 (binary), which Moodle's extractor does not read (it takes another \
                 size, 0 for most, and reads the data as headers)"
            } else {
                "size field is not octal"
            };
            scan.fail(names::USTAR, format!("member `{member}`: {why}"));
            scan.incomplete = true;
            return Ok(());
        };
        first = false;
        // Moodle's extractor trims the leading `./` (`clean_param(PARAM_PATH)`): so do we, and say so.
        let raw = member.clone();
        let member = if extension {
            member
        } else {
            let bare = strip_dot(&member).to_owned();
            // One line for the archive, naming the first such member (a `tar -C dir .` archive has them all).
            if bare != member && !bare.is_empty() && !dotted {
                dotted = true;
                scan.warn(
                    names::PATHS,
                    format!(
                        "member names start with `./`, e.g. `{member}`: restore extracts it as `{bare}` (Moodle's backup information check, which matches exact names, would not find it); convert and renew write them from the root, as Moodle's backups do"
                    ),
                );
            }
            bare
        };
        if !extension && !member.is_empty() {
            check_path(scan, &member);
            if !seen.insert(member.clone()) {
                scan.fail(names::DUPLICATES, format!("member `{member}` occurs twice"));
            }
        }
        let kind = match flag {
            b'0' | 0 => 'f',
            b'5' => 'd',
            other => char::from(other),
        };
        if let Some(what) = match flag {
            b'1' => Some("a hard link"),
            b'2' => Some("a symbolic link"),
            b'3' | b'4' => Some("a device"),
            b'6' => Some("a FIFO"),
            b'7' => Some("a contiguous file (tar type 7)"),
            _ => None,
        } {
            let target = String::from_utf8_lossy(cstr(&block[157..257])).into_owned();
            scan.fail(
                names::PATHS,
                format!(
                    "member `{member}` is {what}{}: no Moodle backup holds one (restore skips it; convert, renew, plan and batch refuse the archive)",
                    if target.is_empty() { String::new() } else { format!(" to `{target}`") }
                ),
            );
        }
        // Moodle reads no data for link, device and contiguous-file entries (`tgz_extractor::process_header`
        // skips them); a size there would desynchronise the stream.
        let data_len = if matches!(flag, b'1'..=b'7') { 0 } else { size };
        if !scan.count(path, &member, data_len) {
            return Ok(());
        }
        let mut data = (&mut gz).take(data_len);
        let read = if extension {
            extension_record(scan, &raw, flag, &mut data)
        } else if data_len == 0 && matches!(flag, b'1'..=b'7') {
            // No data to judge: a link or device is the finding above, not an empty XML document.
            Ok(Sha256::digest([]).into())
        } else {
            read_member(scan, &member, data_len, &mut data)
        };
        let digest = match read {
            Ok(d) => d,
            Err(e) => {
                gzip_failed(scan, &format!("member `{member}`"), &e);
                return Ok(());
            }
        };
        if data.limit() > 0 {
            scan.fail(
                names::SIZES,
                format!("member `{member}`: {} bytes of data missing", data.limit()),
            );
            scan.incomplete = true;
            return Ok(());
        }
        let pad = (512 - data_len % 512) % 512;
        let mut padding = vec![0u8; usize::try_from(pad).unwrap_or(0)];
        match read_full(&mut gz, &mut padding) {
            Ok(k) if k as u64 == pad => {}
            Ok(_) => {
                scan.fail(names::SIZES, format!("member `{member}`: padding missing"));
                scan.incomplete = true;
                return Ok(());
            }
            Err(e) => {
                gzip_failed(scan, &format!("member `{member}`"), &e);
                return Ok(());
            }
        }
        if member.is_empty() {
            // `./` itself: the root, which restore creates anyway.
            continue;
        }
        scan.members.push(Found {
            path: member.clone(),
            kind,
            size,
            digest,
        });
        last = format!("member `{raw}`");
    }
    // The rest of the stream: the gzip trailer is checked only when the decoder reaches it.
    if let Err(e) = io::copy(&mut gz, &mut io::sink()) {
        gzip_failed(scan, "after the last member", &e);
    }
    Ok(())
}
