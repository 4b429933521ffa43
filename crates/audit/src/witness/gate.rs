//! The receiver's gate: whether a message's checkpoint lets the message in.

use std::time::Duration;

use super::cosigned::names;
use super::{ConsistencyProof, CosignedCheckpoint, ForkEvidence, HeldCheckpoint};
use crate::checkpoint::{CheckpointError, VerifierKey};

/// How old a message's checkpoint may be: its oldest required cosignature (issue #6).
pub const MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// How far ahead of the receiver's clock a signature's time may be.
pub const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(60);

/// What to do with a message, given its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Deliver the message, and hold this checkpoint from now on (the newer of the one held
    /// and the one presented).
    Accept(HeldCheckpoint),
    /// Keep the message in the inbox, and assess it again when a newer checkpoint or the proof
    /// arrives. Nothing is wrong yet, or nothing can be told yet.
    Hold(HoldReason),
    /// The sender's log contradicts the checkpoint held: alert the data protection officer
    /// with the evidence, and keep holding the message.
    Fork(ForkEvidence),
}

/// Why a message is held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldReason {
    /// The note is malformed, another log's, not signed by the log, or a required witness's
    /// signature in it does not verify.
    #[error("unreadable checkpoint: {0}")]
    Invalid(CheckpointError),
    /// No proof links the checkpoint held and the one presented: ask the sender for the proof
    /// from size `old` to size `new`.
    #[error("no consistency proof from size {old} to {new}")]
    NeedsProof { old: u64, new: u64 },
    /// These witnesses that the agreements name have not cosigned it (yet).
    #[error("not cosigned by {}", names(.missing))]
    NotFullyCosigned { missing: Vec<VerifierKey> },
    /// Its oldest required cosignature is older than the gate allows.
    #[error("the checkpoint's oldest cosignature is {}s old, more than {}s", .age.as_secs(), .max_age.as_secs())]
    TooOld { age: Duration, max_age: Duration },
    /// A signature's time is ahead of this node's clock by more than the gate allows.
    #[error("a signature is dated {time}, ahead of this node's clock ({now})")]
    FromTheFuture { time: u64, now: u64 },
}

/// A receiver's rules for the checkpoints of one sender's log: its key, the witnesses the
/// agreements with it name, how fresh a checkpoint must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointGate {
    log_key: VerifierKey,
    witnesses: Vec<VerifierKey>,
    max_age: Duration,
    max_ahead: Duration,
}

impl CheckpointGate {
    /// A gate for the log of `log_key` whose checkpoints `witnesses` must all cosign, at most
    /// [`MAX_AGE`] old, at most [`MAX_CLOCK_AHEAD`] ahead.
    pub fn new(log_key: VerifierKey, witnesses: Vec<VerifierKey>) -> Self {
        Self { log_key, witnesses, max_age: MAX_AGE, max_ahead: MAX_CLOCK_AHEAD }
    }

    pub fn with_max_age(self, max_age: Duration) -> Self {
        Self { max_age, ..self }
    }

    pub fn with_max_clock_ahead(self, max_ahead: Duration) -> Self {
        Self { max_ahead, ..self }
    }

    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    pub fn witnesses(&self) -> &[VerifierKey] {
        &self.witnesses
    }

    /// Assesses the checkpoint `note` a message carries, given `held`, the last checkpoint this
    /// gate accepted from the log (`None` at first contact: the first checkpoint is trusted
    /// once it is fully cosigned and fresh), `proof` the consistency proof the sender sent
    /// with it, if any, and `now` (POSIX seconds).
    ///
    /// In order:
    /// 1. the note must open (origin, the log's signature, required witnesses' signatures):
    ///    else hold, [`HoldReason::Invalid`];
    /// 2. against `held`: the same size with another root is a fork; other sizes need a proof
    ///    from the smaller to the larger (held, [`HoldReason::NeedsProof`], when there is none
    ///    for exactly those sizes), and a proof that fails is a fork. A fork is found before
    ///    the cosignatures and times are looked at: evidence needs only the log's signatures;
    /// 3. every required witness cosigned: else hold, [`HoldReason::NotFullyCosigned`];
    /// 4. no signature more than the allowed skew ahead of `now`, and the oldest required
    ///    cosignature (the log's signature when no witness is required) at most the maximum
    ///    age: else hold.
    ///
    /// The proof must come from the log's own node (the edge checks that the message's sender
    /// is the node whose log this is): a failing proof is then the log's fault.
    pub fn assess(
        &self,
        held: Option<&HeldCheckpoint>,
        note: &str,
        proof: Option<&ConsistencyProof>,
        now: u64,
    ) -> Verdict {
        let cosigned = match CosignedCheckpoint::open(note, &self.log_key, &self.witnesses) {
            Ok(cosigned) => cosigned,
            Err(e) => return Verdict::Hold(HoldReason::Invalid(e)),
        };
        if let Some(held) = held
            && let Some(verdict) = self.check_consistency(held, &cosigned, note, proof)
        {
            return verdict;
        }
        let missing = cosigned.missing(&self.witnesses);
        if !missing.is_empty() {
            return Verdict::Hold(HoldReason::NotFullyCosigned { missing });
        }
        let log_time = cosigned.log_signature().time;
        let cosigned_at: Vec<u64> =
            self.witnesses.iter().filter_map(|w| cosigned.cosignature_by(w)).map(|c| c.time()).collect();
        if let Some(&time) =
            cosigned_at.iter().chain([&log_time]).find(|&&t| t > now.saturating_add(self.max_ahead.as_secs()))
        {
            return Verdict::Hold(HoldReason::FromTheFuture { time, now });
        }
        let oldest = cosigned_at.iter().copied().min().unwrap_or(log_time);
        let age = Duration::from_secs(now.saturating_sub(oldest));
        if age > self.max_age {
            return Verdict::Hold(HoldReason::TooOld { age, max_age: self.max_age });
        }
        match held {
            Some(held) if held.checkpoint().size >= cosigned.checkpoint().size => Verdict::Accept(held.clone()),
            _ => Verdict::Accept(HeldCheckpoint { signed: cosigned.log_signature().clone(), note: cosigned.note() }),
        }
    }

    /// Step 2 of [`CheckpointGate::assess`]: a verdict if the presented checkpoint is not
    /// (yet) known to extend or precede the one held.
    fn check_consistency(
        &self,
        held: &HeldCheckpoint,
        cosigned: &CosignedCheckpoint,
        note: &str,
        proof: Option<&ConsistencyProof>,
    ) -> Option<Verdict> {
        let (h, p) = (held.checkpoint(), cosigned.checkpoint());
        let evidence_notes = || (held.note().to_owned(), note.to_owned());
        if h.size == p.size {
            if h.root == p.root {
                return None;
            }
            let (held, presented) = evidence_notes();
            return Some(Verdict::Fork(ForkEvidence::SameSize { held, presented }));
        }
        let (old, new) = if h.size < p.size { (h, p) } else { (p, h) };
        let Some(proof) = proof.filter(|proof| (proof.old_size, proof.new_size) == (old.size, new.size)) else {
            return Some(Verdict::Hold(HoldReason::NeedsProof { old: old.size, new: new.size }));
        };
        let failure = proof.verify(&old.root, &new.root).err()?;
        let (held, presented) = evidence_notes();
        Some(Verdict::Fork(ForkEvidence::Inconsistent { held, presented, proof: proof.clone(), failure }))
    }
}
