//! zip reading and rewriting: untouched members are raw-copied (same compressed bytes and CRC), rewritten
//! members are deflated with the original's timestamp and permissions.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::output::Atomic;
use super::{Container, Loaded, MemberInfo, Wanted, check_duplicate};
use crate::error::{Error, Result};

fn open(path: &Path) -> Result<ZipArchive<BufReader<File>>> {
    let f = File::open(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    ZipArchive::new(BufReader::with_capacity(32 << 10, f)).map_err(zip_err(path, None))
}

fn zip_err(path: &Path, member: Option<&str>) -> impl Fn(ZipError) -> Error {
    let path = path.to_path_buf();
    let member = member.map(str::to_owned);
    move |source| Error::Zip {
        path: path.clone(),
        member: member.clone(),
        source,
    }
}

fn name_of(archive: &ZipArchive<BufReader<File>>, path: &Path, i: usize) -> Result<String> {
    match archive.name_for_index(i) {
        Some(Ok(n)) => Ok(n.into_owned()),
        Some(Err(e)) => Err(zip_err(path, None)(e)),
        None => Err(zip_err(path, None)(ZipError::FileNotFound)),
    }
}

pub(super) fn load<E: From<Error>>(
    path: &Path,
    wanted: &Wanted,
    limits: &super::Limits,
    each: &mut dyn FnMut(&str, &mut dyn io::BufRead) -> Result<(), E>,
) -> Result<Loaded, E> {
    let mut archive = open(path)?;
    // Duplicate and NUL names, which the zip reader hides, are refused here.
    let plan = raw_plan(&archive, path)?;
    // Each local header's signature is still checked (as the zip reader does), one 4-byte read per member.
    let file = File::open(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut infos = Vec::new();
    let mut docs = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let name = name_of(&archive, path, i)?;
        check_duplicate(&mut seen, path, &name)?;
        // Metadata only (no decompressor) unless the member is one the rules read.
        let wanted_here = wanted.any(&name);
        // A plain member the rules do not read: its central record says all that is needed but the local
        // header's signature, read alone (not a seek and a buffer refill per member, thousands in a course with
        // files).
        if let Some((e, size)) = plan
            .as_ref()
            .filter(|_| !wanted_here)
            .and_then(|p| p.entries.get(i).filter(|e| e.name == name))
            .and_then(|e| Some((e, plain_size(&e.central)?)))
        {
            let mut signature = [0u8; 4];
            if read_at(&file, e.start, &mut signature).is_err()
                || signature != 0x0403_4b50u32.to_le_bytes()
            {
                return Err(zip_err(path, Some(&name))(ZipError::InvalidArchive(
                    "Invalid local file header".into(),
                ))
                .into());
            }
            total = total.saturating_add(size);
            limits.check_total(path, &name, total)?;
            let is_dir = matches!(name.as_bytes().last(), Some(b'/' | b'\\'));
            infos.push(MemberInfo {
                path: name,
                kind: if is_dir { 'd' } else { 'f' },
                size,
            });
            continue;
        }
        let mut f = if wanted_here {
            archive.by_index(i)
        } else {
            archive.by_index_raw(i)
        }
        .map_err(zip_err(path, Some(&name)))?;
        if f.encrypted() {
            return Err(Error::Member {
                path: path.to_path_buf(),
                member: name,
                reason: "encrypted: Moodle cannot restore an encrypted backup member".into(),
            }
            .into());
        }
        let is_dir = f.is_dir();
        let size = f.size();
        total = total.saturating_add(size);
        limits.check_total(path, &name, total)?;
        // Moodle (libzip) reads stored and deflated members, and bzip2 where it is built in: anything else
        // (AES, unknown ids) would fail at restore, so say it now.
        if !matches!(
            f.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) && !matches!(
            format!("{:?}", f.compression()).as_str(),
            "Bzip2" | "Unsupported(12)"
        ) {
            return Err(Error::Member {
                path: path.to_path_buf(),
                member: name,
                reason: format!(
                    "compression method {:?} that Moodle cannot read",
                    f.compression()
                ),
            }
            .into());
        }
        if !is_dir && wanted.streamed(&name) {
            super::stream(&name, &mut f, each)?;
        } else if !is_dir && wanted.held(&name) {
            limits.check_xml(path, &name, size)?;
            let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            f.read_to_end(&mut buf).map_err(|e| Error::Zip {
                path: path.to_path_buf(),
                member: Some(name.clone()),
                source: ZipError::Io(e),
            })?;
            if buf.len() as u64 != size {
                return Err(Error::Member {
                    path: path.to_path_buf(),
                    member: name,
                    reason: format!(
                        "declares {size} bytes but holds {}: the archive is damaged",
                        buf.len()
                    ),
                }
                .into());
            }
            docs.insert(name.clone(), buf);
        }
        infos.push(MemberInfo {
            path: name,
            kind: if is_dir { 'd' } else { 'f' },
            size,
        });
    }
    Ok(Loaded {
        container: Container::Zip,
        members: infos,
        docs,
        has_index: false,
        tar_members: super::KeptList::default(),
        tar: None,
    })
}

/// One entry, located in the input file.
struct RawEntry {
    name: String,
    /// Local header offset.
    start: u64,
    /// End of its local record (next local header, or the central directory).
    end: u64,
    /// Its central directory record, as stored.
    central: Vec<u8>,
}

/// Where everything is, when the archive is a plain (non-ZIP64) zip whose records can be copied as bytes.
struct RawPlan {
    entries: Vec<RawEntry>,
    comment: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads `buf.len()` bytes at `offset` without moving a shared position.
#[cfg(unix)]
fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(mut file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

/// The uncompressed size in a central directory record, when the member is one the raw copier passes through
/// without a look at its local header: not encrypted (flag bit 0), stored, deflated or bzip2 (what Moodle's
/// libzip reads), and no ZIP64 size. `None` sends the member through the zip reader's checks.
fn plain_size(central: &[u8]) -> Option<u64> {
    let flags = u16_at(central, 8)?;
    let method = u16_at(central, 10)?;
    let size = u32_at(central, 24)?;
    let plain = flags & 1 == 0 && matches!(method, 0 | 8 | 12) && size != u32::MAX;
    plain.then_some(u64::from(size))
}

/// The names in a zip's central directory as stored (duplicates included, which the zip reader hides), or
/// `None` when it cannot be read that way (ZIP64, damage).
pub fn central_names(path: &Path) -> Option<Vec<String>> {
    let archive = open(path).ok()?;
    match raw_plan(&archive, path) {
        Ok(Some(plan)) => Some(plan.entries.into_iter().map(|e| e.name).collect()),
        Err(Error::Duplicate { member, .. }) => Some(vec![member.clone(), member]),
        Err(Error::Member { member, .. }) => Some(vec![member.replace("\\0", "\0")]),
        _ => None,
    }
}

/// Reads the end-of-central-directory record and the central directory itself (no per-entry seeks). `None` for
/// ZIP64 or anything unusual, which the zip crate's writer then handles.
fn raw_plan(archive: &ZipArchive<BufReader<File>>, path: &Path) -> Result<Option<RawPlan>> {
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    let tail_len = len.min(22 + 0xffff);
    let mut tail = Vec::new();
    file.seek(SeekFrom::Start(len - tail_len))
        .map_err(read_err)?;
    (&mut file)
        .take(tail_len)
        .read_to_end(&mut tail)
        .map_err(read_err)?;
    let Some(e) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(&tail, i) == Some(0x0605_4b50))
    else {
        return Ok(None);
    };
    let (Some(count), Some(cd_size), Some(cd_start)) = (
        u16_at(&tail, e + 10),
        u32_at(&tail, e + 12),
        u32_at(&tail, e + 16),
    ) else {
        return Ok(None);
    };
    if count == 0xffff || cd_size == 0xffff_ffff || cd_start == 0xffff_ffff {
        return Ok(None);
    }
    let (cd_start, cd_size) = (u64::from(cd_start), u64::from(cd_size));
    if cd_start + cd_size > len {
        return Ok(None);
    }
    let mut cd = Vec::new();
    file.seek(SeekFrom::Start(cd_start)).map_err(read_err)?;
    (&mut file)
        .take(cd_size)
        .read_to_end(&mut cd)
        .map_err(read_err)?;
    let mut records = Vec::with_capacity(usize::from(count));
    let mut at = 0usize;
    for _ in 0..count {
        let (Some(sig), Some(nl), Some(el), Some(cl), Some(off)) = (
            u32_at(&cd, at),
            u16_at(&cd, at + 28),
            u16_at(&cd, at + 30),
            u16_at(&cd, at + 32),
            u32_at(&cd, at + 42),
        ) else {
            return Ok(None);
        };
        let rec_len = 46 + usize::from(nl) + usize::from(el) + usize::from(cl);
        let Some(record) = cd.get(at..at + rec_len) else {
            return Ok(None);
        };
        if sig != 0x0201_4b50 || off == 0xffff_ffff || u64::from(off) >= cd_start {
            return Ok(None);
        }
        let name = String::from_utf8_lossy(&record[46..46 + usize::from(nl)]).into_owned();
        records.push((name, u64::from(off), record.to_vec()));
        at += rec_len;
    }
    // The zip reader keeps one entry per name: duplicates must be found in the directory itself.
    let mut names: Vec<&str> = records.iter().map(|r| r.0.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::Duplicate {
            path: path.to_path_buf(),
            member: w[0].to_owned(),
        });
    }
    if let Some(bad) = records.iter().find(|r| r.0.contains('\0')) {
        return Err(Error::Member {
            path: path.to_path_buf(),
            member: bad.0.replace('\0', "\\0"),
            reason: "the name contains a NUL byte".into(),
        });
    }
    if usize::from(count) != archive.len() {
        return Ok(None);
    }
    let mut starts: Vec<u64> = records.iter().map(|r| r.1).collect();
    starts.sort_unstable();
    if starts.windows(2).any(|w| w[0] == w[1]) {
        return Ok(None);
    }
    let entries = records
        .into_iter()
        .map(|(name, start, central)| {
            let next = starts.partition_point(|&s| s <= start);
            RawEntry {
                name,
                start,
                end: starts.get(next).copied().unwrap_or(cd_start),
                central,
            }
        })
        .collect();
    Ok(Some(RawPlan {
        entries,
        comment: archive.comment().to_vec(),
    }))
}

/// Writes `input` with `replacements` to `atomic`. The records of the `last` members (and of any replaced one)
/// go after all the others, in central directory order, so that every other record can be copied before the
/// replacements are known (see [`write_overlapped`]); the central directory keeps the input's order.
pub(super) fn write(
    input: &Path,
    replacements: &BTreeMap<String, Vec<u8>>,
    last: &[&str],
    atomic: &mut Atomic,
    opts: &super::WriteOptions,
) -> Result<()> {
    let archive = open(input)?;
    match raw_plan(&archive, input)? {
        Some(plan) => {
            let never = AtomicBool::new(false);
            let (head, tail) =
                plan.split(|name| last.contains(&name) || replacements.contains_key(name));
            // The replacements deflate on other cores while the records are copied.
            std::thread::scope(|scope| {
                let pending = deflate_all(replacements, &plan, opts, Some(scope));
                Raw::copying(input, &plan, atomic, &head, &opts.cancel, &never)?.finish(
                    &tail,
                    replacements,
                    pending,
                    opts,
                )
            })
        }
        // ZIP64 or other layouts the byte copier does not handle: the zip crate's writer.
        None => write_with_crate(input, archive, replacements, atomic, opts),
    }
}

/// The input's plan and a temp output, when a zip can be written by [`write_overlapped`].
pub(super) struct Prepared {
    plan: RawPlan,
    atomic: Atomic,
}

/// Reads the central directory of `input` and creates the temp output, or `None` when the archive is not a zip
/// the byte copier handles (the caller then reads it first, which reports what is wrong with it).
pub(super) fn prepare(input: &Path, output: &Path) -> Option<Prepared> {
    let archive = open(input).ok()?;
    let plan = raw_plan(&archive, input).ok()??;
    let atomic = Atomic::new(output).ok()?;
    Some(Prepared { plan, atomic })
}

/// [`write`] with the records of all but the `last` members copied on another thread while `produce` reads the
/// archive and computes the replacements (which must be among `last`). The output's bytes are those of
/// [`write`]. Whatever `produce` returns first wins: its error, or the copy's, or the write's.
pub(super) fn write_overlapped<T>(
    input: &Path,
    prepared: Prepared,
    last: &[&str],
    opts: &super::WriteOptions,
    produce: impl FnOnce() -> Result<(BTreeMap<String, Vec<u8>>, T)>,
) -> Result<T> {
    let Prepared { plan, atomic } = prepared;
    let (head, tail) = plan.split(|name| last.contains(&name));
    let stop = AtomicBool::new(false);
    let copy_head = || Raw::copying(input, &plan, &atomic, &head, &opts.cancel, &stop);
    let produced = std::thread::scope(|scope| {
        let copier = std::thread::Builder::new()
            .spawn_scoped(scope, copy_head)
            .ok();
        // The copy stops early when `produce` fails or panics (the guard is dropped), not only on success.
        let guard = StopOnDrop(&stop);
        let (replacements, value) = produce()?;
        std::mem::forget(guard);
        if let Some(outside) = replacements.keys().find(|k| !last.contains(&k.as_str())) {
            stop.store(true, Ordering::Relaxed);
            return Err(Error::Member {
                path: input.to_path_buf(),
                member: outside.clone(),
                reason: "rewritten but not among the members written last (a bug)".into(),
            });
        }
        std::thread::scope(|inner| {
            let pending = deflate_all(&replacements, &plan, opts, Some(inner));
            let raw = match copier {
                Some(h) => h.join().unwrap_or_else(|_| {
                    Err(atomic.write_error(io::Error::other("copy thread failed")))
                })?,
                // No thread (the system refuses one): the copy runs now.
                None => copy_head()?,
            };
            raw.finish(&tail, &replacements, pending, opts)
        })?;
        Ok(value)
    })?;
    opts.cancel.check()?;
    atomic.commit()?;
    Ok(produced)
}

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Starts deflating each replacement on its own thread when `scope` allows it, else leaves it for when its
/// record is written.
fn deflate_all<'s, 'e>(
    replacements: &'s BTreeMap<String, Vec<u8>>,
    plan: &RawPlan,
    opts: &super::WriteOptions,
    scope: Option<&'s std::thread::Scope<'s, 'e>>,
) -> BTreeMap<&'s str, Deflated<'s>> {
    let level = opts.level;
    replacements
        .iter()
        .filter(|(name, _)| plan.entries.iter().any(|e| e.name == **name))
        .map(|(name, new)| {
            let job = match scope.filter(|_| opts.threads > 1) {
                // No thread (one core asked for, or the system refuses one): deflated when reached.
                Some(scope) => std::thread::Builder::new()
                    .spawn_scoped(scope, move || deflate(new, level))
                    .map_or(Deflated::Later(new, level), Deflated::Running),
                None => Deflated::Later(new, level),
            };
            (name.as_str(), job)
        })
        .collect()
}

/// A rewritten member's deflated bytes and CRC, being computed or to compute.
enum Deflated<'a> {
    Running(std::thread::ScopedJoinHandle<'a, io::Result<(Vec<u8>, u32)>>),
    Later(&'a [u8], u32),
}

impl Deflated<'_> {
    fn get(self) -> io::Result<(Vec<u8>, u32)> {
        match self {
            Deflated::Running(h) => h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("compression thread failed"))),
            Deflated::Later(new, level) => deflate(new, level),
        }
    }
}

