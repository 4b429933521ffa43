//! Drone and body-camera footage with its telemetry (issue #9, item 4): the file streamed to
//! disk by its SHA-256, its telemetry (GPX or DJI SRT, told apart by content) parsed by
//! `limes-video` into a track, and where the camera was at any moment of it.
//!
//! | route | operation |
//! |---|---|
//! | `POST /api/v1/footage?camera=&start=&name=` | `footage.upload` (the file as the body) |
//! | `POST /api/v1/footage/{sha256}/telemetry?name=` | `footage.upload` (GPX or SRT as the body) |
//! | `GET /api/v1/footage?camera=&limit=` | `footage.view` |
//! | `GET /api/v1/footage/{sha256}` | `footage.view` |
//! | `GET /api/v1/footage/{sha256}/position?at=` | `footage.view` |
//! | `GET /api/v1/footage/{sha256}/file` | `footage.view` |
//!
//! Files are kept under `footage/<sha256>` beside the store: written to a temporary file
//! while hashed, fsynced, renamed, the folder fsynced, and only then the row committed, so a
//! row always has its file. Bad telemetry is answered 422 with the parser's reason and
//! changes nothing.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Utc};
use futures::StreamExt;
use limes_access::Operation;
use limes_audit::{Action, AuditEvent, Details, Object, Outcome};
use limes_model::CameraId;
use limes_store::{Footage, FootageTelemetry};
use limes_video::container::SNIFF_BYTES;
use limes_video::telemetry::{self, Fix, Format, Limits, SrtClock, Track};
use serde::Deserialize;
use sha2::Digest;
use tokio::io::AsyncWriteExt;

use super::digest;
use super::{body_bytes_up_to, file_media_type};
use crate::{ApiError, AppState, Caller, Collector};

/// The largest file accepted: an hour of 4K drone video at 100 Mbit/s is about 45 GB, so
/// this is a bound on a disk-filling upload rather than on any real recording.
const MAX_FOOTAGE_BYTES: u64 = 64 << 30;

pub(super) fn footage_dir(state: &AppState) -> std::path::PathBuf {
    state.store.dir().join("footage")
}

/// A SHA-256 in a path: 64 lower-case hexadecimal digits.
async fn load(state: &AppState, sha256: &str) -> Result<Footage, ApiError> {
    let (store, key) = (state.store.clone(), sha256.to_owned());
    tokio::task::spawn_blocking(move || store.footage(&key))
        .await??
        .ok_or_else(|| ApiError::NotFound(format!("footage {sha256} not found")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UploadParams {
    camera: String,
    /// RFC 3339, with the offset the camera's clock used.
    start: String,
    name: String,
}

/// A file name as given: 1 to 255 characters, no control characters or slashes.
fn file_name(name: &str) -> Result<String, ApiError> {
    let ok = !name.trim().is_empty()
        && name.chars().count() <= 255
        && !name.chars().any(|c| c.is_control() || c == '/' || c == '\\');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ApiError::BadRequest(format!("name {name:?}: 1 to 255 characters, no control characters or slashes")))
    }
}

/// `POST /api/v1/footage?camera=&start=&name=`: the video file as the body.
pub(super) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let camera = CameraId::new(&p.camera).map_err(|e| ApiError::BadRequest(format!("camera {:?}: {e}", p.camera)))?;
    let grant = state
        .authorize(&caller, Operation::FootageUpload, &state.camera_resource(&camera), Object::new("camera", &camera))
        .await?;
    if !crate::read_lock(&state.cameras).contains_key(&camera) {
        return Err(ApiError::Unprocessable(format!(
            "unknown camera {:?}: register it first (POST /api/v1/cameras)",
            camera.as_str()
        )));
    }
    let start = DateTime::parse_from_rfc3339(&p.start)
        .map_err(|e| ApiError::BadRequest(format!("start {:?} is not an RFC 3339 time: {e}", p.start)))?;
    let name = file_name(&p.name)?;
    let media_type = file_media_type(&headers);
    let (sha256, bytes) = receive(&footage_dir(&state), body).await?;
    let row = Footage {
        sha256: sha256.clone(),
        camera: camera.as_str().to_owned(),
        name,
        media_type,
        bytes,
        start: start.with_timezone(&Utc),
        utc_offset_s: start.offset().local_minus_utc(),
        uploaded: Utc::now(),
        uploaded_by: caller.principal.id.clone(),
        telemetry: None,
    };
    let store = state.store.clone();
    let (new, row) = tokio::task::spawn_blocking(move || {
        let new = store.put_footage(&row)?;
        store.footage(&row.sha256).map(|r| (new, r))
    })
    .await??;
    let row = row.ok_or_else(|| ApiError::Internal("footage row missing after its insert".into()))?;
    if new {
        let by = Collector::caller(&state, &caller, &grant);
        state
            .audit(AuditEvent {
                actor: by.actor.clone(),
                role: by.role.clone(),
                action: Action::Collect,
                object: Object::new("footage", &sha256),
                purpose: by.purpose.purpose.clone(),
                legal_basis: by.purpose.legal_basis.clone(),
                case_ref: by.purpose.case_ref.clone(),
                outcome: Outcome::Allowed,
                details: Details::new(
                    &serde_json::json!({ "camera": row.camera, "bytes": row.bytes, "name": row.name }),
                ),
            })
            .await?;
    }
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    let location = format!("/api/v1/footage/{sha256}");
    Ok((status, [(header::LOCATION, location)], Json(row)).into_response())
}

