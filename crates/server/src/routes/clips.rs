//! Clips (`clips`): cut and signed from a camera's recording (`clips.export`), listed, fetched
//! with their signed manifest and checked against it (`footage.view`; one of this node's clips
//! as recorded, faces and plates in clear, `clips.unblur` for a declared case), anonymised
//! (`clips.export`), and sent to a partner (`clips.send`, supervisors) as its anonymised copy.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use limes_access::Operation;
use limes_audit::Object;
use limes_model::{AgencyId, CameraId};
use limes_store::{ClipSend, StoredClip};
use serde::{Deserialize, Serialize};

use super::{digest, purpose_of};
use crate::{ApiError, AppState, Caller};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Span {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// A clip as shown: its row, its signed manifest, where it went, and whether its file is here.
#[derive(Serialize)]
pub(super) struct Shown {
    #[serde(flatten)]
    clip: StoredClip,
    manifest: serde_json::Value,
    sent: Vec<ClipSend>,
    file_here: bool,
}

async fn shown(state: &AppState, clip: StoredClip) -> Result<Shown, ApiError> {
    let (store, sha) = (state.store.clone(), clip.sha256.clone());
    let sent = tokio::task::spawn_blocking(move || store.clip_sends(&sha)).await??;
    let manifest = serde_json::from_str(&clip.manifest).unwrap_or(serde_json::Value::Null);
    let file_here = crate::files::path(state, &clip.sha256).is_some();
    Ok(Shown { clip, manifest, sent, file_here })
}

/// The name a clip's MP4 is saved under: `<camera>-<from>.mp4`.
fn file_name(clip: &StoredClip) -> String {
    format!("{}-{}.mp4", clip.camera, clip.from.format("%Y%m%dT%H%M%SZ"))
}

async fn load(state: &AppState, sha256: &str) -> Result<StoredClip, ApiError> {
    let (store, sha) = (state.store.clone(), sha256.to_owned());
    tokio::task::spawn_blocking(move || store.clip(&sha))
        .await??
        .ok_or_else(|| ApiError::NotFound(format!("no clip {sha256}")))
}

/// `POST /api/v1/cameras/{id}/clips`: `{from, to}` → 201 with the clip and its signed manifest.
pub(super) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Shown>), ApiError> {
    let camera = CameraId::new(&id).map_err(|e| ApiError::BadRequest(format!("camera {id:?}: {e}")))?;
    let span: Span = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the clip: {e}")))?;
    state
        .authorize(&caller, Operation::ClipsExport, &state.camera_resource(&camera), Object::new("camera", &camera))
        .await?;
    let (clip, _) = crate::clips::export(&state, camera, span.from, span.to, &caller.principal.id).await?;
    Ok((StatusCode::CREATED, Json(shown(&state, clip).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    100
}

/// `GET /api/v1/clips?limit=`: this node's clips and partners', newest first.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListParams>,
) -> Result<Json<Vec<Shown>>, ApiError> {
    if q.limit == 0 || q.limit > 1000 {
        return Err(ApiError::BadRequest("limit: 1 to 1000".into()));
    }
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("clips", "all")).await?;
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.clips(q.limit)).await??;
    let mut out = Vec::with_capacity(found.len());
    for c in found {
        out.push(shown(&state, c).await?);
    }
    Ok(Json(out))
}

/// `GET /api/v1/clips/{sha256}`.
pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Json<Shown>, ApiError> {
    let sha256 = digest(&sha256)?;
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("clip", sha256)).await?;
    let clip = load(&state, sha256).await?;
    Ok(Json(shown(&state, clip).await?))
}

/// `GET /api/v1/clips/{sha256}/file`: the MP4, checked against its signed manifest first.
pub(super) async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    let sha256 = digest(&sha256)?;
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("clip", sha256)).await?;
    let clip = load(&state, sha256).await?;
    if clip.received_from.is_none() && clip.anonymised_from.is_none() {
        // This node's recording, faces and plates in clear: a supervisor's act, for a case.
        let copy = format!("its anonymised copy is POST /api/v1/clips/{sha256}/anonymised");
        let grant = state
            .authorize(&caller, Operation::ClipsUnblur, &state.access.node(), Object::new("clip", sha256))
            .await
            .map_err(|e| match e {
                ApiError::Forbidden(why) => ApiError::Forbidden(format!(
                    "{why}: a clip as recorded, faces and plates in clear, is for a supervisor and a case; {copy}"
                )),
                e => e,
            })?;
        if grant.purpose.as_ref().and_then(|p| p.case_ref.as_deref()).is_none_or(str::is_empty) {
            return Err(ApiError::Forbidden(format!(
                "a clip as recorded, faces and plates in clear, is downloaded for a case: declare its reference \
                 with the purpose (limes-case); {copy}"
            )));
        }
    }
    let bytes = crate::clips::file(&state, &clip).await?.ok_or_else(|| {
        ApiError::NotFound(format!("the file of clip {sha256} has not arrived from {} yet", clip.origin))
    })?;
    let name = file_name(&clip);
    Ok((
        [
            (header::CONTENT_TYPE, "video/mp4".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/v1/clips/{sha256}/manifest`: the manifest as signed, for `limes clip verify`.
pub(super) async fn manifest(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    let sha256 = digest(&sha256)?;
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("clip", sha256)).await?;
    let clip = load(&state, sha256).await?;
    let name = format!("{}{}", file_name(&clip), limes_federation::clip::MANIFEST_SUFFIX);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        clip.manifest,
    )
        .into_response())
}

/// `POST /api/v1/clips/{sha256}/anonymised`: the anonymised copy of one of this node's clips,
/// made once (201) and given again after (200).
pub(super) async fn anonymised(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<(StatusCode, Json<Shown>), ApiError> {
    let sha256 = digest(&sha256)?;
    state.authorize(&caller, Operation::ClipsExport, &state.access.node(), Object::new("clip", sha256)).await?;
    let clip = load(&state, sha256).await?;
    if clip.received_from.is_some() {
        return Err(ApiError::Unprocessable(format!(
            "clip {sha256} is {}'s: only this node's clips are anonymised here",
            clip.origin
        )));
    }
    let (copy, made) = crate::clips::anonymised(&state, &clip, &caller.principal.id).await?;
    let status = if made { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(shown(&state, copy).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SendTo {
    partner: AgencyId,
}

/// `POST /api/v1/clips/{sha256}/send`: `{partner}` → 201; sent for the caller's purpose, as
/// the clip's anonymised copy (`clip` names it, `anonymised` is true); 503 when the anonymiser
/// cannot run, and then nothing was sent.
pub(super) async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<crate::clips::Delivered>), ApiError> {
    let sha256 = digest(&sha256)?.to_owned();
    let to: SendTo = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the partner: {e}")))?;
    let grant =
        state.authorize(&caller, Operation::ClipsSend, &state.access.node(), Object::new("clip", &sha256)).await?;
    let purpose = purpose_of(&state, grant);
    let sent = crate::clips::send(&state, &sha256, &to.partner, &purpose, &caller.principal.id).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}
