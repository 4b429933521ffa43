//! Hit/no-hit plate queries between links over real mutual TLS, with real audit logs: hits,
//! look-alike hits and misses; refusals by agreement, by budget and of hostile requests, each
//! audited and none evaluated; keys rotating by day. And the point of it all: the partner that
//! answers never sees the asked plate, in its audit log, its database, the requests it received
//! or anything it traced.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::Utc;
use common::free_port;
use limes_agreement::{
    Agreement, Category, Flow, ImageRule, Mode, Onward, Party, PlateRule, Regime, Transfer, TransferBasis,
};
use limes_audit::{Actor, AuditLog, AuditOptions, ExportFilter};
use limes_hitquery::rand_core::OsRng;
use limes_hitquery::{Query, ServerKey};
use limes_link::{Asking, HitQueryConfig, Link, LinkConfig, LinkError, Running, Sighting};
use limes_model::AgencyId;
use limes_plate::{PlateText, normalize};
use reqwest::StatusCode;
use serde_json::Value;

/// Everything every link in this test binary traced, at every level.
fn traced() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Buffer(writer.clone()))
            .init();
        buffer
    })
}

struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Node {
    dir: tempfile::TempDir,
    link: Link,
    audit: AuditLog,
    _running: Running,
}

impl Node {
    async fn start(agency: &str, country: &str, hitquery: HitQueryConfig) -> Self {
        traced();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = LinkConfig { hitquery, ..common::config_at(agency, country, port) };
        let audit =
            AuditLog::open(&dir.path().join("audit"), AuditOptions::new(format!("limes/{agency}/audit"))).unwrap();
        let link = limes_link::open(&dir.path().join("federation"), config, Some(audit.clone())).unwrap();
        let running = link.start().await.unwrap();
        Node { dir, link, audit, _running: running }
    }

    fn agency(&self) -> AgencyId {
        self.link.config().agency.clone()
    }

    fn party(&self, regime: Regime) -> Party {
        let c = self.link.config();
        Party {
            agency: c.agency.to_string(),
            name: c.name.clone(),
            country: c.country.to_string(),
            regime,
            law: "the national act on police data (test)".into(),
            key: self.link.identity().key.public(),
        }
    }

