//! Backup containers: detection by magic bytes, streaming reads, and rewriting with every untouched member
//! copied as it is.
//!
//! Reading takes two passes over the input: [`load`] collects the member list and the members the caller
//! names ([`load_streaming`] hands the large ones to the caller's callback as streams instead of holding
//! them); [`write()`] streams every member to a temp file beside the output, replacing only the rewritten ones,
//! then renames it. The archive is never held in memory whole. This module knows no Moodle rule: which
//! members matter, and which are written last, is the caller's to say. Its errors are [`Error`], naming the
//! archive and member; a limit is carried as a value ([`Limit`]), never as the option that sets it.
//!
//! - tar.gz: POSIX ustar headers only, original order, names, modes and mtimes, and a freshly computed
//!   `.ARCHIVE_INDEX` always first, whether or not the input had one, `./` prefixes trimmed as Moodle's
//!   extractor trims them (moodle-format.md §1.2–§1.3); gzip header mtime 0, so the same input gives the same
//!   bytes. A large tar.gz is inflated once: the first pass records where the input's deflate blocks start
//!   (`blockmap.rs`), and the write copies the input's compressed blocks wherever the output's bytes are the
//!   input's (`splice.rs`), compressing only around the changes.
//! - zip: untouched members are raw-copied (no recompression), rewritten ones deflated.

mod blockmap;
mod error;
pub mod gunzip;
mod handoff;
mod kept;
pub mod output;
pub mod pgzip;
mod splice;
pub mod tar;
mod tgz;
mod zip;

pub use error::{Error, Limit, Result};
pub use handoff::{Handoff, Pieces};
pub use zip::central_names as zip_central_names;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, Read};
use std::path::Path;

use serde::Serialize;

use crate::fast_hash::IdSet;

/// Default largest XML member the rules will hold in memory.
pub const MAX_XML_BYTES: u64 = 256 << 20;
/// Default largest total of member sizes (what the archive inflates to).
pub const MAX_TOTAL_BYTES: u64 = 100 << 30;

/// Bounds on what reading an archive may cost: memory (XML members held) and time/disk (total inflated size).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest XML member read into memory.
    pub max_xml: u64,
    /// Largest sum of member sizes.
    pub max_total: u64,
    /// How a report that went past a limit says how to raise it, appended to its text (the caller names its
    /// own setting; the library names none). `None`: nothing is appended.
    pub raise: Option<fn(Limit) -> String>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_xml: MAX_XML_BYTES,
            max_total: MAX_TOTAL_BYTES,
            raise: None,
        }
    }
}

impl Limits {
    /// What [`Limits::raise`] appends for `limit` (empty without it).
    pub fn raise_hint(&self, limit: Limit) -> String {
        self.raise.map(|r| r(limit)).unwrap_or_default()
    }

    /// `Err(TooLarge)` when a wanted XML member is over the limit.
    pub(crate) fn check_xml(&self, path: &Path, member: &str, size: u64) -> Result<()> {
        if size > self.max_xml {
            return Err(Error::TooLarge {
                path: path.to_path_buf(),
                member: member.to_owned(),
                size,
                limit: self.max_xml,
                which: Limit::Xml,
            });
        }
        Ok(())
    }

    /// `Err(TooLarge)` when the members add up to more than the limit.
    pub(crate) fn check_total(&self, path: &Path, member: &str, total: u64) -> Result<()> {
        if total > self.max_total {
            return Err(Error::TooLarge {
                path: path.to_path_buf(),
                member: format!("{member} (total of the members so far)"),
                size: total,
                limit: self.max_total,
                which: Limit::Total,
            });
        }
        Ok(())
    }
}

/// The container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Container {
    /// gzip-compressed tar (Moodle's default since 2.9).
    #[serde(rename = "tgz")]
    TarGz,
    /// zip (`$CFG->usezipbackups`, and Moodle before 2.9).
    #[serde(rename = "zip")]
    Zip,
}

impl Container {
    /// `tgz` or `zip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Container::TarGz => "tgz",
            Container::Zip => "zip",
        }
    }
}

/// Detects the container from the first bytes of `path`, never from its name.
///
/// # Errors
/// [`Error::Read`], [`Error::UnknownContainer`].
pub fn detect(path: &Path) -> Result<Container> {
    let mut f = File::open(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        match f.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    }
    from_magic(&magic[..n]).ok_or_else(|| Error::UnknownContainer {
        path: path.to_path_buf(),
        magic: if n == 0 {
            "nothing (empty file)".to_owned()
        } else {
            magic[..n]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        },
    })
}

