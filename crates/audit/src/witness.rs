//! Witnessed checkpoints (domain: no I/O; times come in as POSIX seconds).
//!
//! Alone, a node cannot prove it did not rewrite its log: the key that signs its checkpoints is
//! on the same disk as the log (design/audit.md). So other nodes **witness** it: the partners
//! its agreements name, and optionally an independent witness such as a data protection
//! authority's node, each **cosign** its checkpoints, and each only a checkpoint that extends
//! the last one it cosigned for that log (the rules of [c2sp.org/tlog-witness]'s
//! `add-checkpoint`). Messages between nodes carry the sender's newest fully cosigned
//! checkpoint; the receiver delivers a message only when that checkpoint is fresh, cosigned by
//! every witness the agreements name, and consistent with the last one it accepted from the
//! sender; otherwise it holds the message. A node that shows two partners two histories is
//! caught by any witness that sees both, and by any partner that receives both.
//!
//! The three roles, each a pure function of notes, proofs and the time:
//! - **witness**: [`witness_cosign`] checks a log's note and a [`ConsistencyProof`] from the
//!   last checkpoint it cosigned for that log ([`HeldCheckpoint`]) and returns its
//!   [`Cosignature`] and its new state, or a [`WitnessRefusal`];
//! - **bundle**: [`CosignedCheckpoint`] is the log's note with the witnesses' cosignature
//!   lines; [`verify_cosigned`] says whether every required witness signed it
//!   ([`FullyCosigned`]) or which did not;
//! - **receiver**: [`CheckpointGate::assess`] gives a [`Verdict`]: accept (and hold the new
//!   checkpoint from now on), hold the message (stale, not fully cosigned, no proof yet,
//!   unreadable), or a fork, with [`ForkEvidence`] a data protection officer can check.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use limes_audit::merkle::{MemoryTree, leaf_hash};
//! use limes_audit::witness::{CheckpointGate, ConsistencyProof, CosignedCheckpoint, Verdict, WitnessPolicy,
//!     witness_cosign};
//! use limes_audit::CheckpointSigner;
//!
//! let log = CheckpointSigner::from_seed("limes.example/ro/node-1/audit", &[1; 32])?;
//! let partner = CheckpointSigner::from_seed("limes.example/hu/node-1/witness", &[2; 32])?;
//! let tree = MemoryTree::from_leaves((0..5u8).map(|i| leaf_hash(&[i])));
//! let now = 1_780_000_000;
//!
//! // The log signs its tree head; the partner witnesses it (the first time, from size 0).
//! let signed = log.sign(5, tree.root_at(5), now);
//! let note = log.verifier().note(&signed);
//! let reply = witness_cosign(&partner, &log.verifier(), None, &note, &ConsistencyProof::new(0, 5, vec![]),
//!     now, &WitnessPolicy::default())?;
//! let mut bundle = CosignedCheckpoint::new(&log.verifier(), signed)?;
//! bundle.add(reply.cosignature)?;
//!
//! // A message carries the bundle's note; the partner's gate accepts it.
//! let gate = CheckpointGate::new(log.verifier(), vec![partner.verifier()]);
//! let Verdict::Accept(held) = gate.assess(None, &bundle.note(), None, now + 30) else { panic!() };
//! assert_eq!(held.checkpoint().size, 5);
//! # Ok(()) }
//! ```
//!
//! [c2sp.org/tlog-witness]: https://c2sp.org/tlog-witness

use std::time::Duration;

use crate::checkpoint::{Checkpoint, CheckpointError, CheckpointSigner, SignedCheckpoint, SignedNote, VerifierKey};
use crate::merkle::{Hash, ProofFailure, verify_consistency};

mod cosigned;
mod gate;
#[cfg(test)]
mod tests;

pub use cosigned::{CosignError, Cosignature, CosignedCheckpoint, FullyCosigned, verify_cosigned};
pub use gate::{CheckpointGate, HoldReason, MAX_AGE, MAX_CLOCK_AHEAD, Verdict};

