//! Tracks: the same person or vehicle from frame to frame.
//!
//! Each frame's detections are matched to the live tracks greedily, best match first: by the
//! overlap of the detection with where the track is expected (its last box moved by its
//! velocity), or, for a small or fast object whose boxes no longer overlap at a low frame rate,
//! by the distance of the centres within the object's own size. Persons match persons and
//! vehicles vehicles (a car and a truck are one vehicle the detector names differently from
//! frame to frame; the track's class is the one named most). A detection nobody matched starts
//! a track; a track missed for [`TrackerConfig::max_gap`] ends.
//!
//! By hand: SORT-style trackers need a Kalman filter and the Hungarian assignment; with a few
//! dozen objects per frame at 2–10 frames per second, greedy matching on predicted boxes gives
//! the same pairs and keeps the crate free of numeric dependencies.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::geometry::{BBox, Point};
use crate::{Detection, ObjectClass, PlateCandidate};

/// How tracks are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// The least overlap of a detection with a track's expected box to continue it.
    pub min_iou: f32,
    /// A track not seen for this long ends.
    pub max_gap_ms: i64,
    /// Detections below this confidence are ignored.
    pub min_score: f32,
    /// How long a track keeps its past positions (what a stopped vehicle is judged over).
    pub history_ms: i64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig { min_iou: 0.2, max_gap_ms: 2000, min_score: 0.3, history_ms: 30_000 }
    }
}

impl TrackerConfig {
    pub fn max_gap(&self) -> TimeDelta {
        TimeDelta::milliseconds(self.max_gap_ms)
    }
}

/// The most positions a track keeps, whatever the frame rate.
const MAX_PATH: usize = 4096;

/// A track's identifier, unique within one camera's scene.
pub type TrackId = u64;

/// One object followed across frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub id: TrackId,
    /// How many times each class was detected for it.
    classes: [u32; ObjectClass::ALL.len()],
    pub bbox: BBox,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Times it was detected.
    pub hits: u32,
    /// Its ground points (box foot), oldest first.
    pub path: VecDeque<(DateTime<Utc>, Point)>,
    /// Velocity of the box centre, frame units per second.
    velocity: (f32, f32),
    /// The plate reads of its frames.
    pub plates: Vec<PlateCandidate>,
}

impl Track {
    /// The class detected most often (ties: the first in [`ObjectClass::ALL`]).
    pub fn class(&self) -> ObjectClass {
        let best = self.classes.iter().enumerate().max_by_key(|(i, n)| (**n, usize::MAX - i)).map_or(0, |(i, _)| i);
        ObjectClass::ALL[best]
    }

    pub fn foot(&self) -> Point {
        self.bbox.foot()
    }

    /// Where the box is expected at `time`.
    fn predicted(&self, time: DateTime<Utc>) -> BBox {
        let dt = (time - self.last_seen).num_milliseconds() as f32 / 1000.0;
        BBox { x: self.bbox.x + self.velocity.0 * dt, y: self.bbox.y + self.velocity.1 * dt, ..self.bbox }
    }

    /// How far the foot moved over the last `span`, and over how long it was seen in it.
    pub fn moved_within(&self, span: TimeDelta) -> (f32, TimeDelta) {
        let Some(&(last_t, last_p)) = self.path.back() else { return (0.0, TimeDelta::zero()) };
        let mut far = 0.0f32;
        let mut earliest = last_t;
        for &(t, p) in self.path.iter().rev() {
            if last_t - t > span {
                break;
            }
            far = far.max(p.distance(last_p));
            earliest = t;
        }
        (far, last_t - earliest)
    }
}

/// What one frame did to the tracks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// Tracks seen in this frame (continued or new), with their foot before this frame (none for
    /// a new track).
    pub seen: Vec<(TrackId, Option<Point>)>,
    /// Tracks that ended: not seen for longer than the gap.
    pub ended: Vec<Track>,
}

