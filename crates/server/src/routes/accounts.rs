//! Signing in and out, second factors, accounts and API tokens.
//!
//! - `POST /api/v1/auth/login` `{user, password, totp?, purpose?, legal_basis?, case?}`:
//!   a session token (`lms_s_…`) for `Authorization: Bearer`, valid for the node's session
//!   lifetime. A purpose declared here applies to every request of the session that does
//!   not declare its own (an operator's shift).
//! - `POST /api/v1/auth/logout`, `GET /api/v1/auth/me`.
//! - `POST /api/v1/auth/totp` `{}` then `{code}`: enrol a second factor for oneself.
//! - `GET|POST /api/v1/users`, `GET|PUT /api/v1/users/{name}` (administrators).
//! - `GET|POST /api/v1/tokens`, `DELETE /api/v1/tokens/{id}` (administrators).
//!
//! Every sign-in, failed or not, and every change of an account or token is in the audit
//! log.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use limes_access::secret::{SECRET_BYTES, digest, session_token};
use limes_access::{Operation, Principal, Purpose, Role, password, totp};
use limes_audit::{Action, Actor, AuditEvent, Details, Object, Outcome};
use limes_store::{SessionRow, TokenRow, UserRow};
use serde::{Deserialize, Serialize};

use super::{body_bytes, json, utf8};
use crate::auth::principal_of;
use crate::{ApiError, AppState, Caller};

fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    crate::auth::random().map_err(ApiError::Internal)
}

