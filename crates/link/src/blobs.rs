//! Large payloads (images, clips) between partners: sent in parts, resumed after an
//! interruption, verified by their SHA-256 before they exist for the receiver.
//!
//! A blob is named by the SHA-256 of its bytes; a signed message that refers to it names that
//! hash, so the blob needs no signature of its own. The receiver keeps each sender's partial
//! file under `blobs/partial/<sender>/<sha256>`, writes a request's bytes as they arrive and keeps
//! them when the connection breaks, appends only at the file's current end (a request
//! at another offset is refused with the length it has, where the sender resumes), and when the
//! last byte arrives hashes the file: a match is moved to `blobs/<sha256>` (fsynced), anything
//! else is deleted and refused.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Extension, Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use limes_audit::{Action, Object, Outcome as AuditOutcome};
use limes_federation::{Refusal, RejectCode, backoff};
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::receive::PeerCert;
use crate::{Inner, Link, LinkError};

/// Most bytes a sender sends in one request.
pub const CHUNK_BYTES: usize = 4 << 20;

/// What a receiver holds of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobStatus {
    /// Bytes received so far (the offset to send next).
    pub received: u64,
    pub complete: bool,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_sha(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn refuse(status: StatusCode, code: RejectCode, error: impl Into<String>) -> Response {
    (status, axum::Json(Refusal::new(code, error))).into_response()
}

pub(crate) fn blob_dir(inner: &Inner) -> PathBuf {
    inner.dir.join("blobs")
}

fn partial_path(inner: &Inner, sender: &AgencyId, sha: &str) -> PathBuf {
    blob_dir(inner).join("partial").join(sender.as_str()).join(sha)
}

fn status_of(inner: &Inner, sender: &AgencyId, sha: &str) -> BlobStatus {
    if blob_dir(inner).join(sha).exists() {
        return BlobStatus { received: u64::MAX, complete: true };
    }
    let received = std::fs::metadata(partial_path(inner, sender, sha)).map(|m| m.len()).unwrap_or(0);
    BlobStatus { received, complete: false }
}

/// `GET /federation/v1/blobs/{sha256}`: how much of it this node holds from the caller.
pub(crate) async fn status(
    State(inner): State<Arc<Inner>>,
    Extension(PeerCert(fp)): Extension<PeerCert>,
    UrlPath(sha): UrlPath<String>,
) -> Response {
    let Some(partner) = inner.partner_by_fingerprint(&fp) else {
        return refuse(StatusCode::FORBIDDEN, RejectCode::Revoked, "this certificate is no longer a partner's");
    };
    if parse_sha(&sha).is_none() {
        return refuse(
            StatusCode::BAD_REQUEST,
            RejectCode::Malformed,
            "a blob is named by 64 hex digits of its SHA-256",
        );
    }
    axum::Json(status_of(&inner, &partner.agency, &sha)).into_response()
}

#[derive(Deserialize)]
pub(crate) struct PutParams {
    offset: u64,
    total: u64,
}

/// `PUT /federation/v1/blobs/{sha256}?offset=&total=`: bytes from `offset` on, appended at the
/// end of what the node holds. The body is written as it arrives: when the connection breaks
/// mid-request, what arrived is kept (fsynced) and the sender resumes after it.
pub(crate) async fn put(
    State(inner): State<Arc<Inner>>,
    Extension(PeerCert(fp)): Extension<PeerCert>,
    UrlPath(sha): UrlPath<String>,
    Query(p): Query<PutParams>,
    body: axum::body::Body,
) -> Response {
    let Some(partner) = inner.partner_by_fingerprint(&fp) else {
        return refuse(StatusCode::FORBIDDEN, RejectCode::Revoked, "this certificate is no longer a partner's");
    };
    let Some(digest) = parse_sha(&sha) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            RejectCode::Malformed,
            "a blob is named by 64 hex digits of its SHA-256",
        );
    };
    if p.total > inner.config.max_blob_bytes {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            RejectCode::Oversized,
            format!("the blob is {} bytes; at most {}", p.total, inner.config.max_blob_bytes),
        );
    }
    if p.offset > p.total {
        return refuse(StatusCode::BAD_REQUEST, RejectCode::Malformed, "the offset is beyond the blob's size");
    }
    let sender = partner.agency.clone();
    if blob_dir(&inner).join(&sha).exists() {
        return axum::Json(BlobStatus { received: p.total, complete: true }).into_response();
    }
    // One upload of a blob from a sender at a time: two would interleave their bytes.
    let path = partial_path(&inner, &sender, &sha);
    let Some(_upload) = Upload::begin(&inner, path.clone()) else {
        return refuse(StatusCode::CONFLICT, RejectCode::Unavailable, "this blob is being sent on another connection");
    };
    let written = match receive_body(&path, p.offset, p.total, body).await {
        Ok(Ok(n)) => n,
        Ok(Err(have)) => {
            return (
                StatusCode::CONFLICT,
                axum::Json(serde_json::json!({
                    "code": "offset", "error": format!("this node holds {have} bytes of the blob; send from there"),
                    "received": have,
                })),
            )
                .into_response();
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return refuse(StatusCode::BAD_REQUEST, RejectCode::Malformed, "more bytes than the blob's size");
        }
        Err(e) => {
            tracing::error!(error = %e, "storing a blob");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                RejectCode::Unavailable,
                "the receiver could not store the bytes",
            );
        }
    };
    if written < p.total {
        return axum::Json(BlobStatus { received: written, complete: false }).into_response();
    }
    let job = {
        let inner = inner.clone();
        let sha = sha.clone();
        tokio::task::spawn_blocking(move || finish(&inner, &sender, &sha, digest))
    };
    match job.await {
        Ok(Ok(())) => {
            let event = inner.audit_event(
                partner.agency.as_str(),
                Action::Collect,
                Object::new("blob", &sha),
                AuditOutcome::Allowed,
                serde_json::json!({ "bytes": p.total }),
            );
            inner.audit_all(vec![event]).await;
            axum::Json(BlobStatus { received: p.total, complete: true }).into_response()
        }
        Ok(Err(Finish::Digest)) => {
            let event = inner.audit_event(
                partner.agency.as_str(),
                Action::Denied,
                Object::new("blob", &sha),
                AuditOutcome::Denied,
                serde_json::json!({ "code": "bad_digest", "bytes": p.total }),
            );
            inner.audit_all(vec![event]).await;
            refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                RejectCode::BadDigest,
                "the bytes received do not hash to the blob's name; they were deleted, send it again",
            )
        }
        Ok(Err(Finish::Io(e))) => {
            tracing::error!(error = %e, "verifying a blob");
            refuse(StatusCode::SERVICE_UNAVAILABLE, RejectCode::Unavailable, "the receiver could not verify the blob")
        }
        Err(_) => refuse(StatusCode::SERVICE_UNAVAILABLE, RejectCode::Unavailable, "the receiver is stopping"),
    }
}

