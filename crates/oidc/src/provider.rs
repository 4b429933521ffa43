//! The edge: discovery, the key set cache and the token endpoint, over HTTP.

use std::error::Error as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use url::Url;

use crate::config::secure_url;
use crate::login::{PendingLogin, authorization_url, random_secret};
use crate::validate::{Expected, TokenKind, constant_time_eq, validate_token};
use crate::{Claims, Jwks, OidcConfig, OidcError};

/// A token naming an unknown key makes the provider fetch its key set again at most this often.
pub const JWKS_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// The key set is fetched again when a token comes and it is older than this.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// How long one request to the provider may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest metadata, key set or token response read.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// The longest authorization code taken from a callback.
const MAX_CODE_BYTES: usize = 4096;

/// An identity provider the node trusts: its metadata, found by discovery, and its keys, kept
/// and fetched again when they change.
#[derive(Debug)]
pub struct Provider {
    config: OidcConfig,
    http: reqwest::Client,
    metadata: Metadata,
    keys: RwLock<CachedKeys>,
    /// Held while the key set is fetched again, so that concurrent tokens share one fetch.
    refetch: tokio::sync::Mutex<()>,
    min_refetch_interval: Duration,
    fetches: AtomicU64,
}

#[derive(Debug)]
struct Metadata {
    authorization_endpoint: Option<Url>,
    token_endpoint: Option<Url>,
    jwks_uri: Url,
    client_auth: ClientAuth,
}

/// How the node authenticates itself at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    Basic,
    /// `client_secret_post`: id and secret in the form.
    Post,
    /// A public client: `client_id` in the form, PKCE as its only proof.
    None,
}

