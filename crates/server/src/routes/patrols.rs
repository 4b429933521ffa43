//! Patrol units (`crate::patrols`): register, report positions and status, see where units
//! are and have been, suggest and assign units, watch live.
//!
//! | route | operation |
//! |---|---|
//! | `GET /api/v1/patrols/codes` | any signed-in caller (the code lists, for translations) |
//! | `GET /api/v1/patrols/units` | `patrols.view` |
//! | `POST /api/v1/patrols/units` | `patrols.manage` (register or change a unit) |
//! | `GET /api/v1/patrols/units/{agency}/{code}` | `patrols.view` |
//! | `POST /api/v1/patrols/units/{agency}/{code}/positions` | `patrols.report` (one or an array) |
//! | `POST /api/v1/patrols/units/{agency}/{code}/status` | `patrols.report` |
//! | `GET /api/v1/patrols/units/{agency}/{code}/route` | `patrols.view` |
//! | `GET /api/v1/patrols/positions` | `patrols.view` (the latest of each unit) |
//! | `GET /api/v1/patrols/assignments`, `POST` | `patrols.view`, `patrols.manage` |
//! | `GET /api/v1/patrols/suggestions` | `patrols.view` |
//! | `GET /api/v1/patrols/stream` | `patrols.view` (Server-Sent Events) |
//!
//! A partner's units, positions and assignments are shown only while the agreement with the
//! partner allows the caller's purpose for `patrol-positions` (retention counted from the
//! position's or the change's time).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures::Stream;
use limes_access::Operation;
use limes_agreement::{Category, Labels};
use limes_audit::Object;
use limes_cooperation::incident::IncidentId;
use limes_cooperation::patrol::{
    self, AlertRef, Crew, CrewRole, Position, SuggestOptions, Target, Unit, UnitId, UnitKind, UnitStatus, Verdict,
};
use limes_model::{AgencyId, GeoPoint};
use limes_store::AssignmentQuery;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::alerts::async_stream;
use super::{body_bytes, json, purpose_of, utf8};
use crate::federation::{may_access, may_use_now};
use crate::patrols::{self, PatrolFailure, Shown};
use crate::wire::Rejected;
use crate::{ApiError, AppState, Caller, Collector};

impl From<PatrolFailure> for ApiError {
    fn from(e: PatrolFailure) -> Self {
        match e {
            PatrolFailure::Invalid(m) => ApiError::Unprocessable(m),
            PatrolFailure::NotFound(m) => ApiError::NotFound(m),
            PatrolFailure::Conflict(m) => ApiError::Conflict(m),
            PatrolFailure::Failed(m) => ApiError::Internal(m),
        }
    }
}

/// Whether the caller, who declared `purpose`, may see data of `agency`'s units held since
/// `since`: this agency's always; a partner's as the agreement with it says.
fn visible(state: &AppState, purpose: &str, agency: &AgencyId, since: DateTime<Utc>) -> bool {
    agency.as_str() == state.access.options.agency
        || may_use_now(state, &Labels::full(Category::PatrolPositions, agency.as_str(), purpose), since)
}

