//! The HTTP side: a thin layer that sends what the pure modules build and hands the answers
//! to their parsers. Answers are read up to [`Limits::max_document_bytes`] and no further.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, header};

use crate::device::{self, Services};
use crate::isapi::{self, Channel, SearchMatch, SearchRequest, SearchStatus};
use crate::media::{self, Profile};
use crate::profile_g::{self, Recording, SearchState};
use crate::{Error, Limits, discovery, security, soap};

/// A user name and password. The password is never shown by `Debug`.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// An error with its causes, as one line: reqwest's own message rarely says what failed.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn http_client(timeout: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent("limes-onvif")
        .build()
        .map_err(|e| Error::Transport { url: String::new(), reason: e.to_string() })
}

fn check_url(url: &str) -> Result<reqwest::Url, Error> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Error::BadUrl { url: url.to_owned(), reason: e.to_string() })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::BadUrl { url: url.to_owned(), reason: "not an http(s) url with a host".into() });
    }
    Ok(parsed)
}

/// Reads a response's body, refusing one larger than `limit` without reading it whole.
async fn read_body(url: &str, mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, Error> {
    if let Some(length) = response.content_length().filter(|&n| n > limit as u64) {
        return Err(Error::TooLarge { size: usize::try_from(length).unwrap_or(usize::MAX), limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| Error::Transport { url: url.to_owned(), reason: chain(&e) })?
    {
        if body.len() + chunk.len() > limit {
            return Err(Error::TooLarge { size: body.len() + chunk.len(), limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An ONVIF device (camera or recorder), reached at its Device service URL.
#[derive(Debug, Clone)]
pub struct OnvifClient {
    http: reqwest::Client,
    device: String,
    credentials: Option<Credentials>,
    pub limits: Limits,
}

/// A profile and the RTSP URI of its stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stream {
    pub profile: Profile,
    pub uri: String,
}

impl OnvifClient {
    /// A client of the device at `device_url` (`http://host/onvif/device_service`), signing
    /// each request with a WS-Security UsernameToken when `credentials` are given.
    pub fn new(device_url: &str, credentials: Option<Credentials>) -> Result<Self, Error> {
        check_url(device_url)?;
        Ok(Self {
            http: http_client(Duration::from_secs(15))?,
            device: device_url.to_owned(),
            credentials,
            limits: Limits::default(),
        })
    }

    /// Sends `body` in an envelope to the service at `url` and returns the answer's bytes.
    /// A Fault (with any status) becomes [`Error::Fault`].
    pub async fn call(&self, url: &str, body: &str) -> Result<Vec<u8>, Error> {
        check_url(url)?;
        let header = self.credentials.as_ref().map(|c| {
            let nonce: [u8; 16] = rand::random();
            security::security_header(&c.username, &c.password, &nonce, Utc::now())
        });
        let request = soap::envelope(header.as_deref(), body);
        let response = self
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/soap+xml; charset=utf-8")
            .body(request)
            .send()
            .await
            .map_err(|e| Error::Transport { url: url.to_owned(), reason: chain(&e) })?;
        let status = response.status();
        let bytes = read_body(url, response, self.limits.max_document_bytes).await?;
        if status.is_success() {
            return Ok(bytes);
        }
        // A Fault says more than the status does (ONVIF devices answer 400 or 500 with one).
        match soap::body(&bytes, &self.limits) {
            Err(fault @ Error::Fault { .. }) => Err(fault),
            _ if status == StatusCode::UNAUTHORIZED => Err(Error::Unauthorized { url: url.to_owned() }),
            _ => Err(Error::Http { url: url.to_owned(), status: status.as_u16() }),
        }
    }

    /// Where the device's services are: `GetServices`, or `GetCapabilities` when the device
    /// refuses that. The Device service is the one asked when it names none.
    pub async fn services(&self) -> Result<Services, Error> {
        let mut services = match self.call(&self.device, &device::get_services()).await {
            Ok(bytes) => device::parse_services(&bytes, &self.limits)?,
            Err(Error::Fault { .. } | Error::Http { .. }) => {
                let bytes = self.call(&self.device, &device::get_capabilities()).await?;
                device::parse_capabilities(&bytes, &self.limits)?
            }
            Err(e) => return Err(e),
        };
        services.device.get_or_insert_with(|| self.device.clone());
        Ok(services)
    }

    /// The media profiles, through the Media service at `media`.
    pub async fn profiles(&self, media: &str) -> Result<Vec<Profile>, Error> {
        media::parse_profiles(&self.call(media, &media::get_profiles()).await?, &self.limits)
    }

    /// Every profile with its RTSP URI (RTP unicast over RTSP).
    pub async fn streams(&self) -> Result<Vec<Stream>, Error> {
        let services = self.services().await?;
        let media = services.media.ok_or(Error::Missing { what: "a Media service", path: "GetServices".into() })?;
        let mut out = Vec::new();
        for profile in self.profiles(&media).await? {
            let bytes = self.call(&media, &media::get_stream_uri(&profile.token)).await?;
            out.push(Stream { uri: media::parse_stream_uri(&bytes, &self.limits)?, profile });
        }
        Ok(out)
    }

    /// Every recording the Search service at `search` finds: `FindRecordings`, then results
    /// until the search is `Completed` (at most 100 rounds), then `EndSearch`.
    pub async fn recordings(&self, search: &str) -> Result<Vec<Recording>, Error> {
        let token = profile_g::parse_search_token(
            &self.call(search, &profile_g::find_recordings(1000, 60)).await?,
            &self.limits,
        )?;
        let mut recordings = Vec::new();
        let mut result = Ok(());
        for _ in 0..100 {
            let page = match self.call(search, &profile_g::get_recording_search_results(&token, 100, 5)).await {
                Ok(bytes) => profile_g::parse_recording_search_results(&bytes, &self.limits),
                Err(e) => Err(e),
            };
            match page {
                Ok(page) => {
                    recordings.extend(page.recordings);
                    if page.state == SearchState::Completed {
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // Freeing the search is a courtesy; a device that already ended it may refuse.
        if let Err(error) = self.call(search, &profile_g::end_search(&token)).await {
            tracing::debug!(%error, "EndSearch refused");
        }
        result.map(|()| recordings)
    }

    /// The RTSP URI replaying a recording, from the Replay service at `replay`.
    pub async fn replay_uri(&self, replay: &str, recording: &str) -> Result<String, Error> {
        profile_g::parse_replay_uri(&self.call(replay, &profile_g::get_replay_uri(recording)).await?, &self.limits)
    }
}

/// A Hikvision device (camera or NVR) reached over ISAPI with HTTP Digest authentication.
#[derive(Debug, Clone)]
pub struct IsapiClient {
    http: reqwest::Client,
    base: reqwest::Url,
    credentials: Option<Credentials>,
    pub limits: Limits,
}

impl IsapiClient {
    /// A client of the device at `base_url` (`http://host[:port]`).
    pub fn new(base_url: &str, credentials: Option<Credentials>) -> Result<Self, Error> {
        let base = check_url(base_url)?;
        Ok(Self { http: http_client(Duration::from_secs(15))?, base, credentials, limits: Limits::default() })
    }

    /// The device's host (and port, when not the default), as playback URIs name it.
    pub fn host(&self) -> String {
        self.base.host_str().unwrap_or_default().to_owned()
    }

    /// Sends a request, answering a Digest challenge once, and returns the body of a 2xx.
    /// An error status with a `ResponseStatus` becomes [`Error::Isapi`].
    pub async fn send(&self, method: Method, path: &str, body: Option<String>) -> Result<Vec<u8>, Error> {
        let url = self.base.join(path).map_err(|e| Error::BadUrl { url: path.to_owned(), reason: e.to_string() })?;
        let shown = url.to_string();
        let transport = |e: reqwest::Error| Error::Transport { url: shown.clone(), reason: chain(&e) };
        let build = |authorization: Option<String>| {
            let mut request = self.http.request(method.clone(), url.clone());
            if let Some(body) = &body {
                request = request.header(header::CONTENT_TYPE, "application/xml; charset=UTF-8").body(body.clone());
            }
            if let Some(a) = authorization {
                request = request.header(header::AUTHORIZATION, a);
            }
            request
        };
        let mut response = build(None).send().await.map_err(transport)?;
        if response.status() == StatusCode::UNAUTHORIZED
            && let Some(credentials) = &self.credentials
        {
            let challenge = response
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|v| v.trim_start().to_ascii_lowercase().starts_with("digest"))
                .ok_or_else(|| Error::Unauthorized { url: shown.clone() })?
                .to_owned();
            let mut prompt = digest_auth::parse(&challenge)
                .map_err(|e| Error::BadValue { what: "the digest challenge", value: e.to_string() })?;
            let uri = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            let context = digest_auth::AuthContext::new_with_method(
                credentials.username.as_str(),
                credentials.password.as_str(),
                uri.as_str(),
                body.as_deref().map(str::as_bytes),
                digest_auth::HttpMethod::from(method.as_str()),
            );
            let answer = prompt
                .respond(&context)
                .map_err(|e| Error::BadValue { what: "the digest challenge", value: e.to_string() })?;
            response = build(Some(answer.to_header_string())).send().await.map_err(transport)?;
        }
        let status = response.status();
        let bytes = read_body(&shown, response, self.limits.max_document_bytes).await?;
        if status.is_success() {
            return Ok(bytes);
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized { url: shown });
        }
        match isapi::parse_response_status(&bytes, &self.limits) {
            Err(e @ Error::Isapi { .. }) => Err(e),
            _ => Err(Error::Http { url: shown, status: status.as_u16() }),
        }
    }

    /// Every recorded stretch of `tracks` within `[from, to]`, page by page (50 a page, at
    /// most 200 pages).
    pub async fn search(
        &self,
        tracks: &[u32],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SearchMatch>, Error> {
        let search_id = discovery::message_id(rand::random()).trim_start_matches("urn:uuid:").to_uppercase();
        let mut found = Vec::new();
        for _ in 0..200 {
            let request = SearchRequest {
                search_id: search_id.clone(),
                tracks: tracks.to_vec(),
                from,
                to,
                max_results: 50,
                position: u32::try_from(found.len()).unwrap_or(u32::MAX),
            };
            let bytes =
                self.send(Method::POST, "/ISAPI/ContentMgmt/search", Some(isapi::search_description(&request))).await?;
            let page = isapi::parse_search_result(&bytes, &self.limits)?;
            let empty = page.matches.is_empty();
            found.extend(page.matches);
            if page.status != SearchStatus::More || empty {
                break;
            }
        }
        Ok(found)
    }

    /// The channels: a recorder's cameras (`InputProxy`), else the device's own video inputs.
    pub async fn channels(&self) -> Result<Vec<Channel>, Error> {
        match self.send(Method::GET, "/ISAPI/ContentMgmt/InputProxy/channels", None).await {
            Ok(bytes) => isapi::parse_channels(&bytes, &self.limits),
            Err(Error::Http { .. } | Error::Isapi { .. }) => {
                let bytes = self.send(Method::GET, "/ISAPI/System/Video/inputs/channels", None).await?;
                isapi::parse_channels(&bytes, &self.limits)
            }
            Err(e) => Err(e),
        }
    }
}
