//! What happens in a camera's scene, frame after frame (issue #10).
//!
//! The node's own analysis (`limes-vision`) finds persons and vehicles in a frame and reads
//! the plates it can; this crate turns those per-frame [`Detection`]s into what an operator
//! cares about:
//!
//! - [`track::Tracker`]: the same object from frame to frame;
//! - [`rules`]: lines and zones drawn on the picture ([`rules::SceneConfig`]), checked;
//! - [`Scene::observe`]: a frame in, [`SceneEvent`]s out — a line crossed (with its direction),
//!   a zone entered, a vehicle stopped, a vehicle's plate voted across its frames ([`vote`]);
//! - traffic counts per counting line, lane, direction, class and interval
//!   ([`Scene::take_counts`]), and the queue of stopped vehicles in a zone ([`Scene::queue`]).
//!
//! It does no I/O and reads no clock: frames carry their time.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use limes_scene::geometry::{BBox, Point};
//! use limes_scene::rules::{LineRule, SceneConfig};
//! use limes_scene::{Detection, ObjectClass, Scene, SceneEvent};
//!
//! let border = LineRule {
//!     id: "green-border".into(), name: "green border".into(),
//!     a: Point::new(0.0, 0.5), b: Point::new(1.0, 0.5),
//!     classes: vec![ObjectClass::Person], only: None, count: false, lanes: vec![], alert: true,
//! };
//! let mut scene = Scene::new(SceneConfig { lines: vec![border], ..SceneConfig::default() }).unwrap();
//! let mut events = Vec::new();
//! for i in 0..10 {
//!     let time = Utc.timestamp_millis_opt(1_800_000_000_000 + i * 250).unwrap();
//!     // A person walking down the picture, across the line.
//!     let bbox = BBox { x: 0.45, y: 0.1 + 0.06 * i as f32, w: 0.05, h: 0.15 };
//!     let person = Detection { class: ObjectClass::Person, bbox, score: 0.8, plate: None };
//!     events.extend(scene.observe(time, &[person]));
//! }
//! assert!(matches!(&events[..], [SceneEvent::LineCrossed { line, .. }] if line == "green-border"));
//! ```

pub mod geometry;
pub mod rules;
pub mod track;
pub mod vote;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use geometry::{BBox, Point, distance_to_segment, segments_cross, side};
use rules::{Crossing, SceneConfig};
use track::{Track, TrackId, Tracker};
use vote::VotedPlate;

/// Why drawn rules or a frame were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SceneError {
    /// A polygon with too few or too many corners, or one outside the frame.
    #[error("polygon: {0}")]
    Polygon(String),
    /// A line, zone or threshold that cannot be used.
    #[error("{0}")]
    Rule(String),
}

/// What the detector names (the COCO classes the node watches for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectClass {
    Person,
    Bicycle,
    Car,
    Motorcycle,
    Bus,
    Truck,
}

impl ObjectClass {
    pub const ALL: [ObjectClass; 6] = [
        ObjectClass::Person,
        ObjectClass::Bicycle,
        ObjectClass::Car,
        ObjectClass::Motorcycle,
        ObjectClass::Bus,
        ObjectClass::Truck,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// Vehicles are counted and may carry plates; a bicycle is a vehicle too.
    pub fn is_vehicle(self) -> bool {
        self != ObjectClass::Person
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectClass::Person => "person",
            ObjectClass::Bicycle => "bicycle",
            ObjectClass::Car => "car",
            ObjectClass::Motorcycle => "motorcycle",
            ObjectClass::Bus => "bus",
            ObjectClass::Truck => "truck",
        }
    }
}

/// A plate read in one frame, for the vehicle it was found on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateCandidate {
    /// Normalised: upper case, no separators.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub confidence: f32,
    /// Where the plate is in the frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<BBox>,
}

/// One object found in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub class: ObjectClass,
    pub bbox: BBox,
    pub score: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<PlateCandidate>,
}

