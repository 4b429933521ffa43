//! The receiver's checks, one refusal at a time, and hostile wire input.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use limes_federation::*;
use limes_model::AgencyId;
use proptest::prelude::*;

fn agency(s: &str) -> AgencyId {
    AgencyId::new(s).unwrap()
}

struct Fixture {
    ro: AgencyId,
    ua: AgencyId,
    ro_key: AgencyKey,
    ro_public: PublicKey,
    receive: BTreeSet<MessageType>,
    limits: Limits,
}

impl Fixture {
    fn new() -> Self {
        let ro_key = AgencyKey::from_seed(&[3; 32]);
        Self {
            ro: agency("ro-igpf"),
            ua: agency("ua-dpsu"),
            ro_public: ro_key.public(),
            ro_key,
            receive: [MessageType::new("alert").unwrap()].into(),
            limits: Limits::default(),
        }
    }

    fn peer(&self) -> Peer<'_> {
        Peer { agency: &self.ro, key: &self.ro_public, receive: &self.receive }
    }

    fn envelope(&self, seq: u64, kind: &str, payload: &[u8]) -> Envelope {
        Envelope::seal(
            Draft {
                id: MessageId::random().unwrap(),
                sender: self.ro.clone(),
                recipient: self.ua.clone(),
                kind: MessageType::new(kind).unwrap(),
                stream: StreamName::new("alerts~0001").unwrap(),
                seq,
                created_at: Utc::now(),
                labels: None,
                payload: payload.to_vec(),
            },
            &self.ro_key,
        )
    }

    fn batch(&self, envelopes: Vec<Envelope>) -> Batch {
        Batch::seal(self.ro.clone(), self.ua.clone(), Utc::now(), envelopes, &self.ro_key)
    }

    fn check(&self, batch: &Batch) -> Result<(), Refusal> {
        let now = Utc::now();
        check_batch(batch, &self.ua, self.peer(), now, &self.limits)?;
        for e in &batch.envelopes {
            check_envelope(e, batch, &self.ua, self.peer(), now, &self.limits)?;
        }
        Ok(())
    }
}

fn code(r: Result<(), Refusal>) -> RejectCode {
    r.expect_err("refused").code
}

#[test]
fn a_good_batch_passes_and_survives_the_wire() {
    let f = Fixture::new();
    let batch = f.batch(vec![f.envelope(1, "alert", b"{\"plate\":\"B123ABC\"}"), f.envelope(2, "alert", b"")]);
    let wire = serde_json::to_string(&batch).unwrap();
    let back: Batch = serde_json::from_str(&wire).unwrap();
    assert_eq!(back, batch);
    f.check(&back).unwrap();
}

