//! One camera watched frame after frame: the motion gate, the models, and the scene.
//!
//! A [`Watcher`] holds what one camera needs between frames — its motion gate, its scene (the
//! tracks and the lines and zones drawn for it) and the best plate picture of each plate it is
//! reading — and takes the models from the caller, so that cameras share one [`Analyser`].
//! Plates are looked for only inside the vehicles the detector found (the region of interest:
//! a text detector run on a car costs a fraction of one run on the frame), each read is given to
//! its vehicle's track, and the scene votes a track's reads into one plate ([`OwnRead`]).
//!
//! The frames carry their time: a recording is analysed on its own clock, not the node's.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use image::{RgbImage, imageops};
use limes_scene::geometry::BBox;
use limes_scene::rules::SceneConfig;
use limes_scene::vote::VotedPlate;
use limes_scene::{Count, Detection, ObjectClass, PlateCandidate, Scene, SceneError, SceneEvent};
use serde::{Deserialize, Serialize};

use crate::analyse::{AnalyseError, Analyser, Object};
use crate::motion::{Motion, MotionGate, MotionSettings};

/// How one camera is watched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchSettings {
    /// Analyse the camera's live stream as the node records it (the camera must be in
    /// `[[video.streams]]`); recordings and footage are analysed on request either way.
    pub live: bool,
    /// Frames analysed per second (the rest are not decoded into pictures at all).
    pub fps: f32,
    /// Motion gating (`enabled = false` analyses every frame).
    pub motion: MotionSettings,
    /// Read plates (of the vehicles found).
    pub plates: bool,
    /// The width of the overview picture kept with a read.
    pub overview_width: u32,
    /// The lines and zones drawn on the camera's picture, and how tracks are kept.
    pub scene: SceneConfig,
    /// Faces counted (and their age and gender estimated), off unless asked.
    pub faces: FaceWatch,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            live: false,
            fps: 5.0,
            motion: MotionSettings::default(),
            plates: true,
            overview_width: 640,
            scene: SceneConfig::default(),
            faces: FaceWatch::default(),
        }
    }
}

/// Faces counted on a camera (issue #11), in the whole picture and in each of its zones. Off
/// unless asked: counting people by their faces, and more so estimating their age and gender
/// (biometric categorisation, EU AI Act Annex III 1(b)), is a use a camera's settings must name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaceWatch {
    /// Count the faces on the analysed pictures.
    pub count: bool,
    /// Also estimate each face's age and gender, with their confidence.
    pub age_gender: bool,
    /// Seconds between two counts (of the picture's time).
    pub every_s: f32,
}

impl Default for FaceWatch {
    fn default() -> Self {
        FaceWatch { count: false, age_gender: false, every_s: 10.0 }
    }
}

/// The faces on one picture, counted.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct FaceCount {
    pub time: DateTime<Utc>,
    pub faces: Vec<CountedFace>,
    /// The faces whose centre lies in each of the camera's zones.
    pub zones: Vec<ZoneFaces>,
}

/// One face counted: its box in the picture (0–1), its score and, when asked, its age and
/// gender with their confidence.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CountedFace {
    pub bbox: BBox,
    pub score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<crate::attributes::Attributes>,
}

/// How many faces one zone holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ZoneFaces {
    pub zone: String,
    pub faces: usize,
}

/// The models that count faces: cameras share them, as they share the [`Analyser`].
#[derive(Debug)]
pub struct FaceModels {
    pub detector: crate::faces::FaceDetector,
    /// Loaded only where a camera asks for age and gender.
    pub attributes: Option<crate::attributes::AttributeEstimator>,
}

impl WatchSettings {
    /// Checks what the types cannot.
    pub fn check(&self) -> Result<(), SceneError> {
        if !(self.fps.is_finite() && (0.1..=30.0).contains(&self.fps)) {
            return Err(SceneError::Rule("fps from 0.1 to 30".into()));
        }
        if !(64..=1920).contains(&self.overview_width) {
            return Err(SceneError::Rule("overview_width 64 to 1920".into()));
        }
        self.motion.check().map_err(SceneError::Rule)?;
        if !(self.faces.every_s.is_finite() && (1.0..=3600.0).contains(&self.faces.every_s)) {
            return Err(SceneError::Rule("faces.every_s from 1 to 3600".into()));
        }
        if self.faces.age_gender && !self.faces.count {
            return Err(SceneError::Rule("faces.age_gender needs faces.count".into()));
        }
        self.scene.check()
    }
}

