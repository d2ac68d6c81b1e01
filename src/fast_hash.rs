//! A fast hasher for the maps and sets keyed by ids (user ids, role and user pairs, positions, small lists of
//! them), which the conversion looks up once or more per user, and by member names, which reading an archive
//! checks once or twice per member (tens of thousands in a course with files): std's default SipHash cost more
//! than the rest of a lookup. Only lookups and insertions use these maps, never their iteration order, so the
//! output cannot depend on the hash.
//!
//! The ids and names come from the backup, so the hash is keyed with per-process random keys (from std's
//! `RandomState`) and mixes each word with a folded 64×64→128-bit multiply, the fallback of the `ahash` crate:
//! keys crafted to collide would have to know the hash's keys, and a crafted backup cannot turn the lookups
//! quadratic.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// The keyed hasher: one folded multiply per machine word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdHasher {
    state: u64,
    key: u64,
}

impl IdHasher {
    fn add(&mut self, word: u64) {
        let product = u128::from(self.state ^ word) * u128::from(self.key);
        self.state = (product as u64) ^ ((product >> 64) as u64);
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
        // The table takes its bucket from the low bits and its tag from the top ones: one more round spreads the
        // last word over both.
        let product = u128::from(self.state) * u128::from(self.key.rotate_left(32) | 1);
        (product as u64) ^ ((product >> 64) as u64)
    }
}

/// Builds [`IdHasher`]s with the process's keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdBuild {
    seed: u64,
    key: u64,
}

impl Default for IdBuild {
    fn default() -> Self {
        static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
        let &(seed, key) = KEYS.get_or_init(|| {
            // std's RandomState is seeded from the system's random source.
            let random = |salt: u64| std::collections::hash_map::RandomState::new().hash_one(salt);
            // An odd multiplier keeps every bit of the state.
            (random(1), random(2) | 1)
        });
        IdBuild { seed, key }
    }
}

impl BuildHasher for IdBuild {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            state: self.seed,
            key: self.key,
        }
    }
}

/// A map hashed with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, IdBuild>;

/// A set hashed with [`IdHasher`].
pub(crate) type IdSet<T> = HashSet<T, IdBuild>;

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
        let build = IdBuild::default();
        let mut h = build.build_hasher();
        h.write(b"ab\0");
        let mut g = build.build_hasher();
        g.write(b"ab");
        assert_ne!(h.finish(), g.finish());
    }
}
