//! The node's HTTP API (v1): plate reads in, alerts out, cameras, hotlists,
//! search. It is the edge where wire formats (`wire`) meet the domain: it
//! parses and validates requests, normalises plates (`limes-plate`), matches
//! them against the hotlist index (`limes-hotlist`), writes reads and alerts
//! durably (`limes-store`) and only then acknowledges and pushes alerts to the
//! Server-Sent Events stream. Images of reads (plate crops, overviews) are posted
//! and served by their SHA-256. Face, person and vehicle detections are posted,
//! validated, stored in the same group commits as reads, and searched by camera, zone,
//! kind, time, estimated age and gender; they never carry identity and raise no alert.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::path::Path::new("/var/lib/limes");
//! let store = limes_store::Store::open(dir, Default::default())?;
//! let state = limes_server::AppState::load(store, limes_server::ServerOptions::default())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, limes_server::router(state)).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::Router;
use limes_hotlist::{ConfidenceCalibration, HotlistIndex};
use limes_model::{Camera, CameraId};
use limes_store::Store;
use serde::Serialize;
use tokio::sync::broadcast;

pub mod analysis;
pub mod auth;
pub mod clips;
mod detections;
mod error;
pub mod federation;
pub mod files;
pub mod identity;
pub mod import;
pub mod incidents;
mod ingest;
pub mod live_grants;
pub mod operations;
pub mod patrols;
mod routes;
pub mod video;
pub mod wire;

pub use auth::{Access, AccessOptions, Caller, Collector, Grant};
pub use detections::{DetectionItem, HTTP_SOURCE, MAX_TEXT_BYTES, ingest_detections};
pub use error::ApiError;
pub use ingest::{IngestRecord, ingest_reads};

/// Limits and tuning of the API.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The largest JSON body accepted (single read, batch, hotlist or camera import).
    pub max_body_bytes: usize,
    /// The longest line of an NDJSON stream.
    pub max_line_bytes: usize,
    /// NDJSON streams are committed in chunks of this many reads.
    pub stream_chunk: usize,
    /// How many alerts a slow SSE subscriber may fall behind before it is told it lagged.
    pub alert_buffer: usize,
    /// When a hit may be confirmed.
    pub match_policy: limes_hotlist::MatchPolicy,
    /// What an image posted for a read may be (its body limit is `images.max_bytes`).
    pub images: limes_store::ImageLimits,
    /// Who may do what, and why.
    pub access: AccessOptions,
    /// Acknowledgement deadlines of incidents, and how often they are checked.
    pub incidents: incidents::IncidentOptions,
    /// How patrol positions are shared, kept and judged fresh.
    pub patrols: patrols::PatrolOptions,
    /// The triage folder `limes triage` writes cases to (`--dir`), which the review reads.
    pub triage_dir: Option<std::path::PathBuf>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 << 20,
            max_line_bytes: 64 << 10,
            stream_chunk: 4096,
            alert_buffer: 65_536,
            match_policy: limes_hotlist::MatchPolicy::default(),
            images: limes_store::ImageLimits::default(),
            access: AccessOptions::default(),
            incidents: incidents::IncidentOptions::default(),
            patrols: patrols::PatrolOptions::default(),
            triage_dir: None,
        }
    }
}

/// Counters shown by `/api/v1/stats` and the demo's summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub reads_accepted: AtomicU64,
    pub reads_rejected: AtomicU64,
    pub batches: AtomicU64,
    pub alerts_confirmed: AtomicU64,
    pub alerts_possible: AtomicU64,
    /// Face, person and vehicle detections stored (HTTP and MQTT).
    pub detections_accepted: AtomicU64,
    /// Detections refused by validation (unknown camera, age out of range, box outside…).
    pub detections_rejected: AtomicU64,
    /// Alerts partner agencies sent, stored and streamed here.
    pub partner_alerts: AtomicU64,
    /// One entry per outbound webhook, registered as it starts (`limes-webhook`).
    pub webhooks: RwLock<Vec<Arc<WebhookStats>>>,
}

/// The counters of one outbound webhook.
#[derive(Debug, Default)]
pub struct WebhookStats {
    pub name: String,
    /// Alerts delivered (the receiver answered 2xx).
    pub delivered: AtomicU64,
    /// Delivery attempts that failed (no answer in time, refused connection, not 2xx); each
    /// failure is retried.
    pub failed: AtomicU64,
    /// Alerts the webhook's filter (priority, kind) passed over.
    pub filtered: AtomicU64,
    /// The id of the last alert the webhook is done with.
    pub cursor: AtomicI64,
    /// What the last failed attempt got, cleared by the next delivery.
    pub last_error: Mutex<Option<String>>,
}

