//! The node's recorded cameras: how each stream is doing (24/7 monitoring) and which segments
//! the index holds. Watching and playing recordings go through `footage.view`.

use axum::Json;
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use limes_access::Operation;
use limes_audit::Object;
use limes_model::CameraId;
use limes_model::recording::VideoCodec;
use serde::{Deserialize, Serialize};

use crate::video::FeedStatus;
use crate::{ApiError, AppState, Caller};

/// `GET /api/v1/video/cameras`: every stream the node records, and how it is doing.
pub(super) async fn cameras(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<FeedStatus>>, ApiError> {
    state.authorize(&caller, Operation::CamerasView, &state.access.node(), Object::new("cameras", "all")).await?;
    Ok(Json(state.video.statuses()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Range {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
}

/// One recorded segment, as a timeline shows it.
#[derive(Debug, Serialize)]
pub(super) struct Segment {
    id: i64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    codec: VideoCodec,
    width: u32,
    height: u32,
    frames: usize,
    bytes: u64,
}

/// `GET /api/v1/cameras/{id}/recordings?from=&to=`: the camera's segments that overlap the
/// range, oldest first.
pub(super) async fn recordings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(range): Query<Range>,
) -> Result<Json<Vec<Segment>>, ApiError> {
    let camera = CameraId::new(&id).map_err(|e| ApiError::BadRequest(format!("camera {id:?}: {e}")))?;
    state
        .authorize(&caller, Operation::CamerasView, &state.camera_resource(&camera), Object::new("camera", &camera))
        .await?;
    if let (Some(from), Some(to)) = (range.from, range.to)
        && to < from
    {
        return Err(ApiError::BadRequest(format!("the range ends ({to}) before it starts ({from})")));
    }
    let store = state.store.clone();
    let all = tokio::task::spawn_blocking(move || store.recordings(Some(&camera))).await??;
    Ok(Json(
        all.into_iter()
            .filter(|r| range.from.is_none_or(|f| r.index.end > f) && range.to.is_none_or(|t| r.index.start < t))
            .map(|r| Segment {
                id: r.id,
                start: r.index.start,
                end: r.index.end,
                codec: r.index.parameters.codec,
                width: r.index.parameters.width,
                height: r.index.parameters.height,
                frames: r.index.frames.len(),
                bytes: r.index.bytes,
            })
            .collect(),
    ))
}
