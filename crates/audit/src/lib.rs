//! The node's audit log: every act on personal data that Article 25 of the Law Enforcement
//! Directive requires to be logged (collection, alteration, consultation, disclosure and
//! transfer, combination, erasure) and access control events, kept so that a data protection
//! officer can read them and anyone holding the node's checkpoints can tell they were not
//! rewritten. See `design/audit.md`.
//!
//! Two halves:
//! - **domain** (no I/O): [`AuditRecord`] and its salted leaf ([`record`]), the RFC 6962 Merkle
//!   tree with inclusion and consistency proofs ([`merkle`]), signed checkpoints in the C2SP
//!   signed-note form ([`checkpoint`]), and their witnessing ([`witness`]): partners cosign a
//!   node's checkpoints only if they extend the ones cosigned before, and a receiver's
//!   [`CheckpointGate`] holds messages whose checkpoint is stale, not fully cosigned or
//!   forked;
//! - **edge**: [`AuditLog`], SQLite in `<data_dir>/audit.sqlite` (its own file, so auditing never
//!   contends with the reads store) with one writer thread doing group commit and signing a
//!   checkpoint at least every second while the log grows; [`verify()`] recomputes everything
//!   and names the first place where the log breaks; [`export()`] writes records as JSON lines.
//!
//! Records are erasable, the log is not: erasing a record deletes its row and its salt and
//! keeps its leaf, so the tree and every checkpoint still verify, and the erasure is itself
//! logged.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use limes_audit::{Action, Actor, AuditEvent, AuditLog, AuditOptions, Details, Object, Outcome};
//! let dir = tempfile::tempdir()?;
//! let log = AuditLog::open(dir.path(), AuditOptions::new("limes.example/node-1/audit"))?;
//! let seq = log.append_blocking(AuditEvent {
//!     actor: Actor::User("ana".into()),
//!     role: "investigator".into(),
//!     action: Action::Consult,
//!     object: Object::plate("B123ABC"),
//!     purpose: "investigation".into(),
//!     legal_basis: "RO Law 363/2018 art. 5".into(),
//!     case_ref: Some("2026/117".into()),
//!     outcome: Outcome::Allowed,
//!     details: Details::none(),
//! })?;
//! assert_eq!(seq, 0);
//! log.checkpoint_now()?;
//! let report = limes_audit::verify(log.path(), &log.verifier_key())?;
//! assert_eq!((report.size, report.checkpoints), (1, 1));
//! # Ok(()) }
//! ```

use std::path::PathBuf;

pub mod checkpoint;
mod export;
mod log;
pub mod merkle;
pub mod record;
mod schema;
mod sql;
mod verify;
pub mod witness;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointSigner, SignedCheckpoint, SignedNote, VerifierKey};
pub use export::{ExportFilter, export};
pub use log::{AuditLog, AuditOptions, DB_FILE, ERASURE_OBJECT, Erased, Erasure, KEY_FILE, Pending, read_verifier_key};
pub use merkle::{Hash, ProofFailure};
pub use record::{Action, Actor, AuditEvent, AuditRecord, Details, InvalidEvent, Object, Outcome};
pub use verify::{Break, Place, VerifyError, VerifyReport, verify};
pub use witness::{
    CheckpointGate, ConsistencyProof, CosignedCheckpoint, FullyCosigned, HeldCheckpoint, Verdict, verify_cosigned,
    witness_cosign,
};

/// What went wrong in the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database engine failed (disk full, corruption, I/O error).
    #[error("audit database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The database was written by a newer limes.
    #[error("audit schema version {found} is newer than this limes supports ({supported})")]
    TooNew { found: i64, supported: i64 },
    /// Creating the data directory or a file in it failed.
    #[error("{path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    /// The event breaks a limit of the log.
    #[error("invalid audit event: {0}")]
    Invalid(#[from] InvalidEvent),
    /// The checkpoint key is unreadable or malformed.
    #[error("audit checkpoint key: {0}")]
    Key(#[from] CheckpointError),
    /// The log has entries or a recorded key, but its key file is gone: a new key would make
    /// every earlier checkpoint unverifiable, so none is made.
    #[error("{path} is missing but the audit log already has a key; restore the key file")]
    KeyMissing { path: PathBuf },
    /// The configured origin is not the one the log was created with.
    #[error("the audit log's origin is {stored:?}, not {configured:?}")]
    OriginChanged { stored: String, configured: String },
    /// The key file is not the key the log was created with.
    #[error("the key file's key {found} is not the audit log's key {stored}")]
    KeyChanged { stored: String, found: String },
    /// The operating system gave no random bytes for salts or keys.
    #[error("no random bytes: {0}")]
    Random(String),
    /// The writer thread has stopped (after a fatal error or at shutdown).
    #[error("the audit log's writer has stopped")]
    WriterGone,
    /// A stored value is not what the log writes; the database was changed outside limes.
    #[error("corrupt audit log: {0}")]
    Corrupt(String),
    /// A record, a size or a proof outside the log.
    #[error("{0}")]
    NotFound(String),
    /// The log does not do this (erasing an erasure record).
    #[error("{0}")]
    Refused(String),
}
