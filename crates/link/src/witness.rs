//! Witnessed audit at the edge (issue #6, item 5; design/audit.md, "Witnesses at the edge").
//!
//! The decisions are `limes_audit::witness`'s; this module moves notes and proofs between
//! nodes and keeps what must survive a restart in `federation.sqlite`. Three roles:
//!
//! - **witness**: `POST /federation/v1/witness/add-checkpoint` (c2sp.org/tlog-witness's
//!   request: `old <size>`, the proof's hashes, a blank line, the log's note) from a partner
//!   whose trust anchor names its audit key. [`witness_cosign`] decides against the state kept
//!   for that log, which is stored in the same transaction before the cosignature line is
//!   answered. The node cosigns with its agency key under the name `limes/<agency>/witness`
//!   ([`witness_name`]): partners know that key from its trust anchor already.
//! - **log**: a task asks every witness this node's agreements name (each partner with an
//!   agreement in force, and each independent witness an agreement names whose trust anchor
//!   was added as a partner) to cosign its newest checkpoint, every `interval` when the log
//!   grew or a cosignature is older than `refresh`, and keeps the cosigned notes.
//! - **receiver**: each batch carries the sender's newest checkpoint that the receiver's
//!   witnesses all cosigned, with a consistency proof from the size the receiver said it holds
//!   ([`BatchCheckpoint`]); [`judge`] runs [`CheckpointGate::assess`] on it before the batch's
//!   messages are stored, and its effect (hold, release, fork evidence) is part of their
//!   transaction. The receipt says what the receiver holds; when it held the messages, the
//!   sender's delivery loop sends the checkpoint again (an empty batch) once it has a better
//!   one, which releases them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use limes_audit::checkpoint::MAX_NOTE_BYTES;
use limes_audit::witness::{Cosignature, ForkEvidence, WitnessPolicy, WitnessRefusal};
use limes_audit::{
    Action, CheckpointGate, CheckpointSigner, ConsistencyProof, CosignedCheckpoint, Hash, HeldCheckpoint, Object,
    Outcome as AuditOutcome, SignedNote, Verdict, VerifierKey, witness_cosign,
};
use limes_federation::{ANCHOR_FORMAT, BatchCheckpoint, CheckpointAck, CheckpointStatus, Fingerprint, WireProof};
use limes_model::AgencyId;
use serde::Serialize;
use tokio::sync::Notify;

use crate::db::{ForkRecord, GateEffect, Partner, WitnessUpdate};
use crate::receive::PeerCert;
use crate::{Inner, LinkError, lock};

/// The witness's route on the partners' port.
pub const ADD_CHECKPOINT: &str = "/federation/v1/witness/add-checkpoint";
/// The largest `add-checkpoint` request: a note and 64 proof hashes with room to spare.
pub const MAX_ADD_CHECKPOINT_BYTES: usize = MAX_NOTE_BYTES + 8 * 1024;
/// Own cosigned checkpoints kept in memory to choose from per receiver.
const KEEP: usize = 32;
/// The longest answer a witness may give.
const MAX_ANSWER_BYTES: usize = 4096;

/// Witnessed audit settings (`[federation.witness]`).
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// Hand the node a partner's data messages only under a checkpoint of the partner's audit
    /// log that is fresh, cosigned by every witness the agreement with it names (this node
    /// included) and consistent with the last one accepted, whenever an agreement with that
    /// partner is in force (the default). `false` is the explicit escape hatch: checkpoints
    /// are still judged, and a fork still holds messages, but nothing else does.
    pub require: bool,
    /// How often this node asks its witnesses to cosign its newest checkpoint (when its log
    /// grew, or a cosignature is older than `refresh`).
    pub interval: Duration,
    /// A witness's cosignature older than this is renewed even when the log did not grow, so
    /// that a quiet log's checkpoint stays fresh at its partners. Below `max_age`.
    pub refresh: Duration,
    /// How old a partner's checkpoint may be (its oldest required cosignature): 10 minutes.
    pub max_age: Duration,
}

impl Default for WitnessConfig {
    fn default() -> Self {
        Self {
            require: true,
            interval: Duration::from_secs(10),
            refresh: Duration::from_secs(120),
            max_age: limes_audit::witness::MAX_AGE,
        }
    }
}

/// The name under which `agency`'s node cosigns other logs' checkpoints.
pub fn witness_name(agency: &AgencyId) -> String {
    format!("limes/{agency}/witness")
}

