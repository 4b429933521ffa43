//! The media triage review (issue #12), for the specialised unit alone (`triage.*`, which the
//! default policy gives the `victim_identification` role and forbids every other): the cases
//! `limes triage` wrote under the node's triage folder, their files and verdicts, pictures as
//! thumbnails — greyscale and blurred unless one is revealed, each reveal logged — and the
//! reviewer's categories, each logged too. The pictures themselves never leave the node.

use std::path::PathBuf;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use limes_access::Operation;
use limes_audit::Object;
use limes_triage::known::{Category, Scheme};
use limes_triage_scan::store::{CaseStore, Kind, check_case_id};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState, Caller};

/// Thumbnails are at most this many pixels on their longer side.
const THUMBNAIL_SIDE: u32 = 160;

fn triage_dir(state: &AppState) -> Result<PathBuf, ApiError> {
    state
        .options
        .triage_dir
        .clone()
        .ok_or_else(|| ApiError::NotFound("this node has no triage folder ([triage] dir)".into()))
}

fn open_case(dir: &std::path::Path, case: &str) -> Result<CaseStore, ApiError> {
    check_case_id(case).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if !dir.join(case).join("case.sqlite").is_file() {
        return Err(ApiError::NotFound(format!("no case {case}")));
    }
    CaseStore::open(dir, case).map_err(|e| ApiError::Internal(e.to_string()))
}

#[derive(Debug, Serialize)]
pub(super) struct CaseOut {
    case: String,
    owner: String,
    files: usize,
    to_review: usize,
}

/// `GET /api/v1/triage/cases`: the cases under the node's triage folder.
pub(super) async fn cases(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<CaseOut>>, ApiError> {
    state.authorize(&caller, Operation::TriageReview, &state.access.node(), Object::new("triage", "cases")).await?;
    let dir = triage_dir(&state)?;
    let out = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(out) };
        let mut names: Vec<String> =
            entries.filter_map(Result::ok).filter_map(|e| e.file_name().to_str().map(str::to_owned)).collect();
        names.sort();
        for case in names {
            if check_case_id(&case).is_err() || !dir.join(&case).join("case.sqlite").is_file() {
                continue;
            }
            let store = open_case(&dir, &case)?;
            let files = store.files().map_err(|e| ApiError::Internal(e.to_string()))?;
            let to_review = files.iter().filter(|f| needs_review(f) && f.review.is_none()).count();
            out.push(CaseOut { owner: store.owner().unwrap_or_default(), case, files: files.len(), to_review });
        }
        Ok::<_, ApiError>(out)
    })
    .await??;
    Ok(Json(out))
}

