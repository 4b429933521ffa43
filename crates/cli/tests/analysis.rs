//! The node's own analysis of video on the real models (`LIMES_MODELS`, which scripts/test
//! fills), real ffmpeg and a real RTSP camera: a synthetic 1080p street video (`limes vision
//! video`: the street photograph with a Romanian plate on its bus, sliding across the frame)
//! is analysed as uploaded footage, live as a camera streams it, and as that camera's recording.
//! The hotlisted plate raises an alert each time, its read carries the plate crop and overview the analysis took; a person crossing
//! the line drawn down the middle raises an event that waits for a person, who confirms it as
//! an incident (the only way it leaves the node); the bus is counted. A broken file is refused
//! with the reason, and a node without its models says how to fetch them.

mod util;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use util::TestNode;
use util::rtsp::Server as RtspServer;

/// The camera's settings: 5 analysed frames a second, a line down the middle that persons
/// raise events on, and a counting line (the same place) for vehicles.
const SETTINGS: &str = r#"
[analysis.cameras.ro-siret-1]
fps = 5
[[analysis.cameras.ro-siret-1.scene.lines]]
id = "green-border"
name = "green border"
a = { x = 0.5, y = 0.0 }
b = { x = 0.5, y = 1.0 }
classes = ["person"]
[[analysis.cameras.ro-siret-1.scene.lines]]
id = "count"
a = { x = 0.5, y = 0.0 }
b = { x = 0.5, y = 1.0 }
classes = ["car", "bus", "truck"]
count = true
alert = false

[analysis.cameras.ro-siret-2]
live = true
fps = 5
"#;

