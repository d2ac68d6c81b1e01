//! A zip's central directory read as bytes: where each record is, for the byte copier.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use zip::ZipArchive;

use super::{open, read_at, u16_at, u32_at};
use crate::archive::{Error, Result};
use crate::fast_hash::IdSet;

/// One entry, located in the input file.
pub(super) struct RawEntry {
    pub(super) name: String,
    /// Local header offset.
    pub(super) start: u64,
    /// End of its local record (next local header, or the central directory).
    pub(super) end: u64,
    /// Its central directory record, as stored.
    pub(super) central: Vec<u8>,
}

/// Where everything is, when the archive is a plain (non-ZIP64) zip whose records can be copied as bytes.
pub(in crate::archive) struct RawPlan {
    pub(super) entries: Vec<RawEntry>,
    pub(super) comment: Vec<u8>,
}

/// The uncompressed size in a central directory record, when the member is one the raw copier passes through
/// without a look at its local header: not encrypted (flag bit 0), stored, deflated or bzip2 (what Moodle's
/// libzip reads), and no ZIP64 size. `None` sends the member through the zip reader's checks.
pub(super) fn plain_size(central: &[u8]) -> Option<u64> {
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
        _ => None,
    }
}

/// Reads the end-of-central-directory record and the central directory itself (no per-entry seeks). `None` for
/// ZIP64 or anything unusual, which the zip crate's writer then handles.
pub(super) fn raw_plan(
    archive: &ZipArchive<BufReader<File>>,
    path: &Path,
) -> Result<Option<RawPlan>> {
    #[cfg(test)]
    PLANS.with(|n| n.set(n.get() + 1));
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    let tail_len = len.min(22 + 0xffff);
    let tail = read_span(&file, len - tail_len, tail_len).map_err(read_err)?;
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
    let cd = read_span(&file, cd_start, cd_size).map_err(read_err)?;
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
        let stored = &record[46..46 + usize::from(nl)];
        // Checked as UTF-8 first (what Moodle writes), a whole name at a time.
        let name = match std::str::from_utf8(stored) {
            Ok(name) => name.to_owned(),
            Err(_) => String::from_utf8_lossy(stored).into_owned(),
        };
        records.push((name, u64::from(off), record.to_vec()));
        at += rec_len;
    }
    // The zip reader keeps one entry per name: duplicates must be found in the directory itself (the first in
    // name order is named). (A NUL byte in a name is one of the hostile members the commands refuse and
    // `inspect` lists.)
    let mut seen: IdSet<&str> = IdSet::with_capacity_and_hasher(records.len(), Default::default());
    let duplicate = records
        .iter()
        .map(|r| r.0.as_str())
        .filter(|name| !seen.insert(*name))
        .min();
    if let Some(member) = duplicate {
        return Err(Error::Duplicate {
            path: path.to_path_buf(),
            member: member.to_owned(),
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

/// The `len` bytes of `file` at `offset` ([`read_at`]), into a buffer of that size.
fn read_span(file: &File, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; usize::try_from(len).map_err(std::io::Error::other)?];
    read_at(file, offset, &mut buf)?;
    Ok(buf)
}

impl RawPlan {
    /// The entries' indices split into those `later` rejects and those it takes, each in directory order.
    pub(super) fn split(&self, later: impl Fn(&str) -> bool) -> (Vec<usize>, Vec<usize>) {
        (0..self.entries.len()).partition(|&i| !later(&self.entries[i].name))
    }
}

#[cfg(test)]
thread_local! {
    /// How many plans [`raw_plan`] has made on this thread.
    static PLANS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many plans [`raw_plan`] has made on this thread (tests count those a pass makes).
#[cfg(test)]
pub(in crate::archive) fn plans_made() -> usize {
    PLANS.with(std::cell::Cell::get)
}
