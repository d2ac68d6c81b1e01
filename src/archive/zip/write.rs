//! The zip output: every record copied but the replaced ones, sequentially or while the caller computes the
//! replacements; the zip crate's writer for the layouts the byte copier leaves alone.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::plan::{RawPlan, raw_plan};
use super::raw::Raw;
use super::{name_of, open, zip_err};
use crate::archive::handoff::{Given, Handoff};
use crate::archive::output::Atomic;
use crate::archive::{Error, Result};

/// Writes `input` with `replacements` to `atomic`. The records of the `last` members (and of any replaced one)
/// go after all the others, in central directory order, so that every other record can be copied before the
/// replacements are known (see [`write_overlapped`]); the central directory keeps the input's order.
pub(in crate::archive) fn write(
    input: &Path,
    replacements: &BTreeMap<String, Vec<u8>>,
    last: &[&str],
    atomic: &mut Atomic,
    opts: &crate::archive::WriteOptions,
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

/// The input's plan, the zip reader that parsed its central directory, and a temp output, when a zip can be
/// written by [`write_overlapped`].
pub(in crate::archive) struct Prepared {
    plan: RawPlan,
    reader: super::Reader,
    atomic: Atomic,
}

/// Reads the central directory of `input` and creates the temp output, or `None` when the archive is not a zip
/// the byte copier handles (the caller then reads it first, which reports what is wrong with it).
pub(in crate::archive) fn prepare(input: &Path, output: &Path) -> Option<Prepared> {
    let reader = open(input).ok()?;
    let plan = raw_plan(&reader, input).ok()??;
    let atomic = Atomic::new(output).ok()?;
    Some(Prepared {
        plan,
        reader,
        atomic,
    })
}

/// [`write`] with the records of all but the `last` members copied on another thread while `produce` reads the
/// archive and computes the replacements (which must be among `last`). The output's bytes are those of
/// [`write`]. Whatever `produce` returns first wins: its error, or the copy's, or the write's.
pub(in crate::archive) fn write_overlapped<T, E: From<Error>>(
    input: &Path,
    prepared: Prepared,
    last: &[&str],
    opts: &crate::archive::WriteOptions,
    produce: impl FnOnce(&Handoff) -> Result<(BTreeMap<String, Vec<u8>>, T), E>,
) -> Result<T, E> {
    let Prepared {
        plan,
        reader,
        atomic,
    } = prepared;
    let plan = std::sync::Arc::new(plan);
    let (head, tail) = plan.split(|name| last.contains(&name));
    let stop = AtomicBool::new(false);
    let copy_head = || Raw::copying(input, &plan, &atomic, &head, &opts.cancel, &stop);
    let (produced, replacements) = std::thread::scope(|scope| -> Result<_, E> {
        let copier = std::thread::Builder::new()
            .spawn_scoped(scope, copy_head)
            .ok();
        // The copy stops early when `produce` fails or panics (the guard is dropped), not only on success.
        let guard = StopOnDrop(&stop);
        let handoff =
            Handoff::compressing(opts.level).reading(input, std::sync::Arc::clone(&plan), reader);
        let (replacements, value) = produce(&handoff)?;
        let given = handoff.into_given();
        std::mem::forget(guard);
        if let Some(outside) = replacements
            .keys()
            .chain(given.keys())
            .find(|k| !last.contains(&k.as_str()))
        {
            stop.store(true, Ordering::Relaxed);
            return Err(Error::Member {
                path: input.to_path_buf(),
                member: outside.clone(),
                reason: "rewritten but not among the members written last (a bug)".into(),
            }
            .into());
        }
        std::thread::scope(|inner| {
            let mut pending = deflate_all(&replacements, &plan, opts, Some(inner));
            for (name, g) in given {
                if plan.entries.iter().any(|e| e.name == name) {
                    pending.insert(name, Deflated::Handed(g, opts.level));
                }
            }
            let raw = match copier {
                Some(h) => h.join().unwrap_or_else(|_| {
                    Err(atomic.write_error(io::Error::other("copy thread failed")))
                })?,
                // No thread (the system refuses one): the copy runs now.
                None => copy_head()?,
            };
            raw.finish(&tail, &replacements, pending, opts)
        })?;
        Ok((value, replacements))
    })?;
    // The rewritten members (tens of megabytes for a large course) are freed on another core while the output
    // is renamed into place (which frees the replaced output's pages, if any); joined after, so that a batch's
    // next archive does not allocate while they are still held.
    let freeing = std::thread::Builder::new().spawn(move || drop(replacements));
    let committed = opts.cancel.check().and_then(|()| atomic.commit());
    if let Ok(freeing) = freeing {
        let _ = freeing.join();
    }
    committed?;
    Ok(produced)
}

/// Sets its flag when dropped.
pub(super) struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Starts deflating each replacement on its own thread when `scope` allows it, else leaves it for when its
/// record is written.
pub(super) fn deflate_all<'s, 'e>(
    replacements: &'s BTreeMap<String, Vec<u8>>,
    plan: &RawPlan,
    opts: &crate::archive::WriteOptions,
    scope: Option<&'s std::thread::Scope<'s, 'e>>,
) -> BTreeMap<String, Deflated<'s>> {
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
            (name.clone(), job)
        })
        .collect()
}