/// A plate the camera read itself: voted over its vehicle's frames.
#[derive(Debug, Clone)]
pub struct OwnRead {
    /// When the vote was given (the frame's time).
    pub time: DateTime<Utc>,
    /// The vehicle's class.
    pub class: ObjectClass,
    pub plate: VotedPlate,
    /// The country whose grammar read it best, when one did.
    pub country: Option<String>,
    /// The plate as it looked in its best frame, and that whole frame made small.
    pub crop: Option<RgbImage>,
    pub overview: Option<RgbImage>,
}

/// Time spent per stage on one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub motion: Duration,
    pub objects: Duration,
    pub plates: Duration,
    pub scene: Duration,
}

/// What one frame gave.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    /// Whether the models ran on it (the motion gate let it through).
    pub analysed: bool,
    /// The persons and vehicles found, with the plate read on each.
    pub detections: Vec<Detection>,
    /// Lines crossed, zones entered, vehicles stopped (plates are in `reads`).
    pub events: Vec<SceneEvent>,
    pub reads: Vec<OwnRead>,
    pub times: StageTimes,
}

/// The best picture of a plate so far.
#[derive(Debug)]
struct Evidence {
    confidence: f32,
    country: String,
    time: DateTime<Utc>,
    crop: RgbImage,
    overview: RgbImage,
}

/// How long a plate's picture is kept waiting for its vote.
const EVIDENCE_KEEP_S: i64 = 120;

/// One camera's watch.
#[derive(Debug)]
pub struct Watcher {
    settings: WatchSettings,
    gate: Option<MotionGate>,
    scene: Scene,
    evidence: HashMap<String, Evidence>,
    last_time: Option<DateTime<Utc>>,
    /// When faces were last counted.
    faces_counted: Option<DateTime<Utc>>,
}

impl Watcher {
    pub fn new(settings: WatchSettings) -> Result<Watcher, SceneError> {
        settings.check()?;
        Ok(Watcher {
            gate: settings.motion.enabled.then(|| MotionGate::new(settings.motion.clone())),
            scene: Scene::new(settings.scene.clone())?,
            settings,
            evidence: HashMap::new(),
            last_time: None,
            faces_counted: None,
        })
    }

    pub fn settings(&self) -> &WatchSettings {
        &self.settings
    }

    /// Takes the frame the camera showed at `time`.
    pub fn frame(
        &mut self,
        analyser: &mut Analyser,
        time: DateTime<Utc>,
        frame: &RgbImage,
    ) -> Result<Watched, AnalyseError> {
        Analyser::check(frame)?;
        let mut out = Watched::default();
        let started = Instant::now();
        let motion = match &mut self.gate {
            Some(gate) => gate.check(time.timestamp_millis(), frame),
            None => Motion { changed: 1.0, region: None, analyse: true },
        };
        out.times.motion = started.elapsed();
        self.last_time = Some(time);
        if !motion.analyse {
            // Nothing moves: the tracks still age (one that left ends, and its plate is given).
            let started = Instant::now();
            let events = self.scene.observe(time, &[]);
            self.sort(events, &mut out);
            out.times.scene = started.elapsed();
            return Ok(out);
        }
        out.analysed = true;
        let started = Instant::now();
        let objects = analyser.objects(frame)?;
        out.times.objects = started.elapsed();
        let started = Instant::now();
        let (width, height) = frame.dimensions();
        let mut overview = None;
        for o in &objects {
            let bbox = BBox::from_pixels(o.left, o.top, o.right, o.bottom, width, height);
            let plate = if self.settings.plates && o.class.is_vehicle() {
                self.read_plate(analyser, time, frame, o, &mut overview)?
            } else {
                None
            };
            out.detections.push(Detection { class: o.class, bbox, score: o.score, plate });
        }
        out.times.plates = started.elapsed();
        let started = Instant::now();
        let events = self.scene.observe(time, &out.detections);
        self.sort(events, &mut out);
        out.times.scene = started.elapsed();
        Ok(out)
    }