/// An RFC 6962 consistency proof (§2.1.2) with the two tree sizes it links, as a log's node
/// sends it: the sizes travel with the hashes, so a proof built for another size than the
/// reader holds is told apart from a proof that fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub old_size: u64,
    pub new_size: u64,
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// No tree of up to 2^64 leaves needs more hashes (c2sp.org/tlog-witness allows 63).
    pub const MAX_HASHES: usize = 64;

    pub fn new(old_size: u64, new_size: u64, hashes: Vec<Hash>) -> Self {
        Self { old_size, new_size, hashes }
    }

    /// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree
    /// of `new_size` leaves with root `new_root`.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofFailure> {
        if self.hashes.len() > Self::MAX_HASHES {
            return Err(ProofFailure::WrongLength);
        }
        verify_consistency(self.old_size, self.new_size, old_root, new_root, &self.hashes)
    }
}

/// A checkpoint of a log, signed by the log, that a node holds: for a witness, the last one it
/// cosigned for that log (its whole state for the log); for a receiver, the last one it
/// accepted from the sender. Stored by the edge as its note and read back with
/// [`HeldCheckpoint::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldCheckpoint {
    signed: SignedCheckpoint,
    note: String,
}

impl HeldCheckpoint {
    /// Reads a note back: its origin must be the log key's name and the log's signature must
    /// verify (witness lines are kept in the note and not checked).
    pub fn open(note: &str, log_key: &VerifierKey) -> Result<Self, CheckpointError> {
        let signed = open_log_note(note, log_key)?;
        Ok(Self { signed, note: note.to_owned() })
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.signed.checkpoint
    }

    /// When the log signed it (POSIX seconds, the log's clock).
    pub fn log_time(&self) -> u64 {
        self.signed.time
    }

    /// The signed note, to store or to show as evidence.
    pub fn note(&self) -> &str {
        &self.note
    }
}

/// Parses a note, checks its origin is the log's and verifies the log's signature.
fn open_log_note(note: &str, log_key: &VerifierKey) -> Result<SignedCheckpoint, CheckpointError> {
    parse_log_note(note, log_key).map(|(_, signed)| signed)
}

/// [`open_log_note`], with the parsed note for the other signatures.
fn parse_log_note(note: &str, log_key: &VerifierKey) -> Result<(SignedNote, SignedCheckpoint), CheckpointError> {
    let parsed = SignedNote::parse(note)?;
    if parsed.checkpoint.origin != log_key.name() {
        return Err(CheckpointError::WrongOrigin {
            expected: log_key.name().to_owned(),
            found: parsed.checkpoint.origin,
        });
    }
    let signed = parsed.signature_by(log_key)?.ok_or_else(|| CheckpointError::NoSignature(log_key.to_string()))?;
    Ok((parsed, signed))
}

/// Two checkpoints signed by one log that cannot both be true of one append-only log. Each
/// note carries the log's signature, so anyone holding the log's key can check the evidence
/// ([`ForkEvidence::confirm`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForkEvidence {
    /// Two trees of the same size with different roots. Conclusive on its own.
    SameSize { held: String, presented: String },
    /// The log's own consistency proof does not link the checkpoint held to the one presented
    /// (either may be the larger: see the proof's sizes). RFC 6962 proofs between two sizes are
    /// unique, so an honest log's proof always verifies; the log may still answer with one that
    /// does, but none exists if it rewrote its history below the smaller size.
    Inconsistent { held: String, presented: String, proof: ConsistencyProof, failure: ProofFailure },
}

/// Why notes offered as fork evidence show no fork.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not evidence of a fork: {0}")]
pub struct NotEvidence(pub String);

impl ForkEvidence {
    /// The checkpoint held before, as its signed note.
    pub fn held(&self) -> &str {
        match self {
            Self::SameSize { held, .. } | Self::Inconsistent { held, .. } => held,
        }
    }

    /// The contradicting checkpoint, as its signed note.
    pub fn presented(&self) -> &str {
        match self {
            Self::SameSize { presented, .. } | Self::Inconsistent { presented, .. } => presented,
        }
    }

