//! Existing cameras and recorders: ONVIF and Hikvision ISAPI clients (issue #9).
//!
//! What a node asks of the video systems an agency already runs: which cameras answer on the
//! network (WS-Discovery), which RTSP streams a camera offers (ONVIF Device and Media), which
//! recordings a recorder holds and how to replay them (ONVIF Profile G Search and Replay,
//! Hikvision ISAPI `ContentMgmt`). The stream and replay URIs found here are what
//! `limes-recorder` records.
//!
//! Requests are built and answers parsed by plain functions over plain types, with no I/O:
//! - [`discovery`]: the WS-Discovery Probe and ProbeMatches, [`discovery::Device`].
//! - [`soap`]: SOAP envelopes and Faults; [`security`]: WS-Security UsernameToken
//!   (PasswordDigest).
//! - [`device`] (GetServices, GetCapabilities), [`media`] (GetProfiles, GetStreamUri),
//!   [`profile_g`] (FindRecordings, GetRecordingSearchResults, GetReplayUri).
//! - [`isapi`]: `CMSearchDescription`/`CMSearchResult`, channel lists, playback by time.
//!
//! The thin I/O layer: [`discover`] (tokio UDP), [`OnvifClient`] and [`IsapiClient`] (reqwest;
//! ISAPI's HTTP Digest through `digest_auth`). Every answer is distrusted: its size, depth and
//! element count are bounded by [`Limits`], a `<!DOCTYPE>` is refused, and a SOAP Fault or an
//! ISAPI `ResponseStatus` becomes a typed [`Error`] carrying the device's reason.
//!
//! ```
//! use limes_onvif::{Limits, media};
//! let answer = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
//!   xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">
//!   <s:Body><trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://192.0.2.10/stream1</tt:Uri>
//!   </trt:MediaUri></trt:GetStreamUriResponse></s:Body></s:Envelope>"#;
//! assert_eq!(media::parse_stream_uri(answer, &Limits::default()).unwrap(), "rtsp://192.0.2.10/stream1");
//! ```

pub mod client;
pub mod device;
pub mod discovery;
pub mod isapi;
pub mod media;
pub mod profile_g;
pub mod security;
pub mod soap;
pub mod time;
pub mod xml;

pub use client::{Credentials, IsapiClient, OnvifClient};
pub use discovery::{DiscoverOptions, discover};

/// Bounds on what a parser accepts. Device answers are small; the defaults leave a wide margin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest answer, in bytes (default 4 MiB).
    pub max_document_bytes: usize,
    /// Deepest nesting of elements (default 64).
    pub max_depth: usize,
    /// Most elements in one answer (default 100,000).
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_document_bytes: 4 << 20, max_depth: 64, max_elements: 100_000 }
    }
}

/// What went wrong talking to a camera or recorder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The answer is larger than [`Limits::max_document_bytes`].
    #[error("the document is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    /// The answer is not UTF-8.
    #[error("the document is not UTF-8 (at byte {offset})")]
    InvalidUtf8 { offset: usize },
    /// The answer is not well-formed XML.
    #[error("xml at byte {offset}: {message}")]
    Xml { offset: u64, message: String },
    /// The answer has a `<!DOCTYPE>`, which no device protocol uses.
    #[error("a <!DOCTYPE> is refused (no device protocol uses one; its entities could expand or reach outside)")]
    Doctype,
    /// Elements nest deeper than [`Limits::max_depth`].
    #[error("nested deeper than {limit} levels at {path}")]
    TooDeep { limit: usize, path: String },
    /// More elements than [`Limits::max_elements`].
    #[error("more than {limit} elements")]
    TooManyElements { limit: usize },
    /// The document ends inside an element.
    #[error("the document ends inside {path}")]
    Truncated { path: String },
    /// No element at all.
    #[error("the document is empty")]
    Empty,
    /// The answer is not the element (in its namespace) the request asks for.
    #[error("expected {expected}, found {found}")]
    Unexpected { expected: String, found: String },
    /// The device answered with a SOAP Fault.
    #[error("the device refused: {reason} ({code})")]
    Fault { code: String, reason: String },
    /// The Hikvision device answered with an ISAPI `ResponseStatus` that is not OK.
    #[error("the device refused: {status} (status {code}{})", sub.as_deref().map(|s| format!(", {s}")).unwrap_or_default())]
    Isapi { code: String, status: String, sub: Option<String> },
    /// A required element is missing or empty.
    #[error("{what} missing at {path}")]
    Missing { what: &'static str, path: String },
    /// A value that does not parse (a time, a number, a state).
    #[error("{what}: {value:?} does not parse")]
    BadValue { what: &'static str, value: String },
    /// A URL that cannot be the device's.
    #[error("url {url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The device refused the credentials (or none were given).
    #[error("{url}: the device refused the credentials")]
    Unauthorized { url: String },
    /// The device answered with an HTTP error status.
    #[error("{url}: http status {status}")]
    Http { url: String, status: u16 },
    /// The device could not be reached, or the exchange broke.
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
}