    /// Whether the faces of the picture at `time` are to be counted: the camera counts faces, and
    /// `faces.every_s` has passed since the last count (noted as done).
    pub fn faces_due(&mut self, time: DateTime<Utc>) -> bool {
        let f = &self.settings.faces;
        let due =
            f.count && self.faces_counted.is_none_or(|last| (time - last).as_seconds_f32() >= f.every_s || time < last);
        if due {
            self.faces_counted = Some(time);
        }
        due
    }

    /// The faces of `frame` counted, in the whole picture and in each zone, with their age and
    /// gender when the camera asks for them (and `models` has the estimator).
    pub fn count_faces(
        &self,
        models: &mut FaceModels,
        time: DateTime<Utc>,
        frame: &RgbImage,
    ) -> Result<FaceCount, AnalyseError> {
        let (width, height) = frame.dimensions();
        let mut faces = Vec::new();
        for f in models.detector.faces(frame)? {
            let attributes = match (&mut models.attributes, self.settings.faces.age_gender) {
                (Some(estimator), true) => estimator.estimate(frame, &f)?,
                _ => None,
            };
            let bbox = BBox::from_pixels(f.left, f.top, f.right, f.bottom, width, height);
            faces.push(CountedFace { bbox, score: f.score, attributes });
        }
        let zones = self
            .settings
            .scene
            .zones
            .iter()
            .map(|z| ZoneFaces {
                zone: z.id.clone(),
                faces: faces.iter().filter(|f| z.area.contains(f.bbox.centre())).count(),
            })
            .collect();
        Ok(FaceCount { time, faces, zones })
    }

    /// The stream ended: every track ends, and the plates not given yet are given.
    pub fn finish(&mut self) -> Watched {
        let mut out = Watched::default();
        let time = self.last_time.unwrap_or_else(Utc::now);
        let events = self.scene.finish(time);
        self.sort(events, &mut out);
        out
    }

    /// The counts of intervals that ended by `until` (`DateTime::<Utc>::MAX_UTC`: all, the
    /// current one too, when the stream ended), each given once.
    pub fn take_counts(&mut self, until: DateTime<Utc>) -> Vec<Count> {
        self.scene.take_counts(until)
    }

    /// The plate of one vehicle: text found inside its box, read, kept when a grammar reads it;
    /// its picture kept when it is the best of that plate so far.
    fn read_plate(
        &mut self,
        analyser: &mut Analyser,
        time: DateTime<Utc>,
        frame: &RgbImage,
        vehicle: &Object,
        overview: &mut Option<RgbImage>,
    ) -> Result<Option<PlateCandidate>, AnalyseError> {
        let (width, height) = frame.dimensions();
        let (left, top) = (vehicle.left.max(0.0) as u32, vehicle.top.max(0.0) as u32);
        let (right, bottom) =
            ((vehicle.right.max(0.0) as u32).min(width), (vehicle.bottom.max(0.0) as u32).min(height));
        if right <= left + 16 || bottom <= top + 16 {
            return Ok(None);
        }
        let region = imageops::crop_imm(frame, left, top, right - left, bottom - top).to_image();
        let Some(best) = analyser.plates(&region)?.into_iter().next() else { return Ok(None) };
        let xs = best.corners.map(|c| c.0 + left as f32);
        let ys = best.corners.map(|c| c.1 + top as f32);
        let (min_x, max_x) = (xs.iter().copied().fold(f32::MAX, f32::min), xs.iter().copied().fold(f32::MIN, f32::max));
        let (min_y, max_y) = (ys.iter().copied().fold(f32::MAX, f32::min), ys.iter().copied().fold(f32::MIN, f32::max));
        let bbox = BBox::from_pixels(min_x, min_y, max_x, max_y, width, height);
        let country = best.country.as_str().to_owned();
        let better = self.evidence.get(&best.text).is_none_or(|e| e.confidence < best.confidence);
        if better {
            // The plate with a margin of a third of its height around it.
            let margin = (max_y - min_y) / 3.0;
            let (cx, cy) = ((min_x - margin).max(0.0) as u32, (min_y - margin).max(0.0) as u32);
            let cw = ((max_x + margin).min(width as f32) as u32).saturating_sub(cx).max(1);
            let ch = ((max_y + margin).min(height as f32) as u32).saturating_sub(cy).max(1);
            let crop = imageops::crop_imm(frame, cx, cy, cw, ch).to_image();
            let overview = overview.get_or_insert_with(|| small(frame, self.settings.overview_width)).clone();
            self.evidence.insert(
                best.text.clone(),
                Evidence { confidence: best.confidence, country: country.clone(), time, crop, overview },
            );
        }
        Ok(Some(PlateCandidate {
            text: best.text,
            country: Some(country),
            confidence: best.confidence,
            bbox: Some(bbox),
        }))
    }