/// The container for these first bytes, if any.
pub fn from_magic(magic: &[u8]) -> Option<Container> {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Some(Container::TarGz)
    } else if magic.starts_with(b"PK\x03\x04") {
        Some(Container::Zip)
    } else {
        None
    }
}

/// One member as listed in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberInfo {
    /// Path inside the archive.
    pub path: String,
    /// `f` file, `d` directory, or another tar typeflag.
    pub kind: char,
    /// Data size in bytes.
    pub size: u64,
}

/// What the first pass learnt.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The wanted members' bytes, by path.
    pub docs: BTreeMap<String, Vec<u8>>,
    /// The member list, per container.
    list: Listing,
}

/// The member list as each container keeps it between the passes.
#[derive(Debug, Clone)]
enum Listing {
    /// tar.gz: the compact list the second pass checks the input against.
    TarGz(tgz::Listed),
    /// zip: every member in order.
    Zip(Vec<MemberInfo>),
}

impl Loaded {
    /// The container.
    pub fn container(&self) -> Container {
        match self.list {
            Listing::TarGz(_) => Container::TarGz,
            Listing::Zip(_) => Container::Zip,
        }
    }

    /// Whether the tar input had an `.ARCHIVE_INDEX` (never for a zip).
    pub fn has_index(&self) -> bool {
        match &self.list {
            Listing::TarGz(t) => t.has_index,
            Listing::Zip(_) => false,
        }
    }

    /// Whether tar member names started with `./` (`tar -C dir .`): they are read, and written, from the root as
    /// Moodle's extractor reads them.
    pub fn dot_prefixed(&self) -> bool {
        match &self.list {
            Listing::TarGz(t) => t.dotted,
            Listing::Zip(_) => false,
        }
    }

    /// Number of members (the tar `.ARCHIVE_INDEX` excluded).
    pub fn member_count(&self) -> usize {
        match &self.list {
            Listing::TarGz(t) => t.members.len(),
            Listing::Zip(m) => m.len(),
        }
    }

    /// Whether a member has this exact path.
    pub fn has_member(&self, path: &str) -> bool {
        match &self.list {
            Listing::TarGz(t) => t.members.iter().any(|(p, _)| p == path.as_bytes()),
            Listing::Zip(m) => m.iter().any(|m| m.path == path),
        }
    }

    /// Every member in order (the tar `.ARCHIVE_INDEX` excluded).
    pub fn members(&self) -> Vec<MemberInfo> {
        match &self.list {
            Listing::TarGz(t) => t
                .members
                .iter()
                .map(|(path, m)| MemberInfo {
                    path: String::from_utf8_lossy(path).into_owned(),
                    kind: tar_kind(m.kind),
                    size: m.size,
                })
                .collect(),
            Listing::Zip(m) => m.clone(),
        }
    }

    /// Members no backup Moodle writes can hold, each with why: absolute names, `..` components, backslashes,
    /// NUL bytes and other control characters, links, devices, FIFOs and contiguous files. Writing commands refuse
    /// an archive with any; `inspect` lists them.
    pub fn hostile(&self) -> Vec<(String, &'static str)> {
        // Looked at in place: the member list is not copied (tens of thousands of names in a course with files).
        let found = |path: &str, kind: char| {
            // One look at each byte for what the name checks are about (most names have none of them).
            let odd =
                path.starts_with('/') || path.bytes().any(|b| b == b'.' || b == b'\\' || b < 0x20);
            let named = if !odd {
                None
            } else if path.starts_with('/') {
                Some("is an absolute path")
            } else if path.split('/').any(|c| c == "..") {
                Some("climbs out of the backup folder with `..`")
            } else if path.contains('\\') {
                Some("holds a backslash (a path separator to Windows tools)")
            } else if path.contains('\0') {
                Some("holds a NUL byte")
            } else if path.bytes().any(|b| b < 0x20) {
                // A line break, a tab: no name Moodle writes (a GNU long-name record read as one can hold them).
                Some("holds a control character (a line break, a tab)")
            } else {
                None
            };
            let why = match (named, kind) {
                (Some(why), _) => why,
                (None, 'f' | 'd') => return None,
                (None, '1' | '2') => "is a link",
                (None, '3' | '4') => "is a device",
                (None, '6') => "is a FIFO",
                (None, '7') => "is a contiguous file (tar type 7), which Moodle's extractor skips",
                (None, _) => "is neither a file nor a folder",
            };
            // Shown on one line: a NUL byte as `\0`, other control characters as `\xNN`.
            let shown = path
                .chars()
                .map(|c| match c {
                    '\0' => "\\0".to_owned(),
                    c if u32::from(c) < 0x20 => format!("\\x{:02x}", u32::from(c)),
                    c => c.to_string(),
                })
                .collect();
            Some((shown, why))
        };
        match &self.list {
            Listing::TarGz(t) => t
                .members
                .iter()
                .filter_map(|(path, m)| found(&String::from_utf8_lossy(path), tar_kind(m.kind)))
                .collect(),
            Listing::Zip(m) => m.iter().filter_map(|m| found(&m.path, m.kind)).collect(),
        }
    }

