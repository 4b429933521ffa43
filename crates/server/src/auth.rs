//! Authentication, authorisation and the audit trail of every request (issue #4).
//!
//! Every route but `health` and `auth/login` takes a [`Caller`]: the extractor reads the
//! `Authorization: Bearer …` credential (a login session, an API token, or an identity
//! provider's JSON Web Token) and the declared purpose (`Limes-Purpose`,
//! `Limes-Legal-Basis`, `Limes-Case` headers, or `purpose`, `legal_basis`, `case` query
//! parameters for clients such as `EventSource` that cannot set headers). A handler then
//! calls [`AppState::authorize`] with the operation and the resource it is about to touch;
//! the policy decides and the decision is logged before any data is touched:
//!
//! - refused: a `denied` audit record naming the operation, the rules that decided and the
//!   reason; the client gets 403 with the same reason;
//! - allowed and personal data consulted, altered or erased: one record of that act with
//!   the purpose, legal basis and case it served;
//! - collection (reads, images, detections) is logged once per committed batch, with the
//!   read ids, by the ingest path ([`crate::Collector`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use limes_access::secret::{Credential, classify, digest};
use limes_access::{Operation, Policy, Principal, Processing, Purpose, Regime, Resource, Role, TokenGrant};
use limes_audit::{Action, Actor, AuditEvent, AuditLog, Details, Object, Outcome};
use limes_store::{TokenRow, UserRow};

use crate::{ApiError, AppState};

/// How the node authenticates and authorises.
#[derive(Debug, Clone)]
pub struct AccessOptions {
    /// The law the node's agency works under: which purposes may be declared.
    pub regime: Regime,
    /// The node's agency and its country: the agency of the node's own data.
    pub agency: String,
    pub country: String,
    /// The rules.
    pub policy: Policy,
    /// How long a login session lasts at most (a shift).
    pub session_lifetime: Duration,
    /// Failed logins in a row after which an account is refused for `lockout`.
    pub max_failed_logins: u32,
    pub lockout: Duration,
    /// Roles that must use a second factor (TOTP) to sign in with a password.
    pub totp_required_for: BTreeSet<Role>,
    /// What camera data is collected for, when the sender does not say (MQTT, a camera's
    /// own push): logged with every collected batch.
    pub collection_purpose: Purpose,
    /// The agency's identity providers (OpenID Connect); see `identity`.
    pub oidc: Vec<limes_oidc::OidcConfig>,
}

impl Default for AccessOptions {
    fn default() -> Self {
        Self {
            regime: Regime::Led,
            agency: "local".into(),
            country: "XX".into(),
            policy: Policy::default_policy().expect("the built-in policy validates"),
            session_lifetime: Duration::from_secs(12 * 3600),
            max_failed_logins: 5,
            lockout: Duration::from_secs(300),
            totp_required_for: BTreeSet::new(),
            collection_purpose: Purpose {
                purpose: "detection".into(),
                legal_basis: "not configured: set [access] collection_legal_basis".into(),
                case_ref: None,
            },
            oidc: Vec::new(),
        }
    }
}

/// The access state a node shares across requests.
#[derive(Debug)]
pub struct Access {
    pub options: AccessOptions,
    /// Failed password logins by account name: how many in a row, and since when.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Access {
    pub fn new(options: AccessOptions) -> Self {
        Self { options, failures: Mutex::new(HashMap::new()) }
    }

