//! Witnesses, cosigned notes and the gate, with real keys and real trees: a log that grows
//! honestly is cosigned and accepted; a log that shows two partners two histories is caught
//! by the witnesses and by the gates; hostile notes are refused with the reason.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use proptest::prelude::*;

use super::*;
use crate::checkpoint::{CheckpointSigner, MAX_NOTE_BYTES};
use crate::merkle::{MemoryTree, consistency_proof, leaf_hash};

const T0: u64 = 1_780_000_000;
const ORIGIN: &str = "limes.test/ro-igpf/node-1/audit";

fn signer(name: &str, seed: u8) -> CheckpointSigner {
    CheckpointSigner::from_seed(name, &[seed; 32]).unwrap()
}

/// The partner in Hungary, the partner in Bulgaria, Romania's data protection authority.
fn partner_hu() -> CheckpointSigner {
    signer("limes.test/hu-orfk/node-1/witness", 2)
}
fn partner_bg() -> CheckpointSigner {
    signer("limes.test/bg-mvr/node-1/witness", 3)
}
fn dpa() -> CheckpointSigner {
    signer("dataprotection.test/ro/witness", 4)
}

/// A log: its key and its tree of `leaves` leaves, leaf `forked_at` (if any) rewritten.
struct Log {
    key: CheckpointSigner,
    tree: MemoryTree,
}

impl Log {
    fn honest(leaves: u64) -> Self {
        Self::forked(leaves, None)
    }

    fn forked(leaves: u64, forked_at: Option<u64>) -> Self {
        let leaf = |i: u64| {
            if Some(i) == forked_at { leaf_hash(b"a record rewritten") } else { leaf_hash(&i.to_be_bytes()) }
        };
        Self { key: signer(ORIGIN, 1), tree: MemoryTree::from_leaves((0..leaves).map(leaf)) }
    }

    fn vkey(&self) -> VerifierKey {
        self.key.verifier()
    }

    fn signed(&self, size: u64, time: u64) -> SignedCheckpoint {
        self.key.sign(size, self.tree.root_at(size), time)
    }

    fn note(&self, size: u64, time: u64) -> String {
        self.vkey().note(&self.signed(size, time))
    }

    /// The proof this log's node gives from `old` to `new` leaves.
    fn proof(&self, old: u64, new: u64) -> ConsistencyProof {
        ConsistencyProof::new(old, new, consistency_proof(&self.tree, old, new).unwrap())
    }
}

/// A witness and its state for the log.
struct Witness {
    key: CheckpointSigner,
    state: Option<HeldCheckpoint>,
}

impl Witness {
    fn new(key: CheckpointSigner) -> Self {
        Self { key, state: None }
    }

    fn size(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.checkpoint().size)
    }

    /// The log asks this witness to cosign its tree of `size` leaves signed at `log_time`,
    /// with the proof its node builds from the witness's size; the witness answers at `now`.
    fn cosign(&mut self, log: &Log, size: u64, log_time: u64, now: u64) -> Result<Cosignature, WitnessRefusal> {
        let proof = log.proof(self.size().min(size), size);
        let note = log.note(size, log_time);
        let reply =
            witness_cosign(&self.key, &log.vkey(), self.state.as_ref(), &note, &proof, now, &WitnessPolicy::default())?;
        self.state = Some(reply.state);
        Ok(reply.cosignature)
    }
}

/// The log signs `size` leaves at `time`, each witness cosigns a second later; the note.
fn cosigned_note(log: &Log, witnesses: &mut [&mut Witness], size: u64, time: u64) -> String {
    let mut bundle = CosignedCheckpoint::new(&log.vkey(), log.signed(size, time)).unwrap();
    for witness in witnesses {
        bundle.add(witness.cosign(log, size, time, time + 1).unwrap()).unwrap();
    }
    bundle.note()
}

fn gate(log: &Log, witnesses: &[&CheckpointSigner]) -> CheckpointGate {
    CheckpointGate::new(log.vkey(), witnesses.iter().map(|w| w.verifier()).collect())
}

fn accepted(verdict: Verdict) -> HeldCheckpoint {
    match verdict {
        Verdict::Accept(held) => held,
        other => panic!("not accepted: {other:?}"),
    }
}

fn fork(verdict: Verdict) -> ForkEvidence {
    match verdict {
        Verdict::Fork(evidence) => evidence,
        other => panic!("no fork found: {other:?}"),
    }
}

// The witness.

