//! Envelopes (one signed message) and batches (what one request carries).
//!
//! An envelope is signed by the sending agency over its id, sender, recipient, type,
//! stream and sequence, creation time and the SHA-256 of its payload. It stays valid while
//! it waits in an outbox for a partner that is down. A batch wraps the envelopes sent in one
//! request with the time of *sending*, signed too: that is what the receiver checks against
//! its clock (an envelope queued for a day is not stale; a batch sent "a day ago" is).
//!
//! A batch may carry the sender's newest fully cosigned audit checkpoint ([`BatchCheckpoint`],
//! witnessed audit: design/audit.md), signed with the batch; a batch without one signs as
//! before.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, TimeZone, Utc};
use limes_model::AgencyId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::canonical::signed_bytes;
use crate::key::{AgencyKey, KeyError, PublicKey};

const ENVELOPE_DOMAIN: &str = "limes-envelope-v1";
const BATCH_DOMAIN: &str = "limes-batch-v1";

/// A message's identifier: 16 random bytes, 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub [u8; 16]);

impl MessageId {
    pub fn random() -> Result<Self, KeyError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self(b))
    }

    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for MessageId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        MessageId::parse(&s).ok_or_else(|| serde::de::Error::custom("a message id is 32 hex digits"))
    }
}

/// Why a name (message type or stream) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} must be 1–64 characters of a–z, 0–9 and . _ - ~, starting with a letter")]
pub struct NameError {
    kind: &'static str,
    value: String,
}

fn check_name(kind: &'static str, s: &str) -> Result<(), NameError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'~'));
    if ok { Ok(()) } else { Err(NameError { kind, value: s.chars().take(80).collect() }) }
}

macro_rules! name_type {
    ($(#[$m:meta])* $name:ident, $kind:literal) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<Self, NameError> {
                let s = s.into();
                check_name($kind, &s)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::new(s)
            }
        }
        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}

name_type!(
    /// What a message is, e.g. `alert`. A partner entry lists the types it may receive.
    MessageType,
    "message type"
);
name_type!(
    /// A sequence of messages whose order the receiver keeps, e.g. `alerts~3f9a0c1d`. Opaque to
    /// the receiver; a sender starts new stream names whenever its numbering restarts.
    StreamName,
    "stream"
);

/// One signed message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub id: MessageId,
    pub sender: AgencyId,
    pub recipient: AgencyId,
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub stream: StreamName,
    /// 1, 2, 3… within the stream.
    pub seq: u64,
    /// When the sender made the message, in whole milliseconds.
    #[serde(with = "millis")]
    pub created_at: DateTime<Utc>,
    /// What the payload is, for the sharing agreement (`limes-agreement`'s labels as JSON:
    /// category, origin, purpose, how plates and images are shown). The receiver decides
    /// on these, signed, before the payload takes effect; the protocol's own messages have
    /// none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    /// SHA-256 of the payload, hex.
    #[serde(with = "hex32")]
    pub digest: [u8; 32],
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    #[serde(with = "b64_64")]
    pub signature: [u8; 64],
}

/// What a sender puts in an envelope.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: MessageId,
    pub sender: AgencyId,
    pub recipient: AgencyId,
    pub kind: MessageType,
    pub stream: StreamName,
    pub seq: u64,
    pub created_at: DateTime<Utc>,
    pub labels: Option<String>,
    pub payload: Vec<u8>,
}

/// Why an envelope's own bytes do not hold together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the payload's SHA-256 is not the digest the envelope names")]
    Digest,
    #[error("the signature does not verify with the sender's key")]
    Signature,
    #[error("the sequence number is 0 (streams count from 1)")]
    Seq,
}

fn millis_time(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(t.timestamp_millis()).single().unwrap_or(t)
}

impl Envelope {
    /// Signs a draft. The creation time is cut to whole milliseconds (what the wire carries).
    pub fn seal(draft: Draft, key: &AgencyKey) -> Envelope {
        let mut env = Envelope {
            id: draft.id,
            sender: draft.sender,
            recipient: draft.recipient,
            kind: draft.kind,
            stream: draft.stream,
            seq: draft.seq,
            created_at: millis_time(draft.created_at),
            labels: draft.labels,
            digest: Sha256::digest(&draft.payload).into(),
            payload: draft.payload,
            signature: [0; 64],
        };
        env.signature = key.sign(&env.signed_bytes());
        env
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let seq = self.seq.to_be_bytes();
        let created = self.created_at.timestamp_millis().to_be_bytes();
        let mut fields: Vec<&[u8]> = vec![
            &self.id.0,
            self.sender.as_str().as_bytes(),
            self.recipient.as_str().as_bytes(),
            self.kind.as_str().as_bytes(),
            self.stream.as_str().as_bytes(),
            &seq,
            &created,
            &self.digest,
        ];
        // Labels are a ninth field when present, so envelopes without them sign as before.
        if let Some(labels) = &self.labels {
            fields.push(labels.as_bytes());
        }
        signed_bytes(ENVELOPE_DOMAIN, &fields)
    }