    /// The audit log's readable records.
    fn records(&self) -> Vec<Value> {
        let mut out = Vec::new();
        self.audit.export(&ExportFilter::default(), &mut out).unwrap();
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// A client holding this node's certificate, for `to`'s partners' port: what a partner's
    /// node could send by hand.
    fn raw_client(&self, to: &Node) -> reqwest::Client {
        let tls = limes_link::tls::client_config(self.link.identity(), to.link.identity().fingerprint()).unwrap();
        reqwest::Client::builder().tls_backend_preconfigured(tls).build().unwrap()
    }
}

/// Makes each the other's partner (no message types: these queries are not messages).
fn partners(a: &Node, b: &Node) {
    a.link.add_partner(b.link.anchor().unwrap(), BTreeSet::new(), BTreeSet::new()).unwrap();
    b.link.add_partner(a.link.anchor().unwrap(), BTreeSet::new(), BTreeSet::new()).unwrap();
}

/// A flow from `from` (EU, LED) to `to` (a third country).
fn flow(from: &str, to: &str, category: Category, mode: Mode) -> Flow {
    Flow {
        from: from.into(),
        to: to.into(),
        category,
        mode,
        plates: PlateRule::Clear,
        images: ImageRule::None,
        instrument: "bilateral agreement on border cooperation (test)".into(),
        article: "Art. 8".into(),
        transfer: Some(Transfer {
            basis: TransferBasis::AppropriateSafeguards,
            article: "LED Art. 37(1)(a)".into(),
            reference: "the agreement's data-protection clauses (test)".into(),
        }),
        channel: None,
        purposes: vec!["investigation".into(), "prosecution".into()],
        retention_days: 90,
        onward_transfer: Onward::Forbidden,
        handling_code: None,
        urgent_requests_approved_automatically: false,
        valid_from: None,
        valid_until: None,
    }
}

/// Puts in force, on both nodes, an agreement from `owner` (RO, LED) to `other` (a third
/// country) with `flows`, signed by both.
fn agree(owner: &Node, other: &Node, flows: Vec<Flow>) {
    let today = Utc::now().date_naive();
    let mut a = Agreement {
        format: limes_agreement::document::FORMAT.into(),
        id: format!("TEST/{}-{}", owner.agency(), other.agency()),
        title: "hit/no-hit between test nodes".into(),
        valid_from: today - chrono::Duration::days(1),
        valid_until: today + chrono::Duration::days(365),
        parties: vec![owner.party(Regime::Led), other.party(Regime::ThirdCountry)],
        flows,
        witnesses: vec![],
        signatures: vec![],
    };
    for n in [owner, other] {
        limes_agreement::sign::sign(&mut a, n.agency().as_str(), &n.link.identity().key).unwrap();
    }
    for n in [owner, other] {
        n.link.add_agreement(&a.to_toml()).unwrap();
    }
}

fn hit_no_hit(owner: &Node, asker: &Node) -> Vec<Flow> {
    vec![flow(owner.agency().as_str(), asker.agency().as_str(), Category::PlateReads, Mode::HitNoHit)]
}

fn plate(text: &str) -> PlateText {
    normalize(text, None).unwrap().text
}

fn asking(purpose: &str) -> Asking {
    Asking {
        actor: Actor::User("olena".into()),
        role: "investigator".into(),
        purpose: purpose.into(),
        legal_basis: "Criminal Procedure Code art. 93 (test)".into(),
        case_ref: Some("UA-2026/55".into()),
    }
}

fn config() -> HitQueryConfig {
    HitQueryConfig { pad_to_multiple: 16, ..HitQueryConfig::default() }
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

fn owner_records(node: &Node, object: &str) -> Vec<Value> {
    node.records().into_iter().filter(|r| r["object"] == object).collect()
}

/// A request for `n` plates under `key`, as the asker's link would send it.
fn request_json(key: &limes_hitquery::PublicKey, n: usize) -> String {
    let plates: Vec<PlateText> = (0..n).map(|i| plate(&format!("CJ {:02} TST", i + 10))).collect();
    Query::new(&mut OsRng, key, &plates).unwrap().1.to_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_learns_hits_look_alikes_and_misses_and_the_owner_never_sees_the_plate() {
    let ro = Node::start("ro-igpf", "RO", config()).await;
    let ua = Node::start("ua-dpsu", "UA", config()).await;
    partners(&ro, &ua);
    agree(&ro, &ua, hit_no_hit(&ro, &ua));
    let capture = ro.dir.path().join("capture");
    ro.link.capture_batches(&capture).unwrap();
    assert!(ro.link.answers_hit_queries());
    assert!(!ua.link.answers_hit_queries(), "the agreement lets no plate reads flow from ua-dpsu");

    // The owner's sightings of the window (synthetic plates).
    let now = Utc::now();
    let seen = [("B 01 ABC", vec![11, 17]), ("CJ 07 XYZ", vec![12]), ("SV 42 BOR", vec![13, 14, 15])];
    let sightings = seen.iter().map(|(p, reads)| Sighting { plate: plate(p), reads: reads.clone() }).collect();
    let report = ro.link.publish_sightings(sightings, now).await.unwrap();
    assert_eq!((report.plates, report.new_plates, report.rebuilt), (3, 3, true));
    let (from, until) = ro.link.sighting_window(now);
    assert_eq!(until - from, chrono::Duration::days(7));
    assert!(from <= now && now < until);

    // The asker: a plate seen as written, the same plate as a camera misreads it (8 for B), and
    // one not seen.
    let asked = ["B 01 ABC", "8 01 ABC", "AB 12 CDE"];
    let plates: Vec<PlateText> = asked.iter().map(|p| plate(p)).collect();
    assert_eq!(plates.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["B01ABC", "801ABC", "AB12CDE"]);
    assert_eq!(ua.link.hitquery_partners("investigation"), vec![ro.agency()]);
    assert!(ua.link.hitquery_partners("detection").is_empty(), "the agreement's purposes do not name detection");
    let answers = ua.link.ask_plates(&ro.agency(), &plates, &asking("investigation")).await.unwrap();
    let exact = answers[0].exact.expect("the plate seen is an exact hit");
    assert_eq!(answers[0].folded.len(), 1);
    assert_eq!((answers[1].exact, &answers[1].folded), (None, &answers[0].folded), "a look-alike hit");
    assert!(!answers[2].is_hit(), "a miss");

    // The references resolve at the owner, to the plate and its reads (a full-data request).
    let resolved = ro.link.resolve_reference(&exact).unwrap().unwrap();
    assert_eq!((resolved.plate.as_str(), resolved.exact, &resolved.reads[..]), ("B01ABC", true, &[11, 17][..]));
    let folded = ro.link.resolve_reference(&answers[1].folded[0]).unwrap().unwrap();
    assert_eq!((folded.plate.as_str(), folded.exact), ("B01ABC", false));
    assert_eq!(resolved.key_day, now.date_naive());

    // The same sightings again (and a plate seen once more): the same set, the same
    // references; the asker's cached set is still good.
    let again = vec![
        Sighting { plate: plate("B 01 ABC"), reads: vec![17, 11, 20] },
        Sighting { plate: plate("CJ 07 XYZ"), reads: vec![12] },
        Sighting { plate: plate("SV 42 BOR"), reads: vec![13, 14, 15] },
    ];
    let report2 = ro.link.publish_sightings(again, now).await.unwrap();
    assert_eq!((report2.rebuilt, report2.new_plates, &report2.digest), (false, 0, &report.digest));
    assert_eq!(ro.link.resolve_reference(&exact).unwrap().unwrap().reads, vec![11, 17, 20]);
    let answers2 = ua.link.ask_plates(&ro.agency(), &plates[..1], &asking("investigation")).await.unwrap();
    assert_eq!(answers2[0].exact, Some(exact));

    // The owner's audit log: one set sent (the second ask used the cached copy), two
    // evaluations, with their element counts and the agreement's rules.
    let sets = owner_records(&ro, "hitquery:set");
    assert_eq!(sets.len(), 1, "{sets:#?}");
    assert_eq!((sets[0]["action"].as_str(), sets[0]["actor"].as_str()), (Some("transfer"), Some("node:ua-dpsu")));
    let evaluations = owner_records(&ro, "hitquery:evaluate");
    assert_eq!(evaluations.len(), 2, "{evaluations:#?}");
    let elements: Vec<u64> = evaluations.iter().map(|r| r["details"]["elements"].as_u64().unwrap()).collect();
    assert_eq!(elements, [6, 2]);
    for r in &evaluations {
        assert_eq!((r["action"].as_str(), r["outcome"].as_str()), (Some("consult"), Some("allowed")), "{r}");
        assert_eq!(r["actor"], "node:ua-dpsu");
        assert_eq!(r["purpose"], "investigation");
        assert_eq!(r["details"]["decision"], "evaluated");
        assert!(r["details"]["rules"].as_array().unwrap().iter().any(|rule| rule == "ro-igpf>ua-dpsu:plate-reads"));
    }

    // The asker's own log: each plate asked, why, for which case, and the answer.
    let mine: Vec<Value> = ua.records().into_iter().filter(|r| r["details"]["query"] == "hit-no-hit").collect();
    assert_eq!(mine.len(), 4);
    let of = |p: &str| mine.iter().find(|r| r["object"] == format!("plate:{p}")).unwrap();
    assert_eq!(of("801ABC")["details"]["hit"], true);
    assert_eq!(of("801ABC")["details"]["exact_reference"], Value::Null);
    assert_eq!(of("AB12CDE")["details"]["hit"], false);
    assert_eq!(of("AB12CDE")["case_ref"], "UA-2026/55");
    assert_eq!(of("AB12CDE")["actor"], "user:olena");
    assert_eq!(of("AB12CDE")["details"]["partner"], "ro-igpf");
    assert_eq!(of("AB12CDE")["details"]["set"], report.digest);

    // Nowhere at the owner: not in its audit log (records and file), not in the requests it
    // received, not in anything it (or the asker) traced; the plates it never saw not in its
    // database either. The asker's own log holds them (so the search finds what is there).
    let captured = bytes_under(&capture);
    let evaluations = std::fs::read_dir(&capture)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with("-hitquery-evaluate.json"))
        .count();
    // (Besides them: batches carrying only the partner's audit checkpoint.)
    assert_eq!(evaluations, 2, "two evaluate requests captured");
    assert!(contains(&captured, "\"elements\""), "the requests were captured");
    let owner_audit = [serde_json::to_vec(&ro.records()).unwrap(), bytes_under(&ro.dir.path().join("audit"))].concat();
    let owner_db = bytes_under(&ro.dir.path().join("federation"));
    let traced = traced().lock().unwrap().clone();
    assert!(contains(&traced, "published the hit/no-hit set"), "the tracing buffer holds the links' output");
    let asker_audit = serde_json::to_vec(&ua.records()).unwrap();
    for (text, seen_by_owner) in [
        ("B 01 ABC", true),
        ("B01ABC", true),
        ("8 01 ABC", false),
        ("801ABC", false),
        ("AB 12 CDE", false),
        ("AB12CDE", false),
    ] {
        assert!(!contains(&owner_audit, text), "{text} in the owner's audit log");
        assert!(!contains(&captured, text), "{text} in a request the owner received");
        assert!(!contains(&traced, text), "{text} traced");
        // The owner's database holds its own sightings' plates, and only those.
        assert_eq!(contains(&owner_db, text), seen_by_owner && !text.contains(' '), "{text} in federation.sqlite");
        if !text.contains(' ') {
            assert!(contains(&asker_audit, text), "{text} is in the asker's own log");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_by_agreement_budget_and_hostile_requests_are_audited_and_nothing_is_evaluated() {
    // A budget of one full request (16 plates), and one plate more a day.
    let budget = HitQueryConfig { burst: 32, refill: 2, refill_every: Duration::from_secs(24 * 3600), ..config() };
    let ro = Node::start("ro-igpf", "RO", budget).await;
    let ua = Node::start("ua-dpsu", "UA", config()).await;
    let md = Node::start("md-igp", "MD", config()).await;
    partners(&ro, &ua);
    partners(&ro, &md);
    agree(&ro, &ua, hit_no_hit(&ro, &ua));
    // Moldova: alerts only, no plate reads.
    agree(&ro, &md, vec![flow("ro-igpf", "md-igp", Category::Alerts, Mode::Push)]);
    let capture = ro.dir.path().join("capture");
    ro.link.capture_batches(&capture).unwrap();
    let sightings = vec![Sighting { plate: plate("B 01 ABC"), reads: vec![1] }];
    ro.link.publish_sightings(sightings, Utc::now()).await.unwrap();
    let base = format!("{}/federation/v1/hitquery", ro.link.config().url);
    let one = [plate("B 01 ABC")];

    // No hit/no-hit flow: the asker's own link does not ask, and the owner refuses the set and
    // any evaluation by hand.
    let e = md.link.ask_plates(&ro.agency(), &one, &asking("investigation")).await.unwrap_err();
    assert!(matches!(e, LinkError::NotAgreed { .. }), "{e}");
    assert!(md.link.hitquery_partners("investigation").is_empty());
    let md_client = md.raw_client(&ro);
    let key = ServerKey::from_seed(&[1; 32]).public_key();
    let r = md_client.get(format!("{base}/set")).header("limes-purpose", "investigation").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = md_client
        .post(format!("{base}/evaluate"))
        .header("limes-purpose", "investigation")
        .body(request_json(&key, 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "not_agreed", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("lets no plate reads (sightings) flow from ro-igpf to md-igp"),
        "{body}"
    );
    // A purpose the agreement does not name, from the partner it does allow.
    let e = ua.link.ask_plates(&ro.agency(), &one, &asking("detection")).await.unwrap_err();
    assert!(matches!(e, LinkError::NotAgreed { .. }), "{e}");
    let ua_client = ua.raw_client(&ro);
    let r = ua_client.get(format!("{base}/set")).header("limes-purpose", "detection").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Hostile requests from an allowed partner: each refused with what was wrong.
    let set = ua_client.get(format!("{base}/set")).header("limes-purpose", "investigation").send().await.unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let set = limes_hitquery::PublishedSet::from_bytes(&set.bytes().await.unwrap()).unwrap();
    let post = |body: String, purpose: Option<&str>| {
        let mut req = ua_client.post(format!("{base}/evaluate")).body(body);
        if let Some(p) = purpose {
            req = req.header("limes-purpose", p);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let elements = |n: usize| serde_json::to_string(&vec!["AAAA"; n]).unwrap();
    let cases = [
        (request_json(set.key(), 1), None, StatusCode::BAD_REQUEST, "no_purpose"),
        ("{not json".to_owned(), Some("investigation"), StatusCode::BAD_REQUEST, "malformed"),
        (
            format!(r#"{{"version":2,"key":"{}","elements":{}}}"#, set.key(), elements(2)),
            Some("investigation"),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            format!(r#"{{"version":1,"key":"{}","elements":{}}}"#, set.key(), elements(2)),
            Some("investigation"),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            format!(r#"{{"version":1,"key":"{}","elements":{}}}"#, set.key(), elements(33)),
            Some("investigation"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "oversized",
        ),
        (format!("[{}]", "1,".repeat(5000)), Some("investigation"), StatusCode::PAYLOAD_TOO_LARGE, "oversized"),
        (request_json(&key, 1), Some("investigation"), StatusCode::CONFLICT, "wrong_key"),
        (request_json(set.key(), 1), Some("Investigation!"), StatusCode::BAD_REQUEST, "no_purpose"),
    ];
    for (body, purpose, status, code) in &cases {
        let (got, answer) = post(body.clone(), *purpose).await;
        assert_eq!((got, answer["code"].as_str()), (*status, Some(*code)), "{answer}");
        assert!(!answer["error"].as_str().unwrap().is_empty());
    }

    // None of that was charged: the whole budget is one request of 16 plates.
    let sixteen: Vec<PlateText> = (0..16).map(|i| plate(&format!("B {:02} ABC", i + 1))).collect();
    let answers = ua.link.ask_plates(&ro.agency(), &sixteen, &asking("investigation")).await.unwrap();
    assert!(answers[0].is_hit() && !answers[1].is_hit());
    // Beyond it: 429 with how long to wait, and nothing evaluated.
    let e = ua.link.ask_plates(&ro.agency(), &one, &asking("investigation")).await.unwrap_err();
    match &e {
        LinkError::PartnerRefused { status: 429, code, retry_after: Some(wait), .. } => {
            assert_eq!(code, "rate_limited");
            assert!(*wait > Duration::from_secs(23 * 3600) && *wait <= Duration::from_secs(24 * 3600), "{wait:?}");
        }
        other => panic!("expected a rate-limit refusal, got {other}"),
    }
    let (status, answer) = post(request_json(set.key(), 1), Some("investigation")).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
    // Moldova's budget is its own, but its agreement still refuses.
    let (status, _) = {
        let r = md_client
            .post(format!("{base}/evaluate"))
            .header("limes-purpose", "investigation")
            .body(request_json(set.key(), 1))
            .send()
            .await
            .unwrap();
        (r.status(), ())
    };
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The owner's log: exactly one evaluation, and a denial for every refusal, with its code.
    let records = ro.records();
    let of = |actor: &str, action: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|r| {
                r["actor"] == actor && r["action"] == action && r["object"].as_str().unwrap().starts_with("hitquery:")
            })
            .collect()
    };
    let evaluated = of("node:ua-dpsu", "consult");
    assert_eq!(evaluated.len(), 1, "{evaluated:#?}");
    assert_eq!(evaluated[0]["details"]["elements"], 32);
    assert_eq!(evaluated[0]["details"]["remaining"], 0);
    let codes = |actor: &str| -> Vec<String> {
        of(actor, "denied").iter().map(|r| r["details"]["code"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(codes("node:md-igp"), ["not_agreed", "not_agreed", "not_agreed"]);
    let mut want: Vec<String> = ["not_agreed"].into_iter().chain(cases.iter().map(|c| c.3)).map(String::from).collect();
    want.extend(["rate_limited".to_owned(), "rate_limited".to_owned()]);
    assert_eq!(codes("node:ua-dpsu"), want);
    for r in of("node:md-igp", "denied").into_iter().chain(of("node:ua-dpsu", "denied")) {
        assert_eq!(r["outcome"], "denied");
        assert!(r["details"]["error"].is_string(), "{r}");
    }
    let limited = of("node:ua-dpsu", "denied").into_iter().rfind(|r| r["details"]["code"] == "rate_limited").unwrap();
    assert_eq!(limited["details"]["elements"], 2);
    assert!(limited["details"]["retry_after"].as_u64().unwrap() > 23 * 3600);
    assert!(
        limited["details"]["rules"].as_array().unwrap().iter().any(|r| r == "ro-igpf>ua-dpsu:plate-reads"),
        "{limited}"
    );
    // Every evaluate request was captured as it arrived, refused ones included (besides them:
    // batches carrying only a partner's audit checkpoint).
    let captured = std::fs::read_dir(&capture)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with("-hitquery-evaluate.json"))
        .count();
    assert_eq!(captured, 2 + cases.len() + 2 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_by_day_the_previous_one_is_still_answered_and_older_seeds_are_deleted() {
    let ro = Node::start("ro-igpf", "RO", config()).await;
    let ua = Node::start("ua-dpsu", "UA", config()).await;
    partners(&ro, &ua);
    agree(&ro, &ua, hit_no_hit(&ro, &ua));
    let day = |n: i64| Utc::now() + chrono::Duration::days(n);
    let seen = || vec![Sighting { plate: plate("B 01 ABC"), reads: vec![1] }];
    let base = format!("{}/federation/v1/hitquery", ro.link.config().url);
    let client = ua.raw_client(&ro);
    let fetch = || async {
        let r = client.get(format!("{base}/set")).header("limes-purpose", "investigation").send().await.unwrap();
        limes_hitquery::PublishedSet::from_bytes(&r.bytes().await.unwrap()).unwrap()
    };
    let evaluate = |key: limes_hitquery::PublicKey| {
        let req = client
            .post(format!("{base}/evaluate"))
            .header("limes-purpose", "investigation")
            .body(request_json(&key, 1));
        async move { req.send().await.unwrap().status() }
    };
    let seeds = || {
        let mut names: Vec<String> = std::fs::read_dir(ro.dir.path().join("federation/hitquery"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    let first = ro.link.publish_sightings(seen(), day(0)).await.unwrap();
    let set0 = fetch().await;
    let exact0 = ua.link.ask_plates(&ro.agency(), &[plate("B 01 ABC")], &asking("investigation")).await.unwrap()[0]
        .exact
        .unwrap();
    // The next day: a new key, new references, a new set; the asker notices and fetches it.
    let second = ro.link.publish_sightings(seen(), day(1)).await.unwrap();
    assert!(second.rebuilt && second.new_plates == 1 && second.digest != first.digest);
    let set1 = fetch().await;
    assert_ne!(set1.key(), set0.key());
    let exact1 = ua.link.ask_plates(&ro.agency(), &[plate("B 01 ABC")], &asking("investigation")).await.unwrap()[0]
        .exact
        .unwrap();
    assert_ne!(exact1, exact0, "each window has its own references");
    // A request under yesterday's key, in flight across midnight, is still answered.
    assert_eq!(evaluate(*set0.key()).await, StatusCode::OK);
    assert_eq!(seeds(), [format!("{}.seed", day(0).date_naive()), format!("{}.seed", day(1).date_naive())]);
    // The day after: the first key is gone, from memory and disk; its references still resolve.
    ro.link.publish_sightings(seen(), day(2)).await.unwrap();
    assert_eq!(evaluate(*set0.key()).await, StatusCode::CONFLICT);
    assert_eq!(evaluate(*set1.key()).await, StatusCode::OK);
    assert_eq!(seeds(), [format!("{}.seed", day(1).date_naive()), format!("{}.seed", day(2).date_naive())]);
    assert!(ro.link.resolve_reference(&exact0).unwrap().is_some());
    // A window's references resolve for `window_days` after its key's day, then go.
    ro.link.publish_sightings(seen(), day(8)).await.unwrap();
    assert!(ro.link.resolve_reference(&exact0).unwrap().is_none());
    assert!(ro.link.resolve_reference(&exact1).unwrap().is_some());
    // An asker with a set that no longer covers the present refuses to use it.
    ro.link.publish_sightings(seen(), day(-3)).await.unwrap();
    let e = ua.link.ask_plates(&ro.agency(), &[plate("B 01 ABC")], &asking("investigation")).await.unwrap_err();
    assert!(e.to_string().contains("not the present"), "{e}");
}
