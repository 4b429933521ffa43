//! The edit-distance index: Pass-Join partitioning (Li, Deng, Wang and Feng,
//! "Pass-Join: A Partition-based Method for Similarity Joins", VLDB 2011).
//!
//! For each bound `τ` in {1, 2}, every indexed text `s` of length `l ≥ 3` is cut
//! into `τ + 1` disjoint segments of near-equal length (the last ones one longer
//! when `l` does not divide). Each segment is a posting: (τ, l, segment number,
//! segment text) → the packed texts that have it. Texts of one or two characters
//! cannot be cut into non-empty segments; they are few (at most 36 + 36²) and are
//! scanned.
//!
//! # Why a query cannot miss a text within `τ` edits
//!
//! Fix an optimal alignment of `s` with the query `q` (`ed(s, q) ≤ τ`) and charge
//! each edit to one segment of `s`: a substitution or deletion to the segment of
//! the character it touches, an insertion after character `t` to the segment of
//! `t` (before the first character: to segment 1). Let `e_j` be the charges of
//! segment `j`; `Σ e_j ≤ τ` while there are `τ + 1` segments.
//!
//! Let `c_j = e_j - 1`, `P_0 = 0` and `P_i = c_1 + … + c_i`; then
//! `P_{τ+1} ≤ -1 < P_0`. Take the smallest `i ≥ 1` with `P_i ≤ P_{τ+1}`. Then
//! `P_{i-1} > P_i`, so `c_i = -1`, `e_i = 0`: segment `i` is untouched and occurs
//! in `q` verbatim, at some position `x`. Also `P_{i-1} = P_i + 1 ≤ 0`, so the
//! segments before `i` carry at most `i - 1` edits, and `P_{τ+1} - P_i ≥ 0`, so
//! the segments after `i` carry at most `τ + 1 - i`. The shift `x - p_i` (with
//! `p_i` the segment's start in `s`) is the balance of insertions and deletions
//! before it, so `|x - p_i| ≤ i - 1`; likewise the shift from the end is bounded
//! by the edits after it: `|x - p_i - Δ| ≤ τ + 1 - i` with `Δ = |q| - l`.
//!
//! The query therefore probes, for every length `l` within `τ` of `|q|`, every
//! segment `i` and every start `x` in those two windows (Pass-Join's
//! "multi-match-aware" substring selection), the posting of `q[x..x+len_i]`. The
//! segment `i` above is among the probes, so `s` is among the candidates, and
//! each candidate is verified by an exact bounded Levenshtein distance. The
//! `segment_index_has_full_recall` property test checks this against a scan.
//!
//! Postings hold packed texts, not entry slots, so verification reads postings
//! sequentially and only the verified texts are looked up in the entry table.
//! Removal is lazy: a text whose last entry left is added to a stale set and still
//! found (its lookup then yields no entry); once the stale set reaches an eighth
//! of the indexed texts, the postings are compacted in parallel.

use std::collections::BTreeSet;

use hashbrown::{HashMap, HashSet};
use rayon::prelude::*;

use crate::distance::EditMatcher;
use crate::key::{MAX_LEN, POW37, bytes_reversed, len_of, pack, unpack};
use crate::wildcard::Wildcard;

/// The edit bounds the index serves.
const TAUS: [usize; 2] = [1, 2];

/// The shortest text that is cut into segments; shorter ones are scanned.
const MIN_CUT: usize = 3;

/// From how many candidates or texts a query verifies them in parallel.
const PARALLEL_FROM: usize = 1 << 15;

/// The segments of a text of length `len` for bound `tau`: (number from 1, start, length).
fn segments(len: usize, tau: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let parts = tau + 1;
    let short = len / parts;
    // The last `len % parts` segments are one character longer.
    let longer_from = parts - len % parts;
    (0..parts).scan(0, move |start, j| {
        let seg_len = if j >= longer_from { short + 1 } else { short };
        let seg = (j + 1, *start, seg_len);
        *start += seg_len;
        Some(seg)
    })
}

/// The posting key of a segment: its packed text (at most 6 characters, under
/// 2^32) tagged with the text length, the segment number and the bound.
///
/// The last segment of τ = 1 is packed backwards, so that the postings of texts
/// that end alike are neighbours in key order, as those that begin alike are by
/// their first segment: a wildcard pattern's literal prefix or suffix then selects
/// a contiguous range of postings.
#[inline]
fn posting(tau: usize, len: usize, number: usize, segment: &[u8]) -> u64 {
    let packed =
        if tau == 1 && number == 2 { segment.iter().rev().fold(0, |k, &b| k * 37 + pack(&[b])) } else { pack(segment) };
    packed | tag(tau, len, number)
}