    /// Checks the evidence anew, as a data protection officer would with the log's key: both
    /// notes are the log's, signed by its key, and they contradict each other (one size, two
    /// roots; or the proof between their sizes fails).
    pub fn confirm(&self, log_key: &VerifierKey) -> Result<(), NotEvidence> {
        let open = |which: &str, note: &str| {
            open_log_note(note, log_key).map_err(|e| NotEvidence(format!("the {which} checkpoint: {e}")))
        };
        let held = open("held", self.held())?.checkpoint;
        let presented = open("presented", self.presented())?.checkpoint;
        match self {
            Self::SameSize { .. } => {
                if held.size != presented.size {
                    return Err(NotEvidence(format!("the sizes differ ({} and {})", held.size, presented.size)));
                }
                if held.root == presented.root {
                    return Err(NotEvidence("the two checkpoints are the same tree".into()));
                }
            }
            Self::Inconsistent { proof, .. } => {
                let (old, new) = if held.size <= presented.size { (&held, &presented) } else { (&presented, &held) };
                if (proof.old_size, proof.new_size) != (old.size, new.size) {
                    return Err(NotEvidence(format!(
                        "the proof links sizes {} and {}, the checkpoints have {} and {}",
                        proof.old_size, proof.new_size, old.size, new.size
                    )));
                }
                if proof.verify(&old.root, &new.root).is_ok() {
                    return Err(NotEvidence("the proof verifies".into()));
                }
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for ForkEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SameSize { .. } => f.write_str("the log signed two different trees of the same size"),
            Self::Inconsistent { proof, failure, .. } => write!(
                f,
                "the log's consistency proof from size {} to {} fails ({failure}): its history was rewritten",
                proof.old_size, proof.new_size
            ),
        }
    }
}

/// How far from the witness's clock the log's signing time may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WitnessPolicy {
    /// A checkpoint signed further ahead of the witness's clock is refused.
    pub max_ahead: Duration,
    /// A checkpoint new to the witness signed longer ago is refused. The checkpoint the witness
    /// cosigned last may be cosigned again at any age: that is how a log that has not grown
    /// keeps a fresh cosignature (it signs one checkpoint per size).
    pub max_behind: Duration,
}

impl Default for WitnessPolicy {
    /// One minute ahead (clocks drift, NTP or not), one hour behind (a witness that was
    /// unreachable can catch up).
    fn default() -> Self {
        Self { max_ahead: Duration::from_secs(60), max_behind: Duration::from_secs(3600) }
    }
}

/// What a witness answers when it cosigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessReply {
    /// The witness's cosignature; [`Cosignature::line`] is the note line to send back.
    pub cosignature: Cosignature,
    /// The witness's new state for the log, to store before answering (atomically with the
    /// check of the old one: c2sp.org/tlog-witness explains the rollback race otherwise).
    pub state: HeldCheckpoint,
}

/// Why a witness does not cosign. The c2sp.org/tlog-witness status each maps to is in brackets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    /// The note is malformed, another log's, or lacks a valid signature of the log's key
    /// [403, or 404 for another origin].
    #[error("checkpoint note: {0}")]
    BadNote(CheckpointError),
    /// The request does not hold together: the proof's new size is not the checkpoint's, or
    /// a proof from size 0 is not empty, or a proof between equal sizes is not empty [400].
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The checkpoint is smaller than the one this witness cosigned last: the log went back
    /// [409 with the witness's size].
    #[error("the checkpoint has {size} leaves, fewer than the {cosigned} this witness cosigned")]
    Rollback { cosigned: u64, size: u64 },
    /// The proof starts from another size than the witness's: build one from `cosigned`
    /// and ask again [409 with the size].
    #[error("this witness last cosigned size {cosigned}, the proof starts at {old_size}")]
    Conflict { cosigned: u64, old_size: u64 },
    /// The log signed another root for the size this witness cosigned [409]. Conclusive.
    #[error("fork: {0}")]
    Fork(Box<ForkEvidence>),
    /// The consistency proof from the witness's checkpoint does not verify [422]. Evidence
    /// only against whoever sent it: anyone holding two of the log's notes can send a bad
    /// proof, so the edge alerts only when the log's own node sent it.
    #[error("the consistency proof does not verify: {0}")]
    BadProof(Box<ForkEvidence>),
    /// The log's signing time is before that of the checkpoint this witness cosigned last.
    #[error("the checkpoint was signed at {time}, before the one cosigned last ({cosigned})")]
    TimeWentBack { cosigned: u64, time: u64 },
    /// The log's signing time is ahead of the witness's clock by more than the policy allows.
    #[error("the checkpoint was signed at {time}, ahead of this witness's clock ({now})")]
    FromTheFuture { time: u64, now: u64 },
    /// The checkpoint is new to this witness and was signed longer ago than the policy allows.
    #[error("the checkpoint was signed at {time}, too long before now ({now})")]
    TooOld { time: u64, now: u64 },
}

