//! The JSON shapes of the HTTP API (v1). Only this module defines them; it
//! converts to and from the domain types explicitly.

use chrono::{DateTime, Utc};
use limes_model::{
    AgeRange, BoundingBox, CameraId, Detection, DetectionKind, Direction, Gender, GeoPoint, ImageKind, ImageRef,
    MAX_AGE, PlateInfo, PlateRead, Scored, VehicleInfo,
};
use limes_plate::CountryCode;
use serde::{Deserialize, Serialize};

/// One plate read as an integration posts it.
///
/// ```json
/// {"camera": "ro-siret-01", "time": "2026-11-21T10:00:00Z", "plate": "B 12 ABC",
///  "confidence": 0.93, "country": "RO", "direction": "leaving"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadIn {
    pub camera: String,
    pub time: DateTime<Utc>,
    /// The plate text as read, any separators, Latin or Cyrillic.
    pub plate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// ISO 3166-1 alpha-2, when the reader recognised the country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_confidence: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_type_confidence: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_entity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_entity_confidence: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The reader's own position (mobile and drone cameras).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<GeoPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<VehicleInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageRef>,
    /// A read an exercise scripted (`limes exercise run`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
}

impl ReadIn {
    /// Converts to the domain record; fails on a malformed camera id or country code.
    pub fn into_domain(self) -> Result<PlateRead, String> {
        let camera = CameraId::new(self.camera).map_err(|e| e.to_string())?;
        let country = match self.country.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(Scored {
                value: CountryCode::parse(c).map_err(|e| e.to_string())?,
                confidence: self.country_confidence,
            }),
        };
        Ok(PlateRead {
            exercise: self.exercise,
            camera,
            time: self.time,
            plate: PlateInfo {
                text: Scored { value: self.plate, confidence: self.confidence },
                plate_type: self.plate_type.map(|v| Scored { value: v, confidence: self.plate_type_confidence }),
                country,
                issuing_entity: self
                    .issuing_entity
                    .map(|v| Scored { value: v, confidence: self.issuing_entity_confidence }),
            },
            direction: self.direction.unwrap_or_default(),
            position: self.position,
            vehicle: self.vehicle,
            images: self.images,
        })
    }
}

impl From<&PlateRead> for ReadIn {
    fn from(r: &PlateRead) -> Self {
        Self {
            exercise: false,
            camera: r.camera.to_string(),
            time: r.time,
            plate: r.plate.text.value.clone(),
            confidence: r.plate.text.confidence,
            country: r.plate.country.as_ref().map(|c| c.value.to_string()),
            country_confidence: r.plate.country.as_ref().and_then(|c| c.confidence),
            plate_type: r.plate.plate_type.as_ref().map(|s| s.value.clone()),
            plate_type_confidence: r.plate.plate_type.as_ref().and_then(|s| s.confidence),
            issuing_entity: r.plate.issuing_entity.as_ref().map(|s| s.value.clone()),
            issuing_entity_confidence: r.plate.issuing_entity.as_ref().and_then(|s| s.confidence),
            direction: Some(r.direction),
            position: r.position,
            vehicle: r.vehicle.clone(),
            images: r.images.clone(),
        }
    }
}

/// A record of a batch that was refused, by its place in the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// Zero-based index in the JSON array, or line number minus one in NDJSON.
    pub index: usize,
    pub error: String,
}

/// The answer to a posted batch: what was stored durably and what was refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    pub accepted: usize,
    /// Stored ids of the accepted reads, in the order they were posted.
    pub ids: Vec<i64>,
    pub rejected: Vec<Rejected>,
    /// Alerts the accepted reads raised.
    pub alerts: usize,
}

/// An image of a read, as listed and as answered to a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageOut {
    /// SHA-256 of the bytes, lower-case hex: the image's identity and ETag.
    pub sha256: String,
    /// Where to get the bytes.
    pub url: String,
    pub read_id: i64,
    pub kind: ImageKind,
    /// `jpeg` or `png`, as found in the bytes.
    pub format: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
    pub camera: String,
    /// The camera's agency when the image was attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// When the camera took it (the read's time).
    pub time: DateTime<Utc>,
    /// How it reached the node (`http` for this API).
    pub source_format: String,
    /// When it was attached to the read.
    pub added: DateTime<Utc>,
    /// When the node first stored these bytes (for this read or another).
    pub first_seen: DateTime<Utc>,
    /// In the answer to a post: the bytes were already stored, no new file was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduplicated: Option<bool>,
}

impl From<&limes_store::ReadImage> for ImageOut {
    fn from(i: &limes_store::ReadImage) -> Self {
        Self {
            sha256: i.image.sha256.to_string(),
            url: format!("/api/v1/images/{}", i.image.sha256),
            read_id: i.read_id,
            kind: i.kind,
            format: i.image.format.as_str().to_owned(),
            bytes: i.image.bytes,
            width: i.image.width,
            height: i.image.height,
            camera: i.camera.to_string(),
            agency: i.agency.as_ref().map(|a| a.to_string()),
            time: i.time,
            source_format: i.source_format.clone(),
            added: i.added,
            first_seen: i.image.first_seen,
            deduplicated: None,
        }
    }
}