/// The bits of a posting key above its segment text.
#[inline]
fn tag(tau: usize, len: usize, number: usize) -> u64 {
    (len as u64) << 40 | (number as u64) << 48 | (tau as u64) << 56
}

/// The edit-distance index of a set of distinct packed texts.
#[derive(Debug, Default)]
pub(crate) struct SegmentIndex {
    postings: HashMap<u64, Vec<u64>>,
    /// The keys of the τ = 1 postings, in order, for wildcard scans.
    ordered: BTreeSet<u64>,
    /// Texts of fewer than [`MIN_CUT`] characters.
    short: Vec<u64>,
    /// Texts still in the postings whose last entry has left.
    stale: HashSet<u64>,
    /// Texts in the postings, stale ones included.
    indexed: usize,
}

impl SegmentIndex {
    /// Indexes distinct texts, in parallel.
    pub(crate) fn build(mut keys: Vec<u64>) -> Self {
        keys.par_sort_unstable();
        keys.dedup();
        let short: Vec<u64> = keys.iter().copied().filter(|&k| len_of(k) < MIN_CUT).collect();
        let mut postings = HashMap::new();
        for tau in TAUS {
            let mut pairs: Vec<(u64, u64)> = keys
                .par_iter()
                .filter(|&&k| len_of(k) >= MIN_CUT)
                .flat_map_iter(|&k| {
                    let text = unpack(k);
                    let len = text.as_bytes().len();
                    segments(len, tau).map(move |(number, start, seg_len)| {
                        (posting(tau, len, number, &text.as_bytes()[start..start + seg_len]), k)
                    })
                })
                .collect();
            pairs.par_sort_unstable();
            postings.reserve(pairs.len() / 4);
            for group in pairs.chunk_by(|a, b| a.0 == b.0) {
                postings.insert(group[0].0, group.iter().map(|p| p.1).collect());
            }
        }
        postings.shrink_to_fit();
        let mut ordered: Vec<u64> = postings.keys().copied().filter(|&p| p >> 56 == 1).collect();
        ordered.par_sort_unstable();
        let ordered = ordered.into_iter().collect();
        Self { postings, ordered, short, stale: HashSet::new(), indexed: keys.len() }
    }

    /// Adds a text that no live entry had.
    pub(crate) fn add(&mut self, key: u64) {
        if self.stale.remove(&key) {
            return;
        }
        self.indexed += 1;
        let text = unpack(key);
        let bytes = text.as_bytes();
        if bytes.len() < MIN_CUT {
            self.short.push(key);
            return;
        }
        for tau in TAUS {
            for (number, start, seg_len) in segments(bytes.len(), tau) {
                let p = posting(tau, bytes.len(), number, &bytes[start..start + seg_len]);
                self.postings
                    .entry(p)
                    .or_insert_with(|| {
                        if tau == 1 {
                            self.ordered.insert(p);
                        }
                        Vec::new()
                    })
                    .push(key);
            }
        }
    }

    /// Retires a text whose last live entry left.
    pub(crate) fn retire(&mut self, key: u64) {
        self.stale.insert(key);
        if self.stale.len() >= (self.indexed / 8).max(4096) {
            self.compact();
        }
    }

    /// Drops the stale texts from the postings.
    fn compact(&mut self) {
        let stale = &self.stale;
        let mut lists: Vec<&mut Vec<u64>> = self.postings.values_mut().collect();
        lists.par_iter_mut().for_each(|list| list.retain(|k| !stale.contains(k)));
        let ordered = &mut self.ordered;
        self.postings.retain(|p, list| {
            if list.is_empty() {
                ordered.remove(p);
            }
            !list.is_empty()
        });
        self.short.retain(|k| !stale.contains(k));
        self.indexed -= self.stale.len();
        self.stale.clear();
    }