fn deflate(new: &[u8], level: u32) -> io::Result<(Vec<u8>, u32)> {
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(new.len() / 4),
        flate2::Compression::new(level),
    );
    enc.write_all(new)?;
    let data = enc.finish()?;
    let mut c = flate2::Crc::new();
    c.update(new);
    Ok((data, c.sum()))
}

impl RawPlan {
    /// The entries' indices split into those `later` rejects and those it takes, each in directory order.
    fn split(&self, later: impl Fn(&str) -> bool) -> (Vec<usize>, Vec<usize>) {
        (0..self.entries.len()).partition(|&i| !later(&self.entries[i].name))
    }
}

/// Bytes copied per kernel call, between two looks at the cancel and stop flags.
const COPY_CHUNK: u64 = 16 << 20;

/// The byte copier's output: records written so far and their central records, offsets updated.
struct Raw<'a> {
    input: &'a Path,
    plan: &'a RawPlan,
    atomic: &'a Atomic,
    /// Unbuffered: runs of untouched records go file to file in the kernel (copy_file_range).
    src: File,
    /// The input's read position.
    at: u64,
    out: BufWriter<File>,
    /// The output's length.
    pos: u64,
    central: Vec<Option<Vec<u8>>>,
}

impl<'a> Raw<'a> {
    fn new(input: &'a Path, plan: &'a RawPlan, atomic: &'a Atomic) -> Result<Self> {
        let src = File::open(input).map_err(|source| Error::Read {
            path: input.to_path_buf(),
            source,
        })?;
        Ok(Raw {
            input,
            plan,
            atomic,
            src,
            at: 0,
            out: BufWriter::with_capacity(64 << 10, atomic.handle()?),
            pos: 0,
            central: vec![None; plan.entries.len()],
        })
    }