impl WebhookStats {
    pub fn new(name: &str) -> Self {
        Self { name: name.to_owned(), ..Self::default() }
    }

    pub fn snapshot(&self) -> WebhookStatsSnapshot {
        WebhookStatsSnapshot {
            name: self.name.clone(),
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            cursor: self.cursor.load(Ordering::Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }
}

/// A snapshot of [`WebhookStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct WebhookStatsSnapshot {
    pub name: String,
    pub delivered: u64,
    pub failed: u64,
    pub filtered: u64,
    pub cursor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    pub reads_accepted: u64,
    pub reads_rejected: u64,
    pub batches: u64,
    pub alerts_confirmed: u64,
    pub alerts_possible: u64,
    #[serde(default)]
    pub detections_accepted: u64,
    #[serde(default)]
    pub detections_rejected: u64,
    /// Alerts partner agencies sent.
    #[serde(default)]
    pub partner_alerts: u64,
    pub hotlist_entries: u64,
    pub cameras: u64,
    /// Per outbound webhook, in the order of the configuration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookStatsSnapshot>,
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub hotlist: Arc<RwLock<HotlistIndex>>,
    pub cameras: Arc<RwLock<HashMap<CameraId, Camera>>>,
    /// Each alert, serialised once, fanned out to every SSE subscriber.
    pub alerts: broadcast::Sender<AlertEvent>,
    pub stats: Arc<Stats>,
    pub options: ServerOptions,
    /// Authentication and authorisation (`auth`).
    pub access: Arc<Access>,
    /// Where every act on personal data and every refusal is logged; `None` only for a
    /// library user that opened no log (the `limes` binary always opens one).
    pub audit: Option<limes_audit::AuditLog>,
    /// Plates whose data is restricted (LED Art. 16(3)): kept, shown only to the
    /// data-protection officer (`routes/dpo.rs`).
    pub restricted: Arc<RwLock<std::collections::HashSet<String>>>,
    /// Identity providers whose people and tokens the node accepts (`identity`).
    pub identity: Arc<identity::Identity>,
    /// Each camera's recent text confidences, for `MatchPolicy::confirm_min_camera_quantile`.
    pub calibrations: Arc<Mutex<HashMap<CameraId, ConfidenceCalibration>>>,
    /// The links to partner agencies, once the node's federation started (`federation`).
    pub federation: Arc<std::sync::OnceLock<Federation>>,
    /// The hotlist entries partners shared, by their id here, with where they came from
    /// (`federation::hotlist`); the index holds them beside the node's own.
    pub partner_entries: Arc<RwLock<HashMap<u64, limes_store::PartnerEntry>>>,
    /// Woken when the node's own hotlist changed, so partners get the change soon.
    pub hotlist_changed: Arc<tokio::sync::Notify>,
    /// The incident clock and the incidents' live stream (`incidents`).
    pub incidents: Arc<incidents::Hub>,
    /// The hotlists of the joint operations running now (`operations`).
    pub operation_hotlist: Arc<RwLock<operations::OperationIndex>>,
    /// The patrols' live stream (`patrols`).
    pub patrols: Arc<patrols::Hub>,
    /// The bulletins' live stream (`federation::bulletins`).
    pub bulletins: Arc<federation::bulletins::Hub>,
    /// The cameras the node records, their state and live frames (`video`).
    pub video: Arc<video::Hub>,
    /// Live video grants changed: relayed streams look at theirs again (`live_grants`).
    pub live_grants: Arc<live_grants::Changes>,
    /// The node's own analysis of video: its models and each camera's settings (`analysis`).
    pub analysis: Arc<analysis::Hub>,
}

/// The node's links to partner agencies and the queue of alerts on their way to them.
#[derive(Debug, Clone)]
pub struct Federation {
    pub link: limes_link::Link,
    pub outbound: federation::Outbound,
}

/// An alert as pushed on the stream: its id and its JSON.
#[derive(Debug, Clone)]
pub struct AlertEvent {
    pub id: i64,
    /// The hotlisted plate (a restricted plate's alerts are not streamed).
    pub plate: Arc<str>,
    pub json: Arc<str>,
    /// The partner agency that raised it, for an alert a partner sent, and whether its plate
    /// is that partner's pseudonym.
    pub origin: Option<(Arc<str>, bool)>,
}

impl AppState {
    /// Loads cameras and the hotlist from the store and builds the matching index.
    pub fn load(store: Store, options: ServerOptions) -> Result<Self, limes_store::StoreError> {
        let cameras = store.cameras()?.into_iter().map(|c| (c.id.clone(), c)).collect();
        let index = HotlistIndex::from_entries(store.hotlist()?);
        let (alerts, _) = broadcast::channel(options.alert_buffer.max(16));
        let access = Arc::new(Access::new(options.access.clone()));
        let restricted = store.restricted_plates()?.into_iter().collect();
        let partner_entries = store.partner_hotlist()?.into_iter().map(|e| (e.id, e)).collect();
        let incidents = Arc::new(incidents::Hub::new(&options.access.agency, store.latest_stamp()?));
        Ok(Self {
            access,
            audit: None,
            identity: Arc::new(identity::Identity::default()),
            restricted: Arc::new(RwLock::new(restricted)),
            store,
            hotlist: Arc::new(RwLock::new(index)),
            cameras: Arc::new(RwLock::new(cameras)),
            alerts,
            stats: Arc::new(Stats::default()),
            options,
            calibrations: Arc::default(),
            federation: Arc::default(),
            partner_entries: Arc::new(RwLock::new(partner_entries)),
            hotlist_changed: Arc::default(),
            incidents,
            operation_hotlist: Arc::default(),
            patrols: Arc::default(),
            bulletins: Arc::default(),
            video: Arc::default(),
            live_grants: Arc::default(),
            analysis: Arc::default(),
        })
        .and_then(|state: Self| {
            operations::rebuild_index(&state)?;
            Ok(state)
        })
    }