/// Marks a partial file as being written; unmarked when dropped.
struct Upload<'a>(&'a Inner, PathBuf);

impl<'a> Upload<'a> {
    fn begin(inner: &'a Inner, path: PathBuf) -> Option<Self> {
        let mut busy = inner.uploads.lock().unwrap_or_else(|e| e.into_inner());
        busy.insert(path.clone()).then(|| Upload(inner, path))
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        self.0.uploads.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.1);
    }
}

/// Appends the body at `offset` (which must be the partial file's length); returns the file's
/// length afterwards, or `Err(length)` when the offset is not the file's end. A body that
/// breaks off keeps what arrived.
async fn receive_body(
    path: &Path,
    offset: u64,
    total: u64,
    mut body: axum::body::Body,
) -> std::io::Result<Result<u64, u64>> {
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;
    tokio::fs::create_dir_all(path.parent().expect("a partial path has a folder")).await?;
    let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await?;
    let have = file.metadata().await?.len();
    if have != offset {
        return Ok(Err(have));
    }
    let mut length = have;
    // A sender that goes silent (a connection cut without a reset) frees the upload after
    // 5 s: what arrived stays, and the sender resumes after it on a new connection.
    while let Ok(Some(frame)) = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame()).await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else { continue };
        if length + data.len() as u64 > total {
            file.sync_data().await?;
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "more bytes than the blob's size"));
        }
        file.write_all(&data).await?;
        length += data.len() as u64;
    }
    file.flush().await?;
    file.sync_data().await?;
    Ok(Ok(length))
}

