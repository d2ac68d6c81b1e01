//! The first pass over a zip: the member list, the wanted members held or streamed, and every member Moodle
//! could not read refused.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::thread::Scope;

use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::local::{self, Central, Span};
use super::plan::{RawEntry, RawPlan, plain_size, raw_plan};
use super::{Known, name_of, open, u16_at, u32_at, zip_err};
use crate::archive::Error;
use crate::archive::{Listing, Loaded, MemberInfo, Wanted, check_duplicate};
use crate::fast_hash::IdSet;

pub(in crate::archive) fn load<E: From<Error>>(
    path: &Path,
    wanted: &Wanted,
    limits: &crate::archive::Limits,
    each: &mut dyn FnMut(&str, &mut dyn io::BufRead) -> Result<(), E>,
    known: Option<Known<'_>>,
) -> Result<Loaded, E> {
    load_beside(path, wanted, limits, each, known, PARALLEL_INFLATE)
}

/// [`load`], held members of `beside_from` bytes or more inflated on threads of their own. `known`: what the
/// writer has read of `path` already (its central directory is then not read and planned again as bytes, nor
/// parsed again by the zip reader when the writer hands its reader over).
fn load_beside<E: From<Error>>(
    path: &Path,
    wanted: &Wanted,
    limits: &crate::archive::Limits,
    each: &mut dyn FnMut(&str, &mut dyn io::BufRead) -> Result<(), E>,
    known: Option<Known<'_>>,
    beside_from: u64,
) -> Result<Loaded, E> {
    let (central, reader) = known.map_or((None, None), |k| (Some(k.plan), k.reader));
    let mut archive = match reader {
        Some(archive) => archive,
        None => open(path)?,
    };
    // Duplicate names, which the zip reader hides, are refused by the plan (here, or the writer's) and as the
    // loop meets them (NUL bytes are found by `Loaded::hostile`).
    let read;
    let plan = match central {
        Some(plan) => Some(plan),
        None => {
            read = raw_plan(&archive, path)?;
            read.as_ref()
        }
    };
    // Each local header is held to its central record (30 bytes and its name per member, the headers of small
    // records read several at a time), and the records must not share bytes.
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    let mut r = Reading {
        path,
        wanted,
        limits,
        file: &file,
        headers: local::Headers::new(&file, len),
        plan,
        infos: Vec::with_capacity(archive.len()),
        docs: BTreeMap::new(),
        seen: None,
        total: 0,
        spans: Vec::with_capacity(archive.len()),
        beside_from,
    };
    std::thread::scope(|scope| {
        // Large held members (a big course's enrolments and role assignments) are inflated on threads of their
        // own while the loop goes on: read one after another, they are on the critical path of a conversion.
        let mut beside = Vec::new();
        let looped = (0..archive.len())
            .try_for_each(|i| r.member(&mut archive, i, each, scope, &mut beside));
        // In archive order: a member the quick read doubts is read again by the zip reader, so its content or
        // its error is the one the loop would have met at its place (before any error the loop met later).
        for b in beside {
            let buf = match b.job.join().ok().flatten() {
                Some(buf) => buf,
                None => {
                    let mut f = archive
                        .by_index(b.index)
                        .map_err(zip_err(path, Some(&b.name)))?;
                    held(&mut f, path, &b.name, b.size)?
                }
            };
            r.docs.insert(b.name, buf);
        }
        looped
    })?;
    local::apart(path, &mut r.spans, |i| {
        r.infos.get(i).map_or("", |m| m.path.as_str())
    })?;
    Ok(Loaded {
        docs: r.docs,
        list: Listing::Zip(r.infos),
    })
}

/// What the first pass over a zip gathers, member by member.
struct Reading<'a> {
    path: &'a Path,
    wanted: &'a Wanted<'a>,
    limits: &'a crate::archive::Limits,
    /// The input, for the members inflated beside the loop.
    file: &'a File,
    /// The input's local headers.
    headers: local::Headers<'a>,
    plan: Option<&'a RawPlan>,
    infos: Vec<MemberInfo>,
    docs: BTreeMap<String, Vec<u8>>,
    /// The names met so far, once a name is not the plan's (see [`Reading::check_duplicate`]).
    seen: Option<IdSet<String>>,
    total: u64,
    spans: Vec<Span>,
    /// Held members of this many bytes or more are inflated on threads of their own.
    beside_from: u64,
}