/// A partner's witness key: its agency key, under its witness name.
pub fn partner_witness_key(partner: &Partner) -> Result<VerifierKey, LinkError> {
    VerifierKey::from_ed25519(&witness_name(&partner.agency), partner.key.as_bytes())
        .map_err(|e| LinkError::Identity(format!("{}'s witness key: {e}", partner.agency)))
}

/// What a receiver said about this node's checkpoint, and what was sent to it last.
#[derive(Debug, Clone, Default)]
struct PeerView {
    ack: Option<CheckpointAck>,
    /// The note last carried in a batch without messages, the held size it was sent for, when.
    pushed: Option<(String, u64, Instant)>,
}

/// How one witness of this node's log is doing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WitnessHealth {
    /// The size of this node's log it cosigned last (as far as this node knows).
    pub size: u64,
    pub last_cosigned: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// The link's witnessing state.
pub(crate) struct Witnessing {
    /// This node as a witness: its agency key under its witness name.
    signer: CheckpointSigner,
    /// Wakes the task that gathers cosignatures (an agreement or partner added).
    pub(crate) wake: Notify,
    bundles: Mutex<Bundles>,
    /// Per receiver: the note chosen for it.
    chosen: Mutex<HashMap<AgencyId, Chosen>>,
    peers: Mutex<HashMap<AgencyId, PeerView>>,
    witnesses: Mutex<HashMap<AgencyId, WitnessHealth>>,
}

