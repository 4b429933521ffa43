//! Audit records and their leaves (domain: no I/O, no clock, no randomness).
//!
//! A record says who (`actor`, `role`) did what (`action`) to which data (`object`), when
//! (`time`), why (`purpose`, `legal_basis`, `case_ref`) and whether it was allowed (`outcome`),
//! as Article 25 of the Law Enforcement Directive (EU 2016/680) asks of every collection,
//! alteration, consultation, disclosure (transfers included), combination and erasure.
//!
//! Its leaf in the Merkle log is `SHA-256(0x00 || salt || canonical bytes)`, with a fresh random
//! 32-byte salt per record: while the record and its salt are kept, anyone holding them can
//! recompute the leaf; once both are erased, the leaf says nothing about what it was (a plate
//! cannot be guessed and hashed, for lack of the salt), and the tree above it is unchanged.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;

/// The kinds of processing Article 25 requires to be logged, and access control events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Data came in: camera reads (one record per accepted batch), imports, images.
    Collect,
    /// Stored data was changed: a hotlist entry edited, a camera's position corrected.
    Alter,
    /// Data was looked at: a search, a read or an image opened, an alert listed.
    Consult,
    /// Data was shown or given to someone outside the processing (a report, an export).
    Disclose,
    /// Data left the node for another authority (federation, a webhook): a disclosure by
    /// transmission, logged as its own kind because Article 25 names the recipients.
    Transfer,
    /// Data sets were combined (a read matched against a hotlist, a cross-search).
    Combine,
    /// Data was erased (retention, a court order, the erasure of audit records).
    Erase,
    /// A user or integration authenticated.
    Login,
    /// An access was refused (authentication or authorisation failed).
    Denied,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 9] = [
        Action::Collect,
        Action::Alter,
        Action::Consult,
        Action::Disclose,
        Action::Transfer,
        Action::Combine,
        Action::Erase,
        Action::Login,
        Action::Denied,
    ];

    /// The stored and hashed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Collect => "collect",
            Action::Alter => "alter",
            Action::Consult => "consult",
            Action::Disclose => "disclose",
            Action::Transfer => "transfer",
            Action::Combine => "combine",
            Action::Erase => "erase",
            Action::Login => "login",
            Action::Denied => "denied",
        }
    }

    /// The inverse of [`Action::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the act was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Allowed,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Outcome::Allowed),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

/// Who acted: a person, a machine integration (a camera gateway, a partner node), or the node
/// itself (retention, matching).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    User(String),
    Integration(String),
    Node(String),
}

impl Actor {
    /// `user:<id>`, `integration:<id>` or `node:<component>`, as stored and hashed.
    pub fn to_text(&self) -> String {
        match self {
            Actor::User(id) => format!("user:{id}"),
            Actor::Integration(id) => format!("integration:{id}"),
            Actor::Node(id) => format!("node:{id}"),
        }
    }

    /// The inverse of [`Actor::to_text`].
    pub fn parse(s: &str) -> Option<Self> {
        let (kind, id) = s.split_once(':')?;
        if id.is_empty() {
            return None;
        }
        match kind {
            "user" => Some(Actor::User(id.to_owned())),
            "integration" => Some(Actor::Integration(id.to_owned())),
            "node" => Some(Actor::Node(id.to_owned())),
            _ => None,
        }
    }

    fn id(&self) -> &str {
        match self {
            Actor::User(id) | Actor::Integration(id) | Actor::Node(id) => id,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Actor::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not an actor: {s:?}")))
    }
}

/// The data an act concerned, as `kind:id`: `reads:1000-1999`, `image:<sha256>`,
/// `plate:B123ABC`, `hotlist:42`, `alert:7`, `audit:records`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Object(String);

impl Object {
    /// `kind:id`.
    pub fn new(kind: &str, id: impl fmt::Display) -> Self {
        Self(format!("{kind}:{id}"))
    }

    /// A range of read ids, both ends included: `reads:1000-1999`.
    pub fn reads(first: i64, last: i64) -> Self {
        Self(format!("reads:{first}-{last}"))
    }

    /// An image by the hex SHA-256 of its bytes.
    pub fn image(sha256_hex: &str) -> Self {
        Self::new("image", sha256_hex)
    }

