//! The node's own analysis of video (`crate::analysis`), the events it raised and the traffic
//! it counted.
//!
//! | route | operation |
//! |---|---|
//! | `POST /api/v1/cameras/{id}/analyse?from=&to=` | `video.analyse` (the camera's recording) |
//! | `POST /api/v1/footage/{sha256}/analyse` | `video.analyse` (an uploaded file) |
//! | `GET /api/v1/events?camera=&status=&limit=` | `events.view` |
//! | `GET /api/v1/events/{id}` and `…/frame` | `events.view` |
//! | `POST /api/v1/events/{id}/confirm` and `…/dismiss` | `events.confirm` (a person) |
//! | `GET /api/v1/traffic?camera=&from=&to=` | `stats.view` |
//!
//! An event is shared with no one until a person confirms it; confirming may raise it as a
//! border-breach incident, with its picture attached, notifying the partners named (as any
//! incident, under the agreements).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use limes_access::Operation;
use limes_audit::Object;
use limes_cooperation::area::Area;
use limes_cooperation::incident::{IncidentType, Severity};
use limes_model::AgencyId;
use limes_store::{EventDecision, SceneEventRow, TrafficCount};
use serde::Deserialize;

use super::watch::camera_of;
use super::{body_bytes_up_to, digest};
use crate::analysis::{self, Report};
use crate::incidents::{self, NewIncident};
use crate::{ApiError, AppState, Caller, read_lock};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Span {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// `POST /api/v1/cameras/{id}/analyse?from=&to=`: the camera's recording from the key frame at
/// or before `from` to `to` (at most an hour), analysed on its own clock.
pub(super) async fn recording(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(span): Query<Span>,
) -> Result<Json<Report>, ApiError> {
    let camera = camera_of(&id)?;
    state
        .authorize(&caller, Operation::VideoAnalyse, &state.camera_resource(&camera), Object::new("camera", &camera))
        .await?;
    let clip = crate::clips::cut(&state, &camera, span.from, span.to).await?;
    let dir = tempfile::tempdir_in(state.store.dir()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let path = dir.path().join("recording.mp4");
    tokio::fs::write(&path, &clip.mp4).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let report = analysis::analyse_file(&state, camera, path, clip.first_frame).await?;
    drop(dir);
    Ok(Json(report))
}

/// `POST /api/v1/footage/{sha256}/analyse`: an uploaded file, on the clock its upload gave.
pub(super) async fn footage(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Json<Report>, ApiError> {
    let sha256 = digest(&sha256)?.to_owned();
    let (store, key) = (state.store.clone(), sha256.clone());
    let footage = tokio::task::spawn_blocking(move || store.footage(&key))
        .await??
        .ok_or_else(|| ApiError::NotFound(format!("footage {sha256} not found")))?;
    let camera = camera_of(&footage.camera)?;
    state
        .authorize(&caller, Operation::VideoAnalyse, &state.camera_resource(&camera), Object::new("footage", &sha256))
        .await?;
    let path = super::footage::footage_dir(&state).join(&sha256);
    Ok(Json(analysis::analyse_file(&state, camera, path, footage.start).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventList {
    camera: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/events?camera=&status=pending|confirmed|dismissed&limit=`: newest first.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<EventList>,
) -> Result<Json<Vec<SceneEventRow>>, ApiError> {
    state.authorize(&caller, Operation::EventsView, &state.access.node(), Object::new("events", "list")).await?;
    if let Some(s) = &p.status
        && !matches!(s.as_str(), "pending" | "confirmed" | "dismissed")
    {
        return Err(ApiError::BadRequest(format!("status {s:?} is not pending, confirmed or dismissed")));
    }
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let store = state.store.clone();
    let rows =
        crate::federation::blocking_api(move || store.scene_events(p.camera.as_deref(), p.status.as_deref(), limit))
            .await?;
    Ok(Json(rows))
}

async fn load(state: &AppState, id: i64) -> Result<SceneEventRow, ApiError> {
    let store = state.store.clone();
    crate::federation::blocking_api(move || store.scene_event(id))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("event {id} not found")))
}

/// `GET /api/v1/events/{id}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<SceneEventRow>, ApiError> {
    state.authorize(&caller, Operation::EventsView, &state.access.node(), Object::new("event", id)).await?;
    Ok(Json(load(&state, id).await?))
}

/// `GET /api/v1/events/{id}/frame`: the picture the event was raised on (JPEG).
pub(super) async fn frame(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    state.authorize(&caller, Operation::EventsView, &state.access.node(), Object::new("event", id)).await?;
    let event = load(&state, id).await?;
    let path = event
        .frame_sha256
        .as_deref()
        .and_then(|sha| crate::files::path(&state, sha))
        .ok_or_else(|| ApiError::NotFound(format!("event {id} has no picture")))?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| ApiError::NotFound(format!("event {id}'s picture: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response())
}

/// `GET /api/v1/events/{id}/onvif`: a face count as ONVIF metadata (JSON, one frame of `Face`
/// objects with their boxes), as a Profile M camera publishes its analytics; each face's age
/// range and gender (`HumanFace`) only once a person confirmed the event.
pub(super) async fn onvif(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    state.authorize(&caller, Operation::EventsView, &state.access.node(), Object::new("event", id)).await?;
    let event = load(&state, id).await?;
    let faces = crate::analysis::face_detections(&event, event.status == "confirmed").ok_or_else(|| {
        ApiError::Unprocessable(format!("event {id} is a {}: only face counts are given as ONVIF metadata", event.kind))
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], limes_camera_formats::encode_onvif_json_detections(&faces))
        .into_response())
}

/// An incident to raise from a confirmed event.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IncidentFromEvent {
    severity: Severity,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    notified: Vec<AgencyId>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecideBody {
    #[serde(default)]
    note: Option<String>,
    /// Confirming only: raise the event as a border-breach incident notifying these partners.
    #[serde(default)]
    incident: Option<IncidentFromEvent>,
}

/// The longest note on a decision.
const MAX_NOTE: usize = 2000;

async fn decide(
    state: &AppState,
    caller: &Caller,
    id: i64,
    decision: EventDecision,
    body: Body,
) -> Result<SceneEventRow, ApiError> {
    state.authorize(caller, Operation::EventsConfirm, &state.access.node(), Object::new("event", id)).await?;
    let bytes = body_bytes_up_to(body, 64 << 10).await?;
    let b: DecideBody = if bytes.is_empty() {
        DecideBody { note: None, incident: None }
    } else {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Unprocessable(format!("the decision: {e}")))?
    };
    if b.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE || n.chars().any(|c| c.is_control() && c != '\n')) {
        return Err(ApiError::Unprocessable(format!("the note: at most {MAX_NOTE} characters, no control characters")));
    }
    if decision == EventDecision::Dismissed && b.incident.is_some() {
        return Err(ApiError::Unprocessable("a dismissed event raises no incident".into()));
    }
    let (store, by, note) = (state.store.clone(), caller.principal.id.clone(), b.note.clone());
    let (event, changed) = crate::federation::blocking_api(move || {
        store.decide_scene_event(id, decision, &by, note.as_deref(), Utc::now())
    })
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("event {id} not found")))?;
    if !changed {
        return Err(ApiError::Conflict(format!(
            "event {id} was {} by {} already",
            event.status,
            event.decided_by.as_deref().unwrap_or("someone")
        )));
    }
    tracing::info!(event = id, decision = decision.as_str(), by = %caller.principal.id, "an event of the node's analysis was decided");
    if decision == EventDecision::Confirmed
        && let Some(faces) = crate::analysis::face_detections(&event, true)
    {
        state.analysis.confirmed_faces.confirmed(crate::analysis::OnvifFaces {
            event: event.id,
            camera: event.camera.clone(),
            json: limes_camera_formats::encode_onvif_json_detections(&faces),
        });
    }
    let Some(wanted) = b.incident else { return Ok(event) };
    raise_incident(state, caller, event, wanted).await
}

/// Raises a confirmed event as a border-breach incident at its camera, its picture attached.
async fn raise_incident(
    state: &AppState,
    caller: &Caller,
    event: SceneEventRow,
    wanted: IncidentFromEvent,
) -> Result<SceneEventRow, ApiError> {
    state
        .authorize(caller, Operation::IncidentsManage, &state.access.node(), Object::new("incidents", "raise"))
        .await?;
    let camera = camera_of(&event.camera)?;
    let position = read_lock(&state.cameras).get(&camera).and_then(|c| c.position).ok_or_else(|| {
        ApiError::Unprocessable(format!("camera {camera} has no position: the incident would have no place"))
    })?;
    let what = match event.rule.as_str() {
        "" => format!("{} {}", event.class, event.kind.replace('_', " ")),
        rule => format!("{} {} {rule}", event.class, event.kind.replace('_', " ")),
    };
    let new = NewIncident {
        kind: IncidentType::BorderBreach,
        severity: wanted.severity,
        title: wanted.title.unwrap_or_else(|| format!("{what} at camera {camera}")),
        description: format!(
            "Raised by the node's video analysis at {} and confirmed by a person{}.",
            event.time.to_rfc3339(),
            event.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
        ),
        area: Area::point(position),
        notified: wanted.notified,
        exercise: event.exercise,
        by: caller.principal.id.clone(),
    };
    let incident = incidents::raise(state, new).await?;
    if let Some(path) = event.frame_sha256.as_deref().and_then(|sha| crate::files::path(state, sha)) {
        let bytes =
            tokio::fs::read(&path).await.map_err(|e| ApiError::Internal(format!("the event's picture: {e}")))?;
        let name = format!("event-{}.jpg", event.id);
        incidents::attach(state, &incident.id, &caller.principal.id, name, "image/jpeg".into(), bytes.into()).await?;
    }
    let (store, id, incident_id) = (state.store.clone(), event.id, incident.id.to_string());
    crate::federation::blocking_api(move || {
        store.set_scene_event_incident(id, &incident_id)?;
        store.scene_event(id)
    })
    .await?
    .ok_or_else(|| ApiError::Internal("the event vanished".into()))
}

/// `POST /api/v1/events/{id}/confirm` `{note?, incident?: {severity, title?, notified}}`.
pub(super) async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Body,
) -> Result<Json<SceneEventRow>, ApiError> {
    Ok(Json(decide(&state, &caller, id, EventDecision::Confirmed, body).await?))
}

/// `POST /api/v1/events/{id}/dismiss` `{note?}`.
pub(super) async fn dismiss(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Body,
) -> Result<Json<SceneEventRow>, ApiError> {
    Ok(Json(decide(&state, &caller, id, EventDecision::Dismissed, body).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TrafficParams {
    camera: Option<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// `GET /api/v1/traffic?camera=&from=&to=`: vehicles counted per interval, line, lane,
/// direction and class (at most 31 days).
pub(super) async fn traffic(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<TrafficParams>,
) -> Result<Json<Vec<TrafficCount>>, ApiError> {
    state.authorize(&caller, Operation::StatsView, &state.access.node(), Object::new("traffic", "counts")).await?;
    if p.to <= p.from || p.to - p.from > chrono::TimeDelta::days(31) {
        return Err(ApiError::BadRequest("the range must end after it starts and last at most 31 days".into()));
    }
    let store = state.store.clone();
    let rows = crate::federation::blocking_api(move || store.traffic_counts(p.camera.as_deref(), p.from, p.to)).await?;
    Ok(Json(rows))
}

/// `GET /api/v1/analysis/cameras`: the cameras analysed live — running or not, pictures
/// decoded and analysed, plates read, events raised, the last error.
pub(super) async fn live(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<analysis::LiveStatus>>, ApiError> {
    state.authorize(&caller, Operation::StatsView, &state.access.node(), Object::new("analysis", "cameras")).await?;
    Ok(Json(state.analysis.live_statuses()))
}