    /// Whether `plate` (canonical) is restricted.
    pub fn is_restricted(&self, plate: &str) -> bool {
        let set = read_lock(&self.restricted);
        !set.is_empty() && set.contains(plate)
    }

    /// Starts sharing alerts with partners over `link` and applying what they send.
    pub fn start_federation(&self, link: limes_link::Link) {
        let outbound = federation::start(self, link.clone());
        if self.federation.set(Federation { link, outbound }).is_err() {
            tracing::warn!("federation was started twice; the second start is ignored");
        }
    }

    /// Logs every act and refusal to `audit` from now on.
    pub fn with_audit(mut self, audit: limes_audit::AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        StatsSnapshot {
            reads_accepted: s.reads_accepted.load(Ordering::Relaxed),
            reads_rejected: s.reads_rejected.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            alerts_confirmed: s.alerts_confirmed.load(Ordering::Relaxed),
            alerts_possible: s.alerts_possible.load(Ordering::Relaxed),
            detections_accepted: s.detections_accepted.load(Ordering::Relaxed),
            detections_rejected: s.detections_rejected.load(Ordering::Relaxed),
            partner_alerts: s.partner_alerts.load(Ordering::Relaxed),
            hotlist_entries: read_lock(&self.hotlist).len() as u64,
            cameras: read_lock(&self.cameras).len() as u64,
            webhooks: read_lock(&s.webhooks).iter().map(|w| w.snapshot()).collect(),
        }
    }
}

/// Takes a read lock, recovering from a panic in another holder (the data stay consistent:
/// every writer updates the structures in one step).
pub(crate) fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// How long the node keeps what it stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Plate reads (with their alerts and images) older than this many days are deleted.
    pub reads_days: u32,
    /// Face, person and vehicle detections older than this many days are deleted.
    pub detections_days: u32,
    /// National limits: the reads of a country's cameras are kept this many days instead
    /// (ISO 3166 alpha-2 → days), whichever node holds them.
    pub reads_days_by_country: std::collections::BTreeMap<String, u32>,
    /// The same for detections.
    pub detections_days_by_country: std::collections::BTreeMap<String, u32>,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            reads_days: 30,
            detections_days: 30,
            reads_days_by_country: Default::default(),
            detections_days_by_country: Default::default(),
        }
    }
}

/// One retention rule: what it deletes, of which cameras, after how long, and why.
struct Rule {
    what: &'static str,
    scope: limes_store::CameraScope,
    days: u32,
    basis: String,
}

