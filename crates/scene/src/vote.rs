//! One plate per vehicle: the reads of a track's frames voted into one text.
//!
//! A plate read from one frame can be wrong in a character (motion blur, a glint); the same
//! vehicle is read in several frames. The vote: for each length, each position's character by
//! the summed confidence of the reads that have it; the length with the most summed confidence
//! wins. The winner's confidence is the share of its length's weight that agreed with each
//! character, averaged — a text every frame read alike scores the mean confidence of its reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::PlateCandidate;

/// A track's plate, voted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VotedPlate {
    pub text: String,
    /// `0.0..=1.0`.
    pub confidence: f32,
    /// How many reads voted.
    pub reads: usize,
    /// How many of them read exactly this text.
    pub agreeing: usize,
}

/// Votes `reads` (normalised texts, upper case, no separators) into one, if there are any.
pub fn vote(reads: &[PlateCandidate]) -> Option<VotedPlate> {
    let usable: Vec<&PlateCandidate> =
        reads.iter().filter(|r| !r.text.is_empty() && r.confidence.is_finite() && r.confidence > 0.0).collect();
    if usable.is_empty() {
        return None;
    }
    let mut by_length: BTreeMap<usize, Vec<&PlateCandidate>> = BTreeMap::new();
    for r in &usable {
        by_length.entry(r.text.chars().count()).or_default().push(r);
    }
    let weight = |rs: &[&PlateCandidate]| rs.iter().map(|r| r.confidence.min(1.0)).sum::<f32>();
    let (_, group) = by_length.iter().max_by(|a, b| weight(a.1).total_cmp(&weight(b.1)).then(b.0.cmp(a.0)))?;
    let total = weight(group);
    let texts: Vec<Vec<char>> = group.iter().map(|r| r.text.chars().collect()).collect();
    let len = texts[0].len();
    let mut text = String::with_capacity(len);
    let mut agreement = 0.0f32;
    for i in 0..len {
        let mut tally: BTreeMap<char, f32> = BTreeMap::new();
        for (chars, r) in texts.iter().zip(group) {
            *tally.entry(chars[i]).or_default() += r.confidence.min(1.0);
        }
        let (c, w) = tally.into_iter().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
        text.push(c);
        agreement += w / total;
    }
    let mean_confidence = total / group.len() as f32;
    let agreeing = usable.iter().filter(|r| r.text == text).count();
    Some(VotedPlate {
        confidence: (agreement / len.max(1) as f32) * mean_confidence,
        text,
        reads: usable.len(),
        agreeing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, confidence: f32) -> PlateCandidate {
        PlateCandidate { text: text.into(), country: None, confidence, bbox: None }
    }

    #[test]
    fn a_character_misread_in_one_frame_is_outvoted() {
        let v = vote(&[read("B123ABC", 0.9), read("B123A8C", 0.7), read("B123ABC", 0.8)]).unwrap();
        assert_eq!((v.text.as_str(), v.reads, v.agreeing), ("B123ABC", 3, 2));
        assert!(v.confidence > 0.6 && v.confidence < 0.85, "{v:?}");
    }

    #[test]
    fn a_dropped_character_loses_to_the_length_most_frames_read() {
        let v = vote(&[read("CJ07ABC", 0.8), read("CJ7ABC", 0.9), read("CJ07ABC", 0.7)]).unwrap();
        assert_eq!(v.text, "CJ07ABC");
        // Position by position: each position's best character even if no read has them all.
        let v = vote(&[read("AB1234", 0.9), read("A81234", 0.5), read("AB1Z34", 0.5), read("AB1234", 0.3)]).unwrap();
        assert_eq!((v.text.as_str(), v.agreeing), ("AB1234", 2));
    }

    #[test]
    fn unanimous_reads_keep_their_confidence_and_nothing_gives_nothing() {
        let v = vote(&[read("PO12345", 0.8), read("PO12345", 0.8)]).unwrap();
        assert!((v.confidence - 0.8).abs() < 1e-5, "{v:?}");
        assert_eq!(vote(&[]), None);
        assert_eq!(vote(&[read("", 0.9), read("X1", f32::NAN), read("X2", 0.0)]), None);
    }
}
