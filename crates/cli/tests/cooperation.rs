//! The cooperation workflows between real federated `limes` nodes: incidents raised on one
//! side, seen on the other, escalated when not acknowledged in time, one timeline from both
//! sides' updates; bulletins under their handling codes, pseudonymised where agreed, read
//! receipts, passed on only where allowed, live on the partner's bulletin stream within their
//! handling codes; an exercise played into two nodes leaving no unmarked data, and a
//! border-crossing drill (hotlist entry, read, alert, patrol assignment, request) kept apart
//! from real data on both sides; a joint operation of three whose hotlist hit reaches every
//! member and whose close applies the agreed retention; incidents and bulletins on two
//! agencies' pages in a browser; and on two border agencies' pages patrol units reported,
//! suggested and sent, a joint operation written to from both, a live inbox, an incident's
//! attachment and closed incidents.

mod util;

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use util::TestNode;
use util::fed::*;

/// Czech fire-rescue (HZS) and Polish fire service (PSP), each notifying the other of
/// incidents and sending bulletins. The Czech node escalates a high-severity notification after 3 s.
fn two_services() -> (TestNode, TestNode) {
    // The models anonymise the pictures attached to incidents before they cross.
    let cz = fed_node_edited("cz-hzs", "CZ", |c| {
        c.replace("ack_seconds_high = 900", "ack_seconds_high = 3")
            .replace("check_every_seconds = 5", "check_every_seconds = 1")
            .replace("max_escalations = 3", "max_escalations = 2")
            + &format!("\n[analysis]\nmodels = \"{}\"\n", util::models())
    });
    let pl = fed_node("pl-psp", "PL");
    let (cz_anchor, pl_anchor) = (export_anchor(&cz), export_anchor(&pl));
    add_partner(&cz, &pl_anchor, "incident,bulletin", "incident,bulletin");
    add_partner(&pl, &cz_anchor, "incident,bulletin", "incident,bulletin");
    use limes_agreement::Category::{Bulletins, Incidents};
    let agreement = agreement_of(
        [party_of(&cz_anchor), party_of(&pl_anchor)],
        &[
            ("cz-hzs", "pl-psp", Incidents),
            ("pl-psp", "cz-hzs", Incidents),
            ("cz-hzs", "pl-psp", Bulletins),
            ("pl-psp", "cz-hzs", Bulletins),
        ],
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

    // A picture attached on one side (the street photograph, as a drone's) reaches the other as
    // its anonymised copy, checked against the digest the event names: the faces annotated by
    // hand without their detail, the pavement with it; the picture as taken stays in Czechia.
    let models = limes_vision::models::check(std::path::Path::new(&util::models())).unwrap();
    let photo_path = models.path(limes_vision::models::ModelId::StreetPhoto);
    let photo = std::fs::read(&photo_path).unwrap();
    let r = cz
        .session_client()
        .post(cz.at(&format!("/api/v1/incidents/{id}/attachments?name=drone%20photo%201.jpg")))
        .header("content-type", "image/jpeg")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let attached: Value = r.json().await.unwrap();
    let hex = |b: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(b).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let sha = hex(&photo);
    let a = &attached["attachments"][0];
    assert_eq!(a["sha256"], sha.as_str(), "{attached}");
    let copy = a["anonymised"]["sha256"].as_str().expect("an anonymised copy").to_owned();
    assert!(a["anonymised"]["faces"].as_u64().unwrap() >= 2, "{a}");
    let mine =
        cz.session_client().get(cz.at(&format!("/api/v1/incidents/{id}/attachments/{sha}"))).send().await.unwrap();
    assert_eq!(mine.bytes().await.unwrap().as_ref(), photo.as_slice(), "the picture as taken, at home");
    let got = wait_for("the attachment on the Polish node", async || {
        let r =
            pl.session_client().get(pl.at(&format!("/api/v1/incidents/{id}/attachments/{sha}"))).send().await.unwrap();
        if r.status() != StatusCode::OK {
            return None;
        }
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        Some(r.bytes().await.unwrap())
    })
    .await;
    assert_eq!(hex(&got), copy, "what crossed is the copy");
    let by_copy =
        pl.session_client().get(pl.at(&format!("/api/v1/incidents/{id}/attachments/{copy}"))).send().await.unwrap();
    assert_eq!(by_copy.bytes().await.unwrap(), got);
    let (original, blurred) =
        (image::load_from_memory(&photo).unwrap().to_rgb8(), image::load_from_memory(&got).unwrap().to_rgb8());
    for f in limes_vision::models::STREET_PHOTO_FACES {
        let rect = (f[0] as u32, f[1] as u32, (f[2] - f[0]) as u32, (f[3] - f[1]) as u32);
        let kept = limes_vision::anonymise::detail_kept(&original, &blurred, rect);
        assert!(kept < 0.1, "face {f:?}: {kept:.3} of its detail crossed the border");
    }
    let pavement = limes_vision::anonymise::detail_kept(&original, &blurred, (300, 900, 200, 150));
    assert!(pavement > 0.6, "the pavement kept {pavement:.3} of its detail");
    // A file that says it is a picture and is not one is refused, and nothing is kept of it.
    let fake: Vec<u8> =
        [&[0xff, 0xd8, 0xff, 0xe0][..], &(0..20_000u32).map(|i| (i * 31 % 251) as u8).collect::<Vec<_>>()].concat();
    let r = cz
        .session_client()
        .post(cz.at(&format!("/api/v1/incidents/{id}/attachments?name=broken.jpg")))
        .header("content-type", "image/jpeg")
        .body(fake)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("the picture"));
    assert_eq!(incident(&cz, &id).await.unwrap()["attachments"].as_array().unwrap().len(), 1);
    let r = pl
        .session_client()
        .get(pl.at(&format!("/api/v1/incidents/{id}/attachments/{}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "only what the incident names");
    let r = cz
        .session_client()
        .post(cz.at(&format!("/api/v1/incidents/{id}/attachments?name=x")))
        .body(Vec::<u8>::new())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "an empty file");

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

/// Romania's police (issuer), Serbia's (a third country: plates pseudonymised in bulletins
/// from Romania, which it may pass on with Romania's consent) and Hungary's (Serbia's partner,
/// not Romania's).
fn three_police_forces() -> (TestNode, TestNode, TestNode) {
    use limes_agreement::Category::Bulletins;
    let (ro, rs, hu) = (fed_node("ro-igpr", "RO"), fed_node("rs-mup", "RS"), fed_node("hu-police", "HU"));
    let (ro_anchor, rs_anchor, hu_anchor) = (export_anchor(&ro), export_anchor(&rs), export_anchor(&hu));
    add_partner(&ro, &rs_anchor, "bulletin", "");
    add_partner(&rs, &ro_anchor, "", "bulletin");
    add_partner(&rs, &hu_anchor, "bulletin", "");
    add_partner(&hu, &rs_anchor, "", "bulletin");
    let mut ro_rs = agreement_of([party_of(&ro_anchor), party_of(&rs_anchor)], &[("ro-igpr", "rs-mup", Bulletins)]);
    ro_rs.flows[0].plates = limes_agreement::PlateRule::Pseudonymised;
    ro_rs.flows[0].onward_transfer = limes_agreement::Onward::WithConsent;
    agree(&ro, &rs, &ro_rs);
    agree(&rs, &hu, &agreement_of([party_of(&rs_anchor), party_of(&hu_anchor)], &[("rs-mup", "hu-police", Bulletins)]));
    (ro, rs, hu)
}

fn bulletin_json(handling: &str, title: &str) -> Value {
    json!({
        "title": title,
        "summary": "Four catalytic converters cut from parked lorries in two nights.",
        "place": "DN6 between Timișoara and Moravița",
        "from": "2026-11-18T22:00:00Z", "until": "2026-11-20T04:00:00Z",
        "modus_operandi": "Two men, battery angle grinder, under five minutes per lorry",
        "vehicles": [{"plate": "tm 07 xyz", "country": "RO", "description": "white Ford Transit"}],
        "source": "B", "information": "2", "handling": handling,
        "distribution": ["rs-mup", "ua-npu"]
    })
}

async fn bulletin(node: &TestNode, id: &str, purpose: Option<&str>) -> (StatusCode, Value) {
    let mut r = node.session_client().get(node.at(&format!("/api/v1/bulletins/{id}")));
    if let Some(p) = purpose {
        r = r.header("limes-purpose", p).header("limes-legal-basis", "limes test suite: synthetic data");
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulletins_cross_under_their_handling_codes_with_receipts_and_pseudonyms_where_agreed() {
    let (ro, rs, hu) = three_police_forces();
    let (status, h2) = post(&ro, "/api/v1/bulletins", bulletin_json("H2", "Converter thefts on the DN6")).await;
    assert_eq!(status, StatusCode::CREATED, "{h2}");
    let h2_id = h2["id"].as_str().unwrap().to_owned();
    assert_eq!(h2["vehicles"][0]["plate"], "TM07XYZ", "normalised, in clear at the issuer");
    let copies: Vec<(&str, &str)> = h2["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["agency"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(copies, [("rs-mup", "queued"), ("ua-npu", "not a partner receiving bulletins")], "{h2}");

    // Serbia has it, the plate as Romania's pseudonym for Serbia, and Hungary has nothing.
    let got = wait_for("the bulletin in Serbia", async || {
        let (s, v) = bulletin(&rs, &h2_id, None).await;
        (s == StatusCode::OK).then_some(v)
    })
    .await;
    let plate = got["vehicles"][0]["plate"].as_str().unwrap();
    assert!(got["vehicles"][0]["pseudonymised"].as_bool().unwrap(), "{got}");
    assert_eq!(plate.len(), 12, "{got}");
    assert_ne!(plate, "TM07XYZ");
    assert_eq!(
        (got["source"].as_str(), got["information"].as_str(), got["handling"].as_str()),
        (Some("B"), Some("2"), Some("H2"))
    );
    let inbox: Vec<Value> =
        rs.session_client().get(rs.at("/api/v1/bulletins?box=in")).send().await.unwrap().json().await.unwrap();
    assert_eq!(inbox.len(), 1);

    // Opening it sent Romania a read receipt (the agency and when, not who).
    let read = wait_for("the read receipt in Romania", async || {
        let (_, v) = bulletin(&ro, &h2_id, None).await;
        let reads = v["reads"].as_array()?.clone();
        reads.iter().any(|r| r["agency"] == "rs-mup").then_some(reads)
    })
    .await;
    assert!(read.iter().all(|r| r.get("reader").is_none()), "{read:?}");

    // H2: Serbia may not pass it on, whatever the agreement allows.
    let (status, v) = post(&rs, &format!("/api/v1/bulletins/{h2_id}/forward"), json!({"to": ["hu-police"]})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("H2"), "{v}");

    // H1: not for judicial proceedings without Romania's leave.
    let (status, h1) = post(&ro, "/api/v1/bulletins", bulletin_json("H1", "Converter buyers in Vršac")).await;
    assert_eq!(status, StatusCode::CREATED, "{h1}");
    let h1_id = h1["id"].as_str().unwrap().to_owned();
    wait_for("the H1 bulletin in Serbia", async || {
        (bulletin(&rs, &h1_id, None).await.0 == StatusCode::OK).then_some(())
    })
    .await;
    let (status, v) = bulletin(&rs, &h1_id, Some("prosecution")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("judicial"), "{v}");
    let object = format!("bulletin:{h1_id}");
    let records = util::audit_records(&rs, &["--object", &object]);
    assert!(records.iter().any(|r| r["action"] == "denied" && r["object"] == object), "{records:#?}");

    // H1 may be passed on where the agreement allows onward transfer: with Romania's consent,
    // which the agreement asks for. Without it the link refuses the copy.
    let (status, v) = post(&rs, &format!("/api/v1/bulletins/{h1_id}/forward"), json!({"to": ["hu-police"]})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["copies"][0]["status"].as_str().unwrap().starts_with("refused"), "{v}");
    let consent = json!({"to": ["hu-police"], "consent": "RO liaison e-mail of 21 Nov 2026, ref. 4411/2026"});
    let (status, v) = post(&rs, &format!("/api/v1/bulletins/{h1_id}/forward"), consent).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(
        v["copies"].as_array().unwrap().iter().any(|c| c["agency"] == "hu-police" && c["status"] == "queued"),
        "{v}"
    );
    let at_hu = wait_for("the forwarded bulletin in Hungary", async || {
        let (s, v) = bulletin(&hu, &h1_id, None).await;
        (s == StatusCode::OK).then_some(v)
    })
    .await;
    // Hungary gets Serbia's copy, marked as passed on by Serbia, the plate still the pseudonym.
    assert_eq!(at_hu["forwarded_by"], "rs-mup");
    assert_eq!(at_hu["received_from"], "rs-mup");
    assert_eq!(at_hu["vehicles"][0]["plate"], got["vehicles"][0]["plate"]);
    // The H2 one never reached Hungary.
    assert_eq!(bulletin(&hu, &h2_id, None).await.0, StatusCode::NOT_FOUND);
}

/// Reads Server-Sent Events from `stream` (what is left of the last call in `buffer`) until an
/// event of type `kind` whose data satisfies `want`, for at most 10 s; returns the data of
/// every `kind` event read by then.
async fn events_until<S, B>(
    stream: &mut S,
    buffer: &mut String,
    kind: &str,
    want: impl Fn(&Value) -> bool,
) -> Vec<Value>
where
    S: futures::Stream<Item = reqwest::Result<B>> + Unpin,
    B: AsRef<[u8]>,
{
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let event = block.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim);
                let data: String = block.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
                if event == Some(kind) {
                    let v: Value = serde_json::from_str(&data).unwrap();
                    let done = want(&v);
                    seen.push(v);
                    if done {
                        return;
                    }
                }
            }
            let chunk = stream.next().await.expect("the stream goes on").unwrap();
            buffer.push_str(&String::from_utf8_lossy(chunk.as_ref()));
        }
    })
    .await;
    assert!(found.is_ok(), "no such {kind} event within 10 s; saw {seen:#?}");
    seen
}

/// An inbox open at a partner fills live: `GET /bulletins/stream` carries each bulletin as it
/// arrives, only what the caller's declared purpose may open (an H1 bulletin never reaches a
/// stream declared for prosecution), and at the issuer the bulletin issued, then again with
/// the partner's read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulletins_arrive_on_the_partners_live_stream_within_their_handling_codes() {
    let (cz, pl) = two_services();
    let open = |node: &TestNode, purpose: Option<&'static str>| {
        let mut r = node.session_client().get(node.at("/api/v1/bulletins/stream"));
        if let Some(p) = purpose {
            r = r
                .header("limes-purpose", p)
                .header("limes-legal-basis", util::TEST_LEGAL_BASIS)
                .header("limes-case", "T-1");
        }
        async move {
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["content-type"], "text/event-stream");
            r.bytes_stream()
        }
    };
    let (mut at_pl, mut at_pl_prosecution, mut at_cz) =
        (open(&pl, None).await, open(&pl, Some("prosecution")).await, open(&cz, None).await);
    let (mut b1, mut b2, mut b3) = (String::new(), String::new(), String::new());

    let mut h1 = bulletin_json("H1", "Buyers of the stolen converters in Ostrava");
    h1["distribution"] = json!(["pl-psp"]);
    let (status, issued) = post(&cz, "/api/v1/bulletins", h1).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let h1_id = issued["id"].as_str().unwrap().to_owned();
    // At the issuer at once, as the outbox lists it; at the partner within seconds, as its
    // inbox lists it.
    let mine = events_until(&mut at_cz, &mut b3, "bulletin", |b| b["id"] == h1_id.as_str()).await;
    let mine = mine.last().unwrap();
    assert!(mine.get("received_from").is_none() && mine["copies"][0]["agency"] == "pl-psp", "{mine}");
    let arrived = std::time::Instant::now();
    let got = events_until(&mut at_pl, &mut b1, "bulletin", |b| b["id"] == h1_id.as_str()).await;
    let got = got.last().unwrap();
    assert_eq!((got["received_from"].as_str(), got["handling"].as_str()), (Some("cz-hzs"), Some("H1")), "{got}");
    assert_eq!(got["title"], "Buyers of the stolen converters in Ostrava");
    let listed = list(&pl, "/api/v1/bulletins?box=in").await;
    assert_eq!(listed[0]["id"], got["id"], "the stream and the inbox agree");

    // An H2 bulletin next: the stream declared for prosecution has it, and never had the H1.
    let mut h2 = bulletin_json("H2", "Converter thefts at the D1 rest areas");
    h2["distribution"] = json!(["pl-psp"]);
    let (status, issued) = post(&cz, "/api/v1/bulletins", h2).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let h2_id = issued["id"].as_str().unwrap().to_owned();
    let seen = events_until(&mut at_pl_prosecution, &mut b2, "bulletin", |b| b["id"] == h2_id.as_str()).await;
    assert!(seen.iter().all(|b| b["id"] != h1_id.as_str()), "H1 is not for judicial proceedings: {seen:#?}");
    assert!(arrived.elapsed() < Duration::from_secs(10));

    // Read at the partner: the issuer's stream shows the bulletin again, with the read.
    let (status, _) = bulletin(&pl, &h1_id, None).await;
    assert_eq!(status, StatusCode::OK);
    events_until(&mut at_cz, &mut b3, "bulletin", |b| {
        b["id"] == h1_id.as_str() && b["reads"].as_array().is_some_and(|r| r.iter().any(|r| r["agency"] == "pl-psp"))
    })
    .await;
    // Without bulletins.view, no stream.
    let r = util::bearer_client(&pl.admin_token)
        .post(pl.at("/api/v1/tokens"))
        .json(&json!({"name": "gateway", "scope": ["reads.ingest"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let token: Value = r.json().await.unwrap();
    let r = util::bearer_client(token["token"].as_str().unwrap())
        .get(pl.at("/api/v1/bulletins/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_bulletins_are_refused_with_a_reason() {
    let node = TestNode::start();
    for (edit, want) in [
        (json!({"handling": "H3"}), "states its restrictions"),
        (json!({"handling": "H4"}), "unknown variant"),
        (json!({"source": "D"}), "unknown variant"),
        (json!({"until": "2026-11-01T00:00:00Z"}), "before it starts"),
        (json!({"summary": ""}), "summary is empty"),
        (json!({"vehicles": [{"plate": "!!", "country": "RO"}]}), "plate"),
        (json!({"vehicles": [{"plate": "B1", "country": "ROU"}]}), "country"),
        (json!({"distribution": ["not an id!"]}), "agency"),
    ] {
        let mut body = bulletin_json("H0", "x");
        for (k, v) in edit.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, v) = post(&node, "/api/v1/bulletins", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{edit}: {v}");
        assert!(v.to_string().contains(want), "{edit}: {v}");
    }
    let out: Vec<Value> =
        node.session_client().get(node.at("/api/v1/bulletins?box=out")).send().await.unwrap().json().await.unwrap();
    assert!(out.is_empty());
    // Without a federation a copy says why it did not go.
    let (status, v) = post(&node, "/api/v1/bulletins", bulletin_json("H0", "Local only")).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert!(v["copies"][0]["status"].as_str().unwrap().contains("no federation"), "{v}");
}

async fn list(node: &TestNode, path: &str) -> Vec<Value> {
    let r = node.session_client().get(node.at(path)).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.text().await.unwrap());
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exercise_plays_into_both_nodes_and_leaves_no_unmarked_data() {
    let (cz, pl) = two_services();
    // A real incident before the drill: it must stay real, and the drill must not touch it.
    let (status, real) = post(
        &cz,
        "/api/v1/incidents",
        json!({"type": "fire", "severity": "low", "title": "Stubble fire near Náchod", "position": {"lat": 50.42, "lon": 16.16}, "notified": ["pl-psp"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{real}");
    let real_id = real["id"].as_str().unwrap().to_owned();
    wait_for("the real incident in Poland", async || incident(&pl, &real_id).await).await;

    let scenario = format!(
        r#"
name = "Olza chemical spill drill"
[nodes.cz]
url = "{cz}"
token_env = "LIMES_TOKEN_CZ"
[nodes.pl]
url = "{pl}"
token_env = "LIMES_TOKEN_PL"

[[events]]
at = "0s"
node = "cz"
raise = {{ ref = "spill", type = "chemical", severity = "critical", title = "DRILL: tanker spill on the Olza at Karviná", position = {{ lat = 49.86, lon = 18.54 }}, notified = ["pl-psp"] }}

[[events]]
at = "10s"
node = "pl"
acknowledge = {{ incident = "spill" }}

[[events]]
at = "20s"
node = "pl"
note = {{ incident = "spill", text = "Booms ready at Olza village" }}

[[events]]
at = "30s"
node = "cz"
status = {{ incident = "spill", status = "contained" }}

[[events]]
at = "30s"
node = "cz"
bulletin = {{ title = "DRILL: tanker seen earlier at Bohumín", summary = "Scripted sighting", from = "2026-11-21T08:00:00Z", source = "X", information = "4", handling = "H0", distribution = ["pl-psp"] }}
"#,
        cz = cz.url,
        pl = pl.url
    );
    let file = cz.dir.path().join("drill.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = util::limes(&["exercise", "check", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 events"), "{}", String::from_utf8_lossy(&out.stdout));

    let out = std::process::Command::new(util::limes_bin())
        .args(["exercise", "run", file.to_str().unwrap(), "--speed", "20"])
        .env("LIMES_TOKEN_CZ", &cz.token)
        .env("LIMES_TOKEN_PL", &pl.token)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("EXERCISE ").count(), 7, "a header, five events, a footer: {stdout}");

    // Everything the drill wrote is marked, on both nodes; the real incident is not.
    let drill = wait_for("the drill's last change in Poland", async || {
        let d = list(&pl, "/api/v1/incidents?closed=true&exercise=true").await;
        (d.len() == 1 && d[0]["status"] == "contained").then_some(d)
    })
    .await;
    let drill_id = drill[0]["id"].as_str().unwrap().to_owned();
    for node in [&cz, &pl] {
        let real_ones = list(node, "/api/v1/incidents?closed=true&exercise=false").await;
        assert_eq!(real_ones.len(), 1, "{real_ones:#?}");
        assert_eq!(real_ones[0]["id"], real_id.as_str());
        let r = incident(node, &real_id).await.unwrap();
        assert!(r["timeline"].as_array().unwrap().iter().all(|e| e.get("exercise").is_none()), "{r}");
        let d = wait_for("the whole drill", async || {
            let d = incident(node, &drill_id).await?;
            (d["timeline"].as_array()?.len() == 4).then_some(d)
        })
        .await;
        assert_eq!(d["exercise"], true);
        assert!(d["timeline"].as_array().unwrap().iter().all(|e| e["exercise"] == true), "{d}");
        let real_bulletins = [
            list(node, "/api/v1/bulletins?box=in&exercise=false").await,
            list(node, "/api/v1/bulletins?box=out&exercise=false").await,
        ];
        assert!(real_bulletins.iter().all(Vec::is_empty), "{real_bulletins:?}");
    }
    let drill_bulletin = wait_for("the drill's bulletin in Poland", async || {
        let b = list(&pl, "/api/v1/bulletins?box=in&exercise=true").await;
        (b.len() == 1).then_some(b)
    })
    .await;
    assert_eq!(drill_bulletin[0]["exercise"], true);

    // A scenario that names a node not running plays nothing.
    let bad = std::fs::read_to_string(&file).unwrap().replace(&pl.url, "http://127.0.0.1:9");
    std::fs::write(&file, bad).unwrap();
    let out = std::process::Command::new(util::limes_bin())
        .args(["exercise", "run", file.to_str().unwrap()])
        .env("LIMES_TOKEN_CZ", &cz.token)
        .env("LIMES_TOKEN_PL", &pl.token)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("node pl"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(list(&cz, "/api/v1/incidents?closed=true&exercise=true").await.len(), 1, "nothing more was raised");
}

/// Romania's border police (cameras at Siret, patrol units) and Ukraine's (a hotlist it
/// shares): Ukraine's entries go to Romania, Romania's alerts come back pseudonymised, the
/// reads behind them on request, and its patrol units' assignments cross.
async fn two_border_police_forces() -> (TestNode, TestNode) {
    use limes_agreement::Category::{Alerts, HotlistEntries, PatrolPositions, PlateReads};
    let (ro, ua) = (fed_node("ro-igpf", "RO"), fed_node("ua-dpsu", "UA"));
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    add_partner(&ro, &ua_anchor, "alert,released,patrol", "hotlist-entry");
    add_partner(&ua, &ro_anchor, "hotlist-entry", "alert,released,patrol");
    let mut agreement = agreement_of(
        [party_of(&ro_anchor), party_of(&ua_anchor)],
        &[
            ("ua-dpsu", "ro-igpf", HotlistEntries),
            ("ro-igpf", "ua-dpsu", Alerts),
            ("ro-igpf", "ua-dpsu", PlateReads),
            ("ro-igpf", "ua-dpsu", PatrolPositions),
        ],
    );
    agreement.flows[1].plates = limes_agreement::PlateRule::Pseudonymised;
    agreement.flows[2].mode = limes_agreement::Mode::OnRequest;
    agree(&ro, &ua, &agreement);
    let (s, v) = post(&ro, "/api/v1/cameras", util::camera_json("ro-siret-in", "RO")).await;
    assert!(s.is_success(), "{v}");
    let unit = json!({"id": "ro-igpf/SV-11", "callsign": "Siret 11", "kind": "car", "vehicle": "Dacia Duster, marked",
                      "crew": {"size": 2, "roles": ["commander", "driver"]}, "status": "available"});
    let (s, v) = post(&ro, "/api/v1/patrols/units", unit).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (ro, ua)
}

/// The issue's exercise steps over real nodes: a vehicle of interest is listed in Ukraine and
/// crosses into Romania, a Romanian unit is sent to the alert, Ukraine asks for the reads behind
/// the pseudonymised alert and Romania approves. The same plate is on Ukraine's real list too,
/// and a real camera reads it: the drill's read hits only the drill's entry, the real read only
/// the real one, the drill's request releases only the drill's read, and everything the drill
/// wrote on both nodes — entry, read, alerts, assignment, request — carries the mark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crossing_drill_marks_every_record_on_both_sides_and_never_touches_real_data() {
    let (ro, ua) = two_border_police_forces().await;
    let real_entry = json!([{"plate": "AA 1234 BB", "country": "UA", "reason": "stolen", "agency": "ua-dpsu"}]);
    let (s, v) = post(&ua, "/api/v1/hotlist", real_entry).await;
    assert!(s.is_success(), "{v}");
    wait_for("Ukraine's real entry in Romania", async || {
        let l = list(&ro, "/api/v1/hotlist/search?plate=AA1234BB&country=UA").await;
        (!l.is_empty()).then_some(())
    })
    .await;
    let r = ro.client().post(ro.at("/api/v1/reads")).json(&util::read_json("ro-siret-in", "AA1234BB", Some("UA")));
    let r = r.send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let scenario = format!(
        r#"
name = "Siret crossing drill"
[nodes.ro]
url = "{ro}"
token_env = "LIMES_TOKEN_RO"
person_token_env = "LIMES_SUPERVISOR_RO"
[nodes.ua]
url = "{ua}"
token_env = "LIMES_TOKEN_UA"
person_token_env = "LIMES_INVESTIGATOR_UA"

[[events]]
at = "0s"
node = "ua"
hotlist = {{ plate = "AA 1234 BB", country = "UA", reason = "stolen", priority = 1, note = "DRILL: Passat stolen in Chernivtsi" }}

[[events]]
at = "10s"
node = "ro"
read = {{ ref = "crossing", camera = "ro-siret-in", plate = "AA1234BB", country = "UA", confidence = 0.93, direction = "approaching" }}

[[events]]
at = "20s"
node = "ro"
assign = {{ unit = "ro-igpf/SV-11", alert = "crossing", note = "Stop it before Suceava" }}

[[events]]
at = "30s"
node = "ua"
request = {{ ref = "ask", alert = "crossing", purpose = "investigation", legal_basis = "{basis}", case = "EX-2026/7", justification = "Drill: where did it go?" }}

[[events]]
at = "40s"
node = "ro"
decide = {{ request = "ask", approve = true }}
"#,
        ro = ro.url,
        ua = ua.url,
        basis = util::TEST_LEGAL_BASIS,
    );
    let file = ro.dir.path().join("crossing.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = std::process::Command::new(util::limes_bin())
        .args(["exercise", "run", file.to_str().unwrap(), "--speed", "20"])
        .env("LIMES_TOKEN_RO", &ro.token)
        .env("LIMES_SUPERVISOR_RO", &ro.session)
        .env("LIMES_TOKEN_UA", &ua.token)
        .env("LIMES_INVESTIGATOR_UA", &ua.session)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("EXERCISE ").count(), 7, "a header, five events, a footer: {stdout}");

    // Romania: two entries for the plate (the real one and the drill's), two reads, two alerts,
    // each of the drill's marked and tied only to the drill's.
    let entries = list(&ro, "/api/v1/hotlist/search?plate=AA1234BB&country=UA").await;
    let marks: Vec<bool> = entries.iter().map(|e| e["entry"]["exercise"] == true).collect();
    assert_eq!(marks.iter().filter(|m| **m).count(), 1, "{entries:#?}");
    assert_eq!(marks.len(), 2, "{entries:#?}");
    let drill_entry = entries.iter().find(|e| e["entry"]["exercise"] == true).unwrap()["entry"]["id"].clone();
    let alerts = list(&ro, "/api/v1/alerts").await;
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    let (drill_alert, real_alert) = match alerts[0]["exercise"] == true {
        true => (&alerts[0], &alerts[1]),
        false => (&alerts[1], &alerts[0]),
    };
    assert_eq!(drill_alert["exercise"], true);
    assert_eq!(drill_alert["entry_id"], drill_entry, "the drill's read hit only the drill's entry");
    assert!(real_alert.get("exercise").is_none(), "{real_alert}");
    assert_ne!(real_alert["entry_id"], drill_entry, "the real read never hit the drill's entry");
    let read_of = async |id: &Value| -> Value {
        let r = ro.session_client().get(ro.at(&format!("/api/v1/reads/{id}"))).send().await.unwrap();
        r.json().await.unwrap()
    };
    let drill_read = read_of(&drill_alert["read_id"]).await;
    assert_eq!(drill_read["read"]["exercise"], true);
    assert!(read_of(&real_alert["read_id"]).await["read"].get("exercise").is_none());

    // Ukraine: both alerts, pseudonymised, the drill's marked.
    let got = wait_for("both alerts in Ukraine", async || {
        let a = list(&ua, "/api/v1/alerts").await;
        (a.len() == 2).then_some(a)
    })
    .await;
    assert_eq!(got.iter().filter(|a| a["exercise"] == true).count(), 1, "{got:#?}");
    assert!(got.iter().all(|a| a["origin"]["pseudonymised"] == true), "{got:#?}");

    // The assignment, marked on both sides.
    let assignments = list(&ro, "/api/v1/patrols/assignments").await;
    assert_eq!(assignments.len(), 1, "{assignments:#?}");
    assert_eq!(assignments[0]["exercise"], true);
    let at_ua = wait_for("the assignment in Ukraine", async || {
        let a = list(&ua, "/api/v1/patrols/assignments").await;
        (!a.is_empty()).then_some(a)
    })
    .await;
    assert_eq!(at_ua[0]["exercise"], true, "{at_ua:#?}");

    // The request, marked on both sides; what it released is the drill's read alone.
    let asked = list(&ua, "/api/v1/requests?direction=out").await;
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!(asked[0]["exercise"], true);
    let id = asked[0]["id"].as_str().unwrap().to_owned();
    let answered = list(&ro, "/api/v1/requests?direction=in").await;
    assert_eq!(answered[0]["exercise"], true, "{answered:#?}");
    let released = wait_for("the drill's reads released to Ukraine", async || {
        let r = ua
            .session_client()
            .get(ua.at(&format!("/api/v1/requests/out/ro-igpf/{id}")))
            .header("limes-purpose", "investigation")
            .header("limes-legal-basis", util::TEST_LEGAL_BASIS)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        v.get("released").cloned()
    })
    .await;
    let reads = released["reads"].as_array().unwrap();
    assert_eq!(reads.len(), 1, "only the drill's read: {released}");
    assert_eq!(reads[0]["plate"], "AA1234BB");
    assert_eq!(reads[0]["time"], drill_read["read"]["time"], "{released}");

    // A drill's assignment to real data is refused.
    let (s, v) = post(
        &ro,
        "/api/v1/patrols/assignments",
        json!({"unit": "ro-igpf/SV-11", "alert": real_alert["id"], "exercise": true}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["message"].as_str().unwrap().contains("is real"), "{v}");
}

/// Polish, Czech and Slovak police, each a partner of the other two for joint operations.
fn three_members() -> [TestNode; 3] {
    use limes_agreement::Category::JointOperations;
    let fast = |c: String| c.replace("check_every_seconds = 5", "check_every_seconds = 1");
    let nodes = [
        fed_node_edited("pl-policja", "PL", fast),
        fed_node_edited("cz-policie", "CZ", fast),
        fed_node_edited("sk-policia", "SK", fast),
    ];
    let anchors: Vec<_> = nodes.iter().map(export_anchor).collect();
    let agencies = ["pl-policja", "cz-policie", "sk-policia"];
    for (i, node) in nodes.iter().enumerate() {
        for (j, anchor) in anchors.iter().enumerate() {
            if i != j {
                add_partner(node, anchor, "operation", "operation");
            }
        }
    }
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        let a = agreement_of(
            [party_of(&anchors[i]), party_of(&anchors[j])],
            &[(agencies[i], agencies[j], JointOperations), (agencies[j], agencies[i], JointOperations)],
        );
        agree(&nodes[i], &nodes[j], &a);
    }
    nodes
}

async fn operation(node: &TestNode, id: &str) -> Option<Value> {
    let r = node.session_client().get(node.at(&format!("/api/v1/operations/{id}"))).send().await.unwrap();
    match r.status() {
        StatusCode::OK => Some(r.json().await.unwrap()),
        StatusCode::NOT_FOUND => None,
        s => panic!("{s}: {}", r.text().await.unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joint_operation_hit_alerts_every_member_and_closing_applies_the_retention() {
    let [pl, cz, sk] = three_members();
    let until = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let (status, op) = post(
        &pl,
        "/api/v1/operations",
        json!({"name": "Crystal: precursor shipments", "until": until, "members": ["cz-policie", "sk-policia"], "retention_days": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{op}");
    let id = op["id"].as_str().unwrap().to_owned();
    assert_eq!(op["members"], json!(["pl-policja", "cz-policie", "sk-policia"]));
    for node in [&cz, &sk] {
        wait_for("the operation at each member", async || operation(node, &id).await).await;
    }

    // The Czech police put a van on the operation's hotlist; a task for Slovakia.
    let (status, v) = post(
        &cz,
        &format!("/api/v1/operations/{id}/events"),
        json!({"change": "entry", "plate": "4a2 3456", "country": "CZ", "reason": "suspect", "note": "white Iveco"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert!(v["hotlist"]["4A23456"].is_object(), "normalised: {v}");
    let (status, v) = post(
        &pl,
        &format!("/api/v1/operations/{id}/events"),
        json!({"change": "task", "task": "t1", "title": "Check the Žilina warehouse", "assignee": "sk-policia"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    wait_for("the entry at Slovakia", async || {
        let o = operation(&sk, &id).await?;
        o["hotlist"]["4A23456"].is_object().then_some(())
    })
    .await;

    // A Slovak camera reads the van: every member sees the hit on its live stream.
    let live: Vec<_> = futures::future::join_all([&pl, &cz].map(|n| async move {
        n.session_client().get(n.at("/api/v1/operations/stream")).send().await.unwrap().bytes_stream()
    }))
    .await;
    let r =
        sk.client().post(sk.at("/api/v1/cameras")).json(&util::camera_json("sk-cadca-1", "SK")).send().await.unwrap();
    assert!(r.status().is_success());
    let r = sk
        .client()
        .post(sk.at("/api/v1/reads"))
        .json(&util::read_json("sk-cadca-1", "4A2 3456", Some("CZ")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    for mut stream in live {
        let mut text = String::new();
        tokio::time::timeout(Duration::from_secs(10), async {
            while !text.contains("sk-cadca-1") {
                text.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no hit on a member's stream within 10 s: {text}"));
    }
    let at_pl = operation(&pl, &id).await.unwrap();
    let hits = at_pl["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "{at_pl}");
    assert_eq!((hits[0]["plate"].as_str(), hits[0]["agency"].as_str()), (Some("4A23456"), Some("sk-policia")));
    // The Czech police add a document (a surveillance report; any bytes): every member gets the
    // file, checked against the digest the event names; a document event without its file is
    // refused, as is an empty file.
    let report: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let r = cz
        .session_client()
        .post(cz.at(&format!("/api/v1/operations/{id}/documents?name=surveillance%20report.pdf")))
        .header("content-type", "application/pdf")
        .body(report.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&report).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    for node in [&pl, &sk] {
        let got = wait_for("the document at each member", async || {
            let path = format!("/api/v1/operations/{id}/documents/{sha}");
            let r = node.session_client().get(node.at(&path)).send().await.unwrap();
            if r.status() != StatusCode::OK {
                return None;
            }
            assert_eq!(r.headers()["content-type"], "application/pdf");
            assert!(r.headers()["content-disposition"].to_str().unwrap().contains("surveillance report.pdf"));
            Some(r.bytes().await.unwrap())
        })
        .await;
        assert_eq!(got.as_ref(), report.as_slice());
    }
    let documents = &operation(&sk, &id).await.unwrap()["documents"];
    assert_eq!(documents[0]["sha256"].as_str(), Some(sha.as_str()), "{documents}");
    let r = pl
        .session_client()
        .get(pl.at(&format!("/api/v1/operations/{id}/documents/{}", "0".repeat(64))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "only what the operation names");
    let forged = json!({"change": "document", "name": "x.pdf", "media_type": "application/pdf", "sha256": "0".repeat(64), "bytes": 1});
    let (status, v) = post(&pl, &format!("/api/v1/operations/{id}/events"), forged).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let r = pl
        .session_client()
        .post(pl.at(&format!("/api/v1/operations/{id}/documents?name=empty.pdf")))
        .body(Vec::<u8>::new())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "an empty file");

    // Only the origin closes it.
    let (status, v) = post(&cz, &format!("/api/v1/operations/{id}/events"), json!({"change": "closed"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Poland closes it: the hotlist stops matching at once, and with a retention of 0 days the
    // operation is deleted on every member.
    let (status, v) = post(&pl, &format!("/api/v1/operations/{id}/events"), json!({"change": "closed"})).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    for node in [&pl, &cz, &sk] {
        wait_for("the operation deleted after its retention", async || {
            operation(node, &id).await.is_none().then_some(())
        })
        .await;
    }
    let r = sk
        .client()
        .post(sk.at("/api/v1/reads"))
        .json(&util::read_json("sk-cadca-1", "4A2 3456", Some("CZ")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(operation(&sk, &id).await.is_none(), "a closed operation records no more hits");

    // The document's file goes with the operation once it is old enough not to be an upload
    // in progress (made older here than the hour the node waits).
    let file = cz.dir.path().join("limes-data/attachments").join(&sha);
    assert!(file.exists(), "{} kept until swept", file.display());
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(old).unwrap();
    wait_for("the document's file swept", async || (!file.exists()).then_some(())).await;
}

/// Czech (origin) and Polish police, each notifying the other of incidents, the Czech issuing
/// bulletins to the Polish (plates pseudonymised). The Czech node escalates a high-severity
/// notification after 3 s.
fn two_police_forces() -> (TestNode, TestNode) {
    use limes_agreement::Category::{Bulletins, Incidents};
    let cz = fed_node_edited("cz-pcr", "CZ", |c| {
        c.replace("ack_seconds_high = 900", "ack_seconds_high = 3")
            .replace("check_every_seconds = 5", "check_every_seconds = 1")
            .replace("max_escalations = 3", "max_escalations = 2")
    });
    let pl = fed_node("pl-kgp", "PL");
    let (cz_anchor, pl_anchor) = (export_anchor(&cz), export_anchor(&pl));
    add_partner(&cz, &pl_anchor, "incident,bulletin", "incident");
    add_partner(&pl, &cz_anchor, "incident", "incident,bulletin");
    let mut agreement = agreement_of(
        [party_of(&cz_anchor), party_of(&pl_anchor)],
        &[("cz-pcr", "pl-kgp", Incidents), ("pl-kgp", "cz-pcr", Incidents), ("cz-pcr", "pl-kgp", Bulletins)],
    );
    agreement.flows[2].plates = limes_agreement::PlateRule::Pseudonymised;
    agree(&cz, &pl, &agreement);
    (cz, pl)
}

/// The two agencies' operations-centre pages in a real browser (`web/tests/cooperation.mjs`):
/// an incident raised on the Czech page is on the Polish board within 10 s, escalated on the
/// Czech page when not acknowledged in time, acknowledged and written to on the Polish page;
/// bulletins issued on the Czech page reach the Polish inbox under their handling codes, the
/// read comes back, and an H1 bulletin opened for prosecution is refused with a reason. Both
/// pages' incidents and bulletins views pass axe-core in both themes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_pages_an_incident_crosses_is_escalated_and_acknowledged_and_bulletins_reach_the_inbox() {
    let (cz, pl) = two_police_forces();
    let report = util::browser_test(
        "cooperation.mjs",
        &[
            ("LIMES_URL_ORIGIN", cz.url.trim_end_matches('/')),
            ("LIMES_URL_PARTNER", pl.url.trim_end_matches('/')),
            ("LIMES_ORIGIN", "cz-pcr"),
            ("LIMES_PARTNER", "pl-kgp"),
        ],
    )
    .await;
    assert!(report["incident_to_partner_ms"].as_u64().is_some_and(|ms| ms < 10_000), "{report}");
    for view in ["incidents_partner", "incidents_origin", "bulletins_partner", "bulletins_origin", "bulletins_denied"] {
        assert_eq!(report[format!("axe_{view}")], "0 violations (light, dark)", "{report}");
    }
    // What the pages did, as the API sees it on both sides: one timeline, escalated, then
    // acknowledged, with the Polish note.
    let (on_cz, on_pl) = (incident(&cz, "cz-pcr/1").await.unwrap(), incident(&pl, "cz-pcr/1").await.unwrap());
    assert_eq!(timeline(&on_cz), timeline(&on_pl), "one timeline on both sides");
    let notice = &on_cz["notified"]["pl-kgp"];
    assert!(notice["acknowledged"].is_string() && notice["escalations"].as_u64() >= Some(1), "{on_cz}");
    assert!(
        timeline(&on_cz).contains(&("pl-kgp".into(), "note".into(), "Two crews leaving Racibórz".into())),
        "{on_cz}"
    );
    // The Czech node has the Polish read of the H2 bulletin; the Polish node logged the refusal.
    let (status, h2) = bulletin(&cz, "cz-pcr/1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h2["reads"].as_array().unwrap().iter().any(|r| r["agency"] == "pl-kgp"), "{h2}");
    let records = util::audit_records(&pl, &["--object", "bulletin:cz-pcr/2"]);
    assert!(
        records.iter().any(|r| r["action"] == "denied" && r.to_string().contains("judicial proceedings")),
        "{records:#?}"
    );
}

/// The Romanian border police (origin) and the Ukrainian border guard, sharing incidents,
/// patrol units (positions every second), joint operations and bulletins both ways; each with
/// patrol units registered and placed around Porubne: the Romanian SV-12 3 km south, the
/// Ukrainian PB-3 1.5 km south (SV-11 reports on the page's watch, from the browser test).
async fn two_border_services() -> (TestNode, TestNode) {
    use limes_agreement::Category::{Bulletins, Incidents, JointOperations, PatrolPositions};
    // The models anonymise the pictures attached to incidents before they cross.
    let fast = |c: String| {
        c.replace("share_every_seconds = 15", "share_every_seconds = 1")
            + &format!("\n[analysis]\nmodels = \"{}\"\n", util::models())
    };
    let (ro, ua) = (fed_node_edited("ro-igpf", "RO", fast), fed_node_edited("ua-dpsu", "UA", fast));
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    let types = "incident,patrol,operation,bulletin";
    add_partner(&ro, &ua_anchor, types, types);
    add_partner(&ua, &ro_anchor, types, types);
    let mut flows = Vec::new();
    for category in [Incidents, PatrolPositions, JointOperations, Bulletins] {
        flows.extend([("ro-igpf", "ua-dpsu", category), ("ua-dpsu", "ro-igpf", category)]);
    }
    agree(&ro, &ua, &agreement_of([party_of(&ro_anchor), party_of(&ua_anchor)], &flows));
    let scene = (47.982, 26.066);
    for (node, id, kind, south_m) in [
        (&ro, "ro-igpf/SV-11", "car", None),
        (&ro, "ro-igpf/SV-12", "van", Some(3000.0)),
        (&ua, "ua-dpsu/PB-3", "car", Some(1500.0)),
    ] {
        let unit = json!({"id": id, "callsign": format!("Unit {}", &id[8..]), "kind": kind, "vehicle": "marked",
                          "crew": {"size": 2, "roles": ["commander", "driver"]}});
        let (status, v) = post(node, "/api/v1/patrols/units", unit).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        if let Some(m) = south_m {
            let fix = json!({"time": chrono::Utc::now() - chrono::Duration::seconds(1), "lat": scene.0 - m / 111_195.0, "lon": scene.1});
            let (status, v) = post(node, &format!("/api/v1/patrols/units/{id}/positions"), fix).await;
            assert_eq!(status, StatusCode::OK, "{v}");
        }
    }
    (ro, ua)
}

/// The patrols, operations, live bulletins and incidents of two agencies' pages in a real
/// browser (`web/tests/workspace.mjs`): a position reported through the API on the page's map
/// and table within seconds; units suggested nearest first, one sent from the page assigned at
/// the partner; an operation opened through the API live on the partner's page, a task written
/// there at the origin, marked done at the origin and done on the partner's open page; a
/// bulletin in the partner's open inbox without reloading it; an attachment downloaded and a
/// closed incident shown on request. Every new view passes axe-core in both themes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_pages_patrols_are_sent_operations_shared_and_the_inbox_is_live() {
    let (ro, ua) = two_border_services().await;
    let report = util::browser_test(
        "workspace.mjs",
        &[
            ("LIMES_URL_ORIGIN", ro.url.trim_end_matches('/')),
            ("LIMES_URL_PARTNER", ua.url.trim_end_matches('/')),
            ("LIMES_ORIGIN", "ro-igpf"),
            ("LIMES_PARTNER", "ua-dpsu"),
            ("LIMES_TOKEN_ORIGIN", &ro.token),
            ("LIMES_TOKEN_PARTNER", &ua.token),
        ],
    )
    .await;
    for (what, within_ms) in [
        ("position_to_page_ms", 5_000),
        ("assignment_to_partner_ms", 15_000),
        ("operation_to_partner_page_ms", 10_000),
        ("task_to_origin_ms", 15_000),
        ("bulletin_to_open_inbox_ms", 10_000),
    ] {
        assert!(report[what].as_u64().is_some_and(|ms| ms < within_ms), "{what}: {report}");
    }
    for view in [
        "patrols_origin",
        "patrols_partner",
        "operations_origin",
        "operations_partner",
        "bulletins_live",
        "incidents_attachment",
        "incidents_closed",
    ] {
        assert_eq!(report[format!("axe_{view}")], "0 violations (light, dark)", "{report}");
    }
    // What the pages did, as the API sees it on both sides.
    let (status, assignments) = {
        let r = ua.session_client().get(ua.at("/api/v1/patrols/assignments?incident=ua-dpsu/1")).send().await.unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assignments[0]["unit"], "ro-igpf/SV-11", "{assignments}");
    assert_eq!(assignments[0]["by"], "tester", "{assignments}");
    let (at_ro, at_ua) = (operation(&ro, "ro-igpf/1").await.unwrap(), operation(&ua, "ro-igpf/1").await.unwrap());
    assert_eq!(at_ro["tasks"], at_ua["tasks"], "one set of tasks on both sides");
    assert!(at_ro["tasks"][0]["done"].is_string(), "{at_ro}");
    assert_eq!(at_ro["hotlist"]["SV07ABC"]["added_by"], "ua-dpsu", "{at_ro}");
}
