//! `federation.sqlite`: partners, the outbox per partner, the inbox and each stream's place.
//!
//! A file of its own, beside the read store, so that deliveries never wait for the ingest
//! writer's lock. Every write that a partner's acknowledgement depends on is committed with
//! `synchronous = FULL` before the acknowledgement leaves.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use limes_federation::{
    AgencyKey, Draft, Envelope, Fingerprint, MessageId, MessageType, Outcome, PublicKey, Refusal, RejectCode,
    SeqDecision, Status, StreamName, TrustAnchor, sequence,
};
use limes_model::AgencyId;
use rusqlite::{Connection, OptionalExtension, params};

use crate::LinkError;

const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_federation.sql"))];

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
    /// order, each id once. `checks` holds, per envelope, the result of the receiver's checks.
    pub fn receive(
        &self,
        sender: &AgencyId,
        envelopes: &[Envelope],
        checks: Vec<Result<(), Refusal>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>, LinkError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut outcomes = Vec::with_capacity(envelopes.len());
        {
            let mut last = tx.prepare_cached("SELECT last_seq FROM recv_streams WHERE sender = ?1 AND stream = ?2")?;
            let mut advance = tx.prepare_cached(
                "INSERT INTO recv_streams (sender, stream, last_seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sender, stream) DO UPDATE SET last_seq = ?3",
            )?;
            let mut seen = tx.prepare_cached("SELECT sender, stream, seq FROM inbox WHERE message_id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO inbox (message_id, sender, kind, stream, seq, created_us, received_us, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
                            env.payload
                        ])?;
                        advance.execute(params![sender.as_str(), env.stream.as_str(), env.seq as i64])?;
                        outcomes.push(outcome(Status::Accepted, None));
                    }
                }
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// Received messages not yet applied, oldest first.
    pub fn unapplied(&self, limit: usize) -> Result<Vec<Received>, LinkError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, message_id, sender, kind, stream, seq, created_us, received_us, payload FROM inbox
              WHERE applied_us IS NULL ORDER BY id LIMIT ?1",
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
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (row, id, sender, kind, stream, seq, created, received, payload) = row?;
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

    /// Forgets applied messages received before `before` (their ids guard against replays
    /// only as long as a message may be that old: older ones are refused as stale anyway).
    pub fn prune(&self, before: DateTime<Utc>) -> Result<u64, LinkError> {
        Ok(self.conn().execute("DELETE FROM inbox WHERE applied_us IS NOT NULL AND received_us < ?1", [us(before)])?
            as u64)
    }
}
