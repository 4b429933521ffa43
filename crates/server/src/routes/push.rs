//! Camera push: the alerts cameras send on their own, in their vendors' formats, to a URL
//! configured on the camera. Each camera gets its own URL, so the node knows which
//! registered camera spoke without trusting what the payload says about itself:
//!
//! * `POST /api/v1/cameras/{id}/push/hikvision`: Hikvision ISAPI `EventNotificationAlert`,
//!   as XML or as the `multipart/form-data` body ANPR cameras send (the XML part and the
//!   plate and scene JPEGs).
//! * `POST /api/v1/cameras/{id}/push/axis`: AXIS License Plate Verifier push-event JSON,
//!   with its base64 `ImageArray`.
//! * `POST /api/v1/cameras/{id}/push/onvif`: an ONVIF `tt:MetadataStream` document.
//!
//! Plate reads enter the same path as `POST /api/v1/reads`: validated, matched and stored
//! (fsynced) before the answer; face, person and vehicle detections the path of
//! `POST /api/v1/detections`. Pictures are then stored for the read they belong to. A
//! picture that is not one (a part that lies about its type, a decompression bomb) is
//! refused on its own and reported; the read is kept.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use chrono::Utc;
use limes_camera_formats::{
    FormatError, ImageSlot, Limits, Observation, Payload, decode_axis_images, parse_axis_push_json,
    parse_hikvision_multipart, parse_hikvision_xml, parse_onvif_xml,
};
use limes_model::{CameraId, ImageKind};
use limes_store::{ImageFormat, ImageMeta, ValidImage};
use serde::Serialize;

use super::{body_bytes, media_type};
use crate::detections::{DetectionItem, ingest_detections};
use crate::wire::{ReadIn, Rejected};
use crate::{ApiError, AppState, Caller, Collector, ingest_reads};
use limes_access::Operation;
use limes_audit::Object;

/// What a push became.
#[derive(Debug, Default, Serialize)]
pub(super) struct PushReport {
    /// Plate reads stored.
    accepted: usize,
    /// Their ids, in the order the payload gave them.
    ids: Vec<i64>,
    /// Reads refused, by their position among the payload's reads.
    rejected: Vec<Rejected>,
    /// Alerts the reads raised.
    alerts: usize,
    /// Pictures stored (or already stored) for the reads.
    images: usize,
    /// Pictures refused, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    image_errors: Vec<String>,
    /// Face, person and vehicle detections stored (never identity).
    detections: usize,
    /// Detections refused, by their position among the payload's detections.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    detections_rejected: Vec<Rejected>,
}

/// A picture that came with the payload, not yet checked.
struct Picture {
    /// How the payload refers to it: a part name, or its place in the Axis `ImageArray`.
    name: Option<String>,
    index: Option<usize>,
    kind: ImageKind,
    bytes: Vec<u8>,
    /// The sender said it is a JPEG and it is not.
    mislabelled: bool,
}

