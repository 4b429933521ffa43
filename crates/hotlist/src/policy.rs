//! What a read must show before its hits may be confirmed.

use limes_model::{Demotion, MatchKind, VehicleCode, VehicleInfo};

use crate::{ConfidenceCalibration, Hit, HotlistIndex};

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
/// * What a confidence means differs from one vendor to another, so a read may also be
///   judged against its own camera's recent reads: with
///   [`MatchPolicy::confirm_min_camera_quantile`] at `q`, a read whose confidence lies
///   below the `q` quantile of its camera's ([`ConfidenceCalibration`]) confirms nothing.
///   The rank does not depend on the vendor's scale. A camera still warming up, or a
///   read without a confidence, is not judged by this rule.
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
    /// A read below this quantile of its camera's recent text confidences (among at most
    /// this share of them, the least sure) confirms nothing: 0 disables the rule; meant
    /// for 0.01 to 0.15.
    pub confirm_min_camera_quantile: f32,
    /// Whether a contradicting make or colour demotes a hit.
    pub check_vehicle: bool,
}

impl MatchPolicy {
    /// Off by default: what a confidence means differs from one reader to another, and on
    /// simulated traffic (docs/benchmarks.md, the trade-off curve) every threshold that
    /// removes many false confirmed alerts also demotes reads that grammar repair had
    /// already read right. Deployments set it from their own readers' figures; the camera
    /// quantile below does the same work without a number on a vendor's scale.
    pub const DEFAULT_CONFIRM_MIN_CONFIDENCE: f32 = 0.0;

    /// On by default, at the lowest 5 % of each camera's recent reads: on simulated
    /// traffic (docs/benchmarks.md, matching quality) it brings false confirmed alerts
    /// from 1.2 to 0.65 per 10,000 reads with the vehicle check, for two points of
    /// confirmed recall (0.865 to 0.845; the demoted hits still raise possible alerts),
    /// and gives the same figures whatever scale the vendors report confidences on.
    pub const DEFAULT_CONFIRM_MIN_CAMERA_QUANTILE: f32 = 0.05;

    /// A policy that never demotes.
    pub const TRUST_EVERY_READ: Self =
        Self { confirm_min_confidence: 0.0, confirm_min_camera_quantile: 0.0, check_vehicle: false };

    /// Whether a read with this text confidence may confirm.
    pub fn confirms(&self, confidence: Option<f32>) -> bool {
        confidence.is_none_or(|c| c >= self.confirm_min_confidence)
    }

    /// Whether a read with this text confidence may confirm, judged against `camera`, its
    /// camera's recent reads (`None`: the caller keeps none for it).
    pub fn confirms_for_camera(&self, confidence: Option<f32>, camera: Option<&ConfidenceCalibration>) -> bool {
        match (confidence, camera) {
            (Some(c), Some(camera)) if self.confirm_min_camera_quantile > 0.0 => {
                !camera.is_low(c, self.confirm_min_camera_quantile)
            }
            _ => true,
        }
    }

