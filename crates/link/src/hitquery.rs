//! Hit/no-hit plate queries between partners: `limes-hitquery` at the edge (threat model in
//! `design/hit-no-hit.md`).
//!
//! **The owner** (the node whose sightings are asked about) keeps one OPRF key per window: a
//! 32-byte seed in `<link dir>/hitquery/<YYYY-MM-DD>.seed` (0600, fsynced), a new one each UTC
//! day. The day's key covers the sightings of that day and the `window_days - 1` days before it.
//! The node answers under the current key and the previous day's (requests in flight across
//! midnight) and deletes every other seed when it rotates: after that nobody, this node
//! included, can compute an old set's tags. The server hands it the distinct plates of the
//! window's reads now and then ([`Link::publish_sightings`]); the link gives each plate two
//! random references for the window (kept in `federation.sqlite`, table `hitquery_plates`,
//! with the plate's read ids, so that a later full-data request naming a reference resolves:
//! [`Link::resolve_reference`]) and rebuilds the published set when the plates changed, with
//! the references and tags they already had, padded with random entries to a multiple of
//! `pad_to_multiple` plates. Partners whose agreement has a `plate-reads` flow to them in mode
//! `hit-no-hit` or `push`, for the purpose they declare (`Limes-Purpose`), may:
//!
//! - `GET /federation/v1/hitquery/set`: the set's bytes (`ETag` = its SHA-256; `If-None-Match`
//!   with it answers 304), audited as a transfer;
//! - `POST /federation/v1/hitquery/evaluate` with a `limes_hitquery::Request` (JSON): charged to
//!   the partner's token bucket (`burst` evaluations, `refill` more every `refill_every`; a
//!   plate costs two), audited, then evaluated. Refusals are JSON `{"code", "error"}`: 403
//!   `not_agreed` / `revoked`, 400 `malformed` / `no_purpose`, 413 `oversized`, 409 `wrong_key`
//!   (the set rotated: fetch it again), 429 `rate_limited` with `Retry-After` (seconds), 503
//!   `no_set`. Every evaluation and every refusal is a record on this node's audit log, actor the
//!   partner, object `hitquery:evaluate` (or `hitquery:set`), with the number of elements, the
//!   decision and the agreement's rules; never a plate, which this node never has.
//!
//! **The asker** ([`Link::ask_plates`]) checks its own copy of the agreement, fetches the
//! partner's set (cached by digest), checks it covers the present, blinds, posts the request over
//! the pinned mutual-TLS client, verifies the proof against the set's key, unblinds and looks the
//! plates up. Its own audit log gets one record per plate: the plate, purpose, legal basis, case,
//! partner and answer (this node's own processing; nothing of it crosses).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use limes_agreement::{Act, Category, Decision, Labels, Mode, PlateForm, Shape};
use limes_audit::{Action, Actor, AuditEvent, Details, Object, Outcome as AuditOutcome};
use limes_hitquery::rand_core::OsRng;
use limes_hitquery::{
    Answer, Entered, PlateTags, PublicKey, PublishedSet, Query, RateConfig, RateLimiter, Reference, Request, ServerKey,
    SetBuilder, Window, WireError,
};
use limes_model::AgencyId;
use limes_plate::PlateText;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::WindowPlate;
use crate::receive::PeerCert;
use crate::{Inner, Link, LinkError, lock};

/// The header carrying the purpose the asker declares, on both routes.
pub const PURPOSE_HEADER: &str = "limes-purpose";
/// The largest set an asker downloads: 2 million plates.
pub const MAX_SET_BYTES: usize = 128 << 20;
/// How long an asker waits for a partner's set or evaluation.
const ASK_TIMEOUT: Duration = Duration::from_secs(120);

/// How this node answers hit/no-hit queries about its sightings (`[federation.hitquery]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HitQueryConfig {
    /// Days of sightings one window covers: its key's day and the `window_days - 1` before it.
    /// A window's references keep resolving as long again after its key's day.
    pub window_days: u32,
    /// How often the server hands the link the window's plates (and the set is rebuilt if they
    /// changed). Each time reads the window's plates from the store.
    pub publish_every: Duration,
    /// Evaluations a partner may have at once; a plate costs two. At least 32, the most one
    /// request holds.
    pub burst: u32,
    /// Evaluations a partner gets back every `refill_every`, up to `burst`.
    pub refill: u32,
    pub refill_every: Duration,
    /// The set is padded with random entries up to a multiple of this many plates, so that its
    /// size says only which bucket the true count is in (0: no padding).
    pub pad_to_multiple: u64,
}

