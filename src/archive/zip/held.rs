//! The members the rules read, inflated straight from their records: positioned reads of the compressed bytes
//! and one inflate into a buffer of the declared size (no zero-filling, no reader stack), the large members on
//! threads of their own; each member's size and CRC-32 are held to its central record.
//!
//! Used for the plain records of a zip the byte copier handles (stored or deflated, not encrypted, no ZIP64);
//! any other member goes through the zip crate's reader.

use std::fs::File;
use std::path::Path;

use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::read_at;
use crate::archive::Error;

/// Compressed bytes read per call.
const CHUNK: usize = 256 << 10;

/// Members at least this large are inflated on a thread of their own when there are several.
const PARALLEL: u64 = 1 << 20;

/// One member to read: where its compressed bytes are and what its central record promises.
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub(super) name: String,
    /// 0 (stored) or 8 (deflate).
    pub(super) method: u16,
    /// Offset of the compressed bytes (after the local header, its name and extra field).
    pub(super) data: u64,
    /// Compressed size.
    pub(super) csize: u64,
    /// Uncompressed size.
    pub(super) size: u64,
    /// CRC-32 of the uncompressed bytes.
    pub(super) crc: u32,
}

/// Reads every member of `held`, returning their bytes in the same order, or the error of the first that fails
/// (in that order, whatever thread read it). Members over 1 MiB go to threads of their own when `threads`
/// allows more than one and there are several of them; the bytes do not depend on it.
pub(super) fn read_all(
    file: &File,
    path: &Path,
    held: &[Held],
    threads: usize,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let large = held.iter().filter(|h| h.size >= PARALLEL).count();
    let results: Vec<Result<Vec<u8>, Error>> = if threads > 1 && large > 1 {
        std::thread::scope(|scope| {
            // The first large member stays on this thread with the small ones; each other large one gets a
            // thread (read here when the system refuses one).
            let mut first = true;
            let jobs: Vec<_> = held
                .iter()
                .map(|h| {
                    let own = h.size >= PARALLEL && !std::mem::replace(&mut first, false);
                    own.then(|| {
                        std::thread::Builder::new()
                            .spawn_scoped(scope, move || read(file, path, h))
                            .ok()
                    })
                    .flatten()
                })
                .collect();
            held.iter()
                .zip(jobs)
                .map(|(h, job)| match job {
                    Some(j) => j.join().unwrap_or_else(|_| {
                        Err(damaged(path, &h.name, "its reading thread failed".into()))
                    }),
                    None => read(file, path, h),
                })
                .collect()
        })
    } else {
        held.iter().map(|h| read(file, path, h)).collect()
    };
    held.iter()
        .zip(results)
        .map(|(h, r)| r.map(|bytes| (h.name.clone(), bytes)))
        .collect()
}

fn damaged(path: &Path, member: &str, reason: String) -> Error {
    Error::Member {
        path: path.to_path_buf(),
        member: member.to_owned(),
        reason,
    }
}

/// One member's bytes, checked against its central record.
fn read(file: &File, path: &Path, h: &Held) -> Result<Vec<u8>, Error> {
    let size = usize::try_from(h.size)
        .map_err(|_| damaged(path, &h.name, "too large for this machine".into()))?;
    let bytes = match h.method {
        // An empty member may have no deflate data at all.
        _ if h.size == 0 && h.csize == 0 => Vec::new(),
        0 => {
            if h.csize != h.size {
                return Err(damaged(
                    path,
                    &h.name,
                    format!(
                        "stored, but its central record says {} bytes compressed to {}: the archive is damaged",
                        h.size, h.csize
                    ),
                ));
            }
            let mut out = vec![0u8; size];
            read_at(file, h.data, &mut out).map_err(|e| truncated(path, h, &e))?;
            out
        }
        _ => inflate(file, path, h, size)?,
    };
    let mut crc = Crc::new();
    crc.update(&bytes);
    if crc.sum() != h.crc {
        return Err(damaged(
            path,
            &h.name,
            format!(
                "its CRC-32 is {:08x} where its central record says {:08x}: the archive is damaged",
                crc.sum(),
                h.crc
            ),
        ));
    }
    Ok(bytes)
}

fn truncated(path: &Path, h: &Held, e: &std::io::Error) -> Error {
    damaged(
        path,
        &h.name,
        format!(
            "its {} compressed bytes cannot be read ({e}): the archive is damaged",
            h.csize
        ),
    )
}