fn now_us() -> i64 {
    limes_store::to_us(Utc::now())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Login {
    user: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    legal_basis: Option<String>,
    #[serde(default)]
    case: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Session {
    token: String,
    expires_at: DateTime<Utc>,
    user: String,
    roles: Vec<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purpose: Option<Purpose>,
}

impl AppState {
    async fn audit_login(&self, user: &str, role: &str, outcome: Outcome, details: serde_json::Value) {
        let event = AuditEvent {
            actor: Actor::User(user.to_owned()),
            role: role.to_owned(),
            action: if outcome == Outcome::Allowed { Action::Login } else { Action::Denied },
            object: Object::new("session", user),
            purpose: "access_control".into(),
            legal_basis: String::new(),
            case_ref: None,
            outcome,
            details: Details::new(&details),
        };
        if let Err(e) = self.audit(event).await {
            tracing::error!(error = %e, "could not log a sign-in");
        }
    }

    /// Logs a change of an account or token by `caller`.
    async fn audit_admin(&self, caller: &Caller, object: Object, details: serde_json::Value) -> Result<(), ApiError> {
        self.audit(AuditEvent {
            actor: caller.actor(),
            role: caller.principal.role_text(),
            action: Action::Alter,
            object,
            purpose: "administration".into(),
            legal_basis: String::new(),
            case_ref: None,
            outcome: Outcome::Allowed,
            details: Details::new(&details),
        })
        .await
    }
}

pub(super) async fn login(State(state): State<AppState>, body: Body) -> Result<Json<Session>, ApiError> {
    let bytes = body_bytes(&state, body).await?;
    let l: Login = json("login", utf8(&bytes)?)?;
    let name = l.user.trim().to_owned();
    let refuse = |why: &str| ApiError::Unauthorized(format!("sign-in refused: {why}"));
    if state.access.locked(&name) {
        state.audit_login(&name, "none", Outcome::Denied, serde_json::json!({"reason": "locked out"})).await;
        return Err(ApiError::TooManyRequests(format!(
            "too many failed sign-ins for {name:?}: try again in {} s",
            state.access.options.lockout.as_secs()
        )));
    }
    // A declared purpose is checked before the password, so a typo costs no attempt.
    let purpose = match l.purpose.as_deref() {
        Some(p) => Some(
            Purpose::parse(state.access.options.regime, p, l.legal_basis.as_deref().unwrap_or(""), l.case.as_deref())
                .map_err(|e| ApiError::BadRequest(e.to_string()))?,
        ),
        None => None,
    };
    let store = state.store.clone();
    let lookup = name.clone();
    let password = l.password.clone();
    let (user, password_ok) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let user = store.user(&lookup)?;
        // An unknown account costs a hash too, so timing does not tell which names exist.
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let ok = password::verify(&password, hash.as_deref().unwrap_or(password::decoy())).unwrap_or(false);
        Ok((user, ok && hash.is_some()))
    })
    .await??;
    let Some(user) = user.filter(|_| password_ok) else {
        state.access.login_failed(&name);
        state
            .audit_login(&name, "none", Outcome::Denied, serde_json::json!({"reason": "wrong user or password"}))
            .await;
        return Err(refuse("wrong user name or password"));
    };
    let principal = principal_of(&user);
    let role = principal.role_text();
    if user.disabled {
        state.audit_login(&name, &role, Outcome::Denied, serde_json::json!({"reason": "disabled"})).await;
        return Err(refuse("the account is disabled"));
    }
    match (&user.totp_secret, l.totp.as_deref()) {
        (Some(secret), Some(code)) => {
            let step = totp::check(secret, code, Utc::now().timestamp().max(0) as u64, user.totp_last_step);
            let used = match step {
                Ok(step) => {
                    let store = state.store.clone();
                    let who = name.clone();
                    tokio::task::spawn_blocking(move || store.use_totp_step(&who, step)).await??
                }
                Err(_) => false,
            };
            if !used {
                state.access.login_failed(&name);
                let why = match step {
                    Err(e) => e.to_string(),
                    Ok(_) => "one-time code already used".into(),
                };
                state.audit_login(&name, &role, Outcome::Denied, serde_json::json!({"reason": why})).await;
                return Err(refuse(&why));
            }
        }
        (Some(_), None) => {
            state
                .audit_login(&name, &role, Outcome::Denied, serde_json::json!({"reason": "one-time code missing"}))
                .await;
            return Err(refuse("this account needs a one-time code (totp)"));
        }
        (None, _) if principal.roles.iter().any(|r| state.access.options.totp_required_for.contains(r)) => {
            state.audit_login(&name, &role, Outcome::Denied, serde_json::json!({"reason": "no second factor"})).await;
            return Err(refuse("this account's roles need a second factor: enrol one (POST /api/v1/auth/totp)"));
        }
        (None, _) => {}
    }
    state.access.login_succeeded(&name);
    let second_factor = user.totp_secret.is_some();
    start_session(&state, &principal, purpose, serde_json::json!({ "second_factor": second_factor })).await.map(Json)
}

/// Opens a session for an account that just signed in, and logs it.
async fn start_session(
    state: &AppState,
    principal: &Principal,
    purpose: Option<Purpose>,
    mut details: serde_json::Value,
) -> Result<Session, ApiError> {
    let token = session_token(&random::<SECRET_BYTES>()?);
    let expires_at = Utc::now() + state.access.options.session_lifetime;
    let row = SessionRow {
        digest: digest(&token),
        user: principal.id.clone(),
        created_us: now_us(),
        expires_us: limes_store::to_us(expires_at),
        purpose: purpose.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default()),
    };
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.create_session(&row)).await??;
    details["expires_at"] = serde_json::json!(expires_at);
    details["purpose"] = serde_json::json!(purpose);
    state.audit_login(&principal.id, &principal.role_text(), Outcome::Allowed, details).await;
    let roles = principal.roles.iter().copied().collect();
    Ok(Session { token, expires_at, user: principal.id.clone(), roles, purpose })
}

#[derive(Serialize)]
pub(super) struct OidcStart {
    /// Where to send the browser.
    authorization_url: String,
}