impl Witnessing {
    pub(crate) fn open(
        agency: &AgencyId,
        key: &limes_federation::AgencyKey,
        db: &crate::db::Db,
        log_key: Option<VerifierKey>,
    ) -> Result<Self, LinkError> {
        let signer = CheckpointSigner::from_seed(&witness_name(agency), &key.seed())
            .map_err(|e| LinkError::Identity(format!("the witness key: {e}")))?;
        // Checked against the log's key now; the witnesses' lines when a receiver is chosen.
        let bundles = match &log_key {
            Some(log_key) => db
                .cosigned(KEEP)?
                .into_iter()
                .filter_map(|note| {
                    let size = CosignedCheckpoint::open(&note, log_key, &[]).ok()?.checkpoint().size;
                    Some((size, note))
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Self {
            signer,
            wake: Notify::new(),
            bundles: Mutex::new(Bundles { notes: bundles, version: 0 }),
            chosen: Mutex::default(),
            peers: Mutex::default(),
            witnesses: Mutex::default(),
        })
    }

    /// This node's witness key, as partners verify it.
    pub(crate) fn key(&self) -> VerifierKey {
        self.signer.verifier()
    }
}

/// The note chosen for a receiver (note, size), for the bundles' version and the keys it
/// requires (their texts, joined).
type Chosen = (u64, String, Option<(String, u64)>);

/// This node's checkpoints with the cosignatures gathered: (size, note), newest first.
#[derive(Debug, Default)]
struct Bundles {
    notes: Vec<(u64, String)>,
    /// Changes whenever `notes` do.
    version: u64,
}

// --- as a receiver --------------------------------------------------------------------------

/// The witnesses the agreement with `partner` names besides the two parties, parsed.
fn independent_witnesses(inner: &Inner, partner: &AgencyId) -> Result<Vec<VerifierKey>, String> {
    let Some(active) = inner.agreement_with(partner) else { return Ok(Vec::new()) };
    active
        .agreement
        .witnesses
        .iter()
        .map(|w| {
            VerifierKey::parse(&w.key)
                .map_err(|e| format!("agreement {}: the key of witness {:?}: {e}", active.agreement.id, w.name))
        })
        .collect()
}

/// What this node does with the checkpoint a batch from `partner` carries: the effect on the
/// batch's messages, the receipt's answer, and the fork found if any. Reads the state kept;
/// writes nothing (the effect is applied with the messages).
pub(crate) fn judge(
    inner: &Inner,
    partner: &Partner,
    checkpoint: Option<&BatchCheckpoint>,
    now: DateTime<Utc>,
) -> Result<(GateEffect, CheckpointAck, Option<ForkEvidence>), LinkError> {
    let required = inner.config.witness.require && inner.agreement_with(&partner.agency).is_some();
    let ack = |status, held_size, reason: String| CheckpointAck { held_size, status, reason };
    let hold = |held_size, reason: String| {
        if required {
            (
                GateEffect { hold: Some(reason.clone()), ..GateEffect::default() },
                ack(CheckpointStatus::Held, held_size, reason),
                None,
            )
        } else {
            (GateEffect::default(), ack(CheckpointStatus::NotRequired, held_size, reason), None)
        }
    };
    let log_key = match partner.anchor.audit_key.as_deref().map(VerifierKey::parse) {
        Some(Ok(key)) => key,
        Some(Err(e)) => return Ok(hold(0, format!("the audit key in {}'s trust anchor: {e}", partner.agency))),
        None => {
            return Ok(hold(
                0,
                format!(
                    "{}'s trust anchor names no audit key (a {} anchor, or a node without an audit log): \
                     ask it for a new anchor",
                    partner.agency, partner.anchor.format
                ),
            ));
        }
    };
    let held = match inner.db.held_checkpoint(partner.agency.as_str())? {
        Some(note) => match HeldCheckpoint::open(&note, &log_key) {
            Ok(held) => Some(held),
            Err(e) => {
                // The partner's audit key changed with a new anchor: what was held is another
                // key's, and the new key is trusted from its first checkpoint.
                tracing::warn!(partner = %partner.agency, error = %e, "the checkpoint held does not open under the partner's audit key; starting again");
                None
            }
        },
        None => None,
    };
    let held_size = held.as_ref().map_or(0, |h| h.checkpoint().size);
    if inner.db.forked(partner.agency.as_str())? {
        let reason = format!("a fork of {}'s audit log was found: its messages stay held", partner.agency);
        let effect = GateEffect { hold: Some(reason.clone()), ..GateEffect::default() };
        return Ok((effect, ack(CheckpointStatus::Fork, held_size, reason), None));
    }
    let Some(checkpoint) = checkpoint else {
        return Ok(hold(held_size, "the batch carries no audit checkpoint".into()));
    };
    let witnesses = if required {
        match independent_witnesses(inner, &partner.agency) {
            Ok(mut w) => {
                w.insert(0, inner.witness.key());
                w
            }
            Err(e) => return Ok(hold(held_size, e)),
        }
    } else {
        Vec::new()
    };
    let proof = checkpoint
        .proof
        .as_ref()
        .map(|p| ConsistencyProof::new(p.old_size, p.new_size, p.hashes.iter().map(|h| Hash(*h)).collect()));
    let gate = CheckpointGate::new(log_key, witnesses).with_max_age(inner.config.witness.max_age);
    let now = now.timestamp().max(0) as u64;
    Ok(match gate.assess(held.as_ref(), &checkpoint.note, proof.as_ref(), now) {
        Verdict::Accept(held) => {
            let size = held.checkpoint().size;
            let effect = GateEffect { accept: Some((size, held.note().to_owned())), ..GateEffect::default() };
            (effect, ack(CheckpointStatus::Accepted, size, String::new()), None)
        }
        Verdict::Hold(reason) => hold(held_size, reason.to_string()),
        Verdict::Fork(evidence) => {
            let reason = format!("fork: {evidence}");
            let effect =
                GateEffect { hold: Some(reason.clone()), fork: Some(fork_record(&evidence)), ..GateEffect::default() };
            (effect, ack(CheckpointStatus::Fork, held_size, reason), Some(evidence))
        }
    })
}

fn fork_record(evidence: &ForkEvidence) -> ForkRecord {
    let proof = match evidence {
        ForkEvidence::SameSize { .. } => None,
        ForkEvidence::Inconsistent { proof, .. } => Some(serde_json::json!({
            "old_size": proof.old_size,
            "new_size": proof.new_size,
            "hashes": proof.hashes.iter().map(|h| BASE64.encode(h.0)).collect::<Vec<_>>(),
        })),
    };
    ForkRecord {
        held: evidence.held().to_owned(),
        presented: evidence.presented().to_owned(),
        proof,
        detail: evidence.to_string(),
    }
}

/// Counts, logs and audits a fork of `partner`'s log, found `seen_as` witness or receiver.
pub(crate) async fn report_fork(inner: &Inner, partner: &AgencyId, seen_as: &str, evidence: &ForkEvidence) {
    inner.stats.forks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::error!(
        %partner,
        seen_as,
        evidence = %evidence,
        "FORK: the partner's audit log contradicts a checkpoint this node holds; its messages are held and the evidence kept"
    );
    let event = inner.audit_event(
        partner.as_str(),
        Action::Denied,
        Object::new("audit-log", partner),
        AuditOutcome::Denied,
        serde_json::json!({
            "fork": evidence.to_string(),
            "seen_as": seen_as,
            "held": evidence.held(),
            "presented": evidence.presented(),
        }),
    );
    inner.audit_all(vec![event]).await;
}

// --- as a witness ---------------------------------------------------------------------------

/// An `add-checkpoint` request: `old <size>`, one base64 hash a line, a blank line, the note.
fn parse_request(body: &[u8]) -> Result<(u64, Vec<Hash>, &str), String> {
    let text = std::str::from_utf8(body).map_err(|_| "the request is not UTF-8".to_owned())?;
    let shape = "expected `old <size>`, the proof's hashes one a line, a blank line, then the checkpoint note";
    let (head, note) = text.split_once("\n\n").ok_or_else(|| format!("no blank line: {shape}"))?;
    let mut lines = head.split('\n');
    let old = lines.next().and_then(|l| l.strip_prefix("old ")).ok_or_else(|| format!("no `old` line: {shape}"))?;
    if old.is_empty() || !old.bytes().all(|b| b.is_ascii_digit()) || (old.len() > 1 && old.starts_with('0')) {
        return Err("the old size is not a decimal number without leading zeros".into());
    }
    let old = old.parse().map_err(|_| "the old size is too large".to_owned())?;
    let mut hashes = Vec::new();
    for line in lines {
        if hashes.len() == ConsistencyProof::MAX_HASHES {
            return Err(format!("a consistency proof has at most {} hashes", ConsistencyProof::MAX_HASHES));
        }
        let hash = BASE64.decode(line).ok().and_then(|b| Hash::from_slice(&b));
        hashes.push(hash.ok_or_else(|| format!("a proof line is not base64 of 32 bytes: {:?}", truncate(line)))?);
    }
    Ok((old, hashes, note))
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// `POST /federation/v1/witness/add-checkpoint`: cosigns a partner's checkpoint if it extends
/// the last one this node cosigned for that log.
pub(crate) async fn add_checkpoint(
    State(inner): State<Arc<Inner>>,
    Extension(PeerCert(fp)): Extension<PeerCert>,
    body: Bytes,
) -> Response {
    let Some(partner) = inner.partner_by_fingerprint(&fp) else {
        return refused(
            &inner,
            &fp.to_hex(),
            StatusCode::FORBIDDEN,
            "this certificate is no longer a partner's".into(),
        )
        .await;
    };
    let who = partner.agency.to_string();
    let log_key = match partner.anchor.audit_key.as_deref().map(VerifierKey::parse) {
        Some(Ok(key)) => key,
        Some(Err(e)) => {
            let error = format!("unknown log: the audit key in {who}'s trust anchor does not read: {e}");
            return refused(&inner, &who, StatusCode::NOT_FOUND, error).await;
        }
        None => {
            let error = format!("unknown log: {who}'s trust anchor names no audit key; send a new trust anchor");
            return refused(&inner, &who, StatusCode::NOT_FOUND, error).await;
        }
    };
    let (old, hashes, note) = match parse_request(&body) {
        Ok(r) => r,
        Err(e) => return refused(&inner, &who, StatusCode::BAD_REQUEST, e).await,
    };
    // The proof ends at the checkpoint's size; a note that does not parse is refused below.
    let size = SignedNote::parse(note).map_or(0, |n| n.checkpoint.size);
    let proof = ConsistencyProof::new(old, size, hashes);
    let (note, origin) = (note.to_owned(), log_key.name().to_owned());
    let decided = {
        let inner = inner.clone();
        let who = who.clone();
        tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            inner.db.witness(&origin, &who, now, |state| {
                let state = match state.map(|s| HeldCheckpoint::open(&s, &log_key)).transpose() {
                    Ok(state) => state,
                    Err(e) => {
                        return Err(WitnessRefusal::BadRequest(format!(
                            "the checkpoint this witness holds for {origin} does not open under the log's key \
                             ({e}): the log's key changed"
                        )));
                    }
                };
                let reply = witness_cosign(
                    &inner.witness.signer,
                    &log_key,
                    state.as_ref(),
                    &note,
                    &proof,
                    now.timestamp().max(0) as u64,
                    &WitnessPolicy::default(),
                )?;
                let update =
                    WitnessUpdate { state: Some((reply.state.checkpoint().size, reply.state.note().to_owned())) };
                Ok((reply.cosignature, update))
            })
        })
        .await
    };
    let refusal = match decided {
        Ok(Ok(Ok(cosignature))) => {
            inner.stats.cosignatures_given.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(partner = %who, size, "cosigned a partner's checkpoint");
            return text(StatusCode::OK, cosignature.line());
        }
        Ok(Ok(Err(refusal))) => refusal,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "witness state");
            return text(StatusCode::SERVICE_UNAVAILABLE, "the witness could not read or store its state".into());
        }
        Err(_) => return text(StatusCode::SERVICE_UNAVAILABLE, "the witness is stopping".into()),
    };
    match &refusal {
        // The log retries from the size named: the protocol working, not a refusal to log.
        WitnessRefusal::Conflict { cosigned, .. } => {
            return (StatusCode::CONFLICT, [(header::CONTENT_TYPE, "text/x.tlog.size")], format!("{cosigned}\n"))
                .into_response();
        }
        WitnessRefusal::Fork(evidence) | WitnessRefusal::BadProof(evidence) => {
            // The note came from the log's own node (its certificate): a proof that fails is
            // its fault, as one size with two roots is.
            let record = fork_record(evidence);
            let stored = {
                let inner = inner.clone();
                let who = who.clone();
                tokio::task::spawn_blocking(move || inner.db.witness_fork(&who, &record, Utc::now())).await
            };
            if !matches!(stored, Ok(Ok(()))) {
                tracing::error!(partner = %who, "could not keep the evidence of a fork");
            }
            report_fork(&inner, &partner.agency, "witness", evidence).await;
        }
        _ => {}
    }
    let status = match &refusal {
        WitnessRefusal::BadNote(limes_audit::CheckpointError::WrongOrigin { .. }) => StatusCode::NOT_FOUND,
        WitnessRefusal::BadNote(_) => StatusCode::FORBIDDEN,
        WitnessRefusal::BadRequest(_) => StatusCode::BAD_REQUEST,
        WitnessRefusal::Rollback { cosigned, .. } => {
            let response =
                (StatusCode::CONFLICT, [(header::CONTENT_TYPE, "text/x.tlog.size")], format!("{cosigned}\n"));
            audit_refusal(&inner, &who, &refusal.to_string()).await;
            return response.into_response();
        }
        WitnessRefusal::Conflict { .. } | WitnessRefusal::Fork(_) => StatusCode::CONFLICT,
        WitnessRefusal::BadProof(_) => StatusCode::UNPROCESSABLE_ENTITY,
        WitnessRefusal::TimeWentBack { .. } | WitnessRefusal::FromTheFuture { .. } | WitnessRefusal::TooOld { .. } => {
            StatusCode::BAD_REQUEST
        }
    };
    refused(&inner, &who, status, refusal.to_string()).await
}