impl<'a> Reading<'a> {
    /// Member `i`: listed, its local header checked, held or streamed when wanted (a held one of
    /// [`Reading::beside_from`] bytes or more inflated on a thread of `scope`, listed in `beside`).
    fn member<'s, E: From<Error>>(
        &mut self,
        archive: &mut ZipArchive<BufReader<File>>,
        i: usize,
        each: &mut dyn FnMut(&str, &mut dyn io::BufRead) -> Result<(), E>,
        scope: &'s Scope<'s, '_>,
        beside: &mut Vec<Beside<'s>>,
    ) -> Result<(), E>
    where
        'a: 's,
    {
        let path = self.path;
        let name = name_of(archive, path, i)?;
        let planned = self
            .plan
            .and_then(|p| p.entries.get(i).filter(|e| e.name == name));
        self.check_duplicate(&name, planned.is_some())?;
        // Metadata only (no decompressor) unless the member is one the rules read.
        let wanted_here = self.wanted.any(&name);
        // A plain member the rules do not read: its central record says all that is needed but its local
        // header, read alone (not a seek and a buffer refill per member, thousands in a course with files).
        if let Some((e, size)) = planned
            .filter(|_| !wanted_here)
            .and_then(|e| Some((e, plain_size(&e.central)?)))
        {
            let rank = self.infos.len();
            let record = e.end.saturating_sub(e.start);
            let span = local::check(
                &mut self.headers,
                path,
                (&name, rank),
                &central_of(e),
                record,
            )?;
            self.spans.push(span);
            self.total = self.total.saturating_add(size);
            self.limits.check_total(path, &name, self.total)?;
            let is_dir = matches!(name.as_bytes().last(), Some(b'/' | b'\\'));
            self.infos.push(MemberInfo {
                path: name,
                kind: if is_dir { 'd' } else { 'f' },
                size,
            });
            return Ok(());
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
        self.total = self.total.saturating_add(size);
        self.limits.check_total(path, &name, self.total)?;
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
                reason: match planned.and_then(|e| u16_at(&e.central, 10)) {
                    // The method's id as stored, and the zip reader's name for it.
                    Some(id) => format!(
                        "compression method {id} ({}) that Moodle cannot read",
                        f.compression()
                    ),
                    None => format!(
                        "compression method {} that Moodle cannot read",
                        f.compression()
                    ),
                },
            }
            .into());
        }
        // The central record as stored, unless its sizes are in a ZIP64 extra field (0xFFFFFFFF in the 32-bit
        // fields): then the sizes the zip reader found there.
        let rank = self.infos.len();
        let span = match planned.filter(|e| !zip64_sizes(&e.central)) {
            Some(e) => {
                let record = e.end.saturating_sub(e.start);
                local::check(
                    &mut self.headers,
                    path,
                    (&name, rank),
                    &central_of(e),
                    record,
                )?
            }
            None => local::check(
                &mut self.headers,
                path,
                (&name, rank),
                &Central {
                    name: f.name_raw(),
                    method: method_id(f.compression()),
                    sizes: (f.compressed_size(), size),
                    start: f.header_start(),
                },
                // A record of unknown length (ZIP64 sizes, no plan): its header read alone.
                u64::MAX,
            )?,
        };
        let data_end = span.data_end;
        self.spans.push(span);
        if !is_dir && self.wanted.streamed(&name) {
            crate::archive::stream(&name, &mut f, each)?;
        } else if !is_dir && self.wanted.held(&name) {
            self.limits.check_xml(path, &name, size)?;
            let file = self.file;
            // Stored or deflated (what the quick read reads), and on unix, where reads at an offset share no
            // position with the loop's.
            let quick = planned.filter(|e| {
                cfg!(unix)
                    && size >= self.beside_from
                    && matches!(u16_at(&e.central, 10), Some(0 | 8))
            });
            let started = quick.and_then(|e| {
                let job = std::thread::Builder::new()
                    .spawn_scoped(scope, move || inflate_at(file, &e.central, data_end, size))
                    .ok()?;
                beside.push(Beside {
                    index: i,
                    name: name.clone(),
                    size,
                    job,
                });
                Some(())
            });
            if started.is_none() {
                let buf = held(&mut f, path, &name, size)?;
                self.docs.insert(name.clone(), buf);
            }
        }
        self.infos.push(MemberInfo {
            path: name,
            kind: if is_dir { 'd' } else { 'f' },
            size,
        });
        Ok(())
    }
}

