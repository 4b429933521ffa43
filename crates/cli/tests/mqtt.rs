//! `limes simulate --mqtt` against a node taking ONVIF JSON from a real broker: Mosquitto on
//! 127.0.0.1:1883 where the machine runs one, otherwise a `mosquitto` the test starts; and
//! over TLS, a `mosquitto` with a TLS listener only that the test starts.

mod util;

#[path = "../../mqtt/tests/support/tls_broker.rs"]
mod tls_broker;

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;
use tls_broker::{Listener, Pki, TlsBroker, free_port};
use util::{TestNode, limes};

/// A TLS broker that requires a client certificate of the test CA.
const MUTUAL: Listener = Listener { require_client_certificate: true, foreign_certificate: false };

struct Broker {
    url: String,
    _child: Option<Child>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = &mut self._child {
            let _ = child.kill();
        }
    }
}

fn broker() -> &'static Broker {
    static BROKER: OnceLock<Broker> = OnceLock::new();
    BROKER.get_or_init(|| {
        if TcpStream::connect("127.0.0.1:1883").is_ok() {
            return Broker { url: "mqtt://127.0.0.1:1883".into(), _child: None };
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = ["mosquitto", "/usr/sbin/mosquitto"]
            .iter()
            .find_map(|bin| Command::new(bin).args(["-p", &port.to_string()]).spawn().ok())
            .expect("no MQTT broker on 127.0.0.1:1883 and no `mosquitto` to start one (scripts/test installs it)");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { url: format!("mqtt://127.0.0.1:{port}"), _child: Some(child) }
    })
}

/// `c` is any client: the node's own (its test token) is what asks.
async fn stats(_c: &Client, node: &TestNode, path: &str) -> Value {
    node.client().get(node.at(path)).send().await.unwrap().json().await.unwrap()
}

/// Polls the node's stats until `reads_accepted` reaches `n`, then checks nothing more comes.
async fn wait_reads(c: &Client, node: &TestNode, n: u64) {
    let start = Instant::now();
    loop {
        let got = stats(c, node, "/api/v1/stats").await["reads_accepted"].as_u64().unwrap();
        if got >= n {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{got} of {n} reads stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stats(c, node, "/api/v1/stats").await["reads_accepted"].as_u64().unwrap(), n, "no read twice");
}

/// The node's alerts, keyed by the read they are about: (plate listed, text read, camera, time) → (kind, demoted).
async fn alerts(c: &Client, node: &TestNode) -> BTreeMap<(String, String, String, String), (String, String)> {
    let list = stats(c, node, "/api/v1/alerts?limit=1000").await;
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            // ONVIF keeps no spaces around a text (a simulated misread can start with one).
            let read = (s(&a["plate"]), s(&a["read_text"]).trim().to_owned(), s(&a["camera"]), s(&a["time"]));
            (read, (s(&a["kind"]), s(&a["demoted"])))
        })
        .collect()
}

