//! The first pass over a zip: the member list, the wanted members held or streamed, and every member Moodle
//! could not read refused.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use zip::CompressionMethod;
use zip::result::ZipError;

use super::held::{self, Held};
use super::local::{self, Central, Span};
use super::plan::{RawEntry, plain_size, raw_plan};
use super::{name_of, open, u16_at, u32_at, zip_err};
use crate::archive::Error;
use crate::archive::{Listing, Loaded, MemberInfo, Wanted, check_duplicate};

pub(in crate::archive) fn load<E: From<Error>>(
    path: &Path,
    wanted: &Wanted,
    limits: &crate::archive::Limits,
    each: &mut dyn FnMut(&str, &mut dyn io::BufRead) -> Result<(), E>,
) -> Result<Loaded, E> {
    let mut archive = open(path)?;
    // Duplicate names, which the zip reader hides, are refused here (NUL bytes are found by `Loaded::hostile`).
    let plan = raw_plan(&archive, path)?;
    // Each local header is held to its central record (one read of its 30 bytes and name per member), and the
    // records must not share bytes.
    let file = File::open(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut infos = Vec::new();
    let mut docs = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut total: u64 = 0;
    let mut spans: Vec<Span> = Vec::with_capacity(archive.len());
    // The plain records of held members, read after the loop (the large ones side by side).
    let mut held: Vec<Held> = Vec::new();
    let mut members = || -> Result<(), E> {
        for i in 0..archive.len() {
            let name = name_of(&archive, path, i)?;
            check_duplicate(&mut seen, path, &name)?;
            // Metadata only (no decompressor) unless the member is one the rules read.
            let wanted_here = wanted.any(&name);
            let planned = plan
                .as_ref()
                .and_then(|p| p.entries.get(i).filter(|e| e.name == name));
            // A plain member the rules do not read: its central record says all that is needed but its local
            // header, read alone (not a seek and a buffer refill per member, thousands in a course with files).
            if let Some((e, size)) = planned
                .filter(|_| !wanted_here)
                .and_then(|e| Some((e, plain_size(&e.central)?)))
            {
                spans.push(local::check(&file, path, &name, &central_of(e))?);
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
            // A plain stored or deflated member the rules hold: its bytes are read straight from its record.
            if let Some((e, size)) = planned
                .filter(|_| {
                    wanted.held(&name) && !matches!(name.as_bytes().last(), Some(b'/' | b'\\'))
                })
                .and_then(|e| Some((e, plain_size(&e.central)?)))
                .filter(|(e, _)| matches!(u16_at(&e.central, 10), Some(0 | 8)))
            {
                total = total.saturating_add(size);
                limits.check_total(path, &name, total)?;
                let central = central_of(e);
                let span = local::check(&file, path, &name, &central)?;
                limits.check_xml(path, &name, size)?;
                held.push(Held {
                    name: name.clone(),
                    method: central.method,
                    data: span.data_end - central.sizes.0,
                    csize: central.sizes.0,
                    size,
                    crc: u32_at(&e.central, 16).unwrap_or(0),
                });
                spans.push(span);
                infos.push(MemberInfo {
                    path: name,
                    kind: 'f',
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
            spans.push(match planned {
                Some(e) => local::check(&file, path, &name, &central_of(e))?,
                None => local::check(
                    &file,
                    path,
                    &name,
                    &Central {
                        name: f.name_raw(),
                        method: method_id(f.compression()),
                        sizes: (f.compressed_size(), size),
                        start: f.header_start(),
                    },
                )?,
            });
            if !is_dir && wanted.streamed(&name) {
                crate::archive::stream(&name, &mut f, each)?;
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
        Ok(())
    };
    let looped = members();
    let threads = if std::env::var_os("MBZ_SEQ").is_some() {
        1
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    };
    // A held member fails before anything the loop met after it, as when members were read in the loop.
    match (looped, held::read_all(&file, path, &held, threads)) {
        (_, Err(e)) => return Err(e.into()),
        (Err(e), Ok(_)) => return Err(e),
        (Ok(()), Ok(read)) => docs.extend(read),
    }
    local::apart(path, &mut spans)?;
    Ok(Loaded {
        docs,
        list: Listing::Zip(infos),
    })
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
    use std::io::{Cursor, Read, Write};

    use zip::write::SimpleFileOptions;
    use zip::{ZipArchive, ZipWriter};

    use super::*;
    use crate::archive::Limits;

    /// XML-like text of `n` bytes.
    fn text(n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 64);
        let mut i = 0u64;
        while out.len() < n {
            out.extend_from_slice(
                format!("<role_assignment id=\"{i}\"><userid>{}</userid>\n", i * 3).as_bytes(),
            );
            i += 1;
        }
        out.truncate(n);
        out
    }

    fn members() -> Vec<(&'static str, Vec<u8>, CompressionMethod)> {
        vec![
            ("moodle_backup.xml", text(2000), CompressionMethod::Deflated),
            (
                "files/aa/aaaa",
                vec![9u8; 70_000],
                CompressionMethod::Stored,
            ),
            (
                "course/enrolments.xml",
                text(2 << 20),
                CompressionMethod::Deflated,
            ),
            ("roles.xml", text(500), CompressionMethod::Stored),
            (
                "course/roles.xml",
                text(3 << 20),
                CompressionMethod::Deflated,
            ),
            ("groups.xml", Vec::new(), CompressionMethod::Deflated),
        ]
    }

    const WANTED: &[&str] = &[
        "moodle_backup.xml",
        "course/enrolments.xml",
        "roles.xml",
        "course/roles.xml",
        "groups.xml",
    ];

    /// The wanted members as the zip crate's reader reads them.
    fn by_crate(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
        let mut z = ZipArchive::new(Cursor::new(bytes)).unwrap();
        WANTED
            .iter()
            .map(|n| {
                let mut buf = Vec::new();
                z.by_name(n).unwrap().read_to_end(&mut buf).unwrap();
                ((*n).to_owned(), buf)
            })
            .collect()
    }

    fn loaded(path: &Path) -> Result<Loaded, Error> {
        load::<Error>(
            path,
            &Wanted {
                held: WANTED,
                streamed: &[],
            },
            &Limits::default(),
            &mut |_, _| Ok(()),
        )
    }

    /// Wanted members read straight from their records are what the zip crate reads, with sizes in the local
    /// headers or in data descriptors after the data (a zip written to a stream).
    #[test]
    fn held_members_read_straight_are_the_zip_readers() {
        let dir = tempfile::tempdir().unwrap();
        let seekable = {
            let mut z = ZipWriter::new(Cursor::new(Vec::new()));
            for (name, data, method) in members() {
                z.start_file(
                    name,
                    SimpleFileOptions::default().compression_method(method),
                )
                .unwrap();
                z.write_all(&data).unwrap();
            }
            z.finish().unwrap().into_inner()
        };
        let streamed = {
            let mut z = ZipWriter::new_stream(Vec::new());
            for (name, data, method) in members() {
                z.start_file(
                    name,
                    SimpleFileOptions::default().compression_method(method),
                )
                .unwrap();
                z.write_all(&data).unwrap();
            }
            z.finish().unwrap().into_inner()
        };
        for (label, bytes) in [("seekable", seekable), ("streamed", streamed)] {
            let path = dir.path().join(format!("{label}.mbz"));
            std::fs::write(&path, &bytes).unwrap();
            let got = loaded(&path).unwrap();
            assert_eq!(got.docs, by_crate(&bytes), "{label}");
        }
    }

    /// A held member whose bytes no longer match its CRC-32 is refused, naming it.
    #[test]
    fn a_damaged_held_member_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut z = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data, method) in members() {
            z.start_file(
                name,
                SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
            z.write_all(&data).unwrap();
        }
        let mut bytes = z.finish().unwrap().into_inner();
        // roles.xml is stored: flip a byte of its text.
        let at = bytes
            .windows(9)
            .position(|w| w == b"roles.xml")
            .map(|i| i + 9 + 40)
            .unwrap();
        bytes[at] ^= 0x20;
        let path = dir.path().join("crc.mbz");
        std::fs::write(&path, &bytes).unwrap();
        let err = loaded(&path).unwrap_err().to_string();
        assert!(
            err.contains("member `roles.xml`") && err.contains("CRC-32"),
            "{err}"
        );
    }
}