fn unit_id(agency: &str, code: &str) -> Result<UnitId, ApiError> {
    UnitId::new(agency, code).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The code lists, each code in the order the domain lists it: what the page translates.
#[derive(Serialize)]
pub(super) struct Codes {
    kind: Vec<&'static str>,
    status: Vec<&'static str>,
    crew_role: Vec<&'static str>,
}

/// Any signed-in caller may read the code lists: they hold no data.
pub(super) async fn codes(_caller: Caller) -> Json<Codes> {
    Json(Codes {
        kind: UnitKind::ALL.iter().map(|c| c.id()).collect(),
        status: UnitStatus::ALL.iter().map(|c| c.id()).collect(),
        crew_role: CrewRole::ALL.iter().map(|c| c.id()).collect(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    /// Only partners' units (`true`) or only this agency's (`false`).
    partner: Option<bool>,
    status: Option<UnitStatus>,
}

async fn shown_units(state: &AppState, purpose: &str, partner: Option<bool>) -> Result<Vec<Shown>, ApiError> {
    let store = state.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.units(partner)).await??;
    Ok(rows
        .into_iter()
        .filter(|r| visible(state, purpose, &r.unit.id.agency, r.latest.as_ref().map_or(r.updated, |p| p.time)))
        .map(Shown::from)
        .collect())
}

pub(super) async fn list_units(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<Shown>>, ApiError> {
    let grant = state
        .authorize(&caller, Operation::PatrolsView, &state.access.node(), Object::new("patrol-units", "list"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let mut units = shown_units(&state, &purpose, p.partner).await?;
    units.retain(|u| p.status.is_none_or(|s| u.unit.status == s));
    Ok(Json(units))
}

/// A unit as registered: everything but its assignment, which only assignments change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UnitBody {
    id: UnitId,
    callsign: String,
    kind: UnitKind,
    #[serde(default)]
    vehicle: String,
    crew: Crew,
    /// Kept as it is when not given (`available` for a new unit).
    status: Option<UnitStatus>,
    #[serde(default)]
    covert: bool,
}

pub(super) async fn put_unit(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<Shown>), ApiError> {
    state
        .authorize(&caller, Operation::PatrolsManage, &state.access.node(), Object::new("patrol-units", "register"))
        .await?;
    let bytes = body_bytes(&state, body).await?;
    let b: UnitBody = json("unit", utf8(&bytes)?)?;
    let unit = Unit {
        id: b.id,
        callsign: b.callsign,
        kind: b.kind,
        vehicle: b.vehicle,
        crew: b.crew,
        status: UnitStatus::Available,
        assignment: None,
        covert: b.covert,
    };
    let (unit, created) = patrols::register(&state, unit, b.status).await?;
    let store = state.store.clone();
    let id = unit.id.clone();
    let row = tokio::task::spawn_blocking(move || store.unit(&id)).await??;
    let shown = row.map(Shown::from).ok_or_else(|| ApiError::Internal("a unit just stored is gone".into()))?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(shown)))
}

pub(super) async fn get_unit(
    State(state): State<AppState>,
    caller: Caller,
    Path((agency, code)): Path<(String, String)>,
) -> Result<Json<Shown>, ApiError> {
    let id = unit_id(&agency, &code)?;
    let grant =
        state.authorize(&caller, Operation::PatrolsView, &state.access.node(), Object::new("patrol-unit", &id)).await?;
    let purpose = purpose_of(&state, grant);
    let store = state.store.clone();
    let row = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || store.unit(&id)).await??
    };
    match row {
        Some(r) if visible(&state, &purpose, &r.unit.id.agency, r.latest.as_ref().map_or(r.updated, |p| p.time)) => {
            Ok(Json(Shown::from(r)))
        }
        _ => Err(ApiError::NotFound(format!("unit {id} not found"))),
    }
}

/// What became of a report of positions.
#[derive(Debug, Default, Serialize)]
pub(super) struct PositionReport {
    accepted: usize,
    /// Positions the unit had reported already (sent again): nothing to keep.
    duplicates: usize,
    rejected: Vec<Rejected>,
    /// When every position was refused: `unprocessable` and the first reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

pub(super) async fn post_positions(
    State(state): State<AppState>,
    caller: Caller,
    Path((agency, code)): Path<(String, String)>,
    body: Body,
) -> Result<(StatusCode, Json<PositionReport>), ApiError> {
    let id = unit_id(&agency, &code)?;
    let grant = state
        .authorize(&caller, Operation::PatrolsReport, &state.access.node(), Object::new("patrol-unit", &id))
        .await?;
    let bytes = body_bytes(&state, body).await?;
    let positions =
        patrols::parse_positions(utf8(&bytes)?, state.options.patrols.max_positions).map_err(|e| match e {
            patrols::Unreadable::Json(m) => ApiError::BadRequest(m),
            patrols::Unreadable::Invalid(m) => ApiError::Unprocessable(m),
        })?;
    let by = Collector::caller(&state, &caller, &grant);
    let verdicts = patrols::report(&state, &by, vec![(id, positions)]).await?;
    let mut report = PositionReport::default();
    for (index, v) in verdicts.into_iter().flatten().enumerate() {
        match v {
            Verdict::Accepted => report.accepted += 1,
            Verdict::Duplicate => report.duplicates += 1,
            Verdict::Refused(e) => report.rejected.push(Rejected { index, error: e.to_string() }),
        }
    }
    if report.accepted + report.duplicates == 0 {
        report.error = Some("unprocessable");
        report.message = report.rejected.first().map(|r| r.error.clone());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(report)));
    }
    Ok((StatusCode::OK, Json(report)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusBody {
    status: UnitStatus,
}

pub(super) async fn post_status(
    State(state): State<AppState>,
    caller: Caller,
    Path((agency, code)): Path<(String, String)>,
    body: Body,
) -> Result<Json<Shown>, ApiError> {
    let id = unit_id(&agency, &code)?;
    state.authorize(&caller, Operation::PatrolsReport, &state.access.node(), Object::new("patrol-unit", &id)).await?;
    let bytes = body_bytes(&state, body).await?;
    let b: StatusBody = json("status", utf8(&bytes)?)?;
    patrols::set_status(&state, &id, b.status).await?;
    let store = state.store.clone();
    let row = tokio::task::spawn_blocking(move || store.unit(&id)).await??;
    row.map(|r| Json(Shown::from(r))).ok_or_else(|| ApiError::Internal("a unit just changed is gone".into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PositionsParams {
    partner: Option<bool>,
    /// Only units whose latest position is newer.
    since: Option<DateTime<Utc>>,
}

/// The latest position of a unit, with what the map shows beside it.
#[derive(Serialize)]
pub(super) struct Latest {
    unit: UnitId,
    agency: AgencyId,
    callsign: String,
    kind: UnitKind,
    status: UnitStatus,
    partner: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    assignment: Option<Target>,
    position: Position,
}

pub(super) async fn positions(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<PositionsParams>,
) -> Result<Json<Vec<Latest>>, ApiError> {
    let grant = state
        .authorize(&caller, Operation::PatrolsView, &state.access.node(), Object::new("patrol-positions", "latest"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let units = shown_units(&state, &purpose, p.partner).await?;
    Ok(Json(
        units
            .into_iter()
            .filter_map(|s| {
                let position = s.position?;
                if p.since.is_some_and(|since| position.time <= since) {
                    return None;
                }
                Some(Latest {
                    agency: s.unit.id.agency.clone(),
                    unit: s.unit.id,
                    callsign: s.unit.callsign,
                    kind: s.unit.kind,
                    status: s.unit.status,
                    partner: s.partner,
                    assignment: s.unit.assignment,
                    position,
                })
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteParams {
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// Douglas–Peucker tolerance, metres (0 gives every position).
    tolerance_m: Option<f64>,
}

#[derive(Serialize)]
pub(super) struct Route {
    unit: UnitId,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    /// Positions stored in the window (at most 100 000 are read).
    reported: usize,
    positions: Vec<Position>,
}

pub(super) async fn route(
    State(state): State<AppState>,
    caller: Caller,
    Path((agency, code)): Path<(String, String)>,
    Query(p): Query<RouteParams>,
) -> Result<Json<Route>, ApiError> {
    let id = unit_id(&agency, &code)?;
    let grant = state
        .authorize(&caller, Operation::PatrolsView, &state.access.node(), Object::new("patrol-route", &id))
        .await?;
    let purpose = purpose_of(&state, grant);
    let until = p.until.unwrap_or_else(Utc::now);
    let from = p.from.unwrap_or(until - chrono::Duration::hours(1));
    let tolerance = p.tolerance_m.unwrap_or(10.0);
    if from > until || !(0.0..=100_000.0).contains(&tolerance) {
        return Err(ApiError::BadRequest("from must not be after until, tolerance_m is 0 to 100000".into()));
    }
    let store = state.store.clone();
    let track = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || store.route(&id, from, until, 100_000)).await??
    };
    let track: Vec<Position> = track.into_iter().filter(|q| visible(&state, &purpose, &id.agency, q.time)).collect();
    if track.is_empty() && !visible(&state, &purpose, &id.agency, until) {
        return Err(ApiError::NotFound(format!("unit {id} not found")));
    }
    let reported = track.len();
    Ok(Json(Route { unit: id, from, until, reported, positions: patrol::simplify(&track, tolerance) }))
}

/// An assignment as posted: a unit, and an alert (its id here) or an incident.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AssignBody {
    unit: UnitId,
    alert: Option<i64>,
    incident: Option<IncidentId>,
    #[serde(default)]
    note: String,
    /// Sent in an exercise: the alert or incident must be an exercise's too.
    #[serde(default)]
    exercise: bool,
}

/// What the caller may see of an alert here: its target (by its origin's id), where it was,
/// and whether an exercise raised it.
async fn alert_target(
    state: &AppState,
    caller: &Caller,
    purpose: &str,
    id: i64,
) -> Result<(Target, Option<GeoPoint>, bool), ApiError> {
    let store = state.store.clone();
    let alert = tokio::task::spawn_blocking(move || store.alert(id)).await??;
    state.refuse_restricted(caller, alert.plate.as_str(), Object::alert(id)).await?;
    match &alert.origin {
        Some(o) => {
            if !may_access(state, purpose, Some((o.agency.as_str(), o.pseudonymised)), alert.created) {
                return Err(ApiError::NotFound(format!("alert {id} not found")));
            }
            Ok((
                Target::Alert(AlertRef { agency: o.agency.clone(), id: o.alert_id }),
                o.camera_position,
                alert.exercise,
            ))
        }
        None => {
            let me = patrols::me(state)?;
            let position = crate::read_lock(&state.cameras).get(&alert.camera).and_then(|c| c.position);
            Ok((Target::Alert(AlertRef { agency: me, id }), position, alert.exercise))
        }
    }
}

/// An incident the caller may see, its centre, and whether it is an exercise's.
async fn incident_target(
    state: &AppState,
    purpose: &str,
    id: IncidentId,
) -> Result<(Target, GeoPoint, bool), ApiError> {
    let store = state.store.clone();
    let found = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || store.incident(&id)).await??
    };
    match found {
        Some((i, _))
            if i.id.origin.as_str() == state.access.options.agency
                || may_use_now(
                    state,
                    &crate::federation::incidents::labels(i.id.origin.as_str(), purpose),
                    i.raised,
                ) =>
        {
            Ok((Target::Incident(i.id), i.area.centre(), i.exercise))
        }
        _ => Err(ApiError::NotFound(format!("incident {id} not found"))),
    }
}

#[derive(Serialize)]
pub(super) struct Assigned {
    assignment: limes_cooperation::patrol::Assignment,
    unit: Unit,
}

pub(super) async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<Assigned>), ApiError> {
    let grant = state
        .authorize(&caller, Operation::PatrolsManage, &state.access.node(), Object::new("patrol-assignments", "make"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let bytes = body_bytes(&state, body).await?;
    let b: AssignBody = json("assignment", utf8(&bytes)?)?;
    let (target, exercise) = match (b.alert, b.incident) {
        (Some(alert), None) => {
            let (target, _, exercise) = alert_target(&state, &caller, &purpose, alert).await?;
            (target, exercise)
        }
        (None, Some(incident)) => {
            let (target, _, exercise) = incident_target(&state, &purpose, incident).await?;
            (target, exercise)
        }
        _ => return Err(ApiError::Unprocessable("an assignment names an alert or an incident, not both".into())),
    };
    // An assignment to an exercise's alert or incident is an exercise's; a drill never sends
    // a unit to real data.
    if b.exercise && !exercise {
        return Err(ApiError::Unprocessable(format!(
            "an exercise assignment goes only to an exercise's alert or incident; {} is real",
            target.key()
        )));
    }
    let (unit, assignment) = patrols::assign(&state, &b.unit, target, &caller.principal.id, b.note, exercise).await?;
    Ok((StatusCode::CREATED, Json(Assigned { assignment, unit })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AssignmentParams {
    unit: Option<UnitId>,
    incident: Option<IncidentId>,
    /// An alert by its id here.
    alert: Option<i64>,
    limit: Option<usize>,
}

pub(super) async fn assignments(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<AssignmentParams>,
) -> Result<Json<Vec<limes_cooperation::patrol::Assignment>>, ApiError> {
    let grant = state
        .authorize(&caller, Operation::PatrolsView, &state.access.node(), Object::new("patrol-assignments", "list"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let target = match (p.alert, p.incident) {
        (Some(alert), None) => Some(alert_target(&state, &caller, &purpose, alert).await?.0.key()),
        (None, Some(incident)) => Some(Target::Incident(incident).key()),
        (None, None) => None,
        _ => return Err(ApiError::BadRequest("give alert or incident, not both".into())),
    };
    let q = AssignmentQuery { unit: p.unit, target, limit: p.limit.unwrap_or(200) };
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.assignments(&q)).await??;
    Ok(Json(found.into_iter().filter(|a| visible(&state, &purpose, &a.unit.agency, a.at)).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SuggestParams {
    alert: Option<i64>,
    incident: Option<IncidentId>,
    lat: Option<f64>,
    lon: Option<f64>,
    limit: Option<usize>,
    max_distance_m: Option<f64>,
}

/// Suggested units for a place, with the place they were ranked for.
#[derive(Serialize)]
pub(super) struct Suggestions {
    target: GeoPoint,
    fresh_within_s: u64,
    units: Vec<Suggested>,
}

#[derive(Serialize)]
pub(super) struct Suggested {
    #[serde(flatten)]
    suggestion: patrol::Suggestion,
    agency: AgencyId,
    /// A partner's unit: its own operations centre dispatches it.
    partner: bool,
}

pub(super) async fn suggestions(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SuggestParams>,
) -> Result<Json<Suggestions>, ApiError> {
    let grant = state
        .authorize(&caller, Operation::PatrolsView, &state.access.node(), Object::new("patrol-suggestions", "ask"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let target = match (p.alert, p.incident, p.lat, p.lon) {
        (Some(alert), None, None, None) => alert_target(&state, &caller, &purpose, alert)
            .await?
            .1
            .ok_or_else(|| ApiError::Unprocessable(format!("alert {alert} has no position (its camera has none)")))?,
        (None, Some(incident), None, None) => incident_target(&state, &purpose, incident).await?.1,
        (None, None, Some(lat), Some(lon)) => {
            GeoPoint::new(lat, lon).map_err(|e| ApiError::BadRequest(e.to_string()))?
        }
        _ => return Err(ApiError::BadRequest("give alert=ID, incident=ORIGIN/N, or lat= and lon=".into())),
    };
    let fresh = state.options.patrols.fresh_within;
    let options = SuggestOptions {
        fresh_within: chrono::Duration::from_std(fresh).unwrap_or(chrono::Duration::MAX),
        limit: p.limit.unwrap_or(10).clamp(1, 100),
        max_distance_m: p.max_distance_m,
    };
    let units = shown_units(&state, &purpose, None).await?;
    let ranked = patrol::suggest(units.iter().map(|s| (&s.unit, s.position.as_ref())), target, Utc::now(), &options);
    let units = ranked
        .into_iter()
        .map(|suggestion| {
            let partner = suggestion.unit.agency.as_str() != state.access.options.agency;
            Suggested { agency: suggestion.unit.agency.clone(), suggestion, partner }
        })
        .collect();
    Ok(Json(Suggestions { target, fresh_within_s: fresh.as_secs(), units }))
}

pub(super) async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let grant =
        state.authorize(&caller, Operation::PatrolsView, &state.access.node(), Object::new("patrols", "live")).await?;
    let purpose = purpose_of(&state, grant);
    let mut rx = state.patrols.live.subscribe();
    let stream = async_stream(move |tx| async move {
        loop {
            let ev = match rx.recv().await {
                Ok(l) if !visible(&state, &purpose, &l.agency, l.since) => continue,
                Ok(l) => SseEvent::default().event(l.event).data(&*l.json),
                Err(RecvError::Lagged(n)) => SseEvent::default()
                    .event("lagged")
                    .data(format!("{n} patrol changes skipped; list them with GET /api/v1/patrols/positions")),
                Err(RecvError::Closed) => return,
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
