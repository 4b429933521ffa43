//! Outbound webhooks, end to end: the real `limes` binary POSTs alerts to a real HTTP
//! receiver this test runs (axum on 127.0.0.1).

mod util;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{KeyInit, Mac};
use reqwest::Client;
use serde_json::{Value, json};
use util::{TestNode, camera_json, read_json};

const SECRET: &str = "a-test-secret-of-enough-bytes";

/// What the receiver answers to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Ok,
    Fail,
    /// Hold the request until released, then answer 200.
    Hang,
}

/// One request as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    delivery: i64,
    timestamp: String,
    signature: String,
    event: String,
    content_type: String,
    body: Vec<u8>,
    status: u16,
}

struct Shared {
    /// Requests that reached the handler (answered or not).
    arrived: std::sync::atomic::AtomicUsize,
    received: Mutex<Vec<Received>>,
    /// Answers to give first, in order; then `then`.
    script: Mutex<VecDeque<Answer>>,
    then: Mutex<Answer>,
    /// Time each request takes before its answer.
    delay: Mutex<Duration>,
    release: tokio::sync::Notify,
}

struct Receiver {
    url: String,
    shared: Arc<Shared>,
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

async fn hook(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    s.arrived.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let answer = s.script.lock().unwrap().pop_front().unwrap_or(*s.then.lock().unwrap());
    if answer == Answer::Hang {
        s.release.notified().await;
    }
    let delay = *s.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let status = if answer == Answer::Fail { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
    s.received.lock().unwrap().push(Received {
        delivery: header(&headers, "x-limes-delivery").parse().unwrap_or(-1),
        timestamp: header(&headers, "x-limes-timestamp"),
        signature: header(&headers, "x-limes-signature"),
        event: header(&headers, "x-limes-event"),
        content_type: header(&headers, "content-type"),
        body: body.to_vec(),
        status: status.as_u16(),
    });
    status
}

impl Receiver {
    /// A receiver on a free port.
    async fn start() -> Self {
        Self::on(0).await
    }

    async fn on(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            arrived: Default::default(),
            received: Mutex::default(),
            script: Mutex::default(),
            then: Mutex::new(Answer::Ok),
            delay: Mutex::default(),
            release: tokio::sync::Notify::new(),
        });
        let app = Router::new().route("/hook", post(hook)).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url: format!("http://{addr}/hook"), shared }
    }

    fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The alert ids answered 200, in the order they came.
    fn accepted(&self) -> Vec<i64> {
        self.received().iter().filter(|r| r.status == 200).map(|r| r.delivery).collect()
    }
}

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn webhook(name: &str, url: &str, extra: &str) -> String {
    format!(
        "\n[[webhooks]]\nname = \"{name}\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n\
         timeout_ms = 2000\nretry_initial_ms = 50\nretry_max_ms = 200\n{extra}\n"
    )
}

/// A node with the given webhooks, a camera and two hotlisted plates (priorities 1 and 4);
/// reads below 0.85 confidence raise only possible alerts.
async fn node_with(webhooks: &str) -> (TestNode, Client) {
    let node = TestNode::start_edited(|c| {
        c.replace("confirm_min_confidence = 0.0", "confirm_min_confidence = 0.85") + webhooks
    });
    let c = node.client();
    setup(&node, &c).await;
    (node, c)
}

