//! The JSON shapes of the HTTP API (v1). Only this module defines them; it
//! converts to and from the domain types explicitly.

use chrono::{DateTime, Utc};
use limes_model::{CameraId, Direction, GeoPoint, ImageKind, ImageRef, PlateInfo, PlateRead, Scored, VehicleInfo};
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
