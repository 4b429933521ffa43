//! The live index of fuzzy-flagged entries: reads within one edit of their plate.
//!
//! A symmetric deletion neighbourhood: each flagged plate is listed under itself
//! and under each text made by deleting one of its characters. Two texts within
//! one edit always share such a variant: a substitution at position `i` deletes
//! to the same text at `i` on both sides, and an insertion or deletion makes the
//! shorter text a one-character deletion of the longer. A read probes its own at
//! most 13 variants; the candidates are then verified exactly. The flagged set is
//! small (thousands), so the table stays in cache.

use hashbrown::HashMap;

use crate::key::{MAX_LEN, POW37, pack};

/// The distinct packed variants of a text: itself and its one-character deletions.
///
/// Packs each deletion from the packed prefix before it and the packed suffix
/// after it, `pack(t[..i]) · 37^(n-1-i) + pack(t[i+1..])`, in `O(n)` in all.
#[inline]
fn variants(text: &[u8], out: &mut [u64; MAX_LEN + 1]) -> usize {
    let n = text.len();
    let mut suffix = [0u64; MAX_LEN + 1];
    for i in (0..n).rev() {
        suffix[i] = pack(&text[i..=i]) * POW37[n - 1 - i] + suffix[i + 1];
    }
    out[0] = suffix[0];
    let mut count = 1;
    let mut prefix = 0u64;
    for i in 0..n {
        // Deleting any character of a run of equal characters gives the same text.
        if i == 0 || text[i] != text[i - 1] {
            out[count] = prefix * POW37[n - 1 - i] + suffix[i + 1];
            count += 1;
        }
        prefix = prefix * 37 + pack(&text[i..=i]);
    }
    count
}

/// Bits of the filter's smallest bucket number (1 MiB of counters).
const MIN_FILTER_BITS: u32 = 20;

/// Buckets per stored variant the filter keeps at least: with 16, about 6 % of buckets
/// are in use, so most reads still skip the table however many entries are flagged.
const BUCKETS_PER_VARIANT: usize = 16;

