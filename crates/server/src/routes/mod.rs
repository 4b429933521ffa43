//! Route table and shared request helpers.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use axum::routing::{get, post, put};

use crate::{ApiError, AppState};

mod accounts;
mod alerts;
mod analysis;
mod bulletins;
mod cameras;
mod clips;
mod detections;
mod dpo;
mod footage;
mod hotlist;
mod images;
mod incidents;
mod live_grants;
mod misc;
mod ndjson;
mod operations;
mod partners;
mod patrols;
mod push;
mod queries;
mod reads;
mod requests;
mod triage;
mod video;
pub(crate) mod watch;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/health", get(misc::health))
        .route("/api/v1/node", get(misc::node))
        .route("/api/v1/auth/login", post(accounts::login))
        .route("/api/v1/auth/logout", post(accounts::logout))
        .route("/api/v1/auth/me", get(accounts::whoami))
        .route("/api/v1/auth/purpose", put(accounts::set_purpose))
        .route("/api/v1/auth/totp", post(accounts::totp_enrol))
        .route("/api/v1/auth/oidc/{provider}/login", get(accounts::oidc_login))
        .route("/api/v1/auth/oidc/{provider}/callback", get(accounts::oidc_callback))
        .route("/api/v1/users", get(accounts::list_users).post(accounts::create_user))
        .route("/api/v1/users/{name}", get(accounts::get_user).put(accounts::put_user))
        .route("/api/v1/tokens", get(accounts::list_tokens).post(accounts::create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(accounts::revoke_token))
        .route("/api/v1/audit", get(dpo::audit))
        .route("/api/v1/subject/plates/{plate}", get(dpo::subject).delete(dpo::erase))
        .route("/api/v1/subject/plates/{plate}/restriction", post(dpo::restrict).delete(dpo::restrict))
        .route("/api/v1/subject/events/{kind}/{id}", get(dpo::event).delete(dpo::erase_event))
        .route("/api/v1/stats", get(misc::stats))
        .route("/api/v1/plates/normalize", get(misc::normalize))
        .route("/api/v1/reads", post(reads::post).get(reads::search))
        .route("/api/v1/reads/{id}", get(reads::get_one))
        .route("/api/v1/queries/plates", post(queries::ask))
        .route("/api/v1/requests", get(requests::list).post(requests::make))
        .route("/api/v1/requests/{direction}/{partner}/{id}", get(requests::get_one))
        .route("/api/v1/requests/in/{partner}/{id}/decision", post(requests::decide))
        .route("/api/v1/reads/{id}/images", get(images::list).post(images::post))
        .route("/api/v1/images/{sha256}", get(images::get_one))
        .route("/api/v1/triage/cases", get(triage::cases))
        .route("/api/v1/triage/cases/{case}/files", get(triage::files))
        .route("/api/v1/triage/cases/{case}/files/{id}/thumbnail", get(triage::thumbnail))
        .route("/api/v1/triage/cases/{case}/files/{id}/category", put(triage::categorise))
        .route("/api/v1/detections", post(detections::post).get(detections::search))
        .route("/api/v1/detections/{id}", get(detections::get_one))
        .route("/api/v1/cameras", get(cameras::list).post(cameras::create))
        .route("/api/v1/cameras/import", post(cameras::import))
        .route("/api/v1/cameras/{id}", get(cameras::get_one).put(cameras::put).delete(cameras::delete))
        .route("/api/v1/cameras/{id}/push/hikvision", post(push::hikvision))
        .route("/api/v1/cameras/{id}/push/axis", post(push::axis))
        .route("/api/v1/cameras/{id}/push/onvif", post(push::onvif))
        .route("/api/v1/hotlist", get(hotlist::list).post(hotlist::import))
        .route("/api/v1/hotlist/search", get(hotlist::search))
        .route("/api/v1/hotlist/{id}", get(hotlist::get_one).put(hotlist::update).delete(hotlist::delete))
        .route("/api/v1/incidents", get(incidents::list).post(incidents::raise))
        .route("/api/v1/incidents/stream", get(incidents::stream))
        .route("/api/v1/incidents/{origin}/{n}", get(incidents::get_one))
        .route("/api/v1/incidents/{origin}/{n}/events", post(incidents::write))
        .route("/api/v1/incidents/{origin}/{n}/ack", post(incidents::ack))
        .route("/api/v1/incidents/{origin}/{n}/attachments", post(incidents::attach))
        .route("/api/v1/incidents/{origin}/{n}/attachments/{sha256}", get(incidents::attachment))
        .route("/api/v1/video/cameras", get(video::cameras))
        .route("/api/v1/cameras/{id}/recordings", get(video::recordings))
        .route("/api/v1/cameras/{id}/live.mp4", get(watch::live))
        .route("/api/v1/cameras/{id}/video.mp4", get(watch::recorded))
        .route("/api/v1/cameras/{id}/clips", post(clips::export))
        .route("/api/v1/clips", get(clips::list))
        .route("/api/v1/clips/{sha256}", get(clips::get_one))
        .route("/api/v1/clips/{sha256}/file", get(clips::file))
        .route("/api/v1/clips/{sha256}/manifest", get(clips::manifest))
        .route("/api/v1/clips/{sha256}/send", post(clips::send))
        .route("/api/v1/clips/{sha256}/anonymised", post(clips::anonymised))
        .route("/api/v1/video/grants", get(live_grants::list).post(live_grants::create))
        .route("/api/v1/video/grants/{origin}/{n}/revoke", post(live_grants::revoke))
        .route("/api/v1/video/grants/{origin}/{n}/live.mp4", get(live_grants::watch))
        .route("/api/v1/footage", get(footage::list).post(footage::upload))
        .route("/api/v1/footage/{sha256}", get(footage::get_one))
        .route("/api/v1/footage/{sha256}/telemetry", post(footage::telemetry))
        .route("/api/v1/footage/{sha256}/position", get(footage::position))
        .route("/api/v1/footage/{sha256}/track", get(footage::track))
        .route("/api/v1/footage/{sha256}/file", get(footage::file))
        .route("/api/v1/footage/{sha256}/analyse", post(analysis::footage))
        .route("/api/v1/cameras/{id}/analyse", post(analysis::recording))
        .route("/api/v1/events", get(analysis::list))
        .route("/api/v1/events/{id}", get(analysis::get_one))
        .route("/api/v1/events/{id}/frame", get(analysis::frame))
        .route("/api/v1/events/{id}/onvif", get(analysis::onvif))
        .route("/api/v1/events/{id}/confirm", post(analysis::confirm))
        .route("/api/v1/events/{id}/dismiss", post(analysis::dismiss))
        .route("/api/v1/traffic", get(analysis::traffic))
        .route("/api/v1/analysis/cameras", get(analysis::live))
        .route("/api/v1/operations", get(operations::list).post(operations::open))
        .route("/api/v1/operations/stream", get(operations::stream))
        .route("/api/v1/operations/{origin}/{n}", get(operations::get_one))
        .route("/api/v1/operations/{origin}/{n}/events", post(operations::write))
        .route("/api/v1/operations/{origin}/{n}/documents", post(operations::add_document))
        .route("/api/v1/operations/{origin}/{n}/documents/{sha256}", get(operations::document))
        .route("/api/v1/bulletins", get(bulletins::list).post(bulletins::issue))
        .route("/api/v1/bulletins/stream", get(bulletins::stream))
        .route("/api/v1/bulletins/{origin}/{n}", get(bulletins::get_one))
        .route("/api/v1/bulletins/{origin}/{n}/forward", post(bulletins::forward))
        .route("/api/v1/patrols/codes", get(patrols::codes))
        .route("/api/v1/patrols/units", get(patrols::list_units).post(patrols::put_unit))
        .route("/api/v1/patrols/units/{agency}/{code}", get(patrols::get_unit))
        .route("/api/v1/patrols/units/{agency}/{code}/positions", post(patrols::post_positions))
        .route("/api/v1/patrols/units/{agency}/{code}/status", post(patrols::post_status))
        .route("/api/v1/patrols/units/{agency}/{code}/route", get(patrols::route))
        .route("/api/v1/patrols/positions", get(patrols::positions))
        .route("/api/v1/patrols/assignments", get(patrols::assignments).post(patrols::assign))
        .route("/api/v1/patrols/suggestions", get(patrols::suggestions))
        .route("/api/v1/patrols/stream", get(patrols::stream))
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/alerts/stream", get(alerts::stream))
        .route("/api/v1/alerts/{id}/ack", post(alerts::ack))
        .route("/api/v1/partners", get(partners::list).post(partners::add))
        .route("/api/v1/partners/{agency}", axum::routing::delete(partners::remove))
        .route("/api/v1/partners/{agency}/revoke", post(partners::revoke))
        .route("/api/v1/federation", get(partners::status))
        .route("/api/v1/agreements", get(partners::agreements).post(partners::add_agreement))
        .route("/api/v1/agreements/{id}/revoke", post(partners::revoke_agreement))
        .with_state(state)
}

