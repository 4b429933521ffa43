//! What triage says of each file, from what the hash sets know of it: known (with category and
//! source), known-good (NSRL), near-match (the PDQ distance), or unknown; and the series that
//! near-duplicate pictures of one case fall into.
//!
//! Exact hashes are looked up by the store (an index answers them without loading a set of
//! millions into memory); PDQ hashes are searched here, in a [`PdqCatalog`] over every known
//! PDQ hash. [`decide`] then weighs what was found.

use crate::known::{Category, Class};
use crate::mih::{MAX_IGNORED_QUALITY, MihError, MihIndex, Scratch};
use crate::pdq::Hash256;

/// A known hash found for a file: which row of which source, and the source's category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The known hash's row in the hash-set store.
    pub known: u64,
    pub source: String,
    pub category: Category,
}

/// What a file is, for triage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Known,
    NearMatch,
    Unknown,
    KnownGood,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Known => "known",
            Status::NearMatch => "near-match",
            Status::Unknown => "unknown",
            Status::KnownGood => "known-good",
        }
    }

    pub fn from_name(name: &str) -> Option<Status> {
        [Status::Known, Status::NearMatch, Status::Unknown, Status::KnownGood].into_iter().find(|s| s.name() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    /// The hit the verdict rests on: the most serious exact one, or the nearest PDQ one.
    pub hit: Option<Hit>,
    /// The PDQ distance of a near-match.
    pub distance: Option<u32>,
}

/// The verdict from a file's exact hits and its PDQ hits (`(hit, distance)`).
///
/// An exact hit wins over any near one. Among exact hits the most serious class wins (one
/// source's abuse grading over another's "known software"); only when every exact hit is NSRL
/// is the file known-good. Among near hits the nearest wins, then the most serious.
pub fn decide(exact: &[Hit], near: &[(Hit, u32)]) -> Verdict {
    if let Some(hit) = exact.iter().min_by(|a, b| rank(a).cmp(&rank(b))) {
        let status = if hit.category.class() == Class::KnownGood { Status::KnownGood } else { Status::Known };
        return Verdict { status, hit: Some(hit.clone()), distance: None };
    }
    if let Some((hit, d)) = near.iter().min_by(|(a, da), (b, db)| (da, rank(a)).cmp(&(db, rank(b)))) {
        return Verdict { status: Status::NearMatch, hit: Some(hit.clone()), distance: Some(*d) };
    }
    Verdict { status: Status::Unknown, hit: None, distance: None }
}

fn rank(h: &Hit) -> (Class, &str, u64) {
    (h.category.class(), h.source.as_str(), h.known)
}

/// Every known PDQ hash, searchable within a radius.
#[derive(Debug)]
pub struct PdqCatalog {
    index: MihIndex,
    /// The store row of each hash in the index, by position.
    rows: Vec<u64>,
}

impl PdqCatalog {
    pub fn new(known: &[(u64, Hash256)], radius: u32) -> Result<PdqCatalog, MihError> {
        let hashes: Vec<Hash256> = known.iter().map(|(_, h)| *h).collect();
        Ok(PdqCatalog { index: MihIndex::build(&hashes, radius)?, rows: known.iter().map(|(r, _)| *r).collect() })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The known rows within the radius of any of a file's hashes (one for a picture, one per
    /// second for a video), each with its nearest distance. Hashes of quality 49 or less (flat,
    /// featureless pictures, which match each other without meaning it) are not searched.
    pub fn near(&self, hashes: &[(Hash256, u8)], scratch: &mut Scratch) -> Vec<(u64, u32)> {
        let mut best: Vec<(u64, u32)> = Vec::new();
        for (hash, quality) in hashes {
            if *quality <= MAX_IGNORED_QUALITY {
                continue;
            }
            for found in self.index.search(hash, scratch) {
                let row = self.rows[found.id as usize];
                match best.iter_mut().find(|(r, _)| *r == row) {
                    Some((_, d)) => *d = (*d).min(found.distance),
                    None => best.push((row, found.distance)),
                }
            }
        }
        best.sort_unstable();
        best
    }
}

/// Near-duplicate pictures of one case, grouped into series: two pictures are in one series when
/// a chain of pictures each within `radius` of the next joins them. Returns, for each hash, the
/// position of the first hash of its series; hashes of quality 49 or less stand alone.
pub fn series(hashes: &[(Hash256, u8)], radius: u32) -> Result<Vec<usize>, MihError> {
    let mut parent: Vec<usize> = (0..hashes.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let usable: Vec<usize> = (0..hashes.len()).filter(|&i| hashes[i].1 > MAX_IGNORED_QUALITY).collect();
    let only: Vec<Hash256> = usable.iter().map(|&i| hashes[i].0).collect();
    let index = MihIndex::build(&only, radius)?;
    let mut scratch = Scratch::default();
    for (k, &i) in usable.iter().enumerate() {
        for found in index.search(&only[k], &mut scratch) {
            let j = usable[found.id as usize];
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    Ok((0..hashes.len()).map(|i| root(&mut parent, i)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::known::Scheme;

    fn hit(known: u64, source: &str, category: &str) -> Hit {
        Hit { known, source: source.into(), category: Category::parse(category).unwrap() }
    }

    #[test]
    fn the_most_serious_exact_hit_wins_and_nsrl_alone_is_known_good() {
        let v = decide(&[hit(1, "nsrl", "nsrl"), hit(2, "vic", "vics-us:1")], &[(hit(3, "vic", "vics-us:2"), 0)]);
        assert_eq!((v.status, v.hit.unwrap().known, v.distance), (Status::Known, 2, None));
        let v = decide(&[hit(1, "nsrl", "nsrl")], &[]);
        assert_eq!(v.status, Status::KnownGood);
        let v = decide(&[hit(4, "list", "none")], &[]);
        assert_eq!((v.status, v.hit.unwrap().category.scheme), (Status::Known, Scheme::Uncategorised));
        let v = decide(
            &[],
            &[(hit(5, "vic", "vics-us:0"), 3), (hit(6, "vic", "vics-us:1"), 3), (hit(7, "vic", "vics-us:1"), 9)],
        );
        assert_eq!((v.status, v.hit.unwrap().known, v.distance), (Status::NearMatch, 6, Some(3)));
        assert_eq!(decide(&[], &[]).status, Status::Unknown);
    }

    fn flip(h: Hash256, bits: &[usize]) -> Hash256 {
        let mut h = h;
        for &b in bits {
            h.words[b / 16] ^= 1 << (b % 16);
        }
        h
    }

    #[test]
    fn near_finds_each_row_once_at_its_nearest_and_skips_flat_pictures() {
        let a = Hash256 { words: [0x5a5a; 16] };
        let b = Hash256 { words: [0xa5a5; 16] };
        let catalog = PdqCatalog::new(&[(10, a), (20, b)], 31).unwrap();
        let mut scratch = Scratch::default();
        let near = catalog.near(&[(flip(a, &[1, 2, 3]), 100), (flip(a, &[7]), 100), (b, 49)], &mut scratch);
        assert_eq!(near, vec![(10, 1)]);
        assert!(catalog.near(&[(flip(a, &(0..40).collect::<Vec<_>>()), 100)], &mut scratch).is_empty());
    }

    #[test]
    fn series_join_chains_of_near_duplicates() {
        let a = Hash256 { words: [0x5a5a; 16] };
        let chain1 = flip(a, &(0..20).collect::<Vec<_>>());
        let chain2 = flip(a, &(0..40).collect::<Vec<_>>()); // 40 from a, 20 from chain1
        let other = Hash256 { words: [0xa5a5; 16] };
        let got = series(&[(chain2, 90), (other, 90), (a, 90), (chain1, 90), (a, 10)], 31).unwrap();
        assert_eq!(got, vec![0, 1, 0, 0, 4]);
    }
}
