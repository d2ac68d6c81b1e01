//! tar.gz reading and rewriting (gzip around the [`super::tar`] reader and writer).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use super::blockmap::{BlockMap, Recorder};
use super::gunzip::Gunzip;
use super::splice::{self, Change};

use super::kept::KeptList;
use super::output::Atomic;
use super::pgzip::ParGz;
use super::tar::{self, ARCHIVE_INDEX, Kind, TarError};
use super::{Listing, Loaded, Wanted};
use crate::archive::{Error, Result};

/// What the first pass keeps of a tar.gz for the second.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    /// Every member but the index, compact.
    pub(super) members: KeptList,
    /// The input had an `.ARCHIVE_INDEX`.
    pub(super) has_index: bool,
    /// Some member names started with `./`, trimmed as Moodle's extractor reads them.
    pub(super) dotted: bool,
    /// A small tar.gz's inflated tar stream, kept for the second pass.
    pub(super) tar: Option<Vec<u8>>,
    /// What the write needs to copy the input's compressed bytes where the output is the same (a large
    /// archive whose every record is as the ustar writer writes it).
    pub(super) splice: Option<Box<Spliceable>>,
}

/// A large tar.gz's block map and where its records are, from the first pass.
#[derive(Debug, Clone)]
pub(super) struct Spliceable {
    map: BlockMap,
    /// Where each kept member's record starts in the tar stream, in the order of [`Listed::members`].
    starts: Vec<u64>,
    /// The input's index record: where it starts and its length (header, data, padding). Its bytes are read
    /// again when needed rather than held (an archive of 30,000 files has a 3 MB index).
    index: Option<(u64, u64)>,
    /// The members the rules may rewrite (those held), whole, for their new headers.
    held: BTreeMap<String, tar::Member>,
    /// Where the end-of-archive marker starts.
    end: u64,
    /// The input file's length and modification time when it was read: the copy is from the same file.
    stamp: (u64, Option<std::time::SystemTime>),
}

/// The first pass's hold on the inflate, for [`Spliceable`]: `&[u8]` (a small archive in memory) has none.
pub(super) trait Capture {
    fn recorder(&mut self) -> Option<&mut Recorder> {
        None
    }
    fn block_map(&mut self) -> Option<BlockMap> {
        None
    }
}

impl Capture for &[u8] {}

impl<R: io::BufRead> Capture for Gunzip<R> {
    fn recorder(&mut self) -> Option<&mut Recorder> {
        Gunzip::recorder(self)
    }
    fn block_map(&mut self) -> Option<BlockMap> {
        Gunzip::block_map(self)
    }
}

/// The first pass's record of where things are, while the input stays spliceable.
struct Walk {
    starts: Vec<u64>,
    index: Option<(u64, u64)>,
    held: BTreeMap<String, tar::Member>,
    /// Where the next record must start.
    next: u64,
}

/// I/O buffer size: under glibc's 128 KiB mmap threshold, so buffers are reused across the archives of a batch.
const BUF: usize = 64 << 10;

/// Archives up to this size (compressed) are inflated once, into memory, for both passes.
const SMALL: u64 = 1 << 20;
/// ... as long as they inflate to no more than this.
const SMALL_TAR: u64 = 8 << 20;

pub(super) fn open(path: &Path) -> Result<tar::Reader<Gunzip<BufReader<File>>>> {
    open_with(path, Gunzip::new)
}

/// [`open`], recording the block map for the write to copy the compressed stream.
pub(super) fn open_mapping(path: &Path) -> Result<tar::Reader<Gunzip<BufReader<File>>>> {
    open_with(path, Gunzip::mapping)
}

