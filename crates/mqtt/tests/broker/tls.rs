//! The MQTT side over TLS (`mqtts://`), against a Mosquitto each test starts with a TLS
//! listener only, so that nothing can reach it in plain TCP.

use std::path::Path;

use limes_mqtt::TlsConfig;

use super::*;
use crate::tls_broker::{Listener, Pki, TlsBroker, free_port};

const SERVER_ONLY: Listener = Listener { require_client_certificate: false, foreign_certificate: false };
const MUTUAL: Listener = Listener { require_client_certificate: true, foreign_certificate: false };

/// The node's side of `broker`: ONVIF JSON under `prefix`, the test CA trusted, and the client
/// certificate shown when `identity`.
fn tls_config(broker: &TlsBroker, pki: &Pki, prefix: &str, identity: bool) -> MqttConfig {
    let mut cfg = MqttConfig::new(broker.url.clone(), unique("node"));
    cfg.subscriptions =
        vec![Subscription { topic: format!("{prefix}/onvif-mj/#"), format: MessageFormat::OnvifJson, qos: 1 }];
    cfg.cameras.insert(format!("topic:{prefix}/onvif-mj/VideoAnalytics/1"), "ro-cam-1".into());
    cfg.alerts_topic = Some(format!("{prefix}/alerts"));
    cfg.tls = Some(TlsConfig {
        ca_file: pki.ca.clone(),
        cert_file: identity.then(|| pki.client_cert.clone()),
        key_file: identity.then(|| pki.client_key.clone()),
    });
    cfg
}

impl Node {
    /// Waits until the node receives what `c` publishes on `topic` (a subscribed one).
    async fn wait_for_subscription_over(&self, c: &AsyncClient, topic: &str) {
        let start = Instant::now();
        while self.stats.messages.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            c.publish(topic, QoS::AtMostOnce, false, b"probe".to_vec()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(start.elapsed() < Duration::from_secs(15), "the node never subscribed: {:?}", self.last_error());
        }
    }

