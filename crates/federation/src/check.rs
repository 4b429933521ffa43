//! What a receiving node checks, in order, before a message may take effect.
//!
//! First the batch: that it comes from the agency whose certificate opened the connection,
//! that its signature verifies, that it was sent recently by the receiver's clock, and that it
//! is addressed to the receiver. Then each envelope: its sender, signature and digest, its
//! age, its recipient, its size and whether the partner may send its type. Replays are caught
//! by [`sequence`] against the receiver's per-stream state and by the message id.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};

use crate::envelope::{Batch, Envelope, MessageId, MessageType, SealError};
use crate::key::PublicKey;

/// Why a batch or a message was refused: a code for programs and a sentence for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    Malformed,
    UnknownPeer,
    Revoked,
    SenderMismatch,
    BadSignature,
    BadDigest,
    WrongRecipient,
    ClockSkew,
    Stale,
    Replayed,
    TypeNotAccepted,
    Oversized,
    TooManyEnvelopes,
    Gap,
    Unavailable,
    /// The sharing agreement with the sender does not allow the message (or there is none).
    NotAgreed,
}

impl RejectCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::Malformed => "malformed",
            RejectCode::UnknownPeer => "unknown_peer",
            RejectCode::Revoked => "revoked",
            RejectCode::SenderMismatch => "sender_mismatch",
            RejectCode::BadSignature => "bad_signature",
            RejectCode::BadDigest => "bad_digest",
            RejectCode::WrongRecipient => "wrong_recipient",
            RejectCode::ClockSkew => "clock_skew",
            RejectCode::Stale => "stale",
            RejectCode::Replayed => "replayed",
            RejectCode::TypeNotAccepted => "type_not_accepted",
            RejectCode::Oversized => "oversized",
            RejectCode::TooManyEnvelopes => "too_many_envelopes",
            RejectCode::Gap => "gap",
            RejectCode::Unavailable => "unavailable",
            RejectCode::NotAgreed => "not_agreed",
        }
    }

    /// Whether sending the same message again later may succeed: a clock that catches up, a
    /// gap that an earlier message fills, a receiver that recovers. Every other refusal is
    /// final for that message, and the sender sets it aside.
    pub fn is_transient(self) -> bool {
        matches!(self, RejectCode::ClockSkew | RejectCode::Gap | RejectCode::Unavailable)
    }
}

/// A refusal with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub code: RejectCode,
    pub error: String,
}

impl Refusal {
    pub fn new(code: RejectCode, error: impl Into<String>) -> Self {
        Self { code, error: error.into() }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.error, self.code.as_str())
    }
}

/// The receiver's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How far a batch's sending time may be from the receiver's clock, either way.
    pub clock_tolerance: Duration,
    /// How old a message may be when it arrives (and how long its id is remembered).
    pub max_age: Duration,
    pub max_payload_bytes: usize,
    pub max_envelopes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            clock_tolerance: Duration::seconds(120),
            max_age: Duration::days(7),
            max_payload_bytes: 1 << 20,
            max_envelopes: 1000,
        }
    }
}

/// The sending partner as the receiver knows it (from the certificate that opened the connection).
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    pub agency: &'a AgencyId,
    pub key: &'a PublicKey,
    /// The message types this partner may send us.
    pub receive: &'a BTreeSet<MessageType>,
}

/// Checks a batch before any of its envelopes.
pub fn check_batch(
    batch: &Batch,
    me: &AgencyId,
    peer: Peer<'_>,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<(), Refusal> {
    if &batch.sender != peer.agency {
        return Err(Refusal::new(
            RejectCode::SenderMismatch,
            format!("the batch says it is from {} but the connection's certificate is {}'s", batch.sender, peer.agency),
        ));
    }
    if !batch.verifies(peer.key) {
        return Err(Refusal::new(
            RejectCode::BadSignature,
            format!("the batch signature does not verify with {}'s key", peer.agency),
        ));
    }
    let skew = batch.sent_at - now;
    if skew.abs() > limits.clock_tolerance {
        return Err(Refusal::new(
            RejectCode::ClockSkew,
            format!(
                "the batch was sent at {} by the sender's clock, {:.1} s {} the receiver's clock; at most {} s is tolerated",
                batch.sent_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                skew.abs().as_seconds_f64(),
                if skew > Duration::zero() { "ahead of" } else { "behind" },
                limits.clock_tolerance.num_seconds()
            ),
        ));
    }
    if &batch.recipient != me {
        return Err(Refusal::new(
            RejectCode::WrongRecipient,
            format!("the batch is for {}, this node is {me}", batch.recipient),
        ));
    }
    if batch.envelopes.len() > limits.max_envelopes {
        return Err(Refusal::new(
            RejectCode::TooManyEnvelopes,
            format!("{} envelopes in one batch; at most {}", batch.envelopes.len(), limits.max_envelopes),
        ));
    }
    Ok(())
}

