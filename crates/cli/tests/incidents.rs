//! Incidents between real federated `limes` nodes: raised on one side, seen on the other,
//! escalated when not acknowledged in time, one timeline from both sides' updates.

mod util;

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use util::TestNode;
use util::fed::*;

/// Czech fire-rescue (HZS) and Polish fire service (PSP), each notifying the other of
/// incidents. The Czech node escalates a high-severity notification after 3 s.
fn two_services() -> (TestNode, TestNode) {
    let cz = fed_node_edited("cz-hzs", "CZ", |c| {
        c.replace("ack_seconds_high = 900", "ack_seconds_high = 3")
            .replace("check_every_seconds = 5", "check_every_seconds = 1")
            .replace("max_escalations = 3", "max_escalations = 2")
    });
    let pl = fed_node("pl-psp", "PL");
    let (cz_anchor, pl_anchor) = (export_anchor(&cz), export_anchor(&pl));
    add_partner(&cz, &pl_anchor, "incident", "incident");
    add_partner(&pl, &cz_anchor, "incident", "incident");
    use limes_agreement::Category::Incidents;
    let agreement = agreement_of(
        [party_of(&cz_anchor), party_of(&pl_anchor)],
        &[("cz-hzs", "pl-psp", Incidents), ("pl-psp", "cz-hzs", Incidents)],
    );
    agree(&cz, &pl, &agreement);
    (cz, pl)
}

async fn incident(node: &TestNode, id: &str) -> Option<Value> {
    let r = node.session_client().get(node.at(&format!("/api/v1/incidents/{id}"))).send().await.unwrap();
    match r.status() {
        StatusCode::OK => Some(r.json().await.unwrap()),
        StatusCode::NOT_FOUND => None,
        s => panic!("{s}: {}", r.text().await.unwrap()),
    }
}