impl Default for HitQueryConfig {
    /// A week's sightings, rebuilt every minute; 64 evaluations at once and 64 a day (32 plates
    /// a day per partner, see `design/hit-no-hit.md` on brute force); sizes in steps of 1,024.
    fn default() -> Self {
        Self {
            window_days: 7,
            publish_every: Duration::from_secs(60),
            burst: 64,
            refill: 64,
            refill_every: Duration::from_secs(24 * 3600),
            pad_to_multiple: 1024,
        }
    }
}

impl HitQueryConfig {
    /// Refuses a configuration the link cannot run with, saying which value.
    pub fn validate(&self) -> Result<(), LinkError> {
        self.rate().map(|_| ())
    }

    fn rate(&self) -> Result<RateConfig, LinkError> {
        if !(1..=366).contains(&self.window_days) {
            return Err(LinkError::HitQuery(format!("window_days {} is not 1..=366", self.window_days)));
        }
        if self.publish_every.is_zero() {
            return Err(LinkError::HitQuery("publish_every must be more than zero".into()));
        }
        if (self.burst as usize) < limes_hitquery::wire::MAX_ELEMENTS {
            return Err(LinkError::HitQuery(format!(
                "burst {} is less than one request may cost ({})",
                self.burst,
                limes_hitquery::wire::MAX_ELEMENTS
            )));
        }
        RateConfig::new(self.burst, self.refill, self.refill_every)
            .map_err(|_| LinkError::HitQuery("refill and refill_every must be more than zero".into()))
    }
}

/// A plate the node saw in the window, with the reads that saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    pub plate: PlateText,
    pub reads: Vec<i64>,
}

/// What [`Link::publish_sightings`] did.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The key's day (the window ends with it).
    pub key_day: NaiveDate,
    /// Distinct plates in the set (without padding).
    pub plates: usize,
    /// Plates that got references now.
    pub new_plates: usize,
    /// Whether the set was rebuilt (the plates or the key changed).
    pub rebuilt: bool,
    /// SHA-256 (hex) of the set now served.
    pub digest: String,
}

/// A reference of one of this node's sets, resolved: what a full-data request names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub key_day: NaiveDate,
    pub plate: String,
    /// The exact plate's entry (else the look-alike one).
    pub exact: bool,
    /// The plate's reads in the window when the set was last built.
    pub reads: Vec<i64>,
}

/// Who asks and why: the asker's own audit record of the query.
#[derive(Debug, Clone)]
pub struct Asking {
    pub actor: Actor,
    pub role: String,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: Option<String>,
}

/// The set now served.
#[derive(Debug)]
struct Published {
    bytes: Bytes,
    digest: String,
    key_day: NaiveDate,
    window: Window,
    plates: usize,
}

/// A plate of the current window, as the publisher keeps it between builds.
#[derive(Debug)]
struct Known {
    entered: Entered,
    /// Computed when the plate first goes into a set under this key.
    tags: Option<PlateTags>,
    reads: Vec<i64>,
}

/// The publisher's state for the current key.
#[derive(Debug)]
struct Current {
    day: NaiveDate,
    key: Arc<ServerKey>,
    /// Every plate that has references in this window (ones that left the set included: if
    /// they come back they keep them).
    plates: HashMap<PlateText, Known>,
    references: HashSet<Reference>,
    /// The plates of the set last built.
    in_set: HashSet<PlateText>,
}

/// Hit/no-hit state of a link: both sides.
pub(crate) struct HitQueries {
    config: HitQueryConfig,
    /// The keys evaluations are answered under: the current day's and the day before's.
    keys: RwLock<Vec<(NaiveDate, Arc<ServerKey>)>>,
    published: RwLock<Option<Arc<Published>>>,
    current: Mutex<Option<Current>>,
    limiter: Mutex<RateLimiter<AgencyId>>,
    /// Partners' sets this node asked with, by partner: their digest and the set.
    sets: Mutex<HashMap<AgencyId, (String, Arc<PublishedSet>)>>,
}

impl std::fmt::Debug for HitQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HitQueries").field("config", &self.config).finish_non_exhaustive()
    }
}

impl HitQueries {
    /// The state of a link opened in `dir`: the keys of today and yesterday if their seeds are
    /// there (a set published before a restart is answered for until the next build).
    pub(crate) fn open(dir: &Path, config: HitQueryConfig, now: DateTime<Utc>) -> Result<Self, LinkError> {
        let rate = config.rate()?;
        let seeds = dir.join("hitquery");
        let today = now.date_naive();
        let mut keys = Vec::new();
        for day in [Some(today), today.pred_opt()].into_iter().flatten() {
            if let Some(key) = load_seed(&seeds, day)? {
                keys.push((day, Arc::new(key)));
            }
        }
        Ok(Self {
            config,
            keys: RwLock::new(keys),
            published: RwLock::default(),
            current: Mutex::default(),
            limiter: Mutex::new(RateLimiter::new(rate)),
            sets: Mutex::default(),
        })
    }

