//! `federation.sqlite`: partners, the outbox per partner, the inbox and each stream's place.
//!
//! A file of its own, beside the read store, so that deliveries never wait for the ingest
//! writer's lock. Every write that a partner's acknowledgement depends on is committed with
//! `synchronous = FULL` before the acknowledgement leaves.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use limes_agreement::Labels;
use limes_federation::{
    AgencyKey, DELETION_RECEIPT, DeletionReceipt, Draft, Envelope, Fingerprint, MessageId, MessageType, Outcome,
    PublicKey, Refusal, RejectCode, SeqDecision, Status, StreamName, TrustAnchor, sequence,
};
use limes_model::AgencyId;
use rusqlite::{Connection, OptionalExtension, params};

use crate::LinkError;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_federation.sql")),
    (2, include_str!("../migrations/0002_agreements.sql")),
    (3, include_str!("../migrations/0003_receipts.sql")),
    (4, include_str!("../migrations/0004_hitquery.sql")),
    (5, include_str!("../migrations/0005_witness.sql")),
];

/// A message shared under an agreement whose deletion receipt is overdue.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Overdue {
    pub partner: String,
    pub message: String,
    pub category: String,
    pub sent: DateTime<Utc>,
    /// When the partner's retention ran out.
    pub due: DateTime<Utc>,
}

/// A plate of a hit/no-hit window as the node keeps it: its references and its reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WindowPlate {
    pub plate: String,
    pub exact: [u8; 16],
    pub folded: [u8; 16],
    pub reads: Vec<i64>,
}

/// An agreement as the node keeps it.
#[derive(Debug, Clone)]
pub struct StoredAgreement {
    pub id: String,
    pub partner: String,
    pub text: String,
    pub added: DateTime<Utc>,
    pub ended: Option<(DateTime<Utc>, String)>,
}

/// A partner as the node keeps it.
#[derive(Debug, Clone)]
pub struct Partner {
    pub agency: AgencyId,
    pub anchor: TrustAnchor,
    pub fingerprint: Fingerprint,
    pub key: PublicKey,
    /// Message types we send to it.
    pub send: BTreeSet<MessageType>,
    /// Message types it may send to us.
    pub receive: BTreeSet<MessageType>,
    /// Suffix of our stream names to this partner: new each time it is added.
    pub epoch: String,
    pub added: DateTime<Utc>,
    pub revoked: Option<(DateTime<Utc>, String)>,
}

impl StoredAgreement {
    fn with_reason(mut self, reason: Option<String>) -> Self {
        if let (Some(ended), Some(reason)) = (self.ended.as_mut(), reason) {
            ended.1 = reason;
        }
        self
    }
}

/// A message waiting in the outbox.
#[derive(Debug, Clone)]
pub struct Queued {
    pub row: i64,
    pub id: MessageId,
    pub kind: String,
    pub about: Option<String>,
    pub envelope_json: String,
    pub signature: [u8; 64],
}

/// What the node asks to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub partner: AgencyId,
    pub kind: MessageType,
    /// The stream's name before the partner's epoch is appended (e.g. `alerts`).
    pub stream: String,
    pub payload: Vec<u8>,
    /// What the message carries, for the audit record of its transfer (e.g. `alert:42`).
    pub about: Option<String>,
    /// What the payload is, for the sharing agreement; none only for the protocol's own
    /// messages ([`limes_agreement::ProtocolMessage`]). [`crate::Link::send`] queues a message
    /// only when the agreement with its partner allows it.
    pub labels: Option<Labels>,
    /// Whether `labels.request` names a request the owner of the data approved.
    pub approved_request: bool,
}

/// A message a partner sent that passed every check.
#[derive(Debug, Clone)]
pub struct Received {
    pub row: i64,
    pub id: MessageId,
    pub sender: AgencyId,
    pub kind: String,
    pub stream: String,
    pub seq: u64,
    pub created: DateTime<Utc>,
    pub received: DateTime<Utc>,
    pub payload: Vec<u8>,
    /// What the message carries, as the sender signed it and the agreement allowed it.
    pub labels: Option<Labels>,
}

/// What a batch's audit checkpoint does to the batch's messages, decided before they are
/// stored (`witness::judge`) and done in their transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct GateEffect {
    /// Hold the batch's data messages, for this reason.
    pub hold: Option<String>,
    /// Hold this checkpoint of the sender's log from now on (size, note) and release the
    /// sender's held messages.
    pub accept: Option<(u64, String)>,
    /// Keep this evidence of a fork of the sender's log.
    pub fork: Option<ForkRecord>,
}