fn needs_review(f: &limes_triage_scan::store::CaseFile) -> bool {
    f.record.kind == Kind::Picture
        && f.record.pdq.is_some()
        && f.verdict.as_ref().is_some_and(|v| limes_triage_scan::matching::needs_review(v.status))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilesQuery {
    /// `review` (unknown and near-matched pictures, the default) or `all`.
    show: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct FileOut {
    id: u64,
    path: String,
    kind: &'static str,
    status: Option<&'static str>,
    distance: Option<u32>,
    faces: Option<u32>,
    series: Option<u64>,
    category: Option<String>,
    reviewed_by: Option<String>,
    thumbnail: Option<String>,
}

/// `GET /api/v1/triage/cases/{case}/files[?show=all]`: the pictures to review (unknown and
/// near-matched; those with faces first, then by series), or every file.
pub(super) async fn files(
    State(state): State<AppState>,
    caller: Caller,
    Path(case): Path<String>,
    Query(q): Query<FilesQuery>,
) -> Result<Json<Vec<FileOut>>, ApiError> {
    let all = match q.show.as_deref() {
        None | Some("review") => false,
        Some("all") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("show={other:?}: review or all"))),
    };
    state.authorize(&caller, Operation::TriageReview, &state.access.node(), Object::new("triage", &case)).await?;
    let dir = triage_dir(&state)?;
    let out = tokio::task::spawn_blocking(move || {
        let store = open_case(&dir, &case)?;
        let mut files = store.files().map_err(|e| ApiError::Internal(e.to_string()))?;
        if !all {
            files.retain(needs_review);
            files.sort_by_key(|f| {
                (f.faces.unwrap_or(0) == 0, std::cmp::Reverse(f.faces.unwrap_or(0)), f.series.unwrap_or(f.id), f.id)
            });
        }
        Ok::<_, ApiError>(
            files
                .into_iter()
                .map(|f| FileOut {
                    id: f.id,
                    thumbnail: (f.record.kind == Kind::Picture && f.record.pdq.is_some())
                        .then(|| format!("/api/v1/triage/cases/{case}/files/{}/thumbnail", f.id)),
                    path: f.record.path,
                    kind: f.record.kind.name(),
                    status: f.verdict.as_ref().map(|v| v.status.name()),
                    distance: f.verdict.as_ref().and_then(|v| v.distance),
                    faces: f.faces,
                    series: f.series,
                    category: f.review.as_ref().map(|(c, _)| c.to_string()),
                    reviewed_by: f.review.map(|(_, by)| by),
                })
                .collect(),
        )
    })
    .await??;
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThumbnailQuery {
    /// `true`: the picture in clear and in colour (`triage.reveal`, logged as such).
    reveal: Option<bool>,
}

/// `GET /api/v1/triage/cases/{case}/files/{id}/thumbnail[?reveal=true]`: a JPEG thumbnail,
/// greyscale and blurred unless revealed.
pub(super) async fn thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    Path((case, id)): Path<(String, u64)>,
    Query(q): Query<ThumbnailQuery>,
) -> Result<Response, ApiError> {
    let clear = q.reveal.unwrap_or(false);
    let op = if clear { Operation::TriageReveal } else { Operation::TriageReview };
    state.authorize(&caller, op, &state.access.node(), Object::new("triage", format!("{case}/{id}"))).await?;
    let dir = triage_dir(&state)?;
    let jpeg = tokio::task::spawn_blocking(move || {
        let store = open_case(&dir, &case)?;
        let file = store
            .files()
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .into_iter()
            .find(|f| f.id == id && f.record.kind == Kind::Picture)
            .ok_or_else(|| ApiError::NotFound(format!("no picture {id} in case {case}")))?;
        let tmp = store.dir().join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| ApiError::Internal(e.to_string()))?;
        let bytes = limes_triage_scan::faces::read_back(&file.record.path, &tmp)
            .map_err(|e| ApiError::Unavailable(format!("the picture could not be read again: {e}")))?;
        limes_triage_scan::picture::thumbnail(&bytes, THUMBNAIL_SIDE, clear).map_err(ApiError::Unprocessable)
    })
    .await??;
    // Never cached: a revealed picture must not stay in a browser's cache.
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "no-store")], jpeg).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CategoryIn {
    /// VICS US 0–4 (`"1"`), or a category with its scheme (`"caid:A"`).
    category: String,
}

/// `PUT /api/v1/triage/cases/{case}/files/{id}/category`: the reviewer's category.
pub(super) async fn categorise(
    State(state): State<AppState>,
    caller: Caller,
    Path((case, id)): Path<(String, u64)>,
    Json(body): Json<CategoryIn>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let category = if body.category.contains(':') {
        Category::parse(&body.category)
    } else {
        Category::new(Scheme::VicsUs, &body.category)
    }
    .map_err(ApiError::Unprocessable)?;
    state
        .authorize(
            &caller,
            Operation::TriageCategorise,
            &state.access.node(),
            Object::new("triage", format!("{case}/{id}={category}")),
        )
        .await?;
    let dir = triage_dir(&state)?;
    let by = caller.actor().to_string();
    let shown = category.to_string();
    tokio::task::spawn_blocking(move || {
        let mut store = open_case(&dir, &case)?;
        if !store.set_review(id, &category, &by).map_err(|e| ApiError::Internal(e.to_string()))? {
            return Err(ApiError::NotFound(format!("no file {id} in case {case}")));
        }
        Ok(())
    })
    .await??;
    Ok(Json(serde_json::json!({ "id": id, "category": shown })))
}