fn open_with(
    path: &Path,
    gunzip: fn(BufReader<File>) -> Gunzip<BufReader<File>>,
) -> Result<tar::Reader<Gunzip<BufReader<File>>>> {
    let f = File::open(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(tar::Reader::new(gunzip(BufReader::with_capacity(BUF, f))))
}

fn stamp(path: &Path) -> (u64, Option<std::time::SystemTime>) {
    std::fs::metadata(path).map_or((0, None), |m| (m.len(), m.modified().ok()))
}

/// A small archive's whole tar stream, inflated once (a batch of small courses then pays one decompression
/// per archive instead of two). `None` for larger archives and on any error: the streaming path reads those
/// and reports errors with the member they happened in.
fn inflate_small(path: &Path) -> Option<Vec<u8>> {
    let f = File::open(path).ok()?;
    if f.metadata().ok()?.len() > SMALL {
        return None;
    }
    let mut tar = Vec::new();
    Gunzip::new(BufReader::with_capacity(BUF, f))
        .take(SMALL_TAR + 1)
        .read_to_end(&mut tar)
        .ok()?;
    tar.shrink_to_fit();
    (tar.len() as u64 <= SMALL_TAR).then_some(tar)
}

/// Read errors with where they happened: gzip errors become [`Error::Gzip`] naming the member.
fn read_err(path: &Path, at: String, e: TarError) -> Error {
    match e {
        TarError::Io(source) => match source.get_ref().and_then(|r| r.downcast_ref::<TarError>()) {
            // The tar reader's own "truncated member" error travels inside an io::Error.
            Some(_) => Error::Tar {
                path: path.to_path_buf(),
                source: unwrap_tar(source),
            },
            None => Error::Gzip {
                path: path.to_path_buf(),
                at,
                source,
            },
        },
        other => Error::Tar {
            path: path.to_path_buf(),
            source: other,
        },
    }
}

fn unwrap_tar(e: io::Error) -> TarError {
    match e.into_inner().map(|b| b.downcast::<TarError>()) {
        Some(Ok(t)) => *t,
        Some(Err(other)) => TarError::Io(io::Error::other(other)),
        None => TarError::Io(io::Error::other("read error")),
    }
}

/// The member after `last` in the archive at `path`, read errors saying where they happened.
/// The next member, its name as Moodle's extractor sees it: leading `./` trimmed (`tar -C dir .` archives), and
/// the `./` entry itself (the root) skipped. Both passes read through here, so the output is written with the
/// trimmed names, in Moodle's root layout. `dotted` is set once a name was trimmed.
fn next<R: Read>(
    reader: &mut tar::Reader<R>,
    path: &Path,
    last: Option<&str>,
    dotted: &mut bool,
) -> Result<Option<tar::Member>> {
    loop {
        let Some(mut m) = reader
            .next_member()
            .map_err(|e| read_err(path, after(last), e))?
        else {
            return Ok(None);
        };
        let mut start = 0;
        while m.path[start..].starts_with(b"./") {
            start += 2;
            while m.path.get(start) == Some(&b'/') {
                start += 1;
            }
        }
        if start > 0 {
            *dotted = true;
            m.path.drain(..start);
            if m.path.is_empty() {
                continue;
            }
        }
        if m.path == b"." {
            continue;
        }
        return Ok(Some(m));
    }
}

fn after(last: Option<&str>) -> String {
    match last {
        Some(m) => format!("after member `{m}`"),
        None => "at the start".into(),
    }
}

/// Reads whatever follows the end-of-archive marker so the gzip trailer (CRC, length) is checked.
fn drain<R: Read>(path: &Path, reader: &mut tar::Reader<R>) -> Result<()> {
    io::copy(reader.get_mut(), &mut io::sink()).map_err(|source| Error::Gzip {
        path: path.to_path_buf(),
        at: "after the last member".into(),
        source,
    })?;
    Ok(())
}

pub(super) fn load<E: From<Error>>(
    path: &Path,
    wanted: &Wanted,
    limits: &super::Limits,
    each: &mut dyn FnMut(&str, &mut dyn io::BufRead) -> Result<(), E>,
) -> Result<Loaded, E> {
    match inflate_small(path) {
        Some(tar) => {
            let reader = tar::Reader::new(&tar[..]).max_zero_bytes(limits.max_total);
            let mut loaded = load_from(path, reader, wanted, limits, each)?;
            if let Listing::TarGz(listed) = &mut loaded.list {
                listed.tar = Some(tar);
            }
            Ok(loaded)
        }
        None => load_from(
            path,
            open_mapping(path)?.max_zero_bytes(limits.max_total),
            wanted,
            limits,
            each,
        ),
    }
}

pub(super) fn load_from<R: Read + Capture, E: From<Error>>(
    path: &Path,
    mut reader: tar::Reader<R>,
    wanted: &Wanted,
    limits: &super::Limits,
    each: &mut dyn FnMut(&str, &mut dyn io::BufRead) -> Result<(), E>,
) -> Result<Loaded, E> {
    let mut members = KeptList::default();
    let mut docs = BTreeMap::new();
    let mut has_index = false;
    let mut total: u64 = 0;
    let mut last: Option<String> = None;
    let mut dotted = false;
    let stamp = stamp(path);
    let mut walk = reader.get_mut().recorder().map(|rec| {
        // A new index is always written first: the input from its start may be rewritten.
        rec.want_after(0);
        Walk {
            starts: Vec::new(),
            index: None,
            held: BTreeMap::new(),
            next: 0,
        }
    });
    while let Some(m) = next(&mut reader, path, last.as_deref(), &mut dotted)? {
        let name = m.path_lossy();
        if let Some(w) = &mut walk
            && !walked(w, &mut reader, &m, wanted.held(&name))
        {
            walk = None;
            if let Some(rec) = reader.get_mut().recorder() {
                rec.give_up();
            }
        }
        total = total.saturating_add(m.size);
        limits.check_total(path, &name, total)?;
        last = Some(name.clone());
        if m.path == ARCHIVE_INDEX {
            if has_index {
                return Err(Error::Duplicate {
                    path: path.to_path_buf(),
                    member: name,
                }
                .into());
            }
            has_index = true;
            if let Some(w) = &mut walk {
                let (start, _) = reader.record();
                w.index = Some((start, record_len(m.size)));
            }
            continue;
        }
        if m.kind == Kind::File && wanted.streamed(&name) {
            super::stream(&name, reader.data(), each)?;
        } else if m.kind == Kind::File && wanted.held(&name) {
            limits.check_xml(path, &name, m.size)?;
            let mut buf = Vec::with_capacity(usize::try_from(m.size).unwrap_or(0));
            reader
                .data()
                .read_to_end(&mut buf)
                .map_err(|e| read_err(path, format!("member `{name}`"), TarError::from(e)))?;
            docs.insert(name.clone(), buf);
        }
        if !members.push(&m) {
            return Err(Error::Member {
                path: path.to_path_buf(),
                member: name,
                reason: "the member paths add up to more than 4 GiB".into(),
            }
            .into());
        }
    }
    let end = walk.as_ref().map(|w| w.next);
    if let (Some(end), Some(rec)) = (end, reader.get_mut().recorder()) {
        rec.want_before(end);
    }
    let dirty = reader.dirty_padding();
    drain(path, &mut reader)?;
    let map = reader.get_mut().block_map();
    let splice = match (walk, map) {
        (Some(w), Some(map)) if !dirty && !dotted => Some(Box::new(Spliceable {
            map,
            starts: {
                let mut starts = w.starts;
                starts.shrink_to_fit();
                starts
            },
            index: w.index,
            held: w.held,
            end: w.next,
            stamp,
        })),
        _ => None,
    };
    // Duplicate names, found by sorting borrowed paths (no second copy of every name).
    members.shrink_to_fit();
    let mut names: Vec<&[u8]> = members.iter().map(|(p, _)| p).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::Duplicate {
            path: path.to_path_buf(),
            member: String::from_utf8_lossy(w[0]).into_owned(),
        }
        .into());
    }
    drop(names);
    Ok(Loaded {
        docs,
        list: Listing::TarGz(Listed {
            members,
            has_index,
            dotted,
            tar: None,
            splice,
        }),
    })
}