/// The witness's side of c2sp.org/tlog-witness's `add-checkpoint`: cosigns the log's
/// checkpoint in `note` at `now` if it extends `state`, the checkpoint this witness cosigned
/// last for the log (`None`: never, and the log is trusted on first use), as `proof` shows.
///
/// Checks, in order: the note (origin, the log's signature); a smaller size than `state`
/// (rollback); the same size with another root (fork); the proof's sizes (from the witness's
/// size to the checkpoint's: otherwise a conflict naming the witness's size); the proof; the
/// times. Fork and proof are checked before the times so a fork is reported however old.
pub fn witness_cosign(
    witness: &CheckpointSigner,
    log_key: &VerifierKey,
    state: Option<&HeldCheckpoint>,
    note: &str,
    proof: &ConsistencyProof,
    now: u64,
    policy: &WitnessPolicy,
) -> Result<WitnessReply, WitnessRefusal> {
    let signed = open_log_note(note, log_key).map_err(WitnessRefusal::BadNote)?;
    let checkpoint = &signed.checkpoint;
    if let Some(state) = state {
        let cosigned = state.checkpoint();
        if checkpoint.size < cosigned.size {
            return Err(WitnessRefusal::Rollback { cosigned: cosigned.size, size: checkpoint.size });
        }
        if checkpoint.size == cosigned.size && checkpoint.root != cosigned.root {
            let (held, presented) = (state.note.clone(), note.to_owned());
            return Err(WitnessRefusal::Fork(Box::new(ForkEvidence::SameSize { held, presented })));
        }
    }
    if proof.new_size != checkpoint.size {
        return Err(WitnessRefusal::BadRequest(format!(
            "the proof ends at size {}, the checkpoint has {} leaves",
            proof.new_size, checkpoint.size
        )));
    }
    let cosigned_size = state.map_or(0, |s| s.checkpoint().size);
    if proof.old_size != cosigned_size {
        return Err(WitnessRefusal::Conflict { cosigned: cosigned_size, old_size: proof.old_size });
    }
    // The checkpoint cosigned last, offered again (the roots are equal, checked above).
    let refresh = state.is_some_and(|s| s.checkpoint().size == checkpoint.size);
    if (proof.old_size == 0 || refresh) && !proof.hashes.is_empty() {
        return Err(WitnessRefusal::BadRequest(format!(
            "a proof from size {} to {} has no hashes",
            proof.old_size, proof.new_size
        )));
    }
    if let Some(state) = state
        && let Err(failure) = proof.verify(&state.checkpoint().root, &checkpoint.root)
    {
        return Err(WitnessRefusal::BadProof(Box::new(ForkEvidence::Inconsistent {
            held: state.note.clone(),
            presented: note.to_owned(),
            proof: proof.clone(),
            failure,
        })));
    }
    if let Some(state) = state
        && signed.time < state.log_time()
    {
        return Err(WitnessRefusal::TimeWentBack { cosigned: state.log_time(), time: signed.time });
    }
    if signed.time > now.saturating_add(policy.max_ahead.as_secs()) {
        return Err(WitnessRefusal::FromTheFuture { time: signed.time, now });
    }
    if !refresh && now.saturating_sub(signed.time) > policy.max_behind.as_secs() {
        return Err(WitnessRefusal::TooOld { time: signed.time, now });
    }
    let cosignature = Cosignature { witness: witness.verifier(), signed: witness.cosign(checkpoint.clone(), now) };
    let state = HeldCheckpoint { note: log_key.note(&signed), signed };
    Ok(WitnessReply { cosignature, state })
}
