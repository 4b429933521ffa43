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

use crate::key::{MAX_LEN, pack};

/// The distinct packed variants of a text: itself and its one-character deletions.
fn variants(text: &[u8], out: &mut [u64; MAX_LEN + 1]) -> usize {
    out[0] = pack(text);
    let mut n = 1;
    let mut buf = [0u8; MAX_LEN];
    for skip in 0..text.len() {
        // Deleting any character of a run of equal characters gives the same text.
        if skip > 0 && text[skip] == text[skip - 1] {
            continue;
        }
        let mut len = 0;
        for (i, &b) in text.iter().enumerate() {
            if i != skip {
                buf[len] = b;
                len += 1;
            }
        }
        out[n] = pack(&buf[..len]);
        n += 1;
    }
    n
}

#[derive(Debug, Default)]
pub(crate) struct FuzzyIndex {
    /// Variant → slots of flagged entries having it.
    variants: HashMap<u64, Vec<u32>>,
    entries: usize,
}

impl FuzzyIndex {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub(crate) fn add(&mut self, plate: &[u8], slot: u32) {
        let mut keys = [0; MAX_LEN + 1];
        let n = variants(plate, &mut keys);
        for &k in &keys[..n] {
            self.variants.entry(k).or_default().push(slot);
        }
        self.entries += 1;
    }

    pub(crate) fn remove(&mut self, plate: &[u8], slot: u32) {
        let mut keys = [0; MAX_LEN + 1];
        let n = variants(plate, &mut keys);
        for &k in &keys[..n] {
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
        let mut keys = [0; MAX_LEN + 1];
        let n = variants(text, &mut keys);
        for k in &keys[..n] {
            if let Some(list) = self.variants.get(k) {
                list.iter().for_each(|&s| found(s));
            }
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.variants.allocation_size() + self.variants.values().map(|l| l.capacity() * 4).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::plain_levenshtein;
    use proptest::prelude::*;

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
            prop_assert!(index.is_empty());
        }
    }
}