async fn setup(node: &TestNode, c: &Client) {
    c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-cam-1", "RO")).send().await.unwrap();
    let hotlist = json!([
        {"plate": "B 55 KKK", "country": "RO", "reason": "stolen", "agency": "ro-igpf", "priority": 1},
        {"plate": "CJ 10 ABC", "country": "RO", "reason": "wanted", "agency": "ro-igpf", "priority": 4},
    ]);
    let r = c.post(node.at("/api/v1/hotlist")).json(&hotlist).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Posts reads; returns how many alerts they raised.
async fn post_hits(node: &TestNode, c: &Client, plates: &[(&str, f64)]) -> u64 {
    let batch: Vec<Value> = plates
        .iter()
        .map(|(p, confidence)| {
            let mut r = read_json("ro-cam-1", p, Some("RO"));
            r["confidence"] = (*confidence).into();
            r
        })
        .collect();
    let r = c.post(node.at("/api/v1/reads")).json(&batch).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"].as_u64(), Some(plates.len() as u64), "{v}");
    v["alerts"].as_u64().unwrap()
}

/// Every alert of the node, oldest first.
async fn alerts(node: &TestNode, c: &Client) -> Vec<Value> {
    let v: Value = c.get(node.at("/api/v1/alerts?limit=10000")).send().await.unwrap().json().await.unwrap();
    let mut all = v.as_array().unwrap().clone();
    all.reverse();
    all
}

async fn webhook_stats(node: &TestNode, c: &Client, name: &str) -> Value {
    let v: Value = c.get(node.at("/api/v1/stats")).send().await.unwrap().json().await.unwrap();
    v["webhooks"].as_array().unwrap().iter().find(|w| w["name"] == name).cloned().unwrap()
}

/// The cursor the node saved for a webhook, read from its database.
fn saved_cursor(node: &TestNode, name: &str) -> Option<i64> {
    let db = node.dir.path().join("limes-data").join("limes.db");
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("SELECT last_alert_id FROM webhook_cursors WHERE name = ?1", [name], |r| r.get(0)).ok()
}

/// Waits (generously) until `f` holds.
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < Duration::from_secs(60), "not within 60 s: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn alerts_are_posted_signed_in_order_and_filters_apply() {
    let (all, urgent) = (Receiver::start().await, Receiver::start().await);
    let config =
        webhook("all", &all.url, "") + &webhook("urgent", &urgent.url, "min_priority = 2\nkinds = [\"confirmed\"]");
    let (node, c) = node_with(&config).await;
    // Confirmed priority 1; possible priority 1 (unsure reader); confirmed priority 4.
    assert_eq!(post_hits(&node, &c, &[("B55KKK", 0.95), ("B55KKK", 0.6), ("CJ10ABC", 0.95)]).await, 3);
    eventually("three deliveries to all", async || all.accepted().len() == 3).await;
    eventually("urgent done", async || webhook_stats(&node, &c, "urgent").await["filtered"] == 2).await;

    let alerts = alerts(&node, &c).await;
    let ids: Vec<i64> = alerts.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert_eq!(all.accepted(), ids, "every alert, in id order");
    assert_eq!(urgent.accepted(), vec![ids[0]], "only the confirmed priority-1 alert");
    let now = chrono::Utc::now().timestamp();
    for (got, alert) in all.received().iter().zip(&alerts) {
        // What a receiver does: the HMAC of "<timestamp>.<body>" with the shared secret.
        let mut signed = got.timestamp.as_bytes().to_vec();
        signed.push(b'.');
        signed.extend_from_slice(&got.body);
        assert_eq!(got.signature, format!("sha256={}", hmac_hex(SECRET, &signed)));
        assert_ne!(got.signature, format!("sha256={}", hmac_hex("another secret entirely", &signed)));
        let t: i64 = got.timestamp.parse().unwrap();
        assert!((now - t).abs() < 300, "timestamp {t} is not now ({now})");
        assert_eq!((got.event.as_str(), got.content_type.as_str()), ("alert", "application/json"));
        assert_eq!(serde_json::from_slice::<Value>(&got.body).unwrap(), *alert, "the alert as the API lists it");
    }
    let stats = webhook_stats(&node, &c, "all").await;
    assert_eq!((stats["delivered"].as_u64(), stats["failed"].as_u64()), (Some(3), Some(0)));
    assert_eq!(stats["cursor"].as_i64(), Some(ids[2]));
    let stats = webhook_stats(&node, &c, "urgent").await;
    assert_eq!((stats["delivered"].as_u64(), stats["filtered"].as_u64()), (Some(1), Some(2)));
}

