//! What crosses the wire is what the agreement allows: random coherent agreements between two
//! links over real mutual TLS, random records offered for sending, and the receiver's capture
//! of every batch as it arrived (before any check of its own) compared with an oracle written
//! from the agreement's fields alone (`crates/agreement/tests/support`).

mod common;
#[path = "../../agreement/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use common::free_port;
use limes_agreement::{Act, sign};
use limes_federation::{Batch, MessageType};
use limes_link::{Link, LinkConfig, LinkError, Outgoing};
use limes_model::AgencyId;
use support::{Case, Rng, agreement, case, oracle};

/// Queues long enough for every record of a round, batches of 50. These links run without
/// an audit log, so there are no checkpoints to witness: the escape hatch is explicit
/// (`tests/witness.rs` runs the same exchange witnessed).
fn config(agency: &str, country: &str, port: u16) -> LinkConfig {
    let base = common::config_at(agency, country, port);
    let witness = limes_link::WitnessConfig { require: false, ..base.witness.clone() };
    LinkConfig { max_queued_per_partner: 10_000, batch_max_envelopes: 50, witness, ..base }
}

/// Every envelope in the captured batches: payload (the case's number) → labels as sent.
fn captured(dir: &std::path::Path) -> BTreeMap<usize, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let batch: Batch = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        for env in batch.envelopes {
            let n: usize = serde_json::from_slice(&env.payload).unwrap();
            out.insert(n, env.labels.unwrap_or_default());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_crosses_the_wire_that_the_agreement_does_not_allow() {
    let mut rng = Rng(0x116e_5a9e_e3e1);
    let record = MessageType::new("record").unwrap();
    let (mut checked, mut crossed) = (0, 0);
    for round in 0..4 {
        let mut a = agreement(&mut rng, Utc::now().date_naive());
        let (from, to) = (a.parties[0].clone(), a.parties[1].clone());
        let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let sender = limes_link::open(dirs.0.path(), config(&from.agency, &from.country, free_port()), None).unwrap();
        let receiver = limes_link::open(dirs.1.path(), config(&to.agency, &to.country, free_port()), None).unwrap();
        sender.add_partner(receiver.anchor().unwrap(), [record.clone()].into(), BTreeSet::new()).unwrap();
        receiver.add_partner(sender.anchor().unwrap(), BTreeSet::new(), [record.clone()].into()).unwrap();
        // Both sign with their own keys; both put it in force.
        a.parties[0].key = sender.identity().key.public();
        a.parties[1].key = receiver.identity().key.public();
        sign::sign(&mut a, &from.agency, &sender.identity().key).unwrap();
        sign::sign(&mut a, &to.agency, &receiver.identity().key).unwrap();
        sender.add_agreement(&a.to_toml()).unwrap();
        receiver.add_agreement(&a.to_toml()).unwrap();
        let capture = dirs.1.path().join("capture");
        receiver.capture_batches(&capture).unwrap();
        let _running = (sender.start().await.unwrap(), receiver.start().await.unwrap());

        // Records offered from the sender to the receiver, now.
        let cases: Vec<Case> = (0..150)
            .map(|_| {
                let mut c = case(&mut rng, &a);
                c.act = Act::Send;
                c.from = from.agency.clone();
                c.to = to.agency.clone();
                c.now = Utc::now();
                // No agreement with a third party here: its data never may be passed on.
                c.onward_permitted = c.labels.origin == c.from;
                c.labels.request = c.approved_request.then(|| format!("REQ-{round}"));
                c
            })
            .collect();
        let items = cases
            .iter()
            .enumerate()
            .map(|(n, c)| Outgoing {
                partner: AgencyId::new(to.agency.as_str()).unwrap(),
                kind: record.clone(),
                stream: "records".into(),
                payload: serde_json::to_vec(&n).unwrap(),
                about: Some(format!("case:{n}")),
                labels: Some(c.labels.clone()),
                approved_request: c.approved_request,
            })
            .collect();
        let results = sender.send(items).await.unwrap();
        let allowed: BTreeSet<usize> = (0..cases.len()).filter(|&n| oracle(&a, &cases[n])).collect();
        for (n, r) in results.iter().enumerate() {
            match r {
                Ok(_) => assert!(allowed.contains(&n), "queued what the agreement refuses: {:#?}", cases[n]),
                Err(LinkError::NotAgreed { .. }) => {
                    assert!(!allowed.contains(&n), "refused what the agreement allows: {r:?} {:#?}", cases[n])
                }
                Err(e) => panic!("{e}"),
            }
        }

        // Everything queued arrives, and that is all that crossed.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let received = wait_received(&receiver, allowed.len(), deadline).await;
        assert!(sender.queued() == 0 || allowed.is_empty(), "the queue drained");
        let wire = captured(&capture);
        assert_eq!(wire.keys().copied().collect::<BTreeSet<_>>(), allowed, "round {round}: what crossed the wire");
        for (n, labels) in &wire {
            let sent: limes_agreement::Labels = serde_json::from_str(labels).unwrap();
            assert_eq!(sent, cases[*n].labels, "the labels crossed as the sender's policy saw them");
        }
        // The receiver's own check agrees with the sender's: everything that crossed is applied.
        assert_eq!(received, allowed, "round {round}: what the receiver took");
        checked += cases.len();
        crossed += allowed.len();
    }
    assert_eq!(checked, 600);
    // Both outcomes were exercised, many times.
    assert!((30..570).contains(&crossed), "{crossed} of {checked} records crossed");
}

async fn wait_received(link: &Link, expected: usize, deadline: std::time::Instant) -> BTreeSet<usize> {
    let mut got = BTreeSet::new();
    while got.len() < expected {
        let timeout = deadline.saturating_duration_since(std::time::Instant::now());
        let Ok(batch) = tokio::time::timeout(timeout, link.received(1000)).await else {
            panic!("only {} of {expected} records arrived", got.len());
        };
        let batch = batch.unwrap();
        for r in &batch {
            got.insert(serde_json::from_slice::<usize>(&r.payload).unwrap());
        }
        link.applied(&batch).await.unwrap();
    }
    // Anything more would show up now.
    if let Ok(Ok(more)) = tokio::time::timeout(Duration::from_millis(300), link.received(1000)).await {
        for r in &more {
            got.insert(serde_json::from_slice::<usize>(&r.payload).unwrap());
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_receipts_reach_the_origin_and_what_has_none_is_flagged_after_the_retention() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ro = limes_link::open(dirs.0.path(), config("ro-igpf", "RO", free_port()), None).unwrap();
    let ua = limes_link::open(dirs.1.path(), config("ua-dpsu", "UA", free_port()), None).unwrap();
    let alert = MessageType::new("alert").unwrap();
    ro.add_partner(ua.anchor().unwrap(), [alert.clone()].into(), BTreeSet::new()).unwrap();
    ua.add_partner(ro.anchor().unwrap(), BTreeSet::new(), [alert.clone()].into()).unwrap();
    let agreement = limes_agreement::example::between(
        "ro-ua.toml",
        &[("ro-igpf", &ro.identity().key), ("ua-dpsu", &ua.identity().key)],
        Utc::now().date_naive(),
    )
    .unwrap();
    ro.add_agreement(&agreement.to_toml()).unwrap();
    ua.add_agreement(&agreement.to_toml()).unwrap();
    let retention = agreement.flow("ro-igpf", "ua-dpsu", limes_agreement::Category::Alerts).unwrap().retention_days;
    let _running = (ro.start().await.unwrap(), ua.start().await.unwrap());

    let labels = limes_agreement::Labels {
        category: limes_agreement::Category::Alerts,
        origin: "ro-igpf".into(),
        purpose: "detection".into(),
        plates: limes_agreement::PlateForm::Clear,
        images: limes_agreement::ImageForm::None,
        shape: limes_agreement::Shape::Full,
        request: None,
        onward: None,
    };
    let items = (0..10)
        .map(|n| Outgoing {
            partner: AgencyId::new("ua-dpsu").unwrap(),
            kind: alert.clone(),
            stream: "alerts".into(),
            payload: serde_json::to_vec(&n).unwrap(),
            about: None,
            labels: Some(labels.clone()),
            approved_request: false,
        })
        .collect();
    assert!(ro.send(items).await.unwrap().iter().all(Result::is_ok));
    let received = tokio::time::timeout(Duration::from_secs(30), async {
        let mut got = Vec::new();
        while got.len() < 10 {
            let batch = ua.received(100).await.unwrap();
            ua.applied(&batch).await.unwrap();
            got.extend(batch);
        }
        got
    })
    .await
    .expect("the ten alerts arrive");

    // Nothing is owed before the retention runs out; everything after it.
    let after = Utc::now() + chrono::Duration::days(i64::from(retention) + 1);
    assert_eq!(ro.overdue_receipts(Utc::now(), 100).unwrap().0, 0);
    assert_eq!(ro.overdue_receipts(after, 100).unwrap().0, 10);
    assert_eq!(ro.receipt_counts().unwrap(), (0, 10));

    // The receiver deletes four and says so; ids it never got change nothing.
    let deleted: Vec<_> = received.iter().take(4).map(|r| r.id).collect();
    let mut claimed = deleted.clone();
    claimed.push(limes_federation::MessageId::random().unwrap());
    let ro_agency = AgencyId::new("ro-igpf").unwrap();
    ua.send_deletion_receipt(&ro_agency, claimed, limes_federation::DeletionReason::Retention).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ro.receipt_counts().unwrap() != (4, 6) {
        assert!(std::time::Instant::now() < deadline, "receipts: {:?}", ro.receipt_counts().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (overdue, oldest) = ro.overdue_receipts(after, 100).unwrap();
    assert_eq!(overdue, 6);
    let owed: BTreeSet<String> = oldest.iter().map(|o| o.message.clone()).collect();
    for id in &deleted {
        assert!(!owed.contains(&id.to_string()), "a deleted message is no longer owed");
    }
    assert!(oldest.iter().all(|o| o.partner == "ua-dpsu" && o.category == "alerts"));
    // The receipt never reaches the receiving application: it is the link's own business.
    assert!(tokio::time::timeout(Duration::from_millis(300), ro.received(10)).await.is_err());
}
