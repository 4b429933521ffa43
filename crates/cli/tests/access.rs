//! People, roles, purposes and the audit trail over real HTTP (issue #4): the role × action
//! matrix (every refusal is 403 and in the audit log), sign-in failures, sessions that expire,
//! tokens outside their scope or revoked, second factors, and what a data-protection officer
//! can do.

mod util;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use util::{TestNode, audit_records, bearer_client, camera_json, read_json};

const LEGAL_BASIS: &str = "RO Law 363/2018 art. 5";
const CASE: &str = "2026/117";

/// Creates `name` with `roles` (assigned to CASE) and signs in for "investigation" under CASE;
/// returns the session.
async fn person(node: &TestNode, name: &str, roles: &[&str]) -> String {
    let admin = bearer_client(&node.admin_token);
    let r = admin
        .post(node.at("/api/v1/users"))
        .json(&json!({"name": name, "password": format!("{name} password 2026"), "roles": roles, "cases": [CASE]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    login(node, name, &format!("{name} password 2026"), None).await.expect("sign-in")
}

async fn login(
    node: &TestNode,
    name: &str,
    password: &str,
    totp: Option<&str>,
) -> Result<String, (StatusCode, String)> {
    let mut body = json!({"user": name, "password": password, "purpose": "investigation", "legal_basis": LEGAL_BASIS, "case": CASE});
    if let Some(code) = totp {
        body["totp"] = code.into();
    }
    let r = Client::new().post(node.at("/api/v1/auth/login")).json(&body).send().await.unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    if status == StatusCode::OK { Ok(v["token"].as_str().unwrap().to_owned()) } else { Err((status, v.to_string())) }
}

/// One request per operation the API offers, and the operation it needs.
fn requests(sha: &str) -> Vec<(&'static str, Method, String, Option<Value>)> {
    vec![
        ("reads.ingest", Method::POST, "/api/v1/reads".into(), Some(read_json("ro-a", "B-77-ACC", Some("RO")))),
        ("reads.search", Method::GET, "/api/v1/reads?plate=B77ACC".into(), None),
        ("reads.view", Method::GET, "/api/v1/reads/1".into(), None),
        ("queries.ask", Method::POST, "/api/v1/queries/plates".into(), Some(json!({"plate": "B77ACC"}))),
        ("images.view", Method::GET, format!("/api/v1/images/{sha}"), None),
        ("detections.search", Method::GET, "/api/v1/detections".into(), None),
        ("alerts.list", Method::GET, "/api/v1/alerts".into(), None),
        ("alerts.ack", Method::POST, "/api/v1/alerts/1/ack".into(), Some(json!({"note": "seen"}))),
        ("hotlist.view", Method::GET, "/api/v1/hotlist".into(), None),
        ("hotlist.manage", Method::POST, "/api/v1/hotlist".into(), Some(json!([]))),
        // Allowed answers 404: there is no entry 1.
        ("hotlist.manage", Method::PUT, "/api/v1/hotlist/1".into(), Some(json!({"reason": "wanted"}))),
        ("cameras.view", Method::GET, "/api/v1/cameras".into(), None),
        ("cameras.manage", Method::POST, "/api/v1/cameras".into(), Some(camera_json("ro-b", "RO"))),
        ("stats.view", Method::GET, "/api/v1/stats".into(), None),
        ("audit.view", Method::GET, "/api/v1/audit?actor=nobody".into(), None),
        ("subject.request", Method::GET, "/api/v1/subject/plates/B99ZZZ?country=RO".into(), None),
        ("data.erase", Method::DELETE, "/api/v1/subject/plates/B99ZZZ?country=RO".into(), None),
        ("data.restrict", Method::POST, "/api/v1/subject/plates/B99ZZZ/restriction?country=RO".into(), None),
        ("subject.request", Method::GET, "/api/v1/subject/events/read/1".into(), None),
        ("users.manage", Method::GET, "/api/v1/users".into(), None),
        ("tokens.manage", Method::GET, "/api/v1/tokens".into(), None),
        // The test nodes have no [federation]: allowed answers 404, refused 403.
        ("partners.view", Method::GET, "/api/v1/partners".into(), None),
        ("partners.manage", Method::DELETE, "/api/v1/partners/ua-dpsu".into(), None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_403_for_what_it_may_not_do_and_each_refusal_is_logged() {
    let node = TestNode::start();
    let c = node.client();
    c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-a", "RO")).send().await.unwrap();
    let r = c.post(node.at("/api/v1/reads")).json(&read_json("ro-a", "B-77-ACC", Some("RO"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let png = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(8, 8, image::Rgb([200, 30, 30]))
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    };
    let r = c
        .post(node.at("/api/v1/reads/1/images?kind=plate"))
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let sha = r.json::<Value>().await.unwrap()["sha256"].as_str().unwrap().to_owned();

    // What each role may do (README, "For data-protection officers").
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        (
            "operator",
            &["reads.view", "images.view", "alerts.list", "alerts.ack", "hotlist.view", "cameras.view", "stats.view"][..],
        ),
        (
            "analyst",
            &[
                "reads.search",
                "reads.view",
                "queries.ask",
                "images.view",
                "detections.search",
                "alerts.list",
                "hotlist.view",
                "cameras.view",
                "stats.view",
            ],
        ),
        (
            "investigator",
            &[
                "reads.search",
                "reads.view",
                "queries.ask",
                "images.view",
                "detections.search",
                "alerts.list",
                "hotlist.view",
                "hotlist.manage",
                "cameras.view",
                "stats.view",
            ],
        ),
        (
            "supervisor",
            &[
                "reads.search",
                "reads.view",
                "queries.ask",
                "images.view",
                "detections.search",
                "alerts.list",
                "alerts.ack",
                "hotlist.view",
                "hotlist.manage",
                "cameras.view",
                "stats.view",
                "partners.view",
            ],
        ),
        ("dpo", &["cameras.view", "stats.view", "audit.view", "subject.request", "data.erase", "data.restrict"]),
        (
            "administrator",
            &[
                "cameras.view",
                "cameras.manage",
                "stats.view",
                "users.manage",
                "tokens.manage",
                "partners.view",
                "partners.manage",
            ],
        ),
    ]);
    for (role, may) in &allowed {
        let name = format!("{role}-1");
        let client = bearer_client(&person(&node, &name, &[role]).await);
        let mut refused = 0;
        for (op, method, path, body) in requests(&sha) {
            let mut req = client.request(method.clone(), node.at(&path));
            if let Some(b) = &body {
                req = req.json(b);
            }
            let r = req.send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            if may.contains(&op) {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{role} may {op} ({method} {path}) but got {status}: {text}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} may not {op} ({method} {path}): {text}");
                assert!(text.contains(op), "the refusal names the operation: {text}");
                refused += 1;
            }
        }
        let denied: Vec<Value> = audit_records(&node, &["--actor", &format!("user:{name}")])
            .into_iter()
            .filter(|r| r["action"] == "denied")
            .collect();
        assert_eq!(denied.len(), refused, "{role}: one audit record per refusal: {denied:#?}");
        assert!(denied.iter().all(|r| r["outcome"] == "denied" && r["role"] == *role), "{denied:#?}");
    }

    // The allowed consultations are in the log with purpose, legal basis and case.
    let searches = audit_records(&node, &["--actor", "user:analyst-1", "--plate", "B77ACC"]);
    let search = searches.iter().find(|r| r["action"] == "consult").expect("the analyst's search is logged");
    assert_eq!(
        (search["purpose"].as_str(), search["legal_basis"].as_str()),
        (Some("investigation"), Some(LEGAL_BASIS))
    );
    assert_eq!(search["case_ref"], CASE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_declares_another_purpose_without_signing_in_again_and_what_follows_is_logged_under_it() {
    let node = TestNode::start();
    let c = node.client();
    c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-a", "RO")).send().await.unwrap();
    let r = c.post(node.at("/api/v1/reads")).json(&read_json("ro-a", "B-77-ACC", Some("RO"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ana = bearer_client(&person(&node, "ana", &["analyst"]).await);
    let declare = |body: Value| ana.put(node.at("/api/v1/auth/purpose")).json(&body).send();
    let me = async || ana.get(node.at("/api/v1/auth/me")).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(me().await["purpose"]["purpose"], "investigation", "as declared at sign-in");

    let basis = "RO Law 218/2002 art. 26";
    let r = declare(json!({"purpose": "prevention", "legal_basis": basis, "case": "2026/200"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let now = r.json::<Value>().await.unwrap();
    assert_eq!(now["purpose"], json!({"purpose": "prevention", "legal_basis": basis, "case_ref": "2026/200"}));
    assert_eq!(me().await["purpose"], now["purpose"], "the session holds it");

    // The next search declares nothing of its own: it is checked and logged under the new one.
    let r = ana.get(node.at("/api/v1/reads?plate=B77ACC")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let records = audit_records(&node, &["--actor", "user:ana"]);
    let search = records.iter().rfind(|r| r["action"] == "consult").expect("the search is logged");
    assert_eq!(
        (search["purpose"].as_str(), search["legal_basis"].as_str(), search["case_ref"].as_str()),
        (Some("prevention"), Some(basis), Some("2026/200")),
        "{search}"
    );
    // The change itself is on the record, with the purpose it replaced.
    let change = records
        .iter()
        .find(|r| r["action"] == "login" && r["details"].to_string().contains("purpose_changed"))
        .expect("the change is logged");
    assert_eq!((change["purpose"].as_str(), change["case_ref"].as_str()), (Some("prevention"), Some("2026/200")));
    assert!(change["details"].to_string().contains("investigation"), "the purpose before: {change}");

    // A purpose the law does not know, or none, or no legal basis: refused, nothing changes.
    for bad in [
        json!({"purpose": "curiosity", "legal_basis": basis}),
        json!({"purpose": "prevention", "legal_basis": ""}),
        json!({"purpose": "prevention"}),
    ] {
        assert_eq!(declare(bad.clone()).await.unwrap().status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(me().await["purpose"], now["purpose"]);
    // An API token's purpose is fixed.
    let r = c.put(node.at("/api/v1/auth/purpose")).json(&json!({"purpose": "prevention", "legal_basis": basis})).send();
    assert_eq!(r.await.unwrap().status(), StatusCode::BAD_REQUEST);
    // Signed out, the session declares nothing.
    ana.post(node.at("/api/v1/auth/logout")).json(&json!({})).send().await.unwrap();
    let r = declare(json!({"purpose": "prevention", "legal_basis": basis})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purposes_cases_and_agencies_are_checked_before_any_data_is_touched() {
    let node = TestNode::start();
    let admin = bearer_client(&node.admin_token);
    let r = admin
        .post(node.at("/api/v1/users"))
        .json(&json!({"name": "inv", "password": "investigator pw 1", "roles": ["investigator"], "cases": [CASE]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // Signed in without a purpose: a search must declare one.
    let r = Client::new()
        .post(node.at("/api/v1/auth/login"))
        .json(&json!({"user": "inv", "password": "investigator pw 1"}))
        .send()
        .await
        .unwrap();
    let inv = bearer_client(r.json::<Value>().await.unwrap()["token"].as_str().unwrap());
    let search = |headers: &[(&str, &str)]| {
        let mut req = inv.get(node.at("/api/v1/reads?plate=B77ACC"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    let r = search(&[]).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("purpose"));
    let r = search(&[("limes-purpose", "curiosity"), ("limes-legal-basis", LEGAL_BASIS)]).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a purpose the law does not allow");
    let r = search(&[("limes-purpose", "investigation"), ("limes-legal-basis", LEGAL_BASIS)]).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "an investigator searches under a case");
    let other = [("limes-purpose", "investigation"), ("limes-legal-basis", LEGAL_BASIS), ("limes-case", "2026/999")];
    assert_eq!(search(&other).await.unwrap().status(), StatusCode::FORBIDDEN, "not their case");
    let theirs = [("limes-purpose", "investigation"), ("limes-legal-basis", LEGAL_BASIS), ("limes-case", CASE)];
    assert_eq!(search(&theirs).await.unwrap().status(), StatusCode::OK);
    // An administrator manages their own agency's cameras only.
    let r = admin.post(node.at("/api/v1/cameras")).json(&camera_json("ro-c", "RO")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut foreign = camera_json("ua-c", "UA");
    foreign["agency"] = "ua-dpsu".into();
    let r = admin.post(node.at("/api/v1/cameras")).json(&foreign).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("cameras.manage"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_expired_sessions_and_tokens_outside_their_scope_are_refused() {
    let node = TestNode::start_edited(|c| c.replace("session_hours = 12.0", "session_hours = 0.0008"));
    // No credential, garbage, an unknown token, a JSON Web Token no provider vouches for.
    for auth in [
        None,
        Some("Bearer nonsense"),
        Some("Bearer lms_t_AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        Some("Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"),
        Some("Basic Og=="),
    ] {
        let mut req = Client::new().get(node.at("/api/v1/cameras"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(r.headers().contains_key("www-authenticate"));
    }
    assert!(audit_records(&node, &["--actor", "user:anonymous"]).iter().all(|r| r["action"] == "denied"));
    assert!(audit_records(&node, &["--actor", "user:anonymous"]).len() >= 4);

    // Wrong password: 401 and logged; five in a row lock the account, even with the right one.
    person(&node, "ana", &["analyst"]).await;
    for _ in 0..5 {
        assert_eq!(login(&node, "ana", "wrong password!", None).await.unwrap_err().0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&node, "ana", "ana password 2026", None).await.unwrap_err().0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login(&node, "nobody", "whatever at all", None).await.unwrap_err().0, StatusCode::UNAUTHORIZED);
    let failed = audit_records(&node, &["--actor", "user:ana"]);
    assert!(failed.iter().filter(|r| r["action"] == "denied").count() >= 6, "{failed:#?}");

    // A session ends at its expiry (0.0008 h ≈ 3 s).
    let s = person(&node, "bob", &["operator"]).await;
    let bob = bearer_client(&s);
    assert_eq!(bob.get(node.at("/api/v1/cameras")).send().await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let r = bob.get(node.at("/api/v1/cameras")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("expired"));

    // A token does what its scope says and nothing else; revoked, it does nothing.
    let admin_session = login(&node, "admin", node_admin_password(&node).trim(), None).await.unwrap();
    let admin = bearer_client(&admin_session);
    let r = admin
        .post(node.at("/api/v1/tokens"))
        .json(&json!({"name": "gateway", "scope": ["reads.ingest", "cameras.view"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let gateway = bearer_client(created["token"].as_str().unwrap());
    assert_eq!(gateway.get(node.at("/api/v1/cameras")).send().await.unwrap().status(), StatusCode::OK);
    let r = gateway.get(node.at("/api/v1/reads")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("outside this token's scope"));
    // A token that consults needs a purpose; one for accounts is refused outright.
    // An administrator mints tokens for their own agency only.
    let r = admin
        .post(node.at("/api/v1/tokens"))
        .json(&json!({"name": "theirs", "scope": ["reads.ingest"], "agency": "ua-dpsu"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for scope in [json!(["reads.search"]), json!(["users.manage"]), json!(["no.such"])] {
        let r = admin.post(node.at("/api/v1/tokens")).json(&json!({"name": "x", "scope": scope})).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{scope}");
    }
    let id = created["id"].as_str().unwrap();
    let r = admin.delete(node.at(&format!("/api/v1/tokens/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = gateway.get(node.at("/api/v1/cameras")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("revoked"));
}

fn node_admin_password(node: &TestNode) -> String {
    std::fs::read_to_string(node.dir.path().join("limes-data").join("initial-admin-password")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_is_enrolled_then_required_and_a_code_works_once() {
    let node = TestNode::start();
    let session = person(&node, "eva", &["supervisor"]).await;
    let eva = bearer_client(&session);
    let offer: Value = eva.post(node.at("/api/v1/auth/totp")).send().await.unwrap().json().await.unwrap();
    let secret = offer["secret"].as_str().unwrap().to_owned();
    assert!(offer["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/limes:"));
    let now = || chrono::Utc::now().timestamp() as u64;
    let r = eva.post(node.at("/api/v1/auth/totp")).json(&json!({"code": "000000"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "a wrong code enrols nothing");
    let code = limes_access::totp::code_at(&secret, now()).unwrap();
    let r = eva.post(node.at("/api/v1/auth/totp")).json(&json!({"code": code})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    let password = "eva password 2026";
    assert_eq!(login(&node, "eva", password, None).await.unwrap_err().0, StatusCode::UNAUTHORIZED, "code missing");
    // The enrolment used the current step: its code cannot sign in again.
    assert_eq!(login(&node, "eva", password, Some(&code)).await.unwrap_err().0, StatusCode::UNAUTHORIZED, "replay");
    // The next step's code works once (skew of one step).
    let next = limes_access::totp::code_at(&secret, now() + 30).unwrap();
    assert!(login(&node, "eva", password, Some(&next)).await.is_ok());
    assert_eq!(login(&node, "eva", password, Some(&next)).await.unwrap_err().0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collection_is_logged_once_per_batch_and_a_dpo_finds_exports_and_erases_a_plate() {
    let node = TestNode::start();
    let c = node.client();
    c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-a", "RO")).send().await.unwrap();
    c.post(node.at("/api/v1/hotlist"))
        .json(&json!([{"plate": "B 55 DPO", "country": "RO", "reason": "stolen", "priority": 1, "agency": "ro-igpf"}]))
        .send()
        .await
        .unwrap();
    for batch in 0..3 {
        let reads: Vec<Value> =
            (0..50).map(|i| read_json("ro-a", &format!("B {:02} XYZ", (batch * 50 + i) % 100), Some("RO"))).collect();
        let r = c.post(node.at("/api/v1/reads")).json(&reads).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = c.post(node.at("/api/v1/reads")).json(&read_json("ro-a", "B-55-DPO", Some("RO"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let collected: Vec<Value> =
        audit_records(&node, &["--object", "reads:"]).into_iter().filter(|r| r["action"] == "collect").collect();
    assert_eq!(collected.len(), 4, "one record per batch: {collected:#?}");
    assert_eq!(collected[0]["object"], "reads:1-50");
    assert_eq!(collected[0]["details"]["count"], 50);
    assert_eq!(collected[3]["details"]["alerts"], 1);
    assert!(collected.iter().all(|r| r["actor"].as_str().unwrap().starts_with("integration:")));

    let dpo = bearer_client(&person(&node, "dora", &["dpo"]).await);
    let found: Value =
        dpo.get(node.at("/api/v1/subject/plates/B55DPO?country=RO")).send().await.unwrap().json().await.unwrap();
    assert_eq!(found["plate"], "B55DPO");
    assert_eq!(found["reads"].as_array().unwrap().len(), 1);
    assert_eq!(found["hotlist"].as_array().unwrap().len(), 1);
    assert!(found["audit_records"].as_u64().unwrap() >= 1);
    // The audit export over HTTP: JSON lines.
    let r = dpo.get(node.at("/api/v1/audit?plate=B55DPO")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let lines = r.text().await.unwrap();
    assert!(lines.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()) && lines.contains("subject"), "{lines}");

    // Restricted: kept, shown to no one else, the alert gone from lists; the DPO still sees it.
    let r = dpo.post(node.at("/api/v1/subject/plates/B55DPO/restriction?country=RO")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let analyst = bearer_client(&person(&node, "anton", &["analyst", "operator"]).await);
    let page: Value =
        analyst.get(node.at("/api/v1/reads?plate=B55DPO&country=RO")).send().await.unwrap().json().await.unwrap();
    assert!(page["reads"].as_array().unwrap().is_empty(), "{page}");
    let read_id = found["reads"][0]["id"].as_i64().unwrap();
    let r = analyst.get(node.at(&format!("/api/v1/reads/{read_id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("restricted"));
    let alerts: Value = analyst.get(node.at("/api/v1/alerts")).send().await.unwrap().json().await.unwrap();
    assert!(alerts.as_array().unwrap().iter().all(|a| a["plate"] != "B55DPO"), "{alerts}");
    let seen: Value =
        dpo.get(node.at("/api/v1/subject/plates/B55DPO?country=RO")).send().await.unwrap().json().await.unwrap();
    assert_eq!((seen["restricted"].as_bool(), seen["reads"].as_array().unwrap().len()), (Some(true), 1));
    // Lifted: shown again.
    let r = dpo.delete(node.at("/api/v1/subject/plates/B55DPO/restriction?country=RO")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = analyst.get(node.at(&format!("/api/v1/reads/{read_id}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let restrictions = audit_records(&node, &["--actor", "user:dora", "--object", "restriction:"]);
    assert_eq!(restrictions.len(), 2, "restricted and lifted, each logged: {restrictions:#?}");

    let r = dpo.delete(node.at("/api/v1/subject/plates/B-55-DPO?country=RO")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let erased: Value = r.json().await.unwrap();
    assert_eq!((erased["reads"].as_u64(), erased["hotlist"].as_u64()), (Some(1), Some(1)));
    let found: Value =
        dpo.get(node.at("/api/v1/subject/plates/B55DPO?country=RO")).send().await.unwrap().json().await.unwrap();
    assert!(found["reads"].as_array().unwrap().is_empty() && found["hotlist"].as_array().unwrap().is_empty());
    let erasures: Vec<Value> =
        audit_records(&node, &["--actor", "user:dora"]).into_iter().filter(|r| r["action"] == "erase").collect();
    assert_eq!(erasures.len(), 2, "the authorisation and the erasure with its counts: {erasures:#?}");

    // One event a subject points to: an alert (with its read), a detection; found, then erased.
    // (The plate's entry went with the erasure: list it again.)
    c.post(node.at("/api/v1/hotlist"))
        .json(&json!([{"plate": "B 55 DPO", "country": "RO", "reason": "stolen", "priority": 1, "agency": "ro-igpf"}]))
        .send()
        .await
        .unwrap();
    let r = c.post(node.at("/api/v1/reads")).json(&read_json("ro-a", "B-55-DPO", Some("RO"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let alerts: Value = c.get(node.at("/api/v1/alerts")).send().await.unwrap().json().await.unwrap();
    let alert_id = alerts[0]["id"].as_i64().unwrap();
    let event: Value = dpo
        .get(node.at(&format!("/api/v1/subject/events/alert/{alert_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((event["alert"]["id"].as_i64(), event["read"]["plate"].as_str()), (Some(alert_id), Some("B55DPO")));
    let detection = json!({"camera": "ro-a", "time": chrono::Utc::now().to_rfc3339(), "kind": "face", "age_min": 20, "age_max": 30});
    let r = c.post(node.at("/api/v1/detections")).json(&detection).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let det_id = r.json::<Value>().await.unwrap()["ids"][0].as_i64().unwrap();
    let at = node.at(&format!("/api/v1/subject/events/detection/{det_id}"));
    let event: Value = dpo.get(&at).send().await.unwrap().json().await.unwrap();
    assert_eq!(event["detection"]["kind"], "face");
    assert_eq!(dpo.delete(&at).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(dpo.get(&at).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let at = node.at(&format!("/api/v1/subject/events/alert/{alert_id}"));
    assert_eq!(dpo.delete(&at).send().await.unwrap().status(), StatusCode::NO_CONTENT, "the alert goes with its read");
    assert_eq!(dpo.get(&at).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let r = dpo.get(node.at("/api/v1/subject/events/person/1")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(analyst.get(&at).send().await.unwrap().status(), StatusCode::FORBIDDEN, "a DPO's act only");

    // The log still verifies, with every act of this test in it.
    let data = node.dir.path().join("limes-data");
    let out = util::limes(&["audit", "verify", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
