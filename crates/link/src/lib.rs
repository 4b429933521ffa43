//! Links between nodes of different agencies.
//!
//! - [`identity`]: the agency's signing key and the node's TLS certificate, made once.
//! - [`tls`]: mutual TLS that accepts exactly the current partners' pinned certificates.
//! - `db`: `federation.sqlite`, with partners, an outbox per partner, the inbox.
//! - `receive`: the partners' port, where batches are checked, stored and acknowledged.
//! - `send`: one delivery loop per partner: oldest first, at least once, backing off.
//! - [`hitquery`]: hit/no-hit plate queries, answering partners' (the published set, blind
//!   evaluations within a budget) and asking them ([`Link::ask_plates`]).
//! - [`witness`]: witnessed audit: cosigning partners' audit checkpoints, gathering the
//!   cosignatures of this node's own, carrying them with each batch and holding a partner's
//!   messages until its checkpoint passes `limes_audit::CheckpointGate`.
//! - [`live`]: partners watching this node's cameras live, under the node's grants
//!   ([`Link::serve_live`]), and this node watching theirs ([`Link::watch_live`]).
//!
//! The node hands [`Link::send`] what it shares and takes what partners sent from
//! [`Link::received`] (then [`Link::applied`]): a message takes effect once, even when it
//! arrives twice or the node stops between receiving and applying it. What messages mean and
//! what the receiver checks are plain functions in `limes-federation`.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::Utc;
use limes_access::Regime;
use limes_audit::{Action, Actor, AuditEvent, AuditLog, Details, Object};
use limes_federation::{
    AnchorFields, DELETION_RECEIPT, DeletionReason, DeletionReceipt, Fingerprint, Limits, MessageId, MessageType,
    TrustAnchor,
};
use limes_model::AgencyId;
use limes_plate::CountryCode;
use serde::Serialize;
use tokio::sync::Notify;

mod agreements;
pub mod blobs;
mod db;
pub mod hitquery;
pub mod identity;
pub mod live;
mod receive;
mod send;
pub mod tls;
pub mod witness;

pub use agreements::{AgreementStatus, InForce, is_protocol};
pub use db::{Fork, ForkRecord, Outgoing, Overdue, Partner, Received, Refused};
pub use hitquery::{Asking, HitQueryConfig, PublishReport, Resolved, Sighting};
pub use identity::Identity;
pub use live::{LiveAnswer, LiveRefusal, LiveSource, LiveVideo};
pub use witness::{WitnessConfig, WitnessStatus};