    fn key_for(&self, public: &PublicKey) -> Option<(NaiveDate, Arc<ServerKey>)> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).iter().find(|(_, k)| k.public_key() == *public).cloned()
    }

    fn published(&self) -> Option<Arc<Published>> {
        self.published.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn seed_name(day: NaiveDate) -> String {
    format!("{day}.seed")
}

fn load_seed(dir: &Path, day: NaiveDate) -> Result<Option<ServerKey>, LinkError> {
    let path = dir.join(seed_name(day));
    match std::fs::read(&path) {
        Ok(bytes) => {
            let seed = <[u8; 32]>::try_from(bytes.as_slice())
                .map_err(|_| LinkError::File { path, error: "a hit/no-hit seed is 32 bytes".into() })?;
            Ok(Some(ServerKey::from_seed(&seed)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LinkError::File { path, error: e.to_string() }),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The window a key of `day` covers: from the start of `day - (window_days - 1)` to the end of
/// `day`.
fn window_of(day: NaiveDate, window_days: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let first = day - chrono::Duration::days(i64::from(window_days.max(1)) - 1);
    (start(first), start(day) + chrono::Duration::days(1))
}

/// The labels of a hit/no-hit answer about `owner`'s plate sightings, for `purpose`.
fn labels(owner: &str, purpose: &str) -> Labels {
    Labels { plates: PlateForm::None, shape: Shape::HitNoHit, ..Labels::full(Category::PlateReads, owner, purpose) }
}

impl Inner {
    /// Whether `asker` may ask this node about its sightings for `purpose`: the agreement needs a
    /// `plate-reads` flow to it in mode `hit-no-hit` or `push` that allows the purpose now.
    fn may_answer(&self, asker: &AgencyId, purpose: &str, now: DateTime<Utc>) -> Decision {
        let me = self.config.agency.as_str();
        self.decide(Act::Send, me, asker.as_str(), &labels(me, purpose), false, now)
    }

    /// Whether this node may ask `owner` about its sightings for `purpose` (its own copy of the
    /// same agreement).
    fn may_ask(&self, owner: &AgencyId, purpose: &str, now: DateTime<Utc>) -> Decision {
        let me = self.config.agency.as_str();
        self.decide(Act::Receive, owner.as_str(), me, &labels(owner.as_str(), purpose), false, now)
    }

    fn hitquery_event(
        &self,
        partner: &AgencyId,
        action: Action,
        what: &str,
        purpose: &str,
        outcome: AuditOutcome,
        details: serde_json::Value,
    ) -> AuditEvent {
        let agreement = self.agreement_with(partner).map(|a| format!("agreement {}", a.agreement.id));
        AuditEvent {
            actor: Actor::Node(partner.to_string()),
            role: "partner".into(),
            action,
            object: Object::new("hitquery", what),
            purpose: if purpose.is_empty() { self.config.purpose.clone() } else { purpose.to_owned() },
            legal_basis: agreement.unwrap_or_else(|| self.config.legal_basis.clone()),
            case_ref: None,
            outcome,
            details: Details::new(&details),
        }
    }

    /// Appends and waits until durable; without an audit log there is nothing to wait for.
    async fn audit_durably(&self, events: Vec<AuditEvent>) -> Result<(), String> {
        match &self.audit {
            Some(audit) => audit.append_all(events).await.map(|_| ()).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// Builds the set from `sightings` under the key of `now`'s day (rotating first if the day
/// changed); see [`Link::publish_sightings`].
fn publish(inner: &Inner, sightings: Vec<Sighting>, now: DateTime<Utc>) -> Result<PublishReport, LinkError> {
    let state = &inner.hitquery;
    let day = now.date_naive();
    let mut guard = lock(&state.current);
    if guard.as_ref().map(|c| c.day) != Some(day) {
        *guard = Some(rotate(inner, day)?);
    }
    let current = guard.as_mut().expect("set above");
    let mut merged: HashMap<PlateText, Vec<i64>> = HashMap::with_capacity(sightings.len());
    for s in sightings {
        merged.entry(s.plate).or_default().extend(s.reads);
    }
    let mut changed = Vec::new();
    let mut new_plates = 0;
    for (plate, reads) in &mut merged {
        reads.sort_unstable();
        reads.dedup();
        match current.plates.get_mut(plate) {
            Some(known) if known.reads == *reads => {}
            Some(known) => {
                known.reads = reads.clone();
                changed.push(row(plate, known));
            }
            None => {
                let entered = Entered { exact: fresh(&mut current.references), folded: fresh(&mut current.references) };
                let known = Known { entered, tags: None, reads: reads.clone() };
                changed.push(row(plate, &known));
                current.plates.insert(plate.clone(), known);
                new_plates += 1;
            }
        }
    }
    // The references are stored before a set holding them is served: a partner's full-data
    // request may name one at once.
    inner.db.put_window_plates(&day.to_string(), &changed.iter().collect::<Vec<_>>())?;
    let served = state.published().filter(|p| p.key_day == day);
    let same_plates = current.in_set.len() == merged.len() && merged.keys().all(|p| current.in_set.contains(p));
    if let Some(p) = served.filter(|_| same_plates) {
        return Ok(PublishReport {
            key_day: day,
            plates: p.plates,
            new_plates,
            rebuilt: false,
            digest: p.digest.clone(),
        });
    }
    let (from, until) = window_of(day, state.config.window_days);
    let window = Window::new(from.timestamp(), until.timestamp()).map_err(|e| LinkError::HitQuery(e.to_string()))?;
    let key = current.key.clone();
    let mut builder = SetBuilder::new(&key, window);
    for plate in merged.keys() {
        let known = current.plates.get_mut(plate).expect("every merged plate is known");
        let tags = *known.tags.get_or_insert_with(|| key.tags(plate));
        builder.insert_known(plate, tags, known.entered).map_err(|e| LinkError::HitQuery(e.to_string()))?;
    }
    let m = state.config.pad_to_multiple;
    if m > 0 {
        let target = (merged.len() as u64).div_ceil(m).max(1).saturating_mul(m);
        builder.pad_to(&mut OsRng, target).map_err(|e| LinkError::HitQuery(e.to_string()))?;
    }
    let bytes = builder.build().to_bytes();
    let digest = hex(&Sha256::digest(&bytes));
    let published =
        Published { bytes: Bytes::from(bytes), digest: digest.clone(), key_day: day, window, plates: merged.len() };
    *state.published.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(published));
    current.in_set = merged.into_keys().collect();
    lock(&state.limiter).forget_full(since_epoch());
    tracing::info!(key_day = %day, plates = current.in_set.len(), new_plates, digest = %digest, "published the hit/no-hit set");
    Ok(PublishReport { key_day: day, plates: current.in_set.len(), new_plates, rebuilt: true, digest })
}

fn row(plate: &PlateText, known: &Known) -> WindowPlate {
    WindowPlate {
        plate: plate.as_str().to_owned(),
        exact: *known.entered.exact.as_bytes(),
        folded: *known.entered.folded.as_bytes(),
        reads: known.reads.clone(),
    }
}

/// A random reference not given in this window yet.
fn fresh(given: &mut HashSet<Reference>) -> Reference {
    loop {
        let r = Reference::random(&mut OsRng);
        if given.insert(r) {
            return r;
        }
    }
}

/// Makes (or loads) the key of `day`, keeps the day before's for requests in flight, deletes
/// every other seed and the windows whose references no longer resolve, and loads the plates
/// `day`'s window already has.
fn rotate(inner: &Inner, day: NaiveDate) -> Result<Current, LinkError> {
    let dir = inner.dir.join("hitquery");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |e: std::io::Error| LinkError::File { path, error: e.to_string() }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let key = match load_seed(&dir, day)? {
        Some(key) => key,
        None => {
            let key = ServerKey::generate(&mut OsRng);
            crate::identity::write_secret(&dir, &seed_name(day), key.seed())?;
            key
        }
    };
    let key = Arc::new(key);
    let previous = day.pred_opt().map(|d| load_seed(&dir, d).map(|k| k.map(|k| (d, Arc::new(k))))).transpose()?;
    let keep: HashSet<String> = [Some(day), day.pred_opt()].into_iter().flatten().map(seed_name).collect();
    let mut removed = false;
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let entry = entry.map_err(io(&dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".seed") && !keep.contains(&name) {
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            removed = true;
        }
    }
    if removed {
        std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io(&dir))?;
    }
    let mut keys = vec![(day, key.clone())];
    keys.extend(previous.flatten());
    *inner.hitquery.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
    let oldest = day - chrono::Duration::days(i64::from(inner.hitquery.config.window_days));
    inner.db.delete_windows_before(&oldest.to_string())?;
    let mut plates = HashMap::new();
    let mut references = HashSet::new();
    for p in inner.db.window_plates(&day.to_string())? {
        let Ok(plate) = PlateText::new(&p.plate) else { continue };
        let entered = Entered { exact: Reference::from_bytes(p.exact), folded: Reference::from_bytes(p.folded) };
        references.extend([entered.exact, entered.folded]);
        plates.insert(plate, Known { entered, tags: None, reads: p.reads });
    }
    tracing::info!(key_day = %day, known_plates = plates.len(), "hit/no-hit key for the day");
    Ok(Current { day, key, plates, references, in_set: HashSet::new() })
}

fn since_epoch() -> Duration {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

// The owner's routes.

fn refusal(status: StatusCode, code: &str, error: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "code": code, "error": error.into() }))).into_response()
}

/// The purpose the partner declares: a short word, as the agreement's purposes are.
fn declared_purpose(headers: &HeaderMap) -> Result<String, String> {
    let value = headers
        .get(PURPOSE_HEADER)
        .ok_or_else(|| format!("declare the purpose of the query in the {PURPOSE_HEADER} header"))?;
    let text = value.to_str().map_err(|_| format!("the {PURPOSE_HEADER} header is not text"))?.trim();
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok { Ok(text.to_owned()) } else { Err(format!("{PURPOSE_HEADER} {text:?} is not a purpose")) }
}

/// Audits a refusal of either route, then answers it.
#[allow(clippy::too_many_arguments)]
async fn refuse(
    inner: &Inner,
    partner: &AgencyId,
    what: &str,
    purpose: &str,
    status: StatusCode,
    code: &str,
    error: String,
    details: serde_json::Value,
) -> Response {
    tracing::warn!(partner = %partner, request = what, code, error = %error, "refused a hit/no-hit request");
    let mut d = serde_json::json!({ "decision": "refused", "code": code, "error": error });
    if let (Some(d), Some(extra)) = (d.as_object_mut(), details.as_object()) {
        d.extend(extra.clone());
    }
    let event = inner.hitquery_event(partner, Action::Denied, what, purpose, AuditOutcome::Denied, d);
    inner.audit_all(vec![event]).await;
    refusal(status, code, error)
}

/// The checks both routes start with: a current partner, a declared purpose, an agreement that
/// allows it. The partner and purpose, or the refusal (audited).
async fn admit(
    inner: &Inner,
    fp: &limes_federation::Fingerprint,
    headers: &HeaderMap,
    what: &str,
    body: Option<&[u8]>,
) -> Result<(AgencyId, String, Decision), Response> {
    let Some(partner) = inner.partner_by_fingerprint(fp) else {
        return Err(refusal(StatusCode::FORBIDDEN, "revoked", "this certificate is no longer a partner's"));
    };
    let agency = partner.agency;
    if let Some(body) = body {
        crate::receive::capture(inner, &format!("{agency}-hitquery-{what}"), body);
    }
    let purpose = match declared_purpose(headers) {
        Ok(p) => p,
        Err(e) => {
            let r = refuse(inner, &agency, what, "", StatusCode::BAD_REQUEST, "no_purpose", e, serde_json::json!({}));
            return Err(r.await);
        }
    };
    let decision = inner.may_answer(&agency, &purpose, Utc::now());
    if !decision.allowed {
        let details = serde_json::json!({ "rules": decision.rules });
        let error = format!("no hit/no-hit queries about plate sightings for {purpose}: {}", decision.reason);
        return Err(refuse(inner, &agency, what, &purpose, StatusCode::FORBIDDEN, "not_agreed", error, details).await);
    }
    Ok((agency, purpose, decision))
}

/// `GET /federation/v1/hitquery/set`: the current set.
pub(crate) async fn set(
    State(inner): State<Arc<Inner>>,
    Extension(PeerCert(fp)): Extension<PeerCert>,
    headers: HeaderMap,
) -> Response {
    let (partner, purpose, decision) = match admit(&inner, &fp, &headers, "set", None).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let Some(published) = inner.hitquery.published() else {
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "no_set", "this node has published no set yet; ask later");
    };
    let etag = format!("\"{}\"", published.digest);
    let unchanged = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let with_etag = |mut r: Response| {
        if let Ok(v) = HeaderValue::from_str(&etag) {
            r.headers_mut().insert(header::ETAG, v);
        }
        r
    };
    if unchanged {
        return with_etag(StatusCode::NOT_MODIFIED.into_response());
    }
    let details = serde_json::json!({
        "decision": "sent",
        "digest": published.digest,
        "key_day": published.key_day,
        "window": published.window,
        "bytes": published.bytes.len(),
        "rules": decision.rules,
    });
    let event = inner.hitquery_event(&partner, Action::Transfer, "set", &purpose, AuditOutcome::Allowed, details);
    if let Err(e) = inner.audit_durably(vec![event]).await {
        tracing::error!(error = %e, "could not log a hit/no-hit set transfer; not sent");
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the node could not log the transfer");
    }
    let mut r = published.bytes.clone().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    with_etag(r)
}

/// `POST /federation/v1/hitquery/evaluate`: evaluates a request blind, within the partner's
/// budget.
pub(crate) async fn evaluate(
    State(inner): State<Arc<Inner>>,
    Extension(PeerCert(fp)): Extension<PeerCert>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (partner, purpose, decision) = match admit(&inner, &fp, &headers, "evaluate", Some(&body)).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let rules = serde_json::json!(decision.rules);
    let deny = |status: StatusCode, code: &str, error: String, details: serde_json::Value| {
        let (inner, partner, purpose, code) = (inner.clone(), partner.clone(), purpose.clone(), code.to_owned());
        async move { refuse(&inner, &partner, "evaluate", &purpose, status, &code, error, details).await }
    };
    let request = match Request::from_json(&body) {
        Ok(r) => r,
        Err(e) => {
            let status = match e {
                WireError::TooLarge { .. } | WireError::TooManyElements { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            let code = if status == StatusCode::BAD_REQUEST { "malformed" } else { "oversized" };
            let details = serde_json::json!({ "bytes": body.len(), "rules": rules });
            return deny(status, code, format!("the request: {e}"), details).await;
        }
    };
    let elements = request.len();
    let Some((key_day, key)) = inner.hitquery.key_for(request.key()) else {
        let current = inner.hitquery.published().map(|p| p.key_day);
        let error = format!(
            "this node does not answer for key {}; fetch its current set (of {}) again",
            request.key(),
            current.map_or_else(|| "none yet".to_owned(), |d| d.to_string())
        );
        return deny(StatusCode::CONFLICT, "wrong_key", error, serde_json::json!({ "elements": elements })).await;
    };
    let taken = lock(&inner.hitquery.limiter).try_take(&partner, elements, since_epoch());
    let remaining = match taken {
        limes_hitquery::Decision::Allowed { remaining } => remaining,
        limes_hitquery::Decision::Refused { retry_after } => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let error = format!("{elements} evaluations are more than {partner} has left; ask again in {seconds} s");
            let details = serde_json::json!({ "elements": elements, "retry_after": seconds, "rules": rules });
            let mut r = deny(StatusCode::TOO_MANY_REQUESTS, "rate_limited", error, details).await;
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return r;
        }
        limes_hitquery::Decision::TooLarge => {
            let error = format!("{elements} evaluations are more than a partner's whole budget");
            return deny(
                StatusCode::PAYLOAD_TOO_LARGE,
                "oversized",
                error,
                serde_json::json!({ "elements": elements }),
            )
            .await;
        }
    };
    // Charged above; logged durably before anything is evaluated.
    let details = serde_json::json!({
        "decision": "evaluated",
        "elements": elements,
        "key_day": key_day,
        "remaining": remaining,
        "rules": rules,
    });
    let event = inner.hitquery_event(&partner, Action::Consult, "evaluate", &purpose, AuditOutcome::Allowed, details);
    if let Err(e) = inner.audit_durably(vec![event]).await {
        tracing::error!(error = %e, "could not log a hit/no-hit evaluation; not evaluated");
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the node could not log the evaluation");
    }
    let evaluated = tokio::task::spawn_blocking(move || key.evaluate(&mut OsRng, &request)).await;
    match evaluated {
        Ok(Ok(response)) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], response.to_json()).into_response()
        }
        // The key was looked up by the request's key: this cannot happen.
        Ok(Err(e)) => refusal(StatusCode::CONFLICT, "wrong_key", e.to_string()),
        Err(_) => refusal(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the node is stopping"),
    }
}

// The asker.

/// What a partner's refusal says.
#[derive(serde::Deserialize, Default)]
struct RefusalBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    error: String,
}

