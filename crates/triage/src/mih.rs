//! Multi-index hashing (Norouzi, Punjani and Fleet, "Fast search in Hamming space with
//! multi-index hashing", 2012) of PDQ hashes: every hash within a Hamming distance of a query,
//! exactly as comparing the query with every hash would find them, without comparing it with
//! every hash.
//!
//! The 256 bits are cut into `m` substrings, each the key of a table of its own. If two hashes
//! are within distance `R`, then in at least one substring they are within `⌊R / m⌋` (the
//! pigeonhole principle): a query probes, in each table, every key within that distance of its
//! own substring, and checks the hashes it finds there against the whole query. Substrings of
//! a bit more than `log₂ n` bits keep most buckets to no hash or one, so a query checks a few thousand
//! candidates among millions. Each table is a direct-address array of bucket offsets into one
//! array of ids (compressed sparse rows), so a probe is two reads.
//!
//! Written by hand: no crate indexes binary codes for exact Hamming-radius search (FAISS's
//! `IndexBinaryMultiHash` is the peer the benchmark compares with).

use crate::pdq::Hash256;

/// Hashes of this quality or below are not matched (the reference's advice: below 50 a hash
/// says little about the picture).
pub const MAX_IGNORED_QUALITY: u8 = 49;

/// PDQ's distance for a match.
pub const DEFAULT_RADIUS: u32 = 31;

/// The widest substring (a table of 2²⁴ buckets).
const MAX_BITS: u32 = 24;
/// The narrowest substring.
const MIN_BITS: u32 = 8;

/// The 256 bits as four words, bit `k` of the hash at bit `k % 64` of word `k / 64`.
type Bits = [u64; 4];

fn bits(h: &Hash256) -> Bits {
    let w = |i: usize| u64::from(h.words[i]);
    let mut out = [0u64; 4];
    for (i, o) in out.iter_mut().enumerate() {
        *o = w(4 * i) | w(4 * i + 1) << 16 | w(4 * i + 2) << 32 | w(4 * i + 3) << 48;
    }
    out
}

fn distance(a: &Bits, b: &Bits) -> u32 {
    (a[0] ^ b[0]).count_ones() + (a[1] ^ b[1]).count_ones() + (a[2] ^ b[2]).count_ones() + (a[3] ^ b[3]).count_ones()
}

/// `len` bits (at most 32) of `b` from bit `start`.
fn substring(b: &Bits, start: u32, len: u32) -> u32 {
    let (word, shift) = ((start / 64) as usize, start % 64);
    let mut v = b[word] >> shift;
    if shift + len > 64 {
        v |= b[word + 1] << (64 - shift);
    }
    (v & ((1u64 << len) - 1)) as u32
}

/// One substring's table: for key `k`, the ids `ids[offsets[k]..offsets[k + 1]]`.
#[derive(Debug)]
struct Table {
    start: u32,
    bits: u32,
    /// The distance probed around the query's key.
    probe: u32,
    offsets: Vec<u32>,
    ids: Vec<u32>,
}

/// An index of PDQ hashes for search within a Hamming radius. Ids are the hashes' positions in
/// the slice it was built from.
#[derive(Debug)]
pub struct MihIndex {
    hashes: Vec<Bits>,
    radius: u32,
    tables: Vec<Table>,
}

/// A match: the hash's id and its distance from the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    pub id: u32,
    pub distance: u32,
}

/// A searcher's own buffer (the keys it probes), reused from query to query; one per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    keys: Vec<u32>,
    ranges: Vec<(u32, u32)>,
    candidates: Vec<u32>,
    found: Vec<Found>,
}

/// Why an index could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MihError {
    #[error("{0} hashes: an index holds at most 4 294 967 295")]
    TooMany(usize),
    #[error("radius {0}: at most 128 bits")]
    Radius(u32),
}

impl MihIndex {
    /// An index of `hashes` for searches within `radius` bits, its substrings sized for their
    /// number.
    pub fn build(hashes: &[Hash256], radius: u32) -> Result<MihIndex, MihError> {
        // A bit more than log₂ n: most probed buckets hold no hash or one (each extra bit halves
        // the candidates a query checks, and doubles a table's offsets).
        let n = hashes.len().max(2) as f64;
        let bits = (n.log2().ceil() as u32 + 1).clamp(MIN_BITS, MAX_BITS);
        MihIndex::with_tables(hashes, radius, 256_u32.div_ceil(bits))
    }