/// Notes where member `m`'s record is; `false` when it is not as the ustar writer would write it (the input's
/// compressed bytes are then not reused). Asks for the bytes around the members the rules may rewrite.
fn walked<R: Read + Capture>(
    w: &mut Walk,
    reader: &mut tar::Reader<R>,
    m: &tar::Member,
    held: bool,
) -> bool {
    let (start, header) = reader.record();
    let same = header.is_some_and(|h| tar::ustar_header(m).is_ok_and(|ours| ours == *h));
    if !same || start != w.next {
        return false;
    }
    let end = start + record_len(m.size);
    w.next = end;
    if m.path != ARCHIVE_INDEX {
        w.starts.push(start);
    }
    if held || m.path == ARCHIVE_INDEX {
        if held {
            w.held.insert(m.path_lossy(), m.clone());
        }
        if let Some(rec) = reader.get_mut().recorder() {
            rec.want_before(start);
            rec.want_after(end);
        }
    }
    true
}

/// A member's whole record in the tar stream: header, data, padding.
fn record_len(size: u64) -> u64 {
    512 + size + tar::padding(size)
}

pub(super) fn write(
    input: &Path,
    loaded: &Listed,
    replacements: &BTreeMap<String, Vec<u8>>,
    atomic: &mut Atomic,
    opts: &super::WriteOptions,
) -> Result<()> {
    let cancel = &opts.cancel;
    if let Some(sp) = &loaded.splice {
        // At the default level the input's compressed bytes are kept where the output is the same; any other
        // level asks for the whole archive at that level.
        if opts.level == super::WriteOptions::default().level
            && write_spliced(input, loaded, sp, replacements, atomic, opts)?
        {
            return Ok(());
        }
    }
    let file = atomic.handle()?;
    let mut gz = ParGz::new(
        BufWriter::with_capacity(BUF, file),
        opts.level,
        opts.threads,
    );
    if let Some(tar) = &loaded.tar {
        // The output is about the input's size (the index and the rewritten members change it a little).
        gz.size_hint(tar.len() as u64 + 4096);
    }
    let mut writer = tar::Writer::new(gz);
    let out_err = |e: TarError| match e {
        TarError::Io(source) => atomic.write_error(source),
        other => Error::Tar {
            path: input.to_path_buf(),
            source: other,
        },
    };
    // Always a fresh index first, as Moodle's own backups have, whether or not the input had one.
    let index = fresh_index(loaded, replacements);
    writer
        .append_bytes(&tar::index_member(index.len() as u64), &index)
        .map_err(out_err)?;
    match &loaded.tar {
        Some(tar) => copy_members(
            input,
            loaded,
            replacements,
            tar::Reader::new(&tar[..]),
            &mut writer,
            cancel,
            &out_err,
        )?,
        None => copy_members(
            input,
            loaded,
            replacements,
            open(input)?.max_zero_bytes(opts.limits.max_total),
            &mut writer,
            cancel,
            &out_err,
        )?,
    }
    let gz = writer.finish().map_err(out_err)?;
    let mut buf = gz.finish().map_err(|e| atomic.write_error(e))?;
    buf.flush().map_err(|e| atomic.write_error(e))?;
    Ok(())
}