impl Retention {
    /// The rules for `cameras` (id, country): one per national limit, then the default for
    /// every camera no national limit covers.
    fn rules(&self, cameras: &[(String, String)]) -> Vec<Rule> {
        let mut rules = Vec::new();
        // The node's own analysis's events (with their pictures and the faces' age and gender
        // estimates) are detections, and kept as long.
        for (what, default, by_country) in [
            ("reads", self.reads_days, &self.reads_days_by_country),
            ("detections", self.detections_days, &self.detections_days_by_country),
            ("events", self.detections_days, &self.detections_days_by_country),
        ] {
            // The setting the rule comes from.
            let key = if what == "events" { "detections" } else { what };
            let mut covered = Vec::new();
            for (country, days) in by_country {
                let ids: Vec<String> =
                    cameras.iter().filter(|(_, c)| c.eq_ignore_ascii_case(country)).map(|(id, _)| id.clone()).collect();
                covered.extend(ids.iter().cloned());
                let basis = format!("national limit of {days} days for {country} ([retention] {key}_days_by_country)");
                rules.push(Rule { what, scope: limes_store::CameraScope::Only(ids), days: *days, basis });
            }
            let basis = format!("retention limit of {default} days ([retention] {key}_days)");
            rules.push(Rule { what, scope: limes_store::CameraScope::AllBut(covered), days: default, basis });
        }
        rules
    }
}

