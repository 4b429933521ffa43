//! Witnessed audit between real links over real mutual TLS, each with its own audit log:
//! partners cosign each other's checkpoints, batches carry them, receivers hold messages whose
//! checkpoint does not pass and release them when one does, and a forked history is caught.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use common::free_port;
use limes_audit::witness::ForkEvidence;
use limes_audit::{
    Action, Actor, AuditEvent, AuditLog, AuditOptions, CheckpointSigner, Details, ExportFilter, Hash, Object, Outcome,
};
use limes_federation::{Batch, BatchCheckpoint, MessageType};
use limes_link::{Link, LinkConfig, Outgoing, Running};
use limes_model::AgencyId;
use reqwest::StatusCode;
use serde_json::Value;

struct Node {
    dir: tempfile::TempDir,
    link: Link,
    audit: AuditLog,
    running: Option<Running>,
}

impl Node {
    fn open(agency: &str, country: &str) -> Self {
        Self::open_with(agency, country, |_| {})
    }

    fn open_with(agency: &str, country: &str, edit: impl FnOnce(&mut LinkConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = common::config_at(agency, country, free_port());
        edit(&mut config);
        let (link, audit) = Self::open_in(dir.path(), config);
        Node { dir, link, audit, running: None }
    }

    fn open_in(dir: &Path, config: LinkConfig) -> (Link, AuditLog) {
        let origin = format!("limes/{}/audit", config.agency);
        let audit = AuditLog::open(&dir.join("audit"), AuditOptions::new(origin)).unwrap();
        let link = limes_link::open(&dir.join("federation"), config, Some(audit.clone())).unwrap();
        (link, audit)
    }

    async fn start(mut self) -> Self {
        self.running = Some(self.link.start().await.unwrap());
        self
    }

    fn agency(&self) -> AgencyId {
        self.link.config().agency.clone()
    }

    /// The audit log's readable records.
    fn records(&self) -> Vec<Value> {
        let mut out = Vec::new();
        self.audit.export(&ExportFilter::default(), &mut out).unwrap();
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// A client holding this node's certificate, for `to`'s partners' port.
    fn raw_client(&self, to: &Node) -> reqwest::Client {
        let tls = limes_link::tls::client_config(self.link.identity(), to.link.identity().fingerprint()).unwrap();
        reqwest::Client::builder().tls_backend_preconfigured(tls).build().unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.link.config().url)
    }
}

fn alert() -> MessageType {
    MessageType::new("alert").unwrap()
}

/// `from` sends alerts to `to`; both put the example RO–UA agreement in force (with `edit`
/// applied before both sign it).
fn agree(ro: &Node, ua: &Node, edit: impl FnOnce(&mut limes_agreement::Agreement)) {
    ro.link.add_partner(ua.link.anchor().unwrap(), [alert()].into(), BTreeSet::new()).unwrap();
    ua.link.add_partner(ro.link.anchor().unwrap(), BTreeSet::new(), [alert()].into()).unwrap();
    let mut agreement = limes_agreement::example::between(
        "ro-ua.toml",
        &[("ro-igpf", &ro.link.identity().key), ("ua-dpsu", &ua.link.identity().key)],
        Utc::now().date_naive(),
    )
    .unwrap();
    edit(&mut agreement);
    limes_agreement::sign::sign(&mut agreement, "ro-igpf", &ro.link.identity().key).unwrap();
    limes_agreement::sign::sign(&mut agreement, "ua-dpsu", &ua.link.identity().key).unwrap();
    ro.link.add_agreement(&agreement.to_toml()).unwrap();
    ua.link.add_agreement(&agreement.to_toml()).unwrap();
}

fn alerts(to: &AgencyId, numbers: std::ops::Range<u32>) -> Vec<Outgoing> {
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
    numbers
        .map(|n| Outgoing {
            partner: to.clone(),
            kind: alert(),
            stream: "alerts".into(),
            payload: serde_json::to_vec(&n).unwrap(),
            about: None,
            labels: Some(labels.clone()),
            approved_request: false,
        })
        .collect()
}

/// Takes what `link` hands on until `n` messages came, in order; fails after `within`.
async fn take(link: &Link, n: usize, within: Duration) -> Vec<u32> {
    let mut got = Vec::new();
    tokio::time::timeout(within, async {
        while got.len() < n {
            let batch = link.received(100).await.unwrap();
            link.applied(&batch).await.unwrap();
            got.extend(batch.iter().map(|r| serde_json::from_slice::<u32>(&r.payload).unwrap()));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {n} messages were handed on: {got:?}", got.len()));
    got
}

/// Nothing more is handed on for a while.
async fn nothing_handed_on(link: &Link) {
    let more = tokio::time::timeout(Duration::from_millis(1500), link.received(10)).await;
    assert!(more.is_err(), "messages were handed on: {:?}", more.unwrap().unwrap().len());
}

async fn until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn held_of(link: &Link, partner: &str) -> (u64, u64) {
    let status = link.witness_status().unwrap();
    let p = status.partners.iter().find(|p| p.agency.as_str() == partner).unwrap();
    (p.held_size, p.held_messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_cosign_each_others_checkpoints_and_witnessed_messages_are_delivered() {
    let ro = Node::open("ro-igpf", "RO");
    let ua = Node::open("ua-dpsu", "UA");
    agree(&ro, &ua, |_| {});
    // Each trust anchor carries its node's audit key, signed.
    assert_eq!(ro.link.anchor().unwrap().audit_key, Some(ro.audit.verifier_key().to_string()));
    let capture = ua.dir.path().join("capture");
    ua.link.capture_batches(&capture).unwrap();
    let (ro, ua) = (ro.start().await, ua.start().await);

    // Each partner witnesses the other's log.
    until("both logs are cosigned by the other party", Duration::from_secs(30), || {
        let cosigned = |n: &Node, by: &str| n.link.witness_status().unwrap().cosigned_by.contains(&by.to_owned());
        cosigned(&ro, "limes/ua-dpsu/witness") && cosigned(&ua, "limes/ro-igpf/witness")
    })
    .await;

    assert!(ro.link.send(alerts(&ua.agency(), 0..20)).await.unwrap().iter().all(Result::is_ok));
    assert_eq!(take(&ua.link, 20, Duration::from_secs(30)).await, (0..20).collect::<Vec<_>>());
    let (held_size, held_messages) = held_of(&ua.link, "ro-igpf");
    assert!(held_size > 0, "ua holds a checkpoint of ro's log");
    assert_eq!(held_messages, 0);
    assert!(ua.link.stats().checkpoints_accepted.load(std::sync::atomic::Ordering::Relaxed) > 0);
    assert_eq!(ua.link.stats().forks.load(std::sync::atomic::Ordering::Relaxed), 0);

    // What crossed: each batch carried ro's checkpoint, signed by ro's log and by ua.
    let ro_key = ro.audit.verifier_key();
    let ua_witness =
        limes_audit::VerifierKey::from_ed25519("limes/ua-dpsu/witness", ua.link.identity().key.public().as_bytes())
            .unwrap();
    let mut carried = 0;
    for entry in std::fs::read_dir(&capture).unwrap() {
        let batch: Batch = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        let checkpoint = batch.checkpoint.expect("every batch carries a checkpoint");
        if !batch.envelopes.is_empty()
            && limes_audit::verify_cosigned(&checkpoint.note, &ro_key, std::slice::from_ref(&ua_witness)).is_ok()
        {
            carried += 1;
        }
    }
    assert!(carried > 0, "batches of messages carried checkpoints ua cosigned");

    // The log grows and quiet logs get new cosignatures; what ua holds only grows.
    ro.audit.append(event("more")).await.unwrap();
    checkpoint_now(&ro.audit);
    assert!(ro.link.send(alerts(&ua.agency(), 20..25)).await.unwrap().iter().all(Result::is_ok));
    assert_eq!(take(&ua.link, 5, Duration::from_secs(30)).await, (20..25).collect::<Vec<_>>());
    assert!(held_of(&ua.link, "ro-igpf").0 >= held_size);
    let status = ro.link.witness_status().unwrap();
    let ours = status.partners.iter().find(|p| p.agency.as_str() == "ua-dpsu").unwrap().ours.clone().unwrap();
    assert_eq!(ours.status, limes_federation::CheckpointStatus::Accepted, "{ours:?}");
    assert!(status.witnesses.get(&ua.agency()).is_some_and(|w| w.last_error.is_none()), "{status:#?}");
}

/// Signs a checkpoint of the log now (the audit log's call blocks).
fn checkpoint_now(audit: &AuditLog) -> limes_audit::SignedCheckpoint {
    tokio::task::block_in_place(|| audit.checkpoint_now()).unwrap().unwrap()
}

fn event(object: &str) -> AuditEvent {
    AuditEvent {
        actor: Actor::User("ana".into()),
        role: "investigator".into(),
        action: Action::Consult,
        object: Object::new("test", object),
        purpose: "investigation".into(),
        legal_basis: "a test".into(),
        case_ref: None,
        outcome: Outcome::Allowed,
        details: Details::none(),
    }
}

/// The sender's audit signer, read from its key file (what a node that rewrites its history
/// holds).
fn audit_signer(node: &Node) -> CheckpointSigner {
    let text = std::fs::read_to_string(node.dir.path().join("audit").join(limes_audit::KEY_FILE)).unwrap();
    CheckpointSigner::parse_private_text(&text).unwrap()
}

/// Posts a batch with no messages carrying `checkpoint`, as `from` to `to`; the receipt.
async fn post_checkpoint(from: &Node, to: &Node, checkpoint: BatchCheckpoint) -> (StatusCode, Value) {
    let batch = Batch::seal_with_checkpoint(
        from.agency(),
        to.agency(),
        Utc::now(),
        Some(checkpoint),
        vec![],
        &from.link.identity().key,
    );
    let resp = from.raw_client(to).post(to.url("/federation/v1/batches")).json(&batch).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_audit_history_is_detected() {
    let ro = Node::open("ro-igpf", "RO");
    let ua = Node::open("ua-dpsu", "UA");
    agree(&ro, &ua, |_| {});
    let (ro, ua) = (ro.start().await, ua.start().await);
    assert!(ro.link.send(alerts(&ua.agency(), 0..3)).await.unwrap().iter().all(Result::is_ok));
    take(&ua.link, 3, Duration::from_secs(30)).await;
    let (held_size, _) = held_of(&ua.link, "ro-igpf");
    assert!(held_size > 0);

    // ro's node signs another tree of the size ua holds with its audit key: a second history.
    let signer = audit_signer(&ro);
    let forged = signer.sign(held_size, Hash([0x5a; 32]), Utc::now().timestamp() as u64);
    let note = signer.verifier().note(&forged);
    let (status, receipt) = post_checkpoint(&ro, &ua, BatchCheckpoint { note: note.clone(), proof: None }).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["checkpoint"]["status"], "fork", "{receipt}");

    // The evidence is kept, and a data protection officer can check it with ro's audit key.
    let forks = ua.link.forks(10).unwrap();
    assert_eq!(forks.len(), 1, "{forks:#?}");
    assert_eq!((forks[0].partner.as_str(), forks[0].seen_as.as_str()), ("ro-igpf", "receiver"));
    assert_eq!(forks[0].record.presented, note);
    let evidence =
        ForkEvidence::SameSize { held: forks[0].record.held.clone(), presented: forks[0].record.presented.clone() };
    evidence.confirm(&ro.audit.verifier_key()).unwrap();
    assert_eq!(ua.link.stats().forks.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(ua.link.witness_status().unwrap().forks, 1);
    // …and it is in ua's audit log.
    until("the fork is in ua's audit log", Duration::from_secs(10), || {
        ua.records().iter().any(|r| r["action"] == "denied" && r["object"] == "audit-log:ro-igpf")
    })
    .await;

    // From now on ro's messages are held at ua (stored, acknowledged, not handed on).
    assert!(ro.link.send(alerts(&ua.agency(), 3..5)).await.unwrap().iter().all(Result::is_ok));
    until("ro's queue drains", Duration::from_secs(30), || ro.link.queued() == 0).await;
    nothing_handed_on(&ua.link).await;
    assert_eq!(held_of(&ua.link, "ro-igpf").1, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_rewritten_under_the_same_key_is_refused_by_its_witness_and_its_messages_held() {
    let ro = Node::open("ro-igpf", "RO");
    let ua = Node::open("ua-dpsu", "UA");
    agree(&ro, &ua, |_| {});
    let ro_config = ro.link.config().clone();
    let (ro, ua) = (ro.start().await, ua.start().await);
    assert!(ro.link.send(alerts(&ua.agency(), 0..3)).await.unwrap().iter().all(Result::is_ok));
    take(&ua.link, 3, Duration::from_secs(30)).await;
    until("ua cosigned ro's log", Duration::from_secs(30), || {
        ro.link.witness_status().unwrap().witnesses.get(&ua.agency()).is_some_and(|w| w.size > 0)
    })
    .await;

    // ro's node stops, replaces its audit database by another log under the same key (a
    // history rewritten from the start), writes more than it had, and starts again.
    let Node { dir, link, audit, running } = ro;
    drop(running);
    drop(link);
    drop(audit);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for f in ["audit.sqlite", "audit.sqlite-wal", "audit.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join("audit").join(f));
    }
    let (link, audit) = Node::open_in(dir.path(), ro_config);
    for i in 0..200 {
        audit.append(event(&format!("rewritten-{i}"))).await.unwrap();
    }
    checkpoint_now(&audit);
    let ro = Node { dir, link, audit, running: None }.start().await;

    // ua, as ro's witness, refuses the new history and keeps the evidence.
    until("ua finds the fork as ro's witness", Duration::from_secs(30), || {
        ua.link.forks(10).unwrap().iter().any(|f| f.partner == "ro-igpf" && f.seen_as == "witness")
    })
    .await;
    let error = ro.link.witness_status().unwrap().witnesses.get(&ua.agency()).and_then(|w| w.last_error.clone());
    assert!(error.as_deref().is_some_and(|e| e.contains("422") || e.contains("fork")), "{error:?}");
    // ro's messages are held from now on.
    assert!(ro.link.send(alerts(&ua.agency(), 3..5)).await.unwrap().iter().all(Result::is_ok));
    until("ro's queue drains", Duration::from_secs(30), || ro.link.queued() == 0).await;
    nothing_handed_on(&ua.link).await;
    assert_eq!(held_of(&ua.link, "ro-igpf").1, 2);
    until("the witness's refusal is in ua's audit log", Duration::from_secs(10), || {
        ua.records().iter().any(|r| r["object"] == "audit-log:ro-igpf" && r["details"]["seen_as"] == "witness")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_wait_for_every_witness_the_agreement_names_and_none_is_lost() {
    // The agreement names an independent witness (a data protection authority's node) that
    // ro has not added yet: ua holds ro's messages, then releases them all once it cosigned.
    let dpa = Node::open("ro-anspdcp", "RO").start().await;
    let ro = Node::open("ro-igpf", "RO");
    let ua = Node::open("ua-dpsu", "UA");
    let witness_key = dpa.link.witness_status().unwrap().witness_key;
    agree(&ro, &ua, |a| {
        a.witnesses.push(limes_agreement::Witness { name: "ANSPDCP node".into(), key: witness_key.clone() });
    });
    let (ro, ua) = (ro.start().await, ua.start().await);
    assert!(ro.link.send(alerts(&ua.agency(), 0..10)).await.unwrap().iter().all(Result::is_ok));
    until("ua took ro's messages", Duration::from_secs(30), || held_of(&ua.link, "ro-igpf").1 == 10).await;
    nothing_handed_on(&ua.link).await;
    let ours = ro.link.witness_status().unwrap();
    let ours = ours.partners.iter().find(|p| p.agency.as_str() == "ua-dpsu").unwrap().ours.clone().unwrap();
    assert_eq!(ours.status, limes_federation::CheckpointStatus::Held);
    assert!(ours.reason.contains("not cosigned by limes/ro-anspdcp/witness"), "{ours:?}");

    // The witness's node and ro's become partners (no message types: witnessing only).
    ro.link.add_partner(dpa.link.anchor().unwrap(), BTreeSet::new(), BTreeSet::new()).unwrap();
    dpa.link.add_partner(ro.link.anchor().unwrap(), BTreeSet::new(), BTreeSet::new()).unwrap();
    assert_eq!(take(&ua.link, 10, Duration::from_secs(30)).await, (0..10).collect::<Vec<_>>());
    assert!(ua.link.stats().released.load(std::sync::atomic::Ordering::Relaxed) >= 10);
    assert_eq!(held_of(&ua.link, "ro-igpf").1, 0);
    nothing_handed_on(&ua.link).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_checkpoint_holds_messages_until_a_fresh_one_arrives() {
    // ro asks its witness only when woken (a minute apart otherwise); ua takes checkpoints at
    // most 5 s old (short for the test, long enough for two loaded cores to pass one on).
    let slow = limes_link::WitnessConfig {
        interval: Duration::from_secs(60),
        refresh: Duration::from_secs(60),
        ..limes_link::WitnessConfig::default()
    };
    let ro = Node::open_with("ro-igpf", "RO", |c| c.witness = slow);
    let ua = Node::open_with("ua-dpsu", "UA", |c| c.witness.max_age = Duration::from_secs(5));
    agree(&ro, &ua, |_| {});
    let (ro, ua) = (ro.start().await, ua.start().await);
    until("ua cosigned ro's log", Duration::from_secs(30), || {
        ro.link.witness_status().unwrap().witnesses.get(&ua.agency()).is_some_and(|w| w.last_cosigned.is_some())
    })
    .await;

    // Six seconds later, ro's newest cosignature is stale for ua: the messages wait.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(ro.link.send(alerts(&ua.agency(), 0..4)).await.unwrap().iter().all(Result::is_ok));
    until("ua took ro's messages", Duration::from_secs(30), || held_of(&ua.link, "ro-igpf").1 == 4).await;
    nothing_handed_on(&ua.link).await;
    let status = ro.link.witness_status().unwrap();
    let ours = status.partners.iter().find(|p| p.agency.as_str() == "ua-dpsu").unwrap().ours.clone().unwrap();
    assert_eq!(ours.status, limes_federation::CheckpointStatus::Held);
    assert!(ours.reason.contains("old"), "{ours:?}");

    // Putting the agreement in force again wakes ro's cosigner: a fresh cosignature releases
    // every held message, in order.
    let text = ro.link.agreements().into_iter().find(|a| a.in_force).unwrap().id;
    let agreement = limes_agreement::example::between(
        "ro-ua.toml",
        &[("ro-igpf", &ro.link.identity().key), ("ua-dpsu", &ua.link.identity().key)],
        Utc::now().date_naive(),
    )
    .unwrap();
    assert_eq!(agreement.id, text);
    ro.link.add_agreement(&agreement.to_toml()).unwrap();
    assert_eq!(take(&ua.link, 4, Duration::from_secs(30)).await, (0..4).collect::<Vec<_>>());
    assert_eq!(held_of(&ua.link, "ro-igpf").1, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_witness_requests_and_checkpoints_get_clear_refusals() {
    let ro = Node::open("ro-igpf", "RO");
    let ua = Node::open("ua-dpsu", "UA");
    agree(&ro, &ua, |_| {});
    let (ro, ua) = (ro.start().await, ua.start().await);
    let client = ro.raw_client(&ua);
    let url = ua.url(limes_link::witness::ADD_CHECKPOINT);
    let post = |body: Vec<u8>| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let resp = client.post(&url).body(body).send().await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };
    let signer = audit_signer(&ro);
    ro.audit.append(event("x")).await.unwrap();
    let signed = checkpoint_now(&ro.audit);
    let note = signer.verifier().note(&signed);

    let cases: Vec<(Vec<u8>, StatusCode, &str)> = vec![
        (b"garbage".to_vec(), StatusCode::BAD_REQUEST, "no blank line"),
        (b"new 3\n\nx".to_vec(), StatusCode::BAD_REQUEST, "no `old` line"),
        (b"old 03\n\nx".to_vec(), StatusCode::BAD_REQUEST, "leading zeros"),
        (format!("old 1\nnot-a-hash\n\n{note}").into_bytes(), StatusCode::BAD_REQUEST, "not base64 of 32 bytes"),
        (
            format!("old 1\n{}\n{note}", "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n".repeat(65)).into_bytes(),
            StatusCode::BAD_REQUEST,
            "at most 64 hashes",
        ),
        (vec![0xff, 0xfe, b'\n', b'\n'], StatusCode::BAD_REQUEST, "not UTF-8"),
        (b"old 0\n\nnot a note\n".to_vec(), StatusCode::FORBIDDEN, "checkpoint note"),
        (
            format!("old 0\n\n{}", note.replace("limes/ro-igpf/audit\n", "limes/ua-dpsu/audit\n")).into_bytes(),
            StatusCode::NOT_FOUND,
            "origin",
        ),
        (format!("old 0\n\n{}", note.replacen('=', "A", 1)).into_bytes(), StatusCode::FORBIDDEN, ""),
        (vec![b'a'; 64 * 1024], StatusCode::PAYLOAD_TOO_LARGE, ""),
    ];
    for (body, status, says) in cases {
        let (got, text) = post(body).await;
        assert_eq!(got, status, "{text}");
        assert!(text.contains(says), "{says:?} not in {text:?}");
    }
    // A partner without an audit key in its anchor is an unknown log.
    let bare_dir = tempfile::tempdir().unwrap();
    let bare_port = free_port();
    let bare = limes_link::open(bare_dir.path(), common::config_at("md-pf", "MD", bare_port), None).unwrap();
    ua.link.add_partner(bare.anchor().unwrap(), BTreeSet::new(), BTreeSet::new()).unwrap();
    let tls = limes_link::tls::client_config(bare.identity(), ua.link.identity().fingerprint()).unwrap();
    let bare_client = reqwest::Client::builder().tls_backend_preconfigured(tls).build().unwrap();
    let resp = bare_client.post(&url).body(format!("old 0\n\n{note}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.text().await.unwrap().contains("names no audit key"));
    // Every refusal that reached the witness is audited (the oversized request is refused by
    // the body limit before it).
    until("the refusals are in ua's audit log", Duration::from_secs(10), || {
        let refusals = ua.records();
        let refused = |who: &str| {
            let object = format!("checkpoint:{who}");
            refusals.iter().filter(|r| r["action"] == "denied" && r["object"] == object.as_str()).count()
        };
        refused("ro-igpf") >= 9 && refused("md-pf") == 1
    })
    .await;

    // A batch's checkpoint over the size of a note is refused as a whole; one that does not
    // read holds the batch's messages (nothing is dropped), and says why.
    let (status, body) = post_checkpoint(&ro, &ua, BatchCheckpoint { note: "x".repeat(17 * 1024), proof: None }).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("oversized")), "{body}");
    let (status, receipt) = post_checkpoint(&ro, &ua, BatchCheckpoint { note: "garbage".into(), proof: None }).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(receipt["checkpoint"]["status"], "held", "{receipt}");
    assert!(receipt["checkpoint"]["reason"].as_str().unwrap().contains("unreadable checkpoint"), "{receipt}");
    assert_eq!(ua.link.stats().forks.load(std::sync::atomic::Ordering::Relaxed), 0);
}
