//! Federation between real `limes` processes over real mutual TLS: trust anchors exchanged
//! with the CLI, alerts crossing the border, a partner down and back, and every kind of bad
//! message refused, stored nowhere and audited.

mod util;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use limes_federation::{Batch, Draft, Envelope, MessageId, MessageType, StreamName};
use limes_model::AgencyId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use util::{TestNode, audit_records, camera_json, limes_bin, read_json, wait_until};

fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
}

/// A node of `agency` in `country` with `[federation]` on a free port.
fn fed_node(agency: &str, country: &str) -> TestNode {
    fed_node_in(agency, country, None, free_port(), None)
}

/// A node whose API and partners' port listen on the address of `ns` (loopback without), its
/// partners' port on `port`, its trust anchor naming `url` (default: that port).
fn fed_node_in(
    agency: &str,
    country: &str,
    ns: Option<&limes_netlab::Netns>,
    port: u16,
    url: Option<String>,
) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let host = ns.map_or("127.0.0.1".to_owned(), |n| n.addr().to_string());
    let url = url.unwrap_or_else(|| format!("https://{host}:{port}"));
    let out = Command::new(limes_bin())
        .args(["init", "--dir"])
        .arg(dir.path())
        .args(["--node-id", agency, "--agency", agency, "--country", country, "--listen", &format!("{host}:0")])
        .args(["--federation-listen", &format!("{host}:{port}"), "--federation-url", &url])
        .args(["--name", &format!("{agency} police")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("made the agency's signing key and TLS certificate"), "{stdout}");
    let config = dir.path().join("limes.toml");
    let wrapper = ns.map(|n| vec!["ip".into(), "netns".into(), "exec".into(), n.name().to_owned()]);
    TestNode::start_with(dir, config, wrapper)
}

fn export_anchor(node: &TestNode) -> std::path::PathBuf {
    let path = node.dir.path().join("anchor.toml");
    let out = Command::new(limes_bin())
        .args(["trust", "export", "--config"])
        .arg(&node.config)
        .arg("--out")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("PRIVATE") && !text.contains("agency-key"), "an anchor never carries a private key");
    path
}

fn admin(node: &TestNode, args: &[&str]) -> std::process::Output {
    Command::new(limes_bin())
        .args(args)
        .env("LIMES_URL", &node.url)
        .env("LIMES_TOKEN", &node.admin_token)
        .output()
        .unwrap()
}

fn add_partner(node: &TestNode, anchor: &Path, send: &str, receive: &str) {
    let mut args = vec!["partner", "add", anchor.to_str().unwrap()];
    if !send.is_empty() {
        args.extend(["--send", send]);
    }
    if !receive.is_empty() {
        args.extend(["--receive", receive]);
    }
    let out = admin(node, &args);
    assert!(out.status.success(), "partner add: {}", String::from_utf8_lossy(&out.stderr));
}

async fn alerts(node: &TestNode) -> Vec<Value> {
    let v: Value =
        node.session_client().get(node.at("/api/v1/alerts?limit=1000")).send().await.unwrap().json().await.unwrap();
    v.as_array().unwrap().clone()
}

