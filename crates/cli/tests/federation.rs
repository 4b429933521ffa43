//! Federation between real `limes` processes over real mutual TLS: trust anchors exchanged
//! with the CLI, alerts crossing the border, a partner down and back, and every kind of bad
//! message refused, stored nowhere and audited.

mod util;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use limes_federation::{Batch, Draft, Envelope, MessageId, MessageType, StreamName};
use limes_model::AgencyId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use util::fed::*;
use util::{TestNode, audit_records, camera_json, limes_bin, read_json, wait_until};

async fn alerts(node: &TestNode) -> Vec<Value> {
    let v: Value =
        node.session_client().get(node.at("/api/v1/alerts?limit=1000")).send().await.unwrap().json().await.unwrap();
    v.as_array().unwrap().clone()
}

async fn setup_hotlist(node: &TestNode) {
    let c = node.client();
    let r = c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-siret-1", "RO")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let hotlist: Vec<Value> = (0..30)
        .map(|i| json!({"plate": format!("SV {:02} FED", i + 10), "country": "RO", "reason": "stolen", "agency": "ro-igpf"}))
        .collect();
    let r = c.post(node.at("/api/v1/hotlist")).json(&hotlist).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

async fn read(node: &TestNode, i: usize) {
    let r = node
        .client()
        .post(node.at("/api/v1/reads"))
        .json(&read_json("ro-siret-1", &format!("SV{:02}FED", i + 10), Some("RO")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_cross_the_border_once_in_order_even_when_the_partner_was_down() {
    let ro = fed_node("ro-igpf", "RO");
    let mut ua = fed_node("ua-dpsu", "UA");
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    // `trust show` prints what the other agency reads out on the phone.
    let shown = util::limes(&["trust", "show", ro_anchor.to_str().unwrap()]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!((shown["agency"].as_str(), shown["country"].as_str()), (Some("ro-igpf"), Some("RO")));
    add_partner(&ro, &ua_anchor, "alert", "");
    add_partner(&ua, &ro_anchor, "", "alert");
    agree(&ro, &ua, &alert_agreement([party_of(&ro_anchor), party_of(&ua_anchor)], &[("ro-igpf", "ua-dpsu")]));
    setup_hotlist(&ro).await;

    // The live stream on the Ukrainian node.
    let resp = ua.session_client().get(ua.at("/api/v1/alerts/stream")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut stream = resp.bytes_stream();
    read(&ro, 0).await;
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        use futures::StreamExt;
        while !text.contains("event: alert") || !text.ends_with("\n\n") {
            text.push_str(&String::from_utf8_lossy(&stream.next().await.unwrap().unwrap()));
        }
    })
    .await
    .expect("the alert reached the partner's live stream");
    let data = text.lines().find_map(|l| l.strip_prefix("data:")).unwrap();
    let alert: Value = serde_json::from_str(data.trim()).unwrap();
    assert_eq!(alert["origin"]["agency"], "ro-igpf", "{alert}");
    assert_eq!(alert["origin"]["country"], "RO");
    assert_eq!(alert["plate"], "SV10FED");
    assert!(alert["origin"]["camera_position"]["lat"].is_number());
    assert!(alert.get("read_id").is_none(), "a partner's alert has no read here: {alert}");
    // At access the agreement decides too: a purpose its alert flow does not name sees none.
    let for_purpose = |purpose: &str| {
        let url = ua.at(&format!("/api/v1/alerts?purpose={purpose}&legal_basis=UA%20Law%20580-VIII%20art.%2023"));
        let c = ua.session_client();
        async move { c.get(url).send().await.unwrap().json::<Vec<Value>>().await.unwrap() }
    };
    assert_eq!(for_purpose("investigation").await.len(), 1);
    assert!(for_purpose("execution_of_penalties").await.is_empty(), "the agreement names no such purpose for alerts");
    let id = alert["id"].as_i64().unwrap();
    let ack = |purpose: &'static str| {
        let c = ua.session_client();
        let url = ua.at(&format!("/api/v1/alerts/{id}/ack"));
        async move {
            c.post(url)
                .header("limes-purpose", purpose)
                .header("limes-legal-basis", "UA Law 580-VIII art. 23")
                .json(&json!({}))
                .send()
                .await
                .unwrap()
        }
    };
    let r = ack("execution_of_penalties").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "not there for that purpose: {}", r.text().await.unwrap());
    assert_eq!(ack("investigation").await.status(), StatusCode::OK);

    // The partner goes down; alerts queue on the sender.
    ua.kill9();
    for i in 1..21 {
        read(&ro, i).await;
    }
    let ro_admin = util::bearer_client(&ro.admin_token);
    let queued = || async {
        let p: Value = ro_admin.get(ro.at("/api/v1/partners")).send().await.unwrap().json().await.unwrap();
        p[0]["health"]["queued"].as_u64().unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while queued().await < 20 {
        assert!(std::time::Instant::now() < deadline, "alerts were not queued for the partner that is down");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let p: Value = ro_admin.get(ro.at("/api/v1/partners")).send().await.unwrap().json().await.unwrap();
    assert!(p[0]["health"]["last_error"].is_string(), "the link says why it is failing: {p}");

    // The sender dies too (kill -9): its queue is on disk.
    let ro = ro.restart();
    let ro_admin = util::bearer_client(&ro.admin_token);
    let queued = || async {
        let p: Value = ro_admin.get(ro.at("/api/v1/partners")).send().await.unwrap().json().await.unwrap();
        p[0]["health"]["queued"].as_u64().unwrap()
    };
    assert_eq!(queued().await, 20, "the queue survived the sender's restart");

    // Back up: every alert arrives, once, in the order it was raised.
    let ua = ua.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let got = loop {
        let got = alerts(&ua).await;
        if got.len() >= 21 {
            break got;
        }
        assert!(std::time::Instant::now() < deadline, "only {} of 21 alerts arrived", got.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if alerts(&ua).await.len() != got.len() { alerts(&ua).await } else { got };
    assert_eq!(got.len(), 21, "each message takes effect once");
    // Newest first here; the partner's ids must rise with ours.
    let origin_ids: Vec<i64> = got.iter().rev().map(|a| a["origin"]["alert_id"].as_i64().unwrap()).collect();
    let mut sorted = origin_ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(origin_ids, sorted, "in order, no duplicates");
    wait_until(Duration::from_secs(10), || {
        let rt = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| rt.block_on(queued())) == 0
    });

    // Both sides audited: a collect record per message received, a transfer per message sent.
    let collected = audit_records(&ua, &["--actor", "node:ro-igpf"]);
    assert_eq!(collected.iter().filter(|r| r["action"] == "collect").count(), 21, "{collected:#?}");
    let sent = audit_records(&ro, &["--actor", "node:ro-igpf"]);
    assert_eq!(sent.iter().filter(|r| r["action"] == "transfer").count(), 21);
    // A partner's alert is not passed on, and a partner that only receives sends nothing.
    let status: Value = util::bearer_client(&ua.admin_token)
        .get(ua.at("/api/v1/federation"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["sent"], 0, "{status}");
    // Counters are since the restart: the 20 alerts queued while it was down.
    assert_eq!((status["received"].as_u64(), status["partner_alerts"].as_u64()), (Some(20), Some(20)), "{status}");

    // A data subject's erasure on the Ukrainian node: its copy of the Romanian alert goes, and
    // a signed deletion receipt goes back to Romania, which logs it; nothing is owed any more
    // for that alert.
    let r = ua
        .session_client()
        .delete(ua.at("/api/v1/subject/plates/SV10FED?country=RO"))
        .header("limes-purpose", "data_subject_request")
        .header("limes-legal-basis", "UA Law 2297-VI art. 8")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let erased: Value = r.json().await.unwrap();
    assert_eq!(erased["partner_alerts"], 1, "{erased}");
    let ro_status = || async {
        util::bearer_client(&ro.admin_token)
            .get(ro.at("/api/v1/federation"))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = ro_status().await;
        if status["deletion_receipts"]["received"] == 1 {
            assert_eq!(status["deletion_receipts"]["awaited"], 20, "{status}");
            assert_eq!(status["deletion_receipts"]["overdue"], 0, "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no deletion receipt reached the origin: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let receipts: Vec<Value> = audit_records(&ro, &["--actor", "node:ua-dpsu"])
        .into_iter()
        .filter(|r| r["action"] == "erase" && r["object"].as_str().unwrap_or("").starts_with("deletion-receipt"))
        .collect();
    assert_eq!(receipts.len(), 1, "the origin logs the receipt: {receipts:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_the_agreement_wants_plates_pseudonymised_alerts_cross_with_pseudonyms() {
    let ro = fed_node("ro-igpf", "RO");
    let ua = fed_node("ua-dpsu", "UA");
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    add_partner(&ro, &ua_anchor, "alert,released", "");
    add_partner(&ua, &ro_anchor, "", "alert,released");
    // Alerts pseudonymised; the plate reads behind a pseudonym on request (as RO-RS).
    let mut agreement = agreement_of(
        [party_of(&ro_anchor), party_of(&ua_anchor)],
        &[
            ("ro-igpf", "ua-dpsu", limes_agreement::Category::Alerts),
            ("ro-igpf", "ua-dpsu", limes_agreement::Category::PlateReads),
        ],
    );
    agreement.flows[0].plates = limes_agreement::PlateRule::Pseudonymised;
    agreement.flows[1].mode = limes_agreement::Mode::OnRequest;
    agree(&ro, &ua, &agreement);
    setup_hotlist(&ro).await;
    for i in 0..3 {
        read(&ro, i).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let got = loop {
        let got = alerts(&ua).await;
        if got.len() >= 3 {
            break got;
        }
        assert!(std::time::Instant::now() < deadline, "only {} of 3 alerts arrived", got.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let real = ["SV10FED", "SV11FED", "SV12FED"];
    let mut pseudonyms = BTreeSet::new();
    for a in &got {
        let plate = a["plate"].as_str().unwrap();
        assert_eq!(a["origin"]["pseudonymised"], true, "{a}");
        assert_eq!(a["read_text"], "", "no read text travels with a pseudonym: {a}");
        assert!(!real.contains(&plate), "the plate itself never crossed: {a}");
        assert!(
            plate.len() == 12 && plate.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
            "{plate}"
        );
        pseudonyms.insert(plate.to_owned());
    }
    assert_eq!(pseudonyms.len(), 3, "one pseudonym per plate: {pseudonyms:?}");
    // The Romanian node kept its own alerts in clear.
    let own: BTreeSet<String> = alerts(&ro).await.iter().map(|a| a["plate"].as_str().unwrap().to_owned()).collect();
    assert_eq!(own, real.iter().map(|p| p.to_string()).collect());

    // The Ukrainian investigator asks for the reads behind one pseudonym; a Romanian
    // supervisor approves; the plate comes in clear, with the reads of that vehicle alone.
    let pseudonym = got.iter().find(|a| a["origin"]["alert_id"] == 1).unwrap()["plate"].as_str().unwrap().to_owned();
    let r = ua
        .session_client()
        .post(ua.at("/api/v1/requests"))
        .header("limes-purpose", "investigation")
        .header("limes-legal-basis", util::TEST_LEGAL_BASIS)
        .header("limes-case", "UA-2026/77")
        .json(&json!({"partner": "ro-igpf", "reference": pseudonym, "justification": "seen near a burglary"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let decide = ro.session_client().post(ro.at(&format!("/api/v1/requests/in/ua-dpsu/{id}/decision")));
    wait_for("the request on the Romanian node, approved", async || {
        let r = decide.try_clone().unwrap().json(&json!({"approve": true})).send().await.unwrap();
        (r.status() == StatusCode::OK).then_some(())
    })
    .await;
    let released = wait_for("the released reads", async || {
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
    let plates: Vec<&str> =
        released["reads"].as_array().unwrap().iter().map(|r| r["plate"].as_str().unwrap()).collect();
    assert_eq!(plates, ["SV10FED"], "the first alert's vehicle, in clear, and no other: {released}");
}

/// The hotlist entries `node` holds, as its API lists them.
async fn hotlist_of(node: &TestNode) -> Vec<Value> {
    let r = node.client().get(node.at("/api/v1/hotlist")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partners_hotlist_matches_reads_here_and_a_hit_alerts_both_sides_and_no_third_agency() {
    use limes_agreement::Category;
    // Romania shares its hotlist with Ukraine; Ukraine also shares alerts with Hungary.
    let (ro, ua, hu) = (fed_node("ro-igpf", "RO"), fed_node("ua-dpsu", "UA"), fed_node("hu-police", "HU"));
    let (ro_anchor, ua_anchor, hu_anchor) = (export_anchor(&ro), export_anchor(&ua), export_anchor(&hu));
    add_partner(&ro, &ua_anchor, "hotlist-entry", "alert");
    add_partner(&ua, &ro_anchor, "alert", "hotlist-entry");
    add_partner(&ua, &hu_anchor, "alert", "");
    add_partner(&hu, &ua_anchor, "", "alert");
    let ro_ua = agreement_of(
        [party_of(&ro_anchor), party_of(&ua_anchor)],
        &[("ro-igpf", "ua-dpsu", Category::HotlistEntries), ("ua-dpsu", "ro-igpf", Category::Alerts)],
    );
    agree(&ro, &ua, &ro_ua);
    agree(&ua, &hu, &alert_agreement([party_of(&ua_anchor), party_of(&hu_anchor)], &[("ua-dpsu", "hu-police")]));

    let entries = json!([
        {"plate": "SV 10 FED", "country": "RO", "reason": "stolen", "agency": "ro-igpf", "note": "grey Dacia"},
        {"plate": "SV 11 FED", "country": "RO", "reason": "wanted", "agency": "ro-igpf"},
    ]);
    let r = ro.client().post(ro.at("/api/v1/hotlist")).json(&entries).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let ro_ids: Vec<u64> = serde_json::from_value(r.json::<Value>().await.unwrap()["ids"].clone()).unwrap();

    // Both entries reach the Ukrainian hotlist, in clear, as Romania's.
    let held = wait_for("Romania's entries on the Ukrainian node", async || {
        let h = hotlist_of(&ua).await;
        (h.len() == 2).then_some(h)
    })
    .await;
    let plates: BTreeSet<&str> = held.iter().map(|e| e["plate"].as_str().unwrap()).collect();
    assert_eq!(plates, BTreeSet::from(["SV10FED", "SV11FED"]), "{held:#?}");
    assert!(held.iter().all(|e| e["agency"] == "ro-igpf" && e["shared_by"]["partner"] == "ro-igpf"), "{held:#?}");
    let partner_ids: BTreeSet<u64> = held.iter().map(|e| e["shared_by"]["partner_id"].as_u64().unwrap()).collect();
    assert_eq!(partner_ids, ro_ids.iter().copied().collect(), "each names Romania's own id");
    assert_eq!(held.iter().find(|e| e["plate"] == "SV10FED").unwrap()["note"], "grey Dacia");
    // Hungary gets none of them: the agreement with it names no hotlist entries, and Romania's
    // are not Ukraine's to pass on.
    assert!(hotlist_of(&hu).await.is_empty());

    // A Ukrainian camera reads the Romanian plate: an alert on both sides.
    let c = ua.client();
    let r = c.post(ua.at("/api/v1/cameras")).json(&camera_json("ua-porubne-1", "UA")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let ua_read = |plate: &'static str, country: &'static str| {
        let (c, url) = (ua.client(), ua.at("/api/v1/reads"));
        async move {
            let r = c.post(url).json(&read_json("ua-porubne-1", plate, Some(country))).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        }
    };
    ua_read("SV10FED", "RO").await;
    let here = alerts(&ua).await;
    assert_eq!(here.len(), 1, "{here:#?}");
    assert_eq!((here[0]["plate"].as_str(), here[0]["agency"].as_str()), (Some("SV10FED"), Some("ro-igpf")));
    assert!(here[0].get("origin").is_none(), "the hit is Ukraine's own: {}", here[0]);
    let there = wait_for("the hit at the owner", async || {
        let a = alerts(&ro).await;
        (!a.is_empty()).then_some(a)
    })
    .await;
    assert_eq!(there.len(), 1, "{there:#?}");
    assert_eq!(there[0]["origin"]["agency"], "ua-dpsu", "{}", there[0]);
    assert_eq!(there[0]["entry_id"].as_u64(), Some(ro_ids[0]), "the owner's own entry is named: {}", there[0]);
    assert_eq!(there[0]["plate"], "SV10FED");

    // Ukraine's own hotlist hits do go to Hungary; the hit on Romania's entry never does.
    let r = c
        .post(ua.at("/api/v1/hotlist"))
        .json(&json!([{"plate": "AA 1234 BB", "country": "UA", "reason": "stolen", "agency": "ua-dpsu"}]))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    ua_read("AA1234BB", "UA").await;
    let at_hu = wait_for("Ukraine's own alert in Hungary", async || {
        let a = alerts(&hu).await;
        (!a.is_empty()).then_some(a)
    })
    .await;
    // Alerts cross in the order they were raised: had the first gone, it would be here.
    let plates: Vec<&str> = at_hu.iter().map(|a| a["plate"].as_str().unwrap()).collect();
    assert_eq!(plates, ["AA1234BB"], "{at_hu:#?}");
    // Nor does Ukraine's own entry go to Romania: the agreement names hotlist entries one way.
    let ro_list = hotlist_of(&ro).await;
    assert_eq!(ro_list.len(), 2);
    assert!(ro_list.iter().all(|e| e.get("shared_by").is_none()), "Romania's own: {ro_list:#?}");

    // Romania changes an entry in place: Ukraine's copy follows within seconds; Ukraine may not
    // change Romania's entry itself.
    let change = json!({"reason": "wanted", "priority": 1, "note": "now armed: do not stop alone"});
    let r = ro.client().put(ro.at(&format!("/api/v1/hotlist/{}", ro_ids[1]))).json(&change).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let copy = wait_for("the change on the Ukrainian node", async || {
        hotlist_of(&ua).await.into_iter().find(|e| e["plate"] == "SV11FED" && e["priority"] == 1)
    })
    .await;
    assert_eq!(copy["note"], "now armed: do not stop alone", "{copy}");
    assert_eq!(copy["shared_by"]["partner_id"].as_u64(), Some(ro_ids[1]), "the same entry, changed: {copy}");
    let theirs = copy["id"].as_u64().unwrap();
    let r = ua.client().put(ua.at(&format!("/api/v1/hotlist/{theirs}"))).json(&change).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("ro-igpf"), "it names the owner");

    // Romania takes an entry off its list: it goes from Ukraine's, and no longer alerts.
    let r = ro.client().delete(ro.at(&format!("/api/v1/hotlist/{}", ro_ids[0]))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    wait_for("the removal on the Ukrainian node", async || {
        (!hotlist_of(&ua).await.iter().any(|e| e["plate"] == "SV10FED")).then_some(())
    })
    .await;
    ua_read("SV10FED", "RO").await;
    let count = |plate: &'static str| {
        let ua = &ua;
        async move { alerts(ua).await.iter().filter(|a| a["plate"] == plate).count() }
    };
    assert_eq!(count("SV10FED").await, 1, "a removed entry raises nothing");

    // The agreement is revoked on the Ukrainian side: Romania's entry, still held, is not used.
    let out = admin(&ua, &["agreement", "revoke", &ro_ua.id, "--reason", "the treaty was suspended"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ua_read("SV11FED", "RO").await;
    assert_eq!(count("SV11FED").await, 0, "no agreement, no use of the partner's entry");

    // Both sides logged the entries' transfer and collection.
    let sent = audit_records(&ro, &["--actor", "node:ro-igpf"]);
    let shared: Vec<&str> = sent
        .iter()
        .filter(|r| r["action"] == "transfer" && r["details"]["type"] == "hotlist-entry")
        .map(|r| r["details"]["about"].as_str().unwrap())
        .collect();
    let (first, second) = (format!("hotlist:{}", ro_ids[0]), format!("hotlist:{}", ro_ids[1]));
    assert_eq!(
        shared,
        [&first, &second, &second, &first],
        "two entries, the second's change, then the first's removal, each once: {sent:#?}"
    );
    let collected = audit_records(&ua, &["--actor", "node:ro-igpf"]);
    assert_eq!(collected.iter().filter(|r| r["action"] == "collect").count(), 4, "{collected:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_five_percent_loss_each_way_and_a_proxy_that_delays_and_cuts_every_alert_arrives_once_in_order() {
    // Two network namespaces losing 5 % of the packets arriving in each, from each other and
    // from the root namespace, where a proxy between them adds 20 ms each way and cuts
    // connections at random (and refuses them for a while).
    let mut lab = limes_netlab::Lab::new().expect("a network lab: these tests run as root (scripts/test)");
    let (ns_ro, ns_ua) = (lab.add_namespace("ro").unwrap(), lab.add_namespace("ua").unwrap());
    let loss = limes_netlab::Loss::percent(5.0).unwrap();
    lab.set_loss(loss).expect("packet loss (nftables)");
    ns_ro.set_loss_from(limes_netlab::Peer::Root, loss).unwrap();
    ns_ua.set_loss_from(limes_netlab::Peer::Root, loss).unwrap();
    let ua_port = ns_ua.run(free_port).unwrap();
    let proxy = limes_netlab::FaultProxy::start_on(
        std::net::SocketAddr::new(lab.root_addr().into(), 0),
        std::net::SocketAddr::new(ns_ua.addr().into(), ua_port),
    )
    .unwrap();
    proxy.set_latency(limes_netlab::Latency::symmetric(Duration::from_millis(20)));
    proxy.set_random_cuts(Some(limes_netlab::RandomCuts::lifetime_up_to(Duration::from_millis(1500))));
    let ro_port = ns_ro.run(free_port).unwrap();
    let ro = fed_node_in("ro-igpf", "RO", Some(&ns_ro), ro_port, None);
    let ua = fed_node_in("ua-dpsu", "UA", Some(&ns_ua), ua_port, Some(format!("https://{}", proxy.local_addr())));
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    add_partner(&ro, &ua_anchor, "alert", "");
    add_partner(&ua, &ro_anchor, "", "alert");
    agree(&ro, &ua, &alert_agreement([party_of(&ro_anchor), party_of(&ua_anchor)], &[("ro-igpf", "ua-dpsu")]));
    setup_hotlist(&ro).await;

    for round in 0..6 {
        for i in 0..5 {
            read(&ro, round * 5 + i).await;
        }
        match round {
            1 => proxy.cut_all(),
            2 => proxy.set_mode(limes_netlab::Mode::Refuse).unwrap(),
            3 => proxy.set_mode(limes_netlab::Mode::Up).unwrap(),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let got = loop {
        let got = alerts(&ua).await;
        if got.len() >= 30 {
            break got;
        }
        assert!(std::time::Instant::now() < deadline, "only {} of 30 alerts arrived", got.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(got.len(), 30);
    let origin_ids: Vec<i64> = got.iter().rev().map(|a| a["origin"]["alert_id"].as_i64().unwrap()).collect();
    let mut sorted = origin_ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(origin_ids, sorted, "in order, each once");
    assert!(proxy.stats().cut > 0, "the proxy cut connections: {:?}", proxy.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_more_for_that_partner_and_loses_nothing_it_took() {
    // Backpressure: a partner down for long fills its queue up to its limit; beyond, alerts
    // are still raised and kept here, but not queued for it (and the node says so).
    let ro = {
        let node = fed_node("ro-igpf", "RO");
        let config = std::fs::read_to_string(&node.config).unwrap();
        std::fs::write(&node.config, config.replace("max_queued_per_partner = 1000000", "max_queued_per_partner = 5"))
            .unwrap();
        node.restart()
    };
    let mut ua = fed_node("ua-dpsu", "UA");
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    add_partner(&ro, &ua_anchor, "alert", "");
    add_partner(&ua, &ro_anchor, "", "alert");
    agree(&ro, &ua, &alert_agreement([party_of(&ro_anchor), party_of(&ua_anchor)], &[("ro-igpf", "ua-dpsu")]));
    setup_hotlist(&ro).await;
    ua.kill9();
    for i in 0..8 {
        read(&ro, i).await;
    }
    let ro_admin = util::bearer_client(&ro.admin_token);
    let partners =
        || async { ro_admin.get(ro.at("/api/v1/partners")).send().await.unwrap().json::<Value>().await.unwrap() };
    // Alerts are raised after each read is taken, so the eighth may come well after the fifth
    // filled the queue: wait for all eight (a liveness bound), then check what was queued.
    let status =
        || async { ro_admin.get(ro.at("/api/v1/federation")).send().await.unwrap().json::<Value>().await.unwrap() };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while alerts(&ro).await.len() < 8 || status().await["not_queued"] != 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "not every alert was raised, or the node did not count what it could not queue: {} alerts, {}, {}",
            alerts(&ro).await.len(),
            status().await,
            partners().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(partners().await[0]["health"]["queued"], 5, "the limit holds: {}", partners().await);
    assert_eq!(alerts(&ro).await.len(), 8, "every alert is raised and kept here");
    assert_eq!(status().await["not_queued"], 3, "the node counts what it could not queue");
    let ua = ua.restart();
    // A liveness bound: the sender may be in its longest back-off (30 s) when the partner
    // returns, and the partner holds data until a cosigned checkpoint comes.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while alerts(&ua).await.len() < 5 {
        assert!(std::time::Instant::now() < deadline, "the queued alerts did not arrive: {}", partners().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = alerts(&ua).await;
    assert_eq!(got.len(), 5, "what was queued arrives, once");
}

/// A test-side partner: its own identity and audit log, and a client pinned to the node's
/// certificate.
struct FakePartner {
    identity: limes_link::Identity,
    agency: AgencyId,
    audit: limes_audit::AuditLog,
    _dir: tempfile::TempDir,
}

impl FakePartner {
    fn new(agency: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (identity, _) = limes_link::Identity::load_or_create(dir.path(), agency, &["127.0.0.1".into()]).unwrap();
        let origin = format!("limes/{agency}/audit");
        let audit =
            limes_audit::AuditLog::open(&dir.path().join("audit"), limes_audit::AuditOptions::new(origin)).unwrap();
        Self { identity, agency: AgencyId::new(agency).unwrap(), audit, _dir: dir }
    }

    /// Its audit log's newest checkpoint, cosigned by the node at `base` (its partners' port)
    /// as its witness: what its batches carry for the node to take their messages.
    async fn cosigned_checkpoint(&self, client: &reqwest::Client, base: &str) -> limes_federation::BatchCheckpoint {
        let event = limes_audit::AuditEvent {
            actor: limes_audit::Actor::Node(self.agency.to_string()),
            role: "node".into(),
            action: limes_audit::Action::Alter,
            object: limes_audit::Object::new("test", "start"),
            purpose: "detection".into(),
            legal_basis: "a test".into(),
            case_ref: None,
            outcome: limes_audit::Outcome::Allowed,
            details: limes_audit::Details::none(),
        };
        self.audit.append(event).await.unwrap();
        let signed = tokio::task::block_in_place(|| self.audit.checkpoint_now()).unwrap().unwrap();
        let note = self.audit.verifier_key().note(&signed);
        let r = client
            .post(format!("{base}/federation/v1/witness/add-checkpoint"))
            .body(format!("old 0\n\n{note}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let line = r.text().await.unwrap();
        limes_federation::BatchCheckpoint { note: format!("{note}{line}"), proof: None }
    }

    fn anchor_file(&self, dir: &Path) -> std::path::PathBuf {
        let anchor = self
            .identity
            .anchor(limes_federation::AnchorFields {
                agency: self.agency.clone(),
                name: "Straż Graniczna".into(),
                country: limes_plate::CountryCode::PL,
                regime: limes_access::Regime::Led,
                url: "https://127.0.0.1:9".into(),
                certificate_pem: String::new(),
                audit_key: Some(self.audit.verifier_key().to_string()),
            })
            .unwrap();
        let path = dir.join(format!("{}.json", self.agency));
        std::fs::write(&path, serde_json::to_string(&anchor).unwrap()).unwrap();
        path
    }

    fn client(&self, node_fingerprint: limes_federation::Fingerprint) -> reqwest::Client {
        let tls = limes_link::tls::client_config(&self.identity, node_fingerprint).unwrap();
        // A liveness bound: a request the node never answers fails the test, with its place,
        // instead of hanging it (seen once under load, not reproduced).
        reqwest::Client::builder().tls_backend_preconfigured(tls).timeout(Duration::from_secs(60)).build().unwrap()
    }

    /// A message with the labels of an alert the test agreement allows.
    fn envelope(&self, to: &AgencyId, kind: &str, seq: u64, payload: Vec<u8>) -> Envelope {
        self.labelled(to, kind, seq, payload, Some(alert_labels("pl-sg", "detection")))
    }

    fn labelled(&self, to: &AgencyId, kind: &str, seq: u64, payload: Vec<u8>, labels: Option<String>) -> Envelope {
        Envelope::seal(
            Draft {
                id: MessageId::random().unwrap(),
                sender: self.agency.clone(),
                recipient: to.clone(),
                kind: MessageType::new(kind).unwrap(),
                stream: StreamName::new("alerts~test").unwrap(),
                seq,
                created_at: Utc::now(),
                labels,
                payload,
            },
            &self.identity.key,
        )
    }
}

/// The labels of an alert from `origin` with its plate in clear and no image.
fn alert_labels(origin: &str, purpose: &str) -> String {
    json!({
        "category": "alerts", "origin": origin, "purpose": purpose,
        "plates": "clear", "images": "none", "shape": "full"
    })
    .to_string()
}

fn shared_alert(plate: &str, id: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "alert_id": id, "kind": "confirmed", "distance": 0, "plate": plate, "read_text": plate,
        "camera": "pl-cam-1", "country": "PL", "time": Utc::now(), "created": Utc::now(),
        "reason": "stolen", "priority": 1, "agency": "pl-sg"
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_unknown_replayed_misaddressed_skewed_and_oversized_messages_are_refused_stored_nowhere_and_audited() {
    let ua = fed_node("ua-dpsu", "UA");
    let ua_agency = AgencyId::new("ua-dpsu").unwrap();
    let pl = FakePartner::new("pl-sg");
    let pl_anchor = pl.anchor_file(ua.dir.path());
    add_partner(&ua, &pl_anchor, "", "alert");
    // The agreement: Polish alerts to Ukraine. The Polish side signs with its key here, the
    // Ukrainian node with `limes agreement sign`; only the node puts it in force.
    let mut agreement = {
        let pl_party = limes_agreement::Party {
            agency: "pl-sg".into(),
            name: "Straż Graniczna".into(),
            country: "PL".into(),
            regime: limes_agreement::Regime::Led,
            law: "Act of 14 December 2018".into(),
            key: pl.identity.key.public(),
        };
        alert_agreement([pl_party, party_of(&export_anchor(&ua))], &[("pl-sg", "ua-dpsu")])
    };
    let in_force = |agreement: &mut limes_agreement::Agreement| {
        limes_agreement::sign::sign(agreement, "pl-sg", &pl.identity.key).unwrap();
        let file = ua.dir.path().join("pl-ua.toml");
        std::fs::write(&file, agreement.to_toml()).unwrap();
        let out = util::limes(&["agreement", "sign", file.to_str().unwrap(), "--config", ua.config.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = admin(&ua, &["agreement", "add", file.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    in_force(&mut agreement);
    // An incoherent agreement (a transfer to a third country without a basis) is refused,
    // even signed by both, and the one in force stays.
    let mut incoherent = agreement.clone();
    incoherent.id = "TEST/incoherent".into();
    incoherent.flows[0].transfer = None;
    incoherent.signatures.clear();
    limes_agreement::sign::sign(&mut incoherent, "pl-sg", &pl.identity.key).unwrap();
    let file = ua.dir.path().join("incoherent.toml");
    std::fs::write(&file, incoherent.to_toml()).unwrap();
    let out = util::limes(&["agreement", "sign", file.to_str().unwrap(), "--config", ua.config.to_str().unwrap()]);
    assert!(out.status.success(), "signing checks signatures, not coherence: {}", String::from_utf8_lossy(&out.stderr));
    let out = admin(&ua, &["agreement", "add", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a basis"), "{}", String::from_utf8_lossy(&out.stderr));
    let anchor = limes_federation::TrustAnchor::clone(&{
        let text = std::fs::read_to_string(export_anchor(&ua)).unwrap();
        toml::from_str::<limes_federation::TrustAnchor>(&text).unwrap()
    });
    let ua_fp = anchor.clone().verify().unwrap().fingerprint;
    let port = anchor.url.rsplit(':').next().unwrap().to_owned();
    let url = format!("https://127.0.0.1:{port}/federation/v1/batches");
    let client = pl.client(ua_fp);
    let post = |batch: &Batch| {
        let body = serde_json::to_vec(batch).unwrap();
        let c = client.clone();
        let url = url.clone();
        async move {
            let r = c.post(&url).header("content-type", "application/json").body(body).send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    // pl's audit log, witnessed by ua: its messages are taken under that checkpoint.
    let checkpoint = pl.cosigned_checkpoint(&client, &format!("https://127.0.0.1:{port}")).await;
    let batch = |envelopes: Vec<Envelope>| {
        Batch::seal_with_checkpoint(
            pl.agency.clone(),
            ua_agency.clone(),
            Utc::now(),
            Some(checkpoint.clone()),
            envelopes,
            &pl.identity.key,
        )
    };

    // A good message: accepted, and it takes effect.
    let good = pl.envelope(&ua_agency, "alert", 1, shared_alert("WPL1234", 1));
    let (status, receipt) = post(&batch(vec![good.clone()])).await;
    assert_eq!(status, StatusCode::OK, "{receipt}");
    assert_eq!(receipt["outcomes"][0]["status"], "accepted", "{receipt}");

    // The same message again (a replay, or a sender that never got the receipt): acknowledged
    // as a duplicate, no second effect. The same id under another place: refused.
    let (_, receipt) = post(&batch(vec![good.clone()])).await;
    assert_eq!(receipt["outcomes"][0]["status"], "duplicate", "{receipt}");
    let mut moved = pl.envelope(&ua_agency, "alert", 2, shared_alert("WPL1234", 1));
    moved.id = good.id;
    let moved = Envelope::seal(
        Draft {
            id: good.id,
            sender: moved.sender,
            recipient: moved.recipient,
            kind: moved.kind,
            stream: moved.stream,
            seq: 2,
            created_at: moved.created_at,
            labels: moved.labels,
            payload: moved.payload,
        },
        &pl.identity.key,
    );
    let (_, receipt) = post(&batch(vec![moved])).await;
    assert_eq!(receipt["outcomes"][0]["status"], "rejected", "{receipt}");
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "replayed", "{receipt}");

    // Signed with a key that is not the partner's.
    let forger = limes_federation::AgencyKey::generate().unwrap();
    let forged = Batch::seal(
        pl.agency.clone(),
        ua_agency.clone(),
        Utc::now(),
        vec![pl.envelope(&ua_agency, "alert", 3, shared_alert("WPL6666", 3))],
        &forger,
    );
    let (status, body) = post(&forged).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("bad_signature")), "{body}");
    let mut forged_env = pl.envelope(&ua_agency, "alert", 3, shared_alert("WPL6666", 3));
    forged_env.signature = forger.sign(b"x");
    let (_, receipt) = post(&batch(vec![forged_env])).await;
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "bad_signature", "{receipt}");

    // For someone else.
    let other = Batch::seal(pl.agency.clone(), AgencyId::new("rs-mup").unwrap(), Utc::now(), vec![], &pl.identity.key);
    let (status, body) = post(&other).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_recipient")), "{body}");

    // A clock ten minutes fast.
    let skewed = Batch::seal(
        pl.agency.clone(),
        ua_agency.clone(),
        Utc::now() + chrono::Duration::minutes(10),
        vec![pl.envelope(&ua_agency, "alert", 3, shared_alert("WPL7777", 3))],
        &pl.identity.key,
    );
    let (status, body) = post(&skewed).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("clock_skew")), "{body}");
    assert!(body["error"].as_str().unwrap().contains("ahead"), "{body}");

    // Too large, and a type the partner entry does not list.
    let big = pl.envelope(&ua_agency, "alert", 3, vec![b'x'; 2 << 20]);
    let (_, receipt) = post(&batch(vec![big])).await;
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "oversized", "{receipt}");
    let bulletin = pl.envelope(&ua_agency, "bulletin", 4, b"{}".to_vec());
    let (_, receipt) = post(&batch(vec![bulletin])).await;
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "type_not_accepted", "{receipt}");

    // Not JSON of a batch.
    let r = client.post(&url).body("{\"envelopes\": 5").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "malformed");

    // A certificate no partner has: refused at the handshake.
    let stranger = FakePartner::new("xx-unknown");
    let err = stranger.client(ua_fp).post(&url).body("{}").send().await.expect_err("handshake refused");
    assert!(err.is_connect() || err.is_request(), "{err:?}");

    // What the agreement does not allow: no labels, a purpose it does not name, a category it
    // has no flow of, a third party's data passed on.
    for (labels, why) in [
        (None, "needs labels"),
        (Some(alert_labels("pl-sg", "marketing")), "purposes"),
        (Some(alert_labels("pl-sg", "detection").replace("\"alerts\"", "\"plate-reads\"")), "lets no plate reads"),
        (Some(alert_labels("de-bpol", "detection")), "onward"),
    ] {
        let env = pl.labelled(&ua_agency, "alert", 2, shared_alert("WPL8888", 8), labels);
        let (_, receipt) = post(&batch(vec![env])).await;
        assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "not_agreed", "{receipt}");
        let error = receipt["outcomes"][0]["refusal"]["error"].as_str().unwrap();
        assert!(error.contains(why), "{why}: {error}");
    }
    // Labels that are not labels.
    let env = pl.labelled(&ua_agency, "alert", 2, shared_alert("WPL8888", 8), Some("{\"category\": 5}".into()));
    let (_, receipt) = post(&batch(vec![env])).await;
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "malformed", "{receipt}");

    // Only the good message took effect.
    let got = alerts(&ua).await;
    let plates: BTreeSet<&str> = got.iter().map(|a| a["plate"].as_str().unwrap()).collect();
    assert_eq!(plates, BTreeSet::from(["WPL1234"]), "{got:#?}");
    assert_eq!(got.len(), 1);

    // Every refusal is in the audit log, with its reason.
    let denied: Vec<Value> = audit_records(&ua, &[])
        .into_iter()
        .filter(|r| r["action"] == "denied" && r["actor"].as_str().unwrap_or("").starts_with("node:"))
        .collect();
    let details = |r: &Value| match &r["details"] {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    let codes: BTreeSet<String> =
        denied.iter().map(|r| details(r)["code"].as_str().unwrap_or("handshake").to_owned()).collect();
    for code in [
        "replayed",
        "bad_signature",
        "wrong_recipient",
        "clock_skew",
        "oversized",
        "type_not_accepted",
        "malformed",
        "handshake",
        "not_agreed",
    ] {
        assert!(codes.contains(code), "no audit record for {code}: {codes:?}");
    }

    // An agreement that has expired, then one revoked: nothing flows under either.
    let today = Utc::now().date_naive();
    agreement.id = "TEST/expired".into();
    agreement.valid_from = today - chrono::Duration::days(400);
    agreement.valid_until = today - chrono::Duration::days(2);
    in_force(&mut agreement);
    // (A message refused for good still takes its place in its stream: 2 is taken.)
    let env = pl.envelope(&ua_agency, "alert", 3, shared_alert("WPL2222", 2));
    let (_, receipt) = post(&batch(vec![env])).await;
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "not_agreed", "{receipt}");
    assert!(receipt["outcomes"][0]["refusal"]["error"].as_str().unwrap().contains("in-force"), "{receipt}");
    agreement.id = "TEST/current".into();
    agreement.valid_until = today + chrono::Duration::days(30);
    in_force(&mut agreement);
    let env = pl.envelope(&ua_agency, "alert", 4, shared_alert("WPL2222", 2));
    let (_, receipt) = post(&batch(vec![env])).await;
    assert_eq!(receipt["outcomes"][0]["status"], "accepted", "{receipt}");
    let out = admin(&ua, &["agreement", "revoke", "TEST/current", "--reason", "the treaty was suspended"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let env = pl.envelope(&ua_agency, "alert", 5, shared_alert("WPL3333", 3));
    let (_, receipt) = post(&batch(vec![env])).await;
    assert_eq!(receipt["outcomes"][0]["refusal"]["code"], "not_agreed", "{receipt}");
    assert!(receipt["outcomes"][0]["refusal"]["error"].as_str().unwrap().contains("no sharing agreement"), "{receipt}");
    let listed: Value = serde_json::from_slice(&admin(&ua, &["agreement", "list"]).stdout).unwrap();
    let ids: Vec<(&str, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["id"].as_str().unwrap(), a["in_force"].as_bool().unwrap()))
        .collect();
    assert_eq!(ids.len(), 3, "{listed}");
    assert!(ids.iter().all(|(_, f)| !f), "none in force: {ids:?}");

    // Revoked: the handshake fails from now on, and the key is never trusted again.
    let out = admin(&ua, &["partner", "revoke", "pl-sg", "--reason", "laptop stolen"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = pl.client(ua_fp).post(&url).body("{}").send().await;
    assert!(again.is_err(), "a revoked partner's certificate is refused");
    let out = admin(&ua, &["partner", "add", pl.anchor_file(ua.dir.path()).to_str().unwrap(), "--receive", "alert"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Every file under `dir`, as one byte string.
fn bytes_under(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(bytes_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.extend(bytes);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Runs the CLI against `node` with `tester`'s session (a person: supervisor among its roles).
fn as_tester(node: &TestNode, args: &[&str]) -> std::process::Output {
    Command::new(limes_bin())
        .args(args)
        .env("LIMES_URL", &node.url)
        .env("LIMES_TOKEN", &node.session)
        .env_remove("LIMES_PURPOSE")
        .output()
        .unwrap()
}

/// The folder and configuration of a node that publishes its hit/no-hit set every second.
fn publishing_config(agency: &str, country: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = util::limes(&[
        "init",
        "--dir",
        dir.path().to_str().unwrap(),
        "--node-id",
        agency,
        "--agency",
        agency,
        "--country",
        country,
        "--listen",
        "127.0.0.1:0",
        "--federation-listen",
        &format!("127.0.0.1:{port}"),
        "--name",
        &format!("{agency} police"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = dir.path().join("limes.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("publish_every_seconds = 60", "publish_every_seconds = 1")).unwrap();
    (dir, config)
}

/// A node that publishes its hit/no-hit set every second.
fn publishing_node(agency: &str, country: &str) -> TestNode {
    let (dir, config) = publishing_config(agency, country);
    TestNode::start_with(dir, config, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_leads_to_a_request_a_supervisor_approves_and_the_data_comes_with_its_conditions() {
    let ro = publishing_node("ro-igpf", "RO");
    let ua = fed_node("ua-dpsu", "UA");
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    add_partner(&ro, &ua_anchor, "released", "");
    add_partner(&ua, &ro_anchor, "", "released");
    let mut agreement = alert_agreement([party_of(&ro_anchor), party_of(&ua_anchor)], &[("ro-igpf", "ua-dpsu")]);
    let flow = &mut agreement.flows[0];
    flow.category = limes_agreement::Category::PlateReads;
    flow.mode = limes_agreement::Mode::HitNoHit;
    flow.purposes = vec!["investigation".into(), "prosecution".into()];
    flow.retention_days = 90;
    flow.handling_code = Some("H2".into());
    flow.urgent_requests_approved_automatically = true;
    agree(&ro, &ua, &agreement);
    let c = ro.client();
    let r = c.post(ro.at("/api/v1/cameras")).json(&camera_json("ro-siret-1", "RO")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    for plate in ["B 01 ABC", "SV 42 BOR", "B 01 ABC"] {
        let r = c.post(ro.at("/api/v1/reads")).json(&read_json("ro-siret-1", plate, Some("RO"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // The Ukrainian investigator asks hit/no-hit and gets a reference.
    let ask = ua.session_client();
    let with_purpose = |b: reqwest::RequestBuilder, purpose: &str| {
        b.header("limes-purpose", purpose)
            .header("limes-legal-basis", util::TEST_LEGAL_BASIS)
            .header("limes-case", "UA-2026/55")
    };
    let reference = wait_for("a hit on the Romanian node", async || {
        let r = with_purpose(ask.post(ua.at("/api/v1/queries/plates")), "investigation")
            .json(&json!({"plate": "B 01 ABC"}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        v[0]["exact_reference"].as_str().map(str::to_owned)
    })
    .await;

    // The request: refused at once by this node when the agreement cannot cover it.
    let file = |body: Value, purpose: &str| {
        let b = with_purpose(ask.post(ua.at("/api/v1/requests")), purpose).json(&body);
        async move {
            let r = b.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let body =
        json!({"partner": "ro-igpf", "reference": reference, "justification": "the car of a robbery in Chernivtsi"});
    let (status, v) = file(body.clone(), "public_security").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["message"].as_str().unwrap().contains("not public_security"), "{v}");
    let (status, v) = file(
        json!({"partner": "ro-igpf", "category": "bank-accounts", "reference": reference, "justification": "x"}),
        "investigation",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (status, v) =
        file(json!({"partner": "ro-igpf", "reference": "B01ABC", "justification": "x"}), "investigation").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the plate itself is no reference: {v}");

    // A request the agreement covers: pending on both sides, seven days to answer.
    let (status, asked) = file(body.clone(), "investigation").await;
    assert_eq!(status, StatusCode::CREATED, "{asked}");
    assert_eq!((asked["status"].as_str(), asked["direction"].as_str()), (Some("pending"), Some("out")));
    let id = asked["id"].as_str().unwrap().to_owned();
    let created = chrono::DateTime::parse_from_rfc3339(asked["created"].as_str().unwrap()).unwrap();
    let deadline = chrono::DateTime::parse_from_rfc3339(asked["deadline"].as_str().unwrap()).unwrap();
    assert_eq!(deadline - created, chrono::Duration::days(7));
    let supervisor = ro.session_client();
    let incoming = wait_for("the request on the Romanian node", async || {
        let out = as_tester(&ro, &["request", "list", "--direction", "in"]);
        assert!(out.status.success(), "limes request list: {}", String::from_utf8_lossy(&out.stderr));
        let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        v.into_iter().find(|r| r["id"] == id.as_str())
    })
    .await;
    assert_eq!(incoming["status"], "pending", "{incoming}");
    assert_eq!((incoming["partner"].as_str(), incoming["case_ref"].as_str()), (Some("ua-dpsu"), Some("UA-2026/55")));
    assert_eq!(incoming["overdue"], false);
    // A refusal needs a reason; an operator token may not decide; the supervisor approves.
    let decision = |client: &reqwest::Client, body: Value| {
        client.post(ro.at(&format!("/api/v1/requests/in/ua-dpsu/{id}/decision"))).json(&body).send()
    };
    let r = decision(&supervisor, json!({"approve": false})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = decision(&ro.client(), json!({"approve": true})).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a token never decides");
    // The supervisor approves with the CLI.
    let out =
        as_tester(&ro, &["request", "decide", "ua-dpsu", &id, "--approve", "--reason", "case confirmed by phone"]);
    assert!(out.status.success(), "limes request decide: {}", String::from_utf8_lossy(&out.stderr));
    let decided: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decided["status"], "answered", "{decided}");
    assert_eq!(decided["released"]["reads"].as_array().unwrap().len(), 2, "the two reads of B01ABC: {decided}");
    let r = decision(&supervisor, json!({"approve": false, "reason": "changed my mind"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT, "the first decision stands");

    // The asker: the decision and the data, with the agreement's conditions.
    let get = |purpose: &'static str| {
        let b = with_purpose(ask.get(ua.at(&format!("/api/v1/requests/out/ro-igpf/{id}"))), purpose);
        async move { b.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let got = wait_for("the released data on the Ukrainian node", async || {
        let v = get("investigation").await;
        (v["status"] == "answered").then_some(v)
    })
    .await;
    assert!(got["decided_by"].as_str().unwrap().contains("supervisor"), "{got}");
    let released = &got["released"];
    assert_eq!(released["conditions"]["purposes"], json!(["investigation", "prosecution"]));
    assert_eq!(released["conditions"]["retention_days"], 90);
    assert_eq!(released["conditions"]["handling_code"], "H2");
    assert_eq!(released["conditions"]["agreement"], agreement.id.as_str());
    let reads = released["reads"].as_array().unwrap();
    assert_eq!(reads.len(), 2, "{released}");
    assert!(reads.iter().all(|r| r["plate"] == "B01ABC" && r["camera"] == "ro-siret-1"), "{released}");
    // Opened for a purpose the conditions do not name: the request, not the data.
    let other = get("prosecution").await;
    assert!(other["released"].is_object(), "prosecution is among the conditions: {other}");
    let other = get("public_security").await;
    assert!(other.get("released").is_none(), "not for that purpose: {other}");

    // An urgent request, where the agreement approves urgent ones automatically: answered
    // without a supervisor, with an eight-hour deadline.
    let (status, urgent) = file(
        json!({"partner": "ro-igpf", "reference": reference, "urgent": true,
        "justification": "a pursuit in progress towards the border"}),
        "investigation",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{urgent}");
    let uid = urgent["id"].as_str().unwrap().to_owned();
    let created = chrono::DateTime::parse_from_rfc3339(urgent["created"].as_str().unwrap()).unwrap();
    let deadline = chrono::DateTime::parse_from_rfc3339(urgent["deadline"].as_str().unwrap()).unwrap();
    assert_eq!(deadline - created, chrono::Duration::hours(8));
    let done = wait_for("the urgent request answered", async || {
        let b = with_purpose(ask.get(ua.at(&format!("/api/v1/requests/out/ro-igpf/{uid}"))), "investigation");
        let v: Value = b.send().await.unwrap().json().await.unwrap();
        (v["status"] == "answered").then_some(v)
    })
    .await;
    assert_eq!(done["decided_by"], "automatic", "{done}");
    assert_eq!(done["released"]["reads"].as_array().unwrap().len(), 2);

    // Both sides logged it: the release as a transfer at the owner, its collection here.
    let sent = audit_records(&ro, &["--actor", "node:ro-igpf"]);
    let released_sent = sent.iter().filter(|r| r["action"] == "transfer" && r["details"]["type"] == "released").count();
    assert_eq!(released_sent, 2, "{sent:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plate_query_crosses_as_hit_no_hit_and_the_partner_never_sees_the_plate() {
    // The owner publishes every second, and everything it traces goes to a file.
    let (dir, config) = publishing_config("ro-igpf", "RO");
    let log = tempfile::NamedTempFile::new().unwrap();
    let ro = TestNode::start_logging(dir, config, "trace", log.path());
    let ua = fed_node("ua-dpsu", "UA");
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    add_partner(&ro, &ua_anchor, "", "");
    add_partner(&ua, &ro_anchor, "", "");
    let mut agreement = alert_agreement([party_of(&ro_anchor), party_of(&ua_anchor)], &[("ro-igpf", "ua-dpsu")]);
    agreement.flows[0].category = limes_agreement::Category::PlateReads;
    agreement.flows[0].mode = limes_agreement::Mode::HitNoHit;
    agreement.flows[0].purposes = vec!["investigation".into(), "prosecution".into()];
    agree(&ro, &ua, &agreement);

    // The owner's camera reads two plates (synthetic).
    let c = ro.client();
    let r = c.post(ro.at("/api/v1/cameras")).json(&camera_json("ro-siret-1", "RO")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    for plate in ["B 01 ABC", "SV 42 BOR"] {
        let r = c.post(ro.at("/api/v1/reads")).json(&read_json("ro-siret-1", plate, Some("RO"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    // The asker's investigator, through the CLI, with purpose, legal basis and case.
    let query = |plate: &str, purpose: &str, extra: &[&str]| {
        let mut cmd = Command::new(util::limes_bin());
        cmd.args(["query", "plate", plate, "--purpose", purpose, "--legal-basis", util::TEST_LEGAL_BASIS])
            .args(["--case", "UA-2026/55"])
            .args(extra)
            .env("LIMES_URL", &ua.url)
            .env("LIMES_TOKEN", &ua.session);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "limes query: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    // The owner publishes within a second of the agreement and the reads.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let v = query("B 01 ABC", "investigation", &[]);
        if v[0]["hit"] == true {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "no hit within 30 s: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen[0]["partner"], "ro-igpf");
    assert_eq!(seen[0]["exact_reference"].as_str().unwrap().len(), 32, "{seen}");
    assert_eq!(seen[0]["folded_references"].as_array().unwrap().len(), 1);
    let lookalike = query("8 01 ABC", "investigation", &[]);
    assert_eq!((lookalike[0]["hit"].as_bool(), &lookalike[0]["exact_reference"]), (Some(true), &Value::Null));
    assert_eq!(lookalike[0]["folded_references"], seen[0]["folded_references"]);
    let miss = query("AB 12 CDE", "investigation", &["--partner", "ro-igpf"]);
    assert_eq!(miss[0]["hit"], false, "{miss}");
    assert_eq!(miss[0]["folded_references"], json!([]));
    // A purpose the agreement does not name: no partner to ask, or a refusal for the one named.
    assert_eq!(query("AB 12 CDE", "detection", &[]), json!([]));
    let refused = query("AB 12 CDE", "detection", &["--partner", "ro-igpf"]);
    assert!(refused[0]["error"].as_str().unwrap().contains("not sent to ro-igpf"), "{refused}");
    // Operators do not ask partners.
    let operator = {
        let password = ua.dir.path().join("op-password");
        std::fs::write(&password, "operator password 2026").unwrap();
        let out =
            admin(&ua, &["user", "add", "op", "--password-file", password.to_str().unwrap(), "--role", "operator"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let out = util::limes(&[
            "login",
            "--url",
            &ua.url,
            "--user",
            "op",
            "--password-file",
            password.to_str().unwrap(),
            "--purpose",
            "investigation",
            "--legal-basis",
            util::TEST_LEGAL_BASIS,
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let r = util::bearer_client(&operator)
        .post(ua.at("/api/v1/queries/plates"))
        .json(&json!({"plate": "B 01 ABC"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The asker's log: each question with its purpose, case and answer.
    let asked = audit_records(&ua, &["--plate", "801ABC"]);
    let answer = asked.iter().find(|r| r["details"]["query"] == "hit-no-hit").expect("the question is logged");
    assert_eq!((answer["case_ref"].as_str(), answer["purpose"].as_str()), (Some("UA-2026/55"), Some("investigation")));
    assert_eq!(answer["details"]["hit"], true);
    assert_eq!(answer["details"]["partner"], "ro-igpf");
    // The owner's log: the evaluations, by the partner, never a plate.
    let evaluations: Vec<Value> =
        audit_records(&ro, &[]).into_iter().filter(|r| r["object"] == "hitquery:evaluate").collect();
    // At least one per plate asked with an allowed purpose (the first may have been polled for).
    assert!(evaluations.len() >= 3, "{evaluations:#?}");
    assert!(evaluations.iter().all(|r| r["actor"] == "node:ua-dpsu" && r["details"]["elements"] == 2));

    // Nothing the owner holds or traced names a plate it did not see: its data folder (store,
    // audit log, federation.sqlite, seeds) and its log at trace level.
    let logged = std::fs::read(log.path()).unwrap();
    assert!(contains(&logged, "published the hit/no-hit set"), "the owner's log was captured");
    let held = bytes_under(&ro.dir.path().join("limes-data"));
    assert!(contains(&held, "B01ABC"), "the owner holds its own read");
    for text in ["8 01 ABC", "801ABC", "AB 12 CDE", "AB12CDE"] {
        assert!(!contains(&logged, text), "{text} in the owner's log");
        assert!(!contains(&held, text), "{text} in the owner's data folder");
    }
}

/// The two agencies' operations-centre pages in a real browser (`web/tests/federation.mjs`):
/// a partner's alert on the board, a hit/no-hit question and a request for the reads behind
/// the hit made on the asker's page, approved on the owner's; the partners and requests views
/// of both, with the partner and the request real, pass axe-core in both themes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_pages_a_partners_alert_shows_and_a_request_is_made_and_approved() {
    let ro = publishing_node("ro-igpf", "RO");
    let ua = fed_node("ua-dpsu", "UA");
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    add_partner(&ro, &ua_anchor, "alert,released", "");
    add_partner(&ua, &ro_anchor, "", "alert,released");
    let mut agreement = agreement_of(
        [party_of(&ro_anchor), party_of(&ua_anchor)],
        &[
            ("ro-igpf", "ua-dpsu", limes_agreement::Category::Alerts),
            ("ro-igpf", "ua-dpsu", limes_agreement::Category::PlateReads),
        ],
    );
    agreement.flows[1].mode = limes_agreement::Mode::HitNoHit;
    agree(&ro, &ua, &agreement);
    setup_hotlist(&ro).await;
    read(&ro, 0).await;

    let report = util::browser_test(
        "federation.mjs",
        &[
            ("LIMES_URL_OWNER", ro.url.trim_end_matches('/')),
            ("LIMES_URL_ASKER", ua.url.trim_end_matches('/')),
            ("LIMES_PLATE", "SV10FED"),
            ("LIMES_OWNER", "ro-igpf"),
        ],
    )
    .await;
    for view in ["partners_owner", "requests_owner", "partners_asker", "requests_asker"] {
        assert_eq!(report[format!("axe_{view}")], "0 violations (light, dark)", "{report}");
    }
    // What the pages did, as the API sees it: answered on the asker's side, with the reads.
    let asked: Vec<Value> =
        ua.session_client().get(ua.at("/api/v1/requests")).send().await.unwrap().json().await.unwrap();
    assert_eq!(asked.len(), 1, "{asked:#?}");
    assert_eq!((asked[0]["status"].as_str(), asked[0]["case_ref"].as_str()), (Some("answered"), Some("UI-2026/2")));
    assert!(asked[0]["decided_by"].as_str().unwrap().contains("supervisor"), "{asked:#?}");
}