    /// Whether `name` is locked out after too many failed logins.
    pub(crate) fn locked(&self, name: &str) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures
            .get(name)
            .is_some_and(|(n, since)| *n >= self.options.max_failed_logins && since.elapsed() < self.options.lockout)
    }

    pub(crate) fn login_failed(&self, name: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let entry = failures.entry(name.to_owned()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.options.lockout {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    pub(crate) fn login_succeeded(&self, name: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
    }

    /// The node's own data as a policy resource.
    pub fn node(&self) -> Resource {
        Resource::node(&self.options.agency, &self.options.country)
    }
}

/// An authenticated caller and what they declared.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Arc<Principal>,
    /// The purpose declared with the request, or at login for the session.
    pub declared: Option<Purpose>,
    /// The session's digest, for a caller signed in with a session.
    pub session: Option<String>,
}

impl Caller {
    /// The audit log's name for the caller.
    pub fn actor(&self) -> Actor {
        actor_of(&self.principal)
    }
}

pub(crate) fn actor_of(p: &Principal) -> Actor {
    match p.grant() {
        Some(_) => Actor::Integration(p.id.clone()),
        None => Actor::User(p.id.clone()),
    }
}

/// What an allowed request may rely on.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The purpose the act is logged under.
    pub purpose: Option<Purpose>,
}

/// Who collects, for the audit record of a collected batch.
#[derive(Debug, Clone)]
pub struct Collector {
    pub actor: Actor,
    pub role: String,
    pub purpose: Purpose,
}

impl Collector {
    /// A caller that was allowed to collect.
    pub fn caller(state: &AppState, caller: &Caller, grant: &Grant) -> Self {
        Self {
            actor: caller.actor(),
            role: caller.principal.role_text(),
            purpose: grant.purpose.clone().unwrap_or_else(|| state.access.options.collection_purpose.clone()),
        }
    }

    /// A source inside the node (an MQTT subscription), collecting for the node's
    /// configured purpose.
    pub fn source(state: &AppState, name: &str) -> Self {
        Self {
            actor: Actor::Integration(name.to_owned()),
            role: "camera".into(),
            purpose: state.access.options.collection_purpose.clone(),
        }
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The purpose declared by headers, else by query parameters; `None` if neither names one.
fn declared_purpose(parts: &Parts, regime: Regime) -> Result<Option<Purpose>, ApiError> {
    let query: HashMap<String, String> =
        parts.uri.query().map(|q| serde_urlencoded_pairs(q).into_iter().collect()).unwrap_or_default();
    let pick = |h: &str, q: &str| header(parts, h).map(str::to_owned).or_else(|| query.get(q).cloned());
    let Some(purpose) = pick("limes-purpose", "purpose") else {
        return Ok(None);
    };
    let basis = pick("limes-legal-basis", "legal_basis").unwrap_or_default();
    let case = pick("limes-case", "case");
    Purpose::parse(regime, &purpose, &basis, case.as_deref()).map(Some).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `application/x-www-form-urlencoded` pairs of a query string.
fn serde_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let basic;
        let authorization = header(parts, "authorization").unwrap_or_default();
        let bearer = match authorization.split_once(' ') {
            Some((scheme, value)) if scheme.eq_ignore_ascii_case("bearer") => Some(value.trim()),
            // Cameras that push (Hikvision, Axis) can send only a user and password: the
            // password is then the camera's API token, the user name is ignored.
            Some((scheme, value)) if scheme.eq_ignore_ascii_case("basic") => {
                basic = basic_password(value.trim());
                basic.as_deref()
            }
            _ => None,
        };
        let Some(bearer) = bearer else {
            return Err(ApiError::Unauthorized("sign in: send Authorization: Bearer <session or API token>".into()));
        };
        // Who first (401), then what they declared (400).
        let declared = declared_purpose(parts, state.access.options.regime);
        let given = declared.as_ref().ok().cloned().flatten();
        let caller = match classify(bearer) {
            Some(Credential::Session(secret)) => session(state, secret, given).await,
            Some(Credential::Token { id, secret }) => token(state, id, secret, given).await,
            Some(Credential::Jwt(jwt)) => crate::identity::bearer(state, jwt, given).await,
            None => Err("the bearer credential is not a limes session, API token or JSON Web Token".to_owned()),
        };
        match caller {
            Ok(c) => declared.map(|_| c),
            Err(why) => {
                let path = parts.uri.path().to_owned();
                state.audit_denied(Actor::User("anonymous".into()), "none", &path, &why, None).await;
                Err(ApiError::Unauthorized(why))
            }
        }
    }
}

/// The password of an HTTP Basic credential.
fn basic_password(value: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(value).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.split_once(':').map(|(_, password)| password.to_owned())
}

fn now_us() -> i64 {
    limes_store::to_us(chrono::Utc::now())
}

async fn session(state: &AppState, secret: &str, declared: Option<Purpose>) -> Result<Caller, String> {
    let d = digest(secret);
    let store = state.store.clone();
    let key = d.clone();
    let found = tokio::task::spawn_blocking(move || store.session(&key))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("session lookup failed: {e}"))?;
    let Some((session, user)) = found else {
        return Err("unknown or ended session: sign in again".into());
    };
    if session.expires_us <= now_us() {
        return Err("the session has expired: sign in again".into());
    }
    if user.disabled {
        return Err(format!("account {} is disabled", user.name));
    }
    let at_login = session.purpose.as_deref().and_then(|p| serde_json::from_str::<Purpose>(p).ok());
    Ok(Caller { principal: Arc::new(principal_of(&user)), declared: declared.or(at_login), session: Some(d) })
}

