//! The cosigned note: a log's checkpoint with its witnesses' cosignature lines.

use crate::checkpoint::{
    Checkpoint, CheckpointError, MAX_NOTE_BYTES, MAX_NOTE_SIGNATURES, SignedCheckpoint, VerifierKey,
};

/// One witness's timestamped cosignature of a checkpoint, with the witness's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub witness: VerifierKey,
    /// The checkpoint, the witness's time and its signature.
    pub signed: SignedCheckpoint,
}

impl Cosignature {
    /// When the witness cosigned (POSIX seconds, the witness's clock).
    pub fn time(&self) -> u64 {
        self.signed.time
    }

    /// The note line `— <witness name> base64(key ID || time || signature)`, newline
    /// included: what a witness answers to `add-checkpoint`.
    pub fn line(&self) -> String {
        self.signed.signature_line(self.witness.name(), self.witness.id())
    }
}

/// Two keys are the same signer in a note when their name and key ID are (c2sp.org/signed-note).
fn same_signer(a: &VerifierKey, b: &VerifierKey) -> bool {
    a.name() == b.name() && a.id() == b.id()
}

/// A log's checkpoint with its signature, verified, and the verified cosignatures of the
/// witnesses the reader knows. Its [`note`](CosignedCheckpoint::note) is the log's note with
/// one line per cosignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignedCheckpoint {
    log_key: VerifierKey,
    log: SignedCheckpoint,
    cosignatures: Vec<Cosignature>,
}

impl CosignedCheckpoint {
    /// The log's own signed checkpoint, no cosignature yet: what the log's node starts from
    /// before asking its witnesses.
    pub fn new(log_key: &VerifierKey, log: SignedCheckpoint) -> Result<Self, CheckpointError> {
        if log.checkpoint.origin != log_key.name() {
            return Err(CheckpointError::WrongOrigin {
                expected: log_key.name().to_owned(),
                found: log.checkpoint.origin,
            });
        }
        log_key.verify(&log)?;
        Ok(Self { log_key: log_key.clone(), log, cosignatures: Vec::new() })
    }

    /// Opens a note received: parsed strictly ([`SignedNote::parse`]), its origin the log
    /// key's name, the log's signature verified, and the cosignature of each of `witnesses`
    /// that the note holds verified and kept. A known key's signature that fails rejects the
    /// note; lines of other keys are ignored (c2sp.org/signed-note).
    pub fn open(note: &str, log_key: &VerifierKey, witnesses: &[VerifierKey]) -> Result<Self, CheckpointError> {
        let (parsed, log) = super::parse_log_note(note, log_key)?;
        let mut checkpoint = Self { log_key: log_key.clone(), log, cosignatures: Vec::new() };
        for witness in witnesses {
            if same_signer(witness, log_key) || checkpoint.cosignature_by(witness).is_some() {
                continue;
            }
            if let Some(signed) = parsed.signature_by(witness)? {
                checkpoint.cosignatures.push(Cosignature { witness: witness.clone(), signed });
            }
        }
        Ok(checkpoint)
    }

    /// Adds a witness's cosignature (as [`witness_cosign`](super::witness_cosign) returns it,
    /// or read from a witness's answer). It must verify and be of this checkpoint; a newer
    /// one of the same witness replaces the older, an older one is ignored.
    pub fn add(&mut self, cosignature: Cosignature) -> Result<(), CheckpointError> {
        let bad = |m: &str| CheckpointError::BadNote(m.to_owned());
        if cosignature.signed.checkpoint != self.log.checkpoint {
            return Err(bad("the cosignature is of another checkpoint"));
        }
        if same_signer(&cosignature.witness, &self.log_key) {
            return Err(bad("the log's own key is not a witness"));
        }
        cosignature.witness.verify(&cosignature.signed)?;
        match self.cosignatures.iter_mut().find(|c| same_signer(&c.witness, &cosignature.witness)) {
            Some(held) if held.time() < cosignature.time() => *held = cosignature,
            Some(_) => {}
            None => {
                if self.cosignatures.len() + 1 >= MAX_NOTE_SIGNATURES
                    || self.note().len() + cosignature.line().len() > MAX_NOTE_BYTES
                {
                    return Err(bad("the note would be over the limits of a note"));
                }
                self.cosignatures.push(cosignature);
            }
        }
        Ok(())
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.log.checkpoint
    }

    /// The log's signature (its time is the log's clock).
    pub fn log_signature(&self) -> &SignedCheckpoint {
        &self.log
    }

    pub fn cosignatures(&self) -> &[Cosignature] {
        &self.cosignatures
    }

    /// The cosignature of `witness`, if the note has one.
    pub fn cosignature_by(&self, witness: &VerifierKey) -> Option<&Cosignature> {
        self.cosignatures.iter().find(|c| same_signer(&c.witness, witness))
    }

    /// The keys of `required` that have not cosigned, in their order.
    pub fn missing(&self, required: &[VerifierKey]) -> Vec<VerifierKey> {
        required.iter().filter(|w| self.cosignature_by(w).is_none()).cloned().collect()
    }

    /// The note: the checkpoint, the log's signature line, then one line per cosignature.
    pub fn note(&self) -> String {
        let mut note = self.log_key.note(&self.log);
        for cosignature in &self.cosignatures {
            note.push_str(&cosignature.line());
        }
        note
    }

    /// This checkpoint if every one of `required` cosigned it, or the ones that did not.
    pub fn fully_cosigned(&self, required: &[VerifierKey]) -> Result<FullyCosigned, CosignError> {
        let missing = self.missing(required);
        if !missing.is_empty() {
            return Err(CosignError::NotFullyCosigned { missing });
        }
        Ok(FullyCosigned(self.clone()))
    }
}

/// A cosigned checkpoint that every witness required when it was checked has cosigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullyCosigned(CosignedCheckpoint);

impl FullyCosigned {
    pub fn cosigned(&self) -> &CosignedCheckpoint {
        &self.0
    }

    pub fn into_cosigned(self) -> CosignedCheckpoint {
        self.0
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        self.0.checkpoint()
    }

    /// The note, to attach to a message.
    pub fn note(&self) -> String {
        self.0.note()
    }
}

/// Why a note is not a fully cosigned checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignError {
    /// The note is malformed, another log's, not signed by the log, or a known witness's
    /// signature in it does not verify.
    #[error(transparent)]
    Invalid(#[from] CheckpointError),
    /// These required witnesses have not cosigned it (yet).
    #[error("not cosigned by {}", names(.missing))]
    NotFullyCosigned { missing: Vec<VerifierKey> },
}

/// Key names, comma-separated.
pub(super) fn names(keys: &[VerifierKey]) -> String {
    keys.iter().map(VerifierKey::name).collect::<Vec<_>>().join(", ")
}

/// Opens `note` as the log's checkpoint and checks that every one of `required` cosigned it.
pub fn verify_cosigned(
    note: &str,
    log_key: &VerifierKey,
    required: &[VerifierKey],
) -> Result<FullyCosigned, CosignError> {
    CosignedCheckpoint::open(note, log_key, required)?.fully_cosigned(required)
}