/// Why a link operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{path}: {error}")]
    File { path: PathBuf, error: String },
    #[error("the agency identity: {0}")]
    Identity(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("federation database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("federation database schema: {0}")]
    Schema(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    /// The sharing agreement with the partner does not allow the message; nothing was queued.
    #[error("not sent to {partner}: {reason}")]
    NotAgreed { partner: AgencyId, reason: String },
    #[error("the queue for {partner} holds {queued} messages, its limit; the message was not queued")]
    QueueFull { partner: AgencyId, queued: u64 },
    #[error("binding {addr}: {error}")]
    Bind { addr: SocketAddr, error: String },
    #[error("the link has stopped")]
    Stopped,
    /// A hit/no-hit query could not be made here (its configuration, its plates, the audit log).
    #[error("hit/no-hit: {0}")]
    HitQuery(String),
    /// A partner refused a hit/no-hit query: its agreement, its budget (`retry_after`), a
    /// request it could not read.
    #[error("{partner} refused the query ({status} {code}): {error}")]
    PartnerRefused { partner: AgencyId, status: u16, code: String, error: String, retry_after: Option<Duration> },
    /// A partner could not be reached, or answered what this node cannot use (a set that does
    /// not parse or is not current, a proof that does not verify).
    #[error("{partner}: {error}")]
    PartnerFailed { partner: AgencyId, error: String },
}

/// How a node's link behaves.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub agency: AgencyId,
    /// The agency's name, for its trust anchor.
    pub name: String,
    pub country: CountryCode,
    pub regime: Regime,
    /// The partners' port (mutual TLS), separate from the user API.
    pub listen: SocketAddr,
    /// What the trust anchor tells partners to connect to: `https://host:port`.
    pub url: String,
    pub limits: Limits,
    /// A partner's queue may hold this many messages; beyond, sending to it fails (and the
    /// node says so) rather than fill the disk.
    pub max_queued_per_partner: u64,
    pub batch_max_envelopes: usize,
    pub batch_max_bytes: usize,
    /// The largest blob (image, clip) a partner may send in chunks.
    pub max_blob_bytes: u64,
    /// First retry after a failed delivery; doubles up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// The purpose and legal basis the audit records of received and sent messages name.
    pub purpose: String,
    pub legal_basis: String,
    /// Hit/no-hit queries partners send this node.
    pub hitquery: HitQueryConfig,
    /// Witnessed audit: cosigning, and what partners' checkpoints must be.
    pub witness: WitnessConfig,
}

impl LinkConfig {
    pub fn anchor_fields(&self) -> AnchorFields {
        AnchorFields {
            agency: self.agency.clone(),
            name: self.name.clone(),
            country: self.country,
            regime: self.regime,
            url: self.url.clone(),
            certificate_pem: String::new(),
            audit_key: None,
        }
    }
}

/// Counters since the node started.
#[derive(Debug, Default)]
pub struct Stats {
    /// Messages partners acknowledged (first time or again).
    pub sent: AtomicU64,
    /// Messages partners refused for good.
    pub refused_by_partner: AtomicU64,
    /// Messages not queued because their partner's queue was full (backpressure).
    pub not_queued: AtomicU64,
    /// Messages not queued because the agreement with their partner does not allow them.
    pub denied_by_agreement: AtomicU64,
    /// Delivery attempts that failed as a whole (connection, timeout, batch refused).
    pub failed_attempts: AtomicU64,
    pub received: AtomicU64,
    pub duplicates: AtomicU64,
    /// Messages and batches this node refused.
    pub rejected: AtomicU64,
    pub handshakes_refused: AtomicU64,
    /// Batches whose audit checkpoint was accepted.
    pub checkpoints_accepted: AtomicU64,
    /// Batches whose messages were held for their checkpoint (stale, not fully cosigned, no
    /// proof, none).
    pub checkpoints_held: AtomicU64,
    /// Held messages released by a checkpoint accepted later.
    pub released: AtomicU64,
    /// Forks of partners' audit logs found, as a witness or a receiver.
    pub forks: AtomicU64,
    /// Partners' checkpoints this node cosigned, and refused to.
    pub cosignatures_given: AtomicU64,
    pub cosignatures_refused: AtomicU64,
    /// Live views relayed to partners (`live`).
    pub live_views: AtomicU64,
}

/// How the link to one partner is doing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    pub queued: u64,
    pub last_success: Option<chrono::DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<Utc>>,
    pub consecutive_failures: u32,
}

/// A partner with the state of its link, as shown to administrators.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerStatus {
    pub agency: AgencyId,
    pub name: String,
    pub country: CountryCode,
    pub regime: Regime,
    pub url: String,
    pub fingerprint: String,
    pub signing_key: String,
    pub send: BTreeSet<MessageType>,
    pub receive: BTreeSet<MessageType>,
    pub added: chrono::DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<chrono::DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<String>,
    pub health: Health,
}

pub(crate) struct Inner {
    config: LinkConfig,
    /// The link's folder (`federation.sqlite`, `identity/`, `blobs/`).
    dir: PathBuf,
    /// Partial blob files being written now (`blobs`).
    uploads: Mutex<std::collections::HashSet<PathBuf>>,
    identity: Identity,
    db: db::Db,
    pins: tls::Pins,
    partners: RwLock<HashMap<AgencyId, Partner>>,
    health: Mutex<HashMap<AgencyId, Health>>,
    /// Wakes a partner's delivery loop when something is queued for it.
    wake: Mutex<HashMap<AgencyId, Arc<Notify>>>,
    loops: Mutex<HashMap<AgencyId, tokio::task::JoinHandle<()>>>,
    /// Wakes [`Link::received`].
    inbox: Notify,
    stats: Stats,
    audit: Option<AuditLog>,
    queued: Mutex<HashMap<AgencyId, u64>>,
    /// The sharing agreement in force with each partner.
    agreements: RwLock<agreements::Agreements>,
    /// Where to keep every batch partners send, as it arrived ([`Link::capture_batches`]).
    capture: Mutex<Option<(PathBuf, u64)>>,
    /// Hit/no-hit queries, answered and asked.
    hitquery: hitquery::HitQueries,
    /// Witnessed audit.
    witness: witness::Witnessing,
    /// What decides and streams partners' live views (the node's, once it says).
    live: std::sync::OnceLock<Arc<dyn live::LiveSource>>,
}