/// The policy's view of an account.
pub(crate) fn principal_of(u: &UserRow) -> Principal {
    Principal::user(&u.name, &u.agency, &u.country)
        .with_roles(u.roles.iter().filter_map(|r| Role::parse(r)))
        .with_cases(u.cases.iter().cloned())
        .with_clearance(u.clearance)
}

async fn token(state: &AppState, id: &str, secret: &str, declared: Option<Purpose>) -> Result<Caller, String> {
    let store = state.store.clone();
    let key = id.to_owned();
    let row = tokio::task::spawn_blocking(move || store.token(&key))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("token lookup failed: {e}"))?;
    let full = format!("lms_t_{id}.{secret}");
    let Some(row) = row.filter(|r| constant_time_eq(r.digest.as_bytes(), digest(&full).as_bytes())) else {
        return Err("unknown API token".into());
    };
    if row.revoked_us.is_some() {
        return Err(format!("API token {} was revoked", row.id));
    }
    if row.expires_us.is_some_and(|e| e <= now_us()) {
        return Err(format!("API token {} has expired", row.id));
    }
    let principal = token_principal(&row).map_err(|e| format!("API token {} is unusable: {e}", row.id))?;
    Ok(Caller { principal: Arc::new(principal), declared, session: None })
}

/// The policy's view of a token row.
pub(crate) fn token_principal(row: &TokenRow) -> Result<Principal, String> {
    let scope = row
        .scope
        .iter()
        .map(|s| Operation::parse(s).ok_or_else(|| format!("unknown operation {s:?} in scope")))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let purpose = match &row.purpose {
        Some(p) => Some(serde_json::from_str::<Purpose>(p).map_err(|e| e.to_string())?),
        None => None,
    };
    Principal::token(&row.id, &row.agency, &row.country, TokenGrant { scope, purpose }).map_err(|e| e.to_string())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The audit log's kind of act for an operation.
fn audit_action(op: Operation) -> Option<Action> {
    match op.processing() {
        Processing::Consult => Some(Action::Consult),
        Processing::Alter => Some(Action::Alter),
        Processing::Disclose => Some(Action::Disclose),
        Processing::Erase => Some(Action::Erase),
        // Collection is logged per committed batch; the rest touches no personal data.
        Processing::Collect | Processing::None => None,
    }
}

impl AppState {
    /// A registered camera as a policy resource (its agency and country); the node's own
    /// data for a camera not registered (the handler then answers 404).
    pub fn camera_resource(&self, id: &limes_model::CameraId) -> Resource {
        match crate::read_lock(&self.cameras).get(id) {
            Some(c) => Resource::camera(id.as_str(), c.agency.as_str(), c.country.as_str()),
            None => self.access.node(),
        }
    }

    /// Refuses, with 403 and a `denied` record, to show data of a restricted plate to anyone
    /// (the data-protection officer reaches it through a subject request).
    pub(crate) async fn refuse_restricted(&self, caller: &Caller, plate: &str, object: Object) -> Result<(), ApiError> {
        if !self.is_restricted(plate) {
            return Ok(());
        }
        let reason =
            "the data of this plate is restricted (LED Art. 16(3), GDPR Art. 18): ask the data-protection officer";
        self.audit_denied(caller.actor(), &caller.principal.role_text(), object.as_str(), reason, None).await;
        Err(ApiError::Forbidden(reason.into()))
    }

    /// Logs an alert that left the node (LED Art. 25: a transfer) by the node's `component`
    /// (`webhook:dispatch`, `mqtt`) to `recipient`, for the node's operational purpose. A
    /// failure to log is itself logged and never undoes or repeats the sending.
    pub async fn audit_transfer(&self, component: &str, alert_id: i64, recipient: serde_json::Value) {
        self.audit_transfer_of(component, Object::alert(alert_id), recipient).await;
    }

    /// Logs `object` (an alert, an event of the node's analysis) that left the node by the
    /// node's `component` to `recipient`, as [`AppState::audit_transfer`] does.
    pub async fn audit_transfer_of(&self, component: &str, object: Object, recipient: serde_json::Value) {
        let purpose = &self.access.options.collection_purpose;
        let event = AuditEvent {
            actor: Actor::Node(component.to_owned()),
            role: "node".into(),
            action: Action::Transfer,
            object,
            purpose: purpose.purpose.clone(),
            legal_basis: purpose.legal_basis.clone(),
            case_ref: None,
            outcome: Outcome::Allowed,
            details: Details::new(&recipient),
        };
        if let Err(e) = self.audit(event).await {
            tracing::error!(%component, error = %e, "could not log a transfer");
        }
    }

    /// Logs an image attached to read `read_id`.
    pub(crate) async fn audit_image_collected(
        &self,
        by: &Collector,
        read_id: i64,
        sha256: &str,
    ) -> Result<(), ApiError> {
        let event = AuditEvent {
            actor: by.actor.clone(),
            role: by.role.clone(),
            action: Action::Collect,
            object: Object::image(sha256),
            purpose: by.purpose.purpose.clone(),
            legal_basis: by.purpose.legal_basis.clone(),
            case_ref: by.purpose.case_ref.clone(),
            outcome: Outcome::Allowed,
            details: Details::new(&serde_json::json!({ "read": read_id })),
        };
        self.audit(event).await
    }

    /// Decides whether `caller` may perform `op` on `resource`, logs the decision (a refusal
    /// always; an allowed act on personal data as that act, on `object`), and answers 403
    /// with the reason when refused. Nothing is touched before the record is durable.
    pub async fn authorize(
        &self,
        caller: &Caller,
        op: Operation,
        resource: &Resource,
        object: Object,
    ) -> Result<Grant, ApiError> {
        let decision = self.access.options.policy.decide(&caller.principal, op, resource, caller.declared.as_ref());
        if !decision.allowed {
            let reason = format!("{op} refused: {}", decision.reason);
            let rules = decision.policies.join(",");
            self.audit_denied(
                caller.actor(),
                &caller.principal.role_text(),
                object.as_str(),
                &reason,
                Some((op, &rules)),
            )
            .await;
            return Err(ApiError::Forbidden(reason));
        }
        if let Some(action) = audit_action(op) {
            let purpose = decision.purpose.clone().unwrap_or_else(|| self.access.options.collection_purpose.clone());
            let event = AuditEvent {
                actor: caller.actor(),
                role: caller.principal.role_text(),
                action,
                object,
                purpose: purpose.purpose,
                legal_basis: purpose.legal_basis,
                case_ref: purpose.case_ref,
                outcome: Outcome::Allowed,
                details: Details::new(&serde_json::json!({ "operation": op.id(), "rules": decision.policies })),
            };
            self.audit(event).await?;
        }
        Ok(Grant { purpose: decision.purpose })
    }

    /// Appends `event` and waits until it is durable. Without an audit log (a library user
    /// that opened none) it does nothing.
    pub async fn audit(&self, event: AuditEvent) -> Result<(), ApiError> {
        let Some(log) = &self.audit else { return Ok(()) };
        log.append(event).await.map(|_| ()).map_err(|e| ApiError::Internal(format!("audit log: {e}")))
    }

    /// Logs a refused access. A failure to log is itself logged, never turned into access.
    pub(crate) async fn audit_denied(
        &self,
        actor: Actor,
        role: &str,
        object: &str,
        reason: &str,
        op: Option<(Operation, &str)>,
    ) {
        let mut details = serde_json::json!({ "reason": reason });
        if let Some((op, rules)) = op {
            details["operation"] = op.id().into();
            details["rules"] = rules.into();
        }
        let event = AuditEvent {
            actor,
            role: role.to_owned(),
            action: Action::Denied,
            object: Object::from_text(if object.is_empty() { "request" } else { object }),
            purpose: "access_control".into(),
            legal_basis: String::new(),
            case_ref: None,
            outcome: Outcome::Denied,
            details: Details::new(&details),
        };
        if let Err(e) = self.audit(event).await {
            tracing::error!(error = %e, "could not log a refused access");
        }
    }

    /// Closes the gap a crash can leave between the store and the audit log: reads committed
    /// whose batch's `collect` record was not (the node stopped between the two commits) are
    /// logged now, as one record by the node naming them as recovered. Run at start, before
    /// the API serves. Returns how many reads it logged.
    pub async fn audit_collection_gap(&self) -> Result<u64, ApiError> {
        let Some(log) = self.audit.clone() else { return Ok(0) };
        let store = self.store.clone();
        let (first, last, count) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            let audited = log
                .last_object(Action::Collect, "reads:")
                .map_err(|e| ApiError::Internal(format!("audit log: {e}")))?
                .and_then(|o| o.rsplit('-').next().and_then(|n| n.parse::<i64>().ok()))
                .unwrap_or(0);
            let (max, count) = store.reads_above(audited)?;
            Ok((audited + 1, max, count))
        })
        .await??;
        if count == 0 {
            return Ok(0);
        }
        let p = &self.access.options.collection_purpose;
        let mut event = AuditEvent::reads_collected(
            Actor::Node("recovery".into()),
            first,
            last,
            count as usize,
            &p.purpose,
            &p.legal_basis,
        );
        event.role = "node".into();
        event.details = Details::new(&serde_json::json!({ "count": count, "recovered": true }));
        self.audit(event).await?;
        tracing::warn!(first, last, count, "logged reads committed before a crash without their collection record");
        Ok(count)
    }

    /// Logs a collected batch of reads once it is committed.
    /// `what` names the kind of record (`reads`, `detections`); `alerts` is how many alerts
    /// matching the batch against the hotlist raised (Article 25's combination).
    pub(crate) async fn audit_collected(
        &self,
        by: &Collector,
        ids: &[i64],
        what: &str,
        alerts: usize,
    ) -> Result<(), ApiError> {
        let (Some(first), Some(last)) = (ids.iter().min(), ids.iter().max()) else { return Ok(()) };
        let mut event = AuditEvent::reads_collected(
            by.actor.clone(),
            *first,
            *last,
            ids.len(),
            &by.purpose.purpose,
            &by.purpose.legal_basis,
        );
        by.role.clone_into(&mut event.role);
        if what != "reads" {
            event.object = Object::new(what, format!("{first}-{last}"));
        }
        if alerts > 0 {
            event.details = Details::new(&serde_json::json!({ "count": ids.len(), "alerts": alerts }));
        }
        self.audit(event).await
    }
}