    /// A new output with the records of `entries` copied.
    fn copying(
        input: &'a Path,
        plan: &'a RawPlan,
        atomic: &'a Atomic,
        entries: &[usize],
        cancel: &super::Cancel,
        stop: &AtomicBool,
    ) -> Result<Self> {
        let mut raw = Raw::new(input, plan, atomic)?;
        raw.copy(entries, cancel, stop)?;
        Ok(raw)
    }

    fn read_err(&self, source: io::Error) -> Error {
        Error::Read {
            path: self.input.to_path_buf(),
            source,
        }
    }

    fn too_big(&self) -> Error {
        Error::Member {
            path: self.input.to_path_buf(),
            member: String::new(),
            reason: "the output would need ZIP64".into(),
        }
    }

    fn seek_to(&mut self, start: u64) -> Result<()> {
        if start != self.at {
            self.src
                .seek(SeekFrom::Start(start))
                .map_err(|e| self.read_err(e))?;
            self.at = start;
        }
        Ok(())
    }

    /// Copies the records of `entries` byte for byte (header, data, descriptor), runs of records adjacent in
    /// the input in one kernel copy per chunk.
    fn copy(&mut self, entries: &[usize], cancel: &super::Cancel, stop: &AtomicBool) -> Result<()> {
        let plan = self.plan;
        let mut k = 0;
        while k < entries.len() {
            // The longest run of records that follow each other in the input.
            let first = &plan.entries[entries[k]];
            let mut run = k + 1;
            while run < entries.len()
                && plan.entries[entries[run]].start == plan.entries[entries[run - 1]].end
            {
                run += 1;
            }
            for &i in &entries[k..run] {
                let r = &plan.entries[i];
                let offset = u32::try_from(self.pos + (r.start - first.start))
                    .map_err(|_| self.too_big())?;
                let mut record = r.central.clone();
                record[42..46].copy_from_slice(&offset.to_le_bytes());
                self.central[i] = Some(record);
            }
            let last = &plan.entries[entries[run - 1]];
            self.seek_to(first.start)?;
            let mut left = last.end - first.start;
            while left > 0 {
                cancel.check()?;
                if stop.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                let want = left.min(COPY_CHUNK);
                let copied = io::copy(&mut (&mut self.src).take(want), &mut self.out)
                    .map_err(|err| self.atomic.write_error(err))?;
                self.at += copied;
                self.pos += copied;
                if copied != want {
                    return Err(Error::Member {
                        path: self.input.to_path_buf(),
                        member: last.name.clone(),
                        reason: "truncated entry".into(),
                    });
                }
                left -= want;
            }
            k = run;
        }
        Ok(())
    }

