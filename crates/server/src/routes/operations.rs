//! Joint operations (`crate::operations`): open, list, open one with its timeline, write to,
//! watch live.
//!
//! | route | operation |
//! |---|---|
//! | `GET /api/v1/operations` | `operations.view` |
//! | `POST /api/v1/operations` | `operations.manage` |
//! | `GET /api/v1/operations/{origin}/{n}` | `operations.view` |
//! | `POST /api/v1/operations/{origin}/{n}/events` | `operations.manage` |
//! | `GET /api/v1/operations/stream` | `operations.view` (Server-Sent Events) |
//!
//! A partner's operation is shown while the agreement with its origin allows the caller's
//! purpose for joint operations.

use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, Sse};
use chrono::{DateTime, Utc};
use futures::Stream;
use limes_access::Operation as Op;
use limes_agreement::{Category, Labels};
use limes_audit::Object;
use limes_cooperation::operation::{OpChange, OpEntryApplied, Operation};
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};

use super::{body_bytes, json, purpose_of, shared_id, utf8};
use crate::federation::may_use_now;
use crate::operations::{self, NewOperation};
use crate::{ApiError, AppState, Caller};

fn visible(state: &AppState, purpose: &str, origin: &AgencyId, from: DateTime<Utc>) -> bool {
    origin.as_str() == state.access.options.agency
        || may_use_now(state, &Labels::full(Category::JointOperations, origin.as_str(), purpose), from)
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<super::FoldedListParams>,
) -> Result<Json<Vec<Operation>>, ApiError> {
    let grant =
        state.authorize(&caller, Op::OperationsView, &state.access.node(), Object::new("operations", "list")).await?;
    let purpose = purpose_of(&state, grant);
    let q = p.query();
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.list_folded::<Operation>(&q)).await??;
    Ok(Json(found.into_iter().filter(|o| visible(&state, &purpose, &o.id.origin, o.from)).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OpenBody {
    name: String,
    #[serde(default)]
    description: String,
    /// Default: now.
    #[serde(default)]
    from: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    members: Vec<AgencyId>,
    retention_days: u32,
    #[serde(default)]
    exercise: bool,
}

pub(super) async fn open(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<Operation>), ApiError> {
    state.authorize(&caller, Op::OperationsManage, &state.access.node(), Object::new("operations", "open")).await?;
    let bytes = body_bytes(&state, body).await?;
    let b: OpenBody = json("operation", utf8(&bytes)?)?;
    let new = NewOperation {
        name: b.name,
        description: b.description,
        from: b.from.unwrap_or_else(Utc::now),
        until: b.until,
        members: b.members,
        retention_days: b.retention_days,
        exercise: b.exercise,
        by: caller.principal.id.clone(),
    };
    Ok((StatusCode::CREATED, Json(operations::open(&state, new).await?)))
}

/// An operation with its timeline.
#[derive(Serialize)]
pub(super) struct Shown {
    #[serde(flatten)]
    operation: Operation,
    timeline: Vec<OpEntryApplied>,
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
) -> Result<Json<Shown>, ApiError> {
    let id = shared_id(&origin, &n)?;
    let grant = state
        .authorize(&caller, Op::OperationsView, &state.access.node(), Object::new("operation", id.to_string()))
        .await?;
    let purpose = purpose_of(&state, grant);
    let store = state.store.clone();
    let found = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || store.folded::<Operation>(&id)).await??
    };
    match found {
        Some((operation, timeline)) if visible(&state, &purpose, &operation.id.origin, operation.from) => {
            Ok(Json(Shown { operation, timeline }))
        }
        _ => Err(ApiError::NotFound(format!("operation {id} not found"))),
    }
}