async fn audit_refusal(inner: &Inner, who: &str, error: &str) {
    inner.stats.cosignatures_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::warn!(partner = %who, %error, "refused to cosign a checkpoint");
    let event = inner.audit_event(
        who,
        Action::Denied,
        Object::new("checkpoint", who),
        AuditOutcome::Denied,
        serde_json::json!({ "witness": "add-checkpoint", "error": error }),
    );
    inner.audit_all(vec![event]).await;
}

async fn refused(inner: &Inner, who: &str, status: StatusCode, error: String) -> Response {
    audit_refusal(inner, who, &error).await;
    text(status, error)
}

// --- as a log -------------------------------------------------------------------------------

/// The partners that witness this node's log: every partner with an agreement in force, and
/// every partner whose witness key an agreement in force names as an independent witness.
fn my_witnesses(inner: &Inner) -> Vec<(Partner, VerifierKey)> {
    let partners = inner.active_partners();
    let named: Vec<VerifierKey> =
        partners.iter().filter_map(|p| independent_witnesses(inner, &p.agency).ok()).flatten().collect();
    partners
        .into_iter()
        .filter_map(|p| {
            let key = partner_witness_key(&p).ok()?;
            let witnesses = inner.agreement_with(&p.agency).is_some() || named.iter().any(|n| same_key(n, &key));
            witnesses.then_some((p, key))
        })
        .collect()
}