    /// Demotes the confirmed `hits` of a read with text `confidence` and `vehicle` to
    /// possible where a rule says so, recording why, and keeps them ordered as
    /// [`HotlistIndex::match_read_into`] orders them. `camera` holds the recent
    /// confidences of the read's camera; `entries` is the index the hits came from.
    ///
    /// The read is judged against what `camera` holds: the caller counts the read in
    /// ([`ConfidenceCalibration::observe`]) after this call, so a read never takes part
    /// in its own judgement and reads are judged in the order they are counted.
    pub fn apply(
        &self,
        confidence: Option<f32>,
        camera: Option<&ConfidenceCalibration>,
        vehicle: Option<&VehicleInfo>,
        entries: &HotlistIndex,
        hits: &mut [Hit],
    ) {
        if !hits.iter().any(|h| h.kind == MatchKind::Confirmed) {
            return;
        }
        let unsure = if !self.confirms(confidence) {
            Some(Demotion::LowConfidence)
        } else if !self.confirms_for_camera(confidence, camera) {
            Some(Demotion::LowConfidenceForCamera)
        } else {
            None
        };
        let seen = match vehicle {
            Some(v) if self.check_vehicle && unsure.is_none() => VehicleCode::of(v),
            _ => VehicleCode::default(),
        };
        let mut changed = false;
        for h in hits.iter_mut().filter(|h| h.kind == MatchKind::Confirmed) {
            let why = if unsure.is_some() {
                unsure
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
        Self {
            confirm_min_confidence: Self::DEFAULT_CONFIRM_MIN_CONFIDENCE,
            confirm_min_camera_quantile: Self::DEFAULT_CONFIRM_MIN_CAMERA_QUANTILE,
            check_vehicle: true,
        }
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
                exercise: false,
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
        let policy = MatchPolicy { confirm_min_confidence: 0.8, ..MatchPolicy::default() };
        let index = entries(&[(9, Some(vehicle("Dacia", "white"))), (2, None), (4, None)]);
        let hits =
            vec![hit(9, MatchKind::Confirmed, 0), hit(2, MatchKind::Possible, 1), hit(4, MatchKind::Possible, 0)];
        for (confidence, confirmed) in [(None, true), (Some(0.8), true), (Some(0.95), true), (Some(0.79), false)] {
            let mut h = hits.clone();
            policy.apply(confidence, None, None, &index, &mut h);
            assert_eq!(h[0].kind == MatchKind::Confirmed, confirmed, "{confidence:?}");
            if !confirmed {
                let order: Vec<u64> = h.iter().map(|h| h.entry_id).collect();
                assert_eq!(order, vec![4, 9, 2], "possible hits by distance, then id");
                assert_eq!(h[1].demoted, Some(Demotion::LowConfidence));
                assert_eq!(h[0].demoted, None, "hits that were possible anyway carry no reason");
            }
        }
        let mut h = hits.clone();
        MatchPolicy::TRUST_EVERY_READ.apply(Some(0.1), None, Some(&vehicle("BMW", "red")), &index, &mut h);
        assert_eq!(h, hits);
    }

    /// A camera that has reported `reads` confidences spread evenly over `low..high`.
    fn camera(low: f32, high: f32, reads: u32) -> ConfidenceCalibration {
        let mut c = ConfidenceCalibration::new();
        for i in 0..reads {
            c.observe(low + (high - low) * (i % 100) as f32 / 100.0);
        }
        c
    }

    #[test]
    fn reads_among_their_cameras_least_sure_confirm_nothing() {
        let policy = MatchPolicy { confirm_min_camera_quantile: 0.05, ..MatchPolicy::default() };
        let index = entries(&[(7, Some(vehicle("Dacia", "white"))), (3, None)]);
        let run = |policy: &MatchPolicy, confidence: Option<f32>, camera: Option<&ConfidenceCalibration>| {
            let mut h = vec![hit(7, MatchKind::Confirmed, 0), hit(3, MatchKind::Possible, 1)];
            policy.apply(confidence, camera, Some(&vehicle("Dacia", "red")), &index, &mut h);
            (h[0].entry_id, h[0].kind, h[0].demoted)
        };
        let demoted = (7, MatchKind::Possible, Some(Demotion::LowConfidenceForCamera));
        // Two vendors: one reports 0.80 to 0.99, the other 0.40 to 0.50 for reads as good.
        let (high, low) = (camera(0.80, 0.99, 2000), camera(0.40, 0.50, 2000));
        assert_eq!(run(&policy, Some(0.80), Some(&high)), demoted, "the lowest 1 % of that camera");
        assert_eq!(run(&policy, Some(0.40), Some(&low)), demoted);
        assert_eq!(run(&policy, Some(0.60), Some(&high)), demoted, "below anything it reported");
        // At the camera's usual confidence the vehicle check speaks: the entry says white.
        let colour = (7, MatchKind::Possible, Some(Demotion::ColourDiffers));
        assert_eq!(run(&policy, Some(0.95), Some(&high)), colour);
        assert_eq!(run(&policy, Some(0.45), Some(&low)), colour);
        let no_vehicle = |confidence, camera| {
            let mut h = vec![hit(7, MatchKind::Confirmed, 0)];
            policy.apply(confidence, camera, None, &index, &mut h);
            (h[0].kind, h[0].demoted)
        };
        let confirmed = (MatchKind::Confirmed, None);
        assert_eq!(no_vehicle(Some(0.45), Some(&low)), confirmed, "0.45 is the middle of this vendor's scale");
        assert_eq!(no_vehicle(Some(0.95), Some(&high)), confirmed);
        assert_eq!(no_vehicle(Some(0.10), None), confirmed, "no calibration kept for the camera");
        let warming_up = camera(0.8, 0.99, 999);
        assert_eq!(no_vehicle(Some(0.10), Some(&warming_up)), confirmed, "still warming up");
        assert_eq!(no_vehicle(None, Some(&high)), confirmed, "a read without a confidence is taken at its word");
        // The absolute threshold, where set, is checked first and named.
        let both = MatchPolicy { confirm_min_confidence: 0.5, ..policy };
        let mut h = vec![hit(7, MatchKind::Confirmed, 0)];
        both.apply(Some(0.45), Some(&low), None, &index, &mut h);
        assert_eq!(h[0].demoted, Some(Demotion::LowConfidence));
        let mut h = vec![hit(7, MatchKind::Confirmed, 0)];
        both.apply(Some(0.805), Some(&high), None, &index, &mut h);
        assert_eq!(h[0].demoted, Some(Demotion::LowConfidenceForCamera));
        // Off: the camera's calibration changes nothing.
        let off = MatchPolicy { confirm_min_camera_quantile: 0.0, check_vehicle: false, ..policy };
        let mut h = vec![hit(7, MatchKind::Confirmed, 0)];
        off.apply(Some(0.0), Some(&high), None, &index, &mut h);
        assert_eq!(h[0].kind, MatchKind::Confirmed);
    }

    #[test]
    fn a_plainly_different_vehicle_confirms_nothing() {
        let index = entries(&[(1, Some(vehicle("Dacia", "white"))), (2, Some(vehicle("VW", ""))), (3, None)]);
        let policy = MatchPolicy::default();
        let run = |seen: Option<VehicleInfo>, id: u64| {
            let mut h = vec![hit(id, MatchKind::Confirmed, 0)];
            policy.apply(Some(0.9), None, seen.as_ref(), &index, &mut h);
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
        off.apply(Some(0.9), None, Some(&vehicle("Ford", "red")), &index, &mut h);
        assert_eq!(h[0].kind, MatchKind::Confirmed);
    }
}