/// The tracks of one camera.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next: TrackId,
    last_time: Option<DateTime<Utc>>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker { config, tracks: Vec::new(), next: 1, last_time: None }
    }

    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    pub fn track(&self, id: TrackId) -> Option<&Track> {
        self.tracks.iter().find(|t| t.id == id)
    }

    /// Takes one frame's detections at `time`. A frame older than the last one is ignored (its
    /// detections would move tracks backwards).
    pub fn update(&mut self, time: DateTime<Utc>, detections: &[Detection]) -> Update {
        let mut update = Update::default();
        if self.last_time.is_some_and(|last| time < last) {
            return update;
        }
        self.last_time = Some(time);
        let usable: Vec<&Detection> =
            detections.iter().filter(|d| d.score >= self.config.min_score && d.bbox.is_valid()).collect();
        // Every plausible pair, best first.
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, t) in self.tracks.iter().enumerate() {
            let expected = t.predicted(time);
            for (di, d) in usable.iter().enumerate() {
                if d.class.is_vehicle() != t.class().is_vehicle() {
                    continue;
                }
                let iou = expected.iou(&d.bbox);
                let score = if iou >= self.config.min_iou {
                    1.0 + iou
                } else {
                    // Centres within the object's own size: a match of last resort.
                    let d_centre = expected.centre().distance(d.bbox.centre());
                    let size = expected.diagonal().max(d.bbox.diagonal());
                    if d_centre < size { 1.0 - d_centre / size } else { continue }
                };
                pairs.push((score, ti, di));
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_taken = vec![false; self.tracks.len()];
        let mut detection_taken = vec![false; usable.len()];
        for (_, ti, di) in pairs {
            if track_taken[ti] || detection_taken[di] {
                continue;
            }
            track_taken[ti] = true;
            detection_taken[di] = true;
            let t = &mut self.tracks[ti];
            let d = usable[di];
            let before = t.foot();
            let dt = (time - t.last_seen).num_milliseconds() as f32 / 1000.0;
            if dt > 0.0 {
                let (old, new) = (t.bbox.centre(), d.bbox.centre());
                let v = ((new.x - old.x) / dt, (new.y - old.y) / dt);
                // Smoothed: a jittery box should not throw the prediction far.
                t.velocity = (t.velocity.0 * 0.5 + v.0 * 0.5, t.velocity.1 * 0.5 + v.1 * 0.5);
            }
            t.bbox = d.bbox;
            t.last_seen = time;
            t.hits += 1;
            t.classes[d.class.index()] += 1;
            t.path.push_back((time, d.bbox.foot()));
            let keep = TimeDelta::milliseconds(self.config.history_ms);
            while t.path.len() > MAX_PATH || t.path.front().is_some_and(|(old, _)| time - *old > keep) {
                t.path.pop_front();
            }
            if let Some(p) = &d.plate {
                t.plates.push(p.clone());
            }
            update.seen.push((t.id, Some(before)));
        }
        for (di, d) in usable.iter().enumerate() {
            if detection_taken[di] {
                continue;
            }
            let mut classes = [0; ObjectClass::ALL.len()];
            classes[d.class.index()] = 1;
            let track = Track {
                id: self.next,
                classes,
                bbox: d.bbox,
                first_seen: time,
                last_seen: time,
                hits: 1,
                path: VecDeque::from([(time, d.bbox.foot())]),
                velocity: (0.0, 0.0),
                plates: d.plate.iter().cloned().collect(),
            };
            update.seen.push((track.id, None));
            self.next += 1;
            self.tracks.push(track);
        }
        let gap = self.config.max_gap();
        let (ended, live): (Vec<Track>, Vec<Track>) =
            std::mem::take(&mut self.tracks).into_iter().partition(|t| time - t.last_seen > gap);
        self.tracks = live;
        update.ended = ended;
        update
    }

    /// Ends every track (the stream stopped).
    pub fn finish(&mut self) -> Vec<Track> {
        std::mem::take(&mut self.tracks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{at, car, person};

    #[test]
    fn a_moving_car_keeps_its_track_and_a_new_one_gets_another() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let u = tracker.update(at(0), &[car(0.10, 0.5)]);
        assert_eq!(u.seen, vec![(1, None)]);
        for i in 1..10 {
            let u = tracker.update(at(i * 200), &[car(0.10 + 0.03 * i as f32, 0.5)]);
            assert_eq!(u.seen.len(), 1);
            assert_eq!(u.seen[0].0, 1, "frame {i}");
        }
        let u = tracker.update(at(2000), &[car(0.40, 0.5), car(0.80, 0.2)]);
        let ids: Vec<_> = u.seen.iter().map(|s| s.0).collect();
        assert_eq!(ids, vec![1, 2]);
        assert_eq!(tracker.track(1).unwrap().hits, 11);
    }

    #[test]
    fn a_fast_car_at_a_low_frame_rate_is_followed_by_its_velocity() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        // 0.12 of the frame per frame: the boxes (0.1 wide) never overlap.
        for i in 0..6 {
            let u = tracker.update(at(i * 500), &[car(0.05 + 0.12 * i as f32, 0.5)]);
            assert_eq!(u.seen[0].0, 1, "frame {i}: {u:?}");
        }
    }

    #[test]
    fn persons_and_vehicles_never_share_a_track_and_a_truck_seen_as_a_car_stays_one() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        tracker.update(at(0), &[car(0.3, 0.5)]);
        let u = tracker.update(at(200), &[person(0.3, 0.5)]);
        assert_eq!(u.seen, vec![(2, None)]);
        let mut truck = car(0.3, 0.5);
        truck.class = ObjectClass::Truck;
        for i in 0..3 {
            tracker.update(at(400 + i * 200), &[truck.clone()]);
        }
        assert_eq!(tracker.track(1).unwrap().class(), ObjectClass::Truck, "named a truck three times, a car once");
    }

    #[test]
    fn tracks_end_after_the_gap_and_old_or_bad_frames_change_nothing() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        tracker.update(at(1000), &[car(0.3, 0.5)]);
        assert_eq!(tracker.update(at(500), &[car(0.9, 0.9)]), Update::default(), "an older frame");
        let mut nan = car(0.3, 0.5);
        nan.bbox.w = f32::NAN;
        let mut weak = car(0.6, 0.5);
        weak.score = 0.05;
        assert!(tracker.update(at(1200), &[nan, weak]).seen.is_empty());
        let u = tracker.update(at(3500), &[]);
        assert_eq!(u.ended.len(), 1);
        assert!(tracker.tracks().is_empty());
    }
}