/// Reads a body of at most `limit` bytes.
async fn bounded(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(format!("the answer is larger than {limit} bytes"));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > limit {
            return Err(format!("the answer is larger than {limit} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

async fn partner_refused(partner: &AgencyId, resp: reqwest::Response) -> LinkError {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = bounded(resp, 64 * 1024).await.unwrap_or_default();
    let r: RefusalBody = serde_json::from_slice(&body).unwrap_or_default();
    LinkError::PartnerRefused {
        partner: partner.clone(),
        status: status.as_u16(),
        code: r.code,
        error: if r.error.is_empty() { status.to_string() } else { r.error },
        retry_after,
    }
}

impl Link {
    /// The window the key of `now`'s day covers: the reads whose plates
    /// [`Link::publish_sightings`] wants are those seen from the first instant until before the
    /// second.
    pub fn sighting_window(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        window_of(now.date_naive(), self.0.hitquery.config.window_days)
    }

    /// Whether any partner may ask this node about its sightings: an agreement in force with a
    /// `plate-reads` flow from this node in mode `hit-no-hit` or `push`. Until one does, the
    /// server need not publish.
    pub fn answers_hit_queries(&self) -> bool {
        let me = self.0.config.agency.as_str();
        self.active_partners().iter().filter_map(|p| self.0.agreement_with(&p.agency)).any(|a| {
            a.agreement.flows.iter().any(|f| {
                f.from == me && f.category == Category::PlateReads && matches!(f.mode, Mode::HitNoHit | Mode::Push)
            })
        })
    }

    /// Publishes the set of the plates seen in the window of `now`'s day (see
    /// [`Link::sighting_window`]; plates outside it are the caller's mistake, not checked). On a
    /// new day the key rotates first. A plate keeps its references for the whole window; the set
    /// is rebuilt only when its plates changed, so that partners' cached copies stay valid.
    pub async fn publish_sightings(
        &self,
        sightings: Vec<Sighting>,
        now: DateTime<Utc>,
    ) -> Result<PublishReport, LinkError> {
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || publish(&inner, sightings, now)).await.map_err(|_| LinkError::Stopped)?
    }

    /// The plate and reads a reference of one of this node's sets stands for, while its window
    /// is kept.
    pub fn resolve_reference(&self, reference: &Reference) -> Result<Option<Resolved>, LinkError> {
        let Some((day, p, exact)) = self.0.db.resolve_reference(reference.as_bytes())? else { return Ok(None) };
        let key_day = day.parse().map_err(|_| LinkError::Schema(format!("a key day {day:?}")))?;
        Ok(Some(Resolved { key_day, plate: p.plate, exact, reads: p.reads }))
    }

    /// The partners this node may ask about their sightings for `purpose`, now.
    pub fn hitquery_partners(&self, purpose: &str) -> Vec<AgencyId> {
        let now = Utc::now();
        let mut out: Vec<AgencyId> = self
            .active_partners()
            .into_iter()
            .map(|p| p.agency)
            .filter(|p| self.0.may_ask(p, purpose, now).allowed)
            .collect();
        out.sort();
        out
    }

    /// Asks `partner` whether it saw `plates` (at most 16) in its current window, without it
    /// learning which: one [`Answer`] per plate, in order. Logs each plate's question and answer
    /// on this node's audit log (as `asking.actor`) before returning.
    pub async fn ask_plates(
        &self,
        partner: &AgencyId,
        plates: &[PlateText],
        asking: &Asking,
    ) -> Result<Vec<Answer>, LinkError> {
        let result = self.ask(partner, plates, &asking.purpose).await;
        let events: Vec<AuditEvent> = plates
            .iter()
            .enumerate()
            .map(|(i, plate)| {
                let (outcome, details) = match &result {
                    Ok((answers, digest, window)) => {
                        let a = &answers[i];
                        (
                            AuditOutcome::Allowed,
                            serde_json::json!({
                                "query": "hit-no-hit",
                                "partner": partner,
                                "hit": a.is_hit(),
                                "exact_reference": a.exact,
                                "folded_references": a.folded,
                                "set": digest,
                                "window": window,
                            }),
                        )
                    }
                    Err(e) => (
                        if matches!(e, LinkError::NotAgreed { .. }) {
                            AuditOutcome::Denied
                        } else {
                            AuditOutcome::Allowed
                        },
                        serde_json::json!({ "query": "hit-no-hit", "partner": partner, "error": e.to_string() }),
                    ),
                };
                AuditEvent {
                    actor: asking.actor.clone(),
                    role: asking.role.clone(),
                    action: if outcome == AuditOutcome::Denied { Action::Denied } else { Action::Consult },
                    object: Object::plate(plate.as_str()),
                    purpose: asking.purpose.clone(),
                    legal_basis: asking.legal_basis.clone(),
                    case_ref: asking.case_ref.clone(),
                    outcome,
                    details: Details::new(&details),
                }
            })
            .collect();
        self.0.audit_durably(events).await.map_err(|e| LinkError::HitQuery(format!("the audit log: {e}")))?;
        result.map(|(answers, _, _)| answers)
    }

    /// The query itself: answers, the digest of the set looked up in, and its window.
    async fn ask(
        &self,
        partner: &AgencyId,
        plates: &[PlateText],
        purpose: &str,
    ) -> Result<(Vec<Answer>, String, Window), LinkError> {
        let p = self.0.partner(partner).ok_or_else(|| LinkError::NotFound(format!("no partner {partner}")))?;
        let decision = self.0.may_ask(partner, purpose, Utc::now());
        if !decision.allowed {
            return Err(LinkError::NotAgreed { partner: partner.clone(), reason: decision.reason });
        }
        if plates.is_empty() || plates.len() > limes_hitquery::wire::MAX_PLATES_PER_REQUEST {
            return Err(LinkError::HitQuery(format!(
                "{} plates: ask about 1 to {} at a time",
                plates.len(),
                limes_hitquery::wire::MAX_PLATES_PER_REQUEST
            )));
        }
        let client = crate::send::partner_client(&self.0, p.fingerprint, ASK_TIMEOUT)?;
        let base = p.anchor.url.trim_end_matches('/').to_owned();
        // Once more with a fresh set when the partner's key rotated since the cached one.
        for attempt in 0..2 {
            let (digest, set) = self.partner_set(&client, &base, partner, purpose).await?;
            let (query, request) =
                Query::new(&mut OsRng, set.key(), plates).map_err(|e| LinkError::HitQuery(e.to_string()))?;
            let failed = |error: String| LinkError::PartnerFailed { partner: partner.clone(), error };
            let resp = client
                .post(format!("{base}/federation/v1/hitquery/evaluate"))
                .header(PURPOSE_HEADER, purpose)
                .header(header::CONTENT_TYPE, "application/json")
                .body(request.to_json())
                .send()
                .await
                .map_err(|e| failed(format!("sending the query: {e}")))?;
            if resp.status() == reqwest::StatusCode::CONFLICT && attempt == 0 {
                lock(&self.0.hitquery.sets).remove(partner);
                continue;
            }
            if !resp.status().is_success() {
                return Err(partner_refused(partner, resp).await);
            }
            let body = bounded(resp, limes_hitquery::wire::MAX_MESSAGE_BYTES).await.map_err(failed)?;
            let response =
                limes_hitquery::Response::from_json(&body).map_err(|e| failed(format!("its answer: {e}")))?;
            let answers = query.finish(&response, &set).map_err(|e| failed(format!("its answer: {e}")))?;
            return Ok((answers, digest, set.window()));
        }
        Err(LinkError::PartnerFailed { partner: partner.clone(), error: "its key changed twice while asking".into() })
    }

    /// The partner's current set: the cached copy if its digest is still the partner's, else a
    /// new one. Refuses a set that does not cover the present.
    async fn partner_set(
        &self,
        client: &reqwest::Client,
        base: &str,
        partner: &AgencyId,
        purpose: &str,
    ) -> Result<(String, Arc<PublishedSet>), LinkError> {
        let failed = |error: String| LinkError::PartnerFailed { partner: partner.clone(), error };
        let cached = lock(&self.0.hitquery.sets).get(partner).cloned();
        let mut req = client.get(format!("{base}/federation/v1/hitquery/set")).header(PURPOSE_HEADER, purpose);
        if let Some((digest, _)) = &cached {
            req = req.header(header::IF_NONE_MATCH, format!("\"{digest}\""));
        }
        let resp = req.send().await.map_err(|e| failed(format!("fetching its set: {e}")))?;
        let (digest, set) = match (resp.status(), cached) {
            (reqwest::StatusCode::NOT_MODIFIED, Some(cached)) => cached,
            (s, _) if s.is_success() => {
                let bytes = bounded(resp, MAX_SET_BYTES).await.map_err(|e| failed(format!("its set: {e}")))?;
                let parsed = tokio::task::spawn_blocking(move || {
                    let digest = hex(&Sha256::digest(&bytes));
                    PublishedSet::from_bytes(&bytes).map(|set| (digest, Arc::new(set)))
                })
                .await
                .map_err(|_| LinkError::Stopped)?
                .map_err(|e| failed(format!("its set: {e}")))?;
                lock(&self.0.hitquery.sets).insert(partner.clone(), parsed.clone());
                parsed
            }
            _ => return Err(partner_refused(partner, resp).await),
        };
        let now = Utc::now().timestamp();
        let window = set.window();
        // The previous day's key is still answered for: a set may have ended up to a day ago.
        if window.until() < now - 24 * 3600 || window.from() > now {
            lock(&self.0.hitquery.sets).remove(partner);
            return Err(failed(format!(
                "its set covers {} to {}, not the present",
                DateTime::from_timestamp(window.from(), 0).unwrap_or_default(),
                DateTime::from_timestamp(window.until(), 0).unwrap_or_default()
            )));
        }
        Ok((digest, set))
    }
}