    /// A plate, as searched or shown.
    pub fn plate(text: &str) -> Self {
        Self::new("plate", text)
    }

    /// A hotlist entry.
    pub fn hotlist(id: u64) -> Self {
        Self::new("hotlist", id)
    }

    /// An alert.
    pub fn alert(id: i64) -> Self {
        Self::new("alert", id)
    }

    /// Any text as stored (what a database row held).
    pub fn from_text(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Further facts about an act, as compact JSON text (a search's terms, a batch's source and
/// count, the records an erasure removed). The text itself is hashed, so what is stored is
/// exactly what was logged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Details(String);

impl Details {
    /// No details: `{}`.
    pub fn none() -> Self {
        Self("{}".into())
    }

    /// The compact JSON text of `value`.
    pub fn new(value: &serde_json::Value) -> Self {
        Self(value.to_string())
    }

    /// Stored text, kept byte for byte; it must be JSON.
    pub fn parse(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        let text = text.into();
        serde_json::from_str::<serde::de::IgnoredAny>(&text)?;
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The details as a JSON value.
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

impl Default for Details {
    fn default() -> Self {
        Self::none()
    }
}

impl Serialize for Details {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Details::new(&serde_json::Value::deserialize(d)?))
    }
}

/// Most bytes a text field of a record may hold.
pub const MAX_FIELD_BYTES: usize = 4096;
/// Most bytes of a record's details.
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;

/// What a caller logs: a record without its place (`seq`) and time, which the log gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub actor: Actor,
    /// The actor's role when acting (`operator`, `investigator`, `dpo`, `camera`).
    pub role: String,
    pub action: Action,
    pub object: Object,
    /// Why: the task the act served (`border-control`, `investigation`, `audit`).
    pub purpose: String,
    /// The legal provision relied on.
    pub legal_basis: String,
    /// The case or file number, when the act served one.
    pub case_ref: Option<String>,
    pub outcome: Outcome,
    pub details: Details,
}

/// Why an event cannot be logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEvent {
    /// A required field is empty.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// A field is longer than the log accepts.
    #[error("{field} is {len} bytes, more than {max}")]
    TooLong { field: &'static str, len: usize, max: usize },
}

impl AuditEvent {
    /// Checks the limits every stored record keeps: an actor id, role, object and purpose are
    /// given; no field is oversized.
    pub fn validate(&self) -> Result<(), InvalidEvent> {
        let required = [
            ("actor", self.actor.id()),
            ("role", &self.role),
            ("object", self.object.as_str()),
            ("purpose", &self.purpose),
        ];
        for (field, value) in required {
            if value.is_empty() {
                return Err(InvalidEvent::Empty(field));
            }
        }
        let fields = [
            ("actor", self.actor.id()),
            ("role", &self.role),
            ("object", self.object.as_str()),
            ("purpose", &self.purpose),
            ("legal_basis", &self.legal_basis),
            ("case_ref", self.case_ref.as_deref().unwrap_or("")),
        ];
        for (field, value) in fields {
            if value.len() > MAX_FIELD_BYTES {
                return Err(InvalidEvent::TooLong { field, len: value.len(), max: MAX_FIELD_BYTES });
            }
        }
        if self.details.as_str().len() > MAX_DETAILS_BYTES {
            let len = self.details.as_str().len();
            return Err(InvalidEvent::TooLong { field: "details", len, max: MAX_DETAILS_BYTES });
        }
        Ok(())
    }

    /// The collection of a batch of camera reads: one record per accepted batch, whatever its
    /// size, so that auditing never caps ingest.
    pub fn reads_collected(
        source: Actor,
        first_read: i64,
        last_read: i64,
        count: usize,
        purpose: &str,
        legal_basis: &str,
    ) -> Self {
        Self {
            actor: source,
            role: "camera".into(),
            action: Action::Collect,
            object: Object::reads(first_read, last_read),
            purpose: purpose.into(),
            legal_basis: legal_basis.into(),
            case_ref: None,
            outcome: Outcome::Allowed,
            details: Details::new(&serde_json::json!({ "count": count })),
        }
    }
}

/// A logged record: the event, its place in the log and the time the log took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Its leaf index in the Merkle log, from 0.
    pub seq: u64,
    /// When the log took it (microsecond precision; that is what is hashed).
    pub time: DateTime<Utc>,
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// A record's fields as text, as stored and as hashed. Verification hashes stored rows through
/// this without interpreting them, so a damaged value still names its record.
#[derive(Debug, Clone, Copy)]
pub struct RecordText<'a> {
    pub seq: u64,
    pub time_us: i64,
    pub actor: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub object: &'a str,
    pub purpose: &'a str,
    pub legal_basis: &'a str,
    pub case_ref: Option<&'a str>,
    pub outcome: &'a str,
    pub details: &'a str,
}

/// The first bytes of every canonical record: the encoding's name and version.
const CANONICAL_TAG: &[u8] = b"limes-audit-record/v1\n";

impl RecordText<'_> {
    /// The canonical bytes: the tag, `seq` (u64) and `time_us` (i64) big-endian, then each text
    /// field as a u32 big-endian length and its UTF-8 bytes, in declaration order; `case_ref`
    /// is preceded by 0x00 when absent or 0x01 when present. Unambiguous: no two records
    /// share their bytes.
    pub fn canonical_bytes_into(&self, out: &mut Vec<u8>) {
        fn field(out: &mut Vec<u8>, s: &str) {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out.clear();
        out.extend_from_slice(CANONICAL_TAG);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time_us.to_be_bytes());
        for s in [self.actor, self.role, self.action, self.object, self.purpose, self.legal_basis] {
            field(out, s);
        }
        match self.case_ref {
            None => out.push(0),
            Some(c) => {
                out.push(1);
                field(out, c);
            }
        }
        field(out, self.outcome);
        field(out, self.details);
    }

