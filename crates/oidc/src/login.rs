//! The browser login's pieces that need no network: the secrets a login keeps until its callback,
//! PKCE (RFC 7636, S256) and the authorization request URL.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::OidcError;

/// How long a login may take between [`begin_login`] and the callback, in seconds.
///
/// [`begin_login`]: crate::Provider::begin_login
pub const LOGIN_TTL_SECONDS: i64 = 600;

/// What a login must keep between sending the browser to the provider and the callback: the
/// `state` the callback must bring back, the ID token's expected `nonce`, and the PKCE verifier.
///
/// Keep it on the node (a server-side session keyed by [`PendingLogin::state`], say), or encrypted
/// if it must travel: whoever holds it can finish the login. `Debug` shows none of the secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub(crate) provider: String,
    pub(crate) issuer: String,
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) pkce_verifier: String,
    pub(crate) redirect_url: String,
    pub(crate) started_at: i64,
}

impl PendingLogin {
    /// The `state` parameter the callback must carry: the key to find this login again by.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The name of the provider ([`OidcConfig::name`](crate::OidcConfig::name)) the login is at.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// When the login began, unix seconds.
    pub fn started_at(&self) -> i64 {
        self.started_at
    }

    /// Whether a callback at `now` (unix seconds) comes too late for this login.
    pub fn is_expired(&self, now: i64) -> bool {
        now.saturating_sub(self.started_at) > LOGIN_TTL_SECONDS
    }
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("provider", &self.provider)
            .field("issuer", &self.issuer)
            .field("state", &"[redacted]")
            .field("nonce", &"[redacted]")
            .field("pkce_verifier", &"[redacted]")
            .field("redirect_url", &self.redirect_url)
            .field("started_at", &self.started_at)
            .finish()
    }
}

/// 256 random bits, base64url: a state, a nonce or a PKCE verifier (43 characters, within RFC
/// 7636's 43 to 128).
pub(crate) fn random_secret() -> Result<String, OidcError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| OidcError::Config(format!("the system's random source failed: {error}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The S256 code challenge of a PKCE verifier.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The authorization request (code flow, PKCE S256) for a pending login.
pub(crate) fn authorization_url(endpoint: &Url, client_id: &str, scopes: &[String], pending: &PendingLogin) -> String {
    let mut url = endpoint.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &pending.redirect_url)
        .append_pair("scope", &scopes.join(" "))
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &pkce_challenge(&pending.pkce_verifier))
        .append_pair("code_challenge_method", "S256");
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_of_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn secrets_are_43_base64url_characters_and_differ() {
        let a = random_secret().unwrap();
        let b = random_secret().unwrap();
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
    }

    fn pending() -> PendingLogin {
        PendingLogin {
            provider: "p".into(),
            issuer: "https://id.example".into(),
            state: "the-state".into(),
            nonce: "the-nonce".into(),
            pkce_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            redirect_url: "https://node.example/auth/callback?x=1".into(),
            started_at: 1_000,
        }
    }

    #[test]
    fn authorization_url_keeps_the_endpoint_query_and_encodes() {
        let endpoint = Url::parse("https://id.example/auth?tenant=ro").unwrap();
        let url = authorization_url(&endpoint, "node 1", &["openid".into(), "profile".into()], &pending());
        let url = Url::parse(&url).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        assert_eq!(get("tenant"), Some("ro"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("client_id"), Some("node 1"));
        assert_eq!(get("redirect_uri"), Some("https://node.example/auth/callback?x=1"));
        assert_eq!(get("scope"), Some("openid profile"));
        assert_eq!(get("state"), Some("the-state"));
        assert_eq!(get("nonce"), Some("the-nonce"));
        assert_eq!(get("code_challenge"), Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert!(!url.as_str().contains("dBjftJeZ"), "the verifier never leaves");
    }

    #[test]
    fn expiry_and_debug() {
        let pending = pending();
        assert!(!pending.is_expired(1_000 + LOGIN_TTL_SECONDS));
        assert!(pending.is_expired(1_001 + LOGIN_TTL_SECONDS));
        let shown = format!("{pending:?}");
        for secret in ["the-state", "the-nonce", "dBjftJeZ"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