impl Reading<'_> {
    /// Refuses a name met before, as the zip reader decodes names (CP437 where not UTF-8: two records the plan
    /// tells apart can still be one name here, `é` in UTF-8 and byte 0x82). While every name is the plan's (the
    /// central directory's names as stored, which the plan found all different), none can repeat and none is
    /// kept; from the first that is not (or without a plan), the names met so far are kept and each next one is
    /// checked, so that the same member is named as if every name had been kept.
    fn check_duplicate(&mut self, name: &str, planned: bool) -> Result<(), Error> {
        if planned && self.seen.is_none() {
            return Ok(());
        }
        let seen = self.seen.get_or_insert_with(|| {
            let mut seen =
                IdSet::with_capacity_and_hasher(self.infos.capacity(), Default::default());
            seen.extend(self.infos.iter().map(|m| m.path.clone()));
            seen
        });
        check_duplicate(seen, self.path, name)
    }
}

/// Whether `csize` compressed bytes can hold a member of `size` bytes (within the XML limit) stored (`method` 0)
/// or deflated (8): stored, exactly as many; deflated, about as many at most (stored blocks add 5 bytes per
/// 64 KiB). Nothing is allocated from a size the archive says until it is plausible: anything else (a ZIP64
/// size, a hostile one, another method) goes to the zip reader.
fn plausible(method: u16, csize: u64, size: u64) -> bool {
    let fits = match method {
        0 => csize == size,
        8 => csize <= size + size / 8 + 1024,
        _ => false,
    };
    fits && csize != u64::from(u32::MAX)
}

/// Below this declared size a held member is read in the loop: a thread costs more than it saves.
const PARALLEL_INFLATE: u64 = 1 << 20;

/// A held member being inflated on a thread of its own.
struct Beside<'scope> {
    index: usize,
    name: String,
    size: u64,
    job: std::thread::ScopedJoinHandle<'scope, Option<Vec<u8>>>,
}

/// A held member's content through the zip reader: all of it, read to its end (where the reader checks the
/// CRC-32), and exactly the size it declares.
fn held(f: &mut impl Read, path: &Path, name: &str, size: u64) -> Result<Vec<u8>, Error> {
    let buf = read_held(f, size).map_err(|e| Error::Zip {
        path: path.to_path_buf(),
        member: Some(name.to_owned()),
        source: ZipError::Io(e),
    })?;
    if buf.len() as u64 != size {
        return Err(Error::Member {
            path: path.to_path_buf(),
            member: name.to_owned(),
            reason: format!(
                "declares {size} bytes but holds {}: the archive is damaged",
                buf.len()
            ),
        });
    }
    Ok(buf)
}

/// The content of a stored or deflated member whose record ends at `data_end` (its local header checked), read
/// and inflated without the zip reader: `Some` only when it is exactly what the zip reader would return (the
/// deflate stream ends with the member's compressed bytes, `size` bytes come out, the CRC-32 is the central
/// record's); `None` (a read error, damage, anything else) sends the member back to the zip reader, which says
/// what is wrong.
fn inflate_at(file: &File, central: &[u8], data_end: u64, size: u64) -> Option<Vec<u8>> {
    let method = u16_at(central, 10)?;
    let crc = u32_at(central, 16)?;
    let csize = u64::from(u32_at(central, 20)?);
    if !plausible(method, csize, size) {
        return None;
    }
    let mut packed = vec![0u8; usize::try_from(csize).ok()?];
    super::read_at(file, data_end.checked_sub(csize)?, &mut packed).ok()?;
    let out = match method {
        0 => packed,
        8 => {
            let mut out = vec![0u8; usize::try_from(size).ok()?];
            let mut z = flate2::Decompress::new(false);
            let status = z
                .decompress(&packed, &mut out, flate2::FlushDecompress::Finish)
                .ok()?;
            let whole = status == flate2::Status::StreamEnd
                && z.total_in() == csize
                && z.total_out() == size;
            whole.then_some(out)?
        }
        _ => return None,
    };
    let mut c = flate2::Crc::new();
    c.update(&out);
    (out.len() as u64 == size && c.sum() == crc).then_some(out)
}

