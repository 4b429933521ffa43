//! Issue #3's "done when": a camera sending ISAPI pushes, an MQTT camera speaking ONVIF
//! JSON and a Frigate instance's events all produce reads and alerts in one node — the
//! real `limes serve`, a real broker, and real samples: Frigate's documented event (MIT,
//! copied unchanged into the fixtures) and a Hikvision camera's capture (no licence: read in
//! place from `../shared/samples` when it is there, never copied).

mod util;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{StatusCode, header};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use util::{TestNode, camera_json, mqtt_broker};

fn shared(name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("LIMES_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples"));
    std::fs::read(dir.join(name)).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isapi_onvif_mqtt_and_frigate_cameras_all_raise_alerts_in_one_node() {
    let (host, port) = mqtt_broker();
    let prefix = format!("limes-e2e-{}-{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    let mqtt = format!(
        r#"
[mqtt]
url = "mqtt://{host}:{port}"
client_id = "{prefix}-node"
subscriptions = [
  {{ topic = "{prefix}/+/onvif-mj/VideoAnalytics/#", format = "onvif-json" }},
  {{ topic = "{prefix}/frigate/events", format = "frigate" }},
]
[mqtt.cameras]
"topic:{prefix}/ro-cam-7/onvif-mj/VideoAnalytics/1" = "ro-cam-7"
"#
    );
    // The samples are years old: keep their reads for the length of the test.
    let node = TestNode::start_edited(|cfg| cfg.replace("reads_days = 30", "reads_days = 36500") + &mqtt);
    let c = node.client();
    for (id, cc) in [("ro-siret-1", "RO"), ("ro-cam-7", "RO"), ("front_door", "RO")] {
        let r = c.post(node.at("/api/v1/cameras")).json(&camera_json(id, cc)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let hikvision = shared("hikvision_isapi_anpr_plate_detected.xml");
    // The Frigate sample is MIT-licensed: the project keeps its own unchanged copy.
    let frigate = include_bytes!("../../camera-formats/tests/fixtures/frigate_mqtt_events_lpr.json").to_vec();
    let hotlist = json!([
        {"plate": "KH35192", "reason": "stolen", "agency": "ro-igpf"},   // the Hikvision sample's plate
        {"plate": "ABC12345", "reason": "wanted", "agency": "ro-igpf"},  // the Frigate sample's
        {"plate": "B 123 XYZ", "country": "RO", "reason": "stolen", "agency": "ro-igpf"},
    ]);
    let r = c.post(node.at("/api/v1/hotlist")).json(&hotlist).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Wait until the node has subscribed: probes on its ONVIF topic show up in its counters.
    let mut o = MqttOptions::new(format!("{prefix}-camera"), host.clone(), port);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (camera, mut eventloop) = AsyncClient::new(o, 100);
    tokio::spawn(async move {
        while let Ok(e) = eventloop.poll().await {
            if let Event::Incoming(Packet::Disconnect) = e {
                return;
            }
        }
    });
    let onvif_topic = format!("{prefix}/ro-cam-7/onvif-mj/VideoAnalytics/1");
    let start = std::time::Instant::now();
    loop {
        camera.publish(onvif_topic.as_str(), QoS::AtMostOnce, false, b"probe".to_vec()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let v: Value = c.get(node.at("/api/v1/mqtt")).send().await.unwrap().json().await.unwrap();
        if v["messages"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the node never subscribed: {v}");
    }

    // 1. The Hikvision camera pushes its ANPR alert.
    let mut expected = vec!["ABC12345", "B123XYZ"];
    match &hikvision {
        Some(xml) => {
            let r = c
                .post(node.at("/api/v1/cameras/ro-siret-1/push/hikvision"))
                .header(header::CONTENT_TYPE, "application/xml")
                .body(xml.clone())
                .send()
                .await
                .unwrap();
            let report: Value = r.json().await.unwrap();
            assert_eq!(report["alerts"], 1, "{report}");
            expected.push("KH35192");
        }
        None => eprintln!("note: ../shared/samples is absent; the Hikvision sample was not pushed"),
    }
    // 2. An ONVIF camera publishes its analytics on MQTT.
    let frame = json!({"Frame": [{"@UtcTime": chrono::Utc::now().to_rfc3339(), "Object": [{"@ObjectId": 3,
        "Appearance": {"LicensePlateInfo": {"PlateNumber": {"@Likelihood": 0.92, "#text": "B 123 XYZ"},
                                            "CountryCode": {"@Likelihood": 0.9, "#text": "RO"}}}}]}]});
    camera.publish(onvif_topic.as_str(), QoS::AtLeastOnce, false, serde_json::to_vec(&frame).unwrap()).await.unwrap();
    // 3. Frigate publishes its event, exactly as the sample has it.
    camera.publish(format!("{prefix}/frigate/events"), QoS::AtLeastOnce, false, frigate).await.unwrap();

    let start = std::time::Instant::now();
    let alerts = loop {
        let v: Value = c.get(node.at("/api/v1/alerts")).send().await.unwrap().json().await.unwrap();
        if v.as_array().unwrap().len() >= expected.len() || start.elapsed() > Duration::from_secs(20) {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut plates: Vec<&str> = alerts.as_array().unwrap().iter().map(|a| a["plate"].as_str().unwrap()).collect();
    plates.sort();
    expected.sort();
    assert_eq!(plates, expected, "{alerts}");
    let cameras: Vec<&str> = alerts.as_array().unwrap().iter().map(|a| a["camera"].as_str().unwrap()).collect();
    assert!(cameras.contains(&"front_door") && cameras.contains(&"ro-cam-7"), "{cameras:?}");
}