/// A fork as it is kept.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ForkRecord {
    pub held: String,
    pub presented: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof: Option<serde_json::Value>,
    pub detail: String,
}

/// A fork found, as administrators see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Fork {
    pub partner: String,
    /// `witness` (found when asked to cosign) or `receiver` (found judging a batch).
    pub seen_as: String,
    pub detected: DateTime<Utc>,
    #[serde(flatten)]
    pub record: ForkRecord,
}

fn insert_fork(
    tx: &Connection,
    partner: &str,
    seen_as: &str,
    f: &ForkRecord,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT OR IGNORE INTO forks (partner, seen_as, held, presented, proof, detail, detected_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![partner, seen_as, f.held, f.presented, f.proof.as_ref().map(|p| p.to_string()), f.detail, us(now)],
    )
}

/// A witness's new state for a log: (size, note) to keep; none when nothing changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct WitnessUpdate {
    pub state: Option<(u64, String)>,
}

/// A message a partner refused for good.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refused {
    pub partner: AgencyId,
    pub id: String,
    pub kind: String,
    pub about: Option<String>,
    pub code: String,
    pub error: String,
    pub at: DateTime<Utc>,
}

pub(crate) struct Db(Mutex<Connection>);

fn us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_us(v: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(v).single().unwrap_or_default()
}

fn types_json(t: &BTreeSet<MessageType>) -> String {
    serde_json::to_string(t).unwrap_or_else(|_| "[]".into())
}