    /// Plate events become reads (with the best pictures of that plate); the rest stay events.
    fn sort(&mut self, events: Vec<SceneEvent>, out: &mut Watched) {
        for event in events {
            match event {
                SceneEvent::Plate { time, class, plate, .. } => {
                    let evidence = self.evidence.remove(&plate.text);
                    out.reads.push(OwnRead {
                        time,
                        class,
                        country: evidence.as_ref().map(|e| e.country.clone()),
                        crop: evidence.as_ref().map(|e| e.crop.clone()),
                        overview: evidence.map(|e| e.overview),
                        plate,
                    });
                }
                other => out.events.push(other),
            }
        }
        if let Some(now) = self.last_time {
            self.evidence.retain(|_, e| (now - e.time).num_seconds() < EVIDENCE_KEEP_S);
        }
    }
}

/// `frame` scaled to `width` (kept when smaller).
fn small(frame: &RgbImage, width: u32) -> RgbImage {
    let (w, h) = frame.dimensions();
    if w <= width {
        return frame.clone();
    }
    let height = ((u64::from(h) * u64::from(width) / u64::from(w)) as u32).max(1);
    imageops::resize(frame, width, height, imageops::FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused() {
        assert!(WatchSettings::default().check().is_ok());
        for bad in [
            WatchSettings { fps: 0.0, ..WatchSettings::default() },
            WatchSettings { fps: f32::INFINITY, ..WatchSettings::default() },
            WatchSettings { overview_width: 10, ..WatchSettings::default() },
            WatchSettings {
                motion: MotionSettings { hold_ms: -1, ..MotionSettings::default() },
                ..WatchSettings::default()
            },
        ] {
            assert!(Watcher::new(bad.clone()).is_err(), "{bad:?}");
        }
        let parsed: WatchSettings = serde_json::from_str(r#"{"fps": 2, "motion": {"enabled": false}}"#).unwrap();
        assert_eq!((parsed.fps, parsed.motion.enabled, parsed.motion.width), (2.0, false, 160));
        assert!(serde_json::from_str::<WatchSettings>(r#"{"fsp": 2}"#).is_err(), "unknown fields are refused");
        let faces = |count, age_gender, every_s| WatchSettings {
            faces: FaceWatch { count, age_gender, every_s },
            ..WatchSettings::default()
        };
        assert!(!WatchSettings::default().faces.count, "faces are counted only when asked");
        assert!(Watcher::new(faces(true, true, 5.0)).is_ok());
        for bad in [faces(false, true, 5.0), faces(true, false, 0.5), faces(true, false, f32::NAN)] {
            assert!(Watcher::new(bad.clone()).is_err(), "{bad:?}");
        }
        let parsed: WatchSettings = serde_json::from_str(r#"{"faces": {"count": true, "every_s": 2}}"#).unwrap();
        assert_eq!(parsed.faces, FaceWatch { count: true, age_gender: false, every_s: 2.0 });
    }

    #[test]
    fn faces_are_counted_every_so_often_of_the_pictures_time() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap().with_timezone(&Utc);
        let at = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
        let mut off = Watcher::new(WatchSettings::default()).unwrap();
        assert!(!off.faces_due(t0));
        let settings = WatchSettings {
            faces: FaceWatch { count: true, age_gender: false, every_s: 2.0 },
            ..WatchSettings::default()
        };
        let mut w = Watcher::new(settings).unwrap();
        let due: Vec<bool> = [0, 500, 1999, 2000, 2500, 4100, 1000].into_iter().map(|ms| w.faces_due(at(ms))).collect();
        // A picture older than the last count (a recording analysed again) counts again.
        assert_eq!(due, [true, false, false, true, false, true, true]);
    }

    #[test]
    fn the_overview_keeps_the_aspect() {
        let s = small(&RgbImage::new(1920, 1080), 640);
        assert_eq!(s.dimensions(), (640, 360));
        assert_eq!(small(&RgbImage::new(320, 240), 640).dimensions(), (320, 240));
    }
}