/// A held member's content, all of it (read to its end, where the zip reader checks the CRC-32). The buffer is
/// the size the member declares, allocated zeroed (fresh pages from the system, not written twice) and filled
/// by the reader, instead of grown by `read_to_end`, which zeroes each stretch before reading into it.
fn read_held(f: &mut impl Read, size: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(size).unwrap_or(0)];
    let got = crate::archive::tar::read_full(f, &mut buf)?;
    buf.truncate(got);
    // The end (a member holding more than it declares keeps its extra bytes, for the caller's message).
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Whether a central record's sizes are in a ZIP64 extra field (either 32-bit size field is 0xFFFFFFFF).
fn zip64_sizes(central: &[u8]) -> bool {
    u32_at(central, 20) == Some(u32::MAX) || u32_at(central, 24) == Some(u32::MAX)
}

/// An entry's central record as [`local::check`] reads it.
fn central_of(e: &RawEntry) -> Central<'_> {
    let c = &e.central;
    let nl = usize::from(u16_at(c, 28).unwrap_or(0));
    Central {
        name: c.get(46..46 + nl).unwrap_or_default(),
        method: u16_at(c, 10).unwrap_or(0),
        sizes: (
            u64::from(u32_at(c, 20).unwrap_or(0)),
            u64::from(u32_at(c, 24).unwrap_or(0)),
        ),
        start: e.start,
    }
}