enum Finish {
    Digest,
    Io(std::io::Error),
}

/// Hashes a complete partial file: a match becomes the blob, anything else is deleted.
fn finish(inner: &Inner, sender: &AgencyId, sha: &str, digest: [u8; 32]) -> Result<(), Finish> {
    let path = partial_path(inner, sender, sha);
    let io = Finish::Io;
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    if <[u8; 32]>::from(hasher.finalize()) != digest {
        std::fs::remove_file(&path).map_err(io)?;
        return Err(Finish::Digest);
    }
    std::fs::rename(&path, blob_dir(inner).join(sha)).map_err(io)?;
    std::fs::File::open(blob_dir(inner)).and_then(|d| d.sync_all()).map_err(io)?;
    Ok(())
}

impl Link {
    /// Where a verified blob received from a partner is, if it is here.
    pub fn blob_path(&self, sha256: &[u8; 32]) -> Option<PathBuf> {
        let path = blob_dir(&self.0).join(hex(sha256));
        path.exists().then_some(path)
    }

    /// Sends the file at `path` to `partner` in chunks, resuming where the partner's copy
    /// ends after each interruption, until the partner has verified it; returns its SHA-256.
    /// Gives up after `attempts` failed requests in a row.
    pub async fn send_blob(&self, partner: &AgencyId, path: &Path, attempts: u32) -> Result<[u8; 32], LinkError> {
        let p = self.0.partner(partner).ok_or_else(|| LinkError::NotFound(format!("no partner {partner}")))?;
        let bytes =
            tokio::fs::read(path).await.map_err(|e| LinkError::File { path: path.to_owned(), error: e.to_string() })?;
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        let client = crate::send::partner_client(&self.0, p.fingerprint, Duration::from_secs(60))?;
        let url = format!("{}/federation/v1/blobs/{}", p.anchor.url.trim_end_matches('/'), hex(&sha));
        let total = bytes.len() as u64;
        let mut failures = 0u32;
        loop {
            match self.send_from(&client, &url, &bytes, total).await {
                Ok(true) => return Ok(sha),
                Ok(false) => {
                    // The partner holds another length, or still writes a broken request.
                    failures = 0;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    failures += 1;
                    if failures >= attempts {
                        return Err(LinkError::Refused(format!("sending blob {} to {partner}: {e}", hex(&sha))));
                    }
                    tracing::debug!(partner = %partner, error = %e, "blob transfer interrupted; resuming");
                    let d =
                        backoff::delay(failures - 1, Duration::from_millis(50), Duration::from_secs(5), rand::random());
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    /// Asks where the partner's copy ends, then sends chunks from there. `Ok(true)` once the
    /// partner verified the blob; `Ok(false)` when it asked to resume elsewhere.
    async fn send_from(&self, client: &reqwest::Client, url: &str, bytes: &[u8], total: u64) -> Result<bool, String> {
        let status: BlobStatus = client
            .get(url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .error_for_status()
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if status.complete {
            return Ok(true);
        }
        let mut offset = status.received.min(total);
        loop {
            let end = (offset as usize + CHUNK_BYTES).min(bytes.len());
            let r = client
                .put(format!("{url}?offset={offset}&total={total}"))
                .body(bytes[offset as usize..end].to_vec())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            match r.status() {
                s if s.is_success() => {
                    let st: BlobStatus = r.json().await.map_err(|e| e.to_string())?;
                    if st.complete {
                        return Ok(true);
                    }
                    offset = st.received;
                }
                StatusCode::CONFLICT => return Ok(false),
                s => return Err(format!("{s}: {}", r.text().await.unwrap_or_default())),
            }
        }
    }
}
