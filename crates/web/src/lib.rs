//! The operations-centre page (issue #7): `web/` embedded in the binary when it is compiled,
//! and served by the node at `/` beside its API.
//!
//! The page is plain HTML, CSS and JavaScript modules: no build step, no CDN, no external
//! fonts, no online map tiles. What it takes from npm (Leaflet, the Natural Earth basemap) is
//! vendored into `web/vendor/` by `web/build.mjs` and committed, so a node builds and runs
//! on a closed network. It talks to the node through the same documented API as any
//! integrator (`/api/v1/…`), with the session of the person signed in.
//!
//! Every response carries a Content-Security-Policy that allows nothing but this node
//! (`default-src 'self'`), so the page cannot load or send anything elsewhere even if a
//! string it shows were hostile.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = axum::Router::new().merge(limes_web::router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The files of `web/` that make the page (not its tests, build script or npm packages).
#[derive(rust_embed::Embed)]
#[folder = "../../web/"]
#[include = "index.html"]
#[include = "app/*"]
#[include = "i18n/*.json"]
#[include = "vendor/**/*"]
#[exclude = "vendor/**/*.map"]
struct Assets;

/// The page's address.
pub const PATH: &str = "/ui/";

/// What the page may load: this node only. Leaflet positions map panes with inline style
/// properties set from script (CSSOM), which `style-src 'self'` allows; no inline `<style>` or
/// `style=""` markup is used. Video plays from `blob:` URLs the page makes itself (a Media
/// Source fed from this node's API, a recording fetched from it): `media-src 'self' blob:`; so
/// do pictures fetched from it with the session (the picture an event was raised on, which an
/// `<img src>` could not fetch: it sends no session): `img-src 'self' data: blob:`.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; font-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// `GET /` (to the page), `GET /ui/` (the page) and `GET /ui/{path}` (its files).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to(PATH) }))
        .route("/ui", get(|| async { Redirect::to(PATH) }))
        .route("/ui/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route("/ui/{*path}", get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }))
}

/// The names of the embedded files (for tests and `limes` diagnostics).
pub fn files() -> impl Iterator<Item = String> {
    Assets::iter().map(|f| f.into_owned())
}

/// An embedded file's bytes.
pub fn file(path: &str) -> Option<Vec<u8>> {
    Assets::get(path).map(|f| f.data.into_owned())
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return secured((StatusCode::NOT_FOUND, "not found").into_response());
    };
    // The content's hash is its ETag: a page reloaded after an upgrade gets the new files,
    // one reloaded without gets 304s.
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return secured((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let mut response = Response::new(Body::from(file.data.into_owned()));
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(file.metadata.mimetype()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secured(response)
}

fn secured(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
