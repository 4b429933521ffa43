//! Deconfliction: whether two cases work on the same material or the same suspect, from what
//! each holds that is its own — files not already known to the hash sets (new material), the
//! serial numbers of the cameras that took its pictures, and its unknown pictures' PDQ hashes
//! (the same series, edited) — so that both case owners are told whom to call. Only counts
//! cross between the cases: neither learns which of the other's files matched.
//!
//! Files known to the hash sets are left out: widely shared known material is in many cases
//! and says nothing about two of them working on the same thing.

use std::collections::HashSet;

use crate::mih::{MAX_IGNORED_QUALITY, MihError, MihIndex, Scratch};
use crate::pdq::Hash256;

/// What a case brings to deconfliction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprints {
    /// SHA-1 of its files that no hash set knows.
    pub files: HashSet<[u8; 20]>,
    /// The camera serial numbers its pictures' metadata names.
    pub devices: HashSet<String>,
    /// Its unknown pictures: SHA-1 of the file, PDQ hash and quality.
    pub pictures: Vec<([u8; 20], Hash256, u8)>,
}

/// What two cases share: counts only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overlap {
    /// Files in both.
    pub files: u64,
    /// Camera serials in both.
    pub devices: u64,
    /// Pictures of the first case within the radius of one of the second's (the same picture
    /// edited, or the same series), other than the files both hold.
    pub pictures: u64,
}

impl Overlap {
    pub fn is_empty(&self) -> bool {
        *self == Overlap::default()
    }
}

/// What `mine` shares with `theirs`; pictures of quality 49 or less are not compared.
pub fn overlap(mine: &Fingerprints, theirs: &Fingerprints, radius: u32) -> Result<Overlap, MihError> {
    let shared: HashSet<&[u8; 20]> = mine.files.intersection(&theirs.files).collect();
    let devices = mine.devices.intersection(&theirs.devices).count() as u64;
    let theirs_pdq: Vec<Hash256> =
        theirs.pictures.iter().filter(|(_, _, q)| *q > MAX_IGNORED_QUALITY).map(|(_, h, _)| *h).collect();
    let mut pictures = 0;
    if !theirs_pdq.is_empty() {
        let index = MihIndex::build(&theirs_pdq, radius)?;
        let mut scratch = Scratch::default();
        for (sha1, h, q) in &mine.pictures {
            if *q > MAX_IGNORED_QUALITY && !shared.contains(sha1) {
                pictures += u64::from(!index.search(h, &mut scratch).is_empty());
            }
        }
    }
    Ok(Overlap { files: shared.len() as u64, devices, pictures })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_share_counts_of_files_devices_and_near_pictures() {
        let h = |w: u16| Hash256 { words: [w; 16] };
        let mut near = h(0x5a5a);
        near.words[0] ^= 0b111;
        let a = Fingerprints {
            files: [[1; 20], [2; 20], [4; 20]].into(),
            devices: ["SN1".to_string(), "SN2".to_string()].into(),
            pictures: vec![([1; 20], h(0x5a5a), 100), ([2; 20], h(0x0f0f), 100), ([4; 20], h(0x3c3c), 20)],
        };
        let b = Fingerprints {
            files: [[2; 20], [3; 20], [5; 20]].into(),
            devices: ["SN2".to_string()].into(),
            pictures: vec![([3; 20], near, 100), ([2; 20], h(0x0f0f), 100), ([5; 20], h(0x3c3c), 100)],
        };
        // File [2] is in both (and its picture is not counted again); picture [1] is 3 bits from
        // b's [3]; [4] is of too low a quality to be compared; SN2 is in both.
        assert_eq!(overlap(&a, &b, 31).unwrap(), Overlap { files: 1, devices: 1, pictures: 1 });
        assert_eq!(overlap(&b, &a, 31).unwrap(), Overlap { files: 1, devices: 1, pictures: 1 });
        assert!(overlap(&a, &Fingerprints::default(), 31).unwrap().is_empty());
    }
}
