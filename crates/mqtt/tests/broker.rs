//! The MQTT side against a real broker: Mosquitto on 127.0.0.1:1883 where the machine runs
//! one, otherwise a `mosquitto` the test starts on a free port (`scripts/test` installs it).
//! Every test uses its own topics and client ids, so tests can share one broker. The TLS
//! tests (`tls`) start a Mosquitto of their own each, with a TLS listener only.

use std::net::TcpStream;
use std::process::{Child, Command};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use limes_model::{AgeRange, DetectionKind, Gender};
use limes_model::{AgencyId, Camera, CameraId, CameraKind, HotlistEntry, HotlistReason};
use limes_mqtt::{MessageFormat, MqttConfig, MqttStats, SourceCounters, Subscription};
use limes_plate::{CountryCode, PlateText};
use limes_server::{AppState, ServerOptions};
use limes_store::{DetectionQuery, ReadQuery, Store, StoreOptions};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;

#[path = "support/tls_broker.rs"]
mod tls_broker;

#[path = "broker/tls.rs"]
mod tls;

struct Broker {
    host: String,
    port: u16,
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
            return Broker { host: "127.0.0.1".into(), port: 1883, _child: None };
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]
            .into_iter()
            .find(|b| std::path::Path::new(b).exists())
            .expect("no MQTT broker on 127.0.0.1:1883 and no `mosquitto` to start one (scripts/test installs it)");
        // Statics are never dropped: `timeout` ends the broker after the test run.
        let child = Command::new("timeout").args(["900", bin, "-p", &port.to_string()]).spawn().unwrap();
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(10), "mosquitto did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { host: "127.0.0.1".into(), port, _child: Some(child) }
    })
}

fn unique(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), Utc::now().timestamp_nanos_opt().unwrap_or_default())
}

struct Node {
    _dir: tempfile::TempDir,
    state: AppState,
    stats: Arc<MqttStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    fn count_reads(&self) -> usize {
        self.state.store.count_reads().unwrap() as usize
    }