    /// `SHA-256(0x00 || salt || canonical bytes)`, the record's leaf (RFC 6962 leaf hashing with
    /// the salt in front of the data). `scratch` is reused between calls.
    pub fn leaf(&self, salt: &[u8], scratch: &mut Vec<u8>) -> Hash {
        self.canonical_bytes_into(scratch);
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(salt);
        h.update(&scratch[..]);
        Hash(h.finalize().into())
    }
}

/// The random bytes hashed in front of a record.
pub type Salt = [u8; 32];

impl AuditRecord {
    /// The record's fields as text; `actor` is `self.event.actor.to_text()`, passed in so the
    /// caller can keep it.
    pub fn text<'a>(&'a self, actor: &'a str) -> RecordText<'a> {
        let e = &self.event;
        RecordText {
            seq: self.seq,
            time_us: self.time.timestamp_micros(),
            actor,
            role: &e.role,
            action: e.action.as_str(),
            object: e.object.as_str(),
            purpose: &e.purpose,
            legal_basis: &e.legal_basis,
            case_ref: e.case_ref.as_deref(),
            outcome: e.outcome.as_str(),
            details: e.details.as_str(),
        }
    }

    /// The record's leaf with this salt.
    pub fn leaf(&self, salt: &Salt) -> Hash {
        let actor = self.event.actor.to_text();
        self.text(&actor).leaf(salt, &mut Vec::new())
    }
}

/// Inclusive ranges of sequence numbers, as an erasure record lists the records it removed:
/// `[[3, 3], [10, 19]]`.
pub fn to_ranges(sorted: &[u64]) -> Vec<[u64; 2]> {
    let mut out: Vec<[u64; 2]> = Vec::new();
    for &s in sorted {
        match out.last_mut() {
            Some(r) if r[1] + 1 == s => r[1] = s,
            Some(r) if r[1] >= s => {}
            _ => out.push([s, s]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> AuditEvent {
        AuditEvent {
            actor: Actor::User("ana".into()),
            role: "investigator".into(),
            action: Action::Consult,
            object: Object::plate("B123ABC"),
            purpose: "investigation".into(),
            legal_basis: "RO Law 363/2018 art. 5".into(),
            case_ref: Some("2026/117".into()),
            outcome: Outcome::Allowed,
            details: Details::new(&serde_json::json!({"search": "exact"})),
        }
    }

    fn record() -> AuditRecord {
        AuditRecord { seq: 7, time: DateTime::from_timestamp_micros(1_780_000_000_123_456).unwrap(), event: event() }
    }

    #[test]
    fn names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        for o in [Outcome::Allowed, Outcome::Denied] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        for a in [Actor::User("a".into()), Actor::Integration("cam:1".into()), Actor::Node("retention".into())] {
            assert_eq!(Actor::parse(&a.to_text()), Some(a));
        }
        assert_eq!(Actor::parse("user:"), None);
        assert_eq!(Actor::parse("robot:x"), None);
    }

    #[test]
    fn every_field_changes_the_leaf() {
        let salt = [9u8; 32];
        let base = record().leaf(&salt);
        let mut changed: Vec<AuditRecord> = Vec::new();
        let mut push = |f: &dyn Fn(&mut AuditRecord)| {
            let mut r = record();
            f(&mut r);
            changed.push(r);
        };
        push(&|r| r.seq += 1);
        push(&|r| r.time += chrono::Duration::microseconds(1));
        push(&|r| r.event.actor = Actor::Integration("ana".into()));
        push(&|r| r.event.role = "operator".into());
        push(&|r| r.event.action = Action::Disclose);
        push(&|r| r.event.object = Object::plate("B123ABD"));
        push(&|r| r.event.purpose = "border-control".into());
        push(&|r| r.event.legal_basis = "other".into());
        push(&|r| r.event.case_ref = None);
        push(&|r| r.event.case_ref = Some(String::new()));
        push(&|r| r.event.outcome = Outcome::Denied);
        push(&|r| r.event.details = Details::none());
        for r in &changed {
            assert_ne!(r.leaf(&salt), base, "{r:?}");
        }
        let mut other_salt = salt;
        other_salt[31] ^= 1;
        assert_ne!(record().leaf(&other_salt), base);
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        // Moving a byte from one field to the next must change the bytes.
        let mut a = record();
        a.event.role = "ab".into();
        a.event.purpose = "c".into();
        let mut b = record();
        b.event.role = "a".into();
        b.event.purpose = "bc".into();
        assert_ne!(a.leaf(&[0; 32]), b.leaf(&[0; 32]));
    }

    #[test]
    fn canonical_bytes_are_pinned() {
        // A change of encoding must be deliberate (a new tag): pin the bytes of one record.
        let mut out = Vec::new();
        let r = record();
        let actor = r.event.actor.to_text();
        r.text(&actor).canonical_bytes_into(&mut out);
        let mut want = b"limes-audit-record/v1\n".to_vec();
        want.extend_from_slice(&7u64.to_be_bytes());
        want.extend_from_slice(&1_780_000_000_123_456i64.to_be_bytes());
        for s in ["user:ana", "investigator", "consult", "plate:B123ABC", "investigation", "RO Law 363/2018 art. 5"] {
            want.extend_from_slice(&(s.len() as u32).to_be_bytes());
            want.extend_from_slice(s.as_bytes());
        }
        want.push(1);
        want.extend_from_slice(&8u32.to_be_bytes());
        want.extend_from_slice(b"2026/117");
        for s in ["allowed", r#"{"search":"exact"}"#] {
            want.extend_from_slice(&(s.len() as u32).to_be_bytes());
            want.extend_from_slice(s.as_bytes());
        }
        assert_eq!(out, want);
    }

    #[test]
    fn validation_names_the_field() {
        let mut e = event();
        e.purpose.clear();
        assert_eq!(e.validate(), Err(InvalidEvent::Empty("purpose")));
        let mut e = event();
        e.object = Object::plate(&"X".repeat(MAX_FIELD_BYTES));
        assert!(matches!(e.validate(), Err(InvalidEvent::TooLong { field: "object", .. })));
        assert_eq!(event().validate(), Ok(()));
    }

    #[test]
    fn ranges_merge_neighbours() {
        assert_eq!(to_ranges(&[]), Vec::<[u64; 2]>::new());
        assert_eq!(to_ranges(&[3, 10, 11, 12, 19]), vec![[3, 3], [10, 12], [19, 19]]);
        assert_eq!(to_ranges(&[1, 1, 2]), vec![[1, 2]]);
    }

    #[test]
    fn records_serialise_flat() {
        let v = serde_json::to_value(record()).unwrap();
        assert_eq!(v["seq"], 7);
        assert_eq!(v["actor"], "user:ana");
        assert_eq!(v["action"], "consult");
        assert_eq!(v["object"], "plate:B123ABC");
        assert_eq!(v["details"]["search"], "exact");
        let back: AuditRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back, record());
    }
}
