//! The camera registry over HTTP.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use limes_access::Operation;
use limes_audit::Object;
use limes_model::{Camera, CameraId};
use serde::Serialize;

use super::{body_bytes, json, media_type, utf8};
use crate::import::{ImportError, cameras_csv, cameras_geojson};
use crate::{ApiError, AppState, Caller, write_lock};

fn id(s: String) -> Result<CameraId, ApiError> {
    CameraId::new(s).map_err(|e| ApiError::BadRequest(e.to_string()))
}

async fn save(state: &AppState, cameras: Vec<Camera>) -> Result<usize, ApiError> {
    let store = state.store.clone();
    let to_save = cameras.clone();
    let created = tokio::task::spawn_blocking(move || store.upsert_cameras(&to_save)).await??;
    let mut cache = write_lock(&state.cameras);
    for c in cameras {
        cache.insert(c.id.clone(), c);
    }
    Ok(created)
}

pub(super) async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Camera>>, ApiError> {
    state.authorize(&caller, Operation::CamerasView, &state.access.node(), Object::new("cameras", "all")).await?;
    let mut all: Vec<Camera> = crate::read_lock(&state.cameras).values().cloned().collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Json(all))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(cid): Path<String>,
) -> Result<Json<Camera>, ApiError> {
    let cid = id(cid)?;
    state
        .authorize(&caller, Operation::CamerasView, &state.camera_resource(&cid), Object::new("camera", cid.as_str()))
        .await?;
    crate::read_lock(&state.cameras)
        .get(&cid)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("camera {:?} not found", cid.as_str())))
}

pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<Camera>), ApiError> {
    let bytes = body_bytes(&state, body).await?;
    let camera: Camera = json("camera", utf8(&bytes)?)?;
    camera.validate().map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    manage(&state, &caller, &camera).await?;
    let created = save(&state, vec![camera.clone()]).await?;
    Ok((if created == 1 { StatusCode::CREATED } else { StatusCode::OK }, Json(camera)))
}

pub(super) async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(cid): Path<String>,
    body: Body,
) -> Result<Json<Camera>, ApiError> {
    let cid = id(cid)?;
    // The camera as registered and the camera as it will be must both be the caller's.
    state
        .authorize(&caller, Operation::CamerasManage, &state.camera_resource(&cid), Object::new("camera", cid.as_str()))
        .await?;
    let bytes = body_bytes(&state, body).await?;
    let camera: Camera = json("camera", utf8(&bytes)?)?;
    if camera.id != cid {
        return Err(ApiError::Unprocessable(format!(
            "body's id {:?} differs from the path's {:?}",
            camera.id.as_str(),
            cid.as_str()
        )));
    }
    camera.validate().map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    manage(&state, &caller, &camera).await?;
    save(&state, vec![camera.clone()]).await?;
    Ok(Json(camera))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(cid): Path<String>,
) -> Result<StatusCode, ApiError> {
    let cid = id(cid)?;
    state
        .authorize(&caller, Operation::CamerasManage, &state.camera_resource(&cid), Object::new("camera", cid.as_str()))
        .await?;
    let store = state.store.clone();
    let key = cid.clone();
    if !tokio::task::spawn_blocking(move || store.delete_camera(&key)).await?? {
        return Err(ApiError::NotFound(format!("camera {:?} not found", cid.as_str())));
    }
    write_lock(&state.cameras).remove(&cid);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub(super) struct ImportReport {
    imported: usize,
    created: usize,
    errors: Vec<ImportError>,
}

/// Imports cameras from CSV (`text/csv`) or GeoJSON (`application/geo+json` or `application/json`).
pub(super) async fn import(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ImportReport>), ApiError> {
    state.authorize(&caller, Operation::CamerasManage, &state.access.node(), Object::new("cameras", "import")).await?;
    let bytes = body_bytes(&state, body).await?;
    let parsed = match media_type(&headers).as_str() {
        "text/csv" => cameras_csv(&bytes),
        "application/geo+json" | "application/json" => cameras_geojson(utf8(&bytes)?.as_bytes()),
        other => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "content type {other:?} is not text/csv or application/geo+json"
            )));
        }
    }
    .map_err(ApiError::Unprocessable)?;
    let imported = parsed.records.len();
    let cameras: Vec<Camera> = parsed.records.into_iter().map(|(_, c)| c).collect();
    for camera in &cameras {
        manage(&state, &caller, camera).await?;
    }
    let created = if imported > 0 { save(&state, cameras).await? } else { 0 };
    let status =
        if imported == 0 && !parsed.errors.is_empty() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, Json(ImportReport { imported, created, errors: parsed.errors })))
}

/// Authorises managing `camera` as its body describes it (its agency).
async fn manage(state: &AppState, caller: &Caller, camera: &Camera) -> Result<(), ApiError> {
    let resource = limes_access::Resource::camera(camera.id.as_str(), camera.agency.as_str(), camera.country.as_str());
    state.authorize(caller, Operation::CamerasManage, &resource, Object::new("camera", camera.id.as_str())).await?;
    Ok(())
}