fn same_key(a: &VerifierKey, b: &VerifierKey) -> bool {
    a.to_string() == b.to_string()
}

/// Runs the cosigning rounds until the link stops.
pub(crate) fn spawn_cosigner(inner: Arc<Inner>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut clients = HashMap::new();
        loop {
            let all_answered = round(&inner, &mut clients).await;
            // A witness that did not answer is asked again soon, not a whole interval later.
            let wait = if all_answered {
                inner.config.witness.interval
            } else {
                inner.config.witness.interval.min(Duration::from_secs(2))
            };
            let _ = tokio::time::timeout(wait, inner.witness.wake.notified()).await;
        }
    })
}

type Clients = HashMap<AgencyId, (Fingerprint, reqwest::Client)>;

/// Asks every witness that has not cosigned the newest checkpoint recently; keeps what they
/// answer. Whether every witness answered.
async fn round(inner: &Arc<Inner>, clients: &mut Clients) -> bool {
    let Some(audit) = inner.audit.clone() else { return true };
    let witnesses = my_witnesses(inner);
    if witnesses.is_empty() {
        return true;
    }
    let latest = match audit.latest_checkpoint() {
        Some(c) => c,
        None if audit.size() == 0 => return true,
        None => {
            let audit = audit.clone();
            match tokio::task::spawn_blocking(move || audit.checkpoint_now()).await {
                Ok(Ok(Some(c))) => c,
                _ => return false,
            }
        }
    };
    let log_key = audit.verifier_key();
    let size = latest.checkpoint.size;
    let keys: Vec<VerifierKey> = witnesses.iter().map(|(_, k)| k.clone()).collect();
    let stored = lock(&inner.witness.bundles).notes.iter().find(|(s, _)| *s == size).map(|(_, n)| n.clone());
    let bundle = stored
        .and_then(|note| CosignedCheckpoint::open(&note, &log_key, &keys).ok())
        .filter(|b| b.log_signature() == &latest);
    let mut bundle = match bundle.map_or_else(|| CosignedCheckpoint::new(&log_key, latest.clone()), Ok) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "this node's own checkpoint does not verify");
            return false;
        }
    };
    let now = Utc::now();
    let refresh = inner.config.witness.refresh.as_secs();
    let (mut all, mut changed) = (true, false);
    for (partner, key) in witnesses {
        if bundle
            .cosignature_by(&key)
            .is_some_and(|c| (now.timestamp().max(0) as u64).saturating_sub(c.time()) < refresh)
        {
            continue;
        }
        let asked = ask(inner, clients, &audit, &partner, &key, &bundle).await;
        let mut health = lock(&inner.witness.witnesses);
        let h = health.entry(partner.agency.clone()).or_default();
        match asked.and_then(|c| bundle.add(c).map_err(|e| format!("its cosignature: {e}"))) {
            Ok(()) => {
                (h.size, h.last_cosigned, h.last_error) = (size, Some(Utc::now()), None);
                changed = true;
            }
            Err(e) => {
                tracing::warn!(witness = %partner.agency, error = %e, "a witness did not cosign this node's checkpoint");
                h.last_error = Some(e);
                all = false;
            }
        }
    }
    if changed {
        let note = bundle.note();
        let stored = {
            let inner = inner.clone();
            let note = note.clone();
            tokio::task::spawn_blocking(move || {
                inner.db.put_cosigned(size, &note, now, now - chrono::Duration::hours(1))
            })
            .await
        };
        if !matches!(stored, Ok(Ok(()))) {
            tracing::error!("could not keep this node's cosigned checkpoint");
        }
        {
            let mut bundles = lock(&inner.witness.bundles);
            bundles.notes.retain(|(s, _)| *s != size);
            bundles.notes.push((size, note));
            bundles.notes.sort_by_key(|b| std::cmp::Reverse(b.0));
            bundles.notes.truncate(KEEP);
            bundles.version += 1;
        }
        // Receivers holding messages get the better checkpoint now.
        for partner in inner.active_partners() {
            crate::send::wake(inner, &partner.agency).notify_one();
        }
    }
    all
}

