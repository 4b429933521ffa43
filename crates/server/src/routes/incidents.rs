//! Incidents (`crate::incidents`): raise, list, open with the timeline, write to, acknowledge,
//! watch live.
//!
//! | route | operation |
//! |---|---|
//! | `GET /api/v1/incidents` | `incidents.view` |
//! | `POST /api/v1/incidents` | `incidents.manage` |
//! | `GET /api/v1/incidents/{origin}/{n}` | `incidents.view` |
//! | `POST /api/v1/incidents/{origin}/{n}/events` | `incidents.manage` (a note, a status, a severity, agencies notified) |
//! | `POST /api/v1/incidents/{origin}/{n}/ack` | `incidents.manage` |
//! | `GET /api/v1/incidents/stream` | `incidents.view` (Server-Sent Events) |
//!
//! A partner's incident is shown only while the agreement with its origin allows the
//! caller's purpose for incidents (its retention counted from the raise).

use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, Sse};
use chrono::{DateTime, Utc};
use futures::Stream;
use limes_access::Operation;
use limes_audit::Object;
use limes_cooperation::area::Area;
use limes_cooperation::incident::{Change, IncidentType, Severity};
use limes_model::{AgencyId, GeoPoint};
use serde::Deserialize;

use super::{body_bytes, json, purpose_of, shared_id, utf8};
use crate::federation::may_use_now;
use crate::incidents::{self, IncidentError, NewIncident, Shown};
use crate::{ApiError, AppState, Caller};

impl From<IncidentError> for ApiError {
    fn from(e: IncidentError) -> Self {
        match e {
            IncidentError::Invalid(m) => ApiError::Unprocessable(m),
            e @ IncidentError::NotFound(_) => ApiError::NotFound(e.to_string()),
            IncidentError::Conflict(m) => ApiError::Conflict(m),
            IncidentError::Failed(m) => ApiError::Internal(m),
        }
    }
}

/// Whether the caller, who declared `purpose`, may see an incident of `origin` raised at
/// `raised`: the node's own always; a partner's as the agreement with it says.
fn visible(state: &AppState, purpose: &str, origin: &AgencyId, raised: DateTime<Utc>) -> bool {
    origin.as_str() == state.access.options.agency
        || may_use_now(state, &crate::federation::incidents::labels(origin.as_str(), purpose), raised)
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<super::FoldedListParams>,
) -> Result<Json<Vec<Shown>>, ApiError> {
    let grant = state
        .authorize(&caller, Operation::IncidentsView, &state.access.node(), Object::new("incidents", "list"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let q = p.query();
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.incidents(&q)).await??;
    Ok(Json(
        found
            .into_iter()
            .filter(|i| visible(&state, &purpose, &i.id.origin, i.raised))
            .map(|i| Shown::new(&state, i, None))
            .collect(),
    ))
}

/// A new incident as posted.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RaiseBody {
    #[serde(rename = "type")]
    kind: IncidentType,
    severity: Severity,
    title: String,
    #[serde(default)]
    description: String,
    /// A GeoJSON Point, Polygon or MultiPolygon...
    #[serde(default)]
    area: Option<Area>,
    /// ...or a position.
    #[serde(default)]
    position: Option<GeoPoint>,
    #[serde(default)]
    notified: Vec<AgencyId>,
    #[serde(default)]
    exercise: bool,
}

pub(super) async fn raise(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<Shown>), ApiError> {
    state
        .authorize(&caller, Operation::IncidentsManage, &state.access.node(), Object::new("incidents", "raise"))
        .await?;
    let bytes = body_bytes(&state, body).await?;
    let b: RaiseBody = json("incident", utf8(&bytes)?)?;
    let area = match (b.area, b.position) {
        (Some(a), None) => a,
        (None, Some(p)) => Area::point(p),
        _ => return Err(ApiError::Unprocessable("an incident has an area (GeoJSON) or a position, not both".into())),
    };
    let new = NewIncident {
        kind: b.kind,
        severity: b.severity,
        title: b.title,
        description: b.description,
        area,
        notified: b.notified,
        exercise: b.exercise,
        by: caller.principal.id.clone(),
    };
    let incident = incidents::raise(&state, new).await?;
    Ok((StatusCode::CREATED, Json(Shown::new(&state, incident, None))))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
) -> Result<Json<Shown>, ApiError> {
    let id = shared_id(&origin, &n)?;
    let grant = state
        .authorize(&caller, Operation::IncidentsView, &state.access.node(), Object::new("incident", id.to_string()))
        .await?;
    let purpose = purpose_of(&state, grant);
    let store = state.store.clone();
    let found = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || store.incident(&id)).await??
    };
    match found {
        Some((i, timeline)) if visible(&state, &purpose, &i.id.origin, i.raised) => {
            Ok(Json(Shown::new(&state, i, Some(timeline))))
        }
        _ => Err(ApiError::NotFound(format!("incident {id} not found"))),
    }
}

