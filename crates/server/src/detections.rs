//! The path of a detection: validate → camera known? → store durably (the writer's group
//! commit, beside reads) → acknowledge. No matching, no alert: a detection names no one.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use limes_model::{Camera, CameraId, Detection};
use limes_store::{DetectionBatch, NewDetection};

use crate::wire::{DetectionReport, Rejected};
use crate::{ApiError, AppState, read_lock};

/// The source format of detections posted to the HTTP API.
pub const HTTP_SOURCE: &str = "http";

/// The longest zone, object id or vehicle word a detection may carry, in bytes.
pub const MAX_TEXT_BYTES: usize = 256;

/// One detection to ingest, by its place in what was posted or received.
#[derive(Debug, Clone)]
pub struct DetectionItem {
    /// Its place: the index in a JSON array, the line number minus one in NDJSON, or the
    /// caller's own numbering; refusals are reported under it.
    pub index: usize,
    /// How it reached the node: [`HTTP_SOURCE`], or the camera format (`onvif-json`, `frigate`…).
    pub source_format: &'static str,
    /// The detection, or why it could not be read.
    pub detection: Result<Detection, String>,
}

fn check(cameras: &HashMap<CameraId, Camera>, d: &Detection, now: DateTime<Utc>) -> Result<(), String> {
    d.validate(now).map_err(|e| e.to_string())?;
    let vehicle = d.vehicle.as_ref();
    for (field, text) in [
        ("zone", d.zone.as_deref()),
        ("object_id", d.object_id.as_deref()),
        ("vehicle.make", vehicle.and_then(|v| v.make.as_deref())),
        ("vehicle.colour", vehicle.and_then(|v| v.colour.as_deref())),
        ("vehicle.class", vehicle.and_then(|v| v.class.as_deref())),
    ] {
        if text.is_some_and(|t| t.len() > MAX_TEXT_BYTES) {
            return Err(format!("{field} is longer than {MAX_TEXT_BYTES} bytes"));
        }
    }
    if !cameras.contains_key(&d.camera) {
        return Err(format!("unknown camera {:?}: register it first (POST /api/v1/cameras)", d.camera.as_str()));
    }
    Ok(())
}

/// Validates and durably stores detections; returns once the accepted ones are committed
/// (fsynced). A refused detection never affects the others.
pub async fn ingest_detections(
    state: &AppState,
    by: &crate::Collector,
    items: Vec<DetectionItem>,
) -> Result<DetectionReport, ApiError> {
    let now = Utc::now();
    let mut report = DetectionReport::default();
    let mut batch = DetectionBatch::default();
    {
        let cameras = read_lock(&state.cameras);
        for item in items {
            match item.detection.and_then(|d| check(&cameras, &d, now).map(|()| d)) {
                Ok(d) => batch.detections.push(NewDetection::new(d, now, item.source_format)),
                Err(error) => report.rejected.push(Rejected { index: item.index, error }),
            }
        }
    }
    state.stats.detections_rejected.fetch_add(report.rejected.len() as u64, Ordering::Relaxed);
    if batch.detections.is_empty() {
        return Ok(report);
    }
    let ids = state.store.write_detections(batch).await?;
    state.stats.detections_accepted.fetch_add(ids.len() as u64, Ordering::Relaxed);
    state.audit_collected(by, &ids, "detections", 0).await?;
    report.accepted = ids.len();
    report.ids = ids;
    Ok(report)
}