/// Asks one witness to cosign `bundle`'s checkpoint, with a proof from the size it cosigned
/// last (learnt from its answers: a witness that holds another size says which).
async fn ask(
    inner: &Inner,
    clients: &mut Clients,
    audit: &limes_audit::AuditLog,
    partner: &Partner,
    key: &VerifierKey,
    bundle: &CosignedCheckpoint,
) -> Result<Cosignature, String> {
    if clients.get(&partner.agency).is_none_or(|(fp, _)| *fp != partner.fingerprint) {
        let client = crate::send::partner_client(inner, partner.fingerprint, Duration::from_secs(15))
            .map_err(|e| e.to_string())?;
        clients.insert(partner.agency.clone(), (partner.fingerprint, client));
    }
    let http = &clients[&partner.agency].1;
    let size = bundle.checkpoint().size;
    let log_note = audit.verifier_key().note(bundle.log_signature());
    let url = format!("{}{ADD_CHECKPOINT}", partner.anchor.url.trim_end_matches('/'));
    let mut old = lock(&inner.witness.witnesses).get(&partner.agency).map_or(0, |h| h.size);
    for _ in 0..3 {
        if old > size {
            return Err(format!(
                "it cosigned {old} records of this node's log, more than its newest checkpoint holds ({size}): \
                 the log was cut or restored from a backup"
            ));
        }
        let hashes = if old == 0 || old == size {
            Vec::new()
        } else {
            let audit = audit.clone();
            tokio::task::spawn_blocking(move || audit.consistency_proof(old, size))
                .await
                .map_err(|_| "stopping".to_owned())?
                .map_err(|e| format!("the consistency proof from {old} to {size}: {e}"))?
        };
        let mut body = format!("old {old}\n");
        for h in &hashes {
            body.push_str(&BASE64.encode(h.0));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&log_note);
        let resp = http
            .post(&url)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| format!("{url}: reading the answer: {e}"))?;
        let answer = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_ANSWER_BYTES)]).into_owned();
        if status == StatusCode::CONFLICT
            && let Ok(cosigned) = answer.trim().parse::<u64>()
        {
            if cosigned == old {
                return Err(format!("it holds size {cosigned} and refused: {answer}"));
            }
            lock(&inner.witness.witnesses).entry(partner.agency.clone()).or_default().size = cosigned;
            old = cosigned;
            continue;
        }
        if !status.is_success() {
            return Err(format!("{} refused to cosign ({status}): {}", partner.agency, answer.trim()));
        }
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err("its answer is too long".into());
        }
        let note = format!("{log_note}{answer}");
        let opened = CosignedCheckpoint::open(&note, &audit.verifier_key(), std::slice::from_ref(key))
            .map_err(|e| format!("its answer is not a cosignature: {e}"))?;
        return opened.cosignature_by(key).cloned().ok_or_else(|| "its answer holds no cosignature of its key".into());
    }
    Err("the witness kept naming other sizes".into())
}

