//! What a read must show before its hits may be confirmed.

use limes_model::{Demotion, MatchKind, VehicleCode, VehicleInfo};

use crate::{Hit, HotlistIndex};

/// The rules that turn an exact hit into a *possible* one: the reader was unsure of the
/// text, or the vehicle it saw is plainly not the one the entry describes.
///
/// An exact match on a misread text is another vehicle: with a large hotlist, a
/// one-character OCR error lands on another listed plate often enough to matter (see
/// `docs/benchmarks.md`, matching quality). Two signs tell such a read from a true one.
///
/// * Readers report how sure they are of a text; a confirmed alert, which an operator
///   may act on without looking at the image, needs that confidence to be at least
///   [`MatchPolicy::confirm_min_confidence`]. A reader that reports no confidence is
///   taken at its word.
/// * Readers with a make and colour classifier report the vehicle, and hotlists often
///   describe it. With [`MatchPolicy::check_vehicle`], a read whose make differs from
///   the entry's, or whose colour contradicts it (red against white; never white
///   against silver, see [`limes_model::Colour::contradicts`]), gives only a possible
///   hit. What either side does not say, or says in words outside the vocabulary,
///   takes part in no comparison.
///
/// A demoted hit still raises an alert, marked possible with the reason
/// ([`Hit::demoted`]): nothing is dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchPolicy {
    /// Reads whose text confidence is below this confirm nothing (0 disables the rule).
    pub confirm_min_confidence: f32,
    /// Whether a contradicting make or colour demotes a hit.
    pub check_vehicle: bool,
}

impl MatchPolicy {
    /// Off by default: what a confidence means differs from one reader to another, and on
    /// simulated traffic (docs/benchmarks.md, the trade-off curve) every threshold that
    /// removes many false confirmed alerts also demotes reads that grammar repair had
    /// already read right. Deployments set it from their own readers' figures.
    pub const DEFAULT_CONFIRM_MIN_CONFIDENCE: f32 = 0.0;

    /// A policy that never demotes.
    pub const TRUST_EVERY_READ: Self = Self { confirm_min_confidence: 0.0, check_vehicle: false };

    /// Whether a read with this text confidence may confirm.
    pub fn confirms(&self, confidence: Option<f32>) -> bool {
        confidence.is_none_or(|c| c >= self.confirm_min_confidence)
    }

    /// Demotes the confirmed `hits` of a read with text `confidence` and `vehicle` to
    /// possible where a rule says so, recording why, and keeps them ordered as
    /// [`HotlistIndex::match_read_into`] orders them. `entries` is the index the hits
    /// came from.
    pub fn apply(
        &self,
        confidence: Option<f32>,
        vehicle: Option<&VehicleInfo>,
        entries: &HotlistIndex,
        hits: &mut [Hit],
    ) {
        if !hits.iter().any(|h| h.kind == MatchKind::Confirmed) {
            return;
        }
        let unsure = !self.confirms(confidence);
        let seen = match vehicle {
            Some(v) if self.check_vehicle && !unsure => VehicleCode::of(v),
            _ => VehicleCode::default(),
        };
        let mut changed = false;
        for h in hits.iter_mut().filter(|h| h.kind == MatchKind::Confirmed) {
            let why = if unsure {
                Some(Demotion::LowConfidence)
            } else if seen == VehicleCode::default() {
                None
            } else {
                entries.vehicle_code(h.entry_id).and_then(|e| seen.contradiction(e)).map(Demotion::from)
            };
            if let Some(why) = why {
                h.kind = MatchKind::Possible;
                h.demoted = Some(why);
                changed = true;
            }
        }
        if changed {
            hits.sort_by_key(|h| (h.kind, h.distance, h.entry_id));
        }
    }
}

impl Default for MatchPolicy {
    fn default() -> Self {
        Self { confirm_min_confidence: Self::DEFAULT_CONFIRM_MIN_CONFIDENCE, check_vehicle: true }
    }
}

#[cfg(test)]
mod tests {
    use limes_model::{AgencyId, HotlistEntry, HotlistReason};
    use limes_plate::PlateText;

    use super::*;

    fn hit(entry_id: u64, kind: MatchKind, distance: u8) -> Hit {
        Hit { entry_id, kind, distance, demoted: None }
    }