/// The audit log a node opened, if any (re-exported for the binary).
pub type NodeAudit = Option<AuditLog>;

/// Random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| format!("no random bytes: {e}"))?;
    Ok(out)
}

/// What an API token is for.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub name: String,
    pub scope: BTreeSet<Operation>,
    pub purpose: Option<Purpose>,
    pub agency: String,
    pub country: String,
    pub expires_us: Option<i64>,
}

/// Makes a token's row (to store) and its bearer value (to hand over once), checking the
/// grant as every call will.
pub fn mint_token(spec: TokenSpec, created_by: &str) -> Result<(TokenRow, String), String> {
    if spec.name.is_empty() || spec.name.len() > 200 {
        return Err("a token needs a name of 1 to 200 bytes".into());
    }
    let (id, bearer) = limes_access::secret::api_token(&random::<9>()?, &random::<32>()?);
    let row = TokenRow {
        id,
        digest: digest(&bearer),
        name: spec.name,
        agency: spec.agency,
        country: spec.country,
        scope: spec.scope.iter().map(|o| o.id().to_owned()).collect(),
        purpose: spec.purpose.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default()),
        created_by: created_by.to_owned(),
        created_us: now_us(),
        expires_us: spec.expires_us,
        revoked_us: None,
    };
    // The checks every call will meet (scope, purpose), on the row as stored.
    token_principal(&row)?;
    Ok((row, bearer))
}