// --- as a sender ----------------------------------------------------------------------------

/// The note to carry to `partner`: the newest one every witness it requires cosigned (itself,
/// and the independent witnesses of the agreement), else the newest one at all (it holds the
/// messages but can still find a fork), else the log's own newest checkpoint.
fn note_for(inner: &Inner, partner: &Partner) -> Option<(String, u64)> {
    let audit = inner.audit.as_ref()?;
    let mut required = independent_witnesses(inner, &partner.agency).unwrap_or_default();
    if let Ok(key) = partner_witness_key(partner) {
        required.insert(0, key);
    }
    let keys = required.iter().map(VerifierKey::to_string).collect::<Vec<_>>().join(" ");
    let (version, notes) = {
        let bundles = lock(&inner.witness.bundles);
        (bundles.version, bundles.notes.clone())
    };
    if let Some((v, k, chosen)) = lock(&inner.witness.chosen).get(&partner.agency)
        && (*v, k) == (version, &keys)
        && chosen.is_some()
    {
        return chosen.clone();
    }
    let log_key = audit.verifier_key();
    let chosen = notes
        .iter()
        .find(|(_, note)| {
            CosignedCheckpoint::open(note, &log_key, &required).is_ok_and(|b| b.missing(&required).is_empty())
        })
        .or_else(|| notes.first())
        .map(|(size, note)| (note.clone(), *size));
    lock(&inner.witness.chosen).insert(partner.agency.clone(), (version, keys, chosen.clone()));
    if chosen.is_some() {
        return chosen;
    }
    let latest = audit.latest_checkpoint()?;
    Some((log_key.note(&latest), latest.checkpoint.size))
}

/// The checkpoint a batch to `partner` carries, with the consistency proof from the size it
/// said it holds. None for partners whose anchor predates checkpoints (they would refuse the
/// field) and from a node without an audit log. Reads the audit log: call off the runtime.
pub(crate) fn carried(inner: &Inner, partner: &Partner) -> Option<BatchCheckpoint> {
    if partner.anchor.format != ANCHOR_FORMAT {
        return None;
    }
    let audit = inner.audit.as_ref()?;
    let (note, size) = note_for(inner, partner)?;
    let held = lock(&inner.witness.peers).get(&partner.agency).and_then(|v| v.ack.as_ref().map(|a| a.held_size));
    let proof = match held {
        Some(held) if held != 0 && held != size => {
            let (old, new) = (held.min(size), held.max(size));
            match audit.consistency_proof(old, new) {
                Ok(hashes) => {
                    Some(WireProof { old_size: old, new_size: new, hashes: hashes.iter().map(|h| h.0).collect() })
                }
                Err(e) => {
                    tracing::warn!(partner = %partner.agency, error = %e, "no consistency proof for the size the partner holds");
                    None
                }
            }
        }
        _ => None,
    };
    Some(BatchCheckpoint { note, proof })
}