    /// Writes entry `i` with `new` as its content (deflated to `data` with `crc`): the original local header's
    /// name, flags and times, sizes in the header, no extra field.
    fn rewrite(&mut self, i: usize, new: &[u8], (data, crc): (Vec<u8>, u32)) -> Result<()> {
        let e = &self.plan.entries[i];
        let offset = u32::try_from(self.pos).map_err(|_| self.too_big())?;
        let mut record = e.central.clone();
        self.seek_to(e.start)?;
        let mut fixed = [0u8; 30];
        self.src
            .read_exact(&mut fixed)
            .map_err(|err| self.read_err(err))?;
        let nl = usize::from(u16_at(&fixed, 26).unwrap_or(0));
        let mut name = vec![0u8; nl];
        self.src
            .read_exact(&mut name)
            .map_err(|err| self.read_err(err))?;
        self.at = e.start + 30 + nl as u64;
        let (csize, usize_) = (
            u32::try_from(data.len()).map_err(|_| self.too_big())?,
            u32::try_from(new.len()).map_err(|_| self.too_big())?,
        );
        // Data descriptor flag off: sizes are in the header.
        let flags = u16_at(&fixed, 6).unwrap_or(0) & !0x0008;
        let mut header = Vec::with_capacity(30 + nl);
        header.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        header.extend_from_slice(&20u16.to_le_bytes());
        header.extend_from_slice(&flags.to_le_bytes());
        header.extend_from_slice(&8u16.to_le_bytes());
        header.extend_from_slice(&fixed[10..14]); // time, date
        header.extend_from_slice(&crc.to_le_bytes());
        header.extend_from_slice(&csize.to_le_bytes());
        header.extend_from_slice(&usize_.to_le_bytes());
        header.extend_from_slice(&u16::try_from(nl).unwrap_or(0).to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&name);
        self.out
            .write_all(&header)
            .and_then(|()| self.out.write_all(&data))
            .map_err(|err| self.atomic.write_error(err))?;
        self.pos += (header.len() + data.len()) as u64;
        // Central record: same, with the new method, sizes, CRC, no extra field.
        let cnl = usize::from(u16_at(&record, 28).unwrap_or(0));
        let cel = usize::from(u16_at(&record, 30).unwrap_or(0));
        record.splice(46 + cnl..46 + cnl + cel, []);
        record[6..8].copy_from_slice(&20u16.to_le_bytes());
        let cflags = u16_at(&record, 8).unwrap_or(0) & !0x0008;
        record[8..10].copy_from_slice(&cflags.to_le_bytes());
        record[10..12].copy_from_slice(&8u16.to_le_bytes());
        record[16..20].copy_from_slice(&crc.to_le_bytes());
        record[20..24].copy_from_slice(&csize.to_le_bytes());
        record[24..28].copy_from_slice(&usize_.to_le_bytes());
        record[30..32].copy_from_slice(&0u16.to_le_bytes());
        record[42..46].copy_from_slice(&offset.to_le_bytes());
        self.central[i] = Some(record);
        Ok(())
    }