    /// Checks the payload against its digest and the signature against `key`.
    pub fn open(&self, key: &PublicKey) -> Result<(), SealError> {
        if !key.verifies(&self.signed_bytes(), &self.signature) {
            return Err(SealError::Signature);
        }
        if <[u8; 32]>::from(Sha256::digest(&self.payload)) != self.digest {
            return Err(SealError::Digest);
        }
        if self.seq == 0 {
            return Err(SealError::Seq);
        }
        Ok(())
    }
}

/// The sender's audit checkpoint, as a batch carries it: the newest one its witnesses fully
/// cosigned, and the consistency proof between it and the checkpoint the receiver last said
/// it holds (either may be the larger). The receiver judges it with `limes-audit`'s
/// `CheckpointGate`; here it is text and hashes only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchCheckpoint {
    /// A C2SP signed note: the checkpoint, the log's signature and the witnesses' lines.
    pub note: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<WireProof>,
}

/// An RFC 6962 consistency proof with the two tree sizes it links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireProof {
    pub old_size: u64,
    pub new_size: u64,
    /// The proof's hashes, base64 of 32 bytes each.
    #[serde(with = "hashes")]
    pub hashes: Vec<[u8; 32]>,
}

impl BatchCheckpoint {
    /// The two fields the batch signature covers after the envelopes': the note, and the
    /// proof's sizes and hashes (empty without a proof).
    fn signed_fields(&self) -> (Vec<u8>, Vec<u8>) {
        let proof = self.proof.as_ref().map_or_else(Vec::new, |p| {
            let mut out = Vec::with_capacity(16 + 32 * p.hashes.len());
            out.extend_from_slice(&p.old_size.to_be_bytes());
            out.extend_from_slice(&p.new_size.to_be_bytes());
            p.hashes.iter().for_each(|h| out.extend_from_slice(h));
            out
        });
        (self.note.clone().into_bytes(), proof)
    }
}

/// What one request from a sender to a partner carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub sender: AgencyId,
    pub recipient: AgencyId,
    /// When the sender sent this request, in whole milliseconds.
    #[serde(with = "millis")]
    pub sent_at: DateTime<Utc>,
    /// The sender's audit checkpoint (none from a node without an audit log or witnesses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<BatchCheckpoint>,
    pub envelopes: Vec<Envelope>,
    #[serde(with = "b64_64")]
    pub signature: [u8; 64],
}

impl Batch {
    pub fn seal(
        sender: AgencyId,
        recipient: AgencyId,
        sent_at: DateTime<Utc>,
        envelopes: Vec<Envelope>,
        key: &AgencyKey,
    ) -> Batch {
        Self::seal_with_checkpoint(sender, recipient, sent_at, None, envelopes, key)
    }

    /// [`Batch::seal`], carrying the sender's audit checkpoint.
    pub fn seal_with_checkpoint(
        sender: AgencyId,
        recipient: AgencyId,
        sent_at: DateTime<Utc>,
        checkpoint: Option<BatchCheckpoint>,
        envelopes: Vec<Envelope>,
        key: &AgencyKey,
    ) -> Batch {
        let mut b =
            Batch { sender, recipient, sent_at: millis_time(sent_at), checkpoint, envelopes, signature: [0; 64] };
        b.signature = key.sign(&b.signed_bytes());
        b
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let sigs: Vec<[u8; 64]> = self.envelopes.iter().map(|e| e.signature).collect();
        batch_signed_bytes(&self.sender, &self.recipient, self.sent_at, &sigs, self.checkpoint.as_ref())
    }

    pub fn verifies(&self, key: &PublicKey) -> bool {
        key.verifies(&self.signed_bytes(), &self.signature)
    }
}