    async fn wait_reads(&self, n: usize) {
        let start = Instant::now();
        while self.count_reads() < n {
            assert!(start.elapsed() < Duration::from_secs(15), "{} of {n} reads stored", self.count_reads());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the MQTT counters satisfy `f`.
    async fn wait_stats(&self, what: &str, f: impl Fn(&std::collections::BTreeMap<String, SourceCounters>) -> bool) {
        let start = Instant::now();
        while !f(&self.stats.sources()) {
            assert!(start.elapsed() < Duration::from_secs(15), "{what}: {:?}", self.stats.sources());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn camera(id: &str) -> Camera {
    Camera {
        id: CameraId::new(id).unwrap(),
        agency: AgencyId::new("ro-igpf").unwrap(),
        kind: CameraKind::Anpr,
        position: None,
        heading: None,
        road: None,
        lane: None,
        country: CountryCode::RO,
        name: None,
    }
}

/// A node with cameras `gate_west` and `ro-cam-1`, plate `B123XYZ` hotlisted, taking MQTT
/// per `cfg`.
fn start(dir: tempfile::TempDir, cfg: MqttConfig) -> Node {
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    store.upsert_cameras(&[camera("gate_west"), camera("ro-cam-1")]).unwrap();
    store
        .upsert_hotlist(&[HotlistEntry {
            exercise: false,
            id: 1,
            plate: PlateText::new("B123XYZ").unwrap(),
            country: Some(CountryCode::RO),
            reason: HotlistReason::Stolen,
            priority: 1,
            agency: AgencyId::new("ro-igpf").unwrap(),
            expires: None,
            fuzzy: false,
            note: None,
            vehicle: None,
        }])
        .unwrap();
    let state = AppState::load(store, ServerOptions::default()).unwrap();
    let stats = Arc::new(MqttStats::default());
    let task = tokio::spawn(limes_mqtt::run(state.clone(), cfg, stats.clone()));
    let task = tokio::spawn(async move {
        task.await.unwrap().unwrap();
    });
    Node { _dir: dir, state, stats, task }
}

fn config(prefix: &str) -> MqttConfig {
    let b = broker();
    let mut cfg = MqttConfig::new(format!("mqtt://{}:{}", b.host, b.port), unique("node"));
    cfg.subscriptions = vec![
        Subscription { topic: format!("{prefix}/onvif-mj/#"), format: MessageFormat::OnvifJson, qos: 1 },
        Subscription { topic: format!("{prefix}/frigate/events"), format: MessageFormat::Frigate, qos: 1 },
        Subscription { topic: format!("{prefix}/xml"), format: MessageFormat::OnvifXml, qos: 1 },
    ];
    cfg.cameras.insert(format!("topic:{prefix}/onvif-mj/VideoAnalytics/1"), "ro-cam-1".into());
    cfg.alerts_topic = Some(format!("{prefix}/alerts"));
    cfg
}

/// A client that publishes and, if asked, listens on `listen`.
async fn client(listen: Option<&str>) -> (AsyncClient, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let b = broker();
    let mut o = MqttOptions::new(unique("test"), b.host.clone(), b.port);
    o.set_max_packet_size(8 << 20, 8 << 20);
    let (c, mut eventloop) = AsyncClient::new(o, 100);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let listen = listen.map(str::to_owned);
    let sub = c.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(topic) = &listen {
                        sub.subscribe(topic.as_str(), QoS::AtLeastOnce).await.unwrap();
                    } else if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p.payload.to_vec());
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx).await.expect("test client connects").unwrap();
    (c, rx)
}

fn onvif_plate(plate: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"Frame": [{
        "@UtcTime": Utc::now().to_rfc3339(),
        "Object": [{
            "@ObjectId": 7,
            "Appearance": {
                "Class": {"Type": [{"@Likelihood": 0.97, "#text": "LicensePlate"}]},
                "LicensePlateInfo": {
                    "PlateNumber": {"@Likelihood": 0.93, "#text": plate},
                    "CountryCode": {"@Likelihood": 0.9, "#text": "RO"}
                }
            }
        }]
    }]}))
    .unwrap()
}