/// Something that happened in the scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SceneEvent {
    /// A track's ground point crossed a line.
    LineCrossed {
        time: DateTime<Utc>,
        track: TrackId,
        class: ObjectClass,
        line: String,
        direction: Crossing,
        at: Point,
    },
    /// A track was in a zone for the zone's dwell time.
    ZoneEntered { time: DateTime<Utc>, track: TrackId, class: ObjectClass, zone: String, at: Point },
    /// A vehicle stopped (it moved less than the rule's distance over its seconds).
    Stopped { time: DateTime<Utc>, track: TrackId, class: ObjectClass, at: Point },
    /// A vehicle's plate, voted over its frames: once per track, as soon as enough reads agree
    /// or when it leaves.
    Plate { time: DateTime<Utc>, track: TrackId, class: ObjectClass, plate: VotedPlate, bbox: BBox },
}

/// Vehicles that crossed a counting line in one interval, per lane, direction and class.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Count {
    pub interval_start: DateTime<Utc>,
    pub line: String,
    /// The lane the crossing point was in; empty when none was drawn or it was in none.
    pub lane: String,
    pub direction: Crossing,
    pub class: ObjectClass,
    pub vehicles: u32,
}

/// The part of a frame unit a point must be off a line to be on one of its sides: jitter of a
/// box standing on the line does not count as crossings back and forth.
const LINE_MARGIN: f32 = 0.004;

#[derive(Debug, Default)]
struct TrackState {
    /// Per line: the last side the track was clearly on, and where.
    sides: HashMap<usize, (bool, Point)>,
    /// Per zone: since when it has been in it, and whether that raised an event.
    zones: HashMap<usize, (DateTime<Utc>, bool)>,
    stopped: bool,
    plate_given: bool,
}

/// One camera's scene.
#[derive(Debug)]
pub struct Scene {
    config: SceneConfig,
    tracker: Tracker,
    states: HashMap<TrackId, TrackState>,
    counts: BTreeMap<(DateTime<Utc>, String, String, Crossing, ObjectClass), u32>,
}

impl Scene {
    pub fn new(config: SceneConfig) -> Result<Scene, SceneError> {
        config.check()?;
        Ok(Scene {
            tracker: Tracker::new(config.tracker.clone()),
            config,
            states: HashMap::new(),
            counts: BTreeMap::new(),
        })
    }

    pub fn config(&self) -> &SceneConfig {
        &self.config
    }

    pub fn tracks(&self) -> &[Track] {
        self.tracker.tracks()
    }

    /// Takes one frame's detections at `time` and gives what happened.
    pub fn observe(&mut self, time: DateTime<Utc>, detections: &[Detection]) -> Vec<SceneEvent> {
        let update = self.tracker.update(time, detections);
        let mut events = Vec::new();
        for (id, _) in &update.seen {
            let Some(track) = self.tracker.track(*id) else { continue };
            let state = self.states.entry(*id).or_default();
            Self::lines(&self.config, &mut self.counts, track, state, time, &mut events);
            Self::zones(&self.config, track, state, time, &mut events);
            Self::stopped(&self.config, track, state, time, &mut events);
            if !state.plate_given
                && let Some(plate) = vote::vote(&track.plates)
                && plate.agreeing >= self.config.plates.agreeing.max(1)
            {
                state.plate_given = true;
                events.push(SceneEvent::Plate { time, track: track.id, class: track.class(), plate, bbox: track.bbox });
            }
        }
        for track in update.ended {
            self.end(track, time, &mut events);
        }
        events
    }

    /// Ends every track (the stream stopped): the plates not given yet are given.
    pub fn finish(&mut self, time: DateTime<Utc>) -> Vec<SceneEvent> {
        let mut events = Vec::new();
        for track in self.tracker.finish() {
            self.end(track, time, &mut events);
        }
        events
    }