/// The batch signature covers the envelopes' own signatures, which cover their contents, and
/// the checkpoint when there is one (two more fields, so a batch without one signs as before).
fn batch_signed_bytes(
    sender: &AgencyId,
    recipient: &AgencyId,
    sent_at: DateTime<Utc>,
    sigs: &[[u8; 64]],
    checkpoint: Option<&BatchCheckpoint>,
) -> Vec<u8> {
    let sigs: Vec<u8> = sigs.iter().flatten().copied().collect();
    let sent = sent_at.timestamp_millis().to_be_bytes();
    let count = (sigs.len() as u64 / 64).to_be_bytes();
    let mut fields: Vec<&[u8]> = vec![sender.as_str().as_bytes(), recipient.as_str().as_bytes(), &sent, &count, &sigs];
    let checkpoint = checkpoint.map(BatchCheckpoint::signed_fields);
    if let Some((note, proof)) = &checkpoint {
        fields.push(note);
        fields.push(proof);
    }
    signed_bytes(BATCH_DOMAIN, &fields)
}

/// A batch's JSON around its envelopes: a sender that keeps envelopes as the JSON they were
/// signed in writes `prefix`, the envelopes separated by commas, then `suffix`, and never
/// re-encodes them. Parses as a [`Batch`].
#[derive(Debug, Clone)]
pub struct BatchFrame {
    pub prefix: String,
    pub suffix: String,
}

/// Signs a batch of envelopes given by their signatures, in order, with the sender's audit
/// checkpoint if any.
pub fn seal_batch_header(
    sender: &AgencyId,
    recipient: &AgencyId,
    sent_at: DateTime<Utc>,
    checkpoint: Option<&BatchCheckpoint>,
    envelope_signatures: &[[u8; 64]],
    key: &AgencyKey,
) -> BatchFrame {
    let sent_at = millis_time(sent_at);
    let sig = key.sign(&batch_signed_bytes(sender, recipient, sent_at, envelope_signatures, checkpoint));
    let mut head = serde_json::json!({
        "sender": sender,
        "recipient": recipient,
        "sent_at": sent_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "signature": BASE64.encode(sig),
    });
    if let (Some(checkpoint), Some(map)) = (checkpoint, head.as_object_mut()) {
        map.insert("checkpoint".into(), serde_json::to_value(checkpoint).unwrap_or_default());
    }
    let head = head.to_string();
    // `{"…":…}` → `{"…":…,"envelopes":[` and `]}`.
    BatchFrame { prefix: format!("{},\"envelopes\":[", &head[..head.len() - 1]), suffix: "]}".into() }
}

mod millis {
    use chrono::{DateTime, TimeZone, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let t = DateTime::parse_from_rfc3339(&s).map_err(serde::de::Error::custom)?.with_timezone(&Utc);
        // Exactly what was signed: a time with more precision than milliseconds was not made
        // by a limes sender and would not verify the same way on both sides.
        match Utc.timestamp_millis_opt(t.timestamp_millis()).single() {
            Some(m) if m == t => Ok(t),
            _ => Err(serde::de::Error::custom("times are given in whole milliseconds")),
        }
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&b.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bad = || serde::de::Error::custom("a digest is 64 hex digits");
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = s.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or_else(bad)?;
        }
        Ok(out)
    }
}

mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&BASE64.encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        BASE64.decode(s.as_bytes()).map_err(serde::de::Error::custom)
    }
}

mod hashes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::{Deserializer, Serializer};

    /// No RFC 6962 consistency proof of a tree below 2^64 leaves has more.
    const MAX: usize = 64;

    pub fn serialize<S: Serializer>(h: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(h.iter().map(|h| BASE64.encode(h)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        struct Hashes;
        impl<'de> serde::de::Visitor<'de> for Hashes {
            type Value = Vec<[u8; 32]>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "at most {MAX} base64 hashes of 32 bytes")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(text) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    if out.len() == MAX {
                        return Err(serde::de::Error::custom(format!("a consistency proof has at most {MAX} hashes")));
                    }
                    let bytes = BASE64.decode(text.as_bytes()).map_err(serde::de::Error::custom)?;
                    out.push(bytes.try_into().map_err(|_| serde::de::Error::custom("a hash is 32 bytes"))?);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Hashes)
    }
}

mod b64_64 {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        super::b64::serialize(b, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let v = super::b64::deserialize(d)?;
        v.try_into().map_err(|_| serde::de::Error::custom("a signature is 64 bytes"))
    }
}

/// Base64 of a signature, for logs and audit details.
pub fn signature_text(sig: &[u8; 64]) -> String {
    BASE64.encode(sig)
}
