//! People signed in by their agency's identity provider (OpenID Connect, `limes-oidc`).
//!
//! - An API caller sends the provider's access token (`Authorization: Bearer <JWT>`); it is
//!   checked against the provider's keys, issuer and audience on every request.
//! - A person in a browser goes to `GET /api/v1/auth/oidc/{provider}/login`, signs in at the
//!   provider, and comes back to `…/callback`, which answers with a limes session as
//!   `POST /api/v1/auth/login` does. Their account is kept (without a password) so that the
//!   session and the audit log can name them; its roles are refreshed at every sign-in.
//!
//! What the tokens say becomes the policy's principal: `roles` (limes role names), `agency`,
//! `cases` and `clearance` (a number, or `basic`, `restricted`, `confidential`, `secret` for
//! 0 to 3). A person is `<provider>:<preferred_username or subject>`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use limes_access::{Principal, Purpose, Role};
use limes_oidc::{Claims, OidcConfig, OidcError, PendingLogin, Provider};

use crate::{AppState, Caller};

/// The identity providers a node trusts, and the browser logins under way.
#[derive(Debug, Default)]
pub struct Identity {
    providers: RwLock<Vec<Arc<Provider>>>,
    pending: Mutex<HashMap<String, (PendingLogin, Instant)>>,
}

/// Clearance words, from 0 up.
const CLEARANCE_WORDS: [&str; 4] = ["basic", "restricted", "confidential", "secret"];

impl Identity {
    pub fn providers(&self) -> Vec<Arc<Provider>> {
        self.providers.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn provider(&self, name: &str) -> Option<Arc<Provider>> {
        self.providers().into_iter().find(|p| p.name() == name)
    }

    fn add(&self, provider: Provider) {
        self.providers.write().unwrap_or_else(|e| e.into_inner()).push(Arc::new(provider));
    }

    pub(crate) fn keep(&self, pending: PendingLogin) {
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(limes_oidc::LOGIN_TTL_SECONDS as u64));
        map.insert(pending.state().to_owned(), (pending, Instant::now()));
    }

    pub(crate) fn take(&self, state: &str) -> Option<PendingLogin> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(state).map(|(p, _)| p)
    }
}

/// Discovers each provider, retrying every 30 s while one cannot be reached (a node whose
/// provider is down still serves local accounts and tokens meanwhile).
pub fn discover(identity: Arc<Identity>, configs: Vec<OidcConfig>) {
    for config in configs {
        let identity = identity.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                match Provider::discover(config.clone(), http.clone()).await {
                    Ok(p) => {
                        tracing::info!(provider = %config.name, issuer = %config.issuer, "identity provider ready");
                        identity.add(p);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(provider = %config.name, error = %e, "identity provider not reachable; retrying in 30 s");
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                }
            }
        });
    }
}

/// The account name of a person a provider vouches for.
pub(crate) fn account_name(provider: &str, claims: &Claims) -> String {
    let who = claims.preferred_username.as_deref().unwrap_or(&claims.subject);
    format!("{provider}:{who}")
}

/// The policy's view of what a provider says about a person.
pub(crate) fn principal(provider: &str, claims: &Claims, node_agency: &str, node_country: &str) -> Principal {
    let clearance = match claims.other.get("clearance") {
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(serde_json::Value::String(w)) => {
            CLEARANCE_WORDS.iter().position(|c| c.eq_ignore_ascii_case(w)).map_or(0, |i| i as i64)
        }
        _ => 0,
    };
    Principal::user(
        account_name(provider, claims),
        claims.string("agency").unwrap_or(node_agency),
        claims.string("country").unwrap_or(node_country),
    )
    .with_roles(claims.strings("roles").into_iter().filter_map(Role::parse))
    .with_cases(claims.strings("cases").into_iter().map(str::to_owned))
    .with_clearance(clearance.clamp(0, 10))
}

/// Validates an identity provider's access token.
pub(crate) async fn bearer(state: &AppState, jwt: &str, declared: Option<Purpose>) -> Result<Caller, String> {
    let providers = state.identity.providers();
    if providers.is_empty() {
        return Err("this node trusts no identity provider: JSON Web Tokens are refused".into());
    }
    let mut refusal = None;
    for p in providers {
        match p.validate_bearer(jwt).await {
            Ok(claims) => {
                let o = &state.access.options;
                let principal = principal(p.name(), &claims, &o.agency, &o.country);
                return Ok(Caller { principal: Arc::new(principal), declared, session: None });
            }
            // Another provider's token: try the next.
            Err(OidcError::WrongIssuer { .. }) => {}
            Err(e) => refusal = Some(e.to_string()),
        }
    }
    Err(refusal.unwrap_or_else(|| "the token's issuer is not a provider this node trusts".into()))
}