/// Inflates `h`'s raw deflate data into exactly `size` bytes. One spare byte of room tells a member that
/// inflates to more than it declares (a bomb with a lying size is stopped there).
fn inflate(file: &File, path: &Path, h: &Held, size: usize) -> Result<Vec<u8>, Error> {
    let bad = |what: String| damaged(path, &h.name, format!("{what}: the archive is damaged"));
    let mut out = Vec::with_capacity(size.saturating_add(1));
    let mut d = Decompress::new(false);
    let mut chunk = vec![0u8; usize::try_from(h.csize).unwrap_or(CHUNK).min(CHUNK)];
    let (mut at, mut left) = (h.data, h.csize);
    let mut ended = false;
    while !ended && left > 0 {
        let n = usize::try_from(left).unwrap_or(CHUNK).min(chunk.len());
        read_at(file, at, &mut chunk[..n]).map_err(|e| truncated(path, h, &e))?;
        at += n as u64;
        left -= n as u64;
        let flush = if left == 0 {
            FlushDecompress::Finish
        } else {
            FlushDecompress::None
        };
        let mut input = &chunk[..n];
        while !input.is_empty() {
            let (before_in, before_out) = (d.total_in(), d.total_out());
            let status = d
                .decompress_vec(input, &mut out, flush)
                .map_err(|e| bad(format!("its deflate data is invalid ({e})")))?;
            let used = usize::try_from(d.total_in() - before_in).unwrap_or(input.len());
            input = &input[used.min(input.len())..];
            if out.len() > size {
                return Err(bad(format!(
                    "it inflates to more than the {size} bytes it declares"
                )));
            }
            if status == Status::StreamEnd {
                ended = true;
                break;
            }
            if used == 0 && d.total_out() == before_out {
                return Err(bad("its deflate data stops making progress".into()));
            }
        }
    }
    if !ended {
        return Err(bad(format!(
            "its deflate data ends before the end of the stream ({} of {size} bytes inflated)",
            out.len()
        )));
    }
    if out.len() != size {
        return Err(bad(format!(
            "it declares {size} bytes but holds {}",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn deflated(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn crc(data: &[u8]) -> u32 {
        let mut c = Crc::new();
        c.update(data);
        c.sum()
    }

    /// Text of `n` bytes that differs along its length (so that each member inflates to its own bytes).
    fn text(n: usize, seed: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 64);
        let mut i = seed;
        while out.len() < n {
            out.extend_from_slice(
                format!("<enrolment id=\"{i}\"><userid>{}</userid>\n", i * 7).as_bytes(),
            );
            i += 1;
        }
        out.truncate(n);
        out
    }

    /// A file holding each member's stored bytes (deflated unless `stored`) one after another, a few junk
    /// bytes between them, and the [`Held`] records that find them.
    fn file_of(dir: &Path, members: &[(&str, Vec<u8>, bool)]) -> (File, Vec<Held>) {
        let path = dir.join("members.bin");
        let mut bytes = Vec::new();
        let mut held = Vec::new();
        for (name, data, stored) in members {
            bytes.extend_from_slice(b"junk");
            let packed = if *stored {
                data.clone()
            } else {
                deflated(data)
            };
            held.push(Held {
                name: (*name).to_owned(),
                method: if *stored { 0 } else { 8 },
                data: bytes.len() as u64,
                csize: packed.len() as u64,
                size: data.len() as u64,
                crc: crc(data),
            });
            bytes.extend_from_slice(&packed);
        }
        bytes.extend_from_slice(b"tail");
        std::fs::write(&path, &bytes).unwrap();
        (File::open(&path).unwrap(), held)
    }

    fn members() -> Vec<(&'static str, Vec<u8>, bool)> {
        vec![
            ("course/course.xml", text(300, 1), false),
            ("course/enrolments.xml", text(3 << 20, 2), false),
            ("roles.xml", text(5000, 3), true),
            ("course/roles.xml", text((2 << 20) + 17, 4), false),
            ("groups.xml", text(1_500_000, 5), false),
            ("empty.xml", Vec::new(), false),
        ]
    }

    #[test]
    fn members_read_alike_on_one_thread_or_several() {
        let dir = tempfile::tempdir().unwrap();
        let want = members();
        let (file, held) = file_of(dir.path(), &want);
        let p = Path::new("a.mbz");
        let expected: Vec<(String, Vec<u8>)> = want
            .iter()
            .map(|(n, d, _)| ((*n).to_owned(), d.clone()))
            .collect();
        for threads in [1, 2, 8] {
            assert_eq!(read_all(&file, p, &held, threads).unwrap(), expected);
        }
    }

    /// Damages member `at` of [`members`] with `damage`, and expects `want` in the error, whatever the threads.
    fn fails(at: usize, damage: impl Fn(&mut Held), want: &str) {
        let dir = tempfile::tempdir().unwrap();
        let (file, mut held) = file_of(dir.path(), &members());
        damage(&mut held[at]);
        for threads in [1, 2] {
            let err = read_all(&file, Path::new("a.mbz"), &held, threads)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("member `{}`", held[at].name)) && err.contains(want),
                "{threads} threads: {err}"
            );
        }
    }

    #[test]
    fn a_damaged_member_is_named() {
        fails(1, |h| h.crc ^= 1, "CRC-32");
        fails(3, |h| h.size -= 1, "more than the");
        fails(
            4,
            |h| h.size += 1,
            "declares 1500001 bytes but holds 1500000",
        );
        fails(1, |h| h.csize -= 10, "ends before the end of the stream");
        fails(3, |h| h.data += 3, "invalid");
        fails(2, |h| h.size += 1, "stored, but");
        fails(1, |h| h.data = 1 << 40, "cannot be read");
    }

    #[test]
    fn the_first_damaged_member_in_order_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (file, mut held) = file_of(dir.path(), &members());
        // Both large members after the first are damaged: the earlier one is named, even though it was read on
        // a thread of its own.
        held[3].crc ^= 1;
        held[4].crc ^= 1;
        for threads in [1, 2] {
            let err = read_all(&file, Path::new("a.mbz"), &held, threads)
                .unwrap_err()
                .to_string();
            assert!(err.contains("member `course/roles.xml`"), "{err}");
        }
    }
}