/// A node's links to its partners. Cheap to clone.
#[derive(Clone)]
pub struct Link(Arc<Inner>);

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("agency", &self.0.config.agency).field("listen", &self.0.config.listen).finish()
    }
}

/// A running link: the partners' port and the delivery loops.
#[derive(Debug)]
pub struct Running {
    pub link: Link,
    pub addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    cosigner: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the partners' port, the cosigning task and every delivery loop (queued messages
    /// stay queued).
    pub fn stop(&self) {
        self.server.abort();
        self.cosigner.abort();
        for (_, h) in self.link.0.loops.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            h.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Opens `<dir>/federation.sqlite` and the identity in `<dir>/identity`.
pub fn open(dir: &Path, config: LinkConfig, audit: Option<AuditLog>) -> Result<Link, LinkError> {
    std::fs::create_dir_all(dir).map_err(|e| LinkError::File { path: dir.to_owned(), error: e.to_string() })?;
    let hosts = url_host(&config.url).into_iter().collect::<Vec<_>>();
    let (identity, _) = Identity::load_or_create(&dir.join("identity"), config.agency.as_str(), &hosts)?;
    let db = db::Db::open(&dir.join("federation.sqlite"))?;
    let queued = db.queue_depths()?;
    let hitquery = hitquery::HitQueries::open(dir, config.hitquery, Utc::now())?;
    let witness =
        witness::Witnessing::open(&config.agency, &identity.key, &db, audit.as_ref().map(AuditLog::verifier_key))?;
    let inner = Inner {
        config,
        dir: dir.to_owned(),
        uploads: Mutex::default(),
        identity,
        db,
        pins: tls::Pins::default(),
        partners: RwLock::default(),
        health: Mutex::default(),
        wake: Mutex::default(),
        loops: Mutex::default(),
        inbox: Notify::new(),
        stats: Stats::default(),
        audit,
        queued: Mutex::new(queued.into_iter().filter_map(|(k, v)| AgencyId::new(k).ok().map(|k| (k, v))).collect()),
        agreements: RwLock::default(),
        capture: Mutex::default(),
        hitquery,
        witness,
        live: std::sync::OnceLock::new(),
    };
    let link = Link(Arc::new(inner));
    link.reload_partners()?;
    link.reload_agreements()?;
    Ok(link)
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let hostport = rest.split('/').next()?;
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        hostport.rsplit_once(':').map_or(hostport, |(h, _)| h)
    };
    Some(host.to_owned())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Link {
    pub fn config(&self) -> &LinkConfig {
        &self.0.config
    }

    pub fn stats(&self) -> &Stats {
        &self.0.stats
    }

    pub fn identity(&self) -> &Identity {
        &self.0.identity
    }

    /// This agency's trust anchor, signed now, with its audit key when the link has the
    /// node's audit log.
    pub fn anchor(&self) -> Result<TrustAnchor, LinkError> {
        let audit_key = self.0.audit.as_ref().map(|a| a.verifier_key().to_string());
        self.0.identity.anchor(AnchorFields { audit_key, ..self.0.config.anchor_fields() })
    }

    /// Witnessed audit: this node's cosigned checkpoint, its witnesses, what partners hold.
    pub fn witness_status(&self) -> Result<WitnessStatus, LinkError> {
        witness::status(&self.0)
    }

    /// Forks of partners' audit logs found here, newest first, with their evidence.
    pub fn forks(&self, limit: usize) -> Result<Vec<Fork>, LinkError> {
        self.0.db.forks(limit)
    }

    /// Binds the partners' port and starts a delivery loop per partner.
    pub async fn start(&self) -> Result<Running, LinkError> {
        let listen = self.0.config.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| LinkError::Bind { addr: listen, error: e.to_string() })?;
        let addr = listener.local_addr().map_err(|e| LinkError::Bind { addr: listen, error: e.to_string() })?;
        let server = receive::serve(self.0.clone(), listener)?;
        let partners: Vec<AgencyId> = self.active_partners().into_iter().map(|p| p.agency).collect();
        for p in partners {
            send::spawn_loop(&self.0, p);
        }
        let cosigner = witness::spawn_cosigner(self.0.clone());
        tracing::info!(%addr, agency = %self.0.config.agency, fingerprint = %self.0.identity.fingerprint(), "partners' port listening (mutual TLS)");
        Ok(Running { link: self.clone(), addr, server, cosigner })
    }

    fn reload_partners(&self) -> Result<(), LinkError> {
        let all = self.0.db.partners()?;
        let pins = all
            .iter()
            .filter(|p| p.revoked.is_none())
            .map(|p| (p.fingerprint, p.agency.clone()))
            .collect::<HashMap<_, _>>();
        self.0.pins.set(pins);
        *self.0.partners.write().unwrap_or_else(|e| e.into_inner()) =
            all.into_iter().map(|p| (p.agency.clone(), p)).collect();
        Ok(())
    }

    fn active_partners(&self) -> Vec<Partner> {
        self.0.active_partners()
    }

    /// Adds a partner from its trust anchor (checked here), or changes the message types of
    /// one already added.
    pub fn add_partner(
        &self,
        anchor: TrustAnchor,
        send: BTreeSet<MessageType>,
        receive: BTreeSet<MessageType>,
    ) -> Result<Partner, LinkError> {
        let v = anchor.verify().map_err(|e| LinkError::Refused(format!("the trust anchor: {e}")))?;
        if v.anchor.agency == self.0.config.agency {
            return Err(LinkError::Refused(format!("{} is this node's own agency", v.anchor.agency)));
        }
        if v.fingerprint == self.0.identity.fingerprint() {
            return Err(LinkError::Refused("the anchor carries this node's own certificate".into()));
        }
        if let Some(key) = &v.anchor.audit_key {
            limes_audit::VerifierKey::parse(key)
                .map_err(|e| LinkError::Refused(format!("the trust anchor's audit key: {e}")))?;
        }
        let existing = self.0.partners.read().unwrap_or_else(|e| e.into_inner()).get(&v.anchor.agency).cloned();
        if let Some(p) = existing.as_ref().filter(|p| p.revoked.is_some()) {
            return Err(LinkError::Refused(format!(
                "{} was revoked; a revoked partner cannot be added again",
                p.agency
            )));
        }
        let mut epoch = [0u8; 4];
        rand::fill(&mut epoch);
        let partner = Partner {
            agency: v.anchor.agency.clone(),
            key: v.anchor.signing_key,
            fingerprint: v.fingerprint,
            anchor: v.anchor,
            send,
            receive,
            epoch: existing
                .as_ref()
                .map(|p| p.epoch.clone())
                .unwrap_or_else(|| epoch.iter().map(|b| format!("{b:02x}")).collect()),
            added: existing.as_ref().map_or_else(Utc::now, |p| p.added),
            revoked: None,
        };
        self.0.db.put_partner(&partner)?;
        self.reload_partners()?;
        send::spawn_loop(&self.0, partner.agency.clone());
        self.0.witness.wake.notify_one();
        self.audit_partner(
            "partner.add",
            &partner.agency,
            serde_json::json!({
                "fingerprint": partner.fingerprint.to_hex(),
                "signing_key": partner.key.to_string(),
                "audit_key": partner.anchor.audit_key,
                "send": partner.send,
                "receive": partner.receive,
            }),
        );
        Ok(partner)
    }

    /// Removes a partner; what was queued for it is dropped.
    pub fn remove_partner(&self, agency: &AgencyId) -> Result<u64, LinkError> {
        let dropped = self.0.db.remove_partner(agency)?;
        self.forget(agency)?;
        self.audit_partner("partner.remove", agency, serde_json::json!({ "dropped": dropped }));
        Ok(dropped)
    }

    /// Revokes a partner: from now on its certificate is refused at the handshake, its
    /// messages are refused, nothing more is sent to it, and its key is never trusted again.
    pub fn revoke_partner(&self, agency: &AgencyId, reason: &str) -> Result<u64, LinkError> {
        let dropped = self.0.db.revoke_partner(agency, reason, Utc::now())?;
        self.forget(agency)?;
        self.audit_partner("partner.revoke", agency, serde_json::json!({ "dropped": dropped, "reason": reason }));
        Ok(dropped)
    }

    fn forget(&self, agency: &AgencyId) -> Result<(), LinkError> {
        self.reload_partners()?;
        if let Some(h) = lock(&self.0.loops).remove(agency) {
            h.abort();
        }
        lock(&self.0.queued).remove(agency);
        lock(&self.0.health).remove(agency);
        Ok(())
    }

    fn audit_partner(&self, what: &str, agency: &AgencyId, details: serde_json::Value) {
        let Some(audit) = self.0.audit.clone() else { return };
        let event = AuditEvent {
            actor: Actor::Node(self.0.config.agency.to_string()),
            role: "node".into(),
            action: Action::Alter,
            object: Object::new("partner", agency),
            purpose: self.0.config.purpose.clone(),
            legal_basis: self.0.config.legal_basis.clone(),
            case_ref: None,
            outcome: limes_audit::Outcome::Allowed,
            details: Details::new(&serde_json::json!({ "change": what, "detail": details })),
        };
        tokio::spawn(async move {
            if let Err(e) = audit.append(event).await {
                tracing::error!(error = %e, "could not log a partner change");
            }
        });
    }

    /// Partners, revoked ones included, with the state of their links.
    pub fn partners(&self) -> Vec<PartnerStatus> {
        let partners = self.0.partners.read().unwrap_or_else(|e| e.into_inner()).clone();
        let health = lock(&self.0.health).clone();
        let queued = lock(&self.0.queued).clone();
        let mut out: Vec<PartnerStatus> = partners
            .into_values()
            .map(|p| PartnerStatus {
                name: p.anchor.name.clone(),
                country: p.anchor.country,
                regime: p.anchor.regime,
                url: p.anchor.url.clone(),
                fingerprint: p.fingerprint.to_hex(),
                signing_key: p.key.to_string(),
                send: p.send.clone(),
                receive: p.receive.clone(),
                added: p.added,
                revoked: p.revoked.as_ref().map(|r| r.0),
                revoke_reason: p.revoked.as_ref().map(|r| r.1.clone()),
                health: Health {
                    queued: queued.get(&p.agency).copied().unwrap_or(0),
                    ..health.get(&p.agency).cloned().unwrap_or_default()
                },
                agency: p.agency,
            })
            .collect();
        out.sort_by(|a, b| a.agency.cmp(&b.agency));
        out
    }

    /// The partners that receive messages of type `kind` from us.
    pub fn recipients(&self, kind: &MessageType) -> Vec<AgencyId> {
        self.active_partners().into_iter().filter(|p| p.send.contains(kind)).map(|p| p.agency).collect()
    }

    /// Signs and durably queues messages; each is delivered at least once, in order within
    /// its stream, and takes effect once at its partner. Per message: its id, or why it was
    /// not queued (unknown partner, the partner's queue full).
    pub async fn send(&self, items: Vec<Outgoing>) -> Result<Vec<Result<MessageId, LinkError>>, LinkError> {
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || send::enqueue(&inner, items)).await.map_err(|_| LinkError::Stopped)?
    }