    /// The indexed texts within `tau` (1 or 2) edits of `query`, with their
    /// distances: each once or more, stale ones too, in no order.
    pub(crate) fn within(&self, query: &[u8], tau: usize) -> Vec<(u64, u8)> {
        debug_assert!(TAUS.contains(&tau));
        let m = query.len() as isize;
        let t = tau as isize;
        let mut probes = Vec::new();
        let lengths = (m - t).max(MIN_CUT as isize)..=(m + t).min(MAX_LEN as isize);
        for len in lengths {
            let delta = m - len;
            for (number, start, seg_len) in segments(len as usize, tau) {
                let (i, p) = (number as isize, start as isize);
                let lo = (p - (i - 1)).max(p + delta - (t + 1 - i)).max(0);
                let hi = (p + (i - 1)).min(p + delta + (t + 1 - i)).min(m - seg_len as isize);
                for x in lo..=hi {
                    let x = x as usize;
                    probes.push(posting(tau, len as usize, number, &query[x..x + seg_len]));
                }
            }
        }
        // Equal substrings at different starts are the same probe.
        probes.sort_unstable();
        probes.dedup();
        let lists: Vec<&[u64]> = std::iter::once(self.short.as_slice())
            .chain(probes.iter().filter_map(|p| self.postings.get(p).map(Vec::as_slice)))
            .collect();

        // Texts are verified from their last character to their first, as they
        // unpack, so the pattern is reversed too: ed(a, b) = ed(rev a, rev b).
        let reversed: Vec<u8> = query.iter().rev().copied().collect();
        let matcher = EditMatcher::new(&reversed, tau as u8);
        let verify = |key: &u64| matcher.within_iter(len_of(*key), bytes_reversed(*key)).map(|d| (*key, d));
        let candidates: usize = lists.iter().map(|l| l.len()).sum();
        if candidates < PARALLEL_FROM {
            lists.iter().flat_map(|l| l.iter().filter_map(verify)).collect()
        } else {
            lists.par_iter().flat_map_iter(|l| l.iter().filter_map(verify)).collect()
        }
    }

    /// The indexed texts that match `pattern`, stale ones too, in no order.
    ///
    /// A filtered scan: every text of [`MIN_CUT`] or more characters is in exactly
    /// one τ = 1 posting of first segments and in exactly one of (backwards packed)
    /// last segments. When the pattern begins with a longer literal run than it
    /// ends with, the first segments are scanned, otherwise the last: the literal
    /// run selects a contiguous range of postings for each length, the rest of the
    /// pattern's anchored characters skip postings within it, and the texts of
    /// the postings left are matched, in parallel when they are many. A pattern
    /// with literals only in its middle (`*12*`) scans every text.
    pub(crate) fn matching(&self, pattern: &Wildcard) -> Vec<u64> {
        let (head, tail) = (pattern.anchored(false), pattern.anchored(true));
        let run = |a: &[Option<u8>]| a.iter().take_while(|c| c.is_some()).count();
        let (number, anchored) = if run(&head) >= run(&tail) { (1, head) } else { (2, tail) };
        let literal: Vec<u8> = anchored.iter().map_while(|c| *c).collect();
        let lengths = pattern.min_len().max(MIN_CUT)..=pattern.max_len().min(MAX_LEN);
        let mut lists: Vec<&[u64]> = Vec::new();
        for len in lengths {
            let seg_len = segments(len, 1).nth(number - 1).map_or(0, |(_, _, l)| l);
            // The segment texts of this length that begin with the literal run.
            let fixed = literal.len().min(seg_len);
            let free = seg_len - fixed;
            let base = pack(&literal[..fixed]) * POW37[free];
            let (lo, hi) = (base + (POW37[free] - 1) / 36, base + POW37[free] - 1);
            let tag = tag(1, len, number);
            for &p in self.ordered.range(lo | tag..=hi | tag) {
                let segment = unpack(p & 0xffff_ffff);
                let fits = segment.as_bytes().iter().zip(&anchored).all(|(b, c)| c.is_none_or(|c| c == *b));
                if fits && let Some(list) = self.postings.get(&p) {
                    lists.push(list);
                }
            }
        }
        let count: usize = lists.iter().map(|l| l.len()).sum();
        let matches = |key: &u64| pattern.matches(unpack(*key).as_bytes());
        let mut found: Vec<u64> = if count < PARALLEL_FROM {
            lists.iter().flat_map(|l| l.iter().copied().filter(matches)).collect()
        } else {
            lists.par_iter().flat_map_iter(|l| l.iter().copied().filter(matches)).collect()
        };
        found.extend(self.short.iter().copied().filter(matches));
        found
    }

    /// Bytes allocated, walking every posting list.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.postings.allocation_size()
            // A B-tree holds about 11 keys in nodes of about 200 bytes.
            + self.ordered.len() * 20
            + self.postings.values().map(|l| l.capacity() * 8).sum::<usize>()
            + self.short.capacity() * 8
            + self.stale.allocation_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::plain_levenshtein;
    use proptest::prelude::*;

    /// Every distinct text within `tau` edits of `query`, packed, with its distance, sorted.
    fn brute_force_within<T: AsRef<str>>(texts: &[T], query: &str, tau: usize) -> Vec<(u64, u8)> {
        let mut expected: Vec<(u64, u8)> = texts
            .iter()
            .map(AsRef::as_ref)
            .filter_map(|t: &str| {
                let d = plain_levenshtein(t.as_bytes(), query.as_bytes());
                (d <= tau).then_some((pack(t.as_bytes()), d as u8))
            })
            .collect();
        expected.sort_unstable();
        expected.dedup();
        expected
    }

