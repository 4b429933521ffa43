//! Face, person and vehicle detections over real HTTP against the real `limes` binary:
//! posting (one, an array, NDJSON), hostile input, search, paging, restart.

mod util;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use util::{TestNode, camera_json};

async fn setup() -> (TestNode, Client) {
    let node = TestNode::start();
    let c = node.client();
    for id in ["ro-siret-02", "ro-siret-03"] {
        let r = c.post(node.at("/api/v1/cameras")).json(&camera_json(id, "RO")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    (node, c)
}

/// A face seen `ago_s` seconds ago.
fn face(camera: &str, ago_s: i64) -> Value {
    face_at(camera, chrono::Utc::now() - chrono::Duration::seconds(ago_s))
}

fn face_at(camera: &str, time: chrono::DateTime<chrono::Utc>) -> Value {
    json!({"camera": camera, "time": rfc3339(time), "kind": "face", "confidence": 0.8,
           "age_min": 20, "age_max": 30, "age_confidence": 0.5, "gender": "male", "gender_confidence": 0.7,
           "bbox": {"left": 0.1, "top": 0.2, "right": 0.3, "bottom": 0.4, "units": "normalized"},
           "zone": "gate", "object_id": "15"})
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

async fn status_and_message(r: reqwest::Response) -> (StatusCode, String) {
    let s = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (s, v["message"].as_str().unwrap_or_default().to_owned())
}

async fn search(node: &TestNode, c: &Client, query: &str) -> Value {
    let r = c.get(node.at(&format!("/api/v1/detections?{query}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{query}");
    r.json().await.unwrap()
}

fn count(v: &Value) -> usize {
    v["detections"].as_array().unwrap().len()
}

async fn stats(node: &TestNode, c: &Client) -> (u64, u64) {
    let v: Value = c.get(node.at("/api/v1/stats")).send().await.unwrap().json().await.unwrap();
    (v["detections_accepted"].as_u64().unwrap(), v["detections_rejected"].as_u64().unwrap())
}

#[tokio::test]
async fn a_detection_is_stored_as_posted_and_found_again_after_a_restart() {
    let (node, c) = setup().await;
    let posted = face("ro-siret-02", 5);
    let r = c.post(node.at("/api/v1/detections")).json(&posted).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["accepted"], 1);
    let id = report["ids"][0].as_i64().unwrap();

    let node = node.restart();
    let got: Value = c.get(node.at(&format!("/api/v1/detections/{id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(got["id"], id);
    assert_eq!(got["source_format"], "http");
    assert!(got["received"].is_string());
    for key in ["camera", "kind", "age_min", "age_max", "gender", "zone", "object_id", "bbox"] {
        assert_eq!(got[key], posted[key], "{key}: {got}");
    }
    for key in ["confidence", "age_confidence", "gender_confidence"] {
        let (a, b) = (got[key].as_f64().unwrap(), posted[key].as_f64().unwrap());
        assert!((a - b).abs() < 1e-6, "{key}: {a} {b}");
    }
    let time = |v: &Value| chrono::DateTime::parse_from_rfc3339(v["time"].as_str().unwrap()).unwrap();
    assert_eq!(time(&got), time(&posted));
    let r = c.get(node.at(&format!("/api/v1/detections/{}", id + 1000))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hostile_and_malformed_detections_get_clear_errors_and_good_ones_are_kept() {
    let (node, c) = setup().await;
    let good = face("ro-siret-02", 1);
    let r = c.post(node.at("/api/v1/detections")).json(&good).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    let future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let bbox =
        |l: f64, t: f64, r: f64, b: f64| json!({"left": l, "top": t, "right": r, "bottom": b, "units": "normalized"});
    let cases: Vec<(Value, &str)> = vec![
        (with(good.clone(), "age_max", json!(300)), "age range 20..=300 is not a range of human ages"),
        (with(with(good.clone(), "age_min", json!(40)), "age_max", json!(30)), "age range 40..=30"),
        (with(good.clone(), "age_min", json!(-1)), "invalid value: integer `-1`"),
        (with(good.clone(), "confidence", json!(2)), "detection confidence 2 is not in 0..=1"),
        (with(good.clone(), "gender_confidence", json!(-0.5)), "gender confidence -0.5"),
        (with(good.clone(), "bbox", bbox(0.5, 0.2, 1.5, 0.4)), "is not inside the picture"),
        (with(good.clone(), "bbox", bbox(0.5, 0.2, 0.1, 0.4)), "is not inside the picture"),
        (with(good.clone(), "camera", json!("no-such-cam")), "unknown camera \"no-such-cam\""),
        (with(good.clone(), "camera", json!("bad id with spaces")), "camera"),
        (with(good.clone(), "time", json!(future)), "in the future"),
        (with(good.clone(), "time", json!("1970-01-01T00:00:00Z")), "before"),
        (with(good.clone(), "kind", json!("dog")), "unknown variant `dog`"),
        (with(good.clone(), "gender", json!("unknown")), "unknown variant `unknown`"),
        (with(good.clone(), "kind", json!("vehicle")), "a vehicle detection cannot carry an age"),
        (with(good.clone(), "zone", json!("z".repeat(1000))), "zone is longer than 256 bytes"),
        (with(good.clone(), "age_max", Value::Null), "age_min and age_max go together"),
        // Identity has no field: a name or a face template is refused, never stored.
        (with(good.clone(), "name", json!("Ion Popescu")), "unknown field `name`"),
        (with(good.clone(), "face_embedding", json!([0.1, 0.2])), "unknown field `face_embedding`"),
        (with(good.clone(), "sub_label", json!("Ion")), "unknown field `sub_label`"),
    ];
    for (body, needle) in &cases {
        let r = c.post(node.at("/api/v1/detections")).json(body).send().await.unwrap();
        let (status, message) = status_and_message(r).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {message}");
        assert!(message.contains(needle), "{message:?} should contain {needle:?}");
    }
    for (body, ct, want, needle) in [
        (b"{\"camera\": ".to_vec(), "application/json", StatusCode::BAD_REQUEST, "not valid JSON"),
        (b"[{\"camera\": 1},".to_vec(), "application/json", StatusCode::BAD_REQUEST, "not valid JSON"),
        (vec![b'{', 0xff, b'}'], "application/json", StatusCode::BAD_REQUEST, "not valid UTF-8"),
        (b"kind=face".to_vec(), "text/plain", StatusCode::UNSUPPORTED_MEDIA_TYPE, "content type"),
    ] {
        let r =
            c.post(node.at("/api/v1/detections")).header("content-type", ct).body(body.clone()).send().await.unwrap();
        let (status, message) = status_and_message(r).await;
        assert_eq!(status, want, "{}: {message}", String::from_utf8_lossy(&body));
        assert!(message.contains(needle), "{message:?} should contain {needle:?}");
    }

    // A batch keeps its good records and names the bad ones by index.
    let batch: Vec<Value> = std::iter::once(face("ro-siret-03", 2))
        .chain(cases.iter().map(|(body, _)| body.clone()))
        .chain([face("ro-siret-03", 3), json!("not an object")])
        .collect();
    let r = c.post(node.at("/api/v1/detections")).json(&batch).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["accepted"], 2, "{report}");
    let bad: Vec<u64> = report["rejected"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(bad, (1..=cases.len() as u64).chain([cases.len() as u64 + 2]).collect::<Vec<_>>());
    // Nothing but bad records: 422 with the same report.
    let r = c.post(node.at("/api/v1/detections")).json(&json!([{"kind": "face"}])).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let report: Value = r.json().await.unwrap();
    assert!(report["rejected"][0]["error"].as_str().unwrap().contains("missing field"), "{report}");

    assert_eq!(count(&search(&node, &c, "limit=100").await), 3, "only the good detections are stored");
    let (accepted, rejected) = stats(&node, &c).await;
    assert_eq!(accepted, 3);
    assert!(rejected >= cases.len() as u64, "{rejected}");

    // Search parameters are checked too; identity is no search parameter.
    for (query, needle) in [
        ("kind=dog", "unknown variant `dog`"),
        ("name=Ion", "unknown field `name`"),
        ("face=abc", "unknown field `face`"),
        ("age_min=50&age_max=40", "age_min 50 and age_max 40"),
        ("age_max=200", "age_max 200"),
        ("after=garbage", "not a cursor"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "is after"),
        ("camera=bad%20id", "camera"),
    ] {
        let r = c.get(node.at(&format!("/api/v1/detections?{query}"))).send().await.unwrap();
        let (status, message) = status_and_message(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {message}");
        assert!(message.contains(needle), "{query}: {message:?} should contain {needle:?}");
    }
}

#[tokio::test]
async fn search_by_camera_zone_kind_time_age_and_gender_paged_newest_first() {
    let (node, c) = setup().await;
    let base = chrono::Utc::now();
    let mut batch = Vec::new();
    for i in 0..30 {
        let camera = if i % 3 == 0 { "ro-siret-03" } else { "ro-siret-02" };
        let mut d = face_at(camera, base - chrono::Duration::seconds(1000 - i));
        if i % 2 == 1 {
            d = with(with(with(d, "gender", json!("female")), "age_min", json!(40)), "age_max", json!(50));
        }
        if i % 5 == 0 {
            d = json!({"camera": camera, "time": d["time"], "kind": "person", "zone": "lane-1"});
        }
        batch.push(d);
    }
    batch.push(json!({"camera": "ro-siret-02", "time": rfc3339(base), "kind": "vehicle",
                      "vehicle": {"make": "Dacia", "class": "car"}, "bbox": {"left": 10, "top": 10, "right": 300,
                      "bottom": 200, "units": "pixels"}}));
    let r = c.post(node.at("/api/v1/detections")).json(&batch).send().await.unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["accepted"], 31, "{report}");

    // i % 5 == 0: 6 persons in lane-1 (0, 5, …, 25), without age or gender; the other 24 are
    // faces in the gate: odd i female 40..=50 (12), even i male 20..=30 (12).
    assert_eq!(count(&search(&node, &c, "limit=1000").await), 31);
    assert_eq!(count(&search(&node, &c, "camera=ro-siret-03").await), 10);
    assert_eq!(count(&search(&node, &c, "zone=lane-1").await), 6);
    assert_eq!(count(&search(&node, &c, "zone=gate").await), 24);
    assert_eq!(count(&search(&node, &c, "kind=person").await), 6);
    assert_eq!(count(&search(&node, &c, "kind=vehicle").await), 1);
    assert_eq!(count(&search(&node, &c, "kind=face&gender=female").await), 12);
    assert_eq!(count(&search(&node, &c, "gender=male&age_min=25&age_max=35").await), 12);
    assert_eq!(count(&search(&node, &c, "age_min=31&age_max=39").await), 0);
    assert_eq!(count(&search(&node, &c, "age_min=45").await), 12);
    assert_eq!(count(&search(&node, &c, "age_max=20").await), 12);
    // Male faces on ro-siret-03: i = 6, 12, 18, 24.
    assert_eq!(count(&search(&node, &c, "camera=ro-siret-03&kind=face&gender=male").await), 4);
    let v = search(&node, &c, "kind=vehicle").await;
    assert_eq!(v["detections"][0]["vehicle"]["make"], "Dacia");
    assert_eq!(v["detections"][0]["bbox"]["units"], "pixels");
    // From inclusive, to exclusive: i = 5..=14.
    let t = |s: i64| rfc3339(base - chrono::Duration::seconds(s));
    assert_eq!(count(&search(&node, &c, &format!("from={}&to={}", t(995), t(985))).await), 10);

    // Pages of 7, newest first, each after the previous page's `next`.
    let mut after = String::new();
    let mut times = Vec::new();
    let mut ids = std::collections::HashSet::new();
    loop {
        let v = search(&node, &c, &format!("limit=7{after}")).await;
        for d in v["detections"].as_array().unwrap() {
            times.push(d["time"].as_str().unwrap().to_owned());
            assert!(ids.insert(d["id"].as_i64().unwrap()), "no detection twice");
        }
        match v["next"].as_str() {
            Some(next) => after = format!("&after={next}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 31);
    let parsed: Vec<_> = times.iter().map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap()).collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "newest first");
}

#[tokio::test]
async fn an_ndjson_stream_of_detections_is_committed_and_bad_lines_are_reported() {
    let (node, c) = setup().await;
    let mut body = String::new();
    for i in 0..5_000 {
        match i % 1000 {
            7 => body.push_str("{not json}\n"),
            8 => body.push('\n'),
            9 => body.push_str(&format!("{}\n", with(face("ro-siret-02", 1), "age_min", json!(200)))),
            _ => body.push_str(&format!("{}\n", face("ro-siret-02", 1))),
        }
    }
    body.push_str(&"x".repeat(100_000));
    let r = c
        .post(node.at("/api/v1/detections"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 4_985);
    let bad: Vec<u64> = v["rejected"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(bad.len(), 11);
    assert_eq!(&bad[..2], &[7, 9]);
    assert_eq!(*bad.last().unwrap(), 5_000);
    assert_eq!(stats(&node, &c).await.0, 4_985);
}

#[tokio::test]
async fn detections_have_a_retention_of_their_own() {
    // A year for both first: retention runs as the node starts, maybe after these posts.
    let node = TestNode::start_edited(|c| {
        c.replace("reads_days = 30", "reads_days = 365").replace("detections_days = 30", "detections_days = 365")
    });
    let c = node.client();
    c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-siret-02", "RO")).send().await.unwrap();
    let day = 86_400;
    let r = c
        .post(node.at("/api/v1/detections"))
        .json(&json!([face("ro-siret-02", 40 * day), face("ro-siret-02", 10 * day)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["accepted"], 2);
    let mut read = util::read_json("ro-siret-02", "B 12 ABC", Some("RO"));
    read["time"] = rfc3339(chrono::Utc::now() - chrono::Duration::days(40)).into();
    assert_eq!(c.post(node.at("/api/v1/reads")).json(&read).send().await.unwrap().status(), StatusCode::CREATED);

    // Thirty days for detections, still a year for reads: only the old detection goes.
    let config = std::fs::read_to_string(&node.config).unwrap();
    std::fs::write(&node.config, config.replace("detections_days = 365", "detections_days = 30")).unwrap();
    let node = node.restart();
    let start = std::time::Instant::now();
    while count(&search(&node, &c, "").await) > 1 {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "retention did not run");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reads: Value = c.get(node.at("/api/v1/reads")).send().await.unwrap().json().await.unwrap();
    assert_eq!(reads["reads"].as_array().unwrap().len(), 1, "reads keep their own retention");
}