/// The filter bucket of a variant (Fibonacci hashing) in a filter of `2^bits` buckets.
#[inline]
fn bucket(variant: u64, bits: u32) -> usize {
    (variant.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
}

#[derive(Debug, Default)]
pub(crate) struct FuzzyIndex {
    /// Variant → slots of flagged entries having it.
    variants: HashMap<u64, Vec<u32>>,
    /// A counting filter over the variants (at least 1 MiB, allocated with the first
    /// entry, doubled as variants are added): a read whose variants all land in empty
    /// buckets skips the table, as almost every read does. A counter that reaches 255
    /// stays there.
    filter: Vec<u8>,
    /// log2 of the filter's length.
    filter_bits: u32,
    /// Variants stored, counted with multiplicity.
    stored: usize,
    entries: usize,
}

impl FuzzyIndex {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub(crate) fn add(&mut self, plate: &[u8], slot: u32) {
        let mut keys = [0; MAX_LEN + 1];
        let n = variants(plate, &mut keys);
        if self.filter.is_empty() {
            self.filter_bits = MIN_FILTER_BITS;
            self.filter = vec![0; 1 << MIN_FILTER_BITS];
        }
        for &k in &keys[..n] {
            self.variants.entry(k).or_default().push(slot);
            let counter = &mut self.filter[bucket(k, self.filter_bits)];
            *counter = counter.saturating_add(1);
        }
        self.stored += n;
        self.entries += 1;
        if self.stored * BUCKETS_PER_VARIANT > self.filter.len() {
            self.grow_filter();
        }
    }

    /// Doubles the filter and counts every stored variant again.
    fn grow_filter(&mut self) {
        while self.stored * BUCKETS_PER_VARIANT > (1 << self.filter_bits) {
            self.filter_bits += 1;
        }
        self.filter = vec![0; 1 << self.filter_bits];
        for (&k, slots) in &self.variants {
            let counter = &mut self.filter[bucket(k, self.filter_bits)];
            *counter = counter.saturating_add(u8::try_from(slots.len()).unwrap_or(u8::MAX));
        }
    }

    pub(crate) fn remove(&mut self, plate: &[u8], slot: u32) {
        let mut keys = [0; MAX_LEN + 1];
        let n = variants(plate, &mut keys);
        self.stored -= n;
        for &k in &keys[..n] {
            let counter = &mut self.filter[bucket(k, self.filter_bits)];
            if *counter < u8::MAX {
                *counter -= 1;
            }
            if let Some(list) = self.variants.get_mut(&k) {
                list.retain(|&s| s != slot);
                if list.is_empty() {
                    self.variants.remove(&k);
                }
            }
        }
        self.entries -= 1;
    }

    /// Calls `found(slot)` for every flagged entry that may be within one edit of
    /// `text` (all that are, some more than once, and some that are not).
    #[inline]
    pub(crate) fn candidates(&self, text: &[u8], mut found: impl FnMut(u32)) {
        if self.filter.is_empty() {
            return;
        }
        let mut keys = [0; MAX_LEN + 1];
        let n = variants(text, &mut keys);
        for k in &keys[..n] {
            if self.filter[bucket(*k, self.filter_bits)] == 0 {
                continue;
            }
            if let Some(list) = self.variants.get(k) {
                list.iter().for_each(|&s| found(s));
            }
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.variants.allocation_size()
            + self.filter.capacity()
            + self.variants.values().map(|l| l.capacity() * 4).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::plain_levenshtein;
    use proptest::prelude::*;

    #[test]
    fn the_filter_grows_with_the_entries_and_still_finds_them() {
        let mut index = FuzzyIndex::default();
        let suffixes = ["ABC", "XYZ", "KLM", "QRS", "TUV", "DEF", "GHJ", "NPR", "WXY", "CDE"];
        let plate = |i: u32| format!("B{:03}{}", i % 1000, suffixes[(i / 1000) as usize % 10]);
        // About 8 variants each: 80,000 variants need more than the first 2^20 buckets.
        for i in 0..10_000 {
            index.add(plate(i).as_bytes(), i);
        }
        assert!(index.filter.len() >= index.stored * BUCKETS_PER_VARIANT, "{} buckets", index.filter.len());
        assert!(index.filter_bits > MIN_FILTER_BITS);
        for i in (0..10_000).step_by(97) {
            let mut found = Vec::new();
            // One substitution away from the stored plate.
            let mut read = plate(i).into_bytes();
            read[1] = if read[1] == b'9' { b'8' } else { b'9' };
            index.candidates(&read, |s| found.push(s));
            assert!(found.contains(&i), "{} not found", plate(i));
        }
        // An unrelated read mostly skips the table.
        let in_use = index.filter.iter().filter(|&&c| c > 0).count();
        assert!(in_use * 8 < index.filter.len(), "{in_use} of {} buckets in use", index.filter.len());
    }

    #[test]
    fn variants_are_the_distinct_deletions() {
        let mut out = [0; MAX_LEN + 1];
        let n = variants(b"AAB", &mut out);
        let mut got = out[..n].to_vec();
        got.sort_unstable();
        let mut expected = vec![pack(b"AAB"), pack(b"AB"), pack(b"AA")];
        expected.sort_unstable();
        assert_eq!(got, expected);
        let n = variants(b"Z", &mut out);
        assert_eq!(&out[..n], &[pack(b"Z"), 0]);
    }

    proptest! {
        #[test]
        fn finds_every_plate_within_one_edit(
            plates in prop::collection::vec("[AB0]{1,6}", 1..30),
            read in "[AB0]{1,7}",
        ) {
            let mut index = FuzzyIndex::default();
            for (slot, p) in plates.iter().enumerate() {
                index.add(p.as_bytes(), slot as u32);
            }
            let mut found = Vec::new();
            index.candidates(read.as_bytes(), |s| found.push(s));
            for (slot, p) in plates.iter().enumerate() {
                if plain_levenshtein(p.as_bytes(), read.as_bytes()) <= 1 {
                    prop_assert!(found.contains(&(slot as u32)), "{p} not found for {read}");
                }
            }
            for (slot, p) in plates.iter().enumerate() {
                index.remove(p.as_bytes(), slot as u32);
            }
            prop_assert!(index.variants.is_empty());
            prop_assert_eq!(index.stored, 0);
            prop_assert!(index.filter.iter().all(|&c| c == 0));
            prop_assert!(index.is_empty());
        }
    }
}