    fn end(&mut self, track: Track, time: DateTime<Utc>, events: &mut Vec<SceneEvent>) {
        let state = self.states.remove(&track.id).unwrap_or_default();
        if !state.plate_given
            && let Some(plate) = vote::vote(&track.plates)
        {
            events.push(SceneEvent::Plate { time, track: track.id, class: track.class(), plate, bbox: track.bbox });
        }
    }

    fn lines(
        config: &SceneConfig,
        counts: &mut BTreeMap<(DateTime<Utc>, String, String, Crossing, ObjectClass), u32>,
        track: &Track,
        state: &mut TrackState,
        time: DateTime<Utc>,
        events: &mut Vec<SceneEvent>,
    ) {
        let foot = track.foot();
        let class = track.class();
        for (i, line) in config.lines.iter().enumerate() {
            let length = line.a.distance(line.b);
            let signed = side(line.a, line.b, foot) / length;
            if signed.abs() < LINE_MARGIN && distance_to_segment(line.a, line.b, foot) < LINE_MARGIN {
                continue; // on the line: wait until it is clearly past
            }
            let right = signed > 0.0;
            let before = state.sides.insert(i, (right, foot));
            let Some((was_right, from)) = before else { continue };
            if was_right == right || !segments_cross(from, foot, line.a, line.b) {
                continue;
            }
            let direction = if right { Crossing::LeftToRight } else { Crossing::RightToLeft };
            if line.count && class.is_vehicle() {
                let lane =
                    line.lanes.iter().find(|l| l.area.contains(foot)).map(|l| l.name.clone()).unwrap_or_default();
                let interval = i64::from(config.count_interval_s());
                let start = time.timestamp().div_euclid(interval) * interval;
                let start = DateTime::from_timestamp(start, 0).unwrap_or(time);
                *counts.entry((start, line.id.clone(), lane, direction, class)).or_default() += 1;
            }
            let wanted = line.classes.is_empty() || line.classes.contains(&class);
            if line.alert && wanted && line.only.is_none_or(|o| o == direction) {
                events.push(SceneEvent::LineCrossed {
                    time,
                    track: track.id,
                    class,
                    line: line.id.clone(),
                    direction,
                    at: foot,
                });
            }
        }
    }

    fn zones(
        config: &SceneConfig,
        track: &Track,
        state: &mut TrackState,
        time: DateTime<Utc>,
        events: &mut Vec<SceneEvent>,
    ) {
        let foot = track.foot();
        let class = track.class();
        for (i, zone) in config.zones.iter().enumerate() {
            if !zone.area.contains(foot) {
                state.zones.remove(&i);
                continue;
            }
            let (since, raised) = state.zones.entry(i).or_insert((time, false));
            let wanted = zone.classes.is_empty() || zone.classes.contains(&class);
            if !*raised && zone.alert && wanted && time - *since >= TimeDelta::milliseconds(zone.dwell_ms) {
                *raised = true;
                events.push(SceneEvent::ZoneEntered { time, track: track.id, class, zone: zone.id.clone(), at: foot });
            }
        }
    }

    fn stopped(
        config: &SceneConfig,
        track: &Track,
        state: &mut TrackState,
        time: DateTime<Utc>,
        events: &mut Vec<SceneEvent>,
    ) {
        if !track.class().is_vehicle() {
            return;
        }
        let rule = &config.stopped;
        let span = TimeDelta::milliseconds((rule.seconds * 1000.0) as i64);
        let (moved, seen_for) = track.moved_within(span);
        if !state.stopped && seen_for >= span && moved < rule.distance {
            state.stopped = true;
            events.push(SceneEvent::Stopped { time, track: track.id, class: track.class(), at: track.foot() });
        } else if state.stopped && moved > rule.distance * 2.0 {
            state.stopped = false;
        }
    }

    /// The stopped vehicles whose ground point is in zone `zone` now: the queue there.
    pub fn queue(&self, zone: &str) -> usize {
        let Some(z) = self.config.zones.iter().find(|z| z.id == zone) else { return 0 };
        self.tracker
            .tracks()
            .iter()
            .filter(|t| self.states.get(&t.id).is_some_and(|s| s.stopped) && z.area.contains(t.foot()))
            .count()
    }

