//! `POST /api/v1/detections` (one detection, a JSON array, or an NDJSON stream) and their
//! search. Detections carry no identity; there is no search by face or likeness.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use limes_model::{AgeRange, CameraId, Detection, DetectionKind, Gender, MAX_AGE};
use limes_store::{DetectionCursor, DetectionQuery};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ndjson::NdjsonChunks;
use super::{body_bytes, json, media_type, utf8};
use crate::wire::{DetectionIn, DetectionOut, DetectionReport};
use crate::{ApiError, AppState, Caller, Collector, DetectionItem, HTTP_SOURCE, ingest_detections};
use limes_access::Operation;
use limes_audit::Object;

fn parse(text: &str) -> Result<Detection, String> {
    serde_json::from_str::<DetectionIn>(text).map_err(|e| e.to_string())?.into_domain()
}

fn item(index: usize, detection: Result<Detection, String>) -> DetectionItem {
    DetectionItem { index, source_format: HTTP_SOURCE, detection }
}

pub(super) async fn post(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let object = Object::new("detections", "new");
    let grant = state.authorize(&caller, Operation::DetectionsIngest, &state.access.node(), object).await?;
    let by = Collector::caller(&state, &caller, &grant);
    match media_type(&headers).as_str() {
        "application/x-ndjson" | "application/jsonl" | "application/ndjson" => ndjson(state, &by, body).await,
        "application/json" | "" => {
            let bytes = body_bytes(&state, body).await?;
            let text = utf8(&bytes)?;
            if text.trim_start().starts_with('[') {
                let raws: Vec<&RawValue> = json("batch", text)?;
                let items: Vec<DetectionItem> =
                    raws.into_iter().enumerate().map(|(i, raw)| item(i, parse(raw.get()))).collect();
                let n = items.len();
                let report = ingest_detections(&state, &by, items).await?;
                let status =
                    if n > 0 && report.accepted == 0 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
                Ok((status, Json(report)).into_response())
            } else {
                let one: DetectionIn = json("detection", text)?;
                let report = ingest_detections(&state, &by, vec![item(0, one.into_domain())]).await?;
                match report.rejected.first() {
                    Some(r) => Err(ApiError::Unprocessable(r.error.clone())),
                    None => Ok((StatusCode::CREATED, Json(report)).into_response()),
                }
            }
        }
        other => Err(ApiError::UnsupportedMediaType(format!(
            "content type {other:?} is not application/json or application/x-ndjson"
        ))),
    }
}

/// Reads an NDJSON stream line by line, committing every `stream_chunk` detections;
/// answers once everything is committed. A bad line is reported by its index (line number
/// minus one) and never stops the stream.
async fn ndjson(state: AppState, by: &Collector, body: Body) -> Result<Response, ApiError> {
    let mut lines = NdjsonChunks::new(body, state.options.max_line_bytes, state.options.stream_chunk, parse);
    let mut report = DetectionReport::default();
    loop {
        let items = lines.next_chunk().await.map_err(|e| {
            ApiError::BadRequest(format!("reading NDJSON stream after {} committed detections: {e}", report.accepted))
        })?;
        let Some(items) = items else { break };
        let items = items.into_iter().map(|(i, d)| item(i, d)).collect();
        let part = ingest_detections(&state, by, items).await?;
        report.accepted += part.accepted;
        report.ids.extend(part.ids);
        report.rejected.extend(part.rejected);
    }
    report.rejected.sort_by_key(|r| r.index);
    Ok((StatusCode::OK, Json(report)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchParams {
    camera: Option<String>,
    zone: Option<String>,
    kind: Option<DetectionKind>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// Detections whose estimated age range overlaps `age_min..=age_max` (either end alone:
    /// open on the other side).
    age_min: Option<u32>,
    age_max: Option<u32>,
    gender: Option<Gender>,
    limit: Option<usize>,
    /// The `next` of the previous page.
    after: Option<String>,
}

#[derive(Serialize)]
pub(super) struct SearchPage {
    detections: Vec<DetectionOut>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

pub(super) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<SearchPage>, ApiError> {
    let bad = ApiError::BadRequest;
    let Query(p) = params.map_err(|e| bad(e.body_text()))?;
    let object = Object::new("detections", format!("camera={}", p.camera.as_deref().unwrap_or("*")));
    state.authorize(&caller, Operation::DetectionsSearch, &state.access.node(), object).await?;
    let camera = p.camera.map(CameraId::new).transpose().map_err(|e| bad(e.to_string()))?;
    let age = match (p.age_min, p.age_max) {
        (None, None) => None,
        (min, max) => {
            let (min, max) = (min.unwrap_or(0), max.unwrap_or(u32::from(MAX_AGE)));
            if min > max || max > u32::from(MAX_AGE) {
                return Err(bad(format!("age_min {min} and age_max {max} are not a range of ages in 0..={MAX_AGE}")));
            }
            // Both are at most MAX_AGE here.
            Some(AgeRange { min: min as u8, max: max as u8 })
        }
    };
    let after = p
        .after
        .as_deref()
        .map(|c| DetectionCursor::decode(c).ok_or_else(|| bad(format!("after {c:?} is not a cursor this API gave"))))
        .transpose()?;
    if let (Some(from), Some(to)) = (p.from, p.to)
        && from > to
    {
        return Err(bad(format!("from {from} is after to {to}")));
    }
    let q = DetectionQuery {
        camera,
        zone: p.zone.filter(|z| !z.is_empty()),
        kind: p.kind,
        from: p.from,
        to: p.to,
        age,
        gender: p.gender,
        after,
        limit: p.limit.unwrap_or(100).clamp(1, 1000),
    };
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.search_detections(&q)).await??;
    Ok(Json(SearchPage {
        detections: page.detections.iter().map(DetectionOut::from).collect(),
        next: page.next.map(|c| c.encode()),
    }))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<DetectionOut>, ApiError> {
    let object = Object::new("detection", id);
    state.authorize(&caller, Operation::DetectionsSearch, &state.access.node(), object).await?;
    let store = state.store.clone();
    let stored = tokio::task::spawn_blocking(move || store.detection(id)).await??;
    Ok(Json(DetectionOut::from(&stored)))
}