/// Deletes what retention says is too old, now, and logs each deletion in the audit log (by
/// the node, naming the rule). Returns how many reads and detections went.
pub async fn retention_pass(state: &AppState, retention: &Retention) -> (u64, u64) {
    let cameras: Vec<(String, String)> =
        read_lock(&state.cameras).values().map(|c| (c.id.as_str().to_owned(), c.country.as_str().to_owned())).collect();
    let now = chrono::Utc::now();
    let (mut reads, mut detections) = (0, 0);
    // Each rule on its own: a failure in one never keeps the others.
    for rule in retention.rules(&cameras) {
        let cutoff = now - chrono::Duration::days(i64::from(rule.days));
        let store = state.store.clone();
        let (what, scope) = (rule.what, rule.scope.clone());
        let deleted = tokio::task::spawn_blocking(move || match what {
            "reads" => store.delete_reads_before_in(cutoff, &scope),
            "events" => store.delete_scene_events_before_in(cutoff, &scope),
            _ => store.delete_detections_before_in(cutoff, &scope),
        })
        .await;
        match deleted {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                tracing::info!(deleted = n, %cutoff, rule = %rule.basis, "retention deleted old {what}");
                match what {
                    "reads" => reads += n,
                    "detections" => detections += n,
                    _ => {}
                }
                // Article 25: erasure is logged, by the node, with the rule applied.
                let event = limes_audit::AuditEvent {
                    actor: limes_audit::Actor::Node("retention".into()),
                    role: "node".into(),
                    action: limes_audit::Action::Erase,
                    object: limes_audit::Object::new(what, format!("before={}", cutoff.to_rfc3339())),
                    purpose: "retention".into(),
                    legal_basis: rule.basis.clone(),
                    case_ref: None,
                    outcome: limes_audit::Outcome::Allowed,
                    details: limes_audit::Details::new(&serde_json::json!({ "deleted": n })),
                };
                if let Err(e) = state.audit(event).await {
                    tracing::error!(error = %e, "could not log a retention deletion");
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "retention of {what} failed; will retry"),
            Err(e) => tracing::error!(error = %e, "retention of {what} panicked; will retry"),
        }
    }
    // Alerts partners sent are kept as long as the agreement with their origin says (its
    // flow of alerts), and never longer than this node's own reads; each deletion goes back
    // to the origin as a signed receipt.
    let mut limits: Vec<(String, i64)> = Vec::new();
    if let Some(fed) = state.federation.get() {
        let me = fed.link.config().agency.to_string();
        for p in fed.link.partners() {
            if let Some(active) = fed.link.agreement_with(&p.agency)
                && let Some(flow) = active.agreement.flow(p.agency.as_str(), &me, limes_agreement::Category::Alerts)
            {
                limits.push((p.agency.to_string(), i64::from(flow.retention_days)));
            }
        }
    }
    let cutoff = now - chrono::Duration::days(i64::from(retention.reads_days));
    let store = state.store.clone();
    let deleted = tokio::task::spawn_blocking(move || {
        let mut deleted = Vec::new();
        for (agency, days) in &limits {
            deleted.extend(store.delete_partner_alerts_from_before(agency, now - chrono::Duration::days(*days))?);
        }
        deleted.extend(store.delete_partner_alerts_before(cutoff)?);
        Ok::<_, limes_store::StoreError>(deleted)
    })
    .await;
    match deleted {
        Ok(Ok(d)) if d.is_empty() => {}
        Ok(Ok(deleted)) => {
            let event = limes_audit::AuditEvent {
                actor: limes_audit::Actor::Node("retention".into()),
                role: "node".into(),
                action: limes_audit::Action::Erase,
                object: limes_audit::Object::new("partner-alerts", format!("before={}", cutoff.to_rfc3339())),
                purpose: "retention".into(),
                legal_basis: format!(
                    "the sharing agreements' retention, at most retention.reads_days = {}",
                    retention.reads_days
                ),
                case_ref: None,
                outcome: limes_audit::Outcome::Allowed,
                details: limes_audit::Details::new(&serde_json::json!({ "deleted": deleted.len() })),
            };
            if let Err(e) = state.audit(event).await {
                tracing::error!(error = %e, "could not log a retention deletion");
            }
            federation::send_deletion_receipts(state, &deleted, limes_federation::DeletionReason::Retention).await;
        }
        Ok(Err(e)) => tracing::error!(error = %e, "retention of partners' alerts failed; will retry"),
        Err(e) => tracing::error!(error = %e, "retention of partners' alerts panicked; will retry"),
    }
    // Patrol positions and assignments: [patrols] positions_days, a partner's as long as its
    // agreement says.
    let patrol_rows = patrols::retention(state).await;
    if patrol_rows > 0 {
        let event = limes_audit::AuditEvent {
            actor: limes_audit::Actor::Node("retention".into()),
            role: "node".into(),
            action: limes_audit::Action::Erase,
            object: limes_audit::Object::new("patrol-positions", format!("rows={patrol_rows}")),
            purpose: "retention".into(),
            legal_basis: format!(
                "retention limit of {} days ([patrols] positions_days), a partner's as its agreement says",
                state.options.patrols.positions_days
            ),
            case_ref: None,
            outcome: limes_audit::Outcome::Allowed,
            details: limes_audit::Details::new(&serde_json::json!({ "deleted": patrol_rows })),
        };
        if let Err(e) = state.audit(event).await {
            tracing::error!(error = %e, "could not log a retention deletion");
        }
    }
    // The hotlist entries partners shared: as long as their agreements say.
    let entries = federation::hotlist::retention(state, now).await;
    if !entries.is_empty() {
        let event = limes_audit::AuditEvent {
            actor: limes_audit::Actor::Node("retention".into()),
            role: "node".into(),
            action: limes_audit::Action::Erase,
            object: limes_audit::Object::new("partner-hotlist", format!("entries={}", entries.len())),
            purpose: "retention".into(),
            legal_basis: "the sharing agreements' retention of hotlist entries".into(),
            case_ref: None,
            outcome: limes_audit::Outcome::Allowed,
            details: limes_audit::Details::new(&serde_json::json!({ "deleted": entries.len() })),
        };
        if let Err(e) = state.audit(event).await {
            tracing::error!(error = %e, "could not log a retention deletion");
        }
        federation::send_deletion_receipts(state, &entries, limes_federation::DeletionReason::Retention).await;
    }
    // The clips partners sent: as long as their agreements say.
    let clips = clips::retention(state, now, retention.reads_days).await;
    if clips > 0 {
        let event = limes_audit::AuditEvent {
            actor: limes_audit::Actor::Node("retention".into()),
            role: "node".into(),
            action: limes_audit::Action::Erase,
            object: limes_audit::Object::new("partner-clips", format!("clips={clips}")),
            purpose: "retention".into(),
            legal_basis: "the sharing agreements' retention of images".into(),
            case_ref: None,
            outcome: limes_audit::Outcome::Allowed,
            details: limes_audit::Details::new(&serde_json::json!({ "deleted": clips })),
        };
        if let Err(e) = state.audit(event).await {
            tracing::error!(error = %e, "could not log a retention deletion");
        }
    }
    // What we shared and the partner has not confirmed deleting past its retention: flagged.
    if let Some(fed) = state.federation.get()
        && let Ok((overdue, oldest)) = fed.link.overdue_receipts(now, 20)
        && overdue > 0
    {
        tracing::warn!(overdue, oldest = ?oldest.first(), "partners owe deletion receipts past their retention");
    }
    if let Some(fed) = state.federation.get() {
        let link = fed.link.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || link.prune()).await {
            tracing::warn!(error = %e, "pruning the federation inbox failed; will retry");
        }
    }
    // Sessions past their expiry are refused already; their rows go too.
    let store = state.store.clone();
    let now_us = limes_store::to_us(now);
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.delete_expired_sessions(now_us)).await {
        tracing::warn!(error = %e, "removing expired sessions failed; will retry");
    }
    (reads, detections)
}

/// Applies retention every hour (see [`retention_pass`]).
pub async fn retention_task(state: AppState, retention: Retention) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        retention_pass(&state, &retention).await;
    }
}