#[test]
fn an_honest_log_is_cosigned_as_it_grows() {
    let log = Log::honest(70);
    let mut witness = Witness::new(partner_hu());
    for (step, size) in [0, 1, 5, 5, 17, 64, 64, 65, 70].into_iter().enumerate() {
        let time = T0 + 10 * step as u64;
        let cosignature = witness.cosign(&log, size, time, time + 2).unwrap();
        assert_eq!(cosignature.time(), time + 2);
        assert_eq!(cosignature.signed.checkpoint, log.signed(size, time).checkpoint);
        partner_hu().verifier().verify(&cosignature.signed).unwrap();
        // The line the witness sends back, appended to the log's note, opens with its key.
        let note = log.note(size, time) + &cosignature.line();
        assert_eq!(partner_hu().verifier().open_note(&note).unwrap(), cosignature.signed);
        assert_eq!(witness.size(), size);
        assert_eq!(witness.state.as_ref().unwrap().log_time(), time);
    }
}

#[test]
fn the_witness_refuses_what_does_not_extend_what_it_cosigned() {
    let log = Log::honest(40);
    let forged = Log::forked(40, Some(3));
    let (w, vkey, policy) = (partner_hu(), log.vkey(), WitnessPolicy::default());
    let state = witness_cosign(&w, &vkey, None, &log.note(10, T0), &log.proof(0, 10), T0, &policy).unwrap().state;
    let now = T0 + 60;
    let ask = |note: &str, proof: &ConsistencyProof, now: u64| {
        witness_cosign(&w, &vkey, Some(&state), note, proof, now, &policy).map(|r| r.state)
    };

    // Signed by another key of the log's name; a signature altered; another log's checkpoint.
    let impostor = signer(ORIGIN, 9);
    let note = impostor.verifier().note(&impostor.sign(20, log.tree.root_at(20), T0 + 30));
    assert_eq!(
        ask(&note, &log.proof(10, 20), now),
        Err(WitnessRefusal::BadNote(CheckpointError::NoSignature(vkey.to_string())))
    );
    let mut altered = log.signed(20, T0 + 30);
    altered.signature[5] ^= 1;
    assert_eq!(
        ask(&vkey.note(&altered), &log.proof(10, 20), now),
        Err(WitnessRefusal::BadNote(CheckpointError::BadSignature))
    );
    let other = signer("limes.test/other/audit", 1);
    let note = other.verifier().note(&other.sign(20, log.tree.root_at(20), T0 + 30));
    assert!(matches!(
        ask(&note, &log.proof(10, 20), now),
        Err(WitnessRefusal::BadNote(CheckpointError::WrongOrigin { .. }))
    ));

    // Smaller than what it cosigned; a proof from another size; a proof not ending at the size.
    assert_eq!(
        ask(&log.note(8, T0 + 30), &log.proof(8, 8), now),
        Err(WitnessRefusal::Rollback { cosigned: 10, size: 8 })
    );
    assert_eq!(
        ask(&log.note(20, T0 + 30), &log.proof(5, 20), now),
        Err(WitnessRefusal::Conflict { cosigned: 10, old_size: 5 })
    );
    assert!(matches!(ask(&log.note(20, T0 + 30), &log.proof(10, 19), now), Err(WitnessRefusal::BadRequest(_))));
    assert!(matches!(
        ask(&log.note(10, T0 + 30), &ConsistencyProof::new(10, 10, vec![log.tree.root_at(10)]), now),
        Err(WitnessRefusal::BadRequest(_))
    ));

    // Another root for the size it cosigned: a fork, with both notes, checkable by anyone.
    let Err(WitnessRefusal::Fork(evidence)) = ask(&forged.note(10, T0 + 30), &forged.proof(10, 10), now) else {
        panic!("the fork was not found")
    };
    assert_eq!(evidence.held(), state.note());
    assert_eq!(evidence.presented(), forged.note(10, T0 + 30));
    evidence.confirm(&vkey).unwrap();
    assert!(evidence.confirm(&partner_hu().verifier()).is_err());

    // A larger tree the forger's own proof cannot link (nor the honest tree's proof).
    for proof in [forged.proof(10, 20), log.proof(10, 20)] {
        let Err(WitnessRefusal::BadProof(evidence)) = ask(&forged.note(20, T0 + 30), &proof, now) else {
            panic!("the rewritten history was cosigned")
        };
        evidence.confirm(&vkey).unwrap();
    }

    // Times: going back, ahead of the witness's clock, too old; the same checkpoint again is
    // cosigned at any age (a quiet log keeps its cosignatures fresh so).
    assert_eq!(
        ask(&log.note(20, T0 - 1), &log.proof(10, 20), now),
        Err(WitnessRefusal::TimeWentBack { cosigned: T0, time: T0 - 1 })
    );
    assert_eq!(
        ask(&log.note(20, now + 61), &log.proof(10, 20), now),
        Err(WitnessRefusal::FromTheFuture { time: now + 61, now })
    );
    ask(&log.note(20, now + 60), &log.proof(10, 20), now).unwrap();
    let late = T0 + 30 + 3601;
    assert_eq!(
        ask(&log.note(20, T0 + 30), &log.proof(10, 20), late),
        Err(WitnessRefusal::TooOld { time: T0 + 30, now: late })
    );
    assert_eq!(ask(&log.note(10, T0), &log.proof(10, 10), T0 + 86_400).unwrap(), state);
}

