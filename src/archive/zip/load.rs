//! The first pass over a zip: the member list, the wanted members held or streamed, and every member Moodle
//! could not read refused.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use zip::CompressionMethod;
use zip::result::ZipError;

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
            let buf = read_held(&mut f, size).map_err(|e| Error::Zip {
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
    local::apart(path, &mut spans)?;
    Ok(Loaded {
        docs,
        list: Listing::Zip(infos),
    })
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
