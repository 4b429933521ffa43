//! What nodes of different agencies say to each other, as plain types and functions.
//!
//! - [`anchor`]: trust anchors, the files agencies exchange out of band to become partners.
//! - [`envelope`]: signed messages and the batches a request carries.
//! - [`check`]: what a receiver checks before a message takes effect, and its receipts.
//! - [`clip`]: the signed manifest beside an exported video clip.
//! - [`backoff`]: how long a sender waits before trying a partner again.
//!
//! No I/O here: `limes-link` holds the outbox and inbox, the mutual-TLS transport and the
//! delivery loops.

pub mod anchor;
pub mod backoff;
mod canonical;
pub mod check;
pub mod clip;
pub mod envelope;
pub mod key;
pub mod receipt;

pub use anchor::{
    ANCHOR_FORMAT, ANCHOR_FORMAT_V1, AnchorError, AnchorFields, Fingerprint, TrustAnchor, VerifiedAnchor,
};
pub use check::{
    CheckpointAck, CheckpointStatus, Limits, Outcome, Peer, Receipt, Refusal, RejectCode, SeqDecision, Status,
    check_batch, check_envelope, sequence,
};
pub use envelope::{
    Batch, BatchCheckpoint, BatchFrame, Draft, Envelope, MessageId, MessageType, NameError, StreamName, WireProof,
};
pub use key::{AgencyKey, KeyError, PublicKey};
pub use receipt::{DELETION_RECEIPT, DeletionReason, DeletionReceipt};
