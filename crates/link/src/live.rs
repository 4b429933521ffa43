//! Live video across the border: a partner's node asks `GET /federation/v1/live/{camera}` over
//! the same mutual TLS as every other exchange, and this node streams the camera's fragmented
//! MP4 back for as long as the node's [`LiveSource`] lets it (a supervisor's grant in force).
//! The link knows who asks (the certificate's agency) and audits every view it relays and every
//! one it refuses; what may be watched, and until when, is the node's to decide
//! (`limes-server`'s `live_grants`). [`Link::watch_live`] is the asking side.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use limes_audit::{Action, Object, Outcome};
use limes_federation::{Refusal, RejectCode};
use limes_model::AgencyId;
use serde::Deserialize;

use crate::receive::PeerCert;
use crate::{Inner, Link, LinkError};

/// The header that carries the wall time of the stream's media time 0.
pub const START_HEADER: &str = "limes-start";
/// The header that names the grant a relayed stream is watched under.
pub const GRANT_HEADER: &str = "limes-grant";
/// The longest a person's name may be in `?viewer=`.
const MAX_VIEWER: usize = 200;
/// How long the asking side waits for the next bytes before it calls the stream dead.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Bytes of a live stream as they come.
pub type VideoBytes = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// A camera's live video as fragmented MP4.
pub struct LiveVideo {
    /// `video/mp4; codecs="…"`.
    pub content_type: String,
    /// The wall time of media time 0 (RFC 3339), when known.
    pub start: Option<String>,
    /// The grant it is watched under.
    pub grant: String,
    pub body: VideoBytes,
}

impl std::fmt::Debug for LiveVideo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveVideo").field("content_type", &self.content_type).field("grant", &self.grant).finish()
    }
}

/// Why the node does not stream a camera to a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveRefusal {
    /// No grant in force for this partner and camera, or the agreement does not allow it.
    NotGranted(String),
    /// The camera gives no picture now.
    Unavailable(String),
}

/// What the node answers when a partner asks for a camera.
pub type LiveAnswer = Pin<Box<dyn Future<Output = Result<LiveVideo, LiveRefusal>> + Send>>;

/// The node's side: whether `partner`'s `viewer` may watch `camera` now, and the stream if so.
/// The stream must end when the grant does.
pub trait LiveSource: Send + Sync + 'static {
    fn open(&self, partner: AgencyId, camera: String, viewer: String) -> LiveAnswer;
}

#[derive(Debug, Deserialize)]
pub(crate) struct ViewerQuery {
    viewer: String,
}

fn refuse(status: StatusCode, code: RejectCode, error: impl Into<String>) -> Response {
    (status, axum::Json(Refusal::new(code, error))).into_response()
}

/// `GET /federation/v1/live/{camera}?viewer=`: the camera's live video, when the node has
/// granted it to the asking partner.
pub(crate) async fn serve(
    State(inner): State<Arc<Inner>>,
    Extension(PeerCert(fp)): Extension<PeerCert>,
    Path(camera): Path<String>,
    Query(q): Query<ViewerQuery>,
) -> Response {
    let Some(partner) = inner.partner_by_fingerprint(&fp) else {
        return refuse(StatusCode::FORBIDDEN, RejectCode::Revoked, "this certificate is no longer a partner's");
    };
    let viewer = q.viewer.trim();
    if viewer.is_empty() || viewer.chars().count() > MAX_VIEWER || viewer.chars().any(char::is_control) {
        return refuse(
            StatusCode::BAD_REQUEST,
            RejectCode::Malformed,
            "viewer: the person watching, 1 to 200 characters",
        );
    }
    let source = inner.live.get().cloned();
    let answer = match source {
        Some(source) => source.open(partner.agency.clone(), camera.clone(), viewer.to_owned()).await,
        None => Err(LiveRefusal::NotGranted("this node shares no live video".into())),
    };
    let object = Object::new("camera", &camera);
    match answer {
        Ok(video) => {
            let event = inner.audit_event(
                partner.agency.as_str(),
                Action::Transfer,
                object,
                Outcome::Allowed,
                serde_json::json!({ "live": true, "grant": video.grant, "viewer": viewer }),
            );
            inner.audit_all(vec![event]).await;
            inner.stats.live_views.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut response = Response::new(Body::from_stream(video.body));
            let headers = response.headers_mut();
            for (name, value) in [
                (header::CONTENT_TYPE.as_str(), Some(video.content_type.as_str())),
                (header::CACHE_CONTROL.as_str(), Some("no-store")),
                (START_HEADER, video.start.as_deref()),
                (GRANT_HEADER, Some(video.grant.as_str())),
            ] {
                if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                    headers.insert(header::HeaderName::from_static(name), v);
                }
            }
            response
        }
        Err(refusal) => {
            let (status, code, error) = match refusal {
                LiveRefusal::NotGranted(e) => (StatusCode::FORBIDDEN, RejectCode::NotAgreed, e),
                LiveRefusal::Unavailable(e) => (StatusCode::SERVICE_UNAVAILABLE, RejectCode::Unavailable, e),
            };
            let event = inner.audit_event(
                partner.agency.as_str(),
                Action::Denied,
                object,
                Outcome::Denied,
                serde_json::json!({ "live": true, "viewer": viewer, "error": error }),
            );
            inner.audit_all(vec![event]).await;
            refuse(status, code, error)
        }
    }
}

impl Link {
    /// Lets partners watch the cameras `source` grants them.
    pub fn serve_live(&self, source: Arc<dyn LiveSource>) {
        if self.0.live.set(source).is_err() {
            tracing::warn!("a live video source was already set; the first one stays");
        }
    }

    /// Asks `partner` for its camera's live video for `viewer` (a person of this agency, named
    /// in the partner's audit log). The stream ends when the partner ends it (the grant's end,
    /// a revocation) or when nothing comes for 20 seconds.
    pub async fn watch_live(&self, partner: &AgencyId, camera: &str, viewer: &str) -> Result<LiveVideo, LinkError> {
        let p = self.0.partner(partner).ok_or_else(|| LinkError::NotFound(format!("no partner {partner}")))?;
        let tls = crate::tls::client_config(&self.0.identity, p.fingerprint)?;
        // No total timeout: the body is a live stream. A stalled one ends after READ_TIMEOUT.
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(READ_TIMEOUT)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| LinkError::Tls(e.to_string()))?;
        let url = format!("{}/federation/v1/live/{camera}", p.anchor.url.trim_end_matches('/'));
        let failed = |error: String| LinkError::PartnerFailed { partner: partner.clone(), error };
        let resp = client
            .get(&url)
            .query(&[("viewer", viewer)])
            .send()
            .await
            .map_err(|e| failed(format!("{url}: {}", crate::send::error_chain(&e))))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(match serde_json::from_slice::<Refusal>(&body) {
                Ok(r) => LinkError::PartnerRefused {
                    partner: partner.clone(),
                    status: status.as_u16(),
                    code: r.code.as_str().to_owned(),
                    error: r.error,
                    retry_after: None,
                },
                Err(_) => failed(format!(
                    "{url} answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                )),
            });
        }
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = header(header::CONTENT_TYPE.as_str()).unwrap_or_else(|| "video/mp4".into());
        let start = header(START_HEADER);
        let grant = header(GRANT_HEADER).unwrap_or_default();
        let body = resp.bytes_stream().map(|r| r.map_err(std::io::Error::other));
        Ok(LiveVideo { content_type, start, grant, body: Box::pin(body) })
    }
}
