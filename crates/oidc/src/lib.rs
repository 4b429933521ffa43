//! OpenID Connect for a limes node: the agency's identity provider vouches for who calls.
//!
//! Two ways in, one [`Provider`] per `[[auth.oidc]]` entry ([`OidcConfig`]):
//!
//! - **API callers** (integrations, other tools) send `Authorization: Bearer <JWT>` access tokens
//!   the provider issued for the node. [`Provider::validate_bearer`] checks the signature against
//!   the provider's published keys (RSA, ECDSA P-256/P-384, Ed25519 — never `none`, never a shared
//!   secret), the issuer, the audience, the times with a small leeway and the token type, and
//!   returns the [`Claims`] (subject, names, and the agency's own claims such as `roles`,
//!   `agency`, `clearance`).
//! - **People** log in with their browser: [`Provider::begin_login`] gives the provider URL to
//!   redirect to (authorization code flow with PKCE S256, a fresh `state` and `nonce`) and a
//!   [`PendingLogin`] to keep; the callback hands its `code` and `state` to
//!   [`Provider::complete_login`], which exchanges the code and validates the ID token.
//!
//! [`Provider::discover`] reads the provider's metadata and keys; the keys are fetched again
//! when a token names one the node does not know (at most every
//! [`JWKS_MIN_REFETCH_INTERVAL`]) and when they are older than [`JWKS_MAX_AGE`].
//!
//! The validation itself, [`validate_token`], is a pure function of a [`Jwks`], an [`Expected`],
//! the time and the token: no I/O, no clock. The rest of the crate is the edge that fetches.
//! Every refusal is an [`OidcError`]; [`OidcError::is_rejection`] tells the caller's fault (401)
//! from the provider's (502).
//!
//! ```no_run
//! use limes_oidc::{OidcConfig, Provider};
//!
//! # async fn example(http: reqwest::Client, bearer: &str, code: &str, state: &str)
//! # -> Result<(), limes_oidc::OidcError> {
//! let mut config = OidcConfig::new(
//!     "ro-igpf-keycloak",
//!     "https://id.igpf.example/realms/limes",
//!     "limes-node-siret",
//! );
//! config.audience = Some("limes-node".to_owned());
//! config.redirect_url = Some("https://siret.limes.example/auth/oidc/callback".to_owned());
//! let provider = Provider::discover(config, http).await?;
//!
//! // An API call.
//! let caller = provider.validate_bearer(bearer).await?;
//! println!("{} of {:?} with roles {:?}", caller.subject, caller.string("agency"), caller.strings("roles"));
//!
//! // A browser login: redirect to `url`, keep `pending` (keyed by its state) until the callback.
//! let (url, pending) = provider.begin_login()?;
//! # let _ = url;
//! let person = provider.complete_login(pending, code, state).await?;
//! println!("{:?} logged in", person.preferred_username);
//! # Ok(())
//! # }
//! ```

mod claims;
mod config;
mod error;
mod jwks;
mod login;
mod provider;
mod validate;

pub use claims::Claims;
pub use config::{MAX_LEEWAY_SECONDS, OidcConfig};
pub use error::OidcError;
pub use jwks::{Jwks, MAX_KEYS};
pub use login::{LOGIN_TTL_SECONDS, PendingLogin};
pub use provider::{JWKS_MAX_AGE, JWKS_MIN_REFETCH_INTERVAL, Provider};
pub use validate::{Expected, MAX_TOKEN_BYTES, TokenKind, validate_token};