#[test]
fn a_first_checkpoint_is_trusted_with_an_empty_proof_from_zero() {
    let log = Log::honest(9);
    let (w, vkey, policy) = (partner_hu(), log.vkey(), WitnessPolicy::default());
    let note = log.note(9, T0);
    let ask = |proof: &ConsistencyProof| witness_cosign(&w, &vkey, None, &note, proof, T0, &policy);
    ask(&log.proof(0, 9)).unwrap();
    assert!(matches!(ask(&ConsistencyProof::new(0, 9, vec![log.tree.root_at(9)])), Err(WitnessRefusal::BadRequest(_))));
    assert_eq!(ask(&log.proof(4, 9)), Err(WitnessRefusal::Conflict { cosigned: 0, old_size: 4 }));
}

#[test]
fn evidence_that_shows_no_fork_is_not_confirmed() {
    let log = Log::honest(20);
    let vkey = log.vkey();
    let same = ForkEvidence::SameSize { held: log.note(10, T0), presented: log.note(10, T0 + 5) };
    assert!(same.confirm(&vkey).unwrap_err().0.contains("same tree"));
    let proof = log.proof(10, 20);
    let good = ForkEvidence::Inconsistent {
        held: log.note(10, T0),
        presented: log.note(20, T0 + 5),
        proof: proof.clone(),
        failure: ProofFailure::WrongLength,
    };
    assert!(good.confirm(&vkey).unwrap_err().0.contains("the proof verifies"));
    let impostor = signer(ORIGIN, 9);
    let forged = Log { key: impostor, tree: Log::forked(20, Some(1)).tree };
    let framed = ForkEvidence::SameSize { held: log.note(10, T0), presented: forged.note(10, T0) };
    assert!(framed.confirm(&vkey).unwrap_err().0.starts_with("the presented checkpoint: no signature by"));
}

// The cosigned note.

/// A note of the log's tree of 10 leaves cosigned by the partner in Hungary and the DPA.
fn bundle() -> (Log, CosignedCheckpoint) {
    let log = Log::honest(10);
    let mut bundle = CosignedCheckpoint::new(&log.vkey(), log.signed(10, T0)).unwrap();
    for witness in [partner_hu(), dpa()] {
        bundle.add(Witness::new(witness).cosign(&log, 10, T0, T0 + 1).unwrap()).unwrap();
    }
    (log, bundle)
}

fn witnesses() -> Vec<VerifierKey> {
    vec![partner_hu().verifier(), dpa().verifier()]
}

/// A signature line of `name` with these signature bytes (key ID first).
fn line(name: &str, bytes: &[u8]) -> String {
    format!("\u{2014} {name} {}\n", BASE64.encode(bytes))
}

