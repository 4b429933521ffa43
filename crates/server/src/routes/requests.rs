//! Requests for full data (`federation::requests`): file one with a partner, follow it, open
//! what was released; see partners' requests and decide them.
//!
//! | route | operation |
//! |---|---|
//! | `POST /api/v1/requests` | `requests.make` (purpose, legal basis and case declared) |
//! | `GET /api/v1/requests?direction=out` | `requests.make` |
//! | `GET /api/v1/requests/out/{partner}/{id}` | `requests.make`; released data only for a purpose its conditions name |
//! | `GET /api/v1/requests?direction=in`, `GET /api/v1/requests/in/{partner}/{id}` | `requests.decide` |
//! | `POST /api/v1/requests/in/{partner}/{id}/decision` | `requests.decide` |

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use limes_access::Operation;
use limes_agreement::Category;
use limes_audit::Object;
use limes_model::AgencyId;
use limes_store::{DataRequest, Direction};
use serde::{Deserialize, Serialize};

use super::{body_bytes, json, utf8};
use crate::federation::requests::{self, NewRequest, Released, RequestError};
use crate::{ApiError, AppState, Caller};

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::Invalid(m) => ApiError::Unprocessable(m),
            RequestError::NotFound(m) => ApiError::NotFound(m),
            RequestError::Conflict(m) => ApiError::Conflict(m),
            RequestError::Failed(m) => ApiError::Internal(m),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MakeBody {
    partner: String,
    /// The category asked for (default `plate-reads`).
    #[serde(default)]
    category: Option<String>,
    /// The hit/no-hit reference or the pseudonym the partner gave (not for a clip).
    #[serde(default)]
    reference: String,
    /// For category `images`: the partner's camera and the span of the clip asked for.
    #[serde(default)]
    clip: Option<requests::ClipSpan>,
    #[serde(default)]
    urgent: bool,
    justification: String,
    /// Asked in an exercise: the partner releases only the exercise's reads.
    #[serde(default)]
    exercise: bool,
}

/// A request as listed: its row, whether it is past its deadline undecided, and (opened one
/// by one) what was released.
#[derive(Serialize)]
pub(super) struct Shown {
    #[serde(flatten)]
    request: DataRequest,
    overdue: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    released: Option<Released>,
}

fn shown(request: DataRequest, released: Option<Released>) -> Shown {
    let overdue = matches!(request.status.as_str(), "pending" | "approved") && Utc::now() > request.deadline;
    Shown { request, overdue, released }
}

pub(super) async fn make(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<Shown>), ApiError> {
    let bytes = body_bytes(&state, body).await?;
    let b: MakeBody = json("request", utf8(&bytes)?)?;
    let partner = AgencyId::new(b.partner.as_str()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let category: Category = b
        .category
        .as_deref()
        .unwrap_or("plate-reads")
        .parse()
        .map_err(|e: limes_agreement::UnknownCategory| ApiError::Unprocessable(e.to_string()))?;
    let asked = match &b.clip {
        Some(c) => format!("{}@{}/{}", c.camera, c.from.to_rfc3339(), c.to.to_rfc3339()),
        None => b.reference.clone(),
    };
    let object = Object::new("request", format!("{partner}/{asked}"));
    let grant = state.authorize(&caller, Operation::RequestsMake, &state.access.node(), object).await?;
    let purpose = grant.purpose.ok_or_else(|| ApiError::Internal("a request was allowed without a purpose".into()))?;
    let case_ref = purpose
        .case_ref
        .clone()
        .ok_or_else(|| ApiError::Unprocessable("a request for full data names its case (header limes-case)".into()))?;
    let r = NewRequest {
        exercise: b.exercise,
        partner,
        category,
        reference: b.reference,
        clip: b.clip,
        urgent: b.urgent,
        justification: b.justification,
        purpose: purpose.purpose,
        legal_basis: purpose.legal_basis,
        case_ref,
        asked_by: caller.actor().to_string(),
    };
    Ok((StatusCode::CREATED, Json(shown(requests::make(&state, r).await?, None))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    #[serde(default)]
    direction: Option<String>,
    limit: Option<usize>,
}

fn direction(s: &str) -> Result<(Direction, Operation), ApiError> {
    match s {
        "out" => Ok((Direction::Out, Operation::RequestsMake)),
        "in" => Ok((Direction::In, Operation::RequestsDecide)),
        other => Err(ApiError::BadRequest(format!("direction {other:?} is not out or in"))),
    }
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<Shown>>, ApiError> {
    let (dir, op) = direction(p.direction.as_deref().unwrap_or("out"))?;
    state.authorize(&caller, op, &state.access.node(), Object::new("requests", dir.as_str())).await?;
    let store = state.store.clone();
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let rows = tokio::task::spawn_blocking(move || store.requests(dir, limit)).await??;
    Ok(Json(rows.into_iter().map(|r| shown(r, None)).collect()))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((dir, partner, id)): Path<(String, String, String)>,
) -> Result<Json<Shown>, ApiError> {
    let (dir, op) = direction(&dir)?;
    let object = Object::new("request", format!("{partner}/{id}"));
    let grant = state.authorize(&caller, op, &state.access.node(), object).await?;
    let store = state.store.clone();
    let (p, i) = (partner.clone(), id.clone());
    let r = tokio::task::spawn_blocking(move || store.request(dir, &p, &i))
        .await??
        .ok_or_else(|| ApiError::NotFound(format!("no request {id} with {partner}")))?;
    // What a partner released is opened under its conditions; what this node released is the
    // record of a disclosure, shown to the supervisors who decide.
    let open = match dir {
        Direction::Out => grant.purpose.as_ref().is_some_and(|p| requests::may_open(&state, &r, &p.purpose)),
        Direction::In => true,
    };
    let released = if open { r.released.as_deref().and_then(|t| serde_json::from_str(t).ok()) } else { None };
    Ok(Json(shown(r, released)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionBody {
    approve: bool,
    #[serde(default)]
    reason: Option<String>,
}

pub(super) async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path((partner, id)): Path<(String, String)>,
    body: Body,
) -> Result<Json<Shown>, ApiError> {
    let bytes = body_bytes(&state, body).await?;
    let b: DecisionBody = json("decision", utf8(&bytes)?)?;
    let partner = AgencyId::new(partner.as_str()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let object = Object::new("request", format!("{partner}/{id}"));
    state.authorize(&caller, Operation::RequestsDecide, &state.access.node(), object).await?;
    if !b.approve && b.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(ApiError::Unprocessable("a refusal says why (reason)".into()));
    }
    let by = format!("{} ({})", caller.actor(), caller.principal.role_text());
    let r = requests::decide(&state, &partner, &id, b.approve, &by, b.reason).await?;
    let released = r.released.as_deref().and_then(|t| serde_json::from_str(t).ok());
    Ok(Json(shown(r, released)))
}
