//! Patrol units between real federated `limes` nodes: units report positions over HTTP and
//! MQTT (the real broker), the nearest available unit is suggested first, an assignment to a
//! partner's incident reaches that partner with the unit's status and route, nothing crosses
//! without a `patrol-positions` flow, a covert unit never crosses; hostile input is refused
//! with a reason and loses nothing accepted before.

mod util;

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use util::fed::*;
use util::{TestNode, audit_records};

async fn get(node: &TestNode, path: &str) -> (StatusCode, Value) {
    let r = node.session_client().get(node.at(path)).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(node: &TestNode, path: &str, body: Value) -> (StatusCode, Value) {
    let r = node.session_client().post(node.at(path)).json(&body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post_text(node: &TestNode, path: &str, body: &str) -> (StatusCode, Value) {
    let r = node.client().post(node.at(path)).body(body.to_owned()).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn unit(id: &str, kind: &str, covert: bool) -> Value {
    json!({"id": id, "callsign": format!("Siret {id}"), "kind": kind, "vehicle": "Dacia Duster, marked",
           "crew": {"size": 2, "roles": ["commander", "driver"]}, "covert": covert})
}

/// A track ending `metres` south of (lat, lon) now, one fix every 5 s for `n` fixes, 50 m apart.
fn track(lat: f64, lon: f64, metres: f64, n: usize) -> Vec<Value> {
    let now = Utc::now();
    (0..n)
        .map(|i| {
            let back = (n - 1 - i) as f64;
            let time = now - chrono::Duration::seconds(5 * (n - 1 - i) as i64 + 1);
            json!({"time": time, "lat": lat - (metres + back * 50.0) / 111_195.0, "lon": lon,
                   "speed_kmh": 36.0, "heading": 0.0})
        })
        .collect()
}

/// The Romanian border police (RO) patrols at Siret; the Ukrainian border guard (UA) shares
/// incidents and patrols with it; the Hungarian police (HU) shares incidents only: the link
/// carries `patrol` messages to it, the agreement refuses them.
fn three_agencies(broker: &str, prefix: &str) -> (TestNode, TestNode, TestNode) {
    let mqtt = format!(
        "\n[mqtt]\nurl = \"{broker}\"\nclient_id = \"{prefix}-node\"\n\
         subscriptions = [{{ topic = \"{prefix}/+/+/+\", format = \"limes-patrol\" }}]\n"
    );
    let ro = fed_node_edited("ro-igpf", "RO", |c| {
        format!("{}{mqtt}", c.replace("share_every_seconds = 15", "share_every_seconds = 1"))
    });
    let ua = fed_node("ua-dpsu", "UA");
    let hu = fed_node("hu-police", "HU");
    let (ro_anchor, ua_anchor, hu_anchor) = (export_anchor(&ro), export_anchor(&ua), export_anchor(&hu));
    for (node, anchor) in [(&ro, &ua_anchor), (&ua, &ro_anchor), (&ro, &hu_anchor), (&hu, &ro_anchor)] {
        add_partner(node, anchor, "incident,patrol", "incident,patrol");
    }
    use limes_agreement::Category::{Incidents, PatrolPositions};
    let with_ua = agreement_of(
        [party_of(&ro_anchor), party_of(&ua_anchor)],
        &[
            ("ro-igpf", "ua-dpsu", Incidents),
            ("ua-dpsu", "ro-igpf", Incidents),
            ("ro-igpf", "ua-dpsu", PatrolPositions),
            ("ua-dpsu", "ro-igpf", PatrolPositions),
        ],
    );
    agree(&ro, &ua, &with_ua);
    let with_hu = agreement_of(
        [party_of(&ro_anchor), party_of(&hu_anchor)],
        &[("ro-igpf", "hu-police", Incidents), ("hu-police", "ro-igpf", Incidents)],
    );
    agree(&ro, &hu, &with_hu);
    (ro, ua, hu)
}

/// A client on the test broker, driven in the background.
fn mqtt_client(name: &str) -> rumqttc::AsyncClient {
    let (host, port) = util::mqtt_broker();
    let options = rumqttc::MqttOptions::new(name, host, port);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_report_are_suggested_and_assigned_and_cross_only_where_agreed() {
    let (host, port) = util::mqtt_broker();
    let prefix = format!("limes-patrols-{}-{}", std::process::id(), Utc::now().timestamp_millis());
    let (ro, ua, hu) = three_agencies(&format!("mqtt://{host}:{port}"), &prefix);

    // Ukraine raises an incident at the Porubne crossing and notifies Romania.
    let scene = (47.982, 26.066);
    let (status, incident) = post(
        &ua,
        "/api/v1/incidents",
        json!({"type": "border-breach", "severity": "high", "title": "Group crossing the green border west of Porubne",
               "position": {"lat": scene.0, "lon": scene.1}, "notified": ["ro-igpf"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let id = incident["id"].as_str().unwrap().to_owned();
    wait_for("the incident on the Romanian node", async || {
        let (s, _) = get(&ro, &format!("/api/v1/incidents/{id}")).await;
        (s == StatusCode::OK).then_some(())
    })
    .await;

    // Romania's units: two cars and a covert car (shared with nobody), and one off duty.
    for (u, status) in [
        (unit("ro-igpf/SV-11", "car", false), "available"),
        (unit("ro-igpf/SV-12", "car", false), "available"),
        (unit("ro-igpf/X-1", "car", true), "available"),
        (unit("ro-igpf/SV-13", "car", false), "off-duty"),
    ] {
        let mut u = u;
        u["status"] = status.into();
        let (s, v) = post(&ro, "/api/v1/patrols/units", u).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    // SV-11 over HTTP: 20 fixes driving north, ending 1 km short of the scene; the covert car
    // 300 m away; the off-duty car 100 m away.
    for (code, metres, n) in [("SV-11", 1000.0, 20), ("X-1", 300.0, 3), ("SV-13", 100.0, 2)] {
        let (s, v) = post(
            &ro,
            &format!("/api/v1/patrols/units/ro-igpf/{code}/positions"),
            Value::Array(track(scene.0, scene.1, metres, n)),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["accepted"], n, "{v}");
    }
    // SV-12 over MQTT, as its tracker publishes: 4 km short of the scene.
    let client = mqtt_client(&format!("{prefix}-tracker"));
    let topic = format!("{prefix}/ro-igpf/SV-12/position");
    let fixes = serde_json::to_vec(&track(scene.0, scene.1, 4000.0, 5)).unwrap();
    let mqtt_unit = wait_for("SV-12's positions over MQTT", async || {
        client.publish(topic.as_str(), rumqttc::QoS::AtLeastOnce, false, fixes.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, u) = get(&ro, "/api/v1/patrols/units/ro-igpf/SV-12").await;
        u.get("position").is_some().then_some(u)
    })
    .await;
    assert!((mqtt_unit["position"]["lat"].as_f64().unwrap() - (scene.0 - 4000.0 / 111_195.0)).abs() < 1e-6);
    let (_, mqtt) = get(&ro, "/api/v1/mqtt").await;
    let counters = &mqtt["sources"]["unit:ro-igpf/SV-12"];
    assert_eq!(counters["positions_accepted"], 5, "{mqtt}");

    // The nearest available units first: the covert car, SV-11, SV-12; never the one off duty.
    let (s, suggested) = get(&ro, &format!("/api/v1/patrols/suggestions?incident={id}")).await;
    assert_eq!(s, StatusCode::OK, "{suggested}");
    let order: Vec<&str> = suggested["units"].as_array().unwrap().iter().map(|u| u["unit"].as_str().unwrap()).collect();
    assert_eq!(order, ["ro-igpf/X-1", "ro-igpf/SV-11", "ro-igpf/SV-12"], "{suggested}");
    let sv11 = &suggested["units"][1];
    assert!((sv11["distance_m"].as_f64().unwrap() - 1000.0).abs() < 5.0, "{sv11}");
    // 1 km at 60 km/h on roads 30 % longer than the straight line: 78 s.
    assert!((77..=79).contains(&sv11["eta_s"].as_u64().unwrap()), "{sv11}");

    // An operator sends SV-11 to Ukraine's incident: Ukraine sees the assignment, the unit en
    // route and its route within 10 s.
    let sent = Instant::now();
    let (s, assigned) =
        post(&ro, "/api/v1/patrols/assignments", json!({"unit": "ro-igpf/SV-11", "incident": id})).await;
    assert_eq!(s, StatusCode::CREATED, "{assigned}");
    assert_eq!(assigned["unit"]["status"], "en-route");
    let seen = wait_for("the assignment on the Ukrainian node", async || {
        let (_, list) = get(&ua, &format!("/api/v1/patrols/assignments?incident={id}")).await;
        let (_, unit) = get(&ua, "/api/v1/patrols/units/ro-igpf/SV-11").await;
        let (_, route) = get(&ua, "/api/v1/patrols/units/ro-igpf/SV-11/route?tolerance_m=0").await;
        let enough =
            list.as_array()?.len() == 1 && unit["status"] == "en-route" && route["positions"].as_array()?.len() >= 15;
        enough.then_some((list, unit, route))
    })
    .await;
    assert!(sent.elapsed() < Duration::from_secs(10), "took {:?}", sent.elapsed());
    let (list, on_ua, route) = seen;
    assert_eq!(list[0]["unit"], "ro-igpf/SV-11");
    assert_eq!(list[0]["target"]["incident"], id.as_str());
    assert_eq!(on_ua["partner"], true);
    assert_eq!(on_ua["assignment"]["incident"], id.as_str());
    assert_eq!(on_ua["crew"], json!({"size": 2, "roles": ["commander", "driver"]}));
    // The route is thinned to one fix per second of the unit's own clock: every 5 s fix here.
    let lats: Vec<f64> = route["positions"].as_array().unwrap().iter().map(|p| p["lat"].as_f64().unwrap()).collect();
    assert!(lats.windows(2).all(|w| w[0] < w[1]), "northwards, in order: {lats:?}");
    // A status change follows.
    let (s, v) = post(&ro, "/api/v1/patrols/units/ro-igpf/SV-11/status", json!({"status": "on-scene"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    wait_for("on scene on the Ukrainian node", async || {
        let (_, unit) = get(&ua, "/api/v1/patrols/units/ro-igpf/SV-11").await;
        (unit["status"] == "on-scene").then_some(())
    })
    .await;
    // The MQTT unit's positions reach Ukraine too; its status set over MQTT as well.
    let status_topic = format!("{prefix}/ro-igpf/SV-12/status");
    client
        .publish(status_topic.as_str(), rumqttc::QoS::AtLeastOnce, false, br#"{"status":"busy"}"#.to_vec())
        .await
        .unwrap();
    wait_for("SV-12 busy on both sides", async || {
        let (_, here) = get(&ro, "/api/v1/patrols/units/ro-igpf/SV-12").await;
        let (_, there) = get(&ua, "/api/v1/patrols/units/ro-igpf/SV-12").await;
        (here["status"] == "busy" && there["status"] == "busy" && there.get("position").is_some()).then_some(())
    })
    .await;

    // The covert car never crossed, though it reported and was suggested here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, positions) = get(&ua, "/api/v1/patrols/positions").await;
    let units: Vec<&str> = positions.as_array().unwrap().iter().map(|p| p["unit"].as_str().unwrap()).collect();
    assert!(!units.contains(&"ro-igpf/X-1"), "{positions}");
    assert!(units.contains(&"ro-igpf/SV-11") && units.contains(&"ro-igpf/SV-12"), "{positions}");
    assert!(positions.as_array().unwrap().iter().all(|p| p["agency"] == "ro-igpf" && p["partner"] == true));
    let (s, _) = get(&ua, "/api/v1/patrols/units/ro-igpf/X-1").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Hungary's agreement has no patrol-positions flow: nothing reached it, and Romania's
    // audit log holds the refusals.
    let (s, on_hu) = get(&hu, "/api/v1/patrols/units").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(on_hu, json!([]), "nothing crossed to Hungary");
    let (_, on_hu) = get(&hu, "/api/v1/patrols/positions").await;
    assert_eq!(on_hu, json!([]));
    let refused: Vec<Value> = audit_records(&ro, &["--actor", "node:ro-igpf"])
        .into_iter()
        .filter(|r| {
            r["action"] == "denied" && r["details"]["partner"] == "hu-police" && r["details"]["type"] == "patrol"
        })
        .collect();
    assert!(refused.iter().any(|r| r["object"].as_str().unwrap().contains("patrol:assignment")), "{refused:#?}");
    assert!(refused.iter().any(|r| r["object"].as_str().unwrap().contains("patrol:positions")), "{refused:#?}");
    // Refused once when the agreement said no, not again every second.
    let positions_refused =
        refused.iter().filter(|r| r["object"].as_str().unwrap().contains("patrol:positions")).count();
    assert_eq!(positions_refused, 1, "{refused:#?}");
    assert!(
        !refused
            .iter()
            .chain(audit_records(&ro, &["--actor", "node:ro-igpf"]).iter())
            .any(|r| r.to_string().contains("X-1")),
        "the covert unit was never even offered"
    );
}

#[tokio::test]
async fn hostile_reports_are_refused_with_a_reason_and_lose_nothing_accepted_before() {
    let node = TestNode::start();
    let base = "/api/v1/patrols/units/ro-igpf/BT-1";
    let (s, codes) = get(&node, "/api/v1/patrols/codes").await;
    assert_eq!(s, StatusCode::OK);
    assert!(codes["status"].as_array().unwrap().contains(&json!("en-route")), "{codes}");
    assert!(codes["kind"].as_array().unwrap().contains(&json!("boat")), "{codes}");

    // Units: names of the crew have no field to go in; another agency's unit is not ours.
    for (body, want) in [
        (
            json!({"id": "ro-igpf/BT-1", "callsign": "Galați 1", "kind": "submarine", "crew": {"size": 3}}),
            "unknown variant",
        ),
        (
            json!({"id": "ro-igpf/BT-1", "callsign": "Galați 1", "kind": "boat", "crew": {"size": 3, "names": ["Ion Popescu"]}}),
            "unknown field `names`",
        ),
        (json!({"id": "ua-dpsu/BT-1", "callsign": "Izmail 1", "kind": "boat", "crew": {"size": 3}}), "own agency"),
        (json!({"id": "ro-igpf/BT 1", "callsign": "Galați 1", "kind": "boat", "crew": {"size": 3}}), "letters, digits"),
        (json!({"id": "ro-igpf/BT-1", "callsign": "", "kind": "boat", "crew": {"size": 3}}), "callsign is empty"),
    ] {
        let (s, v) = post(&node, "/api/v1/patrols/units", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(v["message"].as_str().unwrap().contains(want), "{body}: {v}");
    }
    let (s, v) = post(
        &node,
        "/api/v1/patrols/units",
        json!({"id": "ro-igpf/BT-1", "callsign": "Galați 1", "kind": "boat", "crew": {"size": 3}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "available");

    // Good positions first.
    let now = Utc::now();
    let at = |ago: i64, lat: f64| json!({"time": now - chrono::Duration::seconds(ago), "lat": lat, "lon": 28.05});
    let (s, v) =
        post_text(&node, &format!("{base}/positions"), &json!([at(60, 45.40), at(50, 45.41)]).to_string()).await;
    assert_eq!((s, v["accepted"].as_u64()), (StatusCode::OK, Some(2)), "{v}");

    let far_future = json!({"time": now + chrono::Duration::days(3), "lat": 45.4, "lon": 28.0}).to_string();
    let huge = Value::Array((0..1001).map(|i| at(40 - i / 100, 45.42)).collect()).to_string();
    for (body, status, want) in [
        (r#"[{"time": "#.to_owned(), StatusCode::BAD_REQUEST, "not valid JSON"),
        (json!({"time": now, "lat": 95.0, "lon": 28.0}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "WGS84"),
        (far_future, StatusCode::UNPROCESSABLE_ENTITY, "ahead of this node's clock"),
        (json!({"time": now, "lat": 45.4}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "missing field `lon`"),
        (
            json!({"time": now, "lat": 45.4, "lon": 28.0, "driver": "x"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field",
        ),
        (huge, StatusCode::UNPROCESSABLE_ENTITY, "at most 1000"),
        ("[]".into(), StatusCode::UNPROCESSABLE_ENTITY, "no position"),
        (at(70, 45.39).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "older than the unit's latest"),
    ] {
        let (s, v) = post_text(&node, &format!("{base}/positions"), &body).await;
        assert_eq!(s, status, "{}: {v}", &body[..body.len().min(80)]);
        assert!(v["message"].as_str().unwrap_or_default().contains(want), "{}: {v}", &body[..body.len().min(80)]);
    }
    // A batch with one bad position: the good ones kept, the bad one named by its index.
    let mixed = json!([at(40, 45.42), {"time": now, "lat": 45.0, "lon": 200.0}, at(30, 45.43)]).to_string();
    let (s, v) = post_text(&node, &format!("{base}/positions"), &mixed).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["accepted"].as_u64(), v["rejected"][0]["index"].as_u64()), (Some(2), Some(1)), "{v}");
    // Sent again (a tracker unsure it was received): duplicates, nothing wrong.
    let (s, v) =
        post_text(&node, &format!("{base}/positions"), &json!([at(40, 45.42), at(30, 45.43)]).to_string()).await;
    assert_eq!((s, v["duplicates"].as_u64()), (StatusCode::OK, Some(2)), "{v}");
    // Nothing accepted before was lost.
    let from = (now - chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (_, route) = get(&node, &format!("{base}/route?tolerance_m=0&from={from}")).await;
    let lats: Vec<f64> = route["positions"].as_array().unwrap().iter().map(|p| p["lat"].as_f64().unwrap()).collect();
    assert_eq!(lats, [45.40, 45.41, 45.42, 45.43], "{route}");

    // Statuses, assignments, suggestions.
    let (s, v) = post(&node, &format!("{base}/status"), json!({"status": "parked"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["message"].as_str().unwrap().contains("unknown variant `parked`"), "{v}");
    let (s, _) = post(&node, &format!("{base}/status"), json!({"status": "available"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "it is available already");
    let (s, v) = post(&node, "/api/v1/patrols/units/ro-igpf/NOBODY/positions", json!(at(1, 45.0))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["message"].as_str().unwrap().contains("register it first"), "{v}");
    for (body, status) in [
        (json!({"unit": "ro-igpf/BT-1", "incident": "ro-igpf/99"}), StatusCode::NOT_FOUND),
        (json!({"unit": "ro-igpf/BT-1", "alert": 1, "incident": "ro-igpf/1"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"unit": "ro-igpf/BT-1"}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"unit": "ro-igpf/BT-1", "alert": 12345}), StatusCode::NOT_FOUND),
    ] {
        let (s, v) = post(&node, "/api/v1/patrols/assignments", body.clone()).await;
        assert_eq!(s, status, "{body}: {v}");
    }
    let (s, raised) = post(
        &node,
        "/api/v1/incidents",
        json!({"type": "flood", "severity": "medium", "title": "Danube at Galați", "position": {"lat": 45.44, "lon": 28.05}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{raised}");
    let incident = raised["id"].as_str().unwrap();
    let (s, v) = post(&node, "/api/v1/patrols/assignments", json!({"unit": "ua-dpsu/X", "incident": incident})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["message"].as_str().unwrap().contains("only its own agency dispatches it"), "{v}");
    let (s, v) = get(&node, &format!("/api/v1/patrols/suggestions?incident={incident}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["units"][0]["unit"], "ro-igpf/BT-1", "{v}");
    for q in ["lat=95&lon=28", "lat=45", "alert=1&lat=45&lon=28"] {
        let (s, v) = get(&node, &format!("/api/v1/patrols/suggestions?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
    }
    let (s, v) = post(
        &node,
        "/api/v1/patrols/assignments",
        json!({"unit": "ro-igpf/BT-1", "incident": incident, "note": "Check the levee at km 150"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, units) = get(&node, "/api/v1/patrols/units?status=en-route").await;
    assert_eq!(units[0]["assignment"]["incident"], incident, "{units}");
    assert_eq!(units[0]["position"]["lat"], 45.43, "{units}");
}