#[test]
fn hostile_notes_are_refused_with_the_reason() {
    let (log, bundle) = bundle();
    let note = bundle.note();
    let (body_and_log_line, witness_lines) = note.split_at(note.find("\n\u{2014} limes.test/hu").unwrap() + 1);
    let hu_line = witness_lines.lines().next().unwrap().to_owned() + "\n";
    let hu = partner_hu().verifier();
    let body = log.signed(10, T0).checkpoint.body();
    let unknown = |i: usize| line(&format!("unknown.test/w{i}"), &[1, 2, 3, 4, 5]);
    let second_hu = Witness::new(partner_hu()).cosign(&log, 10, T0, T0 + 9).unwrap().line();
    let mut hu_altered = BASE64.decode(hu_line.trim_end().rsplit(' ').next().unwrap()).unwrap();
    hu_altered[20] ^= 1;
    // A base64 text that decodes to the same bytes as the witness's, but is not canonical: the
    // last symbol before the padding carries bits the decoder must find zero.
    let encoded = hu_line.trim_end().rsplit(' ').next().unwrap();
    let at = encoded.find('=').unwrap() - 1;
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let symbol = alphabet.find(&encoded[at..=at]).unwrap();
    let loose = format!("{}{}{}", &encoded[..at], &alphabet[symbol | 1..=symbol | 1], &encoded[at + 1..]);
    let log_line = format!("\u{2014} {ORIGIN} ");
    let log_id = log.vkey().id().to_be_bytes();

    let check = |note: &str, want: &str| {
        let got = CosignedCheckpoint::open(note, &log.vkey(), &witnesses()).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_owned()), "{note:?}");
    };
    check(
        &format!("{note}{}", line(&"x".repeat(MAX_NOTE_BYTES), &[1; 8])),
        &format!(
            "bad checkpoint note: the note is {} bytes, over the limit of 16384",
            note.len() + MAX_NOTE_BYTES + 18
        ),
    );
    check(
        &format!("{note}{}", (0..30).map(unknown).collect::<String>()),
        "bad checkpoint note: more than 32 signature lines",
    );
    let repeated = format!("signature line 4 is a second signature by {} (key ID {:08x})", hu.name(), hu.id());
    check(&format!("{note}{hu_line}"), &format!("bad checkpoint note: {repeated}"));
    check(&format!("{note}{second_hu}"), &format!("bad checkpoint note: {repeated}"));
    check(
        &format!("{note}{}{}", unknown(1), unknown(1)),
        "bad checkpoint note: signature line 5 is a second signature by unknown.test/w1 (key ID 01020304)",
    );
    check(
        &format!("{note}\u{2014} unknown.test/w1 AQIDBAU*\n"),
        "bad checkpoint note: signature line 4: the signature is not base64",
    );
    check(
        &format!("{body_and_log_line}\u{2014} {} {loose}\n", hu.name()),
        "bad checkpoint note: signature line 2: the signature is not base64",
    );
    check(
        &format!("{note}{}", line("unknown.test/w1", &[1, 2, 3, 4])),
        "bad checkpoint note: signature line 4: the signature is shorter than a key ID and one byte",
    );
    check(
        &format!("{note}- unknown.test/w1 AQIDBAU=\n"),
        "bad checkpoint note: signature line 4 does not start with an em dash and a space",
    );
    check(
        &format!("{note}\u{2014} unknown.test/w1\n"),
        "bad checkpoint note: signature line 4 is not a key name and a signature",
    );
    check(
        &format!("{note}{}", line("unknown+plus", &[1, 2, 3, 4, 5])),
        "bad checkpoint note: signature line 4: bad key name: \"unknown+plus\" holds a space, a plus or a control character",
    );
    check(&note.replacen("\n\n", "\n", 1), "bad checkpoint note: no blank line before the signatures");
    check(&format!("{body}\n"), "bad checkpoint note: the note has no signature lines");
    check(note.trim_end(), "bad checkpoint note: the note must end in a newline");
    check(&note.replacen('\n', "\r\n", 1), "bad checkpoint note: the note holds a control character");
    check(&format!("{note}\n"), "bad checkpoint note: a checkpoint has three lines: origin, size, root");
    check(&format!("{body_and_log_line}{}", line(hu.name(), &hu_altered)), "the signature does not verify");
    check(&format!("{body}\n{hu_line}"), &format!("no signature by {}", log.vkey()));
    check(
        &format!("{body}\n{log_line}{}\n", BASE64.encode([&log_id[..], &[0; 8]].concat())),
        "bad checkpoint note: a timestamped signature is 76 bytes",
    );
    let other = signer("limes.test/other/audit", 1);
    check(
        &other.verifier().note(&other.sign(10, log.tree.root_at(10), T0)),
        "the checkpoint's origin is \"limes.test/other/audit\", not \"limes.test/ro-igpf/node-1/audit\"",
    );
}

#[test]
fn unknown_keys_are_ignored() {
    let (log, bundle) = bundle();
    let hu = partner_hu().verifier();
    // A stranger; a key named like the witness with another ID; a key with the witness's ID
    // under another name: all unknown, all ignored.
    let stranger = Witness::new(signer("stranger.test/w", 7)).cosign(&log, 10, T0, T0 + 1).unwrap().line();
    let mut same_name = vec![0xee; 76];
    same_name[..4].copy_from_slice(&hu.id().wrapping_add(1).to_be_bytes());
    let mut same_id = vec![0xee; 76];
    same_id[..4].copy_from_slice(&hu.id().to_be_bytes());
    let note =
        format!("{}{stranger}{}{}", bundle.note(), line(hu.name(), &same_name), line("lookalike.test/w", &same_id));
    let opened = CosignedCheckpoint::open(&note, &log.vkey(), &witnesses()).unwrap();
    assert_eq!(opened, bundle);
    // The note rebuilt holds only the signatures known; it opens to the same.
    assert_eq!(opened.note(), bundle.note());
    assert_eq!(CosignedCheckpoint::open(&opened.note(), &log.vkey(), &witnesses()).unwrap(), bundle);
    // A reader that knows no witness keeps the log's signature alone.
    assert!(CosignedCheckpoint::open(&note, &log.vkey(), &[]).unwrap().cosignatures().is_empty());
}

