//! A fast, deterministic hasher for the conversion's maps and sets keyed by ids (user ids, role and user pairs,
//! positions, small lists of them), which are looked up once or more per user: std's default SipHash cost more
//! than the rest of a lookup. Only lookups and insertions use these maps, never their iteration order, so the
//! output cannot depend on the hash.
//!
//! The ids come from the backup itself; a crafted backup could make keys collide and slow a conversion down, never
//! change its result (a conversion reads the admin's own course).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate hashing of machine words (as rustc's FxHash): a few instructions per word.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct IdHasher(u64);

/// An odd constant with well-spread bits (rustc-hash's).
const K: u64 = 0xf135_7aea_2e62_a9c5;

impl IdHasher {
    fn add(&mut self, word: u64) {
        self.0 = self.0.wrapping_add(word).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
        // The length, so that trailing zero bytes still count.
        self.add(bytes.len() as u64);
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // The table takes its bucket from the low bits and its tag from the top ones: the product's best-mixed
        // bits are the high ones, rotated into both.
        self.0.rotate_left(26)
    }
}

/// Builds [`IdHasher`]s.
pub(super) type IdBuild = BuildHasherDefault<IdHasher>;

/// A map hashed with [`IdHasher`].
pub(super) type IdMap<K, V> = HashMap<K, V, IdBuild>;

/// A set hashed with [`IdHasher`].
pub(super) type IdSet<T> = HashSet<T, IdBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_sets_behave_as_std_ones() {
        let mut m: IdMap<(i64, i64), usize> = IdMap::default();
        let mut s: IdSet<Vec<i64>> = IdSet::default();
        for i in 0..10_000i64 {
            assert!(m.insert((i % 7, i), i as usize).is_none());
            s.insert(vec![i % 100, -i % 3]);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get(&(3, 10)), Some(&10));
        assert_eq!(m.get(&(4, 10)), None);
        assert_eq!(s.len(), 300);
        assert!(s.contains([5i64, -2].as_slice()));
        let mut h = IdHasher::default();
        h.write(b"ab\0");
        let mut g = IdHasher::default();
        g.write(b"ab");
        assert_ne!(h.finish(), g.finish());
    }
}