#[test]
fn each_refusal_has_its_code() {
    let f = Fixture::new();
    let good = f.envelope(1, "alert", b"x");

    // Signed by another key (a forger without the agency's key).
    let forger = AgencyKey::from_seed(&[9; 32]);
    let forged_batch = Batch::seal(f.ro.clone(), f.ua.clone(), Utc::now(), vec![good.clone()], &forger);
    assert_eq!(code(f.check(&forged_batch)), RejectCode::BadSignature);
    let mut forged = good.clone();
    forged.signature = forger.sign(b"anything");
    assert_eq!(code(f.check(&f.batch(vec![forged]))), RejectCode::BadSignature);

    // A field changed after signing.
    let mut altered = good.clone();
    altered.seq = 2;
    assert_eq!(code(f.check(&f.batch(vec![altered]))), RejectCode::BadSignature);
    let mut altered = good.clone();
    altered.payload = b"y".to_vec();
    assert_eq!(code(f.check(&f.batch(vec![altered]))), RejectCode::BadDigest);
    // Envelopes swapped into a batch after the batch was signed.
    let mut swapped = f.batch(vec![good.clone()]);
    swapped.envelopes = vec![f.envelope(1, "alert", b"z")];
    assert_eq!(code(f.check(&swapped)), RejectCode::BadSignature);

    // Addressed to someone else.
    let other = Batch::seal(f.ro.clone(), agency("rs-mup"), Utc::now(), vec![good.clone()], &f.ro_key);
    assert_eq!(code(f.check(&other)), RejectCode::WrongRecipient);
    let misaddressed = Envelope::seal(
        Draft {
            id: MessageId::random().unwrap(),
            sender: f.ro.clone(),
            recipient: agency("rs-mup"),
            kind: MessageType::new("alert").unwrap(),
            stream: StreamName::new("alerts~0001").unwrap(),
            seq: 1,
            created_at: Utc::now(),
            labels: None,
            payload: vec![],
        },
        &f.ro_key,
    );
    assert_eq!(code(f.check(&f.batch(vec![misaddressed]))), RejectCode::WrongRecipient);

    // From someone else than the certificate says.
    let pl = Batch::seal(agency("pl-sg"), f.ua.clone(), Utc::now(), vec![], &f.ro_key);
    assert_eq!(code(f.check(&pl)), RejectCode::SenderMismatch);

    // Clocks.
    for skew in [Duration::minutes(5), Duration::minutes(-5)] {
        let b = Batch::seal(f.ro.clone(), f.ua.clone(), Utc::now() + skew, vec![good.clone()], &f.ro_key);
        let r = f.check(&b).unwrap_err();
        assert_eq!(r.code, RejectCode::ClockSkew);
        assert!(r.error.contains(if skew > Duration::zero() { "ahead" } else { "behind" }), "{r}");
    }
    let mut old = good.clone();
    old.created_at = Utc::now() - Duration::days(8);
    let old = Envelope::seal(
        Draft {
            id: old.id,
            sender: old.sender,
            recipient: old.recipient,
            kind: old.kind,
            stream: old.stream,
            seq: old.seq,
            created_at: old.created_at,
            labels: old.labels,
            payload: old.payload,
        },
        &f.ro_key,
    );
    assert_eq!(code(f.check(&f.batch(vec![old]))), RejectCode::Stale);

    // A type the partner entry does not list.
    assert_eq!(code(f.check(&f.batch(vec![f.envelope(1, "bulletin", b"x")]))), RejectCode::TypeNotAccepted);

    // Too large.
    let big = f.envelope(1, "alert", &vec![0u8; f.limits.max_payload_bytes + 1]);
    assert_eq!(code(f.check(&f.batch(vec![big]))), RejectCode::Oversized);
    let many = f.batch((1..=f.limits.max_envelopes as u64 + 1).map(|s| f.envelope(s, "alert", b"")).collect());
    assert_eq!(code(f.check(&many)), RejectCode::TooManyEnvelopes);
}

#[test]
fn sequence_numbers_decide_order_and_replays() {
    assert_eq!(sequence(0, 1), SeqDecision::Next);
    assert_eq!(sequence(4, 5), SeqDecision::Next);
    assert_eq!(sequence(5, 5), SeqDecision::Duplicate);
    assert_eq!(sequence(5, 1), SeqDecision::Duplicate);
    assert_eq!(sequence(5, 9), SeqDecision::Gap { expected: 6 });
    assert!(RejectCode::Gap.is_transient() && RejectCode::ClockSkew.is_transient());
    assert!(!RejectCode::BadSignature.is_transient() && !RejectCode::Oversized.is_transient());
}

#[test]
fn hostile_wire_input_is_refused_clearly() {
    let f = Fixture::new();
    let good = serde_json::to_value(f.batch(vec![f.envelope(1, "alert", b"x")])).unwrap();
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("unknown field", {
            let mut v = good.clone();
            v["envelopes"][0]["extra"] = 1.into();
            v
        }),
        ("short signature", {
            let mut v = good.clone();
            v["signature"] = "AAAA".into();
            v
        }),
        ("bad id", {
            let mut v = good.clone();
            v["envelopes"][0]["id"] = "xyz".into();
            v
        }),
        ("nanosecond time", {
            let mut v = good.clone();
            v["sent_at"] = "2026-11-21T10:00:00.123456789Z".into();
            v
        }),
        ("upper-case type", {
            let mut v = good.clone();
            v["envelopes"][0]["type"] = "ALERT".into();
            v
        }),
        ("negative seq", {
            let mut v = good.clone();
            v["envelopes"][0]["seq"] = (-1).into();
            v
        }),
        ("payload not base64", {
            let mut v = good.clone();
            v["envelopes"][0]["payload"] = "%%%".into();
            v
        }),
        ("bad agency", {
            let mut v = good.clone();
            v["sender"] = "ro igpf".into();
            v
        }),
        ("digest too short", {
            let mut v = good;
            v["envelopes"][0]["digest"] = "00".into();
            v
        }),
    ];
    for (what, v) in cases {
        let err = serde_json::from_value::<Batch>(v).expect_err(what);
        assert!(!err.to_string().is_empty(), "{what}");
    }
    // Deeply nested JSON is refused by the parser's recursion limit, not a stack overflow.
    let deep = "[".repeat(100_000);
    assert!(serde_json::from_str::<Batch>(&deep).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<Batch>(&bytes);
        let _ = serde_json::from_slice::<TrustAnchor>(&bytes);
    }

    #[test]
    fn any_single_bit_flip_in_a_signed_field_is_caught(field in 0usize..5, bit in 0u32..8) {
        let f = Fixture::new();
        let mut e = f.envelope(7, "alert", b"payload");
        match field {
            0 => e.id.0[0] ^= 1 << bit,
            1 => e.seq ^= 1 << bit,
            2 => e.digest[5] ^= 1 << bit,
            3 => e.created_at += Duration::milliseconds(1 << bit),
            _ => e.signature[10] ^= 1 << bit,
        }
        prop_assert!(e.open(&f.ro_public).is_err());
    }
}