#[test]
fn verify_cosigned_names_the_missing_witnesses() {
    let (log, bundle) = bundle();
    let required = [partner_hu().verifier(), partner_bg().verifier(), dpa().verifier()];
    let err = verify_cosigned(&bundle.note(), &log.vkey(), &required).unwrap_err();
    assert_eq!(err, CosignError::NotFullyCosigned { missing: vec![partner_bg().verifier()] });
    assert_eq!(err.to_string(), "not cosigned by limes.test/bg-mvr/node-1/witness");
    let fully = verify_cosigned(&bundle.note(), &log.vkey(), &witnesses()).unwrap();
    assert_eq!(fully.cosigned(), &bundle);
    assert_eq!(fully.note(), bundle.note());
    let bare = log.note(10, T0);
    let err = verify_cosigned(&bare, &log.vkey(), &witnesses()).unwrap_err();
    assert_eq!(err.to_string(), "not cosigned by limes.test/hu-orfk/node-1/witness, dataprotection.test/ro/witness");
}

#[test]
fn a_bundle_keeps_each_witness_newest_cosignature() {
    let (log, mut bundle) = bundle();
    let hu = partner_hu();
    let newer = Witness::new(partner_hu()).cosign(&log, 10, T0, T0 + 50).unwrap();
    let older = Witness::new(partner_hu()).cosign(&log, 10, T0, T0 - 50).unwrap();
    bundle.add(newer.clone()).unwrap();
    bundle.add(older).unwrap();
    assert_eq!(bundle.cosignature_by(&hu.verifier()), Some(&newer));
    assert_eq!(bundle.cosignatures().len(), 2);
    // Another checkpoint's cosignature; the log's own key; a signature that does not verify.
    let other = Witness::new(partner_bg()).cosign(&log, 9, T0, T0 + 1).unwrap();
    assert!(bundle.add(other).is_err());
    let own = Cosignature { witness: log.vkey(), signed: log.signed(10, T0) };
    assert!(bundle.add(own).is_err());
    let mut forged = Witness::new(partner_bg()).cosign(&log, 10, T0, T0 + 1).unwrap();
    forged.signed.time += 1;
    assert_eq!(bundle.add(forged), Err(CheckpointError::BadSignature));
}

// The gate.

#[test]
fn honest_growth_is_accepted() {
    let log = Log::honest(100);
    let (mut hu, mut dpa_w) = (Witness::new(partner_hu()), Witness::new(dpa()));
    let gate = gate(&log, &[&partner_hu(), &dpa()]);
    let mut held: Option<HeldCheckpoint> = None;
    for (step, size) in [3, 3, 8, 40, 41, 64, 100].into_iter().enumerate() {
        let time = T0 + 100 * step as u64;
        let note = cosigned_note(&log, &mut [&mut hu, &mut dpa_w], size, time);
        let proof = held.as_ref().map(|h| log.proof(h.checkpoint().size, size));
        let next = accepted(gate.assess(held.as_ref(), &note, proof.as_ref(), time + 5));
        assert_eq!(next.checkpoint(), &log.signed(size, time).checkpoint);
        held = Some(next);
    }
    // What the gate holds reads back from its note.
    let held = held.unwrap();
    assert_eq!(HeldCheckpoint::open(held.note(), &log.vkey()).unwrap(), held);
}