impl Db {
    pub fn open(path: &Path) -> Result<Self, LinkError> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        limes_store::apply_migrations(&mut conn, MIGRATIONS, i64::MAX, "federation")
            .map_err(|e| LinkError::Schema(e.to_string()))?;
        Ok(Self(Mutex::new(conn)))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers messages shared under an agreement: `(id, partner, category, due)`.
    pub fn record_shared(
        &self,
        rows: &[(MessageId, String, String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<(), LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO shared (message_id, partner, category, sent_us, due_us) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (id, partner, category, due) in rows {
                insert.execute(params![id.to_string(), partner, category, us(now), us(*due)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Shared messages with no deletion receipt whose due date is before `now`, oldest due
    /// first, and how many there are in all.
    pub fn overdue(&self, now: DateTime<Utc>, limit: usize) -> Result<(u64, Vec<Overdue>), LinkError> {
        let conn = self.conn();
        let total: i64 =
            conn.query_row("SELECT COUNT(*) FROM shared WHERE receipt_us IS NULL AND due_us < ?1", [us(now)], |r| {
                r.get(0)
            })?;
        let mut stmt = conn.prepare_cached(
            "SELECT partner, message_id, category, sent_us, due_us FROM shared
              WHERE receipt_us IS NULL AND due_us < ?1 ORDER BY due_us LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![us(now), limit as i64], |r| {
            Ok(Overdue {
                partner: r.get(0)?,
                message: r.get(1)?,
                category: r.get(2)?,
                sent: from_us(r.get(3)?),
                due: from_us(r.get(4)?),
            })
        })?;
        Ok((total as u64, rows.collect::<Result<_, _>>()?))
    }

    /// How many shared messages have a deletion receipt, and how many still wait for one.
    pub fn receipt_counts(&self) -> Result<(u64, u64), LinkError> {
        let conn = self.conn();
        let (got, waiting): (i64, i64) =
            conn.query_row("SELECT COUNT(receipt_us), COUNT(*) - COUNT(receipt_us) FROM shared", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        Ok((got as u64, waiting as u64))
    }

    /// Every agreement, ended ones included, oldest first.
    pub fn agreements(&self) -> Result<Vec<StoredAgreement>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, partner, text, added_us, ended_us, end_reason FROM agreements ORDER BY added_us, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StoredAgreement {
                id: r.get(0)?,
                partner: r.get(1)?,
                text: r.get(2)?,
                added: from_us(r.get(3)?),
                ended: r.get::<_, Option<i64>>(4)?.map(|t| (from_us(t), String::new())),
            }
            .with_reason(r.get::<_, Option<String>>(5)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores an agreement in force with `partner`, ending the one before it.
    pub fn put_agreement(&self, id: &str, partner: &str, text: &str, now: DateTime<Utc>) -> Result<(), LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE agreements SET ended_us = ?1, end_reason = ?2 WHERE partner = ?3 AND ended_us IS NULL AND id != ?4",
            params![us(now), format!("superseded by {id}"), partner, id],
        )?;
        tx.execute(
            "INSERT INTO agreements (id, partner, text, added_us) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET text = excluded.text, added_us = excluded.added_us,
                                            ended_us = NULL, end_reason = NULL",
            params![id, partner, text, us(now)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Ends an agreement; false when no agreement in force has that id.
    pub fn end_agreement(&self, id: &str, reason: &str, now: DateTime<Utc>) -> Result<bool, LinkError> {
        let n = self.conn().execute(
            "UPDATE agreements SET ended_us = ?1, end_reason = ?2 WHERE id = ?3 AND ended_us IS NULL",
            params![us(now), reason, id],
        )?;
        Ok(n > 0)
    }

    pub fn partners(&self) -> Result<Vec<Partner>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT agency, anchor, send_types, receive_types, epoch, added_us, revoked_us, revoke_reason
               FROM partners ORDER BY agency",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, Option<i64>>(6)?,
                r.get::<_, Option<String>>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (anchor, send, receive, epoch, added, revoked, reason) = row?;
            let anchor: TrustAnchor = serde_json::from_str(&anchor).map_err(|e| LinkError::Schema(e.to_string()))?;
            let verified = anchor.verify().map_err(|e| LinkError::Schema(format!("a stored anchor: {e}")))?;
            out.push(Partner {
                agency: verified.anchor.agency.clone(),
                key: verified.anchor.signing_key,
                fingerprint: verified.fingerprint,
                anchor: verified.anchor,
                send: serde_json::from_str(&send).unwrap_or_default(),
                receive: serde_json::from_str(&receive).unwrap_or_default(),
                epoch,
                added: from_us(added),
                revoked: revoked.map(|t| (from_us(t), reason.unwrap_or_default())),
            });
        }
        Ok(out)
    }

    /// Adds or replaces a partner (a replaced one keeps its queue; a re-added removed one
    /// starts new streams). Refuses a certificate or key that was revoked.
    pub fn put_partner(&self, p: &Partner) -> Result<(), LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let revoked: Option<String> = tx
            .query_row(
                "SELECT agency FROM partners WHERE revoked_us IS NOT NULL AND (fingerprint = ?1 OR signing_key = ?2)",
                params![p.fingerprint.to_hex(), p.key.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(agency) = revoked {
            return Err(LinkError::Refused(format!(
                "this certificate or signing key belonged to {agency}, whose trust was revoked; a revoked key is never trusted again"
            )));
        }
        let anchor = serde_json::to_string(&p.anchor).map_err(|e| LinkError::Schema(e.to_string()))?;
        tx.execute(
            "INSERT INTO partners (agency, anchor, fingerprint, signing_key, send_types, receive_types, epoch, added_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (agency) DO UPDATE SET anchor = ?2, fingerprint = ?3, signing_key = ?4,
                send_types = ?5, receive_types = ?6",
            params![
                p.agency.as_str(),
                anchor,
                p.fingerprint.to_hex(),
                p.key.to_string(),
                types_json(&p.send),
                types_json(&p.receive),
                p.epoch,
                us(p.added)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Removes a partner and drops what was queued for it; returns how many messages.
    pub fn remove_partner(&self, agency: &AgencyId) -> Result<u64, LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let dropped = tx.execute("DELETE FROM outbox WHERE partner = ?1", [agency.as_str()])? as u64;
        tx.execute("DELETE FROM send_streams WHERE partner = ?1", [agency.as_str()])?;
        let n = tx.execute("DELETE FROM partners WHERE agency = ?1 AND revoked_us IS NULL", [agency.as_str()])?;
        if n == 0 {
            return Err(LinkError::NotFound(format!("no partner {agency}")));
        }
        tx.commit()?;
        Ok(dropped)
    }

    /// Revokes a partner: its certificate and key are refused from now on (and never trusted
    /// again), what was queued for it is dropped. Returns how many messages.
    pub fn revoke_partner(&self, agency: &AgencyId, reason: &str, now: DateTime<Utc>) -> Result<u64, LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE partners SET revoked_us = ?2, revoke_reason = ?3, send_types = '[]', receive_types = '[]'
              WHERE agency = ?1 AND revoked_us IS NULL",
            params![agency.as_str(), us(now), reason],
        )?;
        if n == 0 {
            return Err(LinkError::NotFound(format!("no partner {agency} that is not already revoked")));
        }
        let dropped = tx.execute("DELETE FROM outbox WHERE partner = ?1", [agency.as_str()])? as u64;
        tx.execute("DELETE FROM send_streams WHERE partner = ?1", [agency.as_str()])?;
        tx.commit()?;
        Ok(dropped)
    }

    /// Signs and queues messages in one transaction, numbering each in its stream.
    pub fn enqueue(
        &self,
        me: &AgencyId,
        key: &AgencyKey,
        epochs: &HashMap<AgencyId, String>,
        items: Vec<Outgoing>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<MessageId, LinkError>>, LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(items.len());
        {
            let mut next = tx.prepare_cached(
                "INSERT INTO send_streams (partner, stream, next_seq) VALUES (?1, ?2, 2)
                 ON CONFLICT (partner, stream) DO UPDATE SET next_seq = next_seq + 1
                 RETURNING next_seq - 1",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO outbox (partner, message_id, kind, stream, seq, created_us, about, envelope, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for item in items {
                let Some(epoch) = epochs.get(&item.partner) else {
                    out.push(Err(LinkError::NotFound(format!("no partner {}", item.partner))));
                    continue;
                };
                let stream = match StreamName::new(format!("{}~{epoch}", item.stream)) {
                    Ok(s) => s,
                    Err(e) => {
                        out.push(Err(LinkError::Refused(e.to_string())));
                        continue;
                    }
                };
                let seq: i64 = next.query_row(params![item.partner.as_str(), stream.as_str()], |r| r.get(0))?;
                let id = MessageId::random().map_err(|e| LinkError::Identity(e.to_string()))?;
                let env = Envelope::seal(
                    Draft {
                        id,
                        sender: me.clone(),
                        recipient: item.partner.clone(),
                        kind: item.kind.clone(),
                        stream: stream.clone(),
                        seq: seq as u64,
                        created_at: now,
                        labels: item.labels.as_ref().and_then(|l| serde_json::to_string(l).ok()),
                        payload: item.payload,
                    },
                    key,
                );
                let json = serde_json::to_string(&env).map_err(|e| LinkError::Schema(e.to_string()))?;
                insert.execute(params![
                    item.partner.as_str(),
                    id.to_string(),
                    item.kind.as_str(),
                    stream.as_str(),
                    seq,
                    us(env.created_at),
                    item.about,
                    json,
                    &env.signature[..]
                ])?;
                out.push(Ok(id));
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// The oldest queued messages for `partner`, in order, up to `limit` and about `max_bytes`.
    pub fn pending(&self, partner: &AgencyId, limit: usize, max_bytes: usize) -> Result<Vec<Queued>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, message_id, kind, about, envelope, signature FROM outbox
              WHERE partner = ?1 ORDER BY id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![partner.as_str(), limit as i64])?;
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(r) = rows.next()? {
            let json: String = r.get(4)?;
            if !out.is_empty() && bytes + json.len() > max_bytes {
                break;
            }
            bytes += json.len();
            let sig: Vec<u8> = r.get(5)?;
            out.push(Queued {
                row: r.get(0)?,
                id: MessageId::parse(&r.get::<_, String>(1)?)
                    .ok_or_else(|| LinkError::Schema("a message id".into()))?,
                kind: r.get(2)?,
                about: r.get(3)?,
                envelope_json: json,
                signature: sig.try_into().map_err(|_| LinkError::Schema("a signature".into()))?,
            });
        }
        Ok(out)
    }

    /// Applies a receipt: delivered and duplicate messages leave the queue, refused ones move
    /// to `refused`, the rest stay (their attempt counted).
    pub fn complete(
        &self,
        partner: &AgencyId,
        sent: &[Queued],
        outcomes: &[Outcome],
        now: DateTime<Utc>,
    ) -> Result<(), LinkError> {
        let by_id: HashMap<MessageId, &Outcome> = outcomes.iter().map(|o| (o.id, o)).collect();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for q in sent {
            match by_id.get(&q.id) {
                Some(o) if matches!(o.status, Status::Accepted | Status::Duplicate) => {
                    tx.execute("DELETE FROM outbox WHERE id = ?1", [q.row])?;
                }
                Some(o) if o.status == Status::Rejected => {
                    let r = o.refusal.clone().unwrap_or_else(|| Refusal::new(RejectCode::Malformed, "refused"));
                    tx.execute(
                        "INSERT INTO refused (partner, message_id, kind, about, code, error, refused_us)
                         SELECT partner, message_id, kind, about, ?2, ?3, ?4 FROM outbox WHERE id = ?1",
                        params![q.row, r.code.as_str(), r.error, us(now)],
                    )?;
                    tx.execute("DELETE FROM outbox WHERE id = ?1", [q.row])?;
                }
                other => {
                    let error = other.and_then(|o| o.refusal.as_ref()).map(|r| r.to_string());
                    tx.execute(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                        params![q.row, error],
                    )?;
                }
            }
        }
        let _ = partner;
        tx.commit()?;
        Ok(())
    }

    /// Counts an attempt that failed as a whole (transport error, batch refused).
    pub fn attempt_failed(&self, partner: &AgencyId, error: &str) -> Result<(), LinkError> {
        self.conn().execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2
              WHERE id = (SELECT MIN(id) FROM outbox WHERE partner = ?1)",
            params![partner.as_str(), error],
        )?;
        Ok(())
    }

    /// Messages queued per partner.
    pub fn queue_depths(&self) -> Result<HashMap<String, u64>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT partner, COUNT(*) FROM outbox GROUP BY partner")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn refused(&self, limit: usize) -> Result<Vec<Refused>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT partner, message_id, kind, about, code, error, refused_us FROM refused ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(Refused {
                partner: AgencyId::new(r.get::<_, String>(0)?)
                    .unwrap_or_else(|_| AgencyId::new("unknown").expect("valid")),
                id: r.get(1)?,
                kind: r.get(2)?,
                about: r.get(3)?,
                code: r.get(4)?,
                error: r.get(5)?,
                at: from_us(r.get(6)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Takes the checked envelopes of one batch in one transaction: each in its stream's
    /// order, each id once. `checks` holds, per envelope, the result of the receiver's checks;
    /// `gate` what the batch's audit checkpoint does (hold the data messages, advance the
    /// checkpoint held and release what was held, keep a fork's evidence), in the same
    /// transaction. Returns the outcomes and how many held messages were released.
    pub fn receive(
        &self,
        sender: &AgencyId,
        envelopes: &[Envelope],
        checks: Vec<Result<(), Refusal>>,
        gate: &GateEffect,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Outcome>, u64), LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut outcomes = Vec::with_capacity(envelopes.len());
        if let Some(fork) = &gate.fork {
            insert_fork(&tx, sender.as_str(), "receiver", fork, now)?;
        }
        let mut released = 0;
        if let Some((size, note)) = &gate.accept {
            tx.execute(
                "INSERT INTO checkpoint_held (sender, size, note, updated_us) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (sender) DO UPDATE SET size = ?2, note = ?3, updated_us = ?4 WHERE size <= ?2",
                params![sender.as_str(), *size as i64, note, us(now)],
            )?;
            released = tx
                .execute("UPDATE inbox SET held = NULL WHERE sender = ?1 AND held IS NOT NULL", [sender.as_str()])?
                as u64;
        }
        {
            let mut last = tx.prepare_cached("SELECT last_seq FROM recv_streams WHERE sender = ?1 AND stream = ?2")?;
            let mut advance = tx.prepare_cached(
                "INSERT INTO recv_streams (sender, stream, last_seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sender, stream) DO UPDATE SET last_seq = ?3",
            )?;
            let mut seen = tx.prepare_cached("SELECT sender, stream, seq FROM inbox WHERE message_id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO inbox (message_id, sender, kind, stream, seq, created_us, received_us, payload, labels,
                                    held)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for (env, check) in envelopes.iter().zip(checks) {
                let id = env.id.to_string();
                let outcome = |status, refusal| Outcome { id: env.id, status, refusal };
                let stream_last: u64 = last
                    .query_row(params![sender.as_str(), env.stream.as_str()], |r| r.get::<_, i64>(0))
                    .optional()?
                    .unwrap_or(0) as u64;
                let decision = sequence(stream_last, env.seq);
                if let Err(refusal) = check {
                    // An authentic message refused for good still takes its place in the
                    // stream, so that the ones after it are not held back.
                    if decision == SeqDecision::Next && !refusal.code.is_transient() && env.sender == *sender {
                        advance.execute(params![sender.as_str(), env.stream.as_str(), env.seq as i64])?;
                    }
                    let status = if refusal.code.is_transient() { Status::Retry } else { Status::Rejected };
                    outcomes.push(outcome(status, Some(refusal)));
                    continue;
                }
                match decision {
                    SeqDecision::Duplicate => outcomes.push(outcome(Status::Duplicate, None)),
                    SeqDecision::Gap { expected } => outcomes.push(outcome(
                        Status::Retry,
                        Some(Refusal::new(
                            RejectCode::Gap,
                            format!("message {} of stream {} arrived before {expected}", env.seq, env.stream),
                        )),
                    )),
                    SeqDecision::Next => {
                        let earlier: Option<(String, String, i64)> =
                            seen.query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
                        if earlier.is_some() {
                            outcomes.push(outcome(
                                Status::Rejected,
                                Some(Refusal::new(
                                    RejectCode::Replayed,
                                    format!("message {id} was received before under another place"),
                                )),
                            ));
                            continue;
                        }
                        insert.execute(params![
                            id,
                            sender.as_str(),
                            env.kind.as_str(),
                            env.stream.as_str(),
                            env.seq as i64,
                            us(env.created_at),
                            us(now),
                            env.payload,
                            env.labels,
                            // The protocol's own messages are never held (receipts keep working).
                            gate.hold.as_deref().filter(|_| !crate::is_protocol(&env.kind)),
                        ])?;
                        // A deletion receipt is the link's own business: it takes effect here,
                        // on this partner's messages only, and never reaches the application.
                        if env.kind.as_str() == DELETION_RECEIPT
                            && let Ok(receipt) = DeletionReceipt::parse(&env.payload)
                        {
                            let reason = serde_json::to_value(receipt.reason)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_owned))
                                .unwrap_or_default();
                            let mut mark = tx.prepare_cached(
                                "UPDATE shared SET receipt_us = ?1, receipt_reason = ?2
                                  WHERE message_id = ?3 AND partner = ?4 AND receipt_us IS NULL",
                            )?;
                            for m in &receipt.messages {
                                mark.execute(params![us(receipt.deleted_at), reason, m.to_string(), sender.as_str()])?;
                            }
                            tx.execute("UPDATE inbox SET applied_us = ?1 WHERE message_id = ?2", params![us(now), id])?;
                        }
                        advance.execute(params![sender.as_str(), env.stream.as_str(), env.seq as i64])?;
                        outcomes.push(outcome(Status::Accepted, None));
                    }
                }
            }
        }
        tx.commit()?;
        Ok((outcomes, released))
    }

    /// Received messages not yet applied and not held, oldest first.
    pub fn unapplied(&self, limit: usize) -> Result<Vec<Received>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, message_id, sender, kind, stream, seq, created_us, received_us, payload, labels FROM inbox
              WHERE applied_us IS NULL AND held IS NULL ORDER BY id LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, Vec<u8>>(8)?,
                r.get::<_, Option<String>>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (row, id, sender, kind, stream, seq, created, received, payload, labels) = row?;
            out.push(Received {
                row,
                id: MessageId::parse(&id).ok_or_else(|| LinkError::Schema("a message id".into()))?,
                sender: AgencyId::new(sender).map_err(|e| LinkError::Schema(e.to_string()))?,
                kind,
                stream,
                seq: seq as u64,
                created: from_us(created),
                received: from_us(received),
                payload,
                // Checked when the message arrived; a row from before labels existed has none.
                labels: labels.and_then(|l| serde_json::from_str(&l).ok()),
            });
        }
        Ok(out)
    }

    pub fn mark_applied(&self, rows: &[i64], now: DateTime<Utc>) -> Result<(), LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE inbox SET applied_us = ?2, payload = x'' WHERE id = ?1")?;
            for row in rows {
                stmt.execute(params![row, us(now)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether a fork of `partner`'s log was found (as its witness or as a receiver: either
    /// is conclusive, the notes coming from the log's own node).
    pub fn forked(&self, partner: &str) -> Result<bool, LinkError> {
        Ok(self.conn().query_row("SELECT EXISTS (SELECT 1 FROM forks WHERE partner = ?1)", [partner], |r| r.get(0))?)
    }

    /// Every fork found, newest first.
    pub fn forks(&self, limit: usize) -> Result<Vec<Fork>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT partner, seen_as, held, presented, proof, detail, detected_us FROM forks ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(Fork {
                partner: r.get(0)?,
                seen_as: r.get(1)?,
                record: ForkRecord {
                    held: r.get(2)?,
                    presented: r.get(3)?,
                    proof: r.get::<_, Option<String>>(4)?.and_then(|p| serde_json::from_str(&p).ok()),
                    detail: r.get(5)?,
                },
                detected: from_us(r.get(6)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The checkpoint of `sender`'s log held as a receiver (its note).
    pub fn held_checkpoint(&self, sender: &str) -> Result<Option<String>, LinkError> {
        Ok(self
            .conn()
            .query_row("SELECT note FROM checkpoint_held WHERE sender = ?1", [sender], |r| r.get(0))
            .optional()?)
    }

    /// Per sender: the size of the checkpoint held and how many of its messages are held.
    pub fn held_summary(&self) -> Result<HashMap<String, (u64, u64)>, LinkError> {
        let conn = self.conn();
        let mut out: HashMap<String, (u64, u64)> = HashMap::new();
        let mut stmt = conn.prepare_cached("SELECT sender, size FROM checkpoint_held")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (sender, size) = row?;
            out.entry(sender).or_default().0 = size as u64;
        }
        let mut stmt = conn.prepare_cached(
            "SELECT sender, COUNT(*) FROM inbox WHERE held IS NOT NULL AND applied_us IS NULL GROUP BY sender",
        )?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (sender, n) = row?;
            out.entry(sender).or_default().1 = n as u64;
        }
        Ok(out)
    }

    /// As a witness: reads the state kept for the log `origin`, lets `cosign` decide on it, and
    /// stores the new state it returns, all in one transaction (c2sp.org/tlog-witness: the
    /// check and the update are atomic, and the state is durable before the cosignature
    /// leaves). A fork `cosign` reports is kept too.
    pub fn witness<T, E>(
        &self,
        origin: &str,
        partner: &str,
        now: DateTime<Utc>,
        cosign: impl FnOnce(Option<String>) -> Result<(T, WitnessUpdate), E>,
    ) -> Result<Result<T, E>, LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let state: Option<String> = tx
            .query_row("SELECT note FROM witness_state WHERE partner = ?1 AND origin = ?2", [partner, origin], |r| {
                r.get(0)
            })
            .optional()?;
        let (out, update) = match cosign(state) {
            Ok((out, update)) => (Ok(out), update),
            Err(e) => (Err(e), WitnessUpdate::default()),
        };
        if let Some((size, note)) = &update.state {
            tx.execute(
                "INSERT INTO witness_state (origin, partner, size, note, updated_us) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (partner, origin) DO UPDATE SET size = ?3, note = ?4, updated_us = ?5",
                params![origin, partner, *size as i64, note, us(now)],
            )?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// Keeps a fork found as a witness.
    pub fn witness_fork(&self, partner: &str, fork: &ForkRecord, now: DateTime<Utc>) -> Result<(), LinkError> {
        insert_fork(&self.conn(), partner, "witness", fork, now)?;
        Ok(())
    }

    /// Keeps this node's checkpoint of `size` with the cosignatures gathered (its note), and
    /// forgets those older than `before` that are not the newest.
    pub fn put_cosigned(
        &self,
        size: u64,
        note: &str,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
    ) -> Result<(), LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO cosigned (size, note, updated_us) VALUES (?1, ?2, ?3)
             ON CONFLICT (size) DO UPDATE SET note = ?2, updated_us = ?3",
            params![size as i64, note, us(now)],
        )?;
        tx.execute(
            "DELETE FROM cosigned WHERE updated_us < ?1 AND size < (SELECT MAX(size) FROM cosigned)",
            [us(before)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// This node's cosigned checkpoints (notes), newest first.
    pub fn cosigned(&self, limit: usize) -> Result<Vec<String>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT note FROM cosigned ORDER BY size DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The plates of the window whose key is of `day`, with their references and reads.
    pub fn window_plates(&self, day: &str) -> Result<Vec<WindowPlate>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT plate, exact_ref, folded_ref, read_ids FROM hitquery_plates WHERE key_day = ?1")?;
        let rows = stmt.query_map([day], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, String>(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (plate, exact, folded, reads) = row?;
            let reference = |b: Vec<u8>| {
                <[u8; 16]>::try_from(b).map_err(|_| LinkError::Schema("a hit/no-hit reference is not 16 bytes".into()))
            };
            out.push(WindowPlate {
                plate,
                exact: reference(exact)?,
                folded: reference(folded)?,
                reads: serde_json::from_str(&reads).map_err(|e| LinkError::Schema(format!("read ids: {e}")))?,
            });
        }
        Ok(out)
    }

    /// Stores new plates of a window, and the reads of plates already in it, in one
    /// transaction.
    pub fn put_window_plates(&self, day: &str, plates: &[&WindowPlate]) -> Result<(), LinkError> {
        if plates.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO hitquery_plates (key_day, plate, exact_ref, folded_ref, read_ids) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key_day, plate) DO UPDATE SET read_ids = excluded.read_ids",
            )?;
            for p in plates {
                let reads = serde_json::to_string(&p.reads).map_err(|e| LinkError::Schema(e.to_string()))?;
                stmt.execute(params![day, p.plate, &p.exact[..], &p.folded[..], reads])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets the windows whose keys are of days before `day`.
    pub fn delete_windows_before(&self, day: &str) -> Result<u64, LinkError> {
        Ok(self.conn().execute("DELETE FROM hitquery_plates WHERE key_day < ?1", [day])? as u64)
    }

    /// The window, plate and whether it is the exact entry, for a reference of a published set.
    pub fn resolve_reference(&self, reference: &[u8; 16]) -> Result<Option<(String, WindowPlate, bool)>, LinkError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT key_day, plate, exact_ref, folded_ref, read_ids FROM hitquery_plates
                  WHERE exact_ref = ?1 OR folded_ref = ?1",
                [&reference[..]],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((day, plate, exact, folded, reads)) = row else { return Ok(None) };
        let bytes = |b: Vec<u8>| <[u8; 16]>::try_from(b).map_err(|_| LinkError::Schema("a reference".into()));
        let p = WindowPlate {
            plate,
            exact: bytes(exact)?,
            folded: bytes(folded)?,
            reads: serde_json::from_str(&reads).map_err(|e| LinkError::Schema(format!("read ids: {e}")))?,
        };
        let is_exact = p.exact == *reference;
        Ok(Some((day, p, is_exact)))
    }

    /// Forgets applied messages received before `before` (their ids guard against replays
    /// only as long as a message may be that old: older ones are refused as stale anyway).
    pub fn prune(&self, before: DateTime<Utc>) -> Result<u64, LinkError> {
        Ok(self.conn().execute("DELETE FROM inbox WHERE applied_us IS NOT NULL AND received_us < ?1", [us(before)])?
            as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn upgraded_schema_equals_fresh_from_every_version() {
        let mut fresh = Connection::open_in_memory().unwrap();
        limes_store::apply_migrations(&mut fresh, MIGRATIONS, i64::MAX, "federation").unwrap();
        let want = schema_of(&fresh);
        assert!(want.iter().any(|(_, name, _)| name == "hitquery_plates"));
        for (start, _) in MIGRATIONS {
            let mut conn = Connection::open_in_memory().unwrap();
            limes_store::apply_migrations(&mut conn, MIGRATIONS, *start, "federation").unwrap();
            limes_store::apply_migrations(&mut conn, MIGRATIONS, i64::MAX, "federation").unwrap();
            assert_eq!(schema_of(&conn), want, "upgraded from version {start}");
        }
    }

    #[test]
    fn window_plates_round_trip_and_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("federation.sqlite")).unwrap();
        let p = WindowPlate { plate: "B01ABC".into(), exact: [1; 16], folded: [2; 16], reads: vec![3, 5] };
        db.put_window_plates("2026-03-01", &[&p]).unwrap();
        let again = WindowPlate { reads: vec![3, 5, 8], ..p.clone() };
        db.put_window_plates("2026-03-01", &[&again]).unwrap();
        assert_eq!(db.window_plates("2026-03-01").unwrap(), vec![again.clone()]);
        assert_eq!(db.resolve_reference(&[2; 16]).unwrap(), Some(("2026-03-01".into(), again.clone(), false)));
        assert_eq!(db.resolve_reference(&[1; 16]).unwrap().map(|r| r.2), Some(true));
        assert_eq!(db.resolve_reference(&[9; 16]).unwrap(), None);
        // A reference is never given twice, across windows too.
        assert!(db.put_window_plates("2026-03-02", &[&WindowPlate { plate: "CJ07XYZ".into(), ..p }]).is_err());
        assert_eq!(db.delete_windows_before("2026-03-02").unwrap(), 1);
        assert!(db.window_plates("2026-03-01").unwrap().is_empty());
    }
}
