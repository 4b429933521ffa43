//! Hotlist import, listing and investigative search.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use limes_hotlist::{MaxEdits, Query as HotlistQuery, Wildcard};
use limes_model::HotlistEntry;
use limes_store::HotlistUpdate;
use serde::{Deserialize, Serialize};

use super::reads::MatchMode;
use super::{body_bytes, json, media_type, utf8};
use crate::import::{HotlistEdit, ImportError, hotlist_csv, hotlist_json};
use crate::{ApiError, AppState, Caller, read_lock, write_lock};
use limes_access::Operation;
use limes_audit::Object;

#[derive(Serialize)]
pub(super) struct ImportReport {
    imported: usize,
    /// The ids given to the imported entries, in file order.
    ids: Vec<u64>,
    errors: Vec<ImportError>,
}

/// Imports entries from CSV (`text/csv`) or a JSON array; good rows are kept, bad ones reported.
pub(super) async fn import(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    state.authorize(&caller, Operation::HotlistManage, &state.access.node(), Object::new("hotlist", "import")).await?;
    let bytes = body_bytes(&state, body).await?;
    let text = utf8(&bytes)?;
    let parsed = match media_type(&headers).as_str() {
        "text/csv" => hotlist_csv(text.as_bytes()),
        "application/json" | "" => hotlist_json(text.as_bytes()),
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "content type {other:?} is not text/csv or application/json"
            )));
        }
    }
    .map_err(ApiError::Unprocessable)?;
    let store = state.store.clone();
    let (entries, mut errors) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let mut entries: Vec<HotlistEntry> = Vec::with_capacity(parsed.records.len());
        let mut errors = parsed.errors;
        for (at, h) in parsed.records {
            // The store gives the ids, as it adds them.
            match h.into_entry(0) {
                Ok(e) => entries.push(e),
                Err(error) => errors.push(ImportError { at, error }),
            }
        }
        store.insert_hotlist(&mut entries)?;
        Ok((entries, errors))
    })
    .await??;
    errors.sort_by_key(|e| e.at);
    let ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
    {
        let mut index = write_lock(&state.hotlist);
        for e in entries {
            index.insert(e);
        }
    }
    state.hotlist_changed.notify_one();
    let status = if ids.is_empty() && !errors.is_empty() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, Json(ImportReport { imported: ids.len(), ids, errors })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// Entries with ids above this (the last id of the previous page).
    after: Option<u64>,
    limit: Option<usize>,
}

/// An entry as listed: a partner's says where it came from.
#[derive(Serialize)]
pub(super) struct Listed {
    #[serde(flatten)]
    entry: HotlistEntry,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_by: Option<SharedBy>,
}

/// The partner that shared an entry, and its id for it.
#[derive(Serialize)]
pub(super) struct SharedBy {
    partner: String,
    partner_id: u64,
    received: chrono::DateTime<Utc>,
}

fn listed(state: &AppState, entry: HotlistEntry) -> Listed {
    let shared_by = read_lock(&state.partner_entries).get(&entry.id).map(|o| SharedBy {
        partner: o.partner.clone(),
        partner_id: o.partner_id,
        received: o.received,
    });
    Listed { entry, shared_by }
}

/// Entries by id, a page at a time.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<Listed>>, ApiError> {
    let object = Object::new("hotlist", format!("after={}", p.after.unwrap_or(0)));
    state.authorize(&caller, Operation::HotlistView, &state.access.node(), object).await?;
    let store = state.store.clone();
    let (after, limit) = (p.after.unwrap_or(0), p.limit.unwrap_or(1000).clamp(1, 10_000));
    let page = tokio::task::spawn_blocking(move || store.hotlist_page(after, limit)).await??;
    Ok(Json(page.into_iter().map(|e| listed(&state, e)).collect()))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<Json<Listed>, ApiError> {
    state.authorize(&caller, Operation::HotlistView, &state.access.node(), Object::hotlist(id)).await?;
    let entry = read_lock(&state.hotlist).get(id);
    entry.map(|e| Json(listed(&state, e))).ok_or_else(|| ApiError::NotFound(format!("hotlist entry {id} not found")))
}