#[test]
fn stale_checkpoints_are_held_until_cosigned_again() {
    let log = Log::honest(10);
    let (mut hu, mut dpa_w) = (Witness::new(partner_hu()), Witness::new(dpa()));
    let gate = gate(&log, &[&partner_hu(), &dpa()]);
    let note = cosigned_note(&log, &mut [&mut hu, &mut dpa_w], 10, T0);
    accepted(gate.assess(None, &note, None, T0 + 601));
    let late = T0 + 602;
    assert_eq!(
        gate.assess(None, &note, None, late),
        Verdict::Hold(HoldReason::TooOld { age: Duration::from_secs(601), max_age: MAX_AGE })
    );
    // The log has not grown: it asks its witnesses to cosign the same checkpoint again.
    let mut bundle = CosignedCheckpoint::open(&note, &log.vkey(), &witnesses()).unwrap();
    for witness in [&mut hu, &mut dpa_w] {
        bundle.add(witness.cosign(&log, 10, T0, late).unwrap()).unwrap();
    }
    accepted(gate.assess(None, &bundle.note(), None, late));
    // One old cosignature is enough to hold it: the oldest counts.
    let mut half = CosignedCheckpoint::open(&note, &log.vkey(), &witnesses()).unwrap();
    half.add(hu.cosign(&log, 10, T0, late).unwrap()).unwrap();
    assert!(matches!(gate.assess(None, &half.note(), None, late), Verdict::Hold(HoldReason::TooOld { .. })));
    // With no witness required, the log's own time counts.
    let alone = CheckpointGate::new(log.vkey(), vec![]).with_max_age(Duration::from_secs(60));
    accepted(alone.assess(None, &log.note(10, T0), None, T0 + 60));
    assert!(matches!(alone.assess(None, &log.note(10, T0), None, T0 + 61), Verdict::Hold(HoldReason::TooOld { .. })));
}

#[test]
fn missing_witnesses_hold_the_message_and_are_named() {
    let log = Log::honest(10);
    let mut hu = Witness::new(partner_hu());
    let gate = gate(&log, &[&partner_hu(), &partner_bg(), &dpa()]);
    let note = cosigned_note(&log, &mut [&mut hu], 10, T0);
    let verdict = gate.assess(None, &note, None, T0 + 5);
    assert_eq!(
        verdict,
        Verdict::Hold(HoldReason::NotFullyCosigned { missing: vec![partner_bg().verifier(), dpa().verifier()] })
    );
    let Verdict::Hold(reason) = verdict else { unreachable!() };
    assert_eq!(reason.to_string(), "not cosigned by limes.test/bg-mvr/node-1/witness, dataprotection.test/ro/witness");
}

#[test]
fn proofs_for_other_sizes_are_asked_for() {
    let log = Log::honest(30);
    let mut hu = Witness::new(partner_hu());
    let gate = gate(&log, &[&partner_hu()]);
    let note_10 = cosigned_note(&log, &mut [&mut hu], 10, T0);
    let note_20 = cosigned_note(&log, &mut [&mut hu], 20, T0 + 10);
    let held_10 = accepted(gate.assess(None, &note_10, None, T0 + 20));
    let held_20 = accepted(gate.assess(Some(&held_10), &note_20, Some(&log.proof(10, 20)), T0 + 20));
    // No proof, or one from a size the receiver does not hold: ask for the right one.
    for proof in [None, Some(log.proof(5, 20)), Some(log.proof(10, 19))] {
        assert_eq!(
            gate.assess(Some(&held_10), &note_20, proof.as_ref(), T0 + 20),
            Verdict::Hold(HoldReason::NeedsProof { old: 10, new: 20 })
        );
    }
    // A message overtaken by a later one: its older checkpoint needs a proof up to the one
    // held, and the one held stays.
    assert_eq!(
        gate.assess(Some(&held_20), &note_10, None, T0 + 20),
        Verdict::Hold(HoldReason::NeedsProof { old: 10, new: 20 })
    );
    assert_eq!(accepted(gate.assess(Some(&held_20), &note_10, Some(&log.proof(10, 20)), T0 + 20)), held_20);
    assert_eq!(accepted(gate.assess(Some(&held_20), &note_20, None, T0 + 20)), held_20);
}

#[test]
fn invalid_and_future_checkpoints_are_held() {
    let log = Log::honest(10);
    let mut hu = Witness::new(partner_hu());
    let gate = gate(&log, &[&partner_hu()]);
    let note = cosigned_note(&log, &mut [&mut hu], 10, T0);
    assert_eq!(
        gate.assess(None, "not a note", None, T0),
        Verdict::Hold(HoldReason::Invalid(CheckpointError::BadNote("no blank line before the signatures".into())))
    );
    // The witness cosigned at T0 + 1: a receiver whose clock is over a minute behind holds it.
    assert_eq!(
        gate.assess(None, &note, None, T0 - 60),
        Verdict::Hold(HoldReason::FromTheFuture { time: T0 + 1, now: T0 - 60 })
    );
    accepted(gate.assess(None, &note, None, T0 - 59));
    let lenient = gate.clone().with_max_clock_ahead(Duration::from_secs(120));
    accepted(lenient.assess(None, &note, None, T0 - 100));
}

