//! What a read must show before its hits may be confirmed.

use limes_model::MatchKind;

use crate::Hit;

/// The rule that turns an exact hit into a *possible* one when the reader itself was
/// unsure of the text.
///
/// An exact match on a misread text is another vehicle: with a large hotlist, a
/// one-character OCR error lands on another listed plate often enough to matter (see
/// `docs/benchmarks.md`, matching quality). Readers report how sure they are of a text;
/// a confirmed alert, which an operator may act on without looking at the image, needs
/// that confidence to be at least [`MatchPolicy::confirm_min_confidence`]. A reader that
/// reports no confidence is taken at its word.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchPolicy {
    /// Reads whose text confidence is below this confirm nothing (0 disables the rule).
    pub confirm_min_confidence: f32,
}

impl MatchPolicy {
    /// Off by default: what a confidence means differs from one reader to another, and on
    /// simulated traffic (docs/benchmarks.md, the trade-off curve) every threshold that
    /// removes many false confirmed alerts also demotes reads that grammar repair had
    /// already read right. Deployments set it from their own readers' figures.
    pub const DEFAULT_CONFIRM_MIN_CONFIDENCE: f32 = 0.0;

    /// A policy that never demotes.
    pub const TRUST_EVERY_READ: Self = Self { confirm_min_confidence: 0.0 };

    /// Whether a read with this text confidence may confirm.
    pub fn confirms(&self, confidence: Option<f32>) -> bool {
        confidence.is_none_or(|c| c >= self.confirm_min_confidence)
    }

    /// Demotes `hits` of a read with `confidence` to possible when it may not confirm,
    /// keeping them ordered as [`HotlistIndex::match_read_into`](crate::HotlistIndex::match_read_into)
    /// orders them.
    pub fn apply(&self, confidence: Option<f32>, hits: &mut [Hit]) {
        if self.confirms(confidence) || !hits.iter().any(|h| h.kind == MatchKind::Confirmed) {
            return;
        }
        for h in hits.iter_mut() {
            h.kind = MatchKind::Possible;
        }
        hits.sort_by_key(|h| (h.kind, h.distance, h.entry_id));
    }
}

impl Default for MatchPolicy {
    fn default() -> Self {
        Self { confirm_min_confidence: Self::DEFAULT_CONFIRM_MIN_CONFIDENCE }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(entry_id: u64, kind: MatchKind, distance: u8) -> Hit {
        Hit { entry_id, kind, distance }
    }

    #[test]
    fn unsure_reads_confirm_nothing() {
        let policy = MatchPolicy { confirm_min_confidence: 0.8 };
        let hits =
            vec![hit(9, MatchKind::Confirmed, 0), hit(2, MatchKind::Possible, 1), hit(4, MatchKind::Possible, 0)];
        for (confidence, confirmed) in [(None, true), (Some(0.8), true), (Some(0.95), true), (Some(0.79), false)] {
            let mut h = hits.clone();
            policy.apply(confidence, &mut h);
            assert_eq!(h[0].kind == MatchKind::Confirmed, confirmed, "{confidence:?}");
            if !confirmed {
                let order: Vec<u64> = h.iter().map(|h| h.entry_id).collect();
                assert_eq!(order, vec![4, 9, 2], "possible hits by distance, then id");
            }
        }
        let mut h = hits.clone();
        MatchPolicy::TRUST_EVERY_READ.apply(Some(0.1), &mut h);
        assert_eq!(h, hits);
    }
}