async fn setup_hotlist(node: &TestNode) {
    let c = node.client();
    let r = c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-siret-1", "RO")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let hotlist: Vec<Value> = (0..30)
        .map(|i| json!({"plate": format!("SV {:02} FED", i + 10), "country": "RO", "reason": "stolen", "agency": "ro-igpf"}))
        .collect();
    let r = c.post(node.at("/api/v1/hotlist")).json(&hotlist).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

async fn read(node: &TestNode, i: usize) {
    let r = node
        .client()
        .post(node.at("/api/v1/reads"))
        .json(&read_json("ro-siret-1", &format!("SV{:02}FED", i + 10), Some("RO")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_cross_the_border_once_in_order_even_when_the_partner_was_down() {
    let ro = fed_node("ro-igpf", "RO");
    let mut ua = fed_node("ua-dpsu", "UA");
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    // `trust show` prints what the other agency reads out on the phone.
    let shown = util::limes(&["trust", "show", ro_anchor.to_str().unwrap()]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!((shown["agency"].as_str(), shown["country"].as_str()), (Some("ro-igpf"), Some("RO")));
    add_partner(&ro, &ua_anchor, "alert", "");
    add_partner(&ua, &ro_anchor, "", "alert");
    setup_hotlist(&ro).await;

    // The live stream on the Ukrainian node.
    let resp = ua.session_client().get(ua.at("/api/v1/alerts/stream")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    read(&ro, 0).await;
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        use futures::StreamExt;
        while !text.contains("event: alert") || !text.ends_with("\n\n") {
            text.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
        }
    })
    .await
    .expect("the alert reached the partner's live stream");
    let data = text.lines().find_map(|l| l.strip_prefix("data:")).unwrap();
    let alert: Value = serde_json::from_str(data.trim()).unwrap();
    assert_eq!(alert["origin"]["agency"], "ro-igpf", "{alert}");
    assert_eq!(alert["origin"]["country"], "RO");
    assert_eq!(alert["plate"], "SV10FED");
    assert!(alert["origin"]["camera_position"]["lat"].is_number());
    assert!(alert.get("read_id").is_none(), "a partner's alert has no read here: {alert}");

    // The partner goes down; alerts queue on the sender.
    ua.kill9();
    for i in 1..21 {
        read(&ro, i).await;
    }
    let ro_admin = util::bearer_client(&ro.admin_token);
    let queued = || async {
        let p: Value = ro_admin.get(ro.at("/api/v1/partners")).send().await.unwrap().json().await.unwrap();
        p[0]["health"]["queued"].as_u64().unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while queued().await < 20 {
        assert!(std::time::Instant::now() < deadline, "alerts were not queued for the partner that is down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let p: Value = ro_admin.get(ro.at("/api/v1/partners")).send().await.unwrap().json().await.unwrap();
    assert!(p[0]["health"]["last_error"].is_string(), "the link says why it is failing: {p}");

    // The sender dies too (kill -9): its queue is on disk.
    let ro = ro.restart();
    let ro_admin = util::bearer_client(&ro.admin_token);
    let queued = || async {
        let p: Value = ro_admin.get(ro.at("/api/v1/partners")).send().await.unwrap().json().await.unwrap();
        p[0]["health"]["queued"].as_u64().unwrap()
    };
    assert_eq!(queued().await, 20, "the queue survived the sender's restart");

    // Back up: every alert arrives, once, in the order it was raised.
    let ua = ua.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let got = loop {
        let got = alerts(&ua).await;
        if got.len() >= 21 {
            break got;
        }
        assert!(std::time::Instant::now() < deadline, "only {} of 21 alerts arrived", got.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if alerts(&ua).await.len() != got.len() { alerts(&ua).await } else { got };
    assert_eq!(got.len(), 21, "each message takes effect once");
    // Newest first here; the partner's ids must rise with ours.
    let origin_ids: Vec<i64> = got.iter().rev().map(|a| a["origin"]["alert_id"].as_i64().unwrap()).collect();
    let mut sorted = origin_ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(origin_ids, sorted, "in order, no duplicates");
    wait_until(Duration::from_secs(10), || {
        let rt = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| rt.block_on(queued())) == 0
    });

    // Both sides audited: a collect record per message received, a transfer per message sent.
    let collected = audit_records(&ua, &["--actor", "node:ro-igpf"]);
    assert_eq!(collected.iter().filter(|r| r["action"] == "collect").count(), 21, "{collected:#?}");
    let sent = audit_records(&ro, &["--actor", "node:ro-igpf"]);
    assert_eq!(sent.iter().filter(|r| r["action"] == "transfer").count(), 21);
    // A partner's alert is not passed on, and a partner that only receives sends nothing.
    let status: Value = util::bearer_client(&ua.admin_token)
        .get(ua.at("/api/v1/federation"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["sent"], 0, "{status}");
    // Counters are since the restart: the 20 alerts queued while it was down.
    assert_eq!((status["received"].as_u64(), status["partner_alerts"].as_u64()), (Some(20), Some(20)), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_five_percent_loss_each_way_and_a_proxy_that_delays_and_cuts_every_alert_arrives_once_in_order() {
    // Two network namespaces losing 5 % of the packets arriving in each, from each other and
    // from the root namespace, where a proxy between them adds 20 ms each way and cuts
    // connections at random (and refuses them for a while).
    let mut lab = limes_netlab::Lab::new().expect("a network lab: these tests run as root (scripts/test)");
    let (ns_ro, ns_ua) = (lab.add_namespace("ro").unwrap(), lab.add_namespace("ua").unwrap());
    let loss = limes_netlab::Loss::percent(5.0).unwrap();
    lab.set_loss(loss).expect("packet loss (nftables)");
    ns_ro.set_loss_from(limes_netlab::Peer::Root, loss).unwrap();
    ns_ua.set_loss_from(limes_netlab::Peer::Root, loss).unwrap();
    let ua_port = ns_ua.run(free_port).unwrap();
    let proxy = limes_netlab::FaultProxy::start_on(
        std::net::SocketAddr::new(lab.root_addr().into(), 0),
        std::net::SocketAddr::new(ns_ua.addr().into(), ua_port),
    )
    .unwrap();
    proxy.set_latency(limes_netlab::Latency::symmetric(Duration::from_millis(20)));
    proxy.set_random_cuts(Some(limes_netlab::RandomCuts::lifetime_up_to(Duration::from_millis(1500))));
    let ro_port = ns_ro.run(free_port).unwrap();
    let ro = fed_node_in("ro-igpf", "RO", Some(&ns_ro), ro_port, None);
    let ua = fed_node_in("ua-dpsu", "UA", Some(&ns_ua), ua_port, Some(format!("https://{}", proxy.local_addr())));
    add_partner(&ro, &export_anchor(&ua), "alert", "");
    add_partner(&ua, &export_anchor(&ro), "", "alert");
    setup_hotlist(&ro).await;

    for round in 0..6 {
        for i in 0..5 {
            read(&ro, round * 5 + i).await;
        }
        match round {
            1 => proxy.cut_all(),
            2 => proxy.set_mode(limes_netlab::Mode::Refuse).unwrap(),
            3 => proxy.set_mode(limes_netlab::Mode::Up).unwrap(),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let got = loop {
        let got = alerts(&ua).await;
        if got.len() >= 30 {
            break got;
        }
        assert!(std::time::Instant::now() < deadline, "only {} of 30 alerts arrived", got.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(got.len(), 30);
    let origin_ids: Vec<i64> = got.iter().rev().map(|a| a["origin"]["alert_id"].as_i64().unwrap()).collect();
    let mut sorted = origin_ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(origin_ids, sorted, "in order, each once");
    assert!(proxy.stats().cut > 0, "the proxy cut connections: {:?}", proxy.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_more_for_that_partner_and_loses_nothing_it_took() {
    // Backpressure: a partner down for long fills its queue up to its limit; beyond, alerts
    // are still raised and kept here, but not queued for it (and the node says so).
    let ro = {
        let node = fed_node("ro-igpf", "RO");
        let config = std::fs::read_to_string(&node.config).unwrap();
        std::fs::write(&node.config, config.replace("max_queued_per_partner = 1000000", "max_queued_per_partner = 5"))
            .unwrap();
        node.restart()
    };
    let mut ua = fed_node("ua-dpsu", "UA");
    add_partner(&ro, &export_anchor(&ua), "alert", "");
    add_partner(&ua, &export_anchor(&ro), "", "alert");
    setup_hotlist(&ro).await;
    ua.kill9();
    for i in 0..8 {
        read(&ro, i).await;
    }
    let ro_admin = util::bearer_client(&ro.admin_token);
    let partners =
        || async { ro_admin.get(ro.at("/api/v1/partners")).send().await.unwrap().json::<Value>().await.unwrap() };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while partners().await[0]["health"]["queued"] != 5 {
        assert!(std::time::Instant::now() < deadline, "the queue did not fill: {}", partners().await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(partners().await[0]["health"]["queued"], 5, "the limit holds");
    assert_eq!(alerts(&ro).await.len(), 8, "every alert is raised and kept here");
    let status: Value = ro_admin.get(ro.at("/api/v1/federation")).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["not_queued"], 3, "the node counts what it could not queue: {status}");
    let ua = ua.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while alerts(&ua).await.len() < 5 {
        assert!(std::time::Instant::now() < deadline, "the queued alerts did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = alerts(&ua).await;
    assert_eq!(got.len(), 5, "what was queued arrives, once");
}

/// A test-side partner: its own identity, and a client pinned to the node's certificate.
struct FakePartner {
    identity: limes_link::Identity,
    agency: AgencyId,
    _dir: tempfile::TempDir,
}

impl FakePartner {
    fn new(agency: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (identity, _) = limes_link::Identity::load_or_create(dir.path(), agency, &["127.0.0.1".into()]).unwrap();
        Self { identity, agency: AgencyId::new(agency).unwrap(), _dir: dir }
    }

    fn anchor_file(&self, dir: &Path) -> std::path::PathBuf {
        let anchor = self
            .identity
            .anchor(limes_federation::AnchorFields {
                agency: self.agency.clone(),
                name: "Straż Graniczna".into(),
                country: limes_plate::CountryCode::PL,
                regime: limes_access::Regime::Led,
                url: "https://127.0.0.1:9".into(),
                certificate_pem: String::new(),
            })
            .unwrap();
        let path = dir.join(format!("{}.json", self.agency));
        std::fs::write(&path, serde_json::to_string(&anchor).unwrap()).unwrap();
        path
    }

    fn client(&self, node_fingerprint: limes_federation::Fingerprint) -> reqwest::Client {
        let tls = limes_link::tls::client_config(&self.identity, node_fingerprint).unwrap();
        reqwest::Client::builder().tls_backend_preconfigured(tls).build().unwrap()
    }

    fn envelope(&self, to: &AgencyId, kind: &str, seq: u64, payload: Vec<u8>) -> Envelope {
        Envelope::seal(
            Draft {
                id: MessageId::random().unwrap(),
                sender: self.agency.clone(),
                recipient: to.clone(),
                kind: MessageType::new(kind).unwrap(),
                stream: StreamName::new("alerts~test").unwrap(),
                seq,
                created_at: Utc::now(),
                payload,
            },
            &self.identity.key,
        )
    }
}

fn shared_alert(plate: &str, id: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "alert_id": id, "kind": "confirmed", "distance": 0, "plate": plate, "read_text": plate,
        "camera": "pl-cam-1", "country": "PL", "time": Utc::now(), "created": Utc::now(),
        "reason": "stolen", "priority": 1, "agency": "pl-sg"
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_unknown_replayed_misaddressed_skewed_and_oversized_messages_are_refused_stored_nowhere_and_audited() {
    let ua = fed_node("ua-dpsu", "UA");
    let ua_agency = AgencyId::new("ua-dpsu").unwrap();
    let pl = FakePartner::new("pl-sg");
    add_partner(&ua, &pl.anchor_file(ua.dir.path()), "", "alert");
    let anchor = limes_federation::TrustAnchor::clone(&{
        let text = std::fs::read_to_string(export_anchor(&ua)).unwrap();
        toml::from_str::<limes_federation::TrustAnchor>(&text).unwrap()
    });
    let ua_fp = anchor.clone().verify().unwrap().fingerprint;
    let port = anchor.url.rsplit(':').next().unwrap().to_owned();
    let url = format!("https://127.0.0.1:{port}/federation/v1/batches");
    let client = pl.client(ua_fp);
    let post = |batch: &Batch| {
        let body = serde_json::to_vec(batch).unwrap();
        let c = client.clone();
        let url = url.clone();
        async move {
            let r = c.post(&url).header("content-type", "application/json").body(body).send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let batch = |envelopes: Vec<Envelope>| {
        Batch::seal(pl.agency.clone(), ua_agency.clone(), Utc::now(), envelopes, &pl.identity.key)
    };

    // A good message: accepted, and it takes effect.
    let good = pl.envelope(&ua_agency, "alert", 1, shared_alert("WPL1234", 1));
    let (status, receipt) = post(&batch(vec![good.clone()])).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["outcomes"][0]["status"], "accepted", "{receipt}");

    // The same message again (a replay, or a sender that never got the receipt): acknowledged
    // as a duplicate, no second effect. The same id under another place: refused.
    let (_, receipt) = post(&batch(vec![good.clone()])).await;
    assert_eq!(receipt["outcomes"][0]["status"], "duplicate", "{receipt}");
    let mut moved = pl.envelope(&ua_agency, "alert", 2, shared_alert("WPL1234", 1));
    moved.id = good.id;
    let moved = Envelope::seal(
        Draft {
            id: good.id,
            sender: moved.sender,
            recipient: moved.recipient,
            kind: moved.kind,
            stream: moved.stream,
            seq: 2,
            created_at: moved.created_at,
            payload: moved.payload,
        },
        &pl.identity.key,
    );
    let (_, receipt) = post(&batch(vec![moved])).await;
    assert_eq!(receipt["outcomes"][0]["status"], "rejected", "{receipt}");
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "replayed", "{receipt}");

    // Signed with a key that is not the partner's.
    let forger = limes_federation::AgencyKey::generate().unwrap();
    let forged = Batch::seal(
        pl.agency.clone(),
        ua_agency.clone(),
        Utc::now(),
        vec![pl.envelope(&ua_agency, "alert", 3, shared_alert("WPL6666", 3))],
        &forger,
    );
    let (status, body) = post(&forged).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("bad_signature")), "{body}");
    let mut forged_env = pl.envelope(&ua_agency, "alert", 3, shared_alert("WPL6666", 3));
    forged_env.signature = forger.sign(b"x");
    let (_, receipt) = post(&batch(vec![forged_env])).await;
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "bad_signature", "{receipt}");

    // For someone else.
    let other = Batch::seal(pl.agency.clone(), AgencyId::new("rs-mup").unwrap(), Utc::now(), vec![], &pl.identity.key);
    let (status, body) = post(&other).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_recipient")), "{body}");

    // A clock ten minutes fast.
    let skewed = Batch::seal(
        pl.agency.clone(),
        ua_agency.clone(),
        Utc::now() + chrono::Duration::minutes(10),
        vec![pl.envelope(&ua_agency, "alert", 3, shared_alert("WPL7777", 3))],
        &pl.identity.key,
    );
    let (status, body) = post(&skewed).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("clock_skew")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("ahead"), "{body}");

    // Too large, and a type the partner entry does not list.
    let big = pl.envelope(&ua_agency, "alert", 3, vec![b'x'; 2 << 20]);
    let (_, receipt) = post(&batch(vec![big])).await;
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "oversized", "{receipt}");
    let bulletin = pl.envelope(&ua_agency, "bulletin", 4, b"{}".to_vec());
    let (_, receipt) = post(&batch(vec![bulletin])).await;
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "type_not_accepted", "{receipt}");

    // Not JSON of a batch.
    let r = client.post(&url).body("{\"envelopes\": 5").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "malformed");

    // A certificate no partner has: refused at the handshake.
    let stranger = FakePartner::new("xx-unknown");
    let err = stranger.client(ua_fp).post(&url).body("{}").send().await.expect_err("handshake refused");
    assert!(err.is_connect() || err.is_request(), "{err:?}");

    // Only the good message took effect.
    let got = alerts(&ua).await;
    let plates: BTreeSet<&str> = got.iter().map(|a| a["plate"].as_str().unwrap()).collect();
    assert_eq!(plates, BTreeSet::from(["WPL1234"]), "{got:#?}");
    assert_eq!(got.len(), 1);

    // Every refusal is in the audit log, with its reason.
    let denied: Vec<Value> = audit_records(&ua, &[])
        .into_iter()
        .filter(|r| r["action"] == "denied" && r["actor"].as_str().unwrap_or("").starts_with("node:"))
        .collect();
    let details = |r: &Value| match &r["details"] {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    let codes: BTreeSet<String> =
        denied.iter().map(|r| details(r)["code"].as_str().unwrap_or("handshake").to_owned()).collect();
    for code in [
        "replayed",
        "bad_signature",
        "wrong_recipient",
        "clock_skew",
        "oversized",
        "type_not_accepted",
        "malformed",
        "handshake",
    ] {
        assert!(codes.contains(code), "no audit record for {code}: {codes:?}");
    }

    // Revoked: the handshake fails from now on, and the key is never trusted again.
    let out = admin(&ua, &["partner", "revoke", "pl-sg", "--reason", "laptop stolen"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = pl.client(ua_fp).post(&url).body("{}").send().await;
    assert!(again.is_err(), "a revoked partner's certificate is refused");
    let out = admin(&ua, &["partner", "add", pl.anchor_file(ua.dir.path()).to_str().unwrap(), "--receive", "alert"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"), "{}", String::from_utf8_lossy(&out.stderr));
}