/// The log shows the partner in Hungary its true history and the partner in Bulgaria one with
/// a record rewritten. Every partner witnesses the log, and so does the DPA.
#[test]
fn a_log_showing_two_partners_two_histories_is_caught() {
    let (log, forged) = (Log::honest(20), Log::forked(20, Some(3)));
    let (mut hu, mut bg, mut dpa_w) = (Witness::new(partner_hu()), Witness::new(partner_bg()), Witness::new(dpa()));
    let required = [&partner_hu(), &partner_bg(), &dpa()];
    let (gate_hu, gate_bg) = (gate(&log, &required), gate(&log, &required));

    // Both agree up to 3 leaves: every witness cosigns, both partners accept.
    let note_3 = cosigned_note(&log, &mut [&mut hu, &mut bg, &mut dpa_w], 3, T0);
    let held_hu = accepted(gate_hu.assess(None, &note_3, None, T0 + 5));
    let held_bg = accepted(gate_bg.assess(None, &note_3, None, T0 + 5));

    // The split: the true tree of 10 to the partner in Hungary and the DPA, the forged one to
    // the partner in Bulgaria. Each witness cosigns the first it sees.
    let true_10 = log.signed(10, T0 + 10);
    let forged_10 = forged.signed(10, T0 + 10);
    let mut true_bundle = CosignedCheckpoint::new(&log.vkey(), true_10).unwrap();
    true_bundle.add(hu.cosign(&log, 10, T0 + 10, T0 + 11).unwrap()).unwrap();
    true_bundle.add(dpa_w.cosign(&log, 10, T0 + 10, T0 + 11).unwrap()).unwrap();
    let mut forged_bundle = CosignedCheckpoint::new(&log.vkey(), forged_10).unwrap();
    forged_bundle.add(bg.cosign(&forged, 10, T0 + 10, T0 + 11).unwrap()).unwrap();

    // Each history lacks the other side's cosignatures, and a witness asked for the other
    // history finds the fork.
    let Err(WitnessRefusal::Fork(evidence)) = bg.cosign(&log, 10, T0 + 10, T0 + 12) else { panic!() };
    evidence.confirm(&log.vkey()).unwrap();
    for witness in [&mut hu, &mut dpa_w] {
        let Err(WitnessRefusal::Fork(evidence)) = witness.cosign(&forged, 10, T0 + 10, T0 + 12) else { panic!() };
        evidence.confirm(&log.vkey()).unwrap();
    }
    let proof = |log: &Log| Some(log.proof(3, 10));
    assert_eq!(
        gate_bg.assess(Some(&held_bg), &forged_bundle.note(), proof(&forged).as_ref(), T0 + 20),
        Verdict::Hold(HoldReason::NotFullyCosigned { missing: vec![partner_hu().verifier(), dpa().verifier()] })
    );
    assert_eq!(
        gate_hu.assess(Some(&held_hu), &true_bundle.note(), proof(&log).as_ref(), T0 + 20),
        Verdict::Hold(HoldReason::NotFullyCosigned { missing: vec![partner_bg().verifier()] })
    );

    // A partner that receives both histories finds the fork, cosigned or not.
    let held_true = accepted(CheckpointGate::new(log.vkey(), vec![partner_hu().verifier()]).assess(
        Some(&held_hu),
        &true_bundle.note(),
        proof(&log).as_ref(),
        T0 + 20,
    ));
    let evidence = fork(gate_hu.assess(Some(&held_true), &forged_bundle.note(), None, T0 + 20));
    assert!(matches!(evidence, ForkEvidence::SameSize { .. }));
    evidence.confirm(&log.vkey()).unwrap();
    // The forged history grown further, with its own proof: still a fork.
    let forged_15 = forged.note(15, T0 + 30);
    let evidence = fork(gate_hu.assess(Some(&held_true), &forged_15, Some(&forged.proof(10, 15)), T0 + 31));
    assert!(matches!(evidence, ForkEvidence::Inconsistent { .. }));
    evidence.confirm(&log.vkey()).unwrap();
    assert_eq!(evidence.held(), held_true.note());
    // Found however old the forged checkpoint is.
    fork(gate_hu.assess(Some(&held_true), &forged_bundle.note(), None, T0 + 86_400));
}