    /// A wanted member's bytes.
    pub fn doc(&self, path: &str) -> Option<&[u8]> {
        self.docs.get(path).map(Vec::as_slice)
    }
}

/// First pass: lists `path`'s members and reads the `wanted` ones (exact member paths).
///
/// # Errors
/// [`Error`] naming the archive (and member) for unreadable, corrupt or ambiguous input.
pub fn load(path: &Path, wanted: &[&str]) -> Result<Loaded> {
    load_limited(path, wanted, &Limits::default())
}

/// [`load`] within `limits`.
///
/// # Errors
/// As [`load`], and [`Error::TooLarge`].
pub fn load_limited(path: &Path, wanted: &[&str], limits: &Limits) -> Result<Loaded> {
    load_streaming(path, wanted, &[], limits, &mut |_, _| Ok(()))
}

/// [`load_limited`], and each member named in `streamed` (exact paths, files only) handed to `each` as a
/// stream instead of being held: its size is bounded by `limits.max_total` only, so `each` must bound what it
/// keeps.
///
/// # Errors
/// As [`load_limited`], and whatever `each` returns.
pub fn load_streaming<E: From<Error>>(
    path: &Path,
    wanted: &[&str],
    streamed: &[&str],
    limits: &Limits,
    each: &mut dyn FnMut(&str, &mut dyn BufRead) -> Result<(), E>,
) -> Result<Loaded, E> {
    load_read(path, wanted, streamed, limits, each, None)
}

/// [`load_streaming`], with the plan of a zip `path`'s central directory when the writer has made it already
/// ([`Handoff::load_streaming`]).
fn load_read<E: From<Error>>(
    path: &Path,
    wanted: &[&str],
    streamed: &[&str],
    limits: &Limits,
    each: &mut dyn FnMut(&str, &mut dyn BufRead) -> Result<(), E>,
    known: Option<zip::Known<'_>>,
) -> Result<Loaded, E> {
    let want = Wanted {
        held: wanted,
        streamed,
    };
    match detect(path)? {
        Container::TarGz => tgz::load(path, &want, limits, each),
        Container::Zip => zip::load(path, &want, limits, each, known),
    }
}

/// The members the caller asked for: held in memory, or handed to a callback as a stream.
struct Wanted<'a> {
    held: &'a [&'a str],
    streamed: &'a [&'a str],
}

impl Wanted<'_> {
    fn held(&self, name: &str) -> bool {
        self.held.contains(&name)
    }

    fn streamed(&self, name: &str) -> bool {
        self.streamed.contains(&name)
    }

    fn any(&self, name: &str) -> bool {
        self.held(name) || self.streamed(name)
    }
}

/// Hands a streamed member to `each`, buffered.
fn stream<E>(
    name: &str,
    data: impl Read,
    each: &mut dyn FnMut(&str, &mut dyn BufRead) -> Result<(), E>,
) -> Result<(), E> {
    each(name, &mut std::io::BufReader::with_capacity(64 << 10, data))
}

/// Second pass: writes `output` from `input`, with `replacements` (member path to new bytes) in place of
/// those members and every other member copied unchanged. Atomic: nothing is left at `output` on failure.
///
/// # Errors
/// [`Error`] naming the archive (and member).
pub fn write(
    input: &Path,
    loaded: &Loaded,
    replacements: &BTreeMap<String, Vec<u8>>,
    output: &Path,
) -> Result<()> {
    write_with(
        input,
        loaded,
        replacements,
        output,
        &[],
        &WriteOptions::default(),
    )
}

