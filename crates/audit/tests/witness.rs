//! Witnessing a real audit log: a partner's witness and gate follow the log as it grows; a node
//! restored from a backup that grows another history under the same key is caught by both.

use limes_audit::witness::{
    CheckpointGate, ConsistencyProof, CosignedCheckpoint, ForkEvidence, HeldCheckpoint, Verdict, WitnessPolicy,
    WitnessRefusal, witness_cosign,
};
use limes_audit::{
    Action, Actor, AuditEvent, AuditLog, AuditOptions, CheckpointSigner, DB_FILE, Details, KEY_FILE, Object, Outcome,
};

const ORIGIN: &str = "limes.test/ro-igpf/node-1/audit";

fn event(i: usize) -> AuditEvent {
    AuditEvent {
        actor: Actor::User(format!("user{}", i % 3)),
        role: "investigator".into(),
        action: Action::Consult,
        object: Object::plate(&format!("B{i:03}XYZ")),
        purpose: "investigation".into(),
        legal_basis: "RO Law 363/2018 art. 5".into(),
        case_ref: None,
        outcome: Outcome::Allowed,
        details: Details::none(),
    }
}

/// Appends events `from..to` and signs a checkpoint.
fn grow(log: &AuditLog, from: usize, to: usize) {
    for i in from..to {
        log.append_blocking(event(i)).unwrap();
    }
    log.checkpoint_now().unwrap();
}

/// A partner node: its witness of the log, and its gate for the log's messages.
struct Partner {
    witness: CheckpointSigner,
    cosigned: Option<HeldCheckpoint>,
    gate: CheckpointGate,
    held: Option<HeldCheckpoint>,
}

impl Partner {
    fn new(log: &AuditLog) -> Self {
        let witness = CheckpointSigner::from_seed("limes.test/hu-orfk/node-1/witness", &[2; 32]).unwrap();
        let gate = CheckpointGate::new(log.verifier_key(), vec![witness.verifier()]);
        Self { witness, cosigned: None, gate, held: None }
    }

    /// The log's node asks this partner to cosign its newest checkpoint, with the proof from
    /// the size the partner's witness holds.
    fn cosign(&mut self, log: &AuditLog) -> Result<CosignedCheckpoint, WitnessRefusal> {
        let (key, signed) = (log.verifier_key(), log.latest_checkpoint().unwrap());
        let size = signed.checkpoint.size;
        let old = self.cosigned.as_ref().map_or(0, |c| c.checkpoint().size);
        let proof = ConsistencyProof::new(old, size, log.consistency_proof(old, size).unwrap());
        let note = key.note(&signed);
        let now = signed.time + 1;
        let reply =
            witness_cosign(&self.witness, &key, self.cosigned.as_ref(), &note, &proof, now, &WitnessPolicy::default())?;
        self.cosigned = Some(reply.state);
        let mut bundle = CosignedCheckpoint::new(&key, signed).unwrap();
        bundle.add(reply.cosignature).unwrap();
        Ok(bundle)
    }

    /// A message from the log's node arrives with this checkpoint and the proof from the size
    /// the partner holds.
    fn receive(&mut self, log: &AuditLog, bundle: &CosignedCheckpoint) -> Verdict {
        let size = bundle.checkpoint().size;
        let proof = self.held.as_ref().map(|held| {
            let old = held.checkpoint().size;
            ConsistencyProof::new(old, size, log.consistency_proof(old, size).unwrap())
        });
        let now = bundle.log_signature().time + 2;
        let verdict = self.gate.assess(self.held.as_ref(), &bundle.note(), proof.as_ref(), now);
        if let Verdict::Accept(held) = &verdict {
            self.held = Some(held.clone());
        }
        verdict
    }
}

/// Backs the live log up into `to`, as an operator would: the database with `VACUUM INTO`, and
/// the key file.
fn back_up(log: &AuditLog, to: &std::path::Path) {
    let conn = rusqlite::Connection::open(log.path()).unwrap();
    conn.execute("VACUUM INTO ?1", [to.join(DB_FILE).to_str().unwrap()]).unwrap();
    std::fs::copy(log.path().with_file_name(KEY_FILE), to.join(KEY_FILE)).unwrap();
}

#[test]
fn a_partner_follows_a_growing_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), AuditOptions::new(ORIGIN)).unwrap();
    let mut partner = Partner::new(&log);
    for (from, to) in [(0, 5), (5, 6), (6, 140), (140, 141)] {
        grow(&log, from, to);
        let bundle = partner.cosign(&log).unwrap();
        assert!(matches!(partner.receive(&log, &bundle), Verdict::Accept(_)));
        assert_eq!(partner.held.as_ref().unwrap().checkpoint().size, to as u64);
    }
    log.close().unwrap();
}

#[test]
fn a_node_restored_from_a_backup_cannot_grow_another_history() {
    let (dir, backup) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = AuditLog::open(dir.path(), AuditOptions::new(ORIGIN)).unwrap();
    grow(&log, 0, 10);
    back_up(&log, backup.path());

    // The node grows to 20 records; its partner cosigns and accepts that.
    let mut partner = Partner::new(&log);
    grow(&log, 10, 20);
    let bundle = partner.cosign(&log).unwrap();
    assert!(matches!(partner.receive(&log, &bundle), Verdict::Accept(_)));
    log.close().unwrap();

    // The node is restored from the backup of 10 records and logs other events: same key,
    // another history.
    let restored = AuditLog::open(backup.path(), AuditOptions::new(ORIGIN)).unwrap();
    restored.verify().unwrap();
    grow(&restored, 100, 110);
    let Err(WitnessRefusal::Fork(evidence)) = partner.cosign(&restored) else { panic!("the fork was cosigned") };
    evidence.confirm(&restored.verifier_key()).unwrap();
    grow(&restored, 110, 115);
    let Err(WitnessRefusal::BadProof(evidence)) = partner.cosign(&restored) else { panic!("the fork was cosigned") };
    evidence.confirm(&restored.verifier_key()).unwrap();

    // Sent anyway, its checkpoint is a fork at the partner's gate, with its own proof.
    let signed = restored.latest_checkpoint().unwrap();
    let bundle = CosignedCheckpoint::new(&restored.verifier_key(), signed).unwrap();
    let Verdict::Fork(evidence) = partner.receive(&restored, &bundle) else { panic!("the fork was not found") };
    assert!(matches!(evidence, ForkEvidence::Inconsistent { .. }));
    evidence.confirm(&restored.verifier_key()).unwrap();
    restored.close().unwrap();
}