    /// An index with `tables` substrings (the 256 bits shared out as evenly as they go, each at
    /// most 24 bits, so at least 11 tables).
    pub fn with_tables(hashes: &[Hash256], radius: u32, tables: u32) -> Result<MihIndex, MihError> {
        if u32::try_from(hashes.len()).is_err() {
            return Err(MihError::TooMany(hashes.len()));
        }
        if radius > 128 {
            return Err(MihError::Radius(radius));
        }
        let m = tables.clamp(256_u32.div_ceil(MAX_BITS), 256 / MIN_BITS);
        let codes: Vec<Bits> = hashes.iter().map(bits).collect();
        let mut start = 0;
        let mut built = Vec::with_capacity(m as usize);
        for t in 0..m {
            let len = 256 / m + u32::from(t < 256 % m);
            let mut offsets = vec![0u32; (1usize << len) + 1];
            for c in &codes {
                offsets[substring(c, start, len) as usize + 1] += 1;
            }
            for k in 1..offsets.len() {
                offsets[k] += offsets[k - 1];
            }
            let mut next = offsets.clone();
            let mut ids = vec![0u32; codes.len()];
            for (id, c) in codes.iter().enumerate() {
                let k = substring(c, start, len) as usize;
                ids[next[k] as usize] = id as u32;
                next[k] += 1;
            }
            built.push(Table { start, bits: len, probe: 0, offsets, ids });
            start += len;
        }
        // Probe distances r_i with Σ (r_i + 1) ≥ radius + 1: two hashes within the radius are then
        // within r_i in some substring (were each d_i > r_i, the d_i would sum past the radius).
        // ⌊radius / m⌋ everywhere, less one in as many of the widest tables as that leaves spare.
        let base = radius / m;
        let spare = if base == 0 { 0 } else { (m * (base + 1)).saturating_sub(radius + 1) };
        for (i, t) in built.iter_mut().enumerate() {
            t.probe = if (i as u32) < spare { base - 1 } else { base };
        }
        Ok(MihIndex { hashes: codes, radius, tables: built })
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    pub fn radius(&self) -> u32 {
        self.radius
    }

    /// The number of substring tables.
    pub fn tables(&self) -> usize {
        self.tables.len()
    }

    /// The memory the index holds, in bytes.
    pub fn memory(&self) -> usize {
        self.hashes.len() * 32 + self.tables.iter().map(|t| (t.offsets.len() + t.ids.len()) * 4).sum::<usize>()
    }

    /// Every hash within the radius of `query`, nearest first (ties by id).
    ///
    /// A hash found in several tables is checked again rather than remembered (remembering is
    /// one more read far from the last, for every candidate: slower, `docs/benchmarks.md`); the
    /// matches are deduplicated at the end.
    ///
    /// The search runs in stages, each a loop of reads that do not depend on each other — the
    /// bounds of every probed bucket, then the ids in them, then the candidates' hashes — so the
    /// processor has many reads in flight at once: almost every read misses the cache, and one
    /// read waiting on the one before (key, bucket, id, hash) was most of the time (1.5× the
    /// queries a second, `docs/benchmarks.md`).
    pub fn search(&self, query: &Hash256, scratch: &mut Scratch) -> Vec<Found> {
        let q = bits(query);
        let Scratch { keys, ranges, candidates, found } = scratch;
        candidates.clear();
        for t in &self.tables {
            keys.clear();
            near_keys(substring(&q, t.start, t.bits), t.bits, t.probe, keys);
            // Every probed bucket's bounds, then every bucket's ids: two loops of independent
            // reads rather than one chain of them.
            ranges.clear();
            ranges.extend(keys.iter().map(|&k| (t.offsets[k as usize], t.offsets[k as usize + 1])));
            for &(from, to) in ranges.iter() {
                for i in from..to {
                    candidates.push(t.ids[i as usize]);
                }
            }
        }
        // Written whether or not it matches, kept only if it does: no branch to mispredict.
        found.clear();
        found.resize(candidates.len(), Found { id: 0, distance: 0 });
        let mut n = 0;
        for &id in candidates.iter() {
            let d = distance(&q, &self.hashes[id as usize]);
            found[n] = Found { id, distance: d };
            n += usize::from(d <= self.radius);
        }
        let mut out = found[..n].to_vec();
        out.sort_unstable_by_key(|f| (f.distance, f.id));
        out.dedup();
        out
    }

    /// [`MihIndex::search`] by comparing the query with every hash: what the index must equal.
    pub fn brute_force(&self, query: &Hash256) -> Vec<Found> {
        let q = bits(query);
        let mut found: Vec<Found> = self
            .hashes
            .iter()
            .enumerate()
            .filter_map(|(id, h)| {
                let d = distance(&q, h);
                (d <= self.radius).then_some(Found { id: id as u32, distance: d })
            })
            .collect();
        found.sort_unstable_by_key(|f| (f.distance, f.id));
        found
    }
}

/// Every `bits`-bit key within `radius` bits of `key`, `key` first.
fn near_keys(key: u32, bits: u32, radius: u32, out: &mut Vec<u32>) {
    fn flip(key: u32, from: u32, bits: u32, left: u32, out: &mut Vec<u32>) {
        if left == 0 {
            return;
        }
        for b in from..bits {
            let k = key ^ (1 << b);
            out.push(k);
            flip(k, b + 1, bits, left - 1, out);
        }
    }
    out.push(key);
    flip(key, 0, bits, radius.min(bits), out);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn random(seed: &mut u64) -> Hash256 {
        let mut words = [0u16; 16];
        for w in &mut words {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *w = *seed as u16;
        }
        Hash256 { words }
    }

    /// `h` with `n` distinct bits flipped.
    fn flipped(h: &Hash256, n: usize, seed: &mut u64) -> Hash256 {
        let mut out = *h;
        let mut done = std::collections::HashSet::new();
        while done.len() < n {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let k = (*seed % 256) as usize;
            if done.insert(k) {
                out.words[k / 16] ^= 1 << (k % 16);
            }
        }
        out
    }

    #[test]
    fn substrings_cross_word_boundaries() {
        let b: Bits = [u64::MAX << 60, 0b1011, 0, 1 << 63];
        assert_eq!(substring(&b, 60, 8), 0b1011_1111);
        assert_eq!(substring(&b, 255, 1), 1);
        assert_eq!(substring(&b, 0, 24), 0);
        let h = Hash256 { words: [0x8001, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x8000] };
        assert_eq!(bits(&h), [0x8001, 0, 0, 1 << 63]);
    }

    #[test]
    fn near_keys_are_all_keys_within_the_radius_once() {
        let mut keys = Vec::new();
        near_keys(0b1010, 8, 2, &mut keys);
        assert_eq!(keys.len(), 1 + 8 + 28);
        let set: std::collections::HashSet<u32> = keys.iter().copied().collect();
        assert_eq!(set.len(), keys.len());
        assert!(keys.iter().all(|k| (k ^ 0b1010).count_ones() <= 2 && *k < 256));
        keys.clear();
        near_keys(5, 3, 9, &mut keys);
        assert_eq!(keys.len(), 8, "a radius over the key's width is every key");
    }

    #[test]
    fn the_index_finds_exactly_what_comparing_every_hash_finds() {
        let mut seed = 0x1234_5678_9abc_def1;
        let mut hashes: Vec<Hash256> = (0..20_000).map(|_| random(&mut seed)).collect();
        // Near copies of some: 0 to 40 bits apart, within the radius and just beyond it.
        let originals: Vec<Hash256> = hashes[..200].to_vec();
        for (i, h) in originals.iter().enumerate() {
            hashes.push(flipped(h, i % 41, &mut seed));
        }
        for radius in [0, 10, 31, 45] {
            let index = MihIndex::build(&hashes, radius).unwrap();
            let mut scratch = Scratch::default();
            let mut matched = 0;
            for q in originals.iter().chain(hashes[5000..5100].iter()) {
                let want = index.brute_force(q);
                assert_eq!(index.search(q, &mut scratch), want, "radius {radius}");
                matched += want.len();
            }
            assert!(matched >= 300, "radius {radius}: {matched} matches, the test must find some");
        }
        let index = MihIndex::build(&hashes, 31).unwrap();
        assert_eq!((index.tables(), index.len()), (16, 20_200), "16-bit substrings for 20 200 hashes");
        // A near copy 31 bits away is found, 32 bits away not.
        let base = hashes[7];
        let mut scratch = Scratch::default();
        let near = flipped(&base, 31, &mut seed);
        let far = flipped(&base, 32, &mut seed);
        assert!(index.search(&near, &mut scratch).iter().any(|f| f.id == 7 && f.distance == 31));
        assert!(!index.search(&far, &mut scratch).iter().any(|f| f.id == 7));
    }

    #[test]
    fn an_empty_index_and_bad_radii() {
        let index = MihIndex::build(&[], 31).unwrap();
        assert!(index.is_empty());
        assert_eq!(index.search(&Hash256::default(), &mut Scratch::default()), vec![]);
        assert_eq!(MihIndex::build(&[], 129).unwrap_err(), MihError::Radius(129));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_index_equals_brute_force(
            n in 1usize..3000, radius in 0u32..64, tables in 1u32..40, seed in any::<u64>()
        ) {
            let mut s = seed | 1;
            let mut hashes: Vec<Hash256> = (0..n).map(|_| random(&mut s)).collect();
            let extra: Vec<Hash256> = hashes.iter().take(50).map(|h| flipped(h, (s % 64) as usize, &mut s)).collect();
            hashes.extend(extra);
            let index = MihIndex::with_tables(&hashes, radius, tables).unwrap();
            let mut scratch = Scratch::default();
            for q in hashes.iter().step_by(37) {
                let q = flipped(q, (s % 20) as usize, &mut s);
                prop_assert_eq!(index.search(&q, &mut scratch), index.brute_force(&q));
            }
        }
    }
}