fn frigate(kind: &str, id: &str, label: &str, plate: Option<&str>) -> Vec<u8> {
    let object = json!({
        "id": id, "camera": "gate_west", "frame_time": Utc::now().timestamp_millis() as f64 / 1000.0,
        "label": label, "sub_label": null, "top_score": 0.8, "score": 0.8, "false_positive": false,
        "start_time": Utc::now().timestamp() as f64, "end_time": null, "box": [10, 10, 100, 100],
        "current_zones": [], "entered_zones": [], "active": true, "stationary": false,
        "recognized_license_plate": plate, "recognized_license_plate_score": plate.map(|_| 0.91)
    });
    serde_json::to_vec(&json!({"type": kind, "before": object, "after": object})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onvif_and_frigate_cameras_produce_reads_and_alerts_go_back_to_the_broker() {
    let prefix = unique("t1");
    let node = start(tempfile::tempdir().unwrap(), config(&prefix));
    let (c, mut alerts) = client(Some(&format!("{prefix}/alerts"))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let topic = format!("{prefix}/onvif-mj/VideoAnalytics/1");
    c.publish(topic.as_str(), QoS::AtLeastOnce, false, onvif_plate("B 123 XYZ")).await.unwrap();
    let events = format!("{prefix}/frigate/events");
    // One tracked car: new without a plate, then an update with one, then the same again, then end.
    c.publish(events.as_str(), QoS::AtLeastOnce, false, frigate("new", "obj-1", "car", None)).await.unwrap();
    c.publish(events.as_str(), QoS::AtLeastOnce, false, frigate("update", "obj-1", "car", Some("CJ10ABC")))
        .await
        .unwrap();
    c.publish(events.as_str(), QoS::AtLeastOnce, false, frigate("update", "obj-1", "car", Some("CJ10ABC")))
        .await
        .unwrap();
    c.publish(events.as_str(), QoS::AtLeastOnce, false, frigate("new", "obj-2", "person", None)).await.unwrap();
    node.wait_reads(2).await;

    let page = node.state.store.search_reads(&ReadQuery { limit: 10, ..Default::default() }).unwrap();
    let mut got: Vec<(String, String)> =
        page.reads.iter().map(|r| (r.read.camera.as_str().to_owned(), r.plate.as_str().to_owned())).collect();
    got.sort();
    assert_eq!(got, vec![("gate_west".into(), "CJ10ABC".into()), ("ro-cam-1".into(), "B123XYZ".into())]);

    let alert = tokio::time::timeout(Duration::from_secs(10), alerts.recv()).await.expect("alert published").unwrap();
    let alert: serde_json::Value = serde_json::from_slice(&alert).unwrap();
    assert_eq!(alert["plate"], "B123XYZ");
    assert_eq!(alert["kind"], "confirmed");
    assert_eq!(alert["camera"], "ro-cam-1");

    let sources = node.stats.sources();
    let frigate = &sources["name:gate_west"];
    assert_eq!(frigate.reads_accepted, 1, "{sources:?}");
    assert_eq!(frigate.duplicates, 1, "the repeated update is not a second read");
    assert_eq!(frigate.detections, 2, "the car before its plate was read, and the person");
    node.wait_stats("both detections stored", |s| s["name:gate_west"].detections_stored == 2).await;
    assert_eq!(node.state.store.count_detections().unwrap(), 2);
    node.task.abort();
}

/// An ONVIF face with estimated age and gender, on an `onvif-mj` topic.
fn onvif_face(object_id: u32) -> Vec<u8> {
    serde_json::to_vec(&json!({"Frame": [{
        "@UtcTime": Utc::now().to_rfc3339(),
        "Object": [{
            "@ObjectId": object_id,
            "Appearance": {
                "Shape": {"BoundingBox": {"@left": -0.5, "@top": 0.5, "@right": 0.0, "@bottom": -0.5}},
                "Class": {"Type": [{"@Likelihood": 0.9, "#text": "Face"}]},
                "HumanFace": {
                    "Gender": {"@Likelihood": 0.8, "#text": "Female"},
                    "Age": {"Min": 30, "Max": 40}
                }
            }
        }]
    }]}))
    .unwrap()
}

/// A Frigate person event on `camera`, in zone `driveway`, carrying the name Frigate's face
/// recognition gave it (which limes must drop).
fn frigate_person(kind: &str, id: &str, camera: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&frigate(kind, id, "person", None)).unwrap();
    for side in ["before", "after"] {
        v[side]["camera"] = camera.into();
        v[side]["current_zones"] = json!(["driveway"]);
        v[side]["sub_label"] = json!(["Ion Popescu", 0.93]);
    }
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faces_and_persons_are_stored_without_identity_and_searchable() {
    let prefix = unique("t4");
    let node = start(tempfile::tempdir().unwrap(), config(&prefix));
    let (c, _) = client(None).await;
    node.wait_for_subscription(&format!("{prefix}/xml")).await;

    let onvif = format!("{prefix}/onvif-mj/VideoAnalytics/1");
    let events = format!("{prefix}/frigate/events");
    // The same face in two frames, the same person in two events: one detection each.
    for _ in 0..2 {
        c.publish(onvif.as_str(), QoS::AtLeastOnce, false, onvif_face(21)).await.unwrap();
    }
    c.publish(events.as_str(), QoS::AtLeastOnce, false, frigate_person("new", "p-1", "gate_west")).await.unwrap();
    c.publish(events.as_str(), QoS::AtLeastOnce, false, frigate_person("update", "p-1", "gate_west")).await.unwrap();
    // A person on a camera nobody registered is refused and counted.
    c.publish(events.as_str(), QoS::AtLeastOnce, false, frigate_person("new", "p-2", "nowhere")).await.unwrap();
    node.wait_stats("every detection handled", |s| {
        let n = |k: &str| s.get(k).map_or(0, |c| c.detections_stored + c.detections_rejected + c.duplicates);
        n(&format!("topic:{onvif}")) == 2 && n("name:gate_west") == 2 && n("name:nowhere") == 1
    })
    .await;

    let store = &node.state.store;
    assert_eq!(store.count_detections().unwrap(), 2);
    let q = DetectionQuery { kind: Some(DetectionKind::Face), limit: 10, ..Default::default() };
    let faces = store.search_detections(&q).unwrap().detections;
    assert_eq!(faces.len(), 1, "{faces:?}");
    let face = &faces[0];
    assert_eq!(face.detection.camera.as_str(), "ro-cam-1");
    assert_eq!(face.source_format, "onvif-json");
    assert_eq!(face.detection.object_id.as_deref(), Some("21"));
    assert_eq!(face.detection.age.as_ref().unwrap().value, AgeRange { min: 30, max: 40 });
    let gender = face.detection.gender.as_ref().unwrap();
    assert_eq!((gender.value, gender.confidence), (Gender::Female, Some(0.8)));
    assert!(face.detection.bbox.is_some());
    assert!((face.detection.time - Utc::now()).num_seconds().abs() < 60, "the frame's time");
    // Found by what was estimated: the age range overlaps, the gender matches.
    let q = DetectionQuery {
        age: Some(AgeRange { min: 38, max: 60 }),
        gender: Some(Gender::Female),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.search_detections(&q).unwrap().detections, faces);

    let q = DetectionQuery { zone: Some("driveway".into()), limit: 10, ..Default::default() };
    let persons = store.search_detections(&q).unwrap().detections;
    assert_eq!(persons.len(), 1, "{persons:?}");
    let person = &persons[0];
    assert_eq!(person.detection.kind, DetectionKind::Person);
    assert_eq!(person.detection.camera.as_str(), "gate_west");
    assert_eq!(person.source_format, "frigate");
    assert_eq!(person.detection.object_id.as_deref(), Some("p-1"));
    assert_eq!(person.detection.confidence, Some(0.8));
    // The name Frigate attached is nowhere in what was stored.
    let stored = serde_json::to_string(&person).unwrap();
    assert!(!stored.contains("Ion"), "{stored}");

    let sources = node.stats.sources();
    let (onvif_source, frigate_source) = (&sources[&format!("topic:{onvif}")], &sources["name:gate_west"]);
    assert_eq!((onvif_source.detections, onvif_source.detections_stored, onvif_source.duplicates), (2, 1, 1));
    assert_eq!((frigate_source.detections, frigate_source.detections_stored, frigate_source.duplicates), (2, 1, 1));
    let unmapped = &sources["name:nowhere"];
    assert_eq!((unmapped.detections, unmapped.detections_rejected), (1, 1), "{sources:?}");
    assert!(unmapped.last_error.as_deref().unwrap().contains("not mapped"), "{sources:?}");
    node.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_are_counted_and_the_connection_keeps_working() {
    let prefix = unique("t2");
    let node = start(tempfile::tempdir().unwrap(), config(&prefix));
    let (c, _) = client(None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let onvif = format!("{prefix}/onvif-mj/VideoAnalytics/1");
    let xml = format!("{prefix}/xml");
    let bomb = br#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
        <tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema">&lol2;</tt:MetadataStream>"#;
    let deep = "[".repeat(100_000);
    for (topic, payload) in [
        (onvif.as_str(), b"not json at all".to_vec()),
        (onvif.as_str(), vec![0xff, 0xfe, 0x00]),
        (onvif.as_str(), deep.into_bytes()),
        (xml.as_str(), bomb.to_vec()),
        (onvif.as_str(), vec![b' '; 2 << 20]), // over the 1 MiB limit
    ] {
        c.publish(topic, QoS::AtLeastOnce, false, payload).await.unwrap();
    }
    // A camera nobody mapped, then a good read: the connection must still work.
    c.publish(format!("{prefix}/onvif-mj/VideoAnalytics/9"), QoS::AtLeastOnce, false, onvif_plate("B77ABC"))
        .await
        .unwrap();
    c.publish(onvif.as_str(), QoS::AtLeastOnce, false, onvif_plate("B 55 KKK")).await.unwrap();
    node.wait_reads(1).await;

    let start = Instant::now();
    let sources = loop {
        let s = node.stats.sources();
        let malformed: u64 = s.values().map(|c| c.malformed).sum();
        if malformed >= 3 || start.elapsed() > Duration::from_secs(10) {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mapped = &sources[&format!("topic:{onvif}")];
    assert_eq!(mapped.reads_accepted, 1, "{sources:?}");
    assert!(mapped.malformed >= 3, "garbage, invalid UTF-8 and deep nesting are counted: {sources:?}");
    assert!(mapped.last_error.as_deref().is_some_and(|e| !e.is_empty()));
    let xml_source = &sources[&format!("topic:{xml}")];
    assert_eq!(xml_source.malformed, 1, "the entity bomb is refused: {sources:?}");
    assert!(xml_source.last_error.as_deref().unwrap().to_lowercase().contains("doctype"), "{sources:?}");
    let unmapped = &sources[&format!("topic:{prefix}/onvif-mj/VideoAnalytics/9")];
    assert_eq!(unmapped.reads_rejected, 1, "{sources:?}");
    assert!(unmapped.last_error.as_deref().unwrap().contains("not mapped"), "{sources:?}");
    assert_eq!(node.count_reads(), 1, "nothing but the good read is stored");
    assert_eq!(node.stats.connections_lost.load(std::sync::atomic::Ordering::Relaxed), 0);
    node.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_while_the_node_is_down_arrive_when_it_comes_back() {
    let prefix = unique("t3");
    let cfg = config(&prefix);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    // First run: the node's session subscribes, then the node stops.
    let node = start(dir, cfg.clone());
    node.wait_for_subscription(&format!("{prefix}/xml")).await;
    node.task.abort();
    let Node { _dir: dir, state, .. } = node;
    drop(state);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // While it is down, a camera publishes at QoS 1: the broker keeps the messages for the session.
    let (c, _) = client(None).await;
    let topic = format!("{prefix}/onvif-mj/VideoAnalytics/1");
    for plate in ["B10AAA", "B11AAA", "B12AAA"] {
        c.publish(topic.as_str(), QoS::AtLeastOnce, false, onvif_plate(plate)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let node = start(dir, cfg);
    assert_eq!(node._dir.path(), path);
    node.wait_reads(3).await;
    node.task.abort();
}

impl Node {
    /// Waits until the broker has the node's subscriptions: publishes probes on `topic` (a
    /// subscribed one) until the node has received one.
    async fn wait_for_subscription(&self, topic: &str) {
        let start = Instant::now();
        let (c, _) = client(None).await;
        loop {
            c.publish(topic, QoS::AtMostOnce, false, b"probe".to_vec()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            if self.stats.messages.load(std::sync::atomic::Ordering::Relaxed) > 0 {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "the node never subscribed");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_garbage_neither_drops_the_connection_nor_blocks_good_reads() {
    let prefix = unique("t4");
    let node = start(tempfile::tempdir().unwrap(), config(&prefix));
    let onvif = format!("{prefix}/onvif-mj/VideoAnalytics/1");
    node.wait_for_subscription(&onvif).await;
    let (c, _) = client(None).await;
    for i in 0..5_000u32 {
        let payload = format!("{{\"Frame\": [{{\"Object\": {i}}}").into_bytes();
        c.publish(onvif.as_str(), QoS::AtMostOnce, false, payload).await.unwrap();
    }
    c.publish(onvif.as_str(), QoS::AtLeastOnce, false, onvif_plate("B 99 FLD")).await.unwrap();
    node.wait_reads(1).await;
    let sources = node.stats.sources();
    let mapped = &sources[&format!("topic:{onvif}")];
    assert!(mapped.malformed > 1_000, "{sources:?}");
    assert_eq!(mapped.reads_accepted, 1);
    assert_eq!(
        node.stats.connections_lost.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "{:?}",
        node.stats.last_connection_error.lock().unwrap()
    );
    node.task.abort();
}