/// The first administrator's account name.
pub const FIRST_ADMIN: &str = "admin";

/// On a node without accounts, creates the administrator `admin` with a random password
/// and returns the password (the binary writes it to a file only its owner reads). `None`
/// when accounts exist.
pub fn ensure_first_admin(store: &limes_store::Store, access: &AccessOptions) -> Result<Option<String>, String> {
    if !store.users().map_err(|e| e.to_string())?.is_empty() {
        return Ok(None);
    }
    create_account(store, access, FIRST_ADMIN, "first administrator", &[Role::Administrator])
}

/// Creates the account `name` of this node's agency with `roles` and a random password, and
/// returns the password; `None` when the account exists.
pub fn create_account(
    store: &limes_store::Store,
    access: &AccessOptions,
    name: &str,
    display_name: &str,
    roles: &[Role],
) -> Result<Option<String>, String> {
    use base64::Engine;
    let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random::<18>()?);
    let hash = limes_access::password::hash(name, &password, &random::<16>()?).map_err(|e| e.to_string())?;
    let row = UserRow {
        name: name.into(),
        display_name: Some(display_name.into()),
        password_hash: Some(hash),
        totp_secret: None,
        totp_last_step: None,
        roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
        agency: access.agency.clone(),
        country: access.country.clone(),
        clearance: 0,
        cases: Vec::new(),
        disabled: false,
        created_us: now_us(),
    };
    Ok(store.create_user(&row).map_err(|e| e.to_string())?.then_some(password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ReadIn;

    fn read(camera: &str, plate: &str) -> ReadIn {
        serde_json::from_value(serde_json::json!({
            "camera": camera, "time": chrono::Utc::now().to_rfc3339(), "plate": plate, "country": "RO"
        }))
        .unwrap()
    }

    /// Reads committed while their batch's record never reached the log (a crash between the
    /// two commits, played here by ingesting without the log) are logged at the next start,
    /// once.
    #[tokio::test]
    async fn the_collection_gap_a_crash_leaves_is_logged_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = limes_store::Store::open(dir.path(), Default::default()).unwrap();
        let camera: limes_model::Camera = serde_json::from_value(serde_json::json!({
            "id": "ro-a", "agency": "ro-igpf", "kind": "anpr", "country": "RO"
        }))
        .unwrap();
        store.upsert_cameras(&[camera]).unwrap();
        let state = AppState::load(store, Default::default()).unwrap();
        let log = AuditLog::open(dir.path(), limes_audit::AuditOptions::new("limes.test/audit")).unwrap();
        let by = Collector::source(&state, "test");
        let batch =
            |plates: &[&str]| plates.iter().enumerate().map(|(i, p)| (i, Ok(read("ro-a", p)))).collect::<Vec<_>>();

        // Audited, then not (the "crash"), then audited again: the gap is 3..=5.
        let state = state.with_audit(log.clone());
        crate::ingest_reads(&state, &by, batch(&["B11AAA", "B12AAA"])).await.unwrap();
        let unaudited = AppState { audit: None, ..state.clone() };
        crate::ingest_reads(&unaudited, &by, batch(&["B13AAA", "B14AAA", "B15AAA"])).await.unwrap();
        assert_eq!(log.last_object(Action::Collect, "reads:").unwrap().as_deref(), Some("reads:1-2"));

        assert_eq!(state.audit_collection_gap().await.unwrap(), 3);
        let last = log.record(log.size() - 1).unwrap().unwrap();
        assert_eq!(last.event.object.as_str(), "reads:3-5");
        assert_eq!(last.event.actor, Actor::Node("recovery".into()));
        assert_eq!(last.event.details.value()["recovered"], true);
        // Nothing more to recover.
        assert_eq!(state.audit_collection_gap().await.unwrap(), 0);
        let verified = tokio::task::spawn_blocking(move || {
            log.checkpoint_now().unwrap();
            log.verify().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(verified.records, 2);
    }
}

#[cfg(test)]
mod retention_tests {
    use super::*;
    use crate::wire::ReadIn;

    /// National limits keep a country's cameras' reads for their own period; every deletion is
    /// logged by the node with the rule it applied.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn national_limits_keep_each_countrys_reads_for_their_own_period_and_deletions_are_logged() {
        let dir = tempfile::tempdir().unwrap();
        let store = limes_store::Store::open(dir.path(), Default::default()).unwrap();
        let cameras: Vec<limes_model::Camera> = [("ro-a", "ro-igpf", "RO"), ("ua-a", "ua-dpsu", "UA")]
            .into_iter()
            .map(|(id, agency, country)| {
                serde_json::from_value(
                    serde_json::json!({"id": id, "agency": agency, "kind": "anpr", "country": country}),
                )
                .unwrap()
            })
            .collect();
        store.upsert_cameras(&cameras).unwrap();
        let log = AuditLog::open(dir.path(), limes_audit::AuditOptions::new("limes.test/audit")).unwrap();
        let state = AppState::load(store, Default::default()).unwrap().with_audit(log.clone());
        let by = Collector::source(&state, "test");
        let read = |camera: &str, days_ago: i64| -> ReadIn {
            let time = chrono::Utc::now() - chrono::Duration::days(days_ago);
            serde_json::from_value(
                serde_json::json!({"camera": camera, "time": time.to_rfc3339(), "plate": "B12ABC", "country": "RO"}),
            )
            .unwrap()
        };
        let items = vec![
            (0, Ok(read("ro-a", 40))),
            (1, Ok(read("ua-a", 40))),
            (2, Ok(read("ua-a", 100))),
            (3, Ok(read("ro-a", 1))),
        ];
        let report = crate::ingest_reads(&state, &by, items).await.unwrap();
        assert_eq!(report.accepted, 4, "{:?}", report.rejected);

        let retention = crate::Retention {
            reads_days: 30,
            reads_days_by_country: [("UA".to_owned(), 90)].into(),
            ..Default::default()
        };
        // RO's 40-day-old read goes (30 days); UA keeps its 40-day-old one (90) but not the 100-day-old.
        assert_eq!(crate::retention_pass(&state, &retention).await, (2, 0));
        let left: Vec<String> = state.store.reads_above(0).map(|(_, n)| n).into_iter().map(|n| n.to_string()).collect();
        assert_eq!(left, ["2"]);
        assert_eq!(crate::retention_pass(&state, &retention).await, (0, 0), "nothing twice");
        let erasures: Vec<String> = (0..log.size())
            .filter_map(|seq| log.record(seq).unwrap())
            .filter(|r| r.event.action == Action::Erase)
            .map(|r| r.event.legal_basis.clone())
            .collect();
        assert_eq!(erasures.len(), 2, "{erasures:?}");
        assert!(erasures.iter().any(|b| b.contains("national limit of 90 days for UA")), "{erasures:?}");
        assert!(erasures.iter().any(|b| b.contains("retention limit of 30 days")), "{erasures:?}");
    }
}
