//! The node's HTTP API, over real HTTP against the real `limes` binary.

mod util;

use std::time::Duration;

use futures::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use util::{TestNode, camera_json, read_json};

async fn setup() -> (TestNode, Client) {
    let node = TestNode::start();
    let c = node.client();
    for (id, cc) in [("ro-cam-1", "RO"), ("ua-cam-1", "UA")] {
        let r = c.post(node.at("/api/v1/cameras")).json(&camera_json(id, cc)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    (node, c)
}

async fn count_reads(node: &TestNode, c: &Client) -> u64 {
    let v: Value = c.get(node.at("/api/v1/stats")).send().await.unwrap().json().await.unwrap();
    v["reads_accepted"].as_u64().unwrap()
}

async fn status_and_message(r: reqwest::Response) -> (StatusCode, String) {
    let s = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    (s, v["message"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn hostile_and_malformed_input_gets_clear_errors_and_loses_nothing() {
    let (node, c) = setup().await;
    let post = |body: Vec<u8>, ct: &str| c.post(node.at("/api/v1/reads")).header("content-type", ct).body(body).send();

    // One good read first: it must survive everything below.
    let r = c.post(node.at("/api/v1/reads")).json(&read_json("ro-cam-1", "B 12 ABC", Some("RO"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    let cases: Vec<(Vec<u8>, &str, StatusCode, &str)> = vec![
        (b"{\"camera\": ".to_vec(), "application/json", StatusCode::BAD_REQUEST, "not valid JSON"),
        (
            br#"{"camera":"ro-cam-1","plate":"B12ABC"}"#.to_vec(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing field `time`",
        ),
        (
            serde_json::to_vec(&read_json("no-such-cam", "B12ABC", None)).unwrap(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown camera \"no-such-cam\"",
        ),
        (
            serde_json::to_vec(&json!({"camera":"ro-cam-1","time":"2099-01-01T00:00:00Z","plate":"B12ABC"})).unwrap(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "in the future",
        ),
        (vec![b'{', 0xff, 0xfe, b'}'], "application/json", StatusCode::BAD_REQUEST, "not valid UTF-8"),
        (
            serde_json::to_vec(&read_json("ro-cam-1", "😀", None)).unwrap(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "plate",
        ),
        (
            serde_json::to_vec(&json!({"camera":"ro-cam-1","time":"2026-01-01T00:00:00Z","plate":"B1","colour":"red"}))
                .unwrap(),
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `colour`",
        ),
        (
            b"plate=B12ABC".to_vec(),
            "application/x-www-form-urlencoded",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type",
        ),
        (b"[1,2".to_vec(), "application/json", StatusCode::BAD_REQUEST, "not valid JSON"),
    ];
    for (body, ct, want, needle) in cases {
        let (got, msg) = status_and_message(post(body.clone(), ct).await.unwrap()).await;
        assert_eq!(got, want, "{:?}: {msg}", String::from_utf8_lossy(&body));
        assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
    }

    // Oversized: larger than the 32 MiB default limit.
    let big = vec![b' '; 33 << 20];
    // The node closes the connection after refusing the body: use a client of its own.
    let one_off = node.client().post(node.at("/api/v1/reads")).header("content-type", "application/json").body(big);
    let (got, msg) = status_and_message(one_off.send().await.unwrap()).await;
    assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(msg.contains("larger than"), "{msg}");

    assert_eq!(count_reads(&node, &c).await, 1, "nothing accepted earlier is lost, nothing bad was stored");
    let v: Value = c.get(node.at("/api/v1/reads?plate=B12ABC&country=RO")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["reads"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_batch_keeps_good_records_and_reports_bad_ones_by_index() {
    let (node, c) = setup().await;
    let batch = json!([
        read_json("ro-cam-1", "B 12 ABC", Some("RO")),
        {"camera": "ro-cam-1", "plate": "B12ABC"},
        read_json("nowhere", "CJ 01 XYZ", Some("RO")),
        read_json("ua-cam-1", "АА 1234 ВВ", Some("UA")),
        {"camera": "ro-cam-1", "time": "2099-01-01T00:00:00Z", "plate": "B12ABC"},
        read_json("ro-cam-1", "", Some("RO")),
        read_json("ro-cam-1", "CJ-01-XYZ", None),
    ]);
    let r = c.post(node.at("/api/v1/reads")).json(&batch).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 3);
    let bad: Vec<u64> = v["rejected"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(bad, vec![1, 2, 4, 5]);
    let errors: Vec<&str> = v["rejected"].as_array().unwrap().iter().map(|r| r["error"].as_str().unwrap()).collect();
    assert!(errors[0].contains("time"), "{errors:?}");
    assert!(errors[1].contains("unknown camera"), "{errors:?}");
    assert!(errors[2].contains("future"), "{errors:?}");
    assert!(errors[3].contains("empty"), "{errors:?}");
    assert_eq!(count_reads(&node, &c).await, 3);

    // A batch of nothing but bad records is refused as a whole, with the same report.
    let r = c.post(node.at("/api/v1/reads")).json(&json!([{"x": 1}])).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count_reads(&node, &c).await, 3);

    // The Cyrillic UA read was stored under its Latin canonical form.
    let v: Value =
        c.get(node.at("/api/v1/reads?plate=AA1234BB&country=UA")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["reads"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_ndjson_stream_is_committed_and_bad_lines_are_reported() {
    let (node, c) = setup().await;
    let mut body = String::new();
    for i in 0..10_000 {
        if i % 1000 == 7 {
            body.push_str("{not json}\n");
        } else if i % 1000 == 8 {
            body.push('\n'); // blank lines are skipped, not errors
        } else {
            body.push_str(&read_json("ro-cam-1", &format!("B {:02} ABC", i % 100), Some("RO")).to_string());
            body.push('\n');
        }
    }
    body.push_str(&"x".repeat(100_000)); // an over-long last line without newline
    let r = c
        .post(node.at("/api/v1/reads"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 9_980);
    let bad: Vec<u64> = v["rejected"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(bad.len(), 11);
    assert_eq!(bad[0], 7);
    assert_eq!(*bad.last().unwrap(), 10_000);
    assert_eq!(count_reads(&node, &c).await, 9_980);
}

#[tokio::test]
async fn a_hotlist_entry_changes_in_place_matches_as_changed_and_the_change_is_logged() {
    let (node, c) = setup().await;
    let entry =
        json!([{"plate": "SV 12 EDT", "country": "RO", "reason": "stolen", "agency": "ro-igpf", "note": "old"}]);
    let r = c.post(node.at("/api/v1/hotlist")).json(&entry).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let id = r.json::<Value>().await.unwrap()["ids"][0].as_u64().unwrap();
    let at = node.at(&format!("/api/v1/hotlist/{id}"));
    let put = |body: Value| c.put(&at).json(&body).send();

    let change = json!({"reason": "wanted", "priority": 1, "expires": "2099-12-31", "fuzzy": true,
                        "note": "grey van, two people", "make": "Dacia"});
    let r = put(change).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let changed: Value = r.json().await.unwrap();
    assert_eq!(
        (&changed["id"], &changed["plate"], &changed["country"], &changed["agency"]),
        (&json!(id), &json!("SV12EDT"), &json!("RO"), &json!("ro-igpf")),
        "what the entry is about stays: {changed}"
    );
    assert_eq!(
        (&changed["reason"], &changed["priority"], &changed["fuzzy"]),
        (&json!("wanted"), &json!(1), &json!(true))
    );
    assert_eq!(changed["expires"], "2099-12-31T23:59:59Z");
    assert_eq!((&changed["note"], &changed["vehicle"]["make"]), (&json!("grey van, two people"), &json!("Dacia")));
    let got: Value = c.get(&at).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, changed);

    // Reads are matched against the entry as it is now.
    c.post(node.at("/api/v1/reads")).json(&read_json("ro-cam-1", "SV 12 EDT", Some("RO"))).send().await.unwrap();
    let alerts: Value = c.get(node.at("/api/v1/alerts")).send().await.unwrap().json().await.unwrap();
    let alert = alerts.as_array().unwrap().iter().find(|a| a["plate"] == "SV12EDT").expect("an alert");
    assert_eq!((&alert["reason"], &alert["priority"]), (&json!("wanted"), &json!(1)), "{alert}");

    // A PUT replaces: what it leaves out is cleared.
    let r = put(json!({"reason": "stolen"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let plain: Value = r.json().await.unwrap();
    assert_eq!((&plain["priority"], &plain["fuzzy"]), (&json!(3), &json!(false)));
    for field in ["expires", "note", "vehicle"] {
        assert!(plain.get(field).is_none(), "{field} cleared: {plain}");
    }

    // The plate is what the entry is about: it does not change in place. Nor do bad values pass.
    let r = put(json!({"reason": "stolen", "plate": "B 1 ABC"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("plate"));
    for bad in [
        json!({"reason": "stolen", "priority": 9}),
        json!({"reason": "lost"}),
        json!({"reason": "stolen", "expires": "soon"}),
    ] {
        assert_eq!(put(bad.clone()).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let r = c.put(node.at("/api/v1/hotlist/999999")).json(&json!({"reason": "stolen"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let got: Value = c.get(&at).send().await.unwrap().json().await.unwrap();
    assert_eq!(got, plain, "refused changes changed nothing");

    // Each change is an alteration of the entry in the audit log, before it took effect.
    let records = util::audit_records(&node, &["--object", &format!("hotlist:{id}")]);
    let alterations = records.iter().filter(|r| r["action"] == "alter" && r["outcome"] == "allowed").count();
    assert!(alterations >= 2, "{records:#?}");
}

#[tokio::test]
async fn a_hotlisted_plate_raises_an_alert_on_the_live_stream_and_it_can_be_acknowledged() {
    let (node, c) = setup().await;
    let csv = "plate,country,reason,priority,agency,expires,fuzzy,note\n\
               B 77 XYZ,RO,stolen,1,ro-igpf,,false,grey Dacia\n\
               AA 9999 KX,UA,wanted,2,ua-npu,2099-01-01,,\n\
               ,RO,stolen,1,ro-igpf,,,\n\
               CJ 10 ABC,RO,bogus,1,ro-igpf,,,\n";
    let r = c.post(node.at("/api/v1/hotlist")).header("content-type", "text/csv").body(csv).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["imported"], 2);
    let lines: Vec<u64> = v["errors"].as_array().unwrap().iter().map(|e| e["at"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![4, 5], "{v}");

    let resp = c.get(node.at("/api/v1/alerts/stream")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    // Lower case, separators and Cyrillic look-alikes are all the same plate: confirmed hits.
    c.post(node.at("/api/v1/reads")).json(&read_json("ro-cam-1", "b-77-xyz", Some("RO"))).send().await.unwrap();
    c.post(node.at("/api/v1/reads")).json(&read_json("ua-cam-1", "АА 9999 КХ", Some("UA"))).send().await.unwrap();
    c.post(node.at("/api/v1/reads")).json(&read_json("ro-cam-1", "CJ 55 QQQ", Some("RO"))).send().await.unwrap();

    let mut text = String::new();
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        while text.matches("event: alert").count() < 2 {
            let chunk = stream.next().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(got.is_ok(), "two alerts within 10 s; got {text:?}");
    assert!(text.contains("\"plate\":\"B77XYZ\""), "{text}");
    assert!(text.contains("\"plate\":\"AA9999KX\""), "{text}");
    assert!(text.contains("\"kind\":\"confirmed\""), "{text}");

    let alerts: Value =
        c.get(node.at("/api/v1/alerts?unacknowledged=true")).send().await.unwrap().json().await.unwrap();
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    let id = alerts[0]["id"].as_i64().unwrap();
    // Acknowledging is a person's act: the test token may not, tester's session may.
    let ack = |c: &reqwest::Client| {
        c.post(node.at(&format!("/api/v1/alerts/{id}/ack"))).json(&json!({"note": "patrol sent"}))
    };
    assert_eq!(ack(&c).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let r = ack(&node.session_client()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let acked: Value = r.json().await.unwrap();
    assert_eq!(acked["ack"]["by"], "tester");
    let alerts: Value =
        c.get(node.at("/api/v1/alerts?unacknowledged=true")).send().await.unwrap().json().await.unwrap();
    assert_eq!(alerts.as_array().unwrap().len(), 1);
    let r = node
        .session_client()
        .post(node.at("/api/v1/alerts/999999/ack"))
        .json(&json!({"by": "op-7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A reconnecting client resumes after the last id it saw, without duplicates.
    let resp = c.get(node.at("/api/v1/alerts/stream")).header("last-event-id", "0").send().await.unwrap();
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while text.matches("event: alert").count() < 2 {
            text.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
        }
    })
    .await
    .expect("backlog replayed");
}

#[tokio::test]
async fn cameras_crud_and_import_from_csv_and_geojson() {
    let (node, c) = setup().await;
    let csv = "id,agency,kind,lat,lon,heading,road,lane,country,name\n\
               ro-a,ro-igpf,anpr,47.9,26.0,180,E85,1,RO,Siret south\n\
               ro-b,ro-igpf,submarine,47.9,26.0,,,,RO,\n\
               ro-c,ro-igpf,fixed,95,26.0,,,,RO,\n\
               ro-d,ro-igpf,drone,,,,,,RO,Drone 1\n";
    let r =
        c.post(node.at("/api/v1/cameras/import")).header("content-type", "text/csv").body(csv).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["imported"], 2);
    let lines: Vec<u64> = v["errors"].as_array().unwrap().iter().map(|e| e["at"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![3, 4]);

    let geo = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [26.3, 47.8]},
         "properties": {"id": "ua-x", "agency": "ua-dpsu", "kind": "fixed", "country": "UA"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [26.3, 47.8, 1.0, 2.0]},
         "properties": {"id": "ua-y", "agency": "ua-dpsu", "kind": "fixed", "country": "UA"}}
    ]});
    let r = c
        .post(node.at("/api/v1/cameras/import"))
        .header("content-type", "application/geo+json")
        .json(&geo)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["imported"], 1, "{v}");
    let cam: Value = c.get(node.at("/api/v1/cameras/ua-x")).send().await.unwrap().json().await.unwrap();
    assert_eq!(cam["position"]["lat"], 47.8);

    let mut changed = camera_json("ro-a", "RO");
    changed["kind"] = "mobile".into();
    let r = c.put(node.at("/api/v1/cameras/ro-a")).json(&changed).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.put(node.at("/api/v1/cameras/ro-b")).json(&changed).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(c.delete(node.at("/api/v1/cameras/ro-a")).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(c.delete(node.at("/api/v1/cameras/ro-a")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let all: Value = c.get(node.at("/api/v1/cameras")).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = all.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["ro-cam-1", "ro-d", "ua-cam-1", "ua-x"]);
    // A read from a removed camera is refused.
    let r = c.post(node.at("/api/v1/reads")).json(&read_json("ro-a", "B12ABC", None)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn search_by_plate_modes_camera_and_time_with_paging() {
    let (node, c) = setup().await;
    let batch: Vec<Value> = (0..30)
        .map(|i| {
            read_json(
                if i % 3 == 0 { "ua-cam-1" } else { "ro-cam-1" },
                ["B 12 ABC", "B 12 A8C", "B 13 ABC"][i % 3],
                Some("RO"),
            )
        })
        .collect();
    c.post(node.at("/api/v1/reads")).json(&batch).send().await.unwrap();
    let get = |q: String| {
        let url = node.at(&format!("/api/v1/reads?{q}"));
        let c = c.clone();
        async move {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{q}");
            r.json::<Value>().await.unwrap()
        }
    };
    let n = |v: &Value| v["reads"].as_array().unwrap().len();
    // RO's grammar allows only letters at the end, so the 8 of "A8C" is repaired to B.
    assert_eq!(n(&get("plate=B12ABC&country=RO&limit=100".to_owned()).await), 20);
    assert_eq!(n(&get("plate=B12ABC&match=lookalike&limit=100".to_owned()).await), 20);
    assert_eq!(n(&get("plate=B12ABC&match=fuzzy&distance=1&limit=100".to_owned()).await), 30);
    assert_eq!(n(&get("plate=B1%3FA*&match=wildcard&limit=100".to_owned()).await), 30);
    assert_eq!(n(&get("plate=B13*&match=wildcard&limit=100".to_owned()).await), 10);
    assert_eq!(n(&get("camera=ua-cam-1&limit=100".to_owned()).await), 10);
    assert_eq!(n(&get("from=2099-01-01T00:00:00Z&limit=100".to_owned()).await), 0);
    // Paging: 30 reads, 7 a page.
    let mut cursor = String::new();
    let mut total = 0;
    loop {
        let v = get(format!("limit=7{cursor}")).await;
        total += n(&v);
        match v["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(total, 30);
    let r = c.get(node.at("/api/v1/reads?plate=B12ABC&match=fuzzy&distance=5")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c.get(node.at("/api/v1/reads?cursor=garbage")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn reads_the_camera_was_unsure_of_raise_only_possible_alerts_when_configured() {
    let node = TestNode::start_edited(|c| c.replace("confirm_min_confidence = 0.0", "confirm_min_confidence = 0.85"));
    let c = node.client();
    c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-cam-1", "RO")).send().await.unwrap();
    let hotlist = json!([{"plate": "B 55 KKK", "country": "RO", "reason": "stolen", "agency": "ro-igpf"}]);
    c.post(node.at("/api/v1/hotlist")).json(&hotlist).send().await.unwrap();
    for confidence in [0.95, 0.6] {
        let mut read = read_json("ro-cam-1", "B55KKK", Some("RO"));
        read["confidence"] = confidence.into();
        c.post(node.at("/api/v1/reads")).json(&read).send().await.unwrap();
    }
    let mut read = read_json("ro-cam-1", "B55KKK", Some("RO"));
    read.as_object_mut().unwrap().remove("confidence");
    c.post(node.at("/api/v1/reads")).json(&read).send().await.unwrap();
    let alerts: Value = c.get(node.at("/api/v1/alerts")).send().await.unwrap().json().await.unwrap();
    // Newest first: no confidence given (trusted), 0.6 (demoted), 0.95 (confirmed).
    let kinds: Vec<&str> = alerts.as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["confirmed", "possible", "confirmed"]);
}

#[tokio::test]
async fn reads_among_their_cameras_least_sure_raise_only_possible_alerts_whatever_the_vendors_scale() {
    let default = limes_hotlist::MatchPolicy::DEFAULT_CONFIRM_MIN_CAMERA_QUANTILE;
    let node = TestNode::start_edited(|c| {
        c.replace(&format!("confirm_min_camera_quantile = {default:?}"), "confirm_min_camera_quantile = 0.05")
    });
    let c = node.client();
    for id in ["ro-cam-1", "ro-cam-2", "ro-cam-3"] {
        let r = c.post(node.at("/api/v1/cameras")).json(&camera_json(id, "RO")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // Two vendors: cam-1 reports 0.80 to 0.99, cam-2 0.40 to 0.50, for plates read as well.
    // cam-3 has given too few reads to be judged.
    for (camera, low, high, n) in
        [("ro-cam-1", 0.80, 0.99, 1000), ("ro-cam-2", 0.40, 0.50, 1000), ("ro-cam-3", 0.8, 0.99, 10)]
    {
        let batch: Vec<Value> = (0..n)
            .map(|i| {
                let mut read = read_json(camera, &format!("B{}WRM", 100 + i % 900), Some("RO"));
                read["confidence"] = (low + (high - low) * f64::from(i % 100) / 100.0).into();
                read
            })
            .collect();
        let r = c.post(node.at("/api/v1/reads")).json(&batch).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{camera}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["accepted"], n, "{camera}: {v}");
    }
    let hotlist = json!([{"plate": "B 55 KKK", "country": "RO", "reason": "stolen", "agency": "ro-igpf"}]);
    c.post(node.at("/api/v1/hotlist")).json(&hotlist).send().await.unwrap();
    let reads = [("ro-cam-1", 0.95), ("ro-cam-1", 0.80), ("ro-cam-2", 0.45), ("ro-cam-2", 0.40), ("ro-cam-3", 0.30)];
    for (camera, confidence) in reads {
        let mut read = read_json(camera, "B55KKK", Some("RO"));
        read["confidence"] = confidence.into();
        let r = c.post(node.at("/api/v1/reads")).json(&read).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let alerts: Value = c.get(node.at("/api/v1/alerts")).send().await.unwrap().json().await.unwrap();
    let got: Vec<(&str, &str, &Value)> = alerts
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|a| (a["camera"].as_str().unwrap(), a["kind"].as_str().unwrap(), &a["demoted"]))
        .collect();
    let demoted = json!("low_confidence_for_camera");
    assert_eq!(
        got,
        vec![
            ("ro-cam-1", "confirmed", &Value::Null),
            ("ro-cam-1", "possible", &demoted), // the lowest of what cam-1 reports
            ("ro-cam-2", "confirmed", &Value::Null), // the middle of cam-2's scale
            ("ro-cam-2", "possible", &demoted),
            ("ro-cam-3", "confirmed", &Value::Null), // not judged yet
        ],
        "{alerts}"
    );
}

#[tokio::test]
async fn a_read_of_another_vehicle_raises_only_a_possible_alert_saying_why() {
    let (node, c) = setup().await;
    let csv = "plate,country,reason,agency,make,colour\n\
               B 21 VAN,RO,stolen,ro-igpf,VW,alb\n\
               B 22 VAN,RO,stolen,ro-igpf,Dacia,\n\
               B 23 VAN,RO,stolen,ro-igpf,,\n";
    let r = c.post(node.at("/api/v1/hotlist")).header("content-type", "text/csv").body(csv).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["imported"], 3, "{v}");
    let listed: Value = c.get(node.at("/api/v1/hotlist?limit=10")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["vehicle"], json!({"make": "VW", "colour": "alb"}), "kept as the list wrote it: {listed}");

    let with_vehicle = |plate: &str, make: &str, colour: &str| {
        let mut read = read_json("ro-cam-1", plate, Some("RO"));
        read["vehicle"] = json!({"make": make, "colour": colour});
        read
    };
    for read in [
        with_vehicle("B21VAN", "Volkswagen", "silver"), // neighbouring colour: confirmed
        with_vehicle("B21VAN", "Volkswagen", "red"),    // colour contradicts
        with_vehicle("B22VAN", "BMW", "white"),         // make differs
        with_vehicle("B23VAN", "BMW", "red"),           // the entry describes no vehicle: confirmed
    ] {
        let r = c.post(node.at("/api/v1/reads")).json(&read).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let alerts: Value = c.get(node.at("/api/v1/alerts")).send().await.unwrap().json().await.unwrap();
    let got: Vec<(String, String, Value)> = alerts
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|a| {
            (a["plate"].as_str().unwrap().to_owned(), a["kind"].as_str().unwrap().to_owned(), a["demoted"].clone())
        })
        .collect();
    let row = |p: &str, k: &str, d: Value| (p.to_owned(), k.to_owned(), d);
    assert_eq!(
        got,
        vec![
            row("B21VAN", "confirmed", Value::Null),
            row("B21VAN", "possible", json!("colour_differs")),
            row("B22VAN", "possible", json!("make_differs")),
            row("B23VAN", "confirmed", Value::Null),
        ]
    );
}
