//! zip reading and rewriting: untouched members are raw-copied (same compressed bytes and CRC), rewritten
//! members are deflated with the original's timestamp and permissions.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::output::Atomic;
use super::{Container, Loaded, MemberInfo, check_duplicate};
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

pub(super) fn load(path: &Path, wanted: &[&str], limits: &super::Limits) -> Result<Loaded> {
    let mut archive = open(path)?;
    // Duplicate and NUL names, which the zip reader hides, are refused here.
    raw_plan(&archive, path)?;
    let mut infos = Vec::new();
    let mut docs = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut users = None;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let name = name_of(&archive, path, i)?;
        check_duplicate(&mut seen, path, &name)?;
        // Metadata only (no decompressor) unless the member is one the rules read.
        let wanted_here = wanted.contains(&name.as_str());
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
            });
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
            });
        }
        if !is_dir && name == crate::backup::USERS && wanted.contains(&name.as_str()) {
            users = Some(super::read_users(path, &mut f, limits)?);
        } else if !is_dir && wanted.contains(&name.as_str()) {
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
                });
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
        users,
        tar_members: super::KeptList::default(),
        tar: None,
    })
}

pub(super) fn write(
    input: &Path,
    replacements: &BTreeMap<String, Vec<u8>>,
    atomic: &mut Atomic,
    opts: &super::WriteOptions,
) -> Result<()> {
    let archive = open(input)?;
    match raw_plan(&archive, input)? {
        Some(plan) => write_raw(input, &plan, replacements, atomic, opts),
        // ZIP64 or other layouts the byte copier does not handle: the zip crate's writer.
        None => write_with_crate(input, archive, replacements, atomic, opts),
    }
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

/// Copies every untouched entry's local record byte for byte (header, data, descriptor), writes rewritten entries
/// deflated, and a central directory of the original records with their offsets updated.
fn write_raw(
    input: &Path,
    plan: &RawPlan,
    replacements: &BTreeMap<String, Vec<u8>>,
    atomic: &mut Atomic,
    opts: &super::WriteOptions,
) -> Result<()> {
    // Rewritten members are deflated on other cores while the untouched records are copied.
    std::thread::scope(|scope| {
        let mut pending: BTreeMap<&str, Deflated<'_>> = replacements
            .iter()
            .filter(|(name, _)| plan.entries.iter().any(|e| e.name == **name))
            .map(|(name, new)| {
                let level = opts.level;
                // No thread (one core asked for, or the system refuses one): deflated when reached.
                let job = if opts.threads > 1 {
                    std::thread::Builder::new()
                        .spawn_scoped(scope, move || deflate(new, level))
                        .map_or(Deflated::Later(new, level), Deflated::Running)
                } else {
                    Deflated::Later(new, level)
                };
                (name.as_str(), job)
            })
            .collect();
        write_records(input, plan, replacements, &mut pending, atomic, opts)
    })
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

fn write_records(
    input: &Path,
    plan: &RawPlan,
    replacements: &BTreeMap<String, Vec<u8>>,
    pending: &mut BTreeMap<&str, Deflated<'_>>,
    atomic: &mut Atomic,
    opts: &super::WriteOptions,
) -> Result<()> {
    let read_err = |source| Error::Read {
        path: input.to_path_buf(),
        source,
    };
    // Unbuffered: runs of untouched records go file to file in the kernel (copy_file_range).
    let mut src = File::open(input).map_err(read_err)?;
    let file = atomic.handle()?;
    let mut out = BufWriter::with_capacity(64 << 10, file);
    let mut pos: u64 = 0;
    let mut at: u64 = 0;
    let mut central = Vec::new();
    let too_big = || Error::Member {
        path: input.to_path_buf(),
        member: String::new(),
        reason: "the output would need ZIP64".into(),
    };
    let mut i = 0;
    while i < plan.entries.len() {
        opts.cancel.check()?;
        let e = &plan.entries[i];
        if e.start != at {
            src.seek(SeekFrom::Start(e.start)).map_err(read_err)?;
        }
        if !replacements.contains_key(&e.name) {
            // The longest run of untouched, contiguous records from here, copied at once.
            let mut j = i;
            while j < plan.entries.len()
                && !replacements.contains_key(&plan.entries[j].name)
                && (j == i || plan.entries[j].start == plan.entries[j - 1].end)
            {
                let r = &plan.entries[j];
                let offset = u32::try_from(pos + (r.start - e.start)).map_err(|_| too_big())?;
                let mut record = r.central.clone();
                record[42..46].copy_from_slice(&offset.to_le_bytes());
                central.extend_from_slice(&record);
                j += 1;
            }
            let end = plan.entries[j - 1].end;
            let want = end - e.start;
            let copied = io::copy(&mut (&mut src).take(want), &mut out)
                .map_err(|err| atomic.write_error(err))?;
            if copied != want {
                return Err(Error::Member {
                    path: input.to_path_buf(),
                    member: plan.entries[j - 1].name.clone(),
                    reason: "truncated entry".into(),
                });
            }
            at = end;
            pos += want;
            i = j;
            continue;
        }
        let offset = u32::try_from(pos).map_err(|_| too_big())?;
        let new = &replacements[&e.name];
        let mut record = e.central.clone();
        // The original local header for its name, flags, times.
        let mut fixed = [0u8; 30];
        src.read_exact(&mut fixed).map_err(read_err)?;
        let nl = usize::from(u16_at(&fixed, 26).unwrap_or(0));
        let mut name = vec![0u8; nl];
        src.read_exact(&mut name).map_err(read_err)?;
        at = e.start + 30 + nl as u64;
        let (data, crc) = match pending.remove(e.name.as_str()) {
            Some(job) => job.get(),
            None => deflate(new, opts.level),
        }
        .map_err(|err| atomic.write_error(err))?;
        let (csize, usize_) = (
            u32::try_from(data.len()).map_err(|_| too_big())?,
            u32::try_from(new.len()).map_err(|_| too_big())?,
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
        out.write_all(&header)
            .map_err(|err| atomic.write_error(err))?;
        out.write_all(&data)
            .map_err(|err| atomic.write_error(err))?;
        pos += (header.len() + data.len()) as u64;
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
        central.extend_from_slice(&record);
        i += 1;
    }
    let cd_offset = u32::try_from(pos).map_err(|_| too_big())?;
    let cd_size = u32::try_from(central.len()).map_err(|_| too_big())?;
    let count = u16::try_from(plan.entries.len()).map_err(|_| too_big())?;
    out.write_all(&central)
        .map_err(|err| atomic.write_error(err))?;
    let mut eocd = Vec::with_capacity(22 + plan.comment.len());
    eocd.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    eocd.extend_from_slice(&[0, 0, 0, 0]);
    eocd.extend_from_slice(&count.to_le_bytes());
    eocd.extend_from_slice(&count.to_le_bytes());
    eocd.extend_from_slice(&cd_size.to_le_bytes());
    eocd.extend_from_slice(&cd_offset.to_le_bytes());
    eocd.extend_from_slice(&u16::try_from(plan.comment.len()).unwrap_or(0).to_le_bytes());
    eocd.extend_from_slice(&plan.comment);
    out.write_all(&eocd)
        .map_err(|err| atomic.write_error(err))?;
    out.flush().map_err(|err| atomic.write_error(err))?;
    Ok(())
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