/// What the witnesses do not stop: a split view the witnesses of each side cosign, when each
/// partner requires only its own side's witnesses. Requiring every partner (and an independent
/// witness) is what makes a split need collusion.
#[test]
fn a_split_view_passes_only_gates_that_do_not_require_the_other_side() {
    let (log, forged) = (Log::honest(10), Log::forked(10, Some(3)));
    let (mut hu, mut bg) = (Witness::new(partner_hu()), Witness::new(partner_bg()));
    let true_note = cosigned_note(&log, &mut [&mut hu], 10, T0);
    let forged_note = cosigned_note(&forged, &mut [&mut bg], 10, T0);
    accepted(gate(&log, &[&partner_hu()]).assess(None, &true_note, None, T0 + 5));
    accepted(gate(&log, &[&partner_bg()]).assess(None, &forged_note, None, T0 + 5));
    let both = gate(&log, &[&partner_hu(), &partner_bg()]);
    assert!(matches!(both.assess(None, &true_note, None, T0 + 5), Verdict::Hold(HoldReason::NotFullyCosigned { .. })));
    assert!(matches!(
        both.assess(None, &forged_note, None, T0 + 5),
        Verdict::Hold(HoldReason::NotFullyCosigned { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A log appending at random, checkpointing at random sizes (some repeated), cosigned by
    /// two witnesses; the receiver sometimes gets a message overtaken by a later one. All is
    /// cosigned and accepted.
    #[test]
    fn honest_logs_are_always_accepted(
        leaves in 1u64..200,
        cuts in prop::collection::vec(any::<u64>(), 1..12),
        overtaken in prop::collection::vec(any::<bool>(), 12),
    ) {
        let log = Log::honest(leaves);
        let mut sizes: Vec<u64> = cuts.iter().map(|c| c % (leaves + 1)).collect();
        sizes.sort_unstable();
        let (mut hu, mut dpa_w) = (Witness::new(partner_hu()), Witness::new(dpa()));
        let gate = gate(&log, &[&partner_hu(), &dpa()]);
        let mut held: Option<HeldCheckpoint> = None;
        let mut notes: Vec<(u64, String)> = Vec::new();
        for (step, &size) in sizes.iter().enumerate() {
            let time = T0 + 20 * step as u64;
            let note = cosigned_note(&log, &mut [&mut hu, &mut dpa_w], size, time);
            let proof = held.as_ref().map(|h| log.proof(h.checkpoint().size, size));
            let verdict = gate.assess(held.as_ref(), &note, proof.as_ref(), time + 2);
            prop_assert!(matches!(verdict, Verdict::Accept(_)), "{verdict:?}");
            let Verdict::Accept(next) = verdict else { unreachable!() };
            held = Some(next);
            notes.push((size, note));
            // An earlier message arriving late, with the proof from its size to the one held.
            if overtaken[step] {
                let (old, note) = &notes[step / 2];
                let held_size = held.as_ref().unwrap().checkpoint().size;
                let verdict = gate.assess(held.as_ref(), note, Some(&log.proof(*old, held_size)), time + 3);
                prop_assert_eq!(verdict, Verdict::Accept(held.clone().unwrap()));
            }
        }
    }

    /// A log whose history was rewritten at one leaf: however the two sizes, and whichever
    /// history was seen first, the witness refuses the other and the gate finds the fork.
    #[test]
    fn a_single_forked_leaf_is_always_detected(
        leaves in 1u64..200,
        seen in any::<u64>(),
        at in any::<u64>(),
        shown in any::<u64>(),
        forged_first in any::<bool>(),
    ) {
        let first_size = 1 + seen % leaves;
        let forked_at = at % first_size;
        let second_size = first_size + shown % (leaves - first_size + 1);
        let (honest, forged) = (Log::honest(leaves), Log::forked(leaves, Some(forked_at)));
        let (first, second) = if forged_first { (&forged, &honest) } else { (&honest, &forged) };
        let vkey = honest.vkey();

        let mut witness = Witness::new(dpa());
        let note = cosigned_note(first, &mut [&mut witness], first_size, T0);
        let refusal = witness.cosign(second, second_size, T0 + 10, T0 + 11).unwrap_err();
        let evidence = match refusal {
            WitnessRefusal::Fork(evidence) if second_size == first_size => evidence,
            WitnessRefusal::BadProof(evidence) if second_size > first_size => evidence,
            other => return Err(TestCaseError::fail(format!("witness: {other:?}"))),
        };
        prop_assert!(evidence.confirm(&vkey).is_ok());

        let gate = gate(first, &[&dpa()]);
        let held = accepted(gate.assess(None, &note, None, T0 + 2));
        // The second history's own proof, and the first's: neither links them.
        for proof in [second.proof(first_size, second_size), first.proof(first_size, second_size)] {
            let verdict = gate.assess(Some(&held), &second.note(second_size, T0 + 10), Some(&proof), T0 + 12);
            let Verdict::Fork(evidence) = verdict else {
                return Err(TestCaseError::fail(format!("gate: {verdict:?}")));
            };
            prop_assert!(evidence.confirm(&vkey).is_ok());
        }
    }
}