/// The `.ARCHIVE_INDEX` of the output: every kept member, with its new size where it is rewritten.
fn fresh_index(loaded: &Listed, replacements: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    tar::index_of(loaded.members.iter().map(|(path, m)| {
        let size = replacements
            .get(&*String::from_utf8_lossy(path))
            .map_or(m.size, |new| new.len() as u64);
        (path, m.kind, size, m.mtime)
    }))
}

/// The output as changes to the input's tar stream, copying the input's compressed bytes between them
/// ([`splice`]). `false` (nothing written) when they cannot be reused; the caller then writes the usual way.
fn write_spliced(
    input: &Path,
    loaded: &Listed,
    sp: &Spliceable,
    replacements: &BTreeMap<String, Vec<u8>>,
    atomic: &mut Atomic,
    opts: &super::WriteOptions,
) -> Result<bool> {
    if stamp(input) != sp.stamp || sp.starts.len() != loaded.members.len() {
        return Ok(false);
    }
    let index = fresh_index(loaded, replacements);
    let index_header = tar::index_member(index.len() as u64);
    let Ok(index_header) = tar::ustar_header(&index_header) else {
        return Ok(false);
    };
    let pad = |n: usize| -> std::borrow::Cow<'static, [u8]> {
        std::borrow::Cow::Borrowed(&[0u8; 512][..tar::padding(n as u64) as usize])
    };
    let mut changes: Vec<Change<'_>> = Vec::new();
    let new_index = [&index_header[..], &index[..]];
    let padded = record_len(index.len() as u64);
    let same_index = match sp.index {
        Some((0, len)) if len == padded => {
            starts_with(input, &new_index).map_err(|source| Error::Read {
                path: input.to_path_buf(),
                source,
            })?
        }
        _ => false,
    };
    if !same_index {
        let del = match sp.index {
            Some((0, len)) => len,
            _ => 0,
        };
        changes.push(Change {
            at: 0,
            del,
            new: vec![index_header[..].into(), index[..].into(), pad(index.len())],
        });
        if let Some((at, len)) = sp.index.filter(|(at, _)| *at != 0) {
            changes.push(Change {
                at,
                del: len,
                new: Vec::new(),
            });
        }
    }
    for (name, new) in replacements {
        let Some(member) = sp.held.get(name) else {
            return Ok(false);
        };
        let Some(i) = loaded
            .members
            .iter()
            .position(|(p, _)| p == member.path.as_slice())
        else {
            return Ok(false);
        };
        let mut header = member.clone();
        header.size = new.len() as u64;
        let Ok(header) = tar::ustar_header(&header) else {
            return Ok(false);
        };
        changes.push(Change {
            at: sp.starts[i],
            del: record_len(member.size),
            new: vec![
                header.to_vec().into(),
                new.as_slice().into(),
                pad(new.len()),
            ],
        });
    }
    let total = sp.map.total();
    if total.checked_sub(sp.end) != Some(1024) {
        changes.push(Change {
            at: sp.end,
            del: total.saturating_sub(sp.end),
            new: vec![std::borrow::Cow::Borrowed(&[0u8; 1024][..])],
        });
    }
    changes.sort_by_key(|c| (c.at, c.del));
    let read_err = |source| Error::Read {
        path: input.to_path_buf(),
        source,
    };
    let Some(plan) = splice::plan(input, &sp.map, &changes).map_err(read_err)? else {
        return Ok(false);
    };
    opts.cancel.check()?;
    let file = atomic.handle()?;
    let mut out = BufWriter::with_capacity(BUF, file);
    splice::write(
        input,
        &sp.map,
        &changes,
        &plan,
        &mut out,
        opts.level,
        opts.threads,
    )
    .map_err(|e| atomic.write_error(e))?;
    out.flush().map_err(|e| atomic.write_error(e))?;
    Ok(true)
}