async fn post(node: &TestNode, path: &str, body: Value) -> (StatusCode, Value) {
    let r = node.session_client().post(node.at(path)).json(&body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The timeline as (writer, change, text) in order.
fn timeline(incident: &Value) -> Vec<(String, String, String)> {
    incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = e["text"].as_str().or(e["status"].as_str()).unwrap_or_default();
            (e["stamp"]["agency"].as_str().unwrap().to_owned(), e["change"].as_str().unwrap().to_owned(), text.into())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_crosses_escalates_until_acknowledged_and_both_sides_see_one_timeline() {
    let (cz, pl) = two_services();
    // The Czech supervisors watch the live stream.
    let live = cz.session_client().get(cz.at("/api/v1/incidents/stream")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let mut live = live.bytes_stream();

    let (status, raised) = post(
        &cz,
        "/api/v1/incidents",
        json!({
            "type": "chemical", "severity": "high",
            "title": "Ammonia leak at the Bohumín rail yard",
            "description": "Wind towards Chałupki; keep 2 km clear.",
            "area": {"type": "Polygon", "coordinates": [[[18.35, 49.90], [18.40, 49.90], [18.40, 49.93], [18.35, 49.93], [18.35, 49.90]]]},
            "notified": ["pl-psp"]
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{raised}");
    let id = raised["id"].as_str().unwrap().to_owned();
    assert_eq!(id, "cz-hzs/1");
    assert!(raised["deadlines"]["pl-psp"].is_string(), "{raised}");

    // The Polish node has it within 10 s, as the Czech service's.
    let seen = wait_for("the incident on the Polish node", async || incident(&pl, &id).await).await;
    assert_eq!(seen["type"], "chemical");
    assert_eq!(seen["title"], "Ammonia leak at the Bohumín rail yard");
    assert_eq!(seen["area"]["type"], "Polygon");
    assert!(seen.get("exercise").is_none(), "{seen}");

    // Nobody in Poland acknowledges: after 3 s the Czech node escalates, tells its supervisors
    // on the live stream and sends the incident again; the escalation shows on both sides.
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(15), async {
        while !text.contains(r#""escalated":["pl-psp"]"#) {
            text.push_str(&String::from_utf8_lossy(&live.next().await.unwrap().unwrap()));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no escalation on the live stream: {text}"));
    wait_for("the escalation on the Polish node", async || {
        let i = incident(&pl, &id).await?;
        (i["notified"]["pl-psp"]["escalations"].as_u64()? >= 1).then_some(())
    })
    .await;

    // Poland acknowledges: both sides see it, and escalation stops below its limit.
    let r = pl.session_client().post(pl.at(&format!("/api/v1/incidents/{id}/ack"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    // Twice is refused: it would change nothing.
    let r = pl.session_client().post(pl.at(&format!("/api/v1/incidents/{id}/ack"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let acked = wait_for("the acknowledgement on the Czech node", async || {
        let i = incident(&cz, &id).await?;
        i["notified"]["pl-psp"]["acknowledged"].is_string().then_some(i)
    })
    .await;
    let escalations = acked["notified"]["pl-psp"]["escalations"].as_u64().unwrap();
    assert!((1..=2).contains(&escalations), "{acked}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let later = incident(&cz, &id).await.unwrap();
    assert_eq!(later["notified"]["pl-psp"]["escalations"].as_u64(), Some(escalations), "no escalation after the ack");

    // Updates from both sides, interleaved, each written after seeing the previous one.
    let notes = [
        (&pl, "note", "Two PSP crews leaving Racibórz"),
        (&cz, "status", "responding"),
        (&pl, "note", "Road 936 closed at Chałupki"),
        (&cz, "note", "Leak sealed; measuring"),
    ];
    for (i, (node, change, text)) in notes.iter().enumerate() {
        let body = match *change {
            "note" => json!({"change": "note", "text": text}),
            _ => json!({"change": "status", "status": text}),
        };
        let (status, v) = post(node, &format!("/api/v1/incidents/{id}/events"), body).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        // The other side has it before the next is written.
        let other = if std::ptr::eq(*node, &cz) { &pl } else { &cz };
        wait_for("the update on the other side", async || {
            let t = timeline(&incident(other, &id).await?);
            (t.iter().filter(|(_, c, _)| c == "note" || c == "status").count() > i).then_some(())
        })
        .await;
    }
    let (on_cz, on_pl) = (incident(&cz, &id).await.unwrap(), incident(&pl, &id).await.unwrap());
    assert_eq!(timeline(&on_cz), timeline(&on_pl), "one timeline on both sides");
    let updates: Vec<(String, String)> =
        timeline(&on_cz).into_iter().filter(|(_, c, _)| c == "note" || c == "status").map(|(a, _, t)| (a, t)).collect();
    let expected: Vec<(String, String)> = notes
        .iter()
        .map(|(n, _, t)| ((if std::ptr::eq(*n, &cz) { "cz-hzs" } else { "pl-psp" }).to_owned(), t.to_string()))
        .collect();
    assert_eq!(updates, expected, "in the order they were written");
    assert_eq!(on_pl["status"], "responding");

    // Only the origin changes the status; a partner's attempt is refused with a reason.
    let (status, v) =
        post(&pl, &format!("/api/v1/incidents/{id}/events"), json!({"change": "status", "status": "closed"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("only the agency that raised"), "{v}");
}

#[tokio::test]
async fn bad_incidents_are_refused_with_a_reason_and_nothing_is_kept() {
    let node = TestNode::start();
    for (body, want) in [
        (
            json!({"type": "meteor", "severity": "high", "title": "x", "position": {"lat": 45.0, "lon": 28.0}}),
            "unknown variant",
        ),
        (
            json!({"type": "fire", "severity": "high", "title": " ", "position": {"lat": 45.0, "lon": 28.0}}),
            "title is empty",
        ),
        (json!({"type": "fire", "severity": "high", "title": "x"}), "an area (GeoJSON) or a position"),
        (
            json!({"type": "fire", "severity": "high", "title": "x", "area": {"type": "Polygon", "coordinates": [[[28, 45], [29, 45], [29, 46], [28, 45.5]]]}}),
            "does not end where it starts",
        ),
        (json!({"type": "fire", "severity": "high", "title": "x", "position": {"lat": 95.0, "lon": 28.0}}), "latitude"),
        (
            json!({"type": "fire", "severity": "high", "title": "x\u{0}", "position": {"lat": 45.0, "lon": 28.0}}),
            "control",
        ),
        (
            json!({"type": "fire", "severity": "high", "title": "x", "position": {"lat": 45.0, "lon": 28.0}, "id": "x/1"}),
            "unknown field",
        ),
    ] {
        let (status, v) = post(&node, "/api/v1/incidents", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(v.to_string().contains(want), "{body}: {v}");
    }
    let r = node.session_client().post(node.at("/api/v1/incidents")).body("{\"type\":").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let listed: Vec<Value> =
        node.session_client().get(node.at("/api/v1/incidents?closed=true")).send().await.unwrap().json().await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");

    // A good one after the bad ones; escalation and raising are not the API's to write.
    let (status, v) = post(
        &node,
        "/api/v1/incidents",
        json!({"type": "fire", "severity": "low", "title": "Grass fire", "position": {"lat": 45.0, "lon": 28.0}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap();
    for body in [json!({"change": "escalated", "agency": "x", "attempt": 1}), json!({"change": "deleted"})] {
        let (status, v) = post(&node, &format!("/api/v1/incidents/{id}/events"), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    }
    let r = node.session_client().get(node.at("/api/v1/incidents/nobody/1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = node.session_client().get(node.at("/api/v1/incidents/x/y")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}