/// Waits until the node's MQTT side receives what `client` publishes under `prefix`: sends a
/// malformed message on a subscribed topic until the node has counted one.
async fn wait_for_subscription(c: &Client, node: &TestNode, prefix: &str, client: &rumqttc::AsyncClient) {
    let topic = format!("{prefix}/probe/onvif-mj/VideoAnalytics/1");
    let start = Instant::now();
    loop {
        client.publish(topic.as_str(), rumqttc::QoS::AtMostOnce, false, b"probe".to_vec()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mqtt = stats(c, node, "/api/v1/mqtt").await;
        if mqtt["messages"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the node never subscribed: {mqtt}");
    }
}

/// A connection to the plain broker, driven in the background.
fn plain_client(prefix: &str) -> rumqttc::AsyncClient {
    let url = broker().url.strip_prefix("mqtt://").unwrap();
    let (host, port) = url.rsplit_once(':').unwrap();
    let options = rumqttc::MqttOptions::new(format!("{prefix}-probe"), host, port.parse().unwrap());
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 16);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_cameras_over_mqtt_give_the_reads_and_alerts_of_http() {
    let broker = &broker().url;
    let prefix = format!("limes-test-{}-{}", std::process::id(), chrono::Utc::now().timestamp_millis());
    let out = limes(&["simulate", "--mqtt", broker, "--mqtt-prefix", &prefix, "--print-config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let section = String::from_utf8(out.stdout).unwrap();
    assert!(
        section.contains(&format!("\"topic:{prefix}/ro-siret-01/onvif-mj/VideoAnalytics/1\" = \"ro-siret-01\"")),
        "{section}"
    );
    let mqtt_node = TestNode::start_edited(|config| format!("{config}\n{section}"));
    let http_node = TestNode::start();
    let c = mqtt_node.client();
    wait_for_subscription(&c, &mqtt_node, &prefix, &plain_client(&prefix)).await;

    // The same simulation twice: published as the cameras' ONVIF JSON, and posted.
    const N: u64 = 1500;
    // Whole seconds: ONVIF times are written to the millisecond.
    let start = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let common = [
        "--rate",
        "1000",
        "--count",
        &N.to_string(),
        "--seed",
        "5",
        "--vehicles",
        "5000",
        "--setup-hotlist",
        "3000",
        "--start",
        &start,
    ];
    let mut args = vec![
        "simulate",
        "--mqtt",
        broker,
        "--mqtt-prefix",
        &prefix,
        "--url",
        &mqtt_node.url,
        "--token",
        &mqtt_node.token,
    ];
    args.extend(common);
    let out = limes(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains(&format!("published {N} reads")) && stdout.contains(&format!("{N} acknowledged")),
        "{stdout}"
    );
    let mut args = vec!["simulate", "--url", &http_node.url, "--token", &http_node.token];
    args.extend(common);
    let out = limes(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    wait_reads(&c, &mqtt_node, N).await;
    wait_reads(&c, &http_node, N).await;
    let mqtt = stats(&c, &mqtt_node, "/api/v1/mqtt").await;
    let sources = mqtt["sources"].as_object().unwrap();
    let accepted: u64 = sources.values().map(|s| s["reads_accepted"].as_u64().unwrap()).sum();
    assert_eq!(accepted, N, "{mqtt}");
    assert!(sources.keys().any(|k| k == &format!("topic:{prefix}/ro-siret-01/onvif-mj/VideoAnalytics/1")), "{mqtt}");
    assert!(sources.values().all(|s| s["reads_rejected"] == 0), "{mqtt}");

    // The hotlisted vehicles raise the same alerts either way. ONVIF says nothing of colour, so a
    // read whose colour contradicts the entry's is only possible over HTTP, and confirmed here.
    let (over_mqtt, over_http) = (alerts(&c, &mqtt_node).await, alerts(&c, &http_node).await);
    assert!(
        over_http.values().any(|(kind, _)| kind == "confirmed"),
        "the simulation raises confirmed alerts: {over_http:?}"
    );
    assert_eq!(over_mqtt.keys().collect::<Vec<_>>(), over_http.keys().collect::<Vec<_>>());
    for (read, (kind, demoted)) in &over_http {
        let (mqtt_kind, _) = &over_mqtt[read];
        if kind != mqtt_kind {
            assert_eq!(
                (kind.as_str(), demoted.as_str(), mqtt_kind.as_str()),
                ("possible", "colour_differs", "confirmed")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_cameras_reach_a_node_through_a_broker_that_requires_client_certificates() {
    let pki = Pki::new();
    let broker = TlsBroker::start(&pki, free_port(), MUTUAL);
    let prefix = format!("limes-tls-{}-{}", std::process::id(), chrono::Utc::now().timestamp_millis());
    let (ca, cert, key) =
        (pki.ca.to_str().unwrap(), pki.client_cert.to_str().unwrap(), pki.client_key.to_str().unwrap());
    let tls = [
        "simulate",
        "--mqtt",
        &broker.url,
        "--mqtt-ca",
        ca,
        "--mqtt-cert",
        cert,
        "--mqtt-key",
        key,
        "--mqtt-prefix",
        &prefix,
    ];

    // The node's section names the same files.
    let out = limes(&[&tls[..], &["--print-config"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let section = String::from_utf8(out.stdout).unwrap();
    for line in
        [format!("[mqtt.tls]\nca_file = {ca:?}"), format!("cert_file = {cert:?}"), format!("key_file = {key:?}")]
    {
        assert!(section.contains(&line), "{line} in {section}");
    }
    let node = TestNode::start_edited(|config| format!("{config}\n{section}"));
    let c = node.client();
    let (probe, _) = broker.client(&pki, None).await;
    wait_for_subscription(&c, &node, &prefix, &probe).await;

    const N: u64 = 300;
    let count = N.to_string();
    let sim = ["--vehicles", "5000", "--setup-hotlist", "100", "--count", &count, "--duration", "60"];
    let run = [&tls[..], &["--url", &node.url, "--token", &node.token], &sim[..]];
    let out = limes(&run.concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains(&format!("published {N} reads")) && stdout.contains(&format!("{N} acknowledged")),
        "{stdout}"
    );
    wait_reads(&c, &node, N).await;
    let mqtt = stats(&c, &node, "/api/v1/mqtt").await;
    assert_eq!(mqtt["connections_lost"], 0, "{mqtt}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_mistakes_stop_the_simulator_and_the_node_naming_what_is_wrong() {
    let pki = Pki::new();
    let broker = TlsBroker::start(&pki, free_port(), MUTUAL);
    let garbage = pki.dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let (url, ca, garbage) = (broker.url.as_str(), pki.ca.to_str().unwrap(), garbage.to_str().unwrap());
    let publish = ["simulate", "--count", "1", "--mqtt", url];
    for (args, expected) in [
        (vec![], "--mqtt-ca"),
        (vec!["--mqtt-ca", garbage], "holds no PEM certificate"),
        // The broker wants a client certificate: the simulator says so.
        (vec!["--mqtt-ca", ca], "client certificate"),
    ] {
        let out = limes(&[&publish[..], &args[..]].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{args:?}: {stderr}");
        if args.contains(&garbage) {
            assert!(stderr.contains(garbage), "{stderr}");
        }
    }
    let out = limes(&["simulate", "--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-ca", ca, "--print-config"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("use mqtts://"), "{out:?}");

    // A node whose CA file is missing does not start; the file is named, resolved against
    // the configuration's folder.
    let dir = tempfile::tempdir().unwrap();
    let config = util::write_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    let section = format!("[mqtt]\nurl = {url:?}\nclient_id = \"n\"\n[mqtt.tls]\nca_file = \"certs/broker-ca.pem\"\n");
    std::fs::write(&config, format!("{text}\n{section}")).unwrap();
    let mut serve = Command::new(util::limes_bin())
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = serve.kill();
            panic!("the node started without its CA file");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut stderr).unwrap();
    let named = dir.path().join("certs/broker-ca.pem");
    assert!(!status.success() && stderr.contains(&named.display().to_string()), "{stderr}");
}