/// The id of a method the loop lets through (stored, deflate, bzip2), as local headers store it.
fn method_id(m: CompressionMethod) -> u16 {
    match m {
        CompressionMethod::Stored => 0,
        CompressionMethod::Deflated => 8,
        _ => 12,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use zip::ZipWriter;
    use zip::write::SimpleFileOptions;

    use super::*;

    const BIG: &str = "course/enrolments.xml";
    const ALSO: &str = "course/roles.xml";

    /// Text of `n` bytes that deflates well but not to nothing (a course document's shape).
    fn text(n: usize, seed: u64) -> Vec<u8> {
        let mut rng = crate::testkit::Rng(seed);
        let mut out = Vec::with_capacity(n + 64);
        while out.len() < n {
            let line = format!(
                "<enrolment id=\"{}\"><userid>{}</userid></enrolment>\n",
                rng.below(1_000_000),
                rng.below(1_000_000)
            );
            out.extend_from_slice(line.as_bytes());
        }
        out.truncate(n);
        out
    }

    /// A zip holding `BIG` (deflated), `ALSO` (stored), both over a MiB, small members around them, and
    /// `last` members after them.
    fn sample(last: &[(&str, CompressionMethod)]) -> Vec<u8> {
        let mut z = ZipWriter::new(Cursor::new(Vec::new()));
        let with = |m| SimpleFileOptions::default().compression_method(m);
        z.start_file("moodle_backup.xml", with(CompressionMethod::Deflated))
            .unwrap();
        z.write_all(b"<moodle_backup/>").unwrap();
        z.start_file(BIG, with(CompressionMethod::Deflated))
            .unwrap();
        z.write_all(&text(3 << 20, 1)).unwrap();
        z.start_file(ALSO, with(CompressionMethod::Stored)).unwrap();
        z.write_all(&text((1 << 20) + 7, 2)).unwrap();
        z.start_file("files/aa/aaaa", with(CompressionMethod::Stored))
            .unwrap();
        z.write_all(&[9u8; 5000]).unwrap();
        for (name, m) in last {
            z.start_file(*name, with(*m)).unwrap();
            z.write_all(b"<groups/>").unwrap();
        }
        z.finish().unwrap().into_inner()
    }

    /// Where `name`'s central directory record and local header start in `zip`.
    fn records_of(zip: &[u8], name: &str) -> (usize, usize) {
        let central = central_at(zip, name);
        let local = u32::from_le_bytes(zip[central + 42..central + 46].try_into().unwrap());
        (central, usize::try_from(local).unwrap())
    }

    /// The central directory record of `name` in `zip`.
    fn central_at(zip: &[u8], name: &str) -> usize {
        (0..zip.len() - 46)
            .find(|&i| {
                zip[i..].starts_with(b"PK\x01\x02")
                    && zip[i + 46..].starts_with(name.as_bytes())
                    && usize::from(u16::from_le_bytes([zip[i + 28], zip[i + 29]])) == name.len()
            })
            .expect("a central record")
    }

    /// `load` with the large members inflated beside the loop, and in it, as the zip reader reads them: both
    /// results, `Ok` as their documents and listing, `Err` as its message.
    fn both(dir: &Path, zip: &[u8]) -> (String, String) {
        let path = dir.join("t.mbz");
        std::fs::write(&path, zip).unwrap();
        let wanted = Wanted {
            held: &["moodle_backup.xml", BIG, ALSO, "groups.xml"],
            streamed: &[],
        };
        let limits = crate::archive::Limits::default();
        let run = |from| {
            let got = load_beside::<Error>(&path, &wanted, &limits, &mut |_, _| Ok(()), None, from);
            match got {
                Ok(l) => format!("{:?} {:?}", l.docs, l.list),
                Err(e) => format!("error: {e}"),
            }
        };
        (run(PARALLEL_INFLATE), run(u64::MAX))
    }

    /// A member whose sizes are in a ZIP64 extra field (0xFFFFFFFF in its records' 32-bit fields, as writers
    /// streaming a member of unknown size leave them) in an archive that is otherwise plain is read and checked
    /// with its real sizes.
    #[test]
    fn a_member_with_zip64_sizes_in_a_plain_archive_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut z = ZipWriter::new(Cursor::new(Vec::new()));
        let plain = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        z.start_file("moodle_backup.xml", plain.large_file(true))
            .unwrap();
        z.write_all(b"<moodle_backup/>").unwrap();
        z.start_file("groups.xml", plain).unwrap();
        z.write_all(b"<groups/>").unwrap();
        let zip = z.finish().unwrap().into_inner();
        let central = central_at(&zip, "moodle_backup.xml");
        assert_eq!(
            &zip[central + 20..central + 28],
            &[0xff; 8],
            "sizes in a ZIP64 extra"
        );
        let path = dir.path().join("t.mbz");
        std::fs::write(&path, &zip).unwrap();
        let wanted = Wanted {
            held: &["moodle_backup.xml"],
            streamed: &[],
        };
        let limits = crate::archive::Limits::default();
        let loaded = load::<Error>(&path, &wanted, &limits, &mut |_, _| Ok(()), None).unwrap();
        assert_eq!(loaded.docs["moodle_backup.xml"], b"<moodle_backup/>");
    }

    /// Two records whose names differ as bytes but not as the zip reader decodes them (`é` in UTF-8, and byte
    /// 0x82, which is `é` in CP437, without the UTF-8 flag) are one name twice: refused, though the plan,
    /// which compares the names as stored, tells them apart.
    #[test]
    fn names_equal_once_decoded_are_a_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let mut z = ZipWriter::new(Cursor::new(Vec::new()));
        let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        for name in ["moodle_backup.xml", "course/\u{e9}.txt", "course/Q.txt"] {
            z.start_file(name, stored).unwrap();
            z.write_all(b"<x/>").unwrap();
        }
        let mut zip = z.finish().unwrap().into_inner();
        // `Q` becomes 0x82 in both records (an ASCII name: no UTF-8 flag).
        while let Some(at) = zip.windows(12).position(|w| w == b"course/Q.txt") {
            zip[at + 7] = 0x82;
        }
        let path = dir.path().join("t.mbz");
        std::fs::write(&path, &zip).unwrap();
        assert!(raw_plan(&open(&path).unwrap(), &path).unwrap().is_some());
        let wanted = Wanted {
            held: &["moodle_backup.xml"],
            streamed: &[],
        };
        let limits = crate::archive::Limits::default();
        match load::<Error>(&path, &wanted, &limits, &mut |_, _| Ok(()), None) {
            Err(Error::Duplicate { member, .. }) => assert_eq!(member, "course/\u{e9}.txt"),
            other => panic!("{:?}", other.map(|l| l.members())),
        }
    }

    #[test]
    fn large_members_inflated_beside_the_loop_are_the_zip_readers() {
        let dir = tempfile::tempdir().unwrap();
        let zip = sample(&[("groups.xml", CompressionMethod::Deflated)]);
        let (beside, in_loop) = both(dir.path(), &zip);
        assert!(!beside.starts_with("error"), "{beside}");
        assert_eq!(beside, in_loop);
        // The quick read itself reads both (the zip reader would give the same, but it is the slow path).
        let path = dir.path().join("t.mbz");
        let file = File::open(&path).unwrap();
        for (name, content) in [(BIG, text(3 << 20, 1)), (ALSO, text((1 << 20) + 7, 2))] {
            let (central, local) = records_of(&zip, name);
            let nl = usize::from(u16::from_le_bytes([zip[local + 26], zip[local + 27]]));
            let el = usize::from(u16::from_le_bytes([zip[local + 28], zip[local + 29]]));
            let csize = u32::from_le_bytes(zip[central + 20..central + 24].try_into().unwrap());
            let data_end = (local + 30 + nl + el) as u64 + u64::from(csize);
            let read = inflate_at(
                &file,
                &zip[central..central + 46],
                data_end,
                content.len() as u64,
            );
            assert!(read == Some(content), "{name}: read without the zip reader");
        }
    }

    #[test]
    fn a_damaged_large_member_fails_as_the_zip_reader_says_and_before_later_errors() {
        let dir = tempfile::tempdir().unwrap();
        for later_fails in [false, true] {
            let mut zip = sample(&[("groups.xml", CompressionMethod::Stored)]);
            if later_fails {
                // The member after them says LZMA (14), which Moodle cannot read: the loop's own error, met
                // later.
                let (central, local) = records_of(&zip, "groups.xml");
                zip[central + 10] = 14;
                zip[local + 8] = 14;
                let (_, in_loop) = both(dir.path(), &zip);
                assert!(in_loop.contains("compression method"), "{in_loop}");
            }
            // A wrong CRC-32 in the central record (the local header agrees on everything it is held to).
            let at = central_at(&zip, BIG) + 16;
            zip[at] ^= 0xff;
            let (beside, in_loop) = both(dir.path(), &zip);
            assert!(beside.contains(BIG), "{beside}");
            assert_eq!(beside, in_loop);
        }
    }

    #[test]
    fn a_large_member_with_bytes_past_its_stream_or_a_short_one_reads_as_the_zip_reader_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let zip = sample(&[]);
        // The stored member's declared size one less in both records: its content is cut short.
        let mut short = zip.clone();
        let (central, local) = records_of(&short, ALSO);
        for at in [central + 24, local + 22] {
            short[at] = short[at].wrapping_sub(1);
        }
        let (beside, in_loop) = both(dir.path(), &short);
        assert_eq!(beside, in_loop);
        // The deflated member's uncompressed size one more in both records.
        let mut long = zip;
        let (central, local) = records_of(&long, BIG);
        for at in [central + 24, local + 22] {
            long[at] = long[at].wrapping_add(1);
        }
        let (beside, in_loop) = both(dir.path(), &long);
        assert!(beside.starts_with("error"), "{beside}");
        assert_eq!(beside, in_loop);
        // The deflated member declared one byte shorter, with the CRC-32 of that shorter content: the stream
        // goes on past what it declares.
        let (beside, in_loop) = both(dir.path(), &zip_cut_short());
        assert!(beside.starts_with("error"), "{beside}");
        assert_eq!(beside, in_loop);
    }

    /// The quick read allocates nothing from a compressed size that cannot be the member's: a ZIP64 or hostile
    /// one, a stored member whose sizes differ, another method. The zip reader then says what is wrong. What
    /// deflate can write for a member of that size passes.
    #[test]
    fn implausible_compressed_sizes_are_left_to_the_zip_reader() {
        let size = 2 << 20;
        for (method, csize) in [
            (8, u64::from(u32::MAX) - 15),
            (8, u64::from(u32::MAX)),
            (8, 3 << 20),
        ]
        .into_iter()
        .chain([(0, 100), (0, size + 1), (12, 100), (14, 10)])
        {
            assert!(!plausible(method, csize, size), "{method} {csize}");
        }
        for (method, csize) in [(0, size), (8, 1), (8, size), (8, size + size / 64)] {
            assert!(plausible(method, csize, size), "{method} {csize}");
        }
        // 4 GiB-odd declared for a member of a few bytes: refused whatever the method.
        assert!(!plausible(0, u64::from(u32::MAX), u64::from(u32::MAX)));
    }

    /// [`sample`] with `BIG` declared one byte shorter in both records and the central CRC-32 of that content.
    fn zip_cut_short() -> Vec<u8> {
        let mut zip = sample(&[]);
        let content = text(3 << 20, 1);
        let (central, local) = records_of(&zip, BIG);
        let shorter = u32::try_from(content.len() - 1).unwrap().to_le_bytes();
        zip[central + 24..central + 28].copy_from_slice(&shorter);
        zip[local + 22..local + 26].copy_from_slice(&shorter);
        let mut c = flate2::Crc::new();
        c.update(&content[..content.len() - 1]);
        zip[central + 16..central + 20].copy_from_slice(&c.sum().to_le_bytes());
        zip
    }
}