/// How outputs are written.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Deflate level 0–9 for tar.gz output and rewritten zip members (6, as Moodle writes).
    pub level: u32,
    /// Cores used to compress tar.gz output (the bytes do not depend on it).
    pub threads: usize,
    /// Stops the write between members once set.
    pub cancel: Cancel,
    /// Bounds on reading the input.
    pub limits: Limits,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            level: 6,
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            cancel: Cancel::never(),
            limits: Limits::default(),
        }
    }
}

/// A flag another thread (a Ctrl-C handler) sets to stop work between members.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Option<std::sync::Arc<std::sync::atomic::AtomicBool>>);

impl Cancel {
    /// Never set.
    pub fn never() -> Self {
        Cancel(None)
    }
    /// Watches `flag`.
    pub fn on(flag: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        Cancel(Some(flag))
    }
    /// Whether it was set.
    pub fn is_set(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    }
    /// `Err(Cancelled)` once set.
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_set() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// [`write()`] with a level, threads, and a flag that stops it between members (leaving nothing at `output`).
/// In a zip output the records of the `last` members (and of every replaced one) come after all the others
/// (the central directory keeps the input's order, and readers such as Moodle's find records through it), so
/// that the others can be copied while the replacements are computed (see [`produce_and_write`]).
///
/// # Errors
/// As [`write()`], and [`Error::Cancelled`].
pub fn write_with(
    input: &Path,
    loaded: &Loaded,
    replacements: &BTreeMap<String, Vec<u8>>,
    output: &Path,
    last: &[&str],
    opts: &WriteOptions,
) -> Result<()> {
    output::check(input, output)?;
    let mut atomic = output::Atomic::new(output)?;
    match &loaded.list {
        Listing::TarGz(listed) => tgz::write(input, listed, replacements, &mut atomic, opts)?,
        Listing::Zip(_) => zip::write(input, replacements, last, &mut atomic, opts)?,
    }
    opts.cancel.check()?;
    atomic.commit()
}

/// Runs `produce`, which reads `input` and returns it loaded, the rewritten members (all among `last`) and a
/// value, then writes `output` (when given) as [`write_with`] does, with the same bytes. For a zip, every
/// record but those of `last` is copied on another core while `produce` runs, and the members `produce`
/// hands to its [`Handoff`] (also among `last`) are compressed as soon as they are handed over.
///
/// # Errors
/// What `produce` returns, else as [`write_with`]; nothing is left at `output` on failure.
pub fn produce_and_write<T, E: From<Error>>(
    input: &Path,
    output: Option<&Path>,
    last: &[&str],
    opts: &WriteOptions,
    produce: impl FnOnce(&Handoff) -> Result<(Loaded, BTreeMap<String, Vec<u8>>, T), E>,
) -> Result<T, E> {
    let Some(out) = output else {
        return produce(&Handoff::keeping()).map(|(_, _, value)| value);
    };
    output::check(input, out)?;
    if opts.threads > 1
        && detect(input).ok() == Some(Container::Zip)
        && let Some(prepared) = zip::prepare(input, out)
    {
        return zip::write_overlapped(input, prepared, last, opts, |handoff| {
            produce(handoff).map(|(_, replacements, value)| (replacements, value))
        });
    }
    let handoff = Handoff::keeping();
    let (loaded, mut replacements, value) = produce(&handoff)?;
    for (member, given) in handoff.into_given() {
        if let handoff::Given::Kept(bytes) = given {
            replacements.insert(member, bytes);
        }
    }
    write_with(input, &loaded, &replacements, out, last, opts)?;
    Ok(value)
}

/// A tar member's kind as [`MemberInfo::kind`] gives it: `f`, `d`, or the type flag.
fn tar_kind(kind: tar::Kind) -> char {
    match kind {
        tar::Kind::File => 'f',
        tar::Kind::Dir => 'd',
        tar::Kind::Other(b) => char::from(b),
    }
}

fn check_duplicate(seen: &mut IdSet<String>, path: &Path, member: &str) -> Result<()> {
    if !seen.insert(member.to_owned()) {
        return Err(Error::Duplicate {
            path: path.to_path_buf(),
            member: member.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_decides() {
        assert_eq!(from_magic(&[0x1f, 0x8b, 8, 0]), Some(Container::TarGz));
        assert_eq!(from_magic(b"PK\x03\x04"), Some(Container::Zip));
        assert_eq!(from_magic(b"PK\x05\x06"), None);
        assert_eq!(from_magic(b"ustar"), None);
        assert_eq!(from_magic(b""), None);
    }

    /// A small tar.gz is inflated once and kept for the second pass; the streaming path (large archives) must
    /// read the same members and write the same bytes.
    #[test]
    fn small_archives_in_memory_and_streamed_give_the_same_output() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        for name in ["coh_basic.mbz", "db_sync.mbz", "noconvert.mbz"] {
            let input = root.join("fixtures").join(name);
            let wanted = ["course/enrolments.xml", "moodle_backup.xml"];
            let mut loaded = load(&input, &wanted).unwrap();
            let Listing::TarGz(listed) = &loaded.list else {
                panic!("{name}: a tar.gz")
            };
            assert!(
                listed.tar.is_some(),
                "{name}: small archives stay in memory"
            );
            let want = Wanted {
                held: &wanted,
                streamed: &[],
            };
            let streamed = tgz::load_from(
                &input,
                tgz::open(&input).unwrap(),
                &want,
                &Limits::default(),
                &mut |_, _| Ok::<_, Error>(()),
            )
            .unwrap();
            let Listing::TarGz(from_stream) = &streamed.list else {
                panic!("{name}: a tar.gz")
            };
            assert_eq!(listed.members, from_stream.members, "{name}");
            assert_eq!(loaded.docs, streamed.docs, "{name}");
            let mut replacements = BTreeMap::new();
            let x = loaded.docs["course/enrolments.xml"].clone();
            replacements.insert(
                "course/enrolments.xml".to_owned(),
                [x.as_slice(), b"\n"].concat(),
            );
            let (a, b) = (dir.path().join("a.mbz"), dir.path().join("b.mbz"));
            write(&input, &loaded, &replacements, &a).unwrap();
            if let Listing::TarGz(listed) = &mut loaded.list {
                listed.tar = None;
            }
            write(&input, &loaded, &replacements, &b).unwrap();
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
                "{name}"
            );
        }
    }

    /// The producer's first pass through its [`Handoff`]: for a zip written while it runs, through the plan of
    /// the central directory the writer has made (no plan made again), and it finds what a pass of its own
    /// finds: the same members, sizes and documents. Another archive is planned as usual, a tar.gz has none.
    #[test]
    fn the_producer_reads_through_the_writers_central_directory() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let dir = tempfile::tempdir().unwrap();
        let wanted = &[
            "course/enrolments.xml",
            "course/roles.xml",
            "moodle_backup.xml",
        ];
        let same = |a: &Loaded, b: &Loaded| a.members() == b.members() && a.docs == b.docs;
        for (name, zip) in [
            ("coh_basic.zip.mbz", true),
            ("db_sync.zip.mbz", true),
            ("coh_basic.mbz", false),
        ] {
            let input = root.join(name);
            let other = root.join("db_sync.zip.mbz");
            let opts = WriteOptions {
                threads: 2,
                ..WriteOptions::default()
            };
            let out = dir.path().join(name);
            produce_and_write(&input, Some(&out), LAST, &opts, |handoff| -> Result<_> {
                assert_eq!(handoff.reads_central_of(&input), zip, "{name}");
                let plans = zip::plans_made();
                let via = handoff.load_limited(&input, wanted, &Limits::default())?;
                assert_eq!(zip::plans_made(), plans, "{name}: no plan made again");
                assert!(via.docs.len() == wanted.len(), "{name}");
                assert!(same(&via, &load(&input, wanted)?), "{name}");
                if input != other {
                    assert!(!handoff.reads_central_of(&other));
                    let plans = zip::plans_made();
                    let via = handoff.load_limited(&other, wanted, &Limits::default())?;
                    assert_eq!(
                        zip::plans_made(),
                        plans + 1,
                        "{name}: another archive planned"
                    );
                    assert!(
                        same(&via, &load(&other, wanted)?),
                        "{name}: another archive"
                    );
                }
                Ok((via, BTreeMap::new(), ()))
            })
            .unwrap();
        }
    }

    /// The members written last in these tests (those a conversion rewrites).
    const LAST: &[&str] = &["course/enrolments.xml", "course/roles.xml", "groups.xml"];

    /// A zip output: the rewritten members' records come last (the central directory keeps the input's order),
    /// and the write that copies while the conversion runs gives the bytes of the sequential one, whether a
    /// member is handed over early (compressed at once) or returned with the others, and whatever the number of
    /// threads (a member of several hundred KiB included). A failing producer leaves nothing, and its
    /// error is the one returned.
    #[test]
    fn zip_overlapped_and_sequential_writes_agree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        for name in ["coh_basic.zip.mbz", "db_sync.zip.mbz"] {
            let input = root.join("fixtures").join(name);
            // course/roles.xml grown to several hundred KiB.
            // `hand`: 0 returned, 1 handed over whole, 2 handed over in pieces.
            let produce = |hand: u8| {
                let input = &input;
                move |handoff: &Handoff| -> Result<_> {
                    let loaded = load(input, &["course/enrolments.xml", "course/roles.xml"])?;
                    let x = &loaded.docs["course/enrolments.xml"];
                    let roles = &loaded.docs["course/roles.xml"];
                    let mut big = roles.clone();
                    for i in 0..20_000 {
                        big.extend_from_slice(
                            format!("<!-- {i} {} -->\n", i * 7919 % 10_007).as_bytes(),
                        );
                    }
                    let mut replacements = BTreeMap::new();
                    replacements.insert(
                        "course/enrolments.xml".to_owned(),
                        [x.as_slice(), b"\n"].concat(),
                    );
                    if hand == 1 {
                        handoff.give("course/roles.xml", big);
                    } else if hand == 2 {
                        // Uneven pieces, as a conversion hands course/enrolments.xml over.
                        let len = big.len();
                        handoff.give_pieces(
                            "course/roles.xml",
                            len,
                            Box::new(move |out| {
                                for piece in big.chunks(7919) {
                                    out(piece);
                                }
                            }),
                        );
                    } else {
                        replacements.insert("course/roles.xml".to_owned(), big);
                    }
                    Ok((loaded, replacements, 7))
                }
            };
            let mut outputs = Vec::new();
            for (threads, hand) in [(1, 0), (2, 0), (1, 1), (2, 1), (1, 2), (2, 2)] {
                let out = dir.path().join(format!("{threads}.mbz"));
                let opts = WriteOptions {
                    threads,
                    ..WriteOptions::default()
                };
                assert_eq!(
                    produce_and_write(&input, Some(&out), LAST, &opts, produce(hand)).unwrap(),
                    7
                );
                outputs.push(std::fs::read(&out).unwrap());
            }
            assert!(
                outputs.iter().all(|o| *o == outputs[0]),
                "{name}: same bytes"
            );
            let mut z = ::zip::ZipArchive::new(std::io::Cursor::new(&outputs[1])).unwrap();
            let mut roles = Vec::new();
            std::io::Read::read_to_end(&mut z.by_name("course/roles.xml").unwrap(), &mut roles)
                .unwrap();
            assert!(roles.len() > 300 << 10, "{}", roles.len());
            assert!(roles.ends_with(b"<!-- 19999 1299 -->\n"));
            let (before, after) = (
                records(&std::fs::read(&input).unwrap()),
                records(&outputs[1]),
            );
            let names = |r: &[(String, u64)]| r.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
            assert_eq!(
                names(&before),
                names(&after),
                "{name}: directory order kept"
            );
            let mut physical = after.clone();
            physical.sort_by_key(|e| e.1);
            let last: Vec<String> = names(&before)
                .into_iter()
                .filter(|n| LAST.contains(&n.as_str()))
                .collect();
            assert!(!last.is_empty());
            assert_eq!(
                names(&physical[physical.len() - last.len()..]),
                last,
                "{name}"
            );

            let out = dir.path().join("failed.mbz");
            let failing = |_: &Handoff| -> Result<(Loaded, BTreeMap<String, Vec<u8>>, ())> {
                Err(Error::Cancelled)
            };
            let err =
                produce_and_write(&input, Some(&out), LAST, &WriteOptions::default(), failing);
            assert!(matches!(err, Err(Error::Cancelled)));
            // A member handed over (and being compressed) before the producer fails: the same.
            let handed_then_failing =
                |handoff: &Handoff| -> Result<(Loaded, BTreeMap<String, Vec<u8>>, ())> {
                    handoff.give("course/roles.xml", vec![b'x'; 5 << 20]);
                    Err(Error::Cancelled)
                };
            let opts = WriteOptions {
                threads: 2,
                ..WriteOptions::default()
            };
            let err = produce_and_write(&input, Some(&out), LAST, &opts, handed_then_failing);
            assert!(matches!(err, Err(Error::Cancelled)));
            let left: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| n != "1.mbz" && n != "2.mbz")
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
    }

    /// Names and local header offsets, in central directory order.
    fn records(zip: &[u8]) -> Vec<(String, u64)> {
        let mut z = ::zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        (0..z.len())
            .map(|i| {
                let f = z.by_index_raw(i).unwrap();
                (f.name().unwrap().into_owned(), f.header_start())
            })
            .collect()
    }
}