/// Remembers what `partner` said about the checkpoint carried; `empty` when the batch held no
/// message (a push of the checkpoint alone).
pub(crate) fn note_ack(
    inner: &Inner,
    partner: &AgencyId,
    ack: Option<CheckpointAck>,
    sent: Option<&BatchCheckpoint>,
    empty: bool,
) {
    let mut peers = lock(&inner.witness.peers);
    let view = peers.entry(partner.clone()).or_default();
    if let Some(ack) = &ack
        && ack.status == CheckpointStatus::Held
        && view.ack.as_ref().is_none_or(|a| a.status != CheckpointStatus::Held)
    {
        tracing::info!(%partner, reason = %ack.reason, "the partner holds this node's messages until it accepts a checkpoint");
    }
    if empty && let Some(sent) = sent {
        view.pushed = Some((sent.note.clone(), ack.as_ref().map_or(0, |a| a.held_size), Instant::now()));
    }
    if ack.is_some() || sent.is_some() {
        view.ack = ack;
    }
}

/// Whether to send `partner` the checkpoint alone: it holds messages (or, under an agreement,
/// has not said yet what it holds), and there is a better checkpoint or proof than last time,
/// or an interval has passed.
pub(crate) fn push_due(inner: &Inner, partner: &Partner) -> bool {
    if partner.anchor.format != ANCHOR_FORMAT || inner.audit.is_none() {
        return false;
    }
    let Some((note, _)) = note_for(inner, partner) else { return false };
    let peers = lock(&inner.witness.peers);
    let view = peers.get(&partner.agency).cloned().unwrap_or_default();
    match (&view.ack, &view.pushed) {
        // At start, once, to a partner that may hold messages from before (an agreement).
        (None, None) => inner.agreement_with(&partner.agency).is_some(),
        (Some(ack), Some((pushed, held, at))) if ack.status == CheckpointStatus::Held => {
            *pushed != note || *held != ack.held_size || at.elapsed() >= inner.config.witness.interval
        }
        (Some(ack), None) => ack.status == CheckpointStatus::Held,
        _ => false,
    }
}

// --- status ---------------------------------------------------------------------------------

/// Witnessed audit as administrators see it (`Link::witness_status`).
#[derive(Debug, Clone, Serialize)]
pub struct WitnessStatus {
    /// Whether partners' checkpoints are required where an agreement is in force.
    pub require: bool,
    /// This node's witness key (what agreements name when this node is an independent witness).
    pub witness_key: String,
    /// This node's audit key, as its trust anchor carries it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_key: Option<String>,
    /// The newest of this node's checkpoints with cosignatures: its size and who cosigned it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosigned_size: Option<u64>,
    pub cosigned_by: Vec<String>,
    /// This node's witnesses and how they are doing.
    pub witnesses: HashMap<AgencyId, WitnessHealth>,
    /// Per partner: what it holds of this node's log, and what this node holds of its.
    pub partners: Vec<PartnerCheckpoints>,
    /// Forks found (as a witness or a receiver), in all.
    pub forks: u64,
}

/// One partner's side of witnessed audit.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerCheckpoints {
    pub agency: AgencyId,
    /// What it last said about this node's checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ours: Option<CheckpointAck>,
    /// The size of its log's checkpoint this node holds.
    pub held_size: u64,
    /// Its messages held here until one of its checkpoints is accepted.
    pub held_messages: u64,
}

pub(crate) fn status(inner: &Inner) -> Result<WitnessStatus, LinkError> {
    let held = inner.db.held_summary()?;
    let forks = inner.db.forks(10_000)?.len() as u64;
    let peers = lock(&inner.witness.peers).clone();
    let newest = lock(&inner.witness.bundles).notes.first().cloned();
    let (cosigned_size, cosigned_by) = newest
        .and_then(|(size, note)| {
            let names = SignedNote::parse(&note).ok()?.signatures.iter().skip(1).map(|s| s.name.clone()).collect();
            Some((Some(size), names))
        })
        .unwrap_or_default();
    let mut partners: Vec<PartnerCheckpoints> = inner
        .active_partners()
        .into_iter()
        .map(|p| {
            let (held_size, held_messages) = held.get(p.agency.as_str()).copied().unwrap_or_default();
            PartnerCheckpoints {
                ours: peers.get(&p.agency).and_then(|v| v.ack.clone()),
                held_size,
                held_messages,
                agency: p.agency,
            }
        })
        .collect();
    partners.sort_by(|a, b| a.agency.cmp(&b.agency));
    Ok(WitnessStatus {
        require: inner.config.witness.require,
        witness_key: inner.witness.key().to_string(),
        audit_key: inner.audit.as_ref().map(|a| a.verifier_key().to_string()),
        cosigned_size,
        cosigned_by,
        witnesses: lock(&inner.witness.witnesses).clone(),
        partners,
        forks,
    })
}