    /// The counts of intervals that ended by `now`, taken out (each given once).
    pub fn take_counts(&mut self, now: DateTime<Utc>) -> Vec<Count> {
        let interval = TimeDelta::seconds(i64::from(self.config.count_interval_s()));
        let done: Vec<_> = self.counts.keys().filter(|k| k.0 + interval <= now).cloned().collect();
        done.into_iter()
            .filter_map(|k| {
                let vehicles = self.counts.remove(&k)?;
                let (interval_start, line, lane, direction, class) = k;
                Some(Count { interval_start, line, lane, direction, class, vehicles })
            })
            .collect()
    }

    /// The ids of the tracks alive now.
    pub fn live(&self) -> HashSet<TrackId> {
        self.tracker.tracks().iter().map(|t| t.id).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use geometry::Polygon;
    use rules::{Lane, LineRule, ZoneRule};

    pub(crate) fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_800_000_000_000 + ms).unwrap()
    }

    pub(crate) fn car(x: f32, y: f32) -> Detection {
        Detection { class: ObjectClass::Car, bbox: BBox { x, y, w: 0.1, h: 0.08 }, score: 0.8, plate: None }
    }

    pub(crate) fn person(x: f32, y: f32) -> Detection {
        Detection { class: ObjectClass::Person, bbox: BBox { x, y, w: 0.03, h: 0.1 }, score: 0.8, plate: None }
    }

    pub(crate) fn line(id: &str, a: (f32, f32), b: (f32, f32)) -> LineRule {
        LineRule {
            id: id.into(),
            name: String::new(),
            a: Point::new(a.0, a.1),
            b: Point::new(b.0, b.1),
            classes: vec![],
            only: None,
            count: false,
            lanes: vec![],
            alert: true,
        }
    }

    fn square(x0: f32, y0: f32, x1: f32, y1: f32) -> Polygon {
        Polygon::new(vec![Point::new(x0, y0), Point::new(x1, y0), Point::new(x1, y1), Point::new(x0, y1)]).unwrap()
    }

    #[test]
    fn a_person_crossing_the_border_line_raises_one_event_with_its_direction() {
        let border = LineRule { classes: vec![ObjectClass::Person], ..line("border", (0.0, 0.5), (1.0, 0.5)) };
        let mut scene = Scene::new(SceneConfig { lines: vec![border], ..SceneConfig::default() }).unwrap();
        let mut events = Vec::new();
        // Walking down the picture (the foot from 0.2 to 0.9), jittering on the line on the way.
        let ys = [0.1, 0.2, 0.3, 0.398, 0.401, 0.399, 0.402, 0.5, 0.6, 0.7, 0.8];
        for (i, y) in ys.iter().enumerate() {
            events.extend(scene.observe(at(i as i64 * 300), &[person(0.5, *y), car(0.05, *y)]));
        }
        let crossed: Vec<_> = events.iter().filter(|e| matches!(e, SceneEvent::LineCrossed { .. })).collect();
        assert_eq!(crossed.len(), 1, "{events:#?}");
        let SceneEvent::LineCrossed { direction, class, line, .. } = crossed[0] else { unreachable!() };
        // Down the picture across a line drawn left to right: from its left to its right.
        assert_eq!((*direction, *class, line.as_str()), (Crossing::LeftToRight, ObjectClass::Person, "border"));
    }

    #[test]
    fn only_the_chosen_direction_alerts_and_beyond_the_lines_end_nothing_crosses() {
        let into = LineRule { only: Some(Crossing::RightToLeft), ..line("into", (0.0, 0.5), (0.6, 0.5)) };
        let mut scene = Scene::new(SceneConfig { lines: vec![into], ..SceneConfig::default() }).unwrap();
        let mut events = Vec::new();
        for i in 0..10 {
            // One person down (left to right), one up beyond the line's end at x 0.6.
            events.extend(
                scene.observe(at(i * 300), &[person(0.2, 0.1 + 0.07 * i as f32), person(0.8, 0.8 - 0.07 * i as f32)]),
            );
        }
        assert!(events.is_empty(), "{events:#?}");
        for i in 0..10 {
            events.extend(scene.observe(at(3000 + i * 300), &[person(0.3, 0.8 - 0.07 * i as f32)]));
        }
        assert!(
            matches!(&events[..], [SceneEvent::LineCrossed { direction: Crossing::RightToLeft, .. }]),
            "{events:#?}"
        );
    }

    #[test]
    fn a_zone_raises_an_intrusion_after_its_dwell_time_once_per_visit() {
        let bank = ZoneRule {
            id: "bank".into(),
            name: String::new(),
            area: square(0.0, 0.6, 1.0, 1.0),
            classes: vec![ObjectClass::Person],
            dwell_ms: 1000,
            queue: false,
            alert: true,
        };
        let mut scene = Scene::new(SceneConfig { zones: vec![bank], ..SceneConfig::default() }).unwrap();
        let mut events = Vec::new();
        for i in 0..12 {
            events.extend(scene.observe(at(i * 250), &[person(0.5, 0.6)]));
        }
        assert_eq!(events.len(), 1, "{events:#?}");
        let SceneEvent::ZoneEntered { time, zone, .. } = &events[0] else { panic!("{events:?}") };
        assert_eq!((*time, zone.as_str()), (at(1000), "bank"));
    }

    #[test]
    fn vehicles_crossing_a_counting_line_are_counted_per_lane_direction_and_interval() {
        let counting = LineRule {
            count: true,
            alert: false,
            lanes: vec![
                Lane { name: "1".into(), area: square(0.0, 0.0, 0.5, 1.0) },
                Lane { name: "2".into(), area: square(0.5, 0.0, 1.0, 1.0) },
            ],
            ..line("count", (0.0, 0.5), (1.0, 0.5))
        };
        let config = SceneConfig { lines: vec![counting], count_interval_s: 60, ..SceneConfig::default() };
        let mut scene = Scene::new(config).unwrap();
        let mut events = Vec::new();
        // Three cars down lane 1, one truck up lane 2, one after another; a person too.
        let mut t = 0;
        for (x, down, class) in [
            (0.2, true, ObjectClass::Car),
            (0.2, true, ObjectClass::Car),
            (0.2, true, ObjectClass::Car),
            (0.7, false, ObjectClass::Truck),
        ] {
            for i in 0..8 {
                let y = if down { 0.1 + 0.08 * i as f32 } else { 0.8 - 0.08 * i as f32 };
                let mut d = car(x, y);
                d.class = class;
                events.extend(scene.observe(at(t), &[d, person(0.45, y)]));
                t += 250;
            }
            t += 3000; // the track ends before the next comes
            events.extend(scene.observe(at(t), &[]));
        }
        assert!(events.iter().all(|e| !matches!(e, SceneEvent::LineCrossed { .. })), "counting only: {events:#?}");
        assert!(scene.take_counts(at(t)).is_empty(), "the interval has not ended");
        let counts = scene.take_counts(at(t) + TimeDelta::seconds(120));
        let summary: Vec<_> = counts.iter().map(|c| (c.lane.as_str(), c.direction, c.class, c.vehicles)).collect();
        assert_eq!(
            summary,
            vec![
                ("1", Crossing::LeftToRight, ObjectClass::Car, 3),
                ("2", Crossing::RightToLeft, ObjectClass::Truck, 1)
            ]
        );
        assert!(scene.take_counts(at(t) + TimeDelta::seconds(120)).is_empty(), "each count once");
    }

    #[test]
    fn a_vehicle_that_stops_is_found_and_makes_the_queue() {
        let queue = ZoneRule {
            id: "approach".into(),
            name: String::new(),
            area: square(0.0, 0.4, 1.0, 1.0),
            classes: vec![],
            dwell_ms: 0,
            queue: true,
            alert: false,
        };
        let config = SceneConfig { zones: vec![queue], ..SceneConfig::default() };
        let mut scene = Scene::new(config).unwrap();
        let mut events = Vec::new();
        for i in 0..60 {
            // Two cars standing (a pixel of jitter), one driving by.
            let jitter = if i % 2 == 0 { 0.001 } else { 0.0 };
            let detections = [car(0.2 + jitter, 0.6), car(0.5, 0.62), car(0.05 + 0.015 * i as f32, 0.3)];
            events.extend(scene.observe(at(i * 250), &detections));
        }
        let stopped = events.iter().filter(|e| matches!(e, SceneEvent::Stopped { .. })).count();
        assert_eq!(stopped, 2, "{events:#?}");
        assert_eq!(scene.queue("approach"), 2);
        assert_eq!(scene.queue("elsewhere"), 0);
    }

    #[test]
    fn a_plate_is_given_once_as_soon_as_reads_agree_or_when_the_vehicle_leaves() {
        let mut scene = Scene::new(SceneConfig::default()).unwrap();
        let read =
            |text: &str| PlateCandidate { text: text.into(), country: Some("RO".into()), confidence: 0.8, bbox: None };
        let mut events = Vec::new();
        for (i, text) in ["B123ABC", "B123A8C", "B123ABC", "B123ABC"].iter().enumerate() {
            let mut d = car(0.1 + 0.02 * i as f32, 0.5);
            d.plate = Some(read(text));
            events.extend(scene.observe(at(i as i64 * 200), &[d]));
        }
        let plates: Vec<_> = events
            .iter()
            .filter_map(|e| if let SceneEvent::Plate { plate, .. } = e { Some(plate) } else { None })
            .collect();
        assert_eq!(plates.len(), 1, "{events:#?}");
        assert_eq!(plates[0].text, "B123ABC");
        assert!(scene.finish(at(5000)).is_empty(), "given already");
        // A vehicle read once: its plate comes when it leaves.
        let mut d = car(0.5, 0.5);
        d.plate = Some(read("CJ07XYZ"));
        assert!(scene.observe(at(6000), &[d]).is_empty());
        let events = scene.observe(at(9000), &[]);
        assert!(matches!(&events[..], [SceneEvent::Plate { plate, .. }] if plate.text == "CJ07XYZ"), "{events:#?}");
    }
}