/// The media type of a request, lower case, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The id of an incident, a bulletin or an operation from its route's two parts.
/// A `{sha256}` path parameter: 64 lower-case hexadecimal digits.
pub(crate) fn digest(sha256: &str) -> Result<&str, ApiError> {
    if crate::files::is_sha256(sha256) {
        Ok(sha256)
    } else {
        Err(ApiError::BadRequest(format!("{sha256:?} is not a SHA-256 (64 lower-case hexadecimal digits)")))
    }
}

pub(crate) fn shared_id(origin: &str, n: &str) -> Result<limes_cooperation::SharedId, ApiError> {
    format!("{origin}/{n}").parse().map_err(ApiError::BadRequest)
}

/// `?closed=&exercise=&limit=` of the incidents' and the operations' lists.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FoldedListParams {
    #[serde(default)]
    closed: bool,
    exercise: Option<bool>,
    limit: Option<usize>,
}

impl FoldedListParams {
    pub(crate) fn query(&self) -> limes_store::IncidentQuery {
        limes_store::IncidentQuery { closed: self.closed, exercise: self.exercise, limit: self.limit.unwrap_or(200) }
    }
}

/// A live stream of `rx`'s changes (incidents, operations) as `event` events, each only where
/// `visible` says the caller may see it; `list` names the route that lists what a slow
/// subscriber skipped.
pub(crate) fn live_stream(
    mut rx: tokio::sync::broadcast::Receiver<crate::incidents::Live>,
    event: &'static str,
    list: &'static str,
    visible: impl Fn(&crate::incidents::Live) -> bool + Send + 'static,
) -> axum::response::sse::Sse<impl futures::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>>
{
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    let stream = alerts::async_stream(move |tx| async move {
        loop {
            let ev = match rx.recv().await {
                Ok(l) if !visible(&l) => continue,
                Ok(l) => Event::default().event(event).data(&*l.json),
                Err(RecvError::Lagged(n)) => Event::default()
                    .event("lagged")
                    .data(format!("{n} {event} changes skipped; list them with GET {list}")),
                Err(RecvError::Closed) => return,
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
}

/// The purpose the caller declared (the node's collection purpose for a grant without one).
pub(crate) fn purpose_of(state: &AppState, grant: crate::Grant) -> String {
    grant.purpose.map_or_else(|| state.access.options.collection_purpose.purpose.clone(), |p| p.purpose)
}

/// Reads a whole body up to the node's limit.
pub(crate) async fn body_bytes(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    body_bytes_up_to(body, state.options.max_body_bytes).await
}

/// Reads a whole body of at most `limit` bytes.
pub(crate) async fn body_bytes_up_to(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large { ApiError::TooLarge(limit) } else { ApiError::BadRequest(format!("reading request body: {e}")) }
    })
}

/// Checks a body is UTF-8, naming the first bad byte's offset.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(bytes)
        .map_err(|e| ApiError::BadRequest(format!("request body is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

/// Parses JSON with an error that names line and column.
pub(crate) fn json<'a, T: serde::Deserialize<'a>>(what: &str, text: &'a str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            ApiError::Unprocessable(format!("{what}: {e}"))
        } else {
            ApiError::BadRequest(format!("{what} is not valid JSON: {e}"))
        }
    })
}

/// An optional `country` query parameter: absent or empty is none; otherwise two letters.
pub(crate) fn country_param(country: Option<&str>) -> Result<Option<limes_plate::CountryCode>, ApiError> {
    country
        .filter(|c| !c.is_empty())
        .map(limes_plate::CountryCode::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// A kept file as a download: its bytes, its media type, its name for saving, never sniffed.
pub(super) async fn file_response(
    path: &std::path::Path,
    name: &str,
    media_type: &str,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let bytes = tokio::fs::read(path).await.map_err(|e| ApiError::Internal(format!("reading a kept file: {e}")))?;
    let disposition = format!("attachment; filename=\"{}\"", name.replace(['"', '\\'], "_"));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, media_type.to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

/// `?name=` of a file posted as the body (an incident's attachment, an operation's document).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileName {
    pub name: String,
}

/// The media type of a file posted as the body: its `Content-Type`, or
/// `application/octet-stream` when it gives none.
pub(super) fn file_media_type(headers: &axum::http::HeaderMap) -> String {
    match media_type(headers) {
        m if m.is_empty() => "application/octet-stream".to_owned(),
        m => m,
    }
}