/// A rewritten member compressed, being compressed, or to compress.
pub(super) enum Deflated<'a> {
    Handed(Given, u32),
    Running(std::thread::ScopedJoinHandle<'a, io::Result<Packed>>),
    Later(&'a [u8], u32),
}

impl Deflated<'_> {
    pub(super) fn get(self) -> io::Result<Packed> {
        match self {
            Deflated::Handed(given, level) => given.packed(level),
            Deflated::Running(h) => h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("compression thread failed"))),
            Deflated::Later(new, level) => deflate(new, level),
        }
    }
}

/// Deflates a rewritten member at `level`: [`deflate_pieces`] of one piece.
pub(in crate::archive) fn deflate(new: &[u8], level: u32) -> io::Result<Packed> {
    // One deflate stream per member: members are compressed side by side (one thread each, the first as soon as
    // it is rewritten) rather than each cut into blocks, which costs more CPU (each block is primed with the
    // last 32 KiB of the one before) when both cores are busy anyway.
    deflate_pieces(level, new.len(), |out| out(new))
}

/// Deflates the bytes `pieces` writes, `len` of them, at `level`, as one deflate stream. The compressor is given
/// the member in chunks of [`CHUNK`] bytes of the member, whatever the pieces: its output depends on where its
/// input is cut (zlib-rs, like zlib-ng, decides some matches and block ends on the input at hand), so the cuts
/// are made the same for a member handed over in pieces ([`crate::archive::Handoff::give_pieces`]) and for one
/// given whole: the compressed bytes depend only on the content and the level.
pub(in crate::archive) fn deflate_pieces(
    level: u32,
    len: usize,
    pieces: impl FnOnce(&mut dyn FnMut(&[u8])),
) -> io::Result<Packed> {
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(len / 4),
        flate2::Compression::new(level),
    );
    let mut crc = flate2::Crc::new();
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK.min(len));
    let mut failed: Option<io::Error> = None;
    let mut feed = |bytes: &[u8], enc: &mut flate2::write::DeflateEncoder<Vec<u8>>| {
        crc.update(bytes);
        if let Err(e) = enc.write_all(bytes) {
            failed.get_or_insert(e);
        }
    };
    pieces(&mut |mut piece| {
        while !piece.is_empty() {
            // Whole chunks straight from the piece when nothing is waiting; else the chunk filled first.
            if chunk.is_empty() && piece.len() >= CHUNK {
                feed(&piece[..CHUNK], &mut enc);
                piece = &piece[CHUNK..];
                continue;
            }
            let take = (CHUNK - chunk.len()).min(piece.len());
            chunk.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if chunk.len() == CHUNK {
                feed(&chunk, &mut enc);
                chunk.clear();
            }
        }
    });
    if !chunk.is_empty() {
        feed(&chunk, &mut enc);
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let data = enc.finish()?;
    // `amount` counts modulo 2^32.
    if crc.amount() != len as u32 {
        return Err(io::Error::other(
            "the rewritten member is not the length announced",
        ));
    }
    Ok(Packed {
        data,
        crc: crc.sum(),
        len: len as u64,
    })
}

/// What the compressor of a rewritten member is given at a time ([`deflate_pieces`]).
const CHUNK: usize = 256 << 10;

/// A rewritten member compressed: its deflate data, the CRC-32 and length of its content.
pub(in crate::archive) struct Packed {
    pub(super) data: Vec<u8>,
    pub(super) crc: u32,
    pub(super) len: u64,
}

/// The zip crate's writer: raw copies through `raw_copy_file`, for archives the byte copier leaves alone.
pub(super) fn write_with_crate(
    input: &Path,
    mut archive: ZipArchive<BufReader<File>>,
    replacements: &BTreeMap<String, Vec<u8>>,
    atomic: &mut Atomic,
    opts: &crate::archive::WriteOptions,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Rng;

    /// A member deflated whole and the same member given in pieces cut anywhere (chunk boundaries, single bytes,
    /// pieces longer than a chunk) compress to the same bytes.
    #[test]
    fn pieces_deflate_as_the_whole() {
        let mut rng = Rng(7);
        // Text that deflates (as a course document does), over three chunks long.
        let line = b"<enrolment id=\"1\"><userid>2</userid>\n";
        let member: Vec<u8> = (0..3 * CHUNK + 1234)
            .map(|i| line[i % line.len()] ^ u8::from(rng.below(50) == 0))
            .collect();
        let whole = deflate(&member, 6).unwrap();
        for round in 0..12 {
            let packed = deflate_pieces(6, member.len(), |out| {
                let mut at = 0;
                while at < member.len() {
                    let step = match round % 3 {
                        0 => 1 + rng.below(64),
                        1 => 1 + rng.below(2 * CHUNK),
                        _ => [1, CHUNK - 1, CHUNK, CHUNK + 1][rng.below(4)],
                    };
                    let end = (at + step).min(member.len());
                    out(&member[at..end]);
                    at = end;
                }
            })
            .unwrap();
            assert_eq!(
                (&packed.data, packed.crc, packed.len),
                (&whole.data, whole.crc, whole.len),
                "round {round}"
            );
        }
        let mut d = flate2::read::DeflateDecoder::new(&whole.data[..]);
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut back).unwrap();
        assert_eq!(back, member);
    }

    #[test]
    fn pieces_shorter_than_announced_are_an_error() {
        assert!(deflate_pieces(6, 10, |out| out(b"123")).is_err());
    }
}