/// How much of a refused upload is read (and dropped) so that its sender gets the refusal.
const DRAIN_BYTES: u64 = 256 << 20;

/// Refuses a file whose first bytes are not a video container's.
fn is_video(head: &[u8]) -> Result<(), ApiError> {
    match limes_video::container::sniff(head) {
        Some(_) => Ok(()),
        None => Err(ApiError::UnsupportedMediaType(
            "the footage is not a video file: it does not begin as MP4/MOV, Matroska/WebM, MPEG-TS or AVI does".into(),
        )),
    }
}

/// Streams `body` to a temporary file in `dir` while hashing it, then renames it to its
/// SHA-256 (a file already there is the same bytes and is kept): the digest and the size. A body
/// that does not begin as a video file does is refused as soon as its first bytes show it.
async fn receive(dir: &std::path::Path, body: Body) -> Result<(String, u64), ApiError> {
    let failed = |e: std::io::Error| ApiError::Internal(format!("writing footage: {e}"));
    tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| ApiError::Internal(format!("random: {e}")))?;
    let tmp = dir.join(format!("upload-{}.tmp", nonce.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    let result = async {
        let mut file = tokio::fs::File::create(&tmp).await.map_err(failed)?;
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut stream = body.into_data_stream();
        // The first bytes, to tell a video file from anything else before keeping much of it.
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
        let mut known = false;
        // Once refused, the rest of the body is read and dropped (up to DRAIN_BYTES) so that the
        // client, still sending, gets the answer rather than a broken connection.
        let mut refused: Option<ApiError> = None;
        let mut drained = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading request body: {e}")))?;
            if refused.is_some() {
                drained += chunk.len() as u64;
                if drained > DRAIN_BYTES {
                    break;
                }
                continue;
            }
            size += chunk.len() as u64;
            if size > MAX_FOOTAGE_BYTES {
                return Err(ApiError::TooLarge(MAX_FOOTAGE_BYTES as usize));
            }
            if !known {
                head.extend_from_slice(&chunk[..chunk.len().min(SNIFF_BYTES - head.len())]);
                if head.len() == SNIFF_BYTES {
                    if let Err(e) = is_video(&head) {
                        refused = Some(e);
                        continue;
                    }
                    known = true;
                }
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(failed)?;
        }
        if let Some(e) = refused {
            return Err(e);
        }
        if size == 0 {
            return Err(ApiError::Unprocessable("the footage is empty".into()));
        }
        if !known {
            is_video(&head)?;
        }
        file.sync_all().await.map_err(failed)?;
        let sha256: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        tokio::fs::rename(&tmp, dir.join(&sha256)).await.map_err(failed)?;
        tokio::fs::File::open(dir).await.map_err(failed)?.sync_all().await.map_err(failed)?;
        Ok((sha256, size))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TelemetryParams {
    name: Option<String>,
}

/// What is stored of a track: its format and fixes (the track is rebuilt, and so checked
/// again, when read).
#[derive(serde::Serialize, Deserialize)]
struct StoredTrack {
    format: Format,
    fixes: Vec<Fix>,
}

/// `POST /api/v1/footage/{sha256}/telemetry?name=`: GPX or DJI SRT as the body, told apart
/// by content; replaces any telemetry before. SRT cues without a timestamp are timed from
/// the footage's `start`; cues with one are read at the offset `start` was given with.
pub(super) async fn telemetry(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
    Query(p): Query<TelemetryParams>,
    body: Body,
) -> Result<Json<Footage>, ApiError> {
    let sha256 = digest(&sha256)?.to_owned();
    state.authorize(&caller, Operation::FootageUpload, &state.access.node(), Object::new("footage", &sha256)).await?;
    let footage = load(&state, &sha256).await?;
    let limits = Limits::default();
    let bytes = body_bytes_up_to(body, limits.max_bytes).await?;
    let offset = FixedOffset::east_opt(footage.utc_offset_s).unwrap_or(FixedOffset::east_opt(0).expect("zero"));
    let clock = SrtClock::starting(footage.start.with_timezone(&offset));
    let track = tokio::task::spawn_blocking(move || telemetry::parse(&bytes, &clock, &limits))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let name = match p.name {
        Some(n) => file_name(&n)?,
        None => format!("telemetry.{}", track.format()),
    };
    let s = track.summary();
    let summary = FootageTelemetry {
        format: track.format().to_string(),
        name,
        attached: Utc::now(),
        attached_by: caller.principal.id.clone(),
        fixes: s.fixes as u64,
        start: s.start,
        end: s.end,
        bbox: [s.bbox.min_lat, s.bbox.min_lon, s.bbox.max_lat, s.bbox.max_lon],
    };
    let stored = StoredTrack { format: track.format(), fixes: track.fixes().to_vec() };
    let json = serde_json::to_string(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
    let store = state.store.clone();
    let key = sha256.clone();
    let row = tokio::task::spawn_blocking(move || {
        store.set_footage_telemetry(&key, &summary, &json)?;
        store.footage(&key)
    })
    .await??;
    row.map(Json).ok_or_else(|| ApiError::NotFound(format!("footage {sha256} not found")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    camera: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/footage?camera=&limit=`: newest recording first (100 unless `limit`, at most
/// 1000).
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<Footage>>, ApiError> {
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("footage", "list")).await?;
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let store = state.store.clone();
    Ok(Json(tokio::task::spawn_blocking(move || store.footage_list(p.camera.as_deref(), limit)).await??))
}

/// `GET /api/v1/footage/{sha256}`: one file with its track summary.
pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Json<Footage>, ApiError> {
    let sha256 = digest(&sha256)?;
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("footage", sha256)).await?;
    Ok(Json(load(&state, sha256).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PositionParams {
    at: String,
}

/// `GET /api/v1/footage/{sha256}/position?at=`: where the camera was, interpolated between
/// the fixes around `at`; 404 outside the track or in a gap of more than 30 s.
pub(super) async fn position(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
    Query(p): Query<PositionParams>,
) -> Result<Json<telemetry::Position>, ApiError> {
    let sha256 = digest(&sha256)?.to_owned();
    let at = DateTime::parse_from_rfc3339(&p.at)
        .map_err(|e| ApiError::BadRequest(format!("at {:?} is not an RFC 3339 time: {e}", p.at)))?
        .with_timezone(&Utc);
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("footage", &sha256)).await?;
    let track = stored_track(&state, &sha256).await?;
    track.position_at(at).map(Json).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no position at {at}: the track runs from {} to {} and interpolates across gaps of at most {} s",
            track.start(),
            track.end(),
            track.max_gap().num_seconds()
        ))
    })
}

/// The track of a footage's telemetry, rebuilt (and so checked again) from what is stored;
/// 404 for no such footage or none attached yet.
async fn stored_track(state: &AppState, sha256: &str) -> Result<Track, ApiError> {
    let (store, key) = (state.store.clone(), sha256.to_owned());
    let (row, json) = tokio::task::spawn_blocking(move || {
        Ok::<_, limes_store::StoreError>((store.footage(&key)?, store.footage_track(&key)?))
    })
    .await??;
    if row.is_none() {
        return Err(ApiError::NotFound(format!("footage {sha256} not found")));
    }
    let json = json.ok_or_else(|| ApiError::NotFound(format!("footage {sha256} has no telemetry yet")))?;
    let stored: StoredTrack =
        serde_json::from_str(&json).map_err(|e| ApiError::Internal(format!("stored track of {sha256}: {e}")))?;
    let limits = Limits { max_fixes: usize::MAX, ..Limits::default() };
    Track::new(stored.format, stored.fixes, &limits)
        .map_err(|e| ApiError::Internal(format!("stored track of {sha256}: {e}")))
}

/// `GET /api/v1/footage/{sha256}/track`: the whole track as one GeoJSON Feature, a LineString
/// (longitude, latitude and, where every fix has one, altitude) whose `times` property gives each
/// position's time — what a map draws and moves a marker along as the footage plays.
pub(super) async fn track(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let sha256 = digest(&sha256)?.to_owned();
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("footage", &sha256)).await?;
    let track = stored_track(&state, &sha256).await?;
    let fixes = track.fixes();
    let with_altitude = fixes.iter().all(|f| f.altitude.is_some());
    let coordinates: Vec<Vec<f64>> = fixes
        .iter()
        .map(|f| match f.altitude {
            Some(a) if with_altitude => vec![f.lon, f.lat, a],
            _ => vec![f.lon, f.lat],
        })
        .collect();
    let times: Vec<String> =
        fixes.iter().map(|f| f.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).collect();
    Ok(Json(serde_json::json!({
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coordinates},
        "properties": {"footage": sha256, "times": times, "max_gap_s": track.max_gap().num_seconds()},
    })))
}

/// `GET /api/v1/footage/{sha256}/file`: the bytes, streamed, with the type and name given
/// at upload.
pub(super) async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    let sha256 = digest(&sha256)?.to_owned();
    state.authorize(&caller, Operation::FootageView, &state.access.node(), Object::new("footage", &sha256)).await?;
    let footage = load(&state, &sha256).await?;
    let file = tokio::fs::File::open(footage_dir(&state).join(&sha256))
        .await
        .map_err(|e| ApiError::Internal(format!("opening footage {sha256}: {e}")))?;
    let stream = futures::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let disposition = format!("attachment; filename=\"{}\"", footage.name.replace(['"', '\\'], "_"));
    Ok((
        [
            (header::CONTENT_TYPE, footage.media_type.clone()),
            (header::CONTENT_LENGTH, footage.bytes.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