#[tokio::test]
async fn a_failing_receiver_gets_the_alert_once_after_retries_and_the_cursor_survives_a_restart() {
    let receiver = Receiver::start().await;
    receiver.shared.script.lock().unwrap().extend([Answer::Fail, Answer::Fail, Answer::Fail]);
    let (node, c) = node_with(&webhook("dispatch", &receiver.url, "")).await;
    assert_eq!(post_hits(&node, &c, &[("B55KKK", 0.95)]).await, 1);
    eventually("delivered", async || receiver.accepted().len() == 1).await;
    let first = alerts(&node, &c).await[0]["id"].as_i64().unwrap();
    let attempts: Vec<(i64, u16)> = receiver.received().iter().map(|r| (r.delivery, r.status)).collect();
    assert_eq!(attempts, vec![(first, 500), (first, 500), (first, 500), (first, 200)], "the same delivery, retried");
    let stats = webhook_stats(&node, &c, "dispatch").await;
    assert_eq!((stats["delivered"].as_u64(), stats["failed"].as_u64()), (Some(1), Some(3)));
    assert!(stats.get("last_error").is_none(), "cleared by the delivery: {stats}");
    eventually("cursor saved", async || saved_cursor(&node, "dispatch") == Some(first)).await;

    // kill -9 and start again: the delivered alert is not sent again, the next one is.
    let node = node.restart();
    assert_eq!(post_hits(&node, &c, &[("B55KKK", 0.95)]).await, 1);
    eventually("second delivered", async || receiver.accepted().len() == 2).await;
    let second = alerts(&node, &c).await[1]["id"].as_i64().unwrap();
    assert_eq!(receiver.accepted(), vec![first, second]);
    assert_eq!(receiver.received().len(), 5);
}

