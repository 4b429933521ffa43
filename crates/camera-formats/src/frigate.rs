//! Frigate NVR MQTT messages.
//!
//! Which messages yield what (the parser is stateless; the edge keeps state):
//!
//! * `frigate/events` (`type` `new`, `update` or `end`, with `before` and `after`): the
//!   `after` object gives one observation per message, unless it is a `false_positive`:
//!   a **plate read** when it carries a `recognized_license_plate` (with
//!   `recognized_license_plate_score`), else a **detection** when its `label` is `person`,
//!   `face` or a vehicle (`car`, `motorcycle`, `bus`, `truck`, `bicycle`…). Frigate sends
//!   many `update`s per tracked object, so every observation carries the object's `id` as
//!   [`Observation::object_id`] and the message type as [`Observation::track`]: **the edge
//!   keeps the first read per (camera, object id)** and may replace it by a later one
//!   whose score is higher.
//! * `frigate/tracked_object_update` of `type` `lpr`: a plate read with the plate's box;
//!   the same object id as the events, so the same deduplication applies. Other types
//!   (`description`, `face`, `classification`) give nothing.
//! * `frigate/reviews` messages give nothing.
//!
//! Identity is dropped: `sub_label` (a face-recognition name, or a known plate's owner) and
//! the `name` of a tracked-object update are never read into an observation.

use serde::Deserialize;

use limes_model::{DetectionKind, PlateInfo, Scored, VehicleInfo};

use crate::values::{self, known};
use crate::{
    DetectionObservation, FormatError, Limits, Observation, Payload, PlateObservation, SourceFormat, SourceIdentity,
    TrackState, json,
};

const FORMAT: SourceFormat = SourceFormat::Frigate;

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: Option<String>,
    after: Option<TrackedObject>,
    // frigate/tracked_object_update
    id: Option<String>,
    camera: Option<String>,
    plate: Option<String>,
    score: Option<f64>,
    timestamp: Option<f64>,
    plate_box: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct TrackedObject {
    id: Option<String>,
    camera: Option<String>,
    label: Option<String>,
    frame_time: Option<f64>,
    score: Option<f64>,
    #[serde(rename = "box")]
    bbox: Option<Vec<f64>>,
    current_zones: Option<Vec<String>>,
    false_positive: Option<bool>,
    recognized_license_plate: Option<String>,
    recognized_license_plate_score: Option<f64>,
    // Present in frigate/reviews messages instead of a label.
    severity: Option<serde_json::Value>,
}

/// Parses one Frigate MQTT message from `frigate/events`, `frigate/tracked_object_update`
/// or `frigate/reviews`; which one is told by its shape, so the caller need not pass the
/// topic. See the module documentation above for which messages give an observation.
pub fn parse_frigate(bytes: &[u8], limits: &Limits) -> Result<Vec<Observation>, FormatError> {
    let text = json::checked(bytes, FORMAT, limits)?;
    if !text.trim_start().starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| FormatError::json(FORMAT, &e))?;
        return Err(wrong_root(if value.is_array() { "an array" } else { "not an object" }));
    }
    let message: Message = serde_json::from_str(text).map_err(|e| FormatError::json(FORMAT, &e))?;
    match (message.kind.as_deref(), &message.after) {
        (Some("lpr"), None) => tracked_object_update_lpr(message),
        (Some("description" | "face" | "classification"), None) => Ok(Vec::new()),
        (Some(kind @ ("new" | "update" | "end")), Some(after)) if after.severity.is_none() => {
            let track = match kind {
                "new" => TrackState::New,
                "update" => TrackState::Update,
                _ => TrackState::End,
            };
            event(after, track)
        }
        (Some("new" | "update" | "end" | "genai"), Some(_)) => Ok(Vec::new()), // a review
        (kind, _) => Err(wrong_root(&match kind {
            Some(k) => format!("a message of type {k:?}"),
            None => "a message without type".to_owned(),
        })),
    }
}

fn wrong_root(found: &str) -> FormatError {
    FormatError::WrongRoot {
        format: FORMAT,
        expected: "a frigate/events, frigate/tracked_object_update or frigate/reviews message",
        found: found.to_owned(),
    }
}

fn score(path: &str, v: Option<f64>) -> Result<Option<f32>, FormatError> {
    v.map(|v| values::confidence_in_range(FORMAT, path, &v.to_string(), v, 1.0)).transpose()
}