/// Makes the street video; gives its plate.
fn street_video(path: &std::path::Path) -> String {
    let run = util::limes(&[
        "vision",
        "video",
        "--models",
        &util::models(),
        "--out",
        path.to_str().unwrap(),
        "--country",
        "RO",
        "--seed",
        "5",
        "--seconds",
        "3",
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    let plate = stdout.lines().find_map(|l| l.strip_prefix("plate=")).expect("plate=").to_owned();
    assert!(stdout.contains("width=1920") && stdout.contains("height=1080"), "{stdout}");
    plate
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn upload(node: &TestNode, camera: &str, start: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let url = node.at(&format!("/api/v1/footage?camera={camera}&start={start}&name=street.mp4"));
    send(node.client().post(url).header("content-type", "video/mp4").body(bytes)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_reads_a_hotlisted_plate_in_footage_and_recordings_and_a_person_confirms_a_border_crossing() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("street.mp4");
    let plate = street_video(&video);
    let camera = RtspServer::start_file(&video);
    let stream = format!(
        "\n[[video.streams]]\ncamera = \"ro-siret-2\"\nurl = \"{}\"\nsegment_seconds = 1\n",
        camera.url("file")
    );
    let node =
        TestNode::start_edited(|c| format!("{c}\n{stream}\n[analysis]\nmodels = \"{}\"\n{SETTINGS}", util::models()));
    let (api, person) = (node.client(), node.session_client());
    for (id, lat) in [("ro-siret-1", 47.95), ("ro-siret-2", 47.96)] {
        let mut camera = util::camera_json(id, "RO");
        camera["position"] = json!({"lat": lat, "lon": 26.07});
        let (s, v) = send(api.post(node.at("/api/v1/cameras")).json(&camera)).await;
        assert!(s.is_success(), "{v}");
    }
    let entry = json!([{"plate": plate, "country": "RO", "reason": "stolen", "agency": "ro-igpf"}]);
    let (s, v) = send(api.post(node.at("/api/v1/hotlist")).json(&entry)).await;
    assert!(s.is_success(), "{v}");

    // ---- uploaded footage ----
    // Ten minutes ago: the page shows the last 24 hours' traffic.
    let start = (chrono::Utc::now() - chrono::TimeDelta::minutes(10)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (s, footage) = upload(&node, "ro-siret-1", &start, std::fs::read(&video).unwrap()).await;
    assert_eq!(s, StatusCode::CREATED, "{footage}");
    let sha = footage["sha256"].as_str().unwrap();
    let started = Instant::now();
    let (s, report) = send(api.post(node.at(&format!("/api/v1/footage/{sha}/analyse")))).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    eprintln!("footage analysed in {:?}: {report}", started.elapsed());
    assert_eq!(report["frames"], 15, "3 s at 5 analysed frames a second: {report}");
    let reads = report["reads"].as_array().unwrap();
    let read =
        reads.iter().find(|r| r["plate"] == plate.as_str()).unwrap_or_else(|| panic!("{plate} not read: {report}"));
    assert!(read["agreeing"].as_u64() >= Some(2), "voted over frames: {read}");
    assert!(report["alerts"].as_u64() >= Some(1), "{report}");
    // The read is timed on the footage's clock, and its alert is on the node like any other.
    let time = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().to_utc();
    let offset = time(&read["time"]) - time(&Value::String(start.clone()));
    assert!((0..3000).contains(&offset.num_milliseconds()), "{read}");
    let (_, alerts) = send(person.get(node.at("/api/v1/alerts"))).await;
    assert!(alerts.to_string().contains(&plate), "{alerts}");
    let (_, images) = send(person.get(node.at(&format!("/api/v1/reads/{}/images", read["id"])))).await;
    let kinds: Vec<&str> = images.as_array().unwrap().iter().filter_map(|i| i["kind"].as_str()).collect();
    assert_eq!(kinds, ["plate", "overview"], "{images}");
    let crop = person.get(node.at(images[0]["url"].as_str().unwrap())).send().await.unwrap().bytes().await.unwrap();
    let crop = image::load_from_memory(&crop).unwrap();
    assert!(
        crop.width() > crop.height() * 2 && crop.width() >= 100,
        "a plate crop, {}×{}",
        crop.width(),
        crop.height()
    );
    // Collected as the node's own analysis.
    let audit = util::audit_records(&node, &["--actor", "integration:limes-vision"]);
    assert!(!audit.is_empty(), "the collection is logged under the analysis");

    // The persons walking with the picture cross the green border: events, pending.
    let events = report["events"].as_array().unwrap();
    assert!(!events.is_empty(), "a person crossed the line: {report}");
    let (_, pending) = send(person.get(node.at("/api/v1/events?status=pending"))).await;
    let first = &pending[0];
    assert_eq!((first["kind"].as_str(), first["class"].as_str()), (Some("line_crossed"), Some("person")), "{first}");
    assert_eq!(
        (first["rule"].as_str(), first["direction"].as_str()),
        (Some("green-border"), Some("right_to_left")),
        "{first}"
    );
    assert!(
        first["models"].as_str().unwrap().contains("yolov4-tiny"),
        "logged with the models that raised it: {first}"
    );
    let id = first["id"].as_i64().unwrap();
    let frame = person.get(node.at(&format!("/api/v1/events/{id}/frame"))).send().await.unwrap();
    assert_eq!(frame.status(), StatusCode::OK);
    let frame = image::load_from_memory(&frame.bytes().await.unwrap()).unwrap();
    assert_eq!((frame.width(), frame.height()), (1920, 1080), "the picture it was raised on");
    // Nothing left the node: no incident. An API token cannot decide; a person can, once.
    let (_, incidents) = send(person.get(node.at("/api/v1/incidents"))).await;
    assert_eq!(incidents.as_array().map(Vec::len), Some(0), "{incidents}");
    let (s, _) = send(api.post(node.at(&format!("/api/v1/events/{id}/confirm")))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a token holds no events.confirm");
    // On the page, in the Video view: one confirmed as an incident, one dismissed.
    let page =
        util::browser_test("analysis.mjs", &[("TZ", "UTC"), ("LIMES_URL", node.url.trim_end_matches('/'))]).await;
    eprintln!("the events on the page: {page}");
    for view in ["analysis_events", "analysis_traffic"] {
        assert_eq!(page[format!("axe_{view}")], "0 violations (light, dark)", "{page}");
    }
    let (confirmed_id, dismissed_id) = (page["confirmed_id"].as_i64().unwrap(), page["dismissed_id"].as_i64().unwrap());
    assert_eq!(confirmed_id, id, "the newest first, as the API lists them");
    let (_, confirmed) = send(person.get(node.at(&format!("/api/v1/events/{confirmed_id}")))).await;
    assert_eq!(
        (confirmed["status"].as_str(), confirmed["decided_by"].as_str()),
        (Some("confirmed"), Some("tester")),
        "{confirmed}"
    );
    let incident = confirmed["incident"].as_str().expect("raised as an incident").to_owned();
    let (_, raised) = send(person.get(node.at(&format!("/api/v1/incidents/{incident}")))).await;
    assert_eq!(
        (raised["type"].as_str(), raised["severity"].as_str()),
        (Some("border-breach"), Some("critical")),
        "{raised}"
    );
    assert_eq!(raised["attachments"][0]["media_type"], "image/jpeg", "{raised}");
    assert!(raised["attachments"][0]["anonymised"]["sha256"].is_string(), "partners get the frame blurred: {raised}");
    let (_, dismissed) = send(person.get(node.at(&format!("/api/v1/events/{dismissed_id}")))).await;
    assert_eq!(
        (dismissed["status"].as_str(), dismissed["incident"].as_str()),
        (Some("dismissed"), None),
        "{dismissed}"
    );
    // A decision stands; a dismissal raises nothing; a note is checked.
    let (s, again) = send(person.post(node.at(&format!("/api/v1/events/{id}/dismiss")))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{again}");
    assert!(again.to_string().contains("tester"), "names who decided: {again}");
    if let Some(third) = pending.as_array().unwrap().get(2) {
        let path = format!("/api/v1/events/{}/dismiss", third["id"]);
        let body = json!({"incident": {"severity": "low", "notified": []}});
        let (s, v) = send(person.post(node.at(&path)).json(&body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (s, v) = send(person.post(node.at(&path)).json(&json!({"note": "bad\u{7}note"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (s, v) = send(person.post(node.at(&path)).json(&json!({"note": "a deer"}))).await;
        assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("dismissed")), "{v}");
    }

    // The bus was counted crossing the counting line, right to left of the line drawn down.
    assert!(report["counted"].as_u64() >= Some(1), "{report}");
    let (from, to) = (time(&Value::String(start.clone())) - chrono::TimeDelta::hours(1), chrono::Utc::now());
    let range = format!("from={}&to={}", enc(&from.to_rfc3339()), enc(&to.to_rfc3339()));
    let (_, counts) = send(person.get(node.at(&format!("/api/v1/traffic?camera=ro-siret-1&{range}")))).await;
    let bus = counts.as_array().unwrap().iter().find(|c| c["class"] == "bus").unwrap_or_else(|| panic!("{counts}"));
    assert_eq!((bus["line"].as_str(), bus["direction"].as_str()), (Some("count"), Some("right_to_left")), "{bus}");

    // ---- the camera's live stream, analysed as the node records it ----
    let live = {
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, alerts) = send(person.get(node.at("/api/v1/alerts"))).await;
            let text = alerts.to_string();
            if text.contains("ro-siret-2") && text.contains(&plate) {
                break alerts;
            }
            assert!(Instant::now() < until, "no alert from the live stream within 120 s: {alerts}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    eprintln!("live: {live}");
    let (_, statuses) = send(person.get(node.at("/api/v1/analysis/cameras"))).await;
    let status = &statuses[0];
    assert_eq!(status["camera"], "ro-siret-2", "{statuses}");
    assert!(status["reads"].as_u64() >= Some(1) && status["analysed"].as_u64() >= Some(1), "{statuses}");

    // ---- the camera's recording ----
    let recorded = {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, segments) = send(person.get(node.at("/api/v1/cameras/ro-siret-2/recordings"))).await;
            let list = segments.as_array().cloned().unwrap_or_default();
            // The file played once through: 3 s recorded.
            let covered: i64 = list
                .iter()
                .map(|s| {
                    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(s[k].as_str().unwrap()).unwrap();
                    (t("end") - t("start")).num_milliseconds()
                })
                .sum();
            if covered >= 2800 {
                break list;
            }
            assert!(Instant::now() < until, "3 s of the camera not recorded within 30 s: {segments}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    let (from, to) = (recorded[0]["start"].as_str().unwrap(), recorded[recorded.len() - 1]["end"].as_str().unwrap());
    let path = format!("/api/v1/cameras/ro-siret-2/analyse?from={}&to={}", enc(from), enc(to));
    let (s, report) = send(api.post(node.at(&path))).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert!(report["reads"].to_string().contains(&plate), "the recording read too: {report}");
    assert!(report["alerts"].as_u64() >= Some(1), "{report}");

    // ---- bad input ----
    // A file that starts as an MP4 and then is noise: refused with the decoder's reason; the
    // node goes on.
    let mut broken = std::fs::read(&video).unwrap()[..64].to_vec();
    broken.extend((0..200_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let (s, footage) = upload(&node, "ro-siret-1", "2026-11-20T09:00:00Z", broken).await;
    assert_eq!(s, StatusCode::CREATED, "{footage}");
    let (s, refused) =
        send(api.post(node.at(&format!("/api/v1/footage/{}/analyse", footage["sha256"].as_str().unwrap())))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.to_string().contains("could not be decoded"), "{refused}");
    let (s, _) = send(api.get(node.at("/api/v1/health"))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = send(api.post(node.at(&format!("/api/v1/footage/{}/analyse", "0".repeat(64))))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) =
        send(api.post(node.at("/api/v1/cameras/ro-siret-2/analyse?from=2026-11-20T09:00:00Z&to=2026-11-20T08:00:00Z")))
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

fn enc(t: &str) -> String {
    t.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_models_the_node_refuses_to_analyse_and_says_how_to_fetch_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-models");
    let node = TestNode::start_edited(|c| format!("{c}\n[analysis]\nmodels = \"{}\"\n", missing.display()));
    let api = node.client();
    let (s, v) = send(api.post(node.at("/api/v1/cameras")).json(&util::camera_json("ro-siret-1", "RO"))).await;
    assert!(s.is_success(), "{v}");
    let (s, footage) = upload(&node, "ro-siret-1", "2026-11-20T08:00:00Z", {
        let mut mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2".to_vec();
        mp4.extend([0u8; 4096]);
        mp4
    })
    .await;
    assert_eq!(s, StatusCode::CREATED, "{footage}");
    let (s, v) =
        send(api.post(node.at(&format!("/api/v1/footage/{}/analyse", footage["sha256"].as_str().unwrap())))).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(v.to_string().contains("limes models fetch"), "{v}");
    let (s, _) = send(api.get(node.at("/api/v1/health"))).await;
    assert_eq!(s, StatusCode::OK, "the node runs on");
}

/// Faces counted by the node's own analysis on uploaded footage of the public-domain portrait of
/// Gauss: with age and gender where the camera asks for them, in the zone that holds the face
/// and not in the other, as events kept with the models and the picture and pending until a
/// person decides; a camera that does not ask counts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faces_are_counted_with_age_and_gender_as_events_a_person_must_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let portrait = std::path::Path::new(&util::models()).join("portrait-gauss.png");
    // The portrait held still for `seconds`, as a camera would see it.
    let footage_of = |seconds: &str| {
        let video = dir.path().join(format!("portrait-{seconds}.mp4"));
        let out = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-loop", "1", "-i"])
            .arg(&portrait)
            .args(["-t", seconds, "-r", "5", "-vf", "scale=512:652", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
            .arg(&video)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read(&video).unwrap()
    };
    let settings = r#"
[analysis.cameras.ro-hall-1]
fps = 2
plates = false
faces = { count = true, age_gender = true, every_s = 1 }
[[analysis.cameras.ro-hall-1.scene.zones]]
id = "desk"
area = [{ x = 0.3, y = 0.1 }, { x = 0.7, y = 0.1 }, { x = 0.7, y = 0.5 }, { x = 0.3, y = 0.5 }]
[[analysis.cameras.ro-hall-1.scene.zones]]
id = "door"
area = [{ x = 0.0, y = 0.7 }, { x = 0.2, y = 0.7 }, { x = 0.2, y = 1.0 }, { x = 0.0, y = 1.0 }]
"#;
    // Confirmed face counts are published as ONVIF metadata on the broker.
    let (host, port) = util::mqtt_broker();
    let prefix = format!("limes-faces-{}-{}", std::process::id(), chrono::Utc::now().timestamp_millis());
    let mqtt = format!(
        "[mqtt]\nurl = \"mqtt://{host}:{port}\"\nclient_id = \"{prefix}-node\"\nfaces_topic = \"{prefix}/faces\"\n"
    );
    let node =
        TestNode::start_edited(|c| format!("{c}\n{mqtt}\n[analysis]\nmodels = \"{}\"\n{settings}", util::models()));
    let mut published = subscribed(&host, port, &format!("{prefix}/faces/#")).await;
    let (api, person) = (node.client(), node.session_client());
    for id in ["ro-hall-1", "ro-hall-2"] {
        let (s, v) = send(api.post(node.at("/api/v1/cameras")).json(&util::camera_json(id, "RO"))).await;
        assert!(s.is_success(), "{v}");
    }
    let start = (chrono::Utc::now() - chrono::TimeDelta::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // A camera whose settings do not ask counts no faces.
    let (s, footage) = upload(&node, "ro-hall-2", &start, footage_of("2")).await;
    assert_eq!(s, StatusCode::CREATED, "{footage}");
    let (s, report) =
        send(api.post(node.at(&format!("/api/v1/footage/{}/analyse", footage["sha256"].as_str().unwrap())))).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["events"], json!([]), "{report}");

    let (s, footage) = upload(&node, "ro-hall-1", &start, footage_of("3")).await;
    assert_eq!(s, StatusCode::CREATED, "{footage}");
    let (s, report) =
        send(api.post(node.at(&format!("/api/v1/footage/{}/analyse", footage["sha256"].as_str().unwrap())))).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    // Three seconds at two analysed pictures a second, counted once a second.
    let events = report["events"].as_array().unwrap();
    assert_eq!(events.len(), 3, "{report}");
    let (_, pending) = send(person.get(node.at("/api/v1/events?status=pending"))).await;
    let counted: Vec<&Value> = pending.as_array().unwrap().iter().filter(|e| e["kind"] == "faces_counted").collect();
    assert_eq!(counted.len(), 3, "{pending}");
    for e in &counted {
        assert_eq!((e["camera"].as_str(), e["class"].as_str()), (Some("ro-hall-1"), Some("person")), "{e}");
        let models = e["models"].as_str().unwrap();
        assert!(models.contains("centerface") && models.contains("age-v1") && models.contains("gender-v1"), "{e}");
        let faces = e["details"]["faces"].as_array().unwrap();
        assert_eq!(faces.len(), 1, "{e}");
        let a = &faces[0]["attributes"];
        assert_eq!(a["gender"], "male", "{e}");
        assert!(a["gender_confidence"].as_f64() > Some(0.8) && a["age_confidence"].as_f64().is_some(), "{e}");
        assert!((a["age"].as_f64().unwrap() - 63.0).abs() <= 15.0, "painted at 63: {e}");
        assert_eq!(e["details"]["zones"], json!([{"zone": "desk", "faces": 1}, {"zone": "door", "faces": 0}]), "{e}");
    }
    // On the page: each count, its estimates and their confidence, beside its picture.
    let page = util::browser_test("faces.mjs", &[("LIMES_URL", node.url.trim_end_matches('/'))]).await;
    eprintln!("the faces on the page: {page}");
    assert_eq!(page["rows"], 3, "{page}");
    assert_eq!(page["axe_analysis_faces"], "0 violations (light, dark)", "{page}");
    // The picture it was raised on is kept with it; a person decides it, once.
    let id = counted[0]["id"].as_i64().unwrap();
    let frame = person.get(node.at(&format!("/api/v1/events/{id}/frame"))).send().await.unwrap();
    assert_eq!(frame.status(), StatusCode::OK);
    let (s, decided) =
        send(person.post(node.at(&format!("/api/v1/events/{id}/dismiss"))).json(&json!({"note": "a painting"}))).await;
    assert_eq!((s, decided["status"].as_str()), (StatusCode::OK, Some("dismissed")), "{decided}");

    // As ONVIF metadata: the faces' boxes at once, their age and gender once a person confirms.
    let parse = |bytes: &[u8]| {
        let limits = limes_camera_formats::Limits::default();
        let found = limes_camera_formats::parse_onvif_json(bytes, None, &limits).unwrap();
        found
            .into_iter()
            .map(|o| match o.payload {
                limes_camera_formats::Payload::Detection(d) => d,
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let second = counted[1]["id"].as_i64().unwrap();
    let onvif = |id: i64| person.get(node.at(&format!("/api/v1/events/{id}/onvif"))).send();
    let before = onvif(second).await.unwrap().bytes().await.unwrap();
    let faces = parse(&before);
    assert_eq!(faces.len(), 1, "{}", String::from_utf8_lossy(&before));
    assert_eq!(faces[0].kind, limes_model::DetectionKind::Face);
    assert!(faces[0].bbox.is_some() && faces[0].age.is_none() && faces[0].gender.is_none(), "{faces:?}");
    let (s, decided) = send(person.post(node.at(&format!("/api/v1/events/{second}/confirm")))).await;
    assert_eq!((s, decided["status"].as_str()), (StatusCode::OK, Some("confirmed")), "{decided}");
    let after = parse(&onvif(second).await.unwrap().bytes().await.unwrap());
    let estimated = |d: &limes_camera_formats::DetectionObservation| {
        assert_eq!(d.gender.as_ref().map(|g| g.value), Some(limes_model::Gender::Male), "{d:?}");
        assert!(d.gender.as_ref().unwrap().confidence > Some(0.8), "{d:?}");
        let age = d.age.as_ref().unwrap().value;
        let middle = (f32::from(age.min) + f32::from(age.max)) / 2.0;
        assert!(age.min <= age.max && (middle - 63.0).abs() <= 15.0, "painted at 63: {age:?}");
    };
    estimated(&after[0]);
    let message = tokio::time::timeout(Duration::from_secs(15), published.recv())
        .await
        .expect("the confirmed count published on the broker")
        .unwrap();
    assert_eq!(message.0, format!("{prefix}/faces/ro-hall-1"));
    let over_mqtt = parse(&message.1);
    assert_eq!(over_mqtt.len(), 1);
    estimated(&over_mqtt[0]);
    let r = person.get(node.at(&format!("/api/v1/events/{}/onvif", counted[0]["id"]))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a dismissed count is given without its estimates");
    assert!(parse(&r.bytes().await.unwrap())[0].gender.is_none());
    let logged = util::audit_records(&node, &["--object", &format!("event:{second}")]);
    assert!(logged.iter().any(|r| r["action"] == "transfer" && r["actor"] == "node:mqtt"), "{logged:#?}");
    // The dismissed one was never published.
    assert!(
        tokio::time::timeout(Duration::from_secs(1), published.recv()).await.is_err(),
        "only what a person confirmed leaves"
    );
}

/// A connection to the broker subscribed to `filter`: the (topic, payload) of what arrives.
async fn subscribed(host: &str, port: u16, filter: &str) -> tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)> {
    use rumqttc::{Event, Packet, QoS};
    let options = rumqttc::MqttOptions::new(format!("{filter}-probe").replace(['/', '#'], "-"), host, port);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 16);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let filter = filter.to_owned();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    client.subscribe(filter.as_str(), QoS::AtLeastOnce).await.unwrap()
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx).await.expect("subscribed").unwrap();
    rx
}