#[tokio::test]
async fn a_hanging_receiver_never_slows_ingest_and_delivery_catches_up() {
    let receiver = Receiver::start().await;
    *receiver.shared.then.lock().unwrap() = Answer::Hang;
    let config = webhook("dispatch", &receiver.url, "").replace("timeout_ms = 2000", "timeout_ms = 600000");
    let (node, c) = node_with(&config).await;
    assert_eq!(post_hits(&node, &c, &[("B55KKK", 0.95)]).await, 1);
    let arrived = || receiver.shared.arrived.load(std::sync::atomic::Ordering::SeqCst);
    eventually("the first request hangs in the receiver", async || arrived() == 1).await;

    // 2,000 reads in 20 batches, 200 of them hits, while the webhook's request hangs. (The
    // request would hang for ten minutes: ingest waiting on it would fail the bound below.)
    let ingest = async {
        let mut raised = 1;
        for b in 0..20 {
            let plates: Vec<(String, f64)> =
                (0..100)
                    .map(|i| {
                        if i % 10 == 0 {
                            ("B55KKK".to_owned(), 0.95)
                        } else {
                            (format!("B {:02} {b:03}", i % 100), 0.95)
                        }
                    })
                    .collect();
            let plates: Vec<(&str, f64)> = plates.iter().map(|(p, c)| (p.as_str(), *c)).collect();
            raised += post_hits(&node, &c, &plates).await;
        }
        raised
    };
    let raised = tokio::time::timeout(Duration::from_secs(120), ingest).await.expect("ingest within 120 s");
    assert_eq!(raised, 201);
    let stats: Value = c.get(node.at("/api/v1/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["reads_accepted"], 2001);
    let hook = &stats["webhooks"][0];
    // Every read was acknowledged while the webhook's first request was still unanswered.
    assert_eq!((hook["delivered"].as_u64(), hook["failed"].as_u64()), (Some(0), Some(0)), "{hook}");
    assert_eq!((arrived(), receiver.received().len()), (1, 0), "one request, still unanswered");

    // The receiver answers again: the backlog drains, in order, every alert once.
    *receiver.shared.then.lock().unwrap() = Answer::Ok;
    receiver.shared.release.notify_waiters();
    eventually("backlog delivered", async || receiver.accepted().len() == 201).await;
    let ids: Vec<i64> = alerts(&node, &c).await.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert_eq!(receiver.accepted(), ids);
}

#[tokio::test]
async fn a_node_restarted_mid_backlog_delivers_the_rest_at_least_once() {
    // The receiver is down at first: nothing listens on its port.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let (node, c) = node_with(&webhook("dispatch", &url, "")).await;
    let hits: Vec<(&str, f64)> = vec![("B55KKK", 0.95); 40];
    assert_eq!(post_hits(&node, &c, &hits).await, 40);
    eventually("attempts fail", async || webhook_stats(&node, &c, "dispatch").await["failed"].as_u64() >= Some(2))
        .await;
    let stats = webhook_stats(&node, &c, "dispatch").await;
    assert!(stats["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{stats}");
    let node = node.restart();

    // Up, but slow: kill the node while it works through the backlog.
    let receiver = Receiver::on(port).await;
    *receiver.shared.delay.lock().unwrap() = Duration::from_millis(20);
    eventually("half delivered", async || receiver.accepted().len() >= 15).await;
    let mut node = node;
    node.kill9();
    // A request under way when the node died may still finish in the receiver (20 ms).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = receiver.accepted();
    assert!(before.len() < 40, "killed mid-backlog");
    let node = node.restart();
    let ids: Vec<i64> = alerts(&node, &c).await.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    eventually("the rest delivered", async || {
        let got = receiver.accepted();
        ids.iter().all(|id| got.contains(id))
    })
    .await;
    let got = receiver.accepted();
    // In order within each run of the node; what the killed run delivered after its last saved
    // cursor comes again (at least once), nothing else.
    let (first_run, second_run) = got.split_at(before.len());
    assert!(first_run.windows(2).all(|w| w[0] < w[1]), "{first_run:?}");
    assert!(second_run.windows(2).all(|w| w[0] < w[1]), "{second_run:?}");
    assert_eq!(second_run.last(), ids.last());
    assert!(got.len() < 2 * ids.len(), "{} deliveries for {} alerts", got.len(), ids.len());
}

/// A restricted plate's alerts never leave the node: the webhook passes over them.
#[tokio::test]
async fn a_restricted_plates_alerts_are_not_delivered() {
    let receiver = Receiver::start().await;
    let (node, c) = node_with(&webhook("all", &receiver.url, "")).await;
    // tester is also the data-protection officer; the restriction serves a subject's request.
    let r = node
        .session_client()
        .post(node.at("/api/v1/subject/plates/B55KKK/restriction?country=RO"))
        .header("limes-purpose", "data_subject_request")
        .header("limes-legal-basis", "LED art. 16(3)")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(post_hits(&node, &c, &[("B55KKK", 0.95), ("CJ10ABC", 0.95)]).await, 2);
    eventually("the other alert delivered", async || receiver.accepted().len() == 1).await;
    eventually("the restricted one passed over", async || webhook_stats(&node, &c, "all").await["filtered"] == 1).await;
    let delivered: Value = serde_json::from_slice(&receiver.received()[0].body).unwrap();
    assert_eq!(delivered["plate"], "CJ10ABC");
    // The delivery is a transfer in the audit log (LED Art. 25), naming the recipient.
    let data = node.dir.path().join("limes-data");
    let out = util::limes(&["audit", "export", "--data-dir", data.to_str().unwrap(), "--actor", "node:webhook:all"]);
    let records: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["action"], "transfer");
    assert_eq!(records[0]["object"], format!("alert:{}", delivered["id"]));
    assert_eq!(records[0]["details"]["recipient"], receiver.url.as_str());
}