pub(super) async fn write(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
    body: Body,
) -> Result<(StatusCode, Json<Shown>), ApiError> {
    let id = shared_id(&origin, &n)?;
    state
        .authorize(&caller, Operation::IncidentsManage, &state.access.node(), Object::new("incident", id.to_string()))
        .await?;
    let bytes = body_bytes(&state, body).await?;
    let change: Change = json("incident event", utf8(&bytes)?)?;
    match change {
        Change::Note { .. }
        | Change::Status { .. }
        | Change::Severity { .. }
        | Change::Acknowledged
        | Change::Notified { .. } => {}
        Change::Raised { .. } => {
            return Err(ApiError::Unprocessable("incidents are raised with POST /incidents".into()));
        }
        Change::Escalated { .. } => {
            return Err(ApiError::Unprocessable("the node escalates by itself when a deadline passes".into()));
        }
        Change::Attached(_) => {
            return Err(ApiError::Unprocessable("files are attached with POST …/attachments".into()));
        }
    }
    let (incident, _) = incidents::write(&state, &id, &caller.principal.id, change).await?;
    Ok((StatusCode::CREATED, Json(Shown::new(&state, incident, None))))
}

pub(super) async fn ack(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
) -> Result<Json<Shown>, ApiError> {
    let id = shared_id(&origin, &n)?;
    state
        .authorize(&caller, Operation::IncidentsManage, &state.access.node(), Object::new("incident", id.to_string()))
        .await?;
    let (incident, _) = incidents::write(&state, &id, &caller.principal.id, Change::Acknowledged).await?;
    Ok(Json(Shown::new(&state, incident, None)))
}

pub(super) async fn attach(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
    Query(p): Query<super::FileName>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Shown>), ApiError> {
    let id = shared_id(&origin, &n)?;
    state
        .authorize(&caller, Operation::IncidentsManage, &state.access.node(), Object::new("incident", id.to_string()))
        .await?;
    let media_type = super::file_media_type(&headers);
    let bytes = body_bytes(&state, body).await?;
    let incident = incidents::attach(&state, &id, &caller.principal.id, p.name, media_type, bytes).await?;
    Ok((StatusCode::CREATED, Json(Shown::new(&state, incident, None))))
}

pub(super) async fn attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n, sha256)): Path<(String, String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let id = shared_id(&origin, &n)?;
    let grant = state
        .authorize(&caller, Operation::IncidentsView, &state.access.node(), Object::new("incident", id.to_string()))
        .await?;
    let purpose = purpose_of(&state, grant);
    let found = {
        let (store, id) = (state.store.clone(), id.clone());
        tokio::task::spawn_blocking(move || store.incident(&id)).await??
    };
    let not_found = || ApiError::NotFound(format!("attachment {sha256} of incident {id} not found"));
    let (incident, _) =
        found.filter(|(i, _)| visible(&state, &purpose, &i.id.origin, i.raised)).ok_or_else(not_found)?;
    let a = incident.attachments.iter().find(|a| a.digests().any(|d| d == sha256)).ok_or_else(not_found)?;
    // A partner's picture arrives as its anonymised copy, which stands for it here; a partner's
    // file arrives beside its event: until it has, 404 says so.
    let path = crate::files::path(&state, &sha256)
        .or_else(|| a.anonymised.as_ref().and_then(|c| crate::files::path(&state, &c.sha256)))
        .ok_or_else(|| ApiError::NotFound(format!("attachment {sha256} has not arrived yet")))?;
    super::file_response(&path, &a.name, &a.media_type).await
}

pub(super) async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let grant = state
        .authorize(&caller, Operation::IncidentsView, &state.access.node(), Object::new("incidents", "live"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let rx = state.incidents.live.subscribe();
    Ok(super::live_stream(rx, "incident", "/api/v1/incidents", move |l| visible(&state, &purpose, &l.origin, l.raised)))
}