    /// Writes the `tail` entries (rewritten or copied), then the central directory in the input's order and the
    /// end record.
    fn finish(
        mut self,
        tail: &[usize],
        replacements: &BTreeMap<String, Vec<u8>>,
        mut pending: BTreeMap<&str, Deflated<'_>>,
        opts: &super::WriteOptions,
    ) -> Result<()> {
        let cancel = &opts.cancel;
        let never = AtomicBool::new(false);
        let plan = self.plan;
        for &i in tail {
            cancel.check()?;
            let e = &plan.entries[i];
            match replacements.get(&e.name) {
                Some(new) => {
                    let deflated = match pending.remove(e.name.as_str()) {
                        Some(job) => job.get(),
                        None => deflate(new, opts.level),
                    }
                    .map_err(|err| self.atomic.write_error(err))?;
                    self.rewrite(i, new, deflated)?;
                }
                None => self.copy(&[i], cancel, &never)?,
            }
        }
        let cd_offset = u32::try_from(self.pos).map_err(|_| self.too_big())?;
        let central: Vec<u8> = self.central.iter().flatten().flatten().copied().collect();
        let cd_size = u32::try_from(central.len()).map_err(|_| self.too_big())?;
        let count = u16::try_from(plan.entries.len()).map_err(|_| self.too_big())?;
        let mut eocd = Vec::with_capacity(22 + plan.comment.len());
        eocd.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        eocd.extend_from_slice(&[0, 0, 0, 0]);
        eocd.extend_from_slice(&count.to_le_bytes());
        eocd.extend_from_slice(&count.to_le_bytes());
        eocd.extend_from_slice(&cd_size.to_le_bytes());
        eocd.extend_from_slice(&cd_offset.to_le_bytes());
        eocd.extend_from_slice(&u16::try_from(plan.comment.len()).unwrap_or(0).to_le_bytes());
        eocd.extend_from_slice(&plan.comment);
        self.out
            .write_all(&central)
            .and_then(|()| self.out.write_all(&eocd))
            .and_then(|()| self.out.flush())
            .map_err(|err| self.atomic.write_error(err))
    }
}