    /// Waits for messages partners sent that the node has not applied yet (oldest first, at
    /// most `limit`). The same messages come back until [`Link::applied`] is called for them.
    pub async fn received(&self, limit: usize) -> Result<Vec<Received>, LinkError> {
        loop {
            let notified = self.0.inbox.notified();
            let inner = self.0.clone();
            let batch = tokio::task::spawn_blocking(move || inner.db.unapplied(limit))
                .await
                .map_err(|_| LinkError::Stopped)??;
            if !batch.is_empty() {
                return Ok(batch);
            }
            // Also look again now and then, in case a wake-up was missed.
            let _ = tokio::time::timeout(Duration::from_secs(5), notified).await;
        }
    }

    /// Marks received messages as applied: they will not come back from [`Link::received`].
    pub async fn applied(&self, received: &[Received]) -> Result<(), LinkError> {
        let rows: Vec<i64> = received.iter().map(|r| r.row).collect();
        let inner = self.0.clone();
        tokio::task::spawn_blocking(move || inner.db.mark_applied(&rows, Utc::now()))
            .await
            .map_err(|_| LinkError::Stopped)?
    }

    /// Messages partners refused for good, newest first.
    pub fn refused(&self, limit: usize) -> Result<Vec<Refused>, LinkError> {
        self.0.db.refused(limit)
    }

