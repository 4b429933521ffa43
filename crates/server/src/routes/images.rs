//! Images of reads: posted raw (`image/jpeg`, `image/png`), stored once per content, served
//! by their SHA-256.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use limes_model::ImageKind;
use limes_store::{ImageError, ImageFormat, ImageId, ImageMeta, ValidImage};
use serde::Deserialize;

use super::{body_bytes_up_to, media_type};
use crate::wire::ImageOut;
use crate::{ApiError, AppState, Caller, Collector};
use limes_access::Operation;
use limes_audit::Object;

/// How images posted to this API reach the node, as recorded with each.
const SOURCE_FORMAT: &str = "http";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PostParams {
    kind: Option<String>,
}

/// `POST /api/v1/reads/{id}/images?kind=plate|overview`: the raw image as the body.
pub(super) async fn post(
    State(state): State<AppState>,
    caller: Caller,
    Path(read_id): Path<i64>,
    Query(p): Query<PostParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let grant = state
        .authorize(&caller, Operation::ImagesUpload, &state.access.node(), Object::reads(read_id, read_id))
        .await?;
    let kind = match p.kind.as_deref() {
        Some(k) => ImageKind::parse(k)
            .ok_or_else(|| ApiError::BadRequest(format!("kind {k:?} is not \"plate\" or \"overview\"")))?,
        None => return Err(ApiError::BadRequest("the query parameter kind is required: plate or overview".into())),
    };
    let content_type = media_type(&headers);
    let declared = ImageFormat::from_media_type(&content_type).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!("content type {content_type:?} is not image/jpeg or image/png"))
    })?;
    let limits = state.options.images;
    let bytes = body_bytes_up_to(body, limits.max_bytes).await?;
    let store = state.store.clone();
    let (put, image) = tokio::task::spawn_blocking(move || {
        // Hashing up to max_bytes and fsyncing the file: off the reactor.
        let image = ValidImage::check(bytes.into(), Some(declared), &limits).map_err(|e| match e {
            ImageError::TooManyBytes { max, .. } => ApiError::TooLarge(max),
            other => ApiError::Unprocessable(other.to_string()),
        })?;
        let meta = ImageMeta { read_id, kind, source_format: SOURCE_FORMAT.into() };
        let put = store.put_image(&image, &meta)?;
        let stored = store.read_images(read_id)?.into_iter().find(|i| i.kind == kind && &i.image.sha256 == image.id());
        Ok::<_, ApiError>((put, stored))
    })
    .await??;
    // The image was attached and committed; it is listed unless the read went meanwhile.
    let image = image.ok_or_else(|| ApiError::NotFound(format!("read {read_id} not found")))?;
    if put.attached {
        let by = Collector::caller(&state, &caller, &grant);
        state.audit_image_collected(&by, read_id, &image.image.sha256.to_string()).await?;
    }
    let status = if put.attached { StatusCode::CREATED } else { StatusCode::OK };
    let out = ImageOut { deduplicated: Some(put.deduplicated), ..ImageOut::from(&image) };
    Ok((status, [(header::LOCATION, out.url.clone())], Json(out)).into_response())
}

/// `GET /api/v1/reads/{id}/images`: the read's images, plate crops first.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(read_id): Path<i64>,
) -> Result<Json<Vec<ImageOut>>, ApiError> {
    state.authorize(&caller, Operation::ReadsView, &state.access.node(), Object::reads(read_id, read_id)).await?;
    let store = state.store.clone();
    let (read, images) = tokio::task::spawn_blocking(move || {
        let read = store.read(read_id)?;
        store.read_images(read_id).map(|i| (read, i))
    })
    .await??;
    state.refuse_restricted(&caller, read.plate.as_str(), Object::reads(read_id, read_id)).await?;
    Ok(Json(images.iter().map(ImageOut::from).collect()))
}

/// `GET /api/v1/images/{sha256}`: the bytes, with their type; the ETag is the SHA-256.
pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = ImageId::parse(&sha256)
        .ok_or_else(|| ApiError::BadRequest(format!("{sha256:?} is not a SHA-256 (64 hexadecimal digits)")))?;
    state.authorize(&caller, Operation::ImagesView, &state.access.node(), Object::image(&id.to_string())).await?;
    let etag = format!("\"{id}\"");
    let revalidating =
        headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
            |tag| {
                let tag = tag.trim();
                tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag
            },
        );
    let store = state.store.clone();
    let lookup = id.clone();
    let (info, bytes) = if revalidating {
        // The content of an id never changes: only whether it still exists.
        let info = tokio::task::spawn_blocking(move || store.image_info(&lookup)).await??;
        (info, None)
    } else {
        let (info, bytes) = tokio::task::spawn_blocking(move || store.get_image(&lookup)).await??;
        (info, Some(bytes))
    };
    let headers = [
        (header::ETAG, HeaderValue::from_str(&etag).map_err(|e| ApiError::Internal(e.to_string()))?),
        (header::CACHE_CONTROL, HeaderValue::from_static("private")),
        (header::CONTENT_TYPE, HeaderValue::from_static(info.format.media_type())),
        // The bytes were checked to be an image; never let a browser guess otherwise.
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    Ok(match bytes {
        None => (StatusCode::NOT_MODIFIED, headers).into_response(),
        Some(bytes) => (StatusCode::OK, headers, bytes).into_response(),
    })
}