    fn vehicle(make: &str, colour: &str) -> VehicleInfo {
        let word = |w: &str| (!w.is_empty()).then(|| w.to_owned());
        VehicleInfo { make: word(make), colour: word(colour), class: None }
    }

    fn entries(vehicles: &[(u64, Option<VehicleInfo>)]) -> HotlistIndex {
        vehicles
            .iter()
            .map(|(id, v)| HotlistEntry {
                id: *id,
                plate: PlateText::new(&format!("B{id:03}XYZ")).unwrap(),
                country: None,
                reason: HotlistReason::Stolen,
                priority: 2,
                agency: AgencyId::new("ro-test").unwrap(),
                expires: None,
                fuzzy: false,
                note: None,
                vehicle: v.clone(),
            })
            .collect()
    }

    #[test]
    fn unsure_reads_confirm_nothing() {
        let policy = MatchPolicy { confirm_min_confidence: 0.8, check_vehicle: true };
        let index = entries(&[(9, Some(vehicle("Dacia", "white"))), (2, None), (4, None)]);
        let hits =
            vec![hit(9, MatchKind::Confirmed, 0), hit(2, MatchKind::Possible, 1), hit(4, MatchKind::Possible, 0)];
        for (confidence, confirmed) in [(None, true), (Some(0.8), true), (Some(0.95), true), (Some(0.79), false)] {
            let mut h = hits.clone();
            policy.apply(confidence, None, &index, &mut h);
            assert_eq!(h[0].kind == MatchKind::Confirmed, confirmed, "{confidence:?}");
            if !confirmed {
                let order: Vec<u64> = h.iter().map(|h| h.entry_id).collect();
                assert_eq!(order, vec![4, 9, 2], "possible hits by distance, then id");
                assert_eq!(h[1].demoted, Some(Demotion::LowConfidence));
                assert_eq!(h[0].demoted, None, "hits that were possible anyway carry no reason");
            }
        }
        let mut h = hits.clone();
        MatchPolicy::TRUST_EVERY_READ.apply(Some(0.1), Some(&vehicle("BMW", "red")), &index, &mut h);
        assert_eq!(h, hits);
    }

    #[test]
    fn a_plainly_different_vehicle_confirms_nothing() {
        let index = entries(&[(1, Some(vehicle("Dacia", "white"))), (2, Some(vehicle("VW", ""))), (3, None)]);
        let policy = MatchPolicy::default();
        let run = |seen: Option<VehicleInfo>, id: u64| {
            let mut h = vec![hit(id, MatchKind::Confirmed, 0)];
            policy.apply(Some(0.9), seen.as_ref(), &index, &mut h);
            (h[0].kind, h[0].demoted)
        };
        let confirmed = (MatchKind::Confirmed, None);
        assert_eq!(run(Some(vehicle("Dacia", "silver")), 1), confirmed, "neighbouring colours agree");
        assert_eq!(run(Some(vehicle("dacia", "")), 1), confirmed);
        assert_eq!(run(None, 1), confirmed);
        assert_eq!(run(Some(vehicle("Trabant", "")), 1), confirmed, "an unknown make is no evidence");
        assert_eq!(run(Some(vehicle("Ford", "white")), 1), (MatchKind::Possible, Some(Demotion::MakeDiffers)));
        assert_eq!(run(Some(vehicle("Dacia", "red")), 1), (MatchKind::Possible, Some(Demotion::ColourDiffers)));
        assert_eq!(run(Some(vehicle("Volkswagen", "red")), 2), confirmed, "the entry names no colour");
        assert_eq!(run(Some(vehicle("Skoda", "red")), 2), (MatchKind::Possible, Some(Demotion::MakeDiffers)));
        assert_eq!(run(Some(vehicle("Skoda", "red")), 3), confirmed, "the entry describes no vehicle");
        let off = MatchPolicy { check_vehicle: false, ..policy };
        let mut h = vec![hit(1, MatchKind::Confirmed, 0)];
        off.apply(Some(0.9), Some(&vehicle("Ford", "red")), &index, &mut h);
        assert_eq!(h[0].kind, MatchKind::Confirmed);
    }
}