    /// Messages queued for all partners.
    pub fn queued(&self) -> u64 {
        lock(&self.0.queued).values().sum()
    }

    /// Tells `partner` that the data of `messages` (ids it gave them) was deleted here: a
    /// signed `deletion-receipt` message, queued like any other, split when long.
    pub async fn send_deletion_receipt(
        &self,
        partner: &AgencyId,
        messages: Vec<MessageId>,
        reason: DeletionReason,
    ) -> Result<(), LinkError> {
        let kind = MessageType::new(DELETION_RECEIPT).map_err(|e| LinkError::Schema(e.to_string()))?;
        let now = Utc::now();
        let items = messages
            .chunks(limes_federation::receipt::MAX_RECEIPT_MESSAGES)
            .map(|chunk| {
                let receipt = DeletionReceipt { messages: chunk.to_vec(), reason, deleted_at: now };
                Outgoing {
                    partner: partner.clone(),
                    kind: kind.clone(),
                    stream: "receipts".into(),
                    payload: serde_json::to_vec(&receipt).unwrap_or_default(),
                    about: Some(format!("deletion-receipt:{}", chunk.len())),
                    labels: None,
                    approved_request: false,
                }
            })
            .collect();
        for r in self.send(items).await? {
            r?;
        }
        Ok(())
    }

