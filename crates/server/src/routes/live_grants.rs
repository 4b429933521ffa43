//! Live video shared with partners (`live_grants`): a supervisor grants and revokes
//! (`video.share`), anyone who may see the camera registry lists the grants, and a person who may
//! watch footage (`footage.view`) watches a partner's camera under a grant to this agency.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use limes_access::Operation;
use limes_audit::Object;
use limes_model::live::LiveGrant;
use limes_store::GrantSide;
use serde::{Deserialize, Serialize};

use super::shared_id;
use crate::live_grants::NewGrant;
use crate::{ApiError, AppState, Caller};

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum Side {
    /// The grants this agency made for its cameras.
    #[default]
    Given,
    /// The grants partners made to this agency.
    Received,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    #[serde(default)]
    side: Side,
    /// Only the grants in force now.
    #[serde(default)]
    in_force: bool,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

/// A grant as listed: with whether it lets the partner watch now.
#[derive(Serialize)]
pub(super) struct Shown {
    #[serde(flatten)]
    grant: LiveGrant,
    in_force: bool,
}

impl From<LiveGrant> for Shown {
    fn from(grant: LiveGrant) -> Self {
        let in_force = grant.in_force(Utc::now()).is_ok();
        Shown { grant, in_force }
    }
}

fn me(state: &AppState) -> String {
    state.access.options.agency.to_string()
}

/// `GET /api/v1/video/grants?side=given|received&in_force=&limit=`: newest first.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListParams>,
) -> Result<Json<Vec<Shown>>, ApiError> {
    state.authorize(&caller, Operation::CamerasView, &state.access.node(), Object::new("live-grants", "all")).await?;
    if q.limit == 0 || q.limit > 1000 {
        return Err(ApiError::BadRequest("limit: 1 to 1000".into()));
    }
    let (store, agency) = (state.store.clone(), me(&state));
    let at = q.in_force.then(Utc::now);
    let found = tokio::task::spawn_blocking(move || {
        let side = match q.side {
            Side::Given => GrantSide::Given { origin: &agency },
            Side::Received => GrantSide::Received { partner: &agency },
        };
        store.live_grants(side, at, q.limit)
    })
    .await??;
    Ok(Json(found.into_iter().map(Shown::from).collect()))
}

/// `POST /api/v1/video/grants`: `{partner, camera, incident, seconds, clear?}` → 201 with the
/// grant. Anonymised unless `clear`, which needs `clips.unblur` and a declared case as well.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Shown>), ApiError> {
    let new: NewGrant = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the grant: {e}")))?;
    let object = Object::new("camera", &new.camera);
    let resource = state.camera_resource(&new.camera);
    state.authorize(&caller, Operation::VideoShare, &resource, object.clone()).await?;
    if new.clear {
        // Faces and plates in clear across the border: a supervisor's recorded decision, for a case.
        let unblur =
            state.authorize(&caller, Operation::ClipsUnblur, &resource, object).await.map_err(|e| match e {
                ApiError::Forbidden(why) => ApiError::Forbidden(format!(
                    "{why}: live video in clear, faces and plates unblurred, is granted by a supervisor for a case; \
                 without \"clear\" the partner sees it anonymised"
                )),
                e => e,
            })?;
        if unblur.purpose.as_ref().and_then(|p| p.case_ref.as_deref()).is_none_or(str::is_empty) {
            return Err(ApiError::Forbidden(
                "live video in clear is granted for a case: declare its reference with the purpose (limes-case)".into(),
            ));
        }
    }
    let grant = crate::live_grants::grant(&state, &caller.principal.id, new, Utc::now()).await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

/// `POST /api/v1/video/grants/{origin}/{n}/revoke`: ends one of this node's grants now.
pub(super) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
) -> Result<Json<Shown>, ApiError> {
    let id = shared_id(&origin, &n)?.to_string();
    state.authorize(&caller, Operation::VideoShare, &state.access.node(), Object::new("live-grant", &id)).await?;
    let grant = crate::live_grants::revoke(&state, &id, &caller.principal.id, Utc::now()).await?;
    Ok(Json(grant.into()))
}

/// `GET /api/v1/video/grants/{origin}/{n}/live.mp4`: a partner's camera, live, under its
/// grant to this agency, relayed from the partner's node; ends when the grant does.
pub(super) async fn watch(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = shared_id(&origin, &n)?.to_string();
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("live-grant", &id)).await?;
    let video = crate::live_grants::watch(&state, &id, &caller.principal.id).await?;
    let mut response = Body::from_stream(video.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, Some(video.content_type.as_str())),
        (header::CACHE_CONTROL, Some("no-store")),
        (header::X_CONTENT_TYPE_OPTIONS, Some("nosniff")),
        (header::HeaderName::from_static(limes_link::live::START_HEADER), video.start.as_deref()),
    ] {
        if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, v);
        }
    }
    Ok(response)
}