    /// Waits until the node has lost (or failed to make) its connection `n` times.
    async fn wait_connection_failures(&self, n: u64) -> String {
        let start = Instant::now();
        while self.stats.connections_lost.load(std::sync::atomic::Ordering::Relaxed) < n {
            assert!(start.elapsed() < Duration::from_secs(15), "{n} failed connections: {:?}", self.last_error());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.last_error().unwrap()
    }

    fn last_error(&self) -> Option<String> {
        self.stats.last_connection_error.lock().unwrap().clone()
    }
}

/// The only read stored: (camera, plate).
fn the_read(node: &Node) -> (String, String) {
    let page = node.state.store.search_reads(&ReadQuery { limit: 10, ..Default::default() }).unwrap();
    assert_eq!(page.reads.len(), 1, "{:?}", page.reads);
    (page.reads[0].read.camera.as_str().to_owned(), page.reads[0].plate.as_str().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plate_reads_published_over_tls_arrive_and_alerts_go_back_over_it() {
    let pki = Pki::new();
    let broker = TlsBroker::start(&pki, free_port(), SERVER_ONLY);
    let prefix = unique("tls1");
    let node = start(tempfile::tempdir().unwrap(), tls_config(&broker, &pki, &prefix, false));
    let (c, mut alerts) = broker.client(&pki, Some(&format!("{prefix}/alerts"))).await;
    let topic = format!("{prefix}/onvif-mj/VideoAnalytics/1");
    node.wait_for_subscription_over(&c, &topic).await;

    c.publish(topic.as_str(), QoS::AtLeastOnce, false, onvif_plate("B 123 XYZ")).await.unwrap();
    node.wait_reads(1).await;
    assert_eq!(the_read(&node), ("ro-cam-1".into(), "B123XYZ".into()));
    // The hotlisted plate's alert comes back on the broker, over the node's TLS connection.
    let alert = tokio::time::timeout(Duration::from_secs(10), alerts.recv()).await.expect("alert published").unwrap();
    let alert: serde_json::Value = serde_json::from_slice(&alert).unwrap();
    assert_eq!((alert["plate"].as_str(), alert["camera"].as_str()), (Some("B123XYZ"), Some("ro-cam-1")));
    assert_eq!(node.stats.connections_lost.load(std::sync::atomic::Ordering::Relaxed), 0, "{:?}", node.last_error());
    node.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_requires_client_certificates_takes_the_nodes() {
    let pki = Pki::new();
    let broker = TlsBroker::start(&pki, free_port(), MUTUAL);
    let prefix = unique("tls2");

    // Without a client certificate the broker refuses the node, and the node says why.
    let anonymous = start(tempfile::tempdir().unwrap(), tls_config(&broker, &pki, &prefix, false));
    let error = anonymous.wait_connection_failures(1).await;
    assert!(error.contains("TLS") && error.contains("client certificate"), "{error}");
    assert_eq!(anonymous.count_reads(), 0);
    anonymous.task.abort();

    // With one, it takes the camera's reads.
    let node = start(tempfile::tempdir().unwrap(), tls_config(&broker, &pki, &prefix, true));
    let (c, _) = broker.client(&pki, None).await;
    let topic = format!("{prefix}/onvif-mj/VideoAnalytics/1");
    node.wait_for_subscription_over(&c, &topic).await;
    c.publish(topic.as_str(), QoS::AtLeastOnce, false, onvif_plate("CJ 10 ABC")).await.unwrap();
    node.wait_reads(1).await;
    assert_eq!(the_read(&node), ("ro-cam-1".into(), "CJ10ABC".into()));
    node.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_certificate_of_another_ca_is_refused_and_the_node_keeps_trying() {
    let pki = Pki::new();
    let port = free_port();
    let impostor = TlsBroker::start(&pki, port, Listener { foreign_certificate: true, ..SERVER_ONLY });
    let prefix = unique("tls3");
    let node = start(tempfile::tempdir().unwrap(), tls_config(&impostor, &pki, &prefix, false));
    // Refused, again and again (retried every second), with the reason, and never connected.
    let error = node.wait_connection_failures(2).await;
    assert!(error.contains("certificate is not trusted") && error.contains("UnknownIssuer"), "{error}");
    assert!(!node.task.is_finished(), "the MQTT side keeps running");
    assert_eq!(node.stats.messages.load(std::sync::atomic::Ordering::Relaxed), 0);

    // The real broker comes up on the same address: the node connects and takes reads.
    drop(impostor);
    let broker = TlsBroker::start(&pki, port, SERVER_ONLY);
    let (c, _) = broker.client(&pki, None).await;
    let topic = format!("{prefix}/onvif-mj/VideoAnalytics/1");
    node.wait_for_subscription_over(&c, &topic).await;
    c.publish(topic.as_str(), QoS::AtLeastOnce, false, onvif_plate("B 77 TLS")).await.unwrap();
    node.wait_reads(1).await;
    assert_eq!(the_read(&node), ("ro-cam-1".into(), "B77TLS".into()));
    node.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_malformed_pem_files_stop_the_start_and_are_named() {
    let pki = Pki::new();
    let dir = pki.dir.path();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let garbage = write("garbage.pem", "this is not a certificate\n");
    let unterminated = write("unterminated.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
    let not_der = write("not-der.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    let other_key = write("other.key", &rcgen::KeyPair::generate().unwrap().serialize_pem());
    let missing = dir.join("missing.pem");
    let tls = |ca: &Path, identity: Option<(&Path, &Path)>| TlsConfig {
        ca_file: ca.to_owned(),
        cert_file: identity.map(|(c, _)| c.to_owned()),
        key_file: identity.map(|(_, k)| k.to_owned()),
    };
    for (files, named, problem) in [
        (tls(&missing, None), &missing, "No such file"),
        (tls(&garbage, None), &garbage, "holds no PEM certificate"),
        (tls(&unterminated, None), &unterminated, "no END line"),
        (tls(&not_der, None), &not_der, "a certificate TLS cannot use"),
        (tls(&pki.ca, Some((&garbage, &pki.client_key))), &garbage, "holds no PEM certificate"),
        (tls(&pki.ca, Some((&pki.client_cert, &missing))), &missing, "No such file"),
        (tls(&pki.ca, Some((&pki.client_cert, &garbage))), &garbage, "holds no PEM private key"),
        (tls(&pki.ca, Some((&pki.client_cert, &pki.ca))), &pki.ca, "holds no PEM private key"),
        // A key, but not the certificate's: both files are named.
        (tls(&pki.ca, Some((&pki.client_cert, &other_key))), &other_key, "not the certificate's"),
        (tls(&pki.ca, Some((&pki.client_cert, &other_key))), &pki.client_cert, "not the certificate's"),
    ] {
        let data = tempfile::tempdir().unwrap();
        let store = Store::open(data.path(), StoreOptions::default()).unwrap();
        let state = AppState::load(store, ServerOptions::default()).unwrap();
        let mut cfg = MqttConfig::new(format!("mqtts://127.0.0.1:{}", free_port()), unique("node"));
        cfg.tls = Some(files.clone());
        let run = limes_mqtt::run(state, cfg, Arc::new(MqttStats::default()));
        let error = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("a bad TLS file ends the start at once")
            .expect_err("a bad TLS file is refused")
            .to_string();
        assert!(error.contains(&named.display().to_string()) && error.contains(problem), "{files:?}: {error}");
    }
}
