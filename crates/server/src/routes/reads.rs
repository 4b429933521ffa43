//! `POST /api/v1/reads` (one read, a JSON array, or an NDJSON stream) and read search.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use limes_hotlist::{Wildcard, levenshtein_within};
use limes_model::CameraId;
use limes_plate::lookalike_key;
use limes_store::{PlateFilter, ReadCursor, ReadQuery, StoredRead};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ndjson::NdjsonChunks;
use super::{body_bytes, json, media_type, utf8};
use crate::wire::{IngestReport, ReadIn};
use crate::{ApiError, AppState, Caller, Collector, ingest_reads};
use limes_access::Operation;
use limes_audit::Object;

pub(super) async fn post(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let grant =
        state.authorize(&caller, Operation::ReadsIngest, &state.access.node(), Object::new("reads", "new")).await?;
    let by = Collector::caller(&state, &caller, &grant);
    match media_type(&headers).as_str() {
        "application/x-ndjson" | "application/jsonl" | "application/ndjson" => ndjson(state, &by, body).await,
        "application/json" | "" => {
            let bytes = body_bytes(&state, body).await?;
            let text = utf8(&bytes)?;
            if text.trim_start().starts_with('[') {
                let raws: Vec<&RawValue> = json("batch", text)?;
                let items = raws
                    .into_iter()
                    .enumerate()
                    .map(|(i, raw)| (i, serde_json::from_str::<ReadIn>(raw.get()).map_err(|e| e.to_string())))
                    .collect::<Vec<_>>();
                let n = items.len();
                let report = ingest_reads(&state, &by, items).await?;
                let status =
                    if n > 0 && report.accepted == 0 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
                Ok((status, Json(report)).into_response())
            } else {
                let read: ReadIn = json("read", text)?;
                let report = ingest_reads(&state, &by, vec![(0, Ok(read))]).await?;
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

/// Reads an NDJSON stream line by line, committing every `stream_chunk` reads;
/// answers once everything is committed. A bad line is reported by its index
/// (line number minus one) and never stops the stream.
async fn ndjson(state: AppState, by: &Collector, body: Body) -> Result<Response, ApiError> {
    let parse = |line: &str| serde_json::from_str::<ReadIn>(line).map_err(|e| e.to_string());
    let mut lines = NdjsonChunks::new(body, state.options.max_line_bytes, state.options.stream_chunk, parse);
    let mut report = IngestReport::default();
    loop {
        let items = lines.next_chunk().await.map_err(|e| {
            // The client went away or the body broke: what was committed stays.
            ApiError::BadRequest(format!("reading NDJSON stream after {} committed reads: {e}", report.accepted))
        })?;
        match items {
            Some(items) => merge(&mut report, ingest_reads(&state, by, items).await?),
            None => break,
        }
    }
    report.rejected.sort_by_key(|r| r.index);
    Ok((StatusCode::OK, Json(report)).into_response())
}

fn merge(into: &mut IngestReport, part: IngestReport) {
    into.accepted += part.accepted;
    into.alerts += part.alerts;
    into.ids.extend(part.ids);
    into.rejected.extend(part.rejected);
}

/// How a search matches plates.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MatchMode {
    /// The grammar-repaired canonical text.
    #[default]
    Exact,
    /// Equal after look-alike folding.
    Lookalike,
    /// Within `distance` edits (Levenshtein).
    Fuzzy,
    /// `*` for any run, `?` for one character.
    Wildcard,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchParams {
    plate: Option<String>,
    #[serde(default, rename = "match")]
    mode: MatchMode,
    distance: Option<u8>,
    country: Option<String>,
    camera: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub(super) struct SearchPage {
    reads: Vec<StoredRead>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

pub(super) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SearchParams>,
) -> Result<Json<SearchPage>, ApiError> {
    let object = match p.plate.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(plate) => Object::plate(plate),
        None => Object::new("reads", format!("camera={}", p.camera.as_deref().unwrap_or("*"))),
    };
    state.authorize(&caller, Operation::ReadsSearch, &state.access.node(), object).await?;
    let bad = |m: String| ApiError::BadRequest(m);
    let country = super::country_param(p.country.as_deref())?;
    let plate = match p.plate.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(text) => Some(match p.mode {
            MatchMode::Exact => {
                let n = limes_plate::normalize(text, country).map_err(|e| bad(format!("plate: {e}")))?;
                PlateFilter::Exact(n.text)
            }
            MatchMode::Lookalike => {
                let t = limes_plate::clean(text).map_err(|e| bad(format!("plate: {e}")))?;
                PlateFilter::Lookalike(lookalike_key(&t).key())
            }
            MatchMode::Fuzzy => {
                let t = limes_plate::clean(text).map_err(|e| bad(format!("plate: {e}")))?;
                let k = p.distance.unwrap_or(1);
                if !(1..=2).contains(&k) {
                    return Err(bad(format!("distance {k} is not 1 or 2")));
                }
                PlateFilter::Matches(Arc::new(move |s: &str| {
                    levenshtein_within(s.as_bytes(), t.as_bytes(), k).is_some()
                }))
            }
            MatchMode::Wildcard => {
                let w = Wildcard::parse(text).map_err(|e| bad(format!("wildcard: {e}")))?;
                PlateFilter::Matches(Arc::new(move |s: &str| w.matches(s.as_bytes())))
            }
        }),
    };
    let camera = p.camera.map(CameraId::new).transpose().map_err(|e| bad(e.to_string()))?;
    let after = p
        .cursor
        .as_deref()
        .map(|c| ReadCursor::decode(c).ok_or_else(|| bad(format!("cursor {c:?} is not one this API gave"))))
        .transpose()?;
    let q = ReadQuery {
        plate,
        camera,
        from: p.from,
        to: p.to,
        after,
        limit: p.limit.unwrap_or(100).clamp(1, 1000),
        max_scan: 500_000,
    };
    let store = state.store.clone();
    let mut page = tokio::task::spawn_blocking(move || store.search_reads(&q)).await??;
    page.reads.retain(|r| !state.is_restricted(r.plate.as_str()));
    Ok(Json(SearchPage { reads: page.reads, next: page.next.map(|c| c.encode()) }))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<StoredRead>, ApiError> {
    state.authorize(&caller, Operation::ReadsView, &state.access.node(), Object::reads(id, id)).await?;
    let store = state.store.clone();
    let read = tokio::task::spawn_blocking(move || store.read(id)).await??;
    state.refuse_restricted(&caller, read.plate.as_str(), Object::reads(id, id)).await?;
    Ok(Json(read))
}