#[cfg(test)]
mod properties {
    use super::tests::{at, person};
    use super::*;
    use proptest::prelude::*;
    use rules::LineRule;

    proptest! {
        /// A person walking straight from one side of a line to the other, at any angle and at
        /// any pace up to most of its height per frame, crosses it exactly once, in the
        /// direction its sides say.
        #[test]
        fn a_straight_walk_across_a_line_crosses_it_once(
            ay in 0.3f32..0.7, by in 0.3f32..0.7,
            x0 in 0.2f32..0.8, x1 in 0.2f32..0.8,
            down in any::<bool>(), steps in 12usize..40,
        ) {
            let line = LineRule {
                id: "l".into(), name: String::new(),
                a: Point::new(0.0, ay), b: Point::new(1.0, by),
                classes: vec![], only: None, count: false, lanes: vec![], alert: true,
            };
            let mut scene = Scene::new(SceneConfig { lines: vec![line.clone()], ..SceneConfig::default() }).unwrap();
            let (y0, y1) = if down { (0.0, 0.85) } else { (0.85, 0.0) };
            let mut events = Vec::new();
            for i in 0..=steps {
                let t = i as f32 / steps as f32;
                let d = person(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
                events.extend(scene.observe(at(i as i64 * 100), &[d]));
            }
            let crossings: Vec<_> = events.iter().filter_map(|e| match e {
                SceneEvent::LineCrossed { direction, .. } => Some(*direction),
                _ => None,
            }).collect();
            let expected = if down { Crossing::LeftToRight } else { Crossing::RightToLeft };
            prop_assert_eq!(crossings, vec![expected]);
        }
    }
}
