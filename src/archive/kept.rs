//! The tar members as kept between the two passes: compact (a full backup has tens of thousands), and enough
//! to write the index and to check that the input did not change.

use super::tar;

/// The tar members as kept between the passes (tens of thousands in a full backup, so compact): every path in
/// one buffer, and per member what the index needs plus a fingerprint of the rest of its header, for the second
/// pass to check that the input did not change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KeptList {
    items: Vec<Kept>,
    paths: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Kept {
    pub(super) size: u64,
    pub(super) mtime: u64,
    /// Where the path is in [`KeptList::paths`] (the list holds at most 4 GiB of paths, see `push`).
    start: u32,
    len: u32,
    rest: u32,
    pub(super) kind: tar::Kind,
}

impl KeptList {
    /// Adds `m`; `false` when the paths would pass 4 GiB (no real backup comes near: millions of members).
    pub(super) fn push(&mut self, m: &tar::Member) -> bool {
        let (Ok(start), Ok(len)) = (u32::try_from(self.paths.len()), u32::try_from(m.path.len()))
        else {
            return false;
        };
        if start.checked_add(len).is_none() {
            return false;
        }
        self.items.push(Kept {
            size: m.size,
            mtime: m.mtime,
            start,
            len,
            rest: fingerprint(m),
            kind: m.kind,
        });
        self.paths.extend_from_slice(&m.path);
        true
    }

    pub(super) fn path(&self, k: &Kept) -> &[u8] {
        let start = k.start as usize;
        &self.paths[start..start + k.len as usize]
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.items.shrink_to_fit();
        self.paths.shrink_to_fit();
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&[u8], &Kept)> {
        self.items.iter().map(|k| (self.path(k), k))
    }

    /// Whether member `i` is `m` (path, kind, size, mtime and the rest of its header).
    pub(super) fn matches(&self, i: usize, m: &tar::Member) -> bool {
        self.items.get(i).is_some_and(|k| {
            self.path(k) == &m.path[..]
                && k.kind == m.kind
                && k.size == m.size
                && k.mtime == m.mtime
                && k.rest == fingerprint(m)
        })
    }
}

/// FNV-1a over the header fields a [`Kept`] does not hold, each length-prefixed (folded to 32 bits).
fn fingerprint(m: &tar::Member) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&m.mode.to_le_bytes());
    eat(&m.uid.to_le_bytes());
    eat(&m.gid.to_le_bytes());
    eat(&m.linkname);
    eat(&m.uname);
    eat(&m.gname);
    (h ^ (h >> 32)) as u32
}