#[derive(Clone, Debug)]
struct CachedKeys {
    keys: Arc<Jwks>,
    fetched_at: Instant,
    /// The last fetch begun, successful or not.
    attempted_at: Instant,
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl Provider {
    /// Reads the provider's metadata at `{issuer}/.well-known/openid-configuration` and its key
    /// set, with the node's HTTP client.
    ///
    /// The metadata's `issuer` must be the configured one exactly (OpenID Connect Discovery §4.3),
    /// and every endpoint `https` (or `http` on loopback).
    pub async fn discover(config: OidcConfig, http: reqwest::Client) -> Result<Provider, OidcError> {
        config.check()?;
        let discovery_url =
            Url::parse(&format!("{}/.well-known/openid-configuration", config.issuer.trim_end_matches('/')))
                .map_err(|error| OidcError::Config(format!("{}: issuer: {error}", config.name)))?;
        let document = get(&http, &discovery_url).await.map_err(OidcError::Discovery)?;
        let document: DiscoveryDocument = serde_json::from_slice(&document)
            .map_err(|error| OidcError::Discovery(format!("{discovery_url}: not provider metadata: {error}")))?;
        if document.issuer != config.issuer {
            return Err(OidcError::Discovery(format!(
                "the provider at {discovery_url} calls itself {:?}, not {:?}",
                document.issuer, config.issuer
            )));
        }
        let endpoint = |name: &str, value: &str| -> Result<Url, OidcError> {
            let url = Url::parse(value)
                .map_err(|error| OidcError::Discovery(format!("{name} {value:?} is not a URL: {error}")))?;
            secure_url(&url).map_err(|reason| OidcError::Discovery(format!("{name} {value:?} {reason}")))?;
            Ok(url)
        };
        let jwks_uri = endpoint("jwks_uri", &document.jwks_uri)?;
        let authorization_endpoint = document
            .authorization_endpoint
            .as_deref()
            .map(|value| endpoint("authorization_endpoint", value))
            .transpose()?;
        let token_endpoint =
            document.token_endpoint.as_deref().map(|value| endpoint("token_endpoint", value)).transpose()?;
        if config.redirect_url.is_some() {
            if authorization_endpoint.is_none() || token_endpoint.is_none() {
                return Err(OidcError::Discovery(
                    "a browser login needs an authorization_endpoint and a token_endpoint".to_owned(),
                ));
            }
            if let Some(methods) = &document.code_challenge_methods_supported
                && !methods.iter().any(|method| method == "S256")
            {
                return Err(OidcError::Discovery("the provider does not support PKCE with S256".to_owned()));
            }
        }
        let client_auth =
            client_auth(config.client_secret.is_some(), document.token_endpoint_auth_methods_supported.as_deref())?;
        let keys = fetch_keys(&http, &jwks_uri).await?;
        let now = Instant::now();
        Ok(Provider {
            metadata: Metadata { authorization_endpoint, token_endpoint, jwks_uri, client_auth },
            config,
            http,
            keys: RwLock::new(CachedKeys { keys: Arc::new(keys), fetched_at: now, attempted_at: now }),
            refetch: tokio::sync::Mutex::new(()),
            min_refetch_interval: JWKS_MIN_REFETCH_INTERVAL,
            fetches: AtomicU64::new(1),
        })
    }

    /// Changes how often a token naming an unknown key may make the provider fetch its key set
    /// again (default [`JWKS_MIN_REFETCH_INTERVAL`]).
    pub fn with_min_refetch_interval(mut self, interval: Duration) -> Provider {
        self.min_refetch_interval = interval;
        self
    }

    /// The provider's name in the node's configuration.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The provider's issuer identifier (for a callback's `iss` parameter, RFC 9207).
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The configuration the provider was discovered with.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// How many times the key set has been fetched, discovery included.
    pub fn key_set_fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Validates an API caller's access token (`Authorization: Bearer <JWT>`): the signature by a
    /// key of the provider's set (fetched again once if the token names an unknown key, at most
    /// every [`JWKS_MIN_REFETCH_INTERVAL`] by default), an asymmetric algorithm, `iss`, `aud` (the
    /// configured audience), `exp`, `nbf` and `iat` with the leeway, and the token type.
    pub async fn validate_bearer(&self, jwt: &str) -> Result<Claims, OidcError> {
        let expected = Expected {
            issuer: &self.config.issuer,
            audience: self.config.expected_audience(),
            leeway_seconds: self.config.leeway_seconds,
            kind: TokenKind::Access,
        };
        self.validate(&expected, jwt).await
    }

    /// Begins a browser login (authorization code flow with PKCE S256): the URL to send the
    /// browser to, and what to keep until the callback.
    pub fn begin_login(&self) -> Result<(String, PendingLogin), OidcError> {
        let Some(redirect_url) = self.config.redirect_url.clone() else {
            return Err(OidcError::Config(format!("{}: no redirect_url, so no browser login", self.config.name)));
        };
        let Some(endpoint) = &self.metadata.authorization_endpoint else {
            return Err(OidcError::Discovery("the provider has no authorization_endpoint".to_owned()));
        };
        let pending = PendingLogin {
            provider: self.config.name.clone(),
            issuer: self.config.issuer.clone(),
            state: random_secret()?,
            nonce: random_secret()?,
            pkce_verifier: random_secret()?,
            redirect_url,
            started_at: unix_now(),
        };
        let url = authorization_url(endpoint, &self.config.client_id, &self.config.scopes, &pending);
        Ok((url, pending))
    }

    /// Finishes a browser login from its callback's `code` and `state`: checks the state against
    /// the pending login (and that the login is this provider's and not expired), exchanges the
    /// code with the PKCE verifier at the token endpoint, and validates the ID token (signature,
    /// `iss`, `aud` = client id, `azp`, `exp`, `iat`, `nonce`). Returns the ID token's claims.
    ///
    /// A callback with an `error` parameter instead of a `code` is the caller's to report; so is
    /// checking a callback's `iss` parameter, where present, against [`Provider::issuer`].
    pub async fn complete_login(&self, pending: PendingLogin, code: &str, state: &str) -> Result<Claims, OidcError> {
        if !constant_time_eq(state, &pending.state)
            || pending.provider != self.config.name
            || pending.issuer != self.config.issuer
        {
            return Err(OidcError::StateMismatch);
        }
        if pending.is_expired(unix_now()) {
            return Err(OidcError::LoginExpired);
        }
        if code.is_empty() || code.len() > MAX_CODE_BYTES {
            return Err(OidcError::Malformed("authorization code: empty or longer than 4 KiB"));
        }
        let id_token = self.exchange_code(&pending, code).await?;
        let expected = Expected {
            issuer: &self.config.issuer,
            audience: &self.config.client_id,
            leeway_seconds: self.config.leeway_seconds,
            kind: TokenKind::Id { nonce: &pending.nonce },
        };
        self.validate(&expected, &id_token).await
    }

    async fn validate(&self, expected: &Expected<'_>, jwt: &str) -> Result<Claims, OidcError> {
        let keys = self.current_keys().await;
        match validate_token(&keys, expected, unix_now(), jwt) {
            Err(unknown @ OidcError::UnknownKey { .. }) => match self.refetch_keys(&keys).await {
                Ok(Some(keys)) => validate_token(&keys, expected, unix_now(), jwt),
                Ok(None) => Err(unknown),
                Err(error) => {
                    tracing::warn!(provider = %self.config.name, %error, "cannot fetch the key set again");
                    Err(unknown)
                }
            },
            other => other,
        }
    }

    /// The cached keys, fetched again first if they are older than [`JWKS_MAX_AGE`] (the old
    /// ones are kept if that fails).
    async fn current_keys(&self) -> Arc<Jwks> {
        let cached = self.cached();
        if cached.fetched_at.elapsed() < JWKS_MAX_AGE {
            return cached.keys;
        }
        match self.refetch_keys(&cached.keys).await {
            Ok(Some(keys)) => keys,
            Ok(None) => cached.keys,
            Err(error) => {
                tracing::warn!(provider = %self.config.name, %error, "cannot refresh the key set; keeping the old one");
                cached.keys
            }
        }
    }

    fn cached(&self) -> CachedKeys {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Fetches the key set again unless another task just did (then its keys are returned) or
    /// the last attempt is more recent than the minimum interval (then `None`).
    async fn refetch_keys(&self, seen: &Arc<Jwks>) -> Result<Option<Arc<Jwks>>, OidcError> {
        let _one_at_a_time = self.refetch.lock().await;
        {
            let mut cached = self.keys.write().unwrap_or_else(PoisonError::into_inner);
            if !Arc::ptr_eq(&cached.keys, seen) {
                return Ok(Some(cached.keys.clone()));
            }
            if cached.attempted_at.elapsed() < self.min_refetch_interval {
                return Ok(None);
            }
            cached.attempted_at = Instant::now();
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let keys = Arc::new(fetch_keys(&self.http, &self.metadata.jwks_uri).await?);
        let mut cached = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        cached.keys = keys.clone();
        cached.fetched_at = Instant::now();
        tracing::info!(provider = %self.config.name, keys = keys.len(), "fetched the key set again");
        Ok(Some(keys))
    }

    /// The token request of the code flow; returns the ID token.
    async fn exchange_code(&self, pending: &PendingLogin, code: &str) -> Result<String, OidcError> {
        let Some(token_endpoint) = &self.metadata.token_endpoint else {
            return Err(OidcError::Discovery("the provider has no token_endpoint".to_owned()));
        };
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &pending.redirect_url),
            ("code_verifier", &pending.pkce_verifier),
        ];
        let mut request =
            self.http.post(token_endpoint.clone()).header(ACCEPT, "application/json").timeout(HTTP_TIMEOUT);
        let secret = self.config.client_secret.as_deref().unwrap_or_default();
        match self.metadata.client_auth {
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: both form-encoded before they are joined.
                let credentials = format!("{}:{}", form_encode(&self.config.client_id), form_encode(secret));
                request = request.header(AUTHORIZATION, format!("Basic {}", STANDARD.encode(credentials)));
            }
            ClientAuth::Post => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", secret));
            }
            ClientAuth::None => form.push(("client_id", &self.config.client_id)),
        }
        let response = request.form(&form).send().await.map_err(|error| OidcError::TokenEndpoint(describe(&error)))?;
        let status = response.status();
        let body = read_body(response)
            .await
            .map_err(|error| OidcError::TokenEndpoint(format!("{token_endpoint}: {error}")))?;
        if status == StatusCode::OK {
            let tokens: TokenResponse = serde_json::from_slice(&body)
                .map_err(|error| OidcError::TokenEndpoint(format!("not a token response: {error}")))?;
            return tokens
                .id_token
                .ok_or_else(|| OidcError::TokenEndpoint("the token response has no id_token".to_owned()));
        }
        match serde_json::from_slice::<TokenErrorResponse>(&body) {
            Ok(refusal) if refusal.error == "invalid_grant" => Err(OidcError::CodeRefused {
                error: refusal.error,
                description: refusal.error_description.map(|text| shorten(&text, 200)),
            }),
            Ok(refusal) => Err(OidcError::TokenEndpoint(format!(
                "status {status}: {}{}",
                shorten(&refusal.error, 64),
                refusal.error_description.map(|text| format!(" ({})", shorten(&text, 200))).unwrap_or_default()
            ))),
            Err(_) => Err(OidcError::TokenEndpoint(format!("status {status}"))),
        }
    }
}