#[test]
fn a_batch_signs_its_checkpoint_and_refuses_oversized_proofs() {
    let f = Fixture::new();
    let checkpoint = BatchCheckpoint {
        note: "limes/ro-igpf/audit\n5\nAAAA\n\n— limes/ro-igpf/audit AAAA\n".into(),
        proof: Some(WireProof { old_size: 3, new_size: 5, hashes: vec![[7; 32], [8; 32]] }),
    };
    let envelopes = vec![f.envelope(1, "alert", b"{}")];
    let batch = Batch::seal_with_checkpoint(
        f.ro.clone(),
        f.ua.clone(),
        Utc::now(),
        Some(checkpoint.clone()),
        envelopes.clone(),
        &f.ro_key,
    );
    assert_eq!(f.check(&batch), Ok(()));
    let back: Batch = serde_json::from_str(&serde_json::to_string(&batch).unwrap()).unwrap();
    assert_eq!(back, batch);
    // The signature covers the note, the proof's sizes and hashes, and their presence.
    let altered = [
        |c: &mut BatchCheckpoint| c.note.push('x'),
        |c: &mut BatchCheckpoint| c.proof.as_mut().unwrap().old_size = 2,
        |c: &mut BatchCheckpoint| c.proof.as_mut().unwrap().hashes[1][0] ^= 1,
        |c: &mut BatchCheckpoint| c.proof = None,
    ];
    for alter in altered {
        let mut b = batch.clone();
        alter(b.checkpoint.as_mut().unwrap());
        assert_eq!(code(f.check(&b)), RejectCode::BadSignature);
    }
    let mut b = batch.clone();
    b.checkpoint = None;
    assert_eq!(code(f.check(&b)), RejectCode::BadSignature);

    // The sender's spliced JSON is the same batch.
    let sigs: Vec<[u8; 64]> = envelopes.iter().map(|e| e.signature).collect();
    let frame =
        limes_federation::envelope::seal_batch_header(&f.ro, &f.ua, batch.sent_at, Some(&checkpoint), &sigs, &f.ro_key);
    let json = format!("{}{}{}", frame.prefix, serde_json::to_string(&envelopes[0]).unwrap(), frame.suffix);
    let spliced: Batch = serde_json::from_str(&json).unwrap();
    assert_eq!(spliced.checkpoint.as_ref(), Some(&checkpoint));
    assert_eq!(f.check(&spliced), Ok(()));

    // A proof longer than any tree needs, or a hash of the wrong length, does not parse.
    let mut wire: serde_json::Value = serde_json::to_value(&batch).unwrap();
    wire["checkpoint"]["proof"]["hashes"] = serde_json::json!(vec!["BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="; 65]);
    let e = serde_json::from_value::<Batch>(wire.clone()).unwrap_err().to_string();
    assert!(e.contains("at most 64 hashes"), "{e}");
    wire["checkpoint"]["proof"]["hashes"] = serde_json::json!(["AAAA"]);
    let e = serde_json::from_value::<Batch>(wire).unwrap_err().to_string();
    assert!(e.contains("32 bytes"), "{e}");
}