/// Changes an entry's reason, priority, expiry, fuzzy flag, note and vehicle in place
/// ([`HotlistEdit`]); answers the entry as it is now. A partner's entry is its owner's to
/// change (409). The partners this node shares the entry with get the change at once.
pub(super) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
    body: Body,
) -> Result<Json<Listed>, ApiError> {
    state.authorize(&caller, Operation::HotlistManage, &state.access.node(), Object::hotlist(id)).await?;
    let bytes = body_bytes(&state, body).await?;
    let edit: HotlistEdit = json("hotlist entry", utf8(&bytes)?)?;
    let partners = |partner: &str| {
        ApiError::Conflict(format!("hotlist entry {id} was shared by {partner}: only its owner changes it"))
    };
    if let Some(origin) = read_lock(&state.partner_entries).get(&id) {
        return Err(partners(&origin.partner));
    }
    let current = read_lock(&state.hotlist).get(id);
    let current = current.ok_or_else(|| ApiError::NotFound(format!("hotlist entry {id} not found")))?;
    let entry = edit.apply(current).map_err(ApiError::Unprocessable)?;
    let store = state.store.clone();
    let stored = entry.clone();
    match tokio::task::spawn_blocking(move || store.update_hotlist_entry(&stored)).await?? {
        HotlistUpdate::Updated => {}
        HotlistUpdate::NotFound => return Err(ApiError::NotFound(format!("hotlist entry {id} not found"))),
        HotlistUpdate::PartnersEntry => return Err(partners("a partner")),
    }
    write_lock(&state.hotlist).insert(entry.clone());
    state.hotlist_changed.notify_one();
    Ok(Json(listed(&state, entry)))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<u64>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&caller, Operation::HotlistManage, &state.access.node(), Object::hotlist(id)).await?;
    let store = state.store.clone();
    if !tokio::task::spawn_blocking(move || store.delete_hotlist_entry(id)).await?? {
        return Err(ApiError::NotFound(format!("hotlist entry {id} not found")));
    }
    // A partner's entry deleted here: the partner gets a deletion receipt; one of ours: the
    // partners it was shared with are told it is gone.
    let theirs = crate::federation::hotlist::forget(&state, &[id]);
    crate::federation::send_deletion_receipts(&state, &theirs, limes_federation::DeletionReason::Erasure).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchParams {
    plate: String,
    #[serde(default, rename = "match")]
    mode: MatchMode,
    distance: Option<u8>,
    country: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub(super) struct Found {
    entry: HotlistEntry,
    distance: u8,
}

/// Investigative search of the hotlist: exact, look-alike, edit distance or wildcard.
pub(super) async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SearchParams>,
) -> Result<Json<Vec<Found>>, ApiError> {
    state.authorize(&caller, Operation::HotlistView, &state.access.node(), Object::plate(&p.plate)).await?;
    let bad = |m: String| ApiError::BadRequest(m);
    let country = super::country_param(p.country.as_deref())?;
    let query = match p.mode {
        MatchMode::Wildcard => {
            HotlistQuery::Wildcard(Wildcard::parse(&p.plate).map_err(|e| bad(format!("wildcard: {e}")))?)
        }
        mode => {
            let n = limes_plate::normalize(&p.plate, country).map_err(|e| bad(format!("plate: {e}")))?;
            match mode {
                MatchMode::Exact => HotlistQuery::Exact(n.text),
                MatchMode::Lookalike => HotlistQuery::Lookalike(n.text),
                _ => {
                    let max = MaxEdits::try_from(p.distance.unwrap_or(1)).map_err(|e| bad(e.to_string()))?;
                    HotlistQuery::EditDistance { plate: n.text, max }
                }
            }
        }
    };
    let limit = p.limit.unwrap_or(100).clamp(1, 10_000);
    let index = state.hotlist.clone();
    let found = tokio::task::spawn_blocking(move || {
        let index = read_lock(&index);
        index
            .search(&query, Utc::now(), limit)
            .into_iter()
            .filter_map(|h| index.get(h.entry_id).map(|entry| Found { entry, distance: h.distance }))
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(Json(found))
}