fn bad_format(e: FormatError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

/// What every push route does first: the registered camera the URL names, the caller
/// allowed to post reads for it (refused before the body is read), then the body.
async fn pushed(state: &AppState, caller: &Caller, id: &str, body: Body) -> Result<(CameraId, Bytes), ApiError> {
    let id = CameraId::new(id).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !crate::read_lock(&state.cameras).contains_key(&id) {
        return Err(ApiError::NotFound(format!("camera {id} is not registered")));
    }
    let object = Object::new("camera", id.as_str());
    state.authorize(caller, Operation::ReadsIngest, &state.camera_resource(&id), object).await?;
    Ok((id, body_bytes(state, body).await?))
}

fn limits(state: &AppState) -> Limits {
    Limits { max_body_bytes: state.options.max_body_bytes, ..Limits::default() }
}

/// `POST /api/v1/cameras/{id}/push/hikvision`.
pub(super) async fn hikvision(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<PushReport>), ApiError> {
    let (camera, bytes) = pushed(&state, &caller, &id, body).await?;
    let limits = limits(&state);
    let (observations, pictures) = if media_type(&headers).starts_with("multipart/") {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let upload = parse_hikvision_multipart(content_type, &bytes, &limits).map_err(bad_format)?;
        let pictures = upload
            .images
            .iter()
            .map(|p| Picture {
                name: p.name.clone().or_else(|| p.filename.clone()),
                index: None,
                kind: ImageKind::Overview,
                bytes: p.data.to_vec(),
                mislabelled: p.mislabelled,
            })
            .collect();
        (upload.observations, pictures)
    } else {
        (parse_hikvision_xml(&bytes, &limits).map_err(bad_format)?, Vec::new())
    };
    store(&state, &caller, camera, observations, pictures, "hikvision-isapi").await
}

/// `POST /api/v1/cameras/{id}/push/axis`.
pub(super) async fn axis(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<PushReport>), ApiError> {
    let (camera, bytes) = pushed(&state, &caller, &id, body).await?;
    let limits = limits(&state);
    let observations = parse_axis_push_json(&bytes, &limits).map_err(bad_format)?;
    let pictures = decode_axis_images(&bytes, &limits)
        .map_err(bad_format)?
        .into_iter()
        .map(|i| Picture {
            name: None,
            index: Some(i.index),
            kind: image_kind(i.kind),
            bytes: i.data,
            mislabelled: i.mislabelled,
        })
        .collect();
    store(&state, &caller, camera, observations, pictures, "axis-lpv").await
}

/// `POST /api/v1/cameras/{id}/push/onvif`.
pub(super) async fn onvif(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<PushReport>), ApiError> {
    let (camera, bytes) = pushed(&state, &caller, &id, body).await?;
    let observations = parse_onvif_xml(&bytes, None, &limits(&state)).map_err(bad_format)?;
    store(&state, &caller, camera, observations, Vec::new(), "onvif-xml").await
}

fn image_kind(kind: limes_camera_formats::ImageKind) -> ImageKind {
    match kind {
        limes_camera_formats::ImageKind::Plate => ImageKind::Plate,
        limes_camera_formats::ImageKind::Overview | limes_camera_formats::ImageKind::Other => ImageKind::Overview,
    }
}

/// Whether `picture` is the one `slot` refers to.
fn refers_to(slot: &ImageSlot, picture: &Picture) -> bool {
    match (&slot.name, &picture.name, slot.index, picture.index) {
        (_, _, Some(a), Some(b)) => a == b,
        (Some(a), Some(b), _, _) => a == b || b.rsplit('/').next() == Some(a.as_str()),
        _ => false,
    }
}

/// Ingests the plate reads of `observations` from `camera`, then stores each read's
/// pictures.
async fn store(
    state: &AppState,
    caller: &Caller,
    camera: CameraId,
    observations: Vec<Observation>,
    mut pictures: Vec<Picture>,
    source_format: &'static str,
) -> Result<(StatusCode, Json<PushReport>), ApiError> {
    let now = Utc::now();
    let mut report = PushReport::default();
    let mut items = Vec::new();
    let mut detections = Vec::new();
    // The picture slots of each read, in the order of `items`.
    let mut slots: Vec<Vec<ImageSlot>> = Vec::new();
    for o in observations {
        match &o.payload {
            Payload::Detection(_) => {
                let index = detections.len();
                let detection = o.into_detection(camera.clone(), now).ok_or_else(|| "not a detection".to_owned());
                detections.push(DetectionItem { index, source_format, detection });
            }
            Payload::Plate(p) => {
                slots.push(p.images.clone());
                let read = o.into_plate_read(camera.clone(), now).map(|r| ReadIn::from(&r));
                items.push((items.len(), read.ok_or_else(|| "not a plate read".to_owned())));
            }
        }
    }
    let resource = state.camera_resource(&camera);
    if !detections.is_empty() {
        let object = Object::new("camera", camera.as_str());
        let grant = state.authorize(caller, Operation::DetectionsIngest, &resource, object).await?;
        let by = Collector::caller(state, caller, &grant);
        let stored = ingest_detections(state, &by, detections).await?;
        report.detections = stored.accepted;
        report.detections_rejected = stored.rejected;
    }
    if !items.is_empty() {
        let object = Object::new("camera", camera.as_str());
        let grant = state.authorize(caller, Operation::ReadsIngest, &resource, object).await?;
        let by = Collector::caller(state, caller, &grant);
        let ingested = ingest_reads(state, &by, items).await?;
        report.accepted = ingested.accepted;
        report.alerts = ingested.alerts;
        report.rejected = ingested.rejected;
        report.ids = ingested.ids;
    }
    // Which stored read each payload read became: rejected ones have none.
    let mut ids = report.ids.iter().copied();
    let stored: Vec<Option<i64>> = (0..slots.len())
        .map(|i| if report.rejected.iter().any(|r| r.index == i) { None } else { ids.next() })
        .collect();
    // A payload with one read and pictures it does not name: the pictures are that read's.
    let lone_read = stored.len() == 1 && slots[0].is_empty();
    let mut jobs: Vec<(i64, Picture)> = Vec::new();
    for (read_slots, read_id) in slots.iter().zip(&stored) {
        let Some(read_id) = *read_id else { continue };
        for slot in read_slots {
            if let Some(at) = pictures.iter().position(|p| refers_to(slot, p)) {
                let mut picture = pictures.swap_remove(at);
                if slot.kind == limes_camera_formats::ImageKind::Plate {
                    picture.kind = ImageKind::Plate;
                }
                jobs.push((read_id, picture));
            }
        }
    }
    if lone_read && let Some(read_id) = stored[0] {
        jobs.extend(pictures.drain(..).map(|p| (read_id, p)));
    }
    let (store, limits) = (state.store.clone(), state.options.images);
    let (stored_images, errors) = tokio::task::spawn_blocking(move || {
        let (mut ok, mut errors) = (0, Vec::new());
        for (read_id, p) in jobs {
            let what = p.name.clone().or(p.index.map(|i| format!("image {i}"))).unwrap_or_else(|| "image".into());
            if p.mislabelled {
                errors.push(format!("{what}: declared a JPEG but is not one"));
                continue;
            }
            let result =
                ValidImage::check(p.bytes, None::<ImageFormat>, &limits).map_err(|e| e.to_string()).and_then(|image| {
                    let meta = ImageMeta { read_id, kind: p.kind, source_format: source_format.into() };
                    store.put_image(&image, &meta).map_err(|e| e.to_string())
                });
            match result {
                Ok(_) => ok += 1,
                Err(e) => errors.push(format!("{what}: {e}")),
            }
        }
        (ok, errors)
    })
    .await?;
    report.images = stored_images;
    report.image_errors = errors;
    // A payload whose every read was refused is a 422, so that the failure shows in the
    // camera's log; anything kept is a 200 with the report.
    let status = if report.accepted == 0 && !report.rejected.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)))
}