/// The zip crate's writer: raw copies through `raw_copy_file`, for archives the byte copier leaves alone.
fn write_with_crate(
    input: &Path,
    mut archive: ZipArchive<BufReader<File>>,
    replacements: &BTreeMap<String, Vec<u8>>,
    atomic: &mut Atomic,
    opts: &super::WriteOptions,
) -> Result<()> {
    let cancel = &opts.cancel;
    let file = atomic.handle()?;
    let mut out = ZipWriter::new(BufWriter::with_capacity(64 << 10, file));
    let werr = |e: ZipError| match e {
        ZipError::Io(source) => atomic.write_error(source),
        other => Error::Zip {
            path: input.to_path_buf(),
            member: None,
            source: other,
        },
    };
    for i in 0..archive.len() {
        cancel.check()?;
        let name = name_of(&archive, input, i)?;
        match replacements.get(&name) {
            Some(new) => {
                let f = archive
                    .by_index_raw(i)
                    .map_err(zip_err(input, Some(&name)))?;
                let mut options = SimpleFileOptions::default()
                    .compression_method(CompressionMethod::Deflated)
                    .compression_level(Some(i64::from(opts.level)))
                    .large_file(new.len() as u64 >= u64::from(u32::MAX));
                if let Some(t) = f.last_modified() {
                    options = options.last_modified_time(t);
                }
                if let Some(mode) = f.unix_mode() {
                    options = options.unix_permissions(mode);
                }
                drop(f);
                out.start_file(name.as_str(), options).map_err(werr)?;
                out.write_all(new).map_err(|e| atomic.write_error(e))?;
            }
            None => {
                let f = archive
                    .by_index_raw(i)
                    .map_err(zip_err(input, Some(&name)))?;
                out.raw_copy_file(f).map_err(|e| match e {
                    ZipError::Io(source) => atomic.write_error(source),
                    other => Error::Zip {
                        path: input.to_path_buf(),
                        member: Some(name.clone()),
                        source: other,
                    },
                })?;
            }
        }
    }
    let comment = archive.comment().to_vec();
    if !comment.is_empty() {
        out.set_raw_comment(comment.into_boxed_slice())
            .map_err(werr)?;
    }
    let mut buf = out.finish().map_err(werr)?;
    buf.flush().map_err(|e| atomic.write_error(e))?;
    Ok(())
}