/// Whether the input's tar stream starts with `bytes` (its index record, read again: a few milliseconds).
fn starts_with(input: &Path, parts: &[&[u8]]) -> io::Result<bool> {
    let mut gz = Gunzip::new(BufReader::with_capacity(BUF, File::open(input)?));
    let mut buf = vec![0u8; BUF];
    for bytes in parts {
        let mut at = 0;
        while at < bytes.len() {
            let n = (bytes.len() - at).min(buf.len());
            match gz.read_exact(&mut buf[..n]) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
                Err(e) => return Err(e),
            }
            if buf[..n] != bytes[at..at + n] {
                return Ok(false);
            }
            at += n;
        }
    }
    Ok(true)
}

/// The second pass: every member of `reader` to `writer`, `replacements` in place of theirs.
fn copy_members<R: Read, W: Write>(
    input: &Path,
    loaded: &Listed,
    replacements: &BTreeMap<String, Vec<u8>>,
    mut reader: tar::Reader<R>,
    writer: &mut tar::Writer<W>,
    cancel: &super::Cancel,
    out_err: &dyn Fn(TarError) -> Error,
) -> Result<()> {
    let mut planned = 0usize;
    let mut last: Option<String> = None;
    while let Some(m) = next(&mut reader, input, last.as_deref(), &mut false)? {
        cancel.check()?;
        last = Some(m.path_lossy());
        if m.path == ARCHIVE_INDEX {
            continue;
        }
        // The input must not have changed between the passes.
        let expected = loaded.members.matches(planned, &m);
        planned += 1;
        if !expected {
            return Err(Error::Member {
                path: input.to_path_buf(),
                member: m.path_lossy(),
                reason: "the archive changed while being read".into(),
            });
        }
        match replacements.get(&m.path_lossy()) {
            Some(new) => {
                let mut header = m.clone();
                header.size = new.len() as u64;
                writer.append_bytes(&header, new).map_err(out_err)?;
            }
            None => {
                let data = InputSide(reader.data());
                writer.append(&m, data).map_err(|e| match e {
                    // A read error while copying is the input's fault, not the output's.
                    TarError::Io(source)
                        if source.get_ref().is_some_and(|r| r.is::<InputError>()) =>
                    {
                        Error::Tar {
                            path: input.to_path_buf(),
                            source: TarError::Io(source),
                        }
                    }
                    other => out_err(other),
                })?;
            }
        }
    }
    if planned < loaded.members.len() {
        return Err(Error::Member {
            path: input.to_path_buf(),
            member: last.unwrap_or_default(),
            reason: "the archive changed while being read (members are missing after it)".into(),
        });
    }
    drain(input, &mut reader)
}

/// Marks read errors of the input while a member is copied, to tell them from write errors.
struct InputSide<R>(R);

impl<R: Read> Read for InputSide<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), InputError(e)))
    }
}

#[derive(Debug)]
struct InputError(io::Error);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
