//! One read per plate text of a tracked object, one detection per kind of a tracked object.
//!
//! Sources that track objects (Frigate, AXIS LPV) report the same vehicle many times as
//! it crosses the picture. Each report with a plate text the object has not shown yet is
//! a read (a camera that improves its reading, `B12ABC` then `B123ABC`, gives both, as
//! the camera believed each); repeats of the last text are dropped. Observations without
//! an object id are always reads.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use limes_camera_formats::Observation;
use limes_model::DetectionKind;

use crate::{ends_track, plate_text};

/// Remembers the last plate text of up to `capacity` tracked objects, forgetting the
/// oldest first.
#[derive(Debug)]
pub(crate) struct TrackDedupe {
    last: HashMap<(String, String), String>,
    order: VecDeque<(String, String)>,
    capacity: usize,
}

impl TrackDedupe {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { last: HashMap::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// Whether `o`, from `source`, is a read to keep.
    pub(crate) fn first_report(&mut self, source: &str, o: &Observation) -> bool {
        let (Some(object), Some(text)) = (&o.object_id, plate_text(o)) else {
            return true;
        };
        let key = (source.to_owned(), object.clone());
        let new = self.last.get(&key).is_none_or(|t| t != text);
        if ends_track(o) {
            self.last.remove(&key);
            return new;
        }
        if new {
            if self.last.insert(key.clone(), text.to_owned()).is_none() {
                self.order.push_back(key);
            }
            // Ended tracks leave their keys in `order`; bound it too.
            while self.last.len() > self.capacity || self.order.len() > 2 * self.capacity {
                match self.order.pop_front() {
                    Some(old) => {
                        self.last.remove(&old);
                    }
                    None => break,
                }
            }
        }
        new
    }
}

/// How long a tracked object may go unreported before a report of it counts as a new
/// detection: ONVIF object ids are small numbers that cameras give again after a while.
pub(crate) const DETECTION_GAP: chrono::Duration = chrono::Duration::seconds(60);

type DetectionKey = (String, String, DetectionKind);

/// One detection per kind of a tracked object: a source reports a person or face on every
/// frame it is in view (ONVIF) or on every change (Frigate); the first report is stored and
/// the others are repeats, until the object is not reported for [`DETECTION_GAP`] or its
/// track ends. Observations without an object id are always stored. Remembers up to
/// `capacity` objects, forgetting those not seen for longest first.
#[derive(Debug)]
pub(crate) struct DetectionDedupe {
    /// When each object was last reported, and the number of that report.
    last_seen: HashMap<DetectionKey, (DateTime<Utc>, u64)>,
    /// Every report in the order received, to forget objects: an entry that is no longer its
    /// object's last report is dropped without forgetting the object.
    order: VecDeque<(DetectionKey, DateTime<Utc>, u64)>,
    /// The number of the next report.
    next: u64,
    capacity: usize,
}

impl DetectionDedupe {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { last_seen: HashMap::new(), order: VecDeque::new(), next: 0, capacity: capacity.max(1) }
    }

    /// Whether `o`, a detection of `kind` from `source` received at `now`, is one to store.
    pub(crate) fn first_report(
        &mut self,
        source: &str,
        o: &Observation,
        kind: DetectionKind,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(object) = &o.object_id else {
            return true;
        };
        let key = (source.to_owned(), object.clone(), kind);
        let new = self.last_seen.get(&key).is_none_or(|(seen, _)| now - *seen > DETECTION_GAP);
        if ends_track(o) {
            self.last_seen.remove(&key);
            return new;
        }
        let number = self.next;
        self.next += 1;
        self.last_seen.insert(key.clone(), (now, number));
        self.order.push_back((key, now, number));
        while let Some((_, first, _)) = self.order.front() {
            let stale = now - *first > DETECTION_GAP;
            let over = self.last_seen.len() > self.capacity || self.order.len() > 4 * self.capacity;
            if !stale && !over {
                break;
            }
            if let Some((key, _, number)) = self.order.pop_front()
                && self.last_seen.get(&key).is_some_and(|(_, last)| *last == number)
            {
                self.last_seen.remove(&key);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use limes_camera_formats::{DetectionObservation, Payload, SourceFormat, SourceIdentity, TrackState};

    use super::*;

    fn person(object: Option<&str>, track: Option<TrackState>) -> Observation {
        Observation {
            format: SourceFormat::OnvifJson,
            source: SourceIdentity::default(),
            time: None,
            object_id: object.map(str::to_owned),
            track,
            payload: Payload::Detection(DetectionObservation {
                kind: DetectionKind::Person,
                confidence: None,
                age: None,
                gender: None,
                bbox: None,
                zone: None,
                vehicle: None,
                position: None,
            }),
            extra: Vec::new(),
        }
    }

    #[test]
    fn one_detection_per_tracked_object_and_kind_until_a_gap_or_the_end_of_its_track() {
        let t = |s: i64| Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(s);
        let mut d = DetectionDedupe::new(100);
        let (body, face) = (DetectionKind::Person, DetectionKind::Face);
        let seven = person(Some("7"), None);
        let mut check = |source: &str, o: &Observation, kind, at, want: bool| {
            assert_eq!(d.first_report(source, o, kind, t(at)), want, "{source} {:?} {kind:?} at {at}", o.object_id);
        };
        check("a", &seven, body, 0, true);
        check("a", &seven, body, 1, false);
        check("a", &seven, face, 1, true); // its face is another detection
        check("b", &seven, body, 1, true); // another camera's object 7
        check("a", &seven, body, 50, false);
        check("a", &seven, body, 100, false); // seen all along: still the same object
        check("a", &seven, body, 161, true); // unseen for over a minute: a new object 7
        check("a", &person(None, None), body, 161, true);
        check("a", &person(None, None), body, 161, true);
        check("a", &person(Some("7"), Some(TrackState::End)), body, 162, false);
        check("a", &seven, body, 163, true); // the track ended: the next object 7 is new
    }

    #[test]
    fn memory_stays_bounded() {
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
        let mut d = DetectionDedupe::new(10);
        for i in 0..1000 {
            let o = person(Some(&i.to_string()), None);
            assert!(d.first_report("a", &o, DetectionKind::Person, now));
            assert!(d.last_seen.len() <= 10 && d.order.len() <= 40, "{} {}", d.last_seen.len(), d.order.len());
        }
        let o = person(Some("999"), None);
        for _ in 0..1000 {
            assert!(!d.first_report("a", &o, DetectionKind::Person, now));
            assert!(d.order.len() <= 40);
        }
    }
}