/// Frigate boxes are `[x1, y1, x2, y2]` in pixels of the detect stream.
fn pixel_box(path: &str, b: &[f64]) -> Result<limes_model::BoundingBox, FormatError> {
    let [l, t, r, bo] = b else {
        return Err(FormatError::bad(FORMAT, path, format!("{b:?}"), "a box has four numbers"));
    };
    values::pixel_box(FORMAT, path, [*l, *t, *r, *bo])
}

fn vehicle_class(label: &str) -> Option<&'static str> {
    Some(match label {
        "car" => "car",
        "motorcycle" => "motorcycle",
        "bus" => "bus",
        "truck" => "truck",
        "bicycle" => "bicycle",
        "boat" => "boat",
        _ => return None,
    })
}

fn event(after: &TrackedObject, track: TrackState) -> Result<Vec<Observation>, FormatError> {
    if after.false_positive == Some(true) {
        return Ok(Vec::new());
    }
    let camera = after.camera.as_deref().and_then(known).ok_or_else(|| FormatError::missing(FORMAT, "after.camera"))?;
    let label = after.label.as_deref().ok_or_else(|| FormatError::missing(FORMAT, "after.label"))?;
    let time = values::epoch_seconds(
        FORMAT,
        "after.frame_time",
        after.frame_time.ok_or_else(|| FormatError::missing(FORMAT, "after.frame_time"))?,
    )?;
    let bbox = after.bbox.as_deref().map(|b| pixel_box("after.box", b)).transpose()?;
    let vehicle = vehicle_class(label).map(|c| VehicleInfo { class: Some(c.to_owned()), ..VehicleInfo::default() });
    let payload = match after.recognized_license_plate.as_deref() {
        Some(plate) => {
            if plate.trim().is_empty() {
                return Err(FormatError::bad(
                    FORMAT,
                    "after.recognized_license_plate",
                    plate,
                    "the plate text is empty",
                ));
            }
            let confidence = score("after.recognized_license_plate_score", after.recognized_license_plate_score)?;
            Payload::Plate(PlateObservation {
                plate: plate_info(plate, confidence),
                country_raw: None,
                direction: limes_model::Direction::Unknown,
                vehicle,
                position: None,
                plate_box: None,
                images: Vec::new(),
            })
        }
        None => {
            let kind = match label {
                "person" => DetectionKind::Person,
                "face" => DetectionKind::Face,
                l if vehicle_class(l).is_some() => DetectionKind::Vehicle,
                _ => return Ok(Vec::new()),
            };
            Payload::Detection(DetectionObservation {
                kind,
                confidence: score("after.score", after.score)?,
                age: None,
                gender: None,
                bbox,
                zone: after.current_zones.as_ref().and_then(|z| z.first().cloned()),
                vehicle,
                position: None,
            })
        }
    };
    Ok(vec![Observation {
        format: FORMAT,
        source: SourceIdentity { name: Some(camera.to_owned()), ..SourceIdentity::default() },
        time: Some(time),
        object_id: after.id.clone(),
        track: Some(track),
        payload,
        extra: Vec::new(),
    }])
}

fn plate_info(text: &str, confidence: Option<f32>) -> PlateInfo {
    PlateInfo {
        text: Scored { value: text.trim().to_owned(), confidence },
        plate_type: None,
        country: None,
        issuing_entity: None,
    }
}

fn tracked_object_update_lpr(m: Message) -> Result<Vec<Observation>, FormatError> {
    let camera = m.camera.as_deref().and_then(known).ok_or_else(|| FormatError::missing(FORMAT, "camera"))?;
    let plate = m.plate.as_deref().ok_or_else(|| FormatError::missing(FORMAT, "plate"))?;
    if plate.trim().is_empty() {
        return Err(FormatError::bad(FORMAT, "plate", plate, "the plate text is empty"));
    }
    let time = m.timestamp.map(|t| values::epoch_seconds(FORMAT, "timestamp", t)).transpose()?;
    let plate_box = m.plate_box.as_deref().map(|b| pixel_box("plate_box", b)).transpose()?;
    Ok(vec![Observation {
        format: FORMAT,
        source: SourceIdentity { name: Some(camera.to_owned()), ..SourceIdentity::default() },
        time,
        object_id: m.id,
        track: None,
        payload: Payload::Plate(PlateObservation {
            plate: plate_info(plate, score("score", m.score)?),
            country_raw: None,
            direction: limes_model::Direction::Unknown,
            vehicle: None,
            position: None,
            plate_box,
            images: Vec::new(),
        }),
        extra: Vec::new(),
    }])
}
