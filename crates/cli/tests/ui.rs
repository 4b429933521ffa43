//! The operations-centre page in a real browser (issue #7): `web/tests/ui.mjs`, run by
//! Node.js with playwright-core driving Debian's Chromium headless, against a real node.
//! `scripts/test` installs Chromium and the page's npm packages.

mod util;

use serde_json::{Value, json};
use util::{TestNode, camera_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_sees_an_alert_arrive_acknowledges_it_and_finds_it_on_the_map() {
    let node = TestNode::start();
    let c = node.client();
    let r = c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-siret-1", "RO")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let entry =
        json!([{"plate": "SV 77 WEB", "country": "RO", "reason": "stolen", "priority": 1, "agency": "ro-igpf"}]);
    let r = c.post(node.at("/api/v1/hotlist")).json(&entry).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let report = node.dir.path().join("ui-report.json");
    util::browser_test(
        "ui.mjs",
        &[
            ("LIMES_URL", node.url.trim_end_matches('/')),
            ("LIMES_TOKEN", &node.token),
            ("LIMES_CAMERA", "ro-siret-1"),
            ("LIMES_PLATE", "SV77WEB"),
            ("LIMES_UI_REPORT", report.to_str().unwrap()),
        ],
    )
    .await;
    let figures: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(figures["read_to_screen_ms"].as_u64().is_some_and(|ms| ms < 10_000), "{figures}");
    for view in [
        "signin",
        "board",
        "search",
        "map",
        "incident",
        "incidents",
        "board_exercise",
        "bulletins",
        "hotlist",
        "partners",
        "requests",
        "audit",
    ] {
        assert_eq!(figures[format!("axe_{view}")], "0 violations (light, dark)", "{figures}");
    }
    // What the page put on the hotlist is there (and what it expired is not).
    let listed: Vec<Value> = c.get(node.at("/api/v1/hotlist")).send().await.unwrap().json().await.unwrap();
    let plates: Vec<(&str, bool)> =
        listed.iter().map(|e| (e["plate"].as_str().unwrap(), e["exercise"] == true)).collect();
    assert_eq!(plates, [("SV77WEB", false), ("SV66EXR", true), ("B99CSV", false)], "{listed:#?}");
    // And what it changed in place is changed.
    let changed = &listed[2];
    assert_eq!((&changed["reason"], &changed["priority"]), (&json!("suspect"), &json!(1)), "{changed}");
    assert_eq!(changed["note"], "blue van, Ukrainian plates seen too");
    assert_eq!(changed["expires"], "2031-05-31T23:59:59Z");
    // The incidents the page raised: one by keyboard, one an exercise drawn on the map, with the
    // note and the status the page wrote on its timeline.
    let incidents: Vec<Value> =
        node.session_client().get(node.at("/api/v1/incidents")).send().await.unwrap().json().await.unwrap();
    assert_eq!(incidents.len(), 2, "{incidents:#?}");
    let point = incidents.iter().find(|i| i["type"] == "crossing-closed").expect("the crossing closed");
    assert_eq!((&point["severity"], &point["area"]["type"]), (&json!("critical"), &json!("Point")), "{point}");
    assert!(point.get("exercise").is_none(), "{point}");
    let flood = incidents.iter().find(|i| i["type"] == "flood").expect("the flood");
    assert_eq!(
        (&flood["exercise"], &flood["status"], &flood["notes"]),
        (&json!(true), &json!("responding"), &json!(1))
    );
    let ring = flood["area"]["coordinates"][0].as_array().unwrap();
    assert_eq!(
        (flood["area"]["type"].as_str(), ring.len(), ring.first()),
        (Some("Polygon"), 4, ring.last()),
        "{flood}"
    );
    // The bulletin it issued, as it was filled in.
    let out: Vec<Value> =
        node.session_client().get(node.at("/api/v1/bulletins?box=out")).send().await.unwrap().json().await.unwrap();
    assert_eq!(out.len(), 1, "{out:#?}");
    let b = &out[0];
    assert_eq!((&b["source"], &b["information"], &b["handling"]), (&json!("B"), &json!("2"), &json!("H3")), "{b}");
    assert_eq!(b["restrictions"], "Not to be shared with private security companies");
    assert_eq!(b["vehicles"], json!([{"plate": "SV12ABC", "country": "RO", "description": "white Ford Transit"}]));
    assert_eq!(b["distribution"], json!(["md-igp"]));
    // The node logged the sign-in and the acknowledgement like any other.
    let records = util::audit_records(&node, &["--actor", "user:tester"]);
    assert!(records.iter().any(|r| r["action"] == "login"), "{records:#?}");
    assert!(records.iter().any(|r| r["object"].as_str().is_some_and(|o| o.starts_with("alert:"))), "{records:#?}");
    // The search, under the purpose and case its dialog declared.
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "consult" && r["case_ref"] == "UI-2026/1" && r["purpose"] == "investigation"),
        "{records:#?}"
    );
    // The purpose changed in the page's header: recorded, and the search after it is logged under it.
    assert!(
        records.iter().any(|r| r["action"] == "login" && r["purpose"] == "prevention" && r["case_ref"] == "UI-2026/9"),
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["action"] == "consult" && r["case_ref"] == "UI-2026/9" && r["purpose"] == "prevention"),
        "{records:#?}"
    );
}