/// Checks one envelope of a batch that passed [`check_batch`].
pub fn check_envelope(
    env: &Envelope,
    batch: &Batch,
    me: &AgencyId,
    peer: Peer<'_>,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<(), Refusal> {
    if env.sender != batch.sender {
        return Err(Refusal::new(
            RejectCode::SenderMismatch,
            format!("message from {} in a batch from {}", env.sender, batch.sender),
        ));
    }
    if env.payload.len() > limits.max_payload_bytes {
        return Err(Refusal::new(
            RejectCode::Oversized,
            format!(
                "the payload is {} bytes; at most {} (send large files in chunks)",
                env.payload.len(),
                limits.max_payload_bytes
            ),
        ));
    }
    match env.open(peer.key) {
        Ok(()) => {}
        Err(SealError::Signature) => {
            return Err(Refusal::new(
                RejectCode::BadSignature,
                format!("the message signature does not verify with {}'s key", peer.agency),
            ));
        }
        Err(SealError::Digest) => return Err(Refusal::new(RejectCode::BadDigest, SealError::Digest.to_string())),
        Err(SealError::Seq) => return Err(Refusal::new(RejectCode::Malformed, SealError::Seq.to_string())),
    }
    if env.created_at - now > limits.clock_tolerance {
        return Err(Refusal::new(
            RejectCode::ClockSkew,
            format!("the message was made {:.1} s in the receiver's future", (env.created_at - now).as_seconds_f64()),
        ));
    }
    if now - env.created_at > limits.max_age {
        return Err(Refusal::new(
            RejectCode::Stale,
            format!(
                "the message is {} h old; at most {} h is accepted",
                (now - env.created_at).num_hours(),
                limits.max_age.num_hours()
            ),
        ));
    }
    if &env.recipient != me {
        return Err(Refusal::new(
            RejectCode::WrongRecipient,
            format!("the message is for {}, this node is {me}", env.recipient),
        ));
    }
    if !peer.receive.contains(&env.kind) {
        return Err(Refusal::new(
            RejectCode::TypeNotAccepted,
            format!(
                "{} may not send {} messages to this node (its partner entry does not list the type)",
                peer.agency, env.kind
            ),
        ));
    }
    Ok(())
}

/// Where a message stands in its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqDecision {
    /// The next one: it takes effect.
    Next,
    /// Already taken: acknowledge again, do nothing.
    Duplicate,
    /// One or more before it are missing: ask for them first.
    Gap { expected: u64 },
}

/// Decides a message's fate from the last sequence number its stream took (0 for none).
pub fn sequence(last: u64, seq: u64) -> SeqDecision {
    if seq <= last {
        SeqDecision::Duplicate
    } else if seq == last + 1 {
        SeqDecision::Next
    } else {
        SeqDecision::Gap { expected: last + 1 }
    }
}

/// What became of one message of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Stored by the receiver; it takes effect.
    Accepted,
    /// The receiver had it already.
    Duplicate,
    /// Refused for good: the sender sets it aside.
    Rejected,
    /// Not taken now; send it again later.
    Retry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub id: MessageId,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
}

/// The receiver's answer to a batch it checked: one outcome per envelope, in order, and what
/// it made of the batch's audit checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub outcomes: Vec<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointAck>,
}

/// What a receiver made of the sender's audit checkpoint (witnessed audit, design/audit.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointAck {
    /// The size of the sender's checkpoint the receiver holds now (0: none): the next batch's
    /// consistency proof starts (or ends) there.
    pub held_size: u64,
    pub status: CheckpointStatus,
    /// Why, in words, when the status is not `accepted`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// The receiver's verdict on a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStatus {
    /// The sender's messages are delivered.
    Accepted,
    /// The sender's data messages are stored but held until a checkpoint is accepted.
    Held,
    /// The checkpoint contradicts the one the receiver holds: messages are held, the evidence kept.
    Fork,
    /// The receiver does not require one from this sender (no agreement in force, or it
    /// does not require witnessed checkpoints).
    NotRequired,
}