    #[test]
    fn segments_cover_the_text() {
        for len in MIN_CUT..=MAX_LEN {
            for tau in TAUS {
                let segs: Vec<_> = segments(len, tau).collect();
                assert_eq!(segs.len(), tau + 1);
                let mut next = 0;
                for &(_, start, seg_len) in &segs {
                    assert_eq!(start, next);
                    assert!(seg_len >= 1);
                    next += seg_len;
                }
                assert_eq!(next, len);
            }
        }
        assert_eq!(segments(7, 2).collect::<Vec<_>>(), vec![(1, 0, 2), (2, 2, 2), (3, 4, 3)]);
    }

    fn keys(texts: &[String]) -> Vec<u64> {
        texts.iter().map(|t| pack(t.as_bytes())).collect()
    }

    proptest! {
        #[test]
        fn segment_index_has_full_recall(
            texts in prop::collection::vec("[AB01]{1,12}", 1..60),
            query in "[AB01]{1,12}",
            tau in 1usize..=2,
        ) {
            let index = SegmentIndex::build(keys(&texts));
            let mut found = index.within(query.as_bytes(), tau);
            found.sort_unstable();
            found.dedup();
            prop_assert_eq!(found, brute_force_within(&texts, &query, tau));
        }

        #[test]
        fn incremental_equals_bulk(texts in prop::collection::vec("[AB01]{1,8}", 1..40), query in "[AB01]{1,8}") {
            let bulk = SegmentIndex::build(keys(&texts));
            let mut grown = SegmentIndex::default();
            let mut distinct = keys(&texts);
            distinct.sort_unstable();
            distinct.dedup();
            for &k in &distinct {
                grown.add(k);
            }
            for tau in TAUS {
                let (mut a, mut b) = (bulk.within(query.as_bytes(), tau), grown.within(query.as_bytes(), tau));
                a.sort_unstable();
                a.dedup();
                b.sort_unstable();
                b.dedup();
                prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn large_postings_are_verified_in_parallel_and_exactly() {
        let texts: Vec<String> = (0..40_000).map(|i| format!("AB{i:05}")).collect();
        let index = SegmentIndex::build(keys(&texts));
        assert!(index.postings.values().any(|l| l.len() >= PARALLEL_FROM));
        for (query, tau) in [("AB12345", 2), ("AB1234", 1), ("A8O1234", 2)] {
            let mut found = index.within(query.as_bytes(), tau);
            found.sort_unstable();
            found.dedup();
            assert_eq!(found, brute_force_within(&texts, query, tau), "{query} within {tau}");
        }
        let pattern = Wildcard::parse("AB*9?").unwrap();
        let mut found = index.matching(&pattern);
        found.sort_unstable();
        let mut expected: Vec<u64> =
            texts.iter().filter(|t| pattern.matches(t.as_bytes())).map(|t| pack(t.as_bytes())).collect();
        expected.sort_unstable();
        assert_eq!(found, expected);
    }

    /// The texts the postings hold: the τ = 1 first segments and the short list.
    fn listed(index: &SegmentIndex) -> Vec<u64> {
        let mut all: Vec<u64> = index
            .postings
            .iter()
            .filter(|&(&p, _)| p >> 56 == 1 && (p >> 48) & 0xff == 1)
            .flat_map(|(_, list)| list.iter().copied())
            .chain(index.short.iter().copied())
            .collect();
        all.sort_unstable();
        all
    }

    #[test]
    fn compaction_drops_stale_texts() {
        let texts: Vec<String> = (0..10_000).map(|i| format!("A{i:05}")).collect();
        let mut index = SegmentIndex::build(keys(&texts));
        for t in &texts[..5000] {
            index.retire(pack(t.as_bytes()));
        }
        // Compaction ran once, at 4096 stale texts.
        assert_eq!(index.indexed, 10_000 - 4096);
        assert_eq!(index.stale.len(), 5000 - 4096);
        let all = listed(&index);
        assert_eq!(all.len(), index.indexed);
        let mut expected = keys(&texts[4096..]);
        expected.sort_unstable();
        assert_eq!(all, expected);
        // A retired text that comes back is not listed twice.
        index.add(pack(b"A04500"));
        index.add(pack(b"A00001"));
        assert_eq!(index.stale.len(), 5000 - 4096 - 1);
        assert_eq!(listed(&index).len(), 10_000 - 4096 + 1);
    }
}
