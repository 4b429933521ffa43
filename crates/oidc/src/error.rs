//! The one error type of the crate.

/// Why a token or a login was refused, or why the provider could not be used.
///
/// [`OidcError::is_rejection`] splits them: a rejection is the caller's fault (answer 401), the
/// rest is the provider's or the configuration's (answer 502/503 and log it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The configuration cannot work (an `http` issuer that is not loopback, no `openid` scope, no
    /// `redirect_url` for a browser login…).
    #[error("oidc configuration: {0}")]
    Config(String),
    /// The provider's metadata could not be fetched, or does not fit its issuer or this crate.
    #[error("oidc discovery: {0}")]
    Discovery(String),
    /// The provider's key set (`jwks_uri`) could not be fetched or holds no usable key.
    #[error("oidc key set: {0}")]
    Jwks(String),
    /// The token endpoint could not be reached or answered something that is not a token response.
    #[error("oidc token endpoint: {0}")]
    TokenEndpoint(String),
    /// The token endpoint refused the authorization code with an OAuth error (`invalid_grant`:
    /// used twice, expired, or a PKCE verifier that does not match).
    #[error("the provider refused the authorization code: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    CodeRefused {
        /// The OAuth `error` code.
        error: String,
        /// The provider's `error_description`, shortened.
        description: Option<String>,
    },
    /// The input is not what it must be before any key is tried: not three base64url parts, too
    /// long, a header or payload that is not a JSON object.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The header names a signature algorithm the node does not accept (`none`, `HS*`, unknown).
    #[error("signature algorithm {0:?} is not accepted")]
    DisallowedAlgorithm(String),
    /// No key of the provider has the token's `kid` (also after fetching the key set again), or
    /// the token names no key and none fits its algorithm.
    #[error("no key of the provider matches the token (kid {kid:?})")]
    UnknownKey {
        /// The `kid` the token's header names, if any.
        kid: Option<String>,
    },
    /// The key the token names is not one for its algorithm (an RSA key for `ES256`, say).
    #[error("key {kid:?} does not sign with {alg}")]
    KeyMismatch {
        /// The `kid` the token's header names.
        kid: String,
        /// The token's algorithm.
        alg: String,
    },
    /// The signature does not verify with the provider's key.
    #[error("bad signature")]
    BadSignature,
    /// The token's `iss` is not the provider's issuer.
    #[error("token issued by {found:?}, not by {expected:?}")]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`.
        found: String,
    },
    /// The token's `aud` does not hold the expected audience (for an ID token: the client id), or
    /// its `azp` names another client.
    #[error("token is not for this audience")]
    WrongAudience,
    /// The token is of another kind than expected: an ID token offered as an access token, or
    /// the reverse (by the header's `typ`, or Keycloak's `typ` claim).
    #[error("wrong token type: {0}")]
    WrongTokenType(String),
    /// The token expired (`exp`, with the leeway).
    #[error("token expired at {expired_at} (now {now})")]
    Expired {
        /// The token's `exp`, unix seconds.
        expired_at: i64,
        /// The time it was checked at, unix seconds.
        now: i64,
    },
    /// The token is not valid yet (`nbf`, or an `iat` in the future, with the leeway).
    #[error("token not valid yet")]
    NotYetValid,
    /// A claim the token must carry is absent.
    #[error("token lacks the {0:?} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or an impossible value.
    #[error("token has an invalid {0:?} claim")]
    InvalidClaim(&'static str),
    /// The `state` the browser came back with is not the one of the login it claims to finish.
    #[error("state mismatch")]
    StateMismatch,
    /// The ID token's `nonce` is not the login's.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// The browser came back too late: the login was begun more than ten minutes ago.
    #[error("login attempt expired")]
    LoginExpired,
}

impl OidcError {
    /// Whether the token or the login attempt was refused (the caller's fault, an HTTP 401), as
    /// against the provider or the configuration failing.
    pub fn is_rejection(&self) -> bool {
        !matches!(
            self,
            OidcError::Config(_) | OidcError::Discovery(_) | OidcError::Jwks(_) | OidcError::TokenEndpoint(_)
        )
    }
}