/// One face, person or vehicle detection as an integration posts it. It carries what a
/// camera's analytics estimated, never who a person is: there is no field for a name, a
/// face template or a recognition result, and unknown fields are refused.
///
/// ```json
/// {"camera": "ro-siret-02", "time": "2026-11-21T10:00:00Z", "kind": "face", "confidence": 0.8,
///  "age_min": 20, "age_max": 30, "gender": "male", "gender_confidence": 0.7,
///  "bbox": {"left": 0.1, "top": 0.2, "right": 0.3, "bottom": 0.4, "units": "normalized"},
///  "zone": "gate", "object_id": "15"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionIn {
    pub camera: String,
    pub time: DateTime<Utc>,
    /// `face`, `person` or `vehicle`.
    pub kind: DetectionKind,
    /// How sure the analytics was of the kind, 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// Estimated age range in years, both ends included (faces and persons); both or neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_confidence: Option<f32>,
    /// Estimated gender (faces and persons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender_confidence: Option<f32>,
    /// Where the object is in the picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<BoundingBox>,
    /// The zone, region or rule of the camera's analytics that the object was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The camera's short-lived tracking number for the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// Make, colour, class (vehicles only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<VehicleInfo>,
    /// The camera's own position when it moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<GeoPoint>,
}

impl DetectionIn {
    /// Converts to the domain record; fails on a malformed camera id, an age out of range,
    /// or a half-given age range or attribute. Not validated: see [`Detection::validate`].
    pub fn into_domain(self) -> Result<Detection, String> {
        let camera = CameraId::new(self.camera).map_err(|e| e.to_string())?;
        let age = match (self.age_min, self.age_max) {
            (Some(min), Some(max)) => {
                let year = |v: u32| u8::try_from(v).ok().filter(|v| *v <= MAX_AGE);
                match (year(min), year(max)) {
                    (Some(min), Some(max)) => {
                        Some(Scored { value: AgeRange { min, max }, confidence: self.age_confidence })
                    }
                    _ => return Err(format!("age range {min}..={max} is not a range of human ages (0..={MAX_AGE})")),
                }
            }
            (None, None) if self.age_confidence.is_some() => {
                return Err("age_confidence is given without age_min and age_max".into());
            }
            (None, None) => None,
            _ => return Err("age_min and age_max go together: give both or neither".into()),
        };
        let gender = match self.gender {
            Some(value) => Some(Scored { value, confidence: self.gender_confidence }),
            None if self.gender_confidence.is_some() => {
                return Err("gender_confidence is given without gender".into());
            }
            None => None,
        };
        let text = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(Detection {
            camera,
            time: self.time,
            kind: self.kind,
            confidence: self.confidence,
            age,
            gender,
            bbox: self.bbox,
            zone: text(self.zone),
            object_id: text(self.object_id),
            vehicle: self.vehicle,
            position: self.position,
        })
    }
}

impl From<&Detection> for DetectionIn {
    fn from(d: &Detection) -> Self {
        Self {
            camera: d.camera.to_string(),
            time: d.time,
            kind: d.kind,
            confidence: d.confidence,
            age_min: d.age.as_ref().map(|a| u32::from(a.value.min)),
            age_max: d.age.as_ref().map(|a| u32::from(a.value.max)),
            age_confidence: d.age.as_ref().and_then(|a| a.confidence),
            gender: d.gender.as_ref().map(|g| g.value),
            gender_confidence: d.gender.as_ref().and_then(|g| g.confidence),
            bbox: d.bbox,
            zone: d.zone.clone(),
            object_id: d.object_id.clone(),
            vehicle: d.vehicle.clone(),
            position: d.position,
        }
    }
}

/// A stored detection as searched: its id, when and how it reached the node, and the
/// detection in the shape it is posted in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionOut {
    pub id: i64,
    /// When the node received it.
    pub received: DateTime<Utc>,
    /// How it reached the node: `http`, or the camera format (`onvif-json`, `frigate`…).
    pub source_format: String,
    #[serde(flatten)]
    pub detection: DetectionIn,
}

impl From<&limes_store::StoredDetection> for DetectionOut {
    fn from(d: &limes_store::StoredDetection) -> Self {
        Self {
            id: d.id,
            received: d.received,
            source_format: d.source_format.clone(),
            detection: DetectionIn::from(&d.detection),
        }
    }
}

/// The answer to posted detections: what was stored durably and what was refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectionReport {
    pub accepted: usize,
    /// Stored ids of the accepted detections, in the order they were posted.
    pub ids: Vec<i64>,
    pub rejected: Vec<Rejected>,
}