/// Chooses the client authentication from what the provider supports (`client_secret_basic` when
/// it says nothing, as RFC 8414 has it).
fn client_auth(has_secret: bool, supported: Option<&[String]>) -> Result<ClientAuth, OidcError> {
    if !has_secret {
        return Ok(ClientAuth::None);
    }
    let Some(supported) = supported else {
        return Ok(ClientAuth::Basic);
    };
    let has = |method: &str| supported.iter().any(|m| m == method);
    if has("client_secret_basic") {
        Ok(ClientAuth::Basic)
    } else if has("client_secret_post") {
        Ok(ClientAuth::Post)
    } else {
        Err(OidcError::Discovery(format!(
            "the token endpoint takes neither client_secret_basic nor client_secret_post ({supported:?})"
        )))
    }
}

async fn fetch_keys(http: &reqwest::Client, jwks_uri: &Url) -> Result<Jwks, OidcError> {
    let document = get(http, jwks_uri).await.map_err(OidcError::Jwks)?;
    Jwks::from_json(&document)
}

/// GETs a JSON document of at most [`MAX_DOCUMENT_BYTES`]; a 2xx only.
async fn get(http: &reqwest::Client, url: &Url) -> Result<Vec<u8>, String> {
    let response = http
        .get(url.clone())
        .header(ACCEPT, "application/json")
        .timeout(HTTP_TIMEOUT)
        .send()
        .await
        .map_err(|error| describe(&error))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url}: status {status}"));
    }
    read_body(response).await.map_err(|error| format!("{url}: {error}"))
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64) {
        return Err(format!("body longer than {MAX_DOCUMENT_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| describe(&error))? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("body longer than {MAX_DOCUMENT_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An HTTP error with its causes ("error sending request…: connection refused").
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn shorten(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server holds providers in shared state and awaits them in handlers.
    #[allow(dead_code)]
    fn futures_are_send(provider: &'static Provider, pending: PendingLogin) {
        fn send_and_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        send_and_sync(provider);
        send(provider.validate_bearer("token"));
        send(provider.complete_login(pending, "code", "state"));
    }

    #[test]
    fn client_authentication_follows_the_metadata() {
        let methods = |list: &[&str]| list.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>();
        assert_eq!(client_auth(false, None), Ok(ClientAuth::None));
        assert_eq!(client_auth(true, None), Ok(ClientAuth::Basic));
        assert_eq!(
            client_auth(true, Some(&methods(&["client_secret_post", "client_secret_basic"]))),
            Ok(ClientAuth::Basic)
        );
        assert_eq!(client_auth(true, Some(&methods(&["private_key_jwt", "client_secret_post"]))), Ok(ClientAuth::Post));
        assert!(matches!(client_auth(true, Some(&methods(&["private_key_jwt"]))), Err(OidcError::Discovery(_))));
    }

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        assert_eq!(form_encode("node:1 ä"), "node%3A1+%C3%A4");
    }
}