    /// Messages shared under an agreement whose partner sent no deletion receipt by the end
    /// of the agreement's retention: how many, and the `limit` oldest.
    pub fn overdue_receipts(&self, now: chrono::DateTime<Utc>, limit: usize) -> Result<(u64, Vec<Overdue>), LinkError> {
        self.0.db.overdue(now, limit)
    }

    /// Shared messages with a deletion receipt, and still without one.
    pub fn receipt_counts(&self) -> Result<(u64, u64), LinkError> {
        self.0.db.receipt_counts()
    }

    /// From now on, writes every batch a partner sends to `dir` exactly as it arrived, before
    /// any check (`<n>-<partner>.json`), and every hit/no-hit evaluation request
    /// (`<n>-<partner>-hitquery-evaluate.json`): what crossed the wire, for a data-protection
    /// officer looking into what a partner sends, and for the tests that compare it with what
    /// the agreement allows.
    pub fn capture_batches(&self, dir: &Path) -> Result<(), LinkError> {
        std::fs::create_dir_all(dir).map_err(|e| LinkError::File { path: dir.to_owned(), error: e.to_string() })?;
        *lock(&self.0.capture) = Some((dir.to_owned(), 0));
        Ok(())
    }

    /// Forgets applied inbox entries older than the oldest message a partner may still send.
    pub fn prune(&self) -> Result<u64, LinkError> {
        self.0.db.prune(Utc::now() - self.0.config.limits.max_age - self.0.config.limits.clock_tolerance)
    }
}

impl Inner {
    fn active_partners(&self) -> Vec<Partner> {
        self.partners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|p| p.revoked.is_none())
            .cloned()
            .collect()
    }

    fn partner_by_fingerprint(&self, fp: &Fingerprint) -> Option<Partner> {
        let agency = self.pins.agency(fp)?;
        self.partners.read().unwrap_or_else(|e| e.into_inner()).get(&agency).filter(|p| p.revoked.is_none()).cloned()
    }

    fn partner(&self, agency: &AgencyId) -> Option<Partner> {
        self.partners.read().unwrap_or_else(|e| e.into_inner()).get(agency).filter(|p| p.revoked.is_none()).cloned()
    }

    fn audit_event(
        &self,
        actor: &str,
        action: Action,
        object: Object,
        outcome: limes_audit::Outcome,
        details: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent {
            actor: Actor::Node(actor.to_owned()),
            role: "partner".into(),
            action,
            object,
            purpose: self.config.purpose.clone(),
            legal_basis: self.config.legal_basis.clone(),
            case_ref: None,
            outcome,
            details: Details::new(&details),
        }
    }

    async fn audit_all(&self, events: Vec<AuditEvent>) {
        if events.is_empty() {
            return;
        }
        if let Some(audit) = &self.audit
            && let Err(e) = audit.append_all(events).await
        {
            tracing::error!(error = %e, "could not log federation messages");
        }
    }
}