pub(super) async fn write(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
    body: Body,
) -> Result<(StatusCode, Json<Operation>), ApiError> {
    let id = shared_id(&origin, &n)?;
    state
        .authorize(&caller, Op::OperationsManage, &state.access.node(), Object::new("operation", id.to_string()))
        .await?;
    let bytes = body_bytes(&state, body).await?;
    let mut change: OpChange = json("operation event", utf8(&bytes)?)?;
    match &mut change {
        OpChange::Opened { .. } => {
            return Err(ApiError::Unprocessable("operations are opened with POST /operations".into()));
        }
        OpChange::Hit { .. } => {
            return Err(ApiError::Unprocessable("hits are the node's to record, from its cameras' reads".into()));
        }
        OpChange::Document(_) => {
            return Err(ApiError::Unprocessable("documents are added with POST …/documents".into()));
        }
        OpChange::Entry { plate, country, .. } => {
            // The plate as the node matches it.
            let cc = match country.as_deref().filter(|c| !c.is_empty()) {
                Some(c) => Some(
                    limes_plate::CountryCode::parse(c).map_err(|e| ApiError::Unprocessable(format!("country: {e}")))?,
                ),
                None => None,
            };
            let n = limes_plate::normalize(plate, cc)
                .map_err(|e| ApiError::Unprocessable(format!("plate {plate:?}: {e}")))?;
            *plate = n.text.as_str().to_owned();
        }
        OpChange::EntryRemoved { plate } => {
            if let Ok(n) = limes_plate::normalize(plate, None) {
                *plate = n.text.as_str().to_owned();
            }
        }
        _ => {}
    }
    let op = operations::write(&state, &id, &caller.principal.id, change).await?;
    Ok((StatusCode::CREATED, Json(op)))
}

/// `POST /operations/{origin}/{n}/documents?name=`: the body is the file, kept here and sent to
/// the other members.
pub(super) async fn add_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
    Query(p): Query<super::FileName>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Operation>), ApiError> {
    let id = shared_id(&origin, &n)?;
    state
        .authorize(&caller, Op::OperationsManage, &state.access.node(), Object::new("operation", id.to_string()))
        .await?;
    let media_type = super::file_media_type(&headers);
    let bytes = body_bytes(&state, body).await?;
    let op = operations::add_document(&state, &id, &caller.principal.id, p.name, media_type, bytes).await?;
    Ok((StatusCode::CREATED, Json(op)))
}

/// `GET /operations/{origin}/{n}/documents/{sha256}`: a document's bytes, once they are here.
pub(super) async fn document(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n, sha256)): Path<(String, String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let id = shared_id(&origin, &n)?;
    let grant = state
        .authorize(&caller, Op::OperationsView, &state.access.node(), Object::new("operation", id.to_string()))
        .await?;
    let purpose = purpose_of(&state, grant);
    let found = {
        let (store, id) = (state.store.clone(), id.clone());
        tokio::task::spawn_blocking(move || store.folded::<Operation>(&id)).await??
    };
    let not_found = || ApiError::NotFound(format!("document {sha256} of operation {id} not found"));
    let (operation, _) =
        found.filter(|(o, _)| visible(&state, &purpose, &o.id.origin, o.from)).ok_or_else(not_found)?;
    let d = operation.documents.iter().find(|d| d.digests().any(|x| x == sha256)).ok_or_else(not_found)?;
    // A member's picture arrives as its anonymised copy, which stands for it here; a member's
    // file arrives beside its event: until it has, 404 says so.
    let path = crate::files::path(&state, &sha256)
        .or_else(|| d.anonymised.as_ref().and_then(|c| crate::files::path(&state, &c.sha256)))
        .ok_or_else(|| ApiError::NotFound(format!("document {sha256} has not arrived yet")))?;
    super::file_response(&path, &d.name, &d.media_type).await
}

pub(super) async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let grant =
        state.authorize(&caller, Op::OperationsView, &state.access.node(), Object::new("operations", "live")).await?;
    let purpose = purpose_of(&state, grant);
    let rx = state.incidents.operations.subscribe();
    Ok(super::live_stream(rx, "operation", "/api/v1/operations", move |l| {
        visible(&state, &purpose, &l.origin, l.raised)
    }))
}