/// `GET /api/v1/auth/oidc/{provider}/login`: sends the browser to the provider.
pub(super) async fn oidc_login(
    State(state): State<AppState>,
    Path(provider): Path<String>,
) -> Result<(StatusCode, [(axum::http::HeaderName, String); 1], Json<OidcStart>), ApiError> {
    let p = state
        .identity
        .provider(&provider)
        .ok_or_else(|| ApiError::NotFound(format!("no identity provider {provider:?} (or it is not reachable yet)")))?;
    let (url, pending) = p.begin_login().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state.identity.keep(pending);
    Ok((
        StatusCode::SEE_OTHER,
        [(axum::http::header::LOCATION, url.clone())],
        Json(OidcStart { authorization_url: url }),
    ))
}

#[derive(Deserialize)]
pub(super) struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /api/v1/auth/oidc/{provider}/callback`: the provider's answer; a limes session.
pub(super) async fn oidc_callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(cb): Query<Callback>,
) -> Result<Json<Session>, ApiError> {
    let refuse = |why: String| ApiError::Unauthorized(format!("sign-in refused: {why}"));
    if let Some(error) = cb.error {
        let why = format!("the identity provider answered {error}: {}", cb.error_description.unwrap_or_default());
        state.audit_login(&format!("{provider}:?"), "none", Outcome::Denied, serde_json::json!({"reason": why})).await;
        return Err(refuse(why));
    }
    let (Some(code), Some(st)) = (cb.code, cb.state) else {
        return Err(ApiError::BadRequest("the callback needs code and state".into()));
    };
    let p = state
        .identity
        .provider(&provider)
        .ok_or_else(|| ApiError::NotFound(format!("no identity provider {provider:?}")))?;
    let pending = state.identity.take(&st).ok_or_else(|| refuse("unknown or expired login (state)".into()))?;
    if cb.iss.as_deref().is_some_and(|iss| iss != p.issuer()) {
        return Err(refuse("the callback names another issuer".into()));
    }
    let claims = match p.complete_login(pending, &code, &st).await {
        Ok(c) => c,
        Err(e) => {
            let why = e.to_string();
            state
                .audit_login(&format!("{provider}:?"), "none", Outcome::Denied, serde_json::json!({"reason": why}))
                .await;
            return Err(refuse(why));
        }
    };
    let o = &state.access.options;
    let principal = crate::identity::principal(p.name(), &claims, &o.agency, &o.country);
    // The account the session hangs on: kept without a password, refreshed at every sign-in.
    let row = UserRow {
        name: principal.id.clone(),
        display_name: claims.name.clone(),
        password_hash: None,
        totp_secret: None,
        totp_last_step: None,
        roles: principal.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        agency: principal.agency.clone(),
        country: principal.country.clone(),
        clearance: principal.clearance,
        cases: principal.cases.iter().cloned().collect(),
        disabled: false,
        created_us: now_us(),
    };
    let store = state.store.clone();
    let disabled = tokio::task::spawn_blocking(move || -> Result<bool, ApiError> {
        match store.user(&row.name)? {
            Some(existing) if existing.disabled => Ok(true),
            Some(existing) => {
                store.update_user(&UserRow { created_us: existing.created_us, ..row })?;
                Ok(false)
            }
            None => {
                store.create_user(&row)?;
                Ok(false)
            }
        }
    })
    .await??;
    if disabled {
        return Err(refuse(format!("account {} is disabled on this node", principal.id)));
    }
    let details = serde_json::json!({ "provider": p.name(), "subject": claims.subject });
    start_session(&state, &principal, None, details).await.map(Json)
}

pub(super) async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    let Some(d) = caller.session.clone() else {
        return Err(ApiError::BadRequest("only a session signs out; revoke an API token instead".into()));
    };
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.delete_session(&d)).await??;
    let role = caller.principal.role_text();
    state.audit_login(&caller.principal.id, &role, Outcome::Allowed, serde_json::json!({"logout": true})).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
pub(super) struct Me {
    id: String,
    kind: &'static str,
    agency: String,
    country: String,
    roles: Vec<Role>,
    cases: Vec<String>,
    clearance: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purpose: Option<Purpose>,
}

fn me(p: &Principal, declared: Option<Purpose>) -> Me {
    let grant = p.grant();
    Me {
        id: p.id.clone(),
        kind: if grant.is_some() { "token" } else { "user" },
        agency: p.agency.clone(),
        country: p.country.clone(),
        roles: p.roles.iter().copied().collect(),
        cases: p.cases.iter().cloned().collect(),
        clearance: p.clearance,
        scope: grant.map(|g| g.scope.iter().map(|o| o.id()).collect()),
        purpose: grant.map_or(declared, |g| g.purpose.clone()),
    }
}

pub(super) async fn whoami(caller: Caller) -> Json<Me> {
    Json(me(&caller.principal, caller.declared.clone()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Declare {
    purpose: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    case: Option<String>,
}

/// Declares another purpose for the caller's session, as sign-in does: every request after
/// it that declares none of its own is checked and logged under it (an operator taking over
/// a case, or a shift turning from prevention to an investigation), without signing in
/// again. The change is itself an audit record carrying the new purpose and the one before.
/// An API token's purpose is fixed.
pub(super) async fn set_purpose(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<Json<Me>, ApiError> {
    let Some(d) = caller.session.clone() else {
        return Err(ApiError::BadRequest("only a session declares a purpose; an API token's is fixed".into()));
    };
    let bytes = body_bytes(&state, body).await?;
    let p: Declare = json("purpose", utf8(&bytes)?)?;
    let purpose = Purpose::parse(state.access.options.regime, &p.purpose, &p.legal_basis, p.case.as_deref())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let store = state.store.clone();
    let digest = d.clone();
    let before = tokio::task::spawn_blocking(move || store.session(&digest))
        .await??
        .and_then(|(s, _)| s.purpose)
        .and_then(|p| serde_json::from_str::<Purpose>(&p).ok());
    // Logged (durably) before it takes effect, as every act is.
    state
        .audit(AuditEvent {
            actor: caller.actor(),
            role: caller.principal.role_text(),
            action: Action::Login,
            object: Object::new("session", &caller.principal.id),
            purpose: purpose.purpose.clone(),
            legal_basis: purpose.legal_basis.clone(),
            case_ref: purpose.case_ref.clone(),
            outcome: Outcome::Allowed,
            details: Details::new(&serde_json::json!({ "purpose_changed": true, "before": before })),
        })
        .await?;
    let text = serde_json::to_string(&purpose).map_err(|e| ApiError::Internal(e.to_string()))?;
    let store = state.store.clone();
    if !tokio::task::spawn_blocking(move || store.set_session_purpose(&d, Some(&text))).await?? {
        return Err(ApiError::Unauthorized("the session has ended: sign in again".into()));
    }
    Ok(Json(me(&caller.principal, Some(purpose))))
}

/// Second-factor secrets handed out and not yet confirmed, by account.
/// Secrets offered, by account, with when they were offered.
type PendingSecrets = HashMap<String, (String, std::time::Instant)>;

static PENDING_TOTP: Mutex<Option<PendingSecrets>> = Mutex::new(None);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TotpEnrol {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Serialize)]
pub(super) struct TotpOffer {
    secret: String,
    otpauth_url: String,
    /// Post the app's current code as `{"code": "…"}` within ten minutes to turn it on.
    confirm: &'static str,
}

/// Enrols a second factor for the signed-in person: first call without a code to get a
/// secret, then with the app's code to switch it on.
pub(super) async fn totp_enrol(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if caller.principal.grant().is_some() || caller.session.is_none() {
        return Err(ApiError::BadRequest("a second factor is enrolled by a signed-in person".into()));
    }
    let bytes = body_bytes(&state, body).await?;
    let text = utf8(&bytes)?;
    let req: TotpEnrol = if text.trim().is_empty() { TotpEnrol { code: None } } else { json("enrolment", text)? };
    let name = caller.principal.id.clone();
    // The lock is held only to read or change the table, never across an await.
    let with_pending = |f: &mut dyn FnMut(&mut PendingSecrets)| {
        let mut pending = PENDING_TOTP.lock().unwrap_or_else(|e| e.into_inner());
        let pending = pending.get_or_insert_with(HashMap::new);
        pending.retain(|_, (_, at)| at.elapsed() < std::time::Duration::from_secs(600));
        f(pending);
    };
    match req.code {
        None => {
            let secret = totp::new_secret(&random::<20>()?);
            let url = totp::provisioning_url(&secret, &format!("{name}@{}", state.access.options.agency))
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            with_pending(&mut |p| {
                p.insert(name.clone(), (secret.clone(), std::time::Instant::now()));
            });
            let offer =
                TotpOffer { secret, otpauth_url: url, confirm: "POST this endpoint again with {\"code\": \"123456\"}" };
            Ok((StatusCode::OK, Json(serde_json::to_value(offer).unwrap_or_default())))
        }
        Some(code) => {
            let mut found = None;
            with_pending(&mut |p| found = p.get(&name).map(|(s, _)| s.clone()));
            let Some(secret) = found else {
                return Err(ApiError::Unprocessable("no enrolment pending: POST without a code first".into()));
            };
            let step = totp::check(&secret, &code, Utc::now().timestamp().max(0) as u64, None)
                .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
            with_pending(&mut |p| {
                p.remove(&name);
            });
            let store = state.store.clone();
            let who = name.clone();
            tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
                let mut u = store.user(&who)?.ok_or_else(|| ApiError::NotFound(format!("user {who}")))?;
                u.totp_secret = Some(secret);
                u.totp_last_step = Some(step);
                store.update_user(&u)?;
                Ok(())
            })
            .await??;
            state
                .audit_admin(&caller, Object::new("user", &name), serde_json::json!({"second_factor": "enrolled"}))
                .await?;
            Ok((StatusCode::CREATED, Json(serde_json::json!({"enrolled": true}))))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserIn {
    name: String,
    #[serde(default)]
    display_name: Option<String>,
    /// Absent for accounts that sign in only through the identity provider.
    #[serde(default)]
    password: Option<String>,
    roles: Vec<String>,
    #[serde(default)]
    agency: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    clearance: i64,
    #[serde(default)]
    cases: Vec<String>,
    #[serde(default)]
    disabled: bool,
}

#[derive(Serialize)]
pub(super) struct UserOut {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    roles: Vec<String>,
    agency: String,
    country: String,
    clearance: i64,
    cases: Vec<String>,
    disabled: bool,
    second_factor: bool,
    password: bool,
}

impl From<&UserRow> for UserOut {
    fn from(u: &UserRow) -> Self {
        Self {
            name: u.name.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.clone(),
            agency: u.agency.clone(),
            country: u.country.clone(),
            clearance: u.clearance,
            cases: u.cases.clone(),
            disabled: u.disabled,
            second_factor: u.totp_secret.is_some(),
            password: u.password_hash.is_some(),
        }
    }
}

fn valid_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(format!("user name {name:?} must be 1 to 64 of A-Z a-z 0-9 . _ - @")))
    }
}

/// Checks an account as posted and turns it into a row (hashing its password).
fn user_row(state: &AppState, u: UserIn, existing: Option<&UserRow>) -> Result<UserRow, ApiError> {
    valid_name(&u.name)?;
    let mut roles = BTreeSet::new();
    for r in &u.roles {
        roles.insert(Role::parse(r).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "unknown role {r:?}: operator, analyst, investigator, supervisor, dpo or administrator"
            ))
        })?);
    }
    let cases = u
        .cases
        .iter()
        // An empty entry names no case, as before: it is left out, not refused.
        .filter(|c| !c.trim().is_empty())
        .map(|c| limes_access::case_reference(c).map_err(|e| ApiError::Unprocessable(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let password_hash = match u.password {
        Some(p) => {
            Some(password::hash(&u.name, &p, &random::<16>()?).map_err(|e| ApiError::Unprocessable(e.to_string()))?)
        }
        None => existing.and_then(|e| e.password_hash.clone()),
    };
    Ok(UserRow {
        name: u.name,
        display_name: u.display_name,
        password_hash,
        totp_secret: existing.and_then(|e| e.totp_secret.clone()),
        totp_last_step: existing.and_then(|e| e.totp_last_step),
        roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
        agency: u.agency.unwrap_or_else(|| state.access.options.agency.clone()),
        country: u.country.unwrap_or_else(|| state.access.options.country.clone()),
        clearance: u.clearance.clamp(0, 10),
        cases,
        disabled: u.disabled,
        created_us: existing.map_or_else(now_us, |e| e.created_us),
    })
}

pub(super) async fn list_users(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<UserOut>>, ApiError> {
    state.authorize(&caller, Operation::UsersManage, &state.access.node(), Object::new("users", "all")).await?;
    let store = state.store.clone();
    let users = tokio::task::spawn_blocking(move || store.users()).await??;
    Ok(Json(users.iter().map(UserOut::from).collect()))
}

pub(super) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    state.authorize(&caller, Operation::UsersManage, &state.access.node(), Object::new("users", "new")).await?;
    let bytes = body_bytes(&state, body).await?;
    let u: UserIn = json("user", utf8(&bytes)?)?;
    let row = tokio::task::spawn_blocking({
        let state = state.clone();
        move || user_row(&state, u, None)
    })
    .await??;
    let store = state.store.clone();
    let saved = row.clone();
    if !tokio::task::spawn_blocking(move || store.create_user(&saved)).await?? {
        return Err(ApiError::Unprocessable(format!(
            "user {} exists: PUT /api/v1/users/{} changes it",
            row.name, row.name
        )));
    }
    let details = serde_json::json!({"created": true, "roles": row.roles, "agency": row.agency});
    state.audit_admin(&caller, Object::new("user", &row.name), details).await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(&row))))
}

pub(super) async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<UserOut>, ApiError> {
    state.authorize(&caller, Operation::UsersManage, &state.access.node(), Object::new("user", &name)).await?;
    let store = state.store.clone();
    let who = name.clone();
    let u = tokio::task::spawn_blocking(move || store.user(&who)).await??;
    u.map(|u| Json(UserOut::from(&u))).ok_or_else(|| ApiError::NotFound(format!("user {name:?} not found")))
}

/// Replaces an account (roles, cases, password, disabling). Disabling or a new password
/// ends the account's sessions.
pub(super) async fn put_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Body,
) -> Result<Json<UserOut>, ApiError> {
    state.authorize(&caller, Operation::UsersManage, &state.access.node(), Object::new("user", &name)).await?;
    let bytes = body_bytes(&state, body).await?;
    let u: UserIn = json("user", utf8(&bytes)?)?;
    if u.name != name {
        return Err(ApiError::Unprocessable(format!("body's name {:?} differs from the path's {name:?}", u.name)));
    }
    let new_password = u.password.is_some();
    let store = state.store.clone();
    let st = state.clone();
    let row = tokio::task::spawn_blocking(move || -> Result<UserRow, ApiError> {
        let existing = store.user(&name)?.ok_or_else(|| ApiError::NotFound(format!("user {name:?} not found")))?;
        let row = user_row(&st, u, Some(&existing))?;
        store.update_user(&row)?;
        if row.disabled || new_password || row.roles != existing.roles {
            store.delete_sessions_of(&row.name)?;
        }
        Ok(row)
    })
    .await??;
    let details = serde_json::json!({"roles": row.roles, "cases": row.cases, "disabled": row.disabled, "new_password": new_password});
    state.audit_admin(&caller, Object::new("user", &row.name), details).await?;
    Ok(Json(UserOut::from(&row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenIn {
    name: String,
    scope: Vec<String>,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    legal_basis: Option<String>,
    #[serde(default)]
    agency: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
pub(super) struct TokenOut {
    id: String,
    name: String,
    agency: String,
    scope: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purpose: Option<Purpose>,
    created_by: String,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<DateTime<Utc>>,
    /// The bearer value, shown once, when the token is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl From<&TokenRow> for TokenOut {
    fn from(t: &TokenRow) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            agency: t.agency.clone(),
            scope: t.scope.clone(),
            purpose: t.purpose.as_deref().and_then(|p| serde_json::from_str(p).ok()),
            created_by: t.created_by.clone(),
            created_at: limes_store::from_us(t.created_us),
            expires_at: t.expires_us.map(limes_store::from_us),
            revoked_at: t.revoked_us.map(limes_store::from_us),
            token: None,
        }
    }
}

pub(super) async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenOut>>, ApiError> {
    state.authorize(&caller, Operation::TokensManage, &state.access.node(), Object::new("tokens", "all")).await?;
    let store = state.store.clone();
    let tokens = tokio::task::spawn_blocking(move || store.tokens()).await??;
    Ok(Json(tokens.iter().map(TokenOut::from).collect()))
}

/// Creates an API token; its bearer value is in the answer and nowhere else.
pub(super) async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    state.authorize(&caller, Operation::TokensManage, &state.access.node(), Object::new("tokens", "new")).await?;
    let bytes = body_bytes(&state, body).await?;
    let t: TokenIn = json("token", utf8(&bytes)?)?;
    // An administrator speaks for their own agency only: a token for another agency would
    // post as that agency's cameras.
    if let Some(agency) = t.agency.as_deref().filter(|a| *a != caller.principal.agency) {
        let reason =
            format!("tokens.manage refused: a token for agency {agency:?} (yours is {:?})", caller.principal.agency);
        let object = Object::new("tokens", "new");
        state.audit_denied(caller.actor(), &caller.principal.role_text(), object.as_str(), &reason, None).await;
        return Err(ApiError::Forbidden(reason));
    }
    let (row, bearer) = new_token(&state, t, &caller.principal.id)?;
    let store = state.store.clone();
    let saved = row.clone();
    tokio::task::spawn_blocking(move || store.create_token(&saved)).await??;
    let details = serde_json::json!({"created": true, "name": row.name, "scope": row.scope, "agency": row.agency});
    state.audit_admin(&caller, Object::new("token", &row.id), details).await?;
    Ok((StatusCode::CREATED, Json(TokenOut { token: Some(bearer), ..TokenOut::from(&row) })))
}

/// Checks a token request and makes its row and bearer value.
fn new_token(state: &AppState, t: TokenIn, created_by: &str) -> Result<(TokenRow, String), ApiError> {
    let bad = |m: String| ApiError::Unprocessable(m);
    if t.name.trim().is_empty() || t.name.len() > 200 {
        return Err(bad("a token needs a name of 1 to 200 bytes".into()));
    }
    let scope = t
        .scope
        .iter()
        .map(|s| Operation::parse(s).ok_or_else(|| bad(format!("unknown operation {s:?} in scope"))))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let purpose = match t.purpose.as_deref() {
        Some(p) => Some(
            Purpose::parse(state.access.options.regime, p, t.legal_basis.as_deref().unwrap_or(""), None)
                .map_err(|e| bad(e.to_string()))?,
        ),
        None => None,
    };
    let spec = crate::auth::TokenSpec {
        name: t.name.trim().to_owned(),
        scope,
        purpose,
        agency: t.agency.unwrap_or_else(|| state.access.options.agency.clone()),
        country: t.country.unwrap_or_else(|| state.access.options.country.clone()),
        expires_us: t.expires_at.map(limes_store::to_us),
    };
    crate::auth::mint_token(spec, created_by).map_err(bad)
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.authorize(&caller, Operation::TokensManage, &state.access.node(), Object::new("token", &id)).await?;
    let store = state.store.clone();
    let key = id.clone();
    if !tokio::task::spawn_blocking(move || store.revoke_token(&key, now_us())).await?? {
        return Err(ApiError::NotFound(format!("token {id:?} not found or already revoked")));
    }
    state.audit_admin(&caller, Object::new("token", &id), serde_json::json!({"revoked": true})).await?;
    Ok(StatusCode::NO_CONTENT)
}
