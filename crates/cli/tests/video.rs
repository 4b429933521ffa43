//! The node's own recording against a real camera: GStreamer's RTSP server
//! (`scripts/rtsp-test-server`) streaming H.264 and H.265, recorded by the real `limes` binary
//! from its `[[video.streams]]`, watched through the monitoring API, kept within its byte
//! budget; and `limes record` from the command line.

mod util;

use std::time::{Duration, Instant};

use serde_json::Value;
use util::TestNode;
use util::rtsp::Server as RtspServer;

async fn get(node: &TestNode, path: &str) -> Value {
    let r = node.session_client().get(node.at(path)).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

/// Waits up to 30 s for `probe` to give something.
async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < until, "not within 30 s: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

const BUDGET: u64 = 150_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_records_its_streams_monitors_them_and_keeps_them_within_the_budget() {
    let camera = RtspServer::start(0);
    let streams = format!(
        "\n[[video.streams]]\ncamera = \"ro-siret-1\"\nurl = \"{}\"\nsegment_seconds = 1\n\n\
         [[video.streams]]\ncamera = \"ro-siret-2\"\nurl = \"{}\"\nsegment_seconds = 1\n\n\
         [[video.streams]]\ncamera = \"ro-siret-3\"\nurl = \"rtsp://127.0.0.1:9/nothing\"\n",
        camera.url("h264"),
        camera.url("h265")
    );
    let node = TestNode::start_edited(|c| {
        c.replace("check_every_seconds = 60", "check_every_seconds = 1")
            .replace("max_bytes = 0", &format!("max_bytes = {BUDGET}"))
            + &streams
    });

    // Both cameras play and close segments; the one nobody answers at says why.
    let statuses = eventually("two segments from each playing camera", async || {
        let all = get(&node, "/api/v1/video/cameras").await;
        let list = all.as_array().unwrap();
        let ok = list.len() == 3
            && list[..2].iter().all(|s| s["connected"] == true && s["segments_recorded"].as_u64() >= Some(2));
        ok.then_some(all)
    })
    .await;
    assert_eq!(statuses[0]["codec"], "h264", "{statuses}");
    assert_eq!(statuses[1]["codec"], "h265", "{statuses}");
    let dead = &statuses[2];
    assert_eq!((dead["camera"].as_str(), dead["connected"].as_bool()), (Some("ro-siret-3"), Some(false)), "{dead}");
    assert!(dead["last_error"].as_str().is_some_and(|e| e.contains("127.0.0.1:9")), "{dead}");

    let segments = get(&node, "/api/v1/cameras/ro-siret-2/recordings").await;
    let list = segments.as_array().unwrap();
    assert!(!list.is_empty());
    for (i, s) in list.iter().enumerate() {
        assert_eq!(
            (s["codec"].as_str(), s["width"].as_u64(), s["height"].as_u64()),
            (Some("h265"), Some(320), Some(240))
        );
        assert!(s["frames"].as_u64() > Some(0) && s["bytes"].as_u64() > Some(0), "{s}");
        if i > 0 {
            let gap = time(&s["start"]) - time(&list[i - 1]["end"]);
            // Segments of one session follow one another without overlapping, even where the clock
            // was pulled back between them (design/recording.md, "Clock").
            assert!(gap >= chrono::Duration::zero(), "in order: {gap} between {segments}");
        }
    }
    // A range: only what overlaps it (up to the middle of the first segment).
    let middle = time(&list[0]["start"]) + (time(&list[0]["end"]) - time(&list[0]["start"])) / 2;
    let to = middle.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let before = get(&node, &format!("/api/v1/cameras/ro-siret-2/recordings?to={to}")).await;
    assert_eq!(before.as_array().unwrap().len(), 1, "{before}");
    let r = node
        .session_client()
        .get(node.at("/api/v1/cameras/ro-siret-2/recordings?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);

    // Past the budget the oldest go, whichever camera: what is kept stays near it while the
    // cameras record on.
    let kept = eventually("segments deleted to keep within the budget", async || {
        let recorded: u64 = get(&node, "/api/v1/video/cameras")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["segments_recorded"].as_u64().unwrap())
            .sum();
        let mut kept = Vec::new();
        for cam in ["ro-siret-1", "ro-siret-2"] {
            kept.extend(get(&node, &format!("/api/v1/cameras/{cam}/recordings")).await.as_array().unwrap().clone());
        }
        (kept.len() as u64 + 2 < recorded).then_some(kept)
    })
    .await;
    let bytes: u64 = kept.iter().map(|s| s["bytes"].as_u64().unwrap()).sum();
    let largest = kept.iter().map(|s| s["bytes"].as_u64().unwrap()).max().unwrap();
    // Retention runs every second: up to two seconds of segments may have closed since.
    assert!(bytes <= BUDGET + 4 * largest, "{bytes} bytes kept of a {BUDGET}-byte budget");
    // The files on disk are the ones the index keeps.
    let on_disk: usize = ["ro-siret-1", "ro-siret-2"]
        .iter()
        .map(|c| std::fs::read_dir(node.dir.path().join("limes-data/recordings").join(c)).unwrap().count())
        .sum();
    assert!(on_disk <= kept.len() + 4, "{on_disk} files, {} segments", kept.len());
}

#[test]
fn a_stream_named_wrong_stops_the_node_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = util::write_config(dir.path());
    for (stream, says) in [
        ("camera = \"a\"\nurl = \"http://127.0.0.1/x\"", "rtsp"),
        ("camera = \"a\"\nurl = \"rtsp://127.0.0.1/x\"\nusername = \"u\"", "password_env"),
        (
            "camera = \"a\"\nurl = \"rtsp://127.0.0.1/x\"\nusername = \"u\"\npassword_env = \"LIMES_TEST_UNSET_VAR\"",
            "LIMES_TEST_UNSET_VAR",
        ),
    ] {
        let text = std::fs::read_to_string(&config).unwrap();
        let edited = dir.path().join("edited.toml");
        std::fs::write(&edited, format!("{text}\n[[video.streams]]\n{stream}\n")).unwrap();
        let out = std::process::Command::new(util::limes_bin())
            .args(["serve", "--config"])
            .arg(&edited)
            .env_remove("LIMES_TEST_UNSET_VAR")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stream}: started");
        assert!(err.contains("video.streams") && err.contains(says), "{stream}: {err}");
    }
}

#[test]
fn limes_record_writes_indexed_segments_into_a_data_folder() {
    let camera = RtspServer::start(0);
    let dir = tempfile::tempdir().unwrap();
    let out = util::limes(&[
        "record",
        &camera.url("h264"),
        "--camera",
        "cz-gate-1",
        "--data",
        dir.path().to_str().unwrap(),
        "--seconds",
        "3.5",
        "--segment-seconds",
        "1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() >= 2, "{lines:?}");
    for l in &lines {
        assert_eq!(l["codec"], "h264");
        let file = dir.path().join("recordings").join(l["file"].as_str().unwrap());
        assert_eq!(std::fs::metadata(&file).unwrap().len(), l["bytes"].as_u64().unwrap(), "{}", file.display());
    }
    let store = limes_store::Store::open(dir.path(), limes_store::StoreOptions::default()).unwrap();
    assert_eq!(store.recordings(None).unwrap().len(), lines.len());
    // A URL that is not a camera's: a clear error, nothing written.
    let out = util::limes(&["record", "ftp://x/y", "--camera", "c", "--data", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ftp://x/y"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The video view in a real browser (`web/tests/video.mjs`, playwright-core driving Debian's
/// Chromium): an H.264 and an H.265 camera playing live in the grid (the H.265 one transcoded by
/// ffmpeg for viewing), their recordings played from the timeline, axe-core clean; then the API
/// refuses a range that is not one, and the audit log has the views.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_video_view_plays_cameras_live_and_their_recordings() {
    let camera = RtspServer::start(0);
    let streams = format!(
        "\n[[video.streams]]\ncamera = \"cz-gate-264\"\nurl = \"{}\"\nsegment_seconds = 2\n\n\
         [[video.streams]]\ncamera = \"cz-gate-265\"\nurl = \"{}\"\nsegment_seconds = 2\n",
        camera.url("h264"),
        camera.url("h265")
    );
    let node = TestNode::start_edited(|c| c + &streams);
    // Some seconds recorded first, for the timeline.
    eventually("segments of both cameras", async || {
        let all = get(&node, "/api/v1/video/cameras").await;
        all.as_array().unwrap().iter().all(|s| s["segments_recorded"].as_u64() >= Some(5)).then_some(())
    })
    .await;

    let report = util::browser_test(
        "video.mjs",
        &[("LIMES_URL", node.url.trim_end_matches('/')), ("LIMES_CAMERAS", "cz-gate-264,cz-gate-265")],
    )
    .await;
    eprintln!("video view: {report}");
    for view in ["video_live", "video_recordings", "video_clips"] {
        assert_eq!(report[format!("axe_{view}")], "0 violations (light, dark)", "{report}");
    }
    for c in ["cz-gate-264", "cz-gate-265"] {
        assert_eq!(report[format!("played_{c}")], true, "{report}");
    }

    // The API's own refusals: a range backwards or too long, a camera not recorded here.
    let c = node.session_client();
    for (path, status) in [
        ("/api/v1/cameras/cz-gate-264/video.mp4?from=2026-01-01T00:10:00Z&to=2026-01-01T00:00:00Z", 400),
        ("/api/v1/cameras/cz-gate-264/video.mp4?from=2026-01-01T00:00:00Z&to=2026-01-01T02:00:00Z", 400),
        ("/api/v1/cameras/cz-gate-264/video.mp4?from=2020-01-01T00:00:00Z&to=2020-01-01T00:01:00Z", 404),
        ("/api/v1/cameras/cz-nowhere/live.mp4", 404),
    ] {
        let r = c.get(node.at(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}: {}", r.text().await.unwrap());
    }
    // Every view is in the audit log, under the purpose of the session.
    let records = util::audit_records(&node, &["--object", "camera:cz-gate-265"]);
    assert!(records.iter().any(|r| r["action"] == "consult" && r["purpose"] == "investigation"), "{records:#?}");
}

/// The top-level boxes of an MP4 byte string, as (type, size), as far as they are whole.
fn boxes(mut bytes: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    while bytes.len() >= 8 {
        let size = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        if size < 8 || size > bytes.len() {
            break;
        }
        out.push((String::from_utf8_lossy(&bytes[4..8]).into_owned(), size));
        bytes = &bytes[size..];
    }
    out
}

/// Reads a live stream to its end (at most `limit`): the bytes, and when it ended.
async fn read_to_end(r: reqwest::Response, limit: Duration) -> (Vec<u8>, Option<Instant>) {
    use futures::StreamExt;
    let mut body = r.bytes_stream();
    let mut bytes = Vec::new();
    let ended = tokio::time::timeout(limit, async {
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(c) => bytes.extend_from_slice(&c),
                Err(_) => break,
            }
        }
    })
    .await;
    (bytes, ended.ok().map(|()| Instant::now()))
}

/// The Romanian border police's node recording the test camera `ro-siret-1` (1 s segments) and
/// the Ukrainian border guard's, partners under an agreement with incidents both ways and, from
/// the Romanian side, live video and images (clips) in clear, clips pushed.
fn border_nodes() -> (RtspServer, TestNode, TestNode) {
    border_nodes_sharing_clips(limes_agreement::Mode::Push)
}

/// [`border_nodes`], with the Romanian side's clips shared in `mode`.
fn border_nodes_sharing_clips(mode: limes_agreement::Mode) -> (RtspServer, TestNode, TestNode) {
    border_nodes_watching(RtspServer::start(0), "h264", mode, &util::models())
}

/// [`border_nodes_sharing_clips`], the camera `ro-siret-1` being `camera`'s stream `path`; the
/// Romanian node anonymises what it shares with the models in `models`.
fn border_nodes_watching(
    camera: RtspServer,
    path: &str,
    mode: limes_agreement::Mode,
    models: &str,
) -> (RtspServer, TestNode, TestNode) {
    use limes_agreement::Category::{Images, Incidents, LiveVideo};
    use util::fed::*;
    let stream = format!(
        "\n[[video.streams]]\ncamera = \"ro-siret-1\"\nurl = \"{}\"\nsegment_seconds = 1\n\n[analysis]\nmodels = \"{}\"\n",
        camera.url(path),
        models
    );
    let ro = fed_node_edited("ro-igpf", "RO", |c| c + &stream);
    let ua = fed_node("ua-dpsu", "UA");
    let (ro_anchor, ua_anchor) = (export_anchor(&ro), export_anchor(&ua));
    add_partner(&ro, &ua_anchor, "incident,live-grant,clip,released", "incident");
    add_partner(&ua, &ro_anchor, "incident", "incident,live-grant,clip,released");
    let mut agreement = agreement_of(
        [party_of(&ro_anchor), party_of(&ua_anchor)],
        &[
            ("ro-igpf", "ua-dpsu", Incidents),
            ("ua-dpsu", "ro-igpf", Incidents),
            ("ro-igpf", "ua-dpsu", LiveVideo),
            ("ro-igpf", "ua-dpsu", Images),
        ],
    );
    for f in agreement.flows.iter_mut().filter(|f| matches!(f.category, LiveVideo | Images)) {
        f.images = limes_agreement::ImageRule::Clear;
    }
    for f in agreement.flows.iter_mut().filter(|f| f.category == Images) {
        f.mode = mode;
    }
    agree(&ro, &ua, &agreement);
    (camera, ro, ua)
}

/// A time the API gives.
fn time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().with_timezone(&chrono::Utc)
}

/// Once `node` has recorded four seconds of `ro-siret-1`: a span inside them, from 300 ms into
/// the second segment to the start of the fourth.
async fn recorded_span(node: &TestNode) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let first = eventually("four closed segments", async || {
        let list = get(node, "/api/v1/cameras/ro-siret-1/recordings").await;
        let list = list.as_array().unwrap().clone();
        (list.len() >= 4).then_some(list)
    })
    .await;
    (time(&first[1]["start"]) + chrono::Duration::milliseconds(300), time(&first[3]["start"]))
}

async fn post(node: &TestNode, c: &reqwest::Client, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
    let r = c.post(node.at(path)).json(&body).send().await.unwrap();
    let status = r.status();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

/// Live video across the border, between two real nodes: the Romanian border police's
/// supervisor lets the Ukrainian border guard watch a Siret camera during a declared incident;
/// the Ukrainian node's person watches it, relayed over the partners' mutual TLS, until the grant
/// ends, when both nodes cut it; a second grant is revoked while it is watched and the view ends
/// at once; after that nothing is relayed; both audit logs hold every view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_watches_a_camera_live_under_a_grant_until_it_expires_or_is_revoked() {
    use reqwest::StatusCode;
    use serde_json::json;
    use util::fed::*;

    let (_camera, ro, ua) = border_nodes();
    let (ro_c, ua_c) = (ro.session_client(), ua.session_client());

    // A declared incident that involves the Ukrainian side, and a camera that plays.
    let (status, incident) = post(
        &ro,
        &ro_c,
        "/api/v1/incidents",
        json!({
            "type": "pursuit", "severity": "high", "title": "Van fleeing towards Porubne",
            "description": "White van, no plates, heading north on DN2.",
            "area": {"type": "Point", "coordinates": [26.05, 47.95]}, "notified": ["ua-dpsu"]
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    let incident = incident["id"].as_str().unwrap().to_owned();
    eventually("the camera playing", async || {
        let all = get(&ro, "/api/v1/video/cameras").await;
        (all[0]["connected"] == true).then_some(())
    })
    .await;

    // What a grant may not be.
    let grant = |camera: &str, incident: &str, seconds: u64| json!({"partner": "ua-dpsu", "camera": camera, "incident": incident, "seconds": seconds});
    for (body, status, says) in [
        (grant("ro-nowhere", &incident, 60), 404, "not recorded"),
        (grant("ro-siret-1", "ro-igpf/99", 60), 422, "no incident"),
        (grant("ro-siret-1", &incident, 0), 422, "1 second to 12 hours"),
        (grant("ro-siret-1", &incident, 13 * 3600), 422, "1 second to 12 hours"),
        (
            json!({"partner": "rs-mup", "camera": "ro-siret-1", "incident": incident, "seconds": 60}),
            422,
            "not a partner",
        ),
        (json!({"camera": "ro-siret-1"}), 400, "partner"),
    ] {
        let (s, answer) = post(&ro, &ro_c, "/api/v1/video/grants", body.clone()).await;
        assert_eq!(s.as_u16(), status, "{body}: {answer}");
        assert!(answer.to_string().contains(says), "{body}: {answer} should say {says:?}");
    }

    // In clear (as the camera sends it, what this test follows frame by frame): only for a case.
    let clear = |camera: &str, incident: &str, seconds: u64| {
        let mut g = grant(camera, incident, seconds);
        g["clear"] = json!(true);
        g
    };
    let (s, e) = post(&ro, &ro_c, "/api/v1/video/grants", clear("ro-siret-1", &incident, 8)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{e}");
    assert!(e["message"].as_str().unwrap().contains("limes-case"), "{e}");
    let ro_case = case_client(&ro);

    // The grant: 8 seconds. The Ukrainian node learns of it and its person watches.
    let (s, first) = post(&ro, &ro_case, "/api/v1/video/grants", clear("ro-siret-1", &incident, 8)).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!((first["id"].as_str(), first["in_force"].as_bool()), (Some("ro-igpf/1"), Some(true)), "{first}");
    assert_eq!(first["clear"], true, "{first}");
    let until =
        chrono::DateTime::parse_from_rfc3339(first["until"].as_str().unwrap()).unwrap().with_timezone(&chrono::Utc);
    wait_for("the grant on the Ukrainian node", async || {
        let list = get(&ua, "/api/v1/video/grants?side=received&in_force=true").await;
        (list[0]["id"] == "ro-igpf/1" && list[0]["clear"] == true).then_some(())
    })
    .await;
    let r = ua_c.get(ua.at("/api/v1/video/grants/ro-igpf/1/live.mp4")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"].to_str().unwrap().starts_with("video/mp4; codecs=\"avc1."),
        "{:?}",
        r.headers()
    );
    assert!(r.headers().contains_key("limes-start"));
    let (bytes, ended) = read_to_end(r, Duration::from_secs(30)).await;
    let ended = ended.expect("the view ends with the grant");
    let late = chrono::Utc::now() - until - chrono::Duration::from_std(ended.elapsed()).unwrap();
    assert!(late > -chrono::Duration::milliseconds(500), "ended {late} after the grant's end: too soon");
    assert!(late < chrono::Duration::seconds(3), "ended {late} after the grant's end: too late");
    let b = boxes(&bytes);
    assert_eq!(b.first().map(|(t, _)| t.as_str()), Some("ftyp"), "{b:?}");
    let fragments = b.iter().filter(|(t, _)| t == "moof").count();
    eprintln!("relayed {fragments} fragments ({} bytes); the view ended {late} after the grant", bytes.len());
    assert!(fragments >= 20, "seconds of fragments relayed: {b:?}");

    // Expired: neither node relays any more.
    let r = ua_c.get(ua.at("/api/v1/video/grants/ro-igpf/1/live.mp4")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("ended"));
    let r = ua_c.get(ua.at("/api/v1/video/grants/ro-igpf/7/live.mp4")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A second grant, revoked while the view runs: the view ends within seconds, and the
    // Ukrainian node's copy says who revoked it.
    let (s, second) = post(&ro, &ro_case, "/api/v1/video/grants", clear("ro-siret-1", &incident, 600)).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    wait_for("the second grant on the Ukrainian node", async || {
        let list = get(&ua, "/api/v1/video/grants?side=received&in_force=true").await;
        (list[0]["id"] == "ro-igpf/2").then_some(())
    })
    .await;
    let r = ua_c.get(ua.at("/api/v1/video/grants/ro-igpf/2/live.mp4")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let watching = tokio::spawn(read_to_end(r, Duration::from_secs(60)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (s, revoked) = post(&ro, &ro_c, "/api/v1/video/grants/ro-igpf/2/revoke", json!({})).await;
    let revoked_at = Instant::now();
    assert_eq!(s, StatusCode::OK, "{revoked}");
    assert_eq!((revoked["in_force"].as_bool(), revoked["revoked"]["by"].as_str()), (Some(false), Some("tester")));
    let (bytes, ended) = watching.await.unwrap();
    let ended = ended.expect("the view ends at the revocation");
    assert!(
        ended.duration_since(revoked_at) < Duration::from_secs(3),
        "{:?} after the revocation",
        ended.duration_since(revoked_at)
    );
    assert!(boxes(&bytes).iter().any(|(t, _)| t == "moof"));
    let copy = wait_for("the revocation on the Ukrainian node", async || {
        let g = get(&ua, "/api/v1/video/grants?side=received").await;
        let g = g.as_array().unwrap().iter().find(|g| g["id"] == "ro-igpf/2")?.clone();
        g["revoked"].is_object().then_some(g)
    })
    .await;
    assert_eq!(copy["revoked"]["by"], "tester");
    // A partner's node cannot revoke what it was granted, and has nothing of its own to revoke.
    let (s, _) = post(&ua, &ua_c, "/api/v1/video/grants/ro-igpf/1/revoke", json!({})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // The Romanian log: each relayed view, with the partner and its person; the Ukrainian log:
    // its person's views.
    let relayed = util::audit_records(&ro, &["--object", "camera:ro-siret-1"]);
    let transfers: Vec<_> = relayed.iter().filter(|r| r["action"] == "transfer").collect();
    assert_eq!(transfers.len(), 2, "{relayed:#?}");
    for (t, grant) in transfers.iter().zip(["ro-igpf/1", "ro-igpf/2"]) {
        assert_eq!(t["actor"], "node:ua-dpsu", "{t}");
        assert_eq!(
            (t["details"]["grant"].as_str(), t["details"]["viewer"].as_str()),
            (Some(grant), Some("tester")),
            "{t}"
        );
    }
    assert!(relayed.iter().any(|r| r["action"] == "disclose"), "the grant itself: {relayed:#?}");
    let watched = util::audit_records(&ua, &["--object", "live-grant:ro-igpf/1"]);
    assert!(watched.iter().any(|r| r["action"] == "consult" && r["actor"] == "user:tester"), "{watched:#?}");

    // The same on both agencies' pages (web/tests/video_shared.mjs): granted from the form,
    // played on the partner's page, revoked from the list.
    let report = util::browser_test(
        "video_shared.mjs",
        &[
            ("LIMES_URL", ro.url.trim_end_matches('/')),
            ("LIMES_PARTNER_URL", ua.url.trim_end_matches('/')),
            ("LIMES_PARTNER", "ua-dpsu"),
            ("LIMES_CAMERA", "ro-siret-1"),
            ("LIMES_INCIDENT", &incident),
        ],
    )
    .await;
    eprintln!("shared video on the pages: {report}");
    assert_eq!(report["grant"], "ro-igpf/3", "{report}");
    for view in ["video_grants", "video_shared"] {
        assert_eq!(report[format!("axe_{view}")], "0 violations (light, dark)", "{report}");
    }
    let copy = get(&ua, "/api/v1/video/grants?side=received").await;
    assert!(copy[0]["revoked"].is_object(), "the page's revocation reached the partner: {copy}");
}

/// The whole boxes of a live MP4 cut off mid-fragment (at the grant's end, or by the reader):
/// what a player would have shown.
fn whole_fragments(bytes: &[u8]) -> &[u8] {
    let (mut end, mut at) = (0, 0);
    for (name, size) in boxes(bytes) {
        if at + size > bytes.len() {
            break;
        }
        at += size;
        if name != "moof" {
            end = at;
        }
    }
    &bytes[..end]
}

/// A client of `node`'s `tester` that declares a case with its purpose (`limes-case`).
fn case_client(node: &TestNode) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in [
        ("authorization", format!("Bearer {}", node.session)),
        ("limes-purpose", "investigation".into()),
        ("limes-legal-basis", util::TEST_LEGAL_BASIS.into()),
        ("limes-case", "RO-2026/17".into()),
    ] {
        headers.insert(name, value.parse().unwrap());
    }
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// Live video across the border anonymised, between two real nodes: the Romanian node's camera
/// sees the street photograph; a grant made without `clear` relays it to the Ukrainian person
/// with the faces annotated by hand blurred in every picture that arrives, and the pavement
/// sharp; the same camera granted in clear (for a case) arrives with the faces sharp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_watches_a_camera_live_with_faces_and_plates_blurred_unless_granted_in_clear() {
    use reqwest::StatusCode;
    use serde_json::json;
    use util::fed::*;

    let models = limes_vision::models::check(std::path::Path::new(&util::models())).unwrap();
    let photo = image::open(models.path(limes_vision::models::ModelId::StreetPhoto)).unwrap().to_rgb8();
    let camera = RtspServer::start_picture(&models.path(limes_vision::models::ModelId::StreetPhoto), 810, 1080);
    let (_camera, ro, ua) = border_nodes_watching(camera, "picture264", limes_agreement::Mode::Push, &util::models());
    let (ro_c, ua_c) = (ro.session_client(), ua.session_client());
    let (s, incident) = post(
        &ro,
        &ro_c,
        "/api/v1/incidents",
        json!({
            "type": "pursuit", "severity": "high", "title": "Pedestrians followed near the bus station",
            "description": "Synthetic incident for the test.",
            "area": {"type": "Point", "coordinates": [26.05, 47.95]}, "notified": ["ua-dpsu"]
        }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{incident}");
    let incident = incident["id"].as_str().unwrap().to_owned();
    eventually("the camera playing", async || {
        let all = get(&ro, "/api/v1/video/cameras").await;
        (all[0]["connected"] == true).then_some(())
    })
    .await;

    // Granted without a word about clear: anonymised, for eight seconds.
    let body = json!({"partner": "ua-dpsu", "camera": "ro-siret-1", "incident": incident, "seconds": 8});
    let (s, grant) = post(&ro, &ro_c, "/api/v1/video/grants", body).await;
    assert_eq!(s, StatusCode::CREATED, "{grant}");
    assert!(grant.get("clear").is_none(), "{grant}");
    let id = grant["id"].as_str().unwrap().to_owned();
    wait_for("the grant on the Ukrainian node", async || {
        let list = get(&ua, "/api/v1/video/grants?side=received&in_force=true").await;
        (list[0]["id"] == id.as_str()).then_some(())
    })
    .await;
    let r = ua_c.get(ua.at(&format!("/api/v1/video/grants/{id}/live.mp4"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    assert_eq!(r.headers()["content-type"], "video/mp4; codecs=\"avc1.4D4029\"");
    let (bytes, ended) = read_to_end(r, Duration::from_secs(40)).await;
    assert!(ended.is_some(), "the view ends with the grant");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.mp4");
    std::fs::write(&file, whole_fragments(&bytes)).unwrap();
    let pictures = decoded(&file);
    eprintln!("{} anonymised pictures relayed ({} bytes)", pictures.len(), bytes.len());
    assert!(pictures.len() >= 5, "{} pictures in eight seconds", pictures.len());
    for (i, p) in pictures.iter().enumerate() {
        assert_eq!(p.dimensions(), (810, 1080));
        for f in limes_vision::models::STREET_PHOTO_FACES {
            let rect = (f[0] as u32, f[1] as u32, (f[2] - f[0]) as u32, (f[3] - f[1]) as u32);
            let kept = limes_vision::anonymise::detail_kept(&photo, p, rect);
            assert!(kept < 0.1, "picture {i}, face {f:?}: {kept:.3} of its detail crossed the border");
        }
        // Encoded twice (by the camera, by the anonymiser), the pavement loses some detail; a
        // blur leaves less than a tenth.
        let pavement = limes_vision::anonymise::detail_kept(&photo, p, (300, 900, 200, 150));
        assert!(pavement > 0.3, "picture {i}: the pavement kept {pavement:.3} of its detail");
    }
    let relayed = util::audit_records(&ro, &["--object", "camera:ro-siret-1"]);
    assert!(relayed.iter().any(|r| r["action"] == "transfer" && r["details"]["grant"] == id.as_str()), "{relayed:#?}");

    // In clear, for a case: the faces arrive as the camera sees them.
    let body =
        json!({"partner": "ua-dpsu", "camera": "ro-siret-1", "incident": incident, "seconds": 60, "clear": true});
    let (s, grant) = post(&ro, &case_client(&ro), "/api/v1/video/grants", body).await;
    assert_eq!(s, StatusCode::CREATED, "{grant}");
    let id = grant["id"].as_str().unwrap().to_owned();
    let unblurred = util::audit_records(&ro, &["--object", "camera:ro-siret-1"]);
    assert!(
        unblurred.iter().any(|r| r["details"]["operation"] == "clips.unblur" && r["case_ref"] == "RO-2026/17"),
        "the decision to unblur is logged with its case: {unblurred:#?}"
    );
    wait_for("the clear grant on the Ukrainian node", async || {
        let list = get(&ua, "/api/v1/video/grants?side=received&in_force=true").await;
        list.as_array()?.iter().any(|g| g["id"] == id.as_str() && g["clear"] == true).then_some(())
    })
    .await;
    let r = ua_c.get(ua.at(&format!("/api/v1/video/grants/{id}/live.mp4"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (bytes, _) = read_to_end(r, Duration::from_secs(3)).await;
    std::fs::write(&file, whole_fragments(&bytes)).unwrap();
    let pictures = decoded(&file);
    assert!(!pictures.is_empty());
    for f in limes_vision::models::STREET_PHOTO_FACES {
        let rect = (f[0] as u32, f[1] as u32, (f[2] - f[0]) as u32, (f[3] - f[1]) as u32);
        let kept = limes_vision::anonymise::detail_kept(&photo, &pictures[0], rect);
        assert!(kept > 0.5, "face {f:?} in clear kept only {kept:.3} of its detail");
    }
}

/// Clips between two real nodes: the Romanian node's camera sees the street photograph; it cuts
/// a signed clip of its recording over the API, which `limes clip verify` accepts against the
/// agency's trust anchor and ffprobe decodes; a supervisor sends it to the Ukrainian node, and
/// what crosses is its anonymised copy — the faces annotated by hand without their detail in
/// every frame, the pavement with it — signed as a clip that names the one it was made from,
/// served by the Ukrainian node byte for byte, checked against the manifest and the Romanian
/// key, and never passed on; both audit logs have it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_is_cut_signed_and_sent_to_a_partner_anonymised() {
    use reqwest::StatusCode;
    use serde_json::json;
    use util::fed::*;

    let models = limes_vision::models::check(std::path::Path::new(&util::models())).unwrap();
    let photo = models.path(limes_vision::models::ModelId::StreetPhoto);
    let camera = RtspServer::start_picture(&photo, 810, 1080);
    let (_camera, ro, ua) = border_nodes_watching(camera, "picture264", limes_agreement::Mode::Push, &util::models());
    let (ro_c, ua_c) = (ro.session_client(), ua.session_client());
    let (from, to) = recorded_span(&ro).await;
    // Half a second from a segment's start: a clip of a dozen frames or so to blur.
    let to = to.min(from + chrono::Duration::milliseconds(200));
    let span = |from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| json!({"from": from, "to": to});

    // What a clip may not be.
    for (path, body, status) in [
        ("/api/v1/cameras/ro-siret-1/clips", span(to, from), 400),
        ("/api/v1/cameras/ro-siret-1/clips", span(from, from + chrono::Duration::hours(2)), 400),
        ("/api/v1/cameras/ro-siret-9/clips", span(from, to), 404),
        ("/api/v1/cameras/ro-siret-1/clips", json!({"from": "yesterday"}), 400),
    ] {
        let (s, answer) = post(&ro, &ro_c, path, body.clone()).await;
        assert_eq!(s.as_u16(), status, "{path} {body}: {answer}");
    }

    let (s, clip) = post(&ro, &ro_c, "/api/v1/cameras/ro-siret-1/clips", span(from, to)).await;
    assert_eq!(s, StatusCode::CREATED, "{clip}");
    let sha = clip["sha256"].as_str().unwrap().to_owned();
    assert_eq!(
        (clip["origin"].as_str(), clip["made_by"].as_str(), clip["file_here"].as_bool()),
        (Some("ro-igpf"), Some("tester"), Some(true))
    );
    assert_eq!(clip["manifest"]["sha256"], sha.as_str());
    assert!(time(&clip["manifest"]["first_frame"]) <= from, "{clip}");
    // The recording in clear leaves the node only as a supervisor's act for a case.
    let r = ro_c.get(ro.at(&format!("/api/v1/clips/{sha}/file"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let e: Value = r.json().await.unwrap();
    assert!(e["message"].as_str().unwrap().contains(&format!("/api/v1/clips/{sha}/anonymised")), "{e}");
    let for_a_case = |path: String| {
        ro_c.get(ro.at(&path))
            .header("limes-purpose", "investigation")
            .header("limes-legal-basis", util::TEST_LEGAL_BASIS)
            .header("limes-case", "RO-2026/17")
    };
    let mp4 = for_a_case(format!("/api/v1/clips/{sha}/file")).send().await.unwrap().bytes().await.unwrap();
    let unblurred = util::audit_records(&ro, &["--object", &format!("clip:{sha}")]);
    assert!(
        unblurred.iter().any(|r| r["details"]["operation"] == "clips.unblur" && r["case_ref"] == "RO-2026/17"),
        "logged with its case: {unblurred:#?}"
    );
    let hex = |b: &[u8]| -> String {
        use sha2::Digest;
        sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
    };
    assert_eq!(hex(&mp4), sha);
    let manifest =
        ro_c.get(ro.at(&format!("/api/v1/clips/{sha}/manifest"))).send().await.unwrap().bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (file, manifest_file) = (dir.path().join("clip.mp4"), dir.path().join("clip.mp4.limes-clip.json"));
    std::fs::write(&file, &mp4).unwrap();
    std::fs::write(&manifest_file, &manifest).unwrap();
    let anchor = export_anchor(&ro);
    let out = util::limes(&["clip", "verify", file.to_str().unwrap(), "--anchor", anchor.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let probed = String::from_utf8_lossy(&probe.stdout).trim().to_owned();
    assert!(probed.starts_with("h264,810,"), "{probed}");
    assert_eq!(
        probed.rsplit(',').next().unwrap().parse::<u64>().unwrap(),
        clip["manifest"]["frames"].as_u64().unwrap(),
        "{probed}"
    );

    // Sent: what crosses is the anonymised copy, which the Ukrainian node serves once its file
    // has crossed.
    let (s, sent) = post(&ro, &ro_c, &format!("/api/v1/clips/{sha}/send"), json!({"partner": "ua-dpsu"})).await;
    assert_eq!(s, StatusCode::CREATED, "{sent}");
    assert_eq!((sent["partner"].as_str(), sent["purpose"].as_str()), (Some("ua-dpsu"), Some("investigation")));
    assert_eq!(sent["anonymised"], true, "{sent}");
    let copy_sha = sent["clip"].as_str().unwrap().to_owned();
    assert_ne!(copy_sha, sha);
    let copy = get(&ro, &format!("/api/v1/clips/{copy_sha}")).await;
    assert_eq!(copy["anonymised_from"], sha.as_str(), "{copy}");
    let anonymised = &copy["manifest"]["anonymised"];
    assert_eq!(
        (anonymised["source_sha256"].as_str(), anonymised["blurred"].as_str()),
        (Some(sha.as_str()), Some("faces,plates"))
    );
    let frames = copy["manifest"]["frames"].as_u64().unwrap();
    assert_eq!(frames, clip["manifest"]["frames"].as_u64().unwrap(), "every frame of the clip: {copy}");
    assert!(anonymised["faces"].as_u64().unwrap() >= frames, "faces found: {copy}");
    let received = wait_for("the copy's file on the Ukrainian node", async || {
        let r = ua_c.get(ua.at(&format!("/api/v1/clips/{copy_sha}/file"))).send().await.unwrap();
        (r.status() == StatusCode::OK).then_some(())?;
        Some(r.bytes().await.unwrap())
    })
    .await;
    assert_eq!(hex(&received), copy_sha);
    let r = ua_c.get(ua.at(&format!("/api/v1/clips/{sha}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the clip in clear never crossed");
    let theirs = get(&ua, &format!("/api/v1/clips/{copy_sha}")).await;
    assert_eq!(
        (theirs["received_from"].as_str(), theirs["origin"].as_str()),
        (Some("ro-igpf"), Some("ro-igpf")),
        "{theirs}"
    );
    assert_eq!(theirs["purpose"], "investigation", "kept with the purpose it was shared for: {theirs}");
    assert_eq!(theirs["manifest"]["anonymised"]["source_sha256"], sha.as_str(), "{theirs}");
    let ours = get(&ro, &format!("/api/v1/clips/{sha}")).await;
    assert_eq!(ours["sent"][0]["partner"], "ua-dpsu", "{ours}");
    // The same copy for anyone here who may cut clips, whose file needs no case.
    let r = ro_c.post(ro.at(&format!("/api/v1/clips/{sha}/anonymised"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "made when it was sent");
    assert_eq!(r.json::<Value>().await.unwrap()["sha256"], copy_sha.as_str());
    let here = ro_c.get(ro.at(&format!("/api/v1/clips/{copy_sha}/file"))).send().await.unwrap();
    assert_eq!(here.status(), StatusCode::OK);
    assert_eq!(here.bytes().await.unwrap(), received);
    // The copy verifies as the Romanian agency's, and says what it is.
    let copy_file = dir.path().join("copy.mp4");
    std::fs::write(&copy_file, &received).unwrap();
    let copy_manifest =
        ua_c.get(ua.at(&format!("/api/v1/clips/{copy_sha}/manifest"))).send().await.unwrap().bytes().await.unwrap();
    std::fs::write(dir.path().join("copy.mp4.limes-clip.json"), &copy_manifest).unwrap();
    let out = util::limes(&["clip", "verify", copy_file.to_str().unwrap(), "--anchor", anchor.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("faces and plates blurred in every frame") && said.contains(&sha), "{said}");
    // Every frame: the faces annotated by hand lose their detail, the pavement keeps it.
    let (original, blurred) = (decoded(&file), decoded(&copy_file));
    assert_eq!(original.len(), blurred.len());
    assert!(!original.is_empty());
    for (i, (o, b)) in original.iter().zip(&blurred).enumerate() {
        for f in limes_vision::models::STREET_PHOTO_FACES {
            let rect = (f[0] as u32, f[1] as u32, (f[2] - f[0]) as u32, (f[3] - f[1]) as u32);
            let kept = limes_vision::anonymise::detail_kept(o, b, rect);
            assert!(kept < 0.1, "frame {i}, face {f:?}: {kept:.3} of its detail crossed the border");
        }
        let pavement = limes_vision::anonymise::detail_kept(o, b, (300, 900, 200, 150));
        assert!(pavement > 0.6, "frame {i}: the pavement kept {pavement:.3} of its detail");
    }

    // Never passed on; sent only where an entry and the agreement allow.
    let (s, e) = post(&ua, &ua_c, &format!("/api/v1/clips/{copy_sha}/send"), json!({"partner": "ro-igpf"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["message"].as_str().unwrap().contains("not passed on"), "{e}");
    let (s, e) = post(&ro, &ro_c, &format!("/api/v1/clips/{sha}/send"), json!({"partner": "rs-mup"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let r = ro_c.get(ro.at(&format!("/api/v1/clips/{}", "0".repeat(64)))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Both logs: the cut and the sending here, the viewing there.
    let here = util::audit_records(&ro, &["--object", &format!("clip:{sha}")]);
    assert!(here.iter().any(|r| r["action"] == "disclose" && r["details"]["operation"] == "clips.send"), "{here:#?}");
    let cut = util::audit_records(&ro, &["--object", "camera:ro-siret-1"]);
    assert!(cut.iter().any(|r| r["action"] == "disclose" && r["details"]["operation"] == "clips.export"), "{cut:#?}");
    let there = util::audit_records(&ua, &["--object", &format!("clip:{copy_sha}")]);
    assert!(there.iter().any(|r| r["action"] == "consult" && r["actor"] == "user:tester"), "{there:#?}");
}

/// A node whose anonymiser cannot run (its models are missing) sends no clip rather than one
/// unblurred: the supervisor is told why, and nothing reaches the partner; a partner's live view
/// is refused with the reason, and a picture attached to an incident stays on the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_anonymiser_a_node_sends_no_clip_rather_than_one_unblurred() {
    use reqwest::StatusCode;
    use serde_json::json;
    use util::fed::wait_for;

    let missing = tempfile::tempdir().unwrap();
    let models = missing.path().join("no-models");
    let camera = RtspServer::start(0);
    let (_camera, ro, ua) =
        border_nodes_watching(camera, "h264", limes_agreement::Mode::Push, models.to_str().unwrap());
    let (ro_c, ua_c) = (ro.session_client(), ua.session_client());
    let (from, to) = recorded_span(&ro).await;
    let (s, clip) = post(&ro, &ro_c, "/api/v1/cameras/ro-siret-1/clips", json!({"from": from, "to": to})).await;
    assert_eq!(s, StatusCode::CREATED, "{clip}");
    let sha = clip["sha256"].as_str().unwrap();
    let (s, e) = post(&ro, &ro_c, &format!("/api/v1/clips/{sha}/send"), json!({"partner": "ua-dpsu"})).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("anonymiser cannot start") && message.contains("nothing was sent"), "{e}");
    assert!(message.contains("limes models fetch"), "says how to mend it: {e}");
    let ours = get(&ro, &format!("/api/v1/clips/{sha}")).await;
    assert_eq!(ours["sent"], json!([]), "{ours}");
    assert_eq!(get(&ro, "/api/v1/clips").await.as_array().unwrap().len(), 1, "no copy was kept");

    // Nor live video anonymised, nor an incident's picture: the picture stays here.
    let (s, incident) = post(
        &ro,
        &ro_c,
        "/api/v1/incidents",
        json!({
            "type": "pursuit", "severity": "high", "title": "Synthetic incident",
            "area": {"type": "Point", "coordinates": [26.05, 47.95]}, "notified": ["ua-dpsu"]
        }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{incident}");
    let incident = incident["id"].as_str().unwrap().to_owned();
    let body = json!({"partner": "ua-dpsu", "camera": "ro-siret-1", "incident": incident, "seconds": 60});
    let (s, grant) = post(&ro, &ro_c, "/api/v1/video/grants", body).await;
    assert_eq!(s, StatusCode::CREATED, "{grant}");
    let id = grant["id"].as_str().unwrap().to_owned();
    wait_for("the grant on the Ukrainian node", async || {
        let list = get(&ua, "/api/v1/video/grants?side=received&in_force=true").await;
        (list[0]["id"] == id.as_str()).then_some(())
    })
    .await;
    let r = ua_c.get(ua.at(&format!("/api/v1/video/grants/{id}/live.mp4"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().await.unwrap().contains("anonymiser cannot start"));
    let picture = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
    let mut png = Vec::new();
    picture.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let r = ro_c
        .post(ro.at(&format!("/api/v1/incidents/{incident}/attachments?name=scene.png")))
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let attached: Value = r.json().await.unwrap();
    let a = &attached["attachments"][0];
    assert!(a.get("anonymised").is_none(), "{a}");
    let sha = a["sha256"].as_str().unwrap().to_owned();
    wait_for("the incident on the Ukrainian node", async || {
        let i = get(&ua, &format!("/api/v1/incidents/{incident}")).await;
        (i["attachments"][0]["sha256"] == sha.as_str()).then_some(())
    })
    .await;

    // Whatever the link had in flight would have arrived by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let theirs: Value = ua_c.get(ua.at("/api/v1/clips")).send().await.unwrap().json().await.unwrap();
    assert_eq!(theirs, json!([]), "nothing crossed");
    let r = ua_c.get(ua.at(&format!("/api/v1/incidents/{incident}/attachments/{sha}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the picture stayed in Romania");
}

/// Every frame of the video `file`, decoded by ffmpeg.
fn decoded(file: &std::path::Path) -> Vec<image::RgbImage> {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-fps_mode", "passthrough"])
        .arg(dir.path().join("%04d.png"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    names.iter().map(|p| image::open(p).unwrap().to_rgb8()).collect()
}

/// A clip on request, between two real nodes: the Romanian agreement shares clips only on
/// request, so a push is refused; the Ukrainian investigator asks for a span of a Siret camera
/// for a case (hostile requests refused with the reason); a span with nothing recorded cannot be
/// approved, only refused; the Romanian supervisor approves the other, the clip is cut, signed
/// and crosses labelled with the request — in clear, as the agreement allows on an approved
/// request only — and the Ukrainian node holds the same bytes with the agreement's conditions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_asks_for_a_clip_and_gets_it_signed_once_a_supervisor_approves() {
    use reqwest::StatusCode;
    use serde_json::json;

    let (_camera, ro, ua) = border_nodes_sharing_clips(limes_agreement::Mode::OnRequest);
    let (ro_c, ua_c) = (ro.session_client(), ua.session_client());
    let (from, to) = recorded_span(&ro).await;

    // Clips are shared on request only: pushing one is refused.
    let (s, own) = post(&ro, &ro_c, "/api/v1/cameras/ro-siret-1/clips", json!({"from": from, "to": to})).await;
    assert_eq!(s, StatusCode::CREATED, "{own}");
    let pushed = format!("/api/v1/clips/{}/send", own["sha256"].as_str().unwrap());
    let (s, e) = post(&ro, &ro_c, &pushed, json!({"partner": "ua-dpsu"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a push where the agreement says on request: {e}");

    // The investigator's requests; what cannot be asked is refused with the reason.
    let ask = |body: Value| {
        let b = ua_c
            .post(ua.at("/api/v1/requests"))
            .header("limes-purpose", "investigation")
            .header("limes-legal-basis", util::TEST_LEGAL_BASIS)
            .header("limes-case", "UA-2026/81")
            .json(&body);
        async move {
            let r = b.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let clip = |camera: &str, from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>| json!({"camera": camera, "from": from, "to": to});
    let why = "the van seen at the crossing before the fire";
    for (body, needle) in [
        (
            json!({"partner": "ro-igpf", "category": "images", "clip": clip("ro-siret-1", to, from), "justification": why}),
            "before it starts",
        ),
        (
            json!({"partner": "ro-igpf", "category": "images", "clip": clip("ro-siret-1", from, from + chrono::Duration::hours(2)), "justification": why}),
            "at most 60 minutes",
        ),
        (json!({"partner": "ro-igpf", "category": "images", "justification": why}), "names the camera and span"),
        (
            json!({"partner": "ro-igpf", "category": "images", "reference": "fedcba9876543210fedcba9876543210", "clip": clip("ro-siret-1", from, to), "justification": why}),
            "not a reference",
        ),
        (
            json!({"partner": "ro-igpf", "category": "images", "clip": clip("ro-siret-1", from, to), "justification": why, "exercise": true}),
            "recordings are real",
        ),
        (
            json!({"partner": "ro-igpf", "category": "images", "clip": clip("ro siret", from, to), "justification": why}),
            "",
        ),
        (
            json!({"partner": "ro-igpf", "category": "images", "clip": clip("ro-siret-1", from, to), "justification": " "}),
            "justification must not be empty",
        ),
    ] {
        let (status, v) = ask(body.clone()).await;
        assert!(status.is_client_error(), "{body}: {status} {v}");
        assert!(v["message"].as_str().unwrap_or_default().contains(needle), "{body}: {v}");
    }
    let (status, asked) = ask(
        json!({"partner": "ro-igpf", "category": "images", "clip": clip("ro-siret-1", from, to), "justification": why}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{asked}");
    assert_eq!((asked["status"].as_str(), asked["category"].as_str()), (Some("pending"), Some("images")));
    assert_eq!(asked["clip"]["camera"], "ro-siret-1", "{asked}");
    let id = asked["id"].as_str().unwrap().to_owned();

    // A span of a camera with nothing recorded, asked with the CLI: it cannot be approved.
    let cli = |node: &TestNode, args: &[&str]| {
        std::process::Command::new(util::limes_bin())
            .args(args)
            .env("LIMES_URL", &node.url)
            .env("LIMES_TOKEN", &node.session)
            .env("LIMES_PURPOSE", "investigation")
            .env("LIMES_LEGAL_BASIS", util::TEST_LEGAL_BASIS)
            .env("LIMES_CASE", "UA-2026/81")
            .output()
            .unwrap()
    };
    let (f, t) = (from.to_rfc3339(), to.to_rfc3339());
    let out = cli(&ua, &["request", "clip", "ro-igpf", "ro-siret-9", "--from", &f, "--to", &t, "--justification", why]);
    assert!(out.status.success(), "limes request clip: {}", String::from_utf8_lossy(&out.stderr));
    let nothing: Value = serde_json::from_slice(&out.stdout).unwrap();
    let nothing_id = nothing["id"].as_str().unwrap().to_owned();
    let decide = |id: &str, body: Value| {
        let b = ro_c.post(ro.at(&format!("/api/v1/requests/in/ua-dpsu/{id}/decision"))).json(&body);
        async move {
            let r = b.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let incoming = eventually("both requests on the Romanian node", async || {
        let v = get(&ro, "/api/v1/requests?direction=in").await;
        (v.as_array().unwrap().len() == 2).then_some(v)
    })
    .await;
    assert!(
        incoming.as_array().unwrap().iter().all(|r| r["status"] == "pending" && r["case_ref"] == "UA-2026/81"),
        "{incoming}"
    );
    let (s, e) = decide(&nothing_id, json!({"approve": true})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["message"].as_str().unwrap().contains("refuse the request instead"), "{e}");
    let (s, refused) = decide(&nothing_id, json!({"approve": false, "reason": "no such camera here"})).await;
    assert_eq!((s, refused["status"].as_str()), (StatusCode::OK, Some("refused")), "{refused}");

    // Approved: cut, signed, sent with the request's label.
    let (s, decided) = decide(&id, json!({"approve": true, "reason": "case confirmed"})).await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "answered", "{decided}");
    let sha = decided["released"]["clip"]["sha256"].as_str().expect("the clip released").to_owned();
    assert_eq!(decided["released"]["reads"], json!([]), "{decided}");
    let ours = get(&ro, &format!("/api/v1/clips/{sha}")).await;
    assert_eq!((ours["sent"][0]["partner"].as_str(), ours["camera"].as_str()), (Some("ua-dpsu"), Some("ro-siret-1")));
    assert!(time(&ours["manifest"]["first_frame"]) <= from, "{ours}");

    // The asker: the decision, the conditions, and the clip's bytes as the partner signed them.
    let got = eventually("the released clip on the Ukrainian node", async || {
        let v = get(&ua, &format!("/api/v1/requests/out/ro-igpf/{id}")).await;
        (v["status"] == "answered").then_some(v)
    })
    .await;
    assert_eq!(got["released"]["clip"]["sha256"], sha.as_str(), "{got}");
    assert_eq!(got["released"]["conditions"]["retention_days"], 30, "{got}");
    let refused_there = eventually("the refusal on the Ukrainian node", async || {
        let v = get(&ua, &format!("/api/v1/requests/out/ro-igpf/{nothing_id}")).await;
        (v["status"] == "refused").then_some(v)
    })
    .await;
    assert_eq!(refused_there["reason"], "no such camera here");
    let mp4 = eventually("the clip's file on the Ukrainian node", async || {
        let r = ua_c.get(ua.at(&format!("/api/v1/clips/{sha}/file"))).send().await.unwrap();
        (r.status() == StatusCode::OK).then_some(())?;
        Some(r.bytes().await.unwrap())
    })
    .await;
    let hex: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&mp4).iter().map(|x| format!("{x:02x}")).collect()
    };
    assert_eq!(hex, sha);
    let theirs = get(&ua, &format!("/api/v1/clips/{sha}")).await;
    assert_eq!(
        (theirs["received_from"].as_str(), theirs["purpose"].as_str()),
        (Some("ro-igpf"), Some("investigation"))
    );
    assert!(theirs["manifest"]["anonymised"].is_null(), "in clear, on the approved request: {theirs}");

    // Both logs: the supervisor's decision here, the viewing there.
    let decision = util::audit_records(&ro, &["--object", &format!("request:ua-dpsu/{id}")]);
    assert!(decision.iter().any(|r| r["details"]["operation"] == "requests.decide"), "{decision:#?}");
    let there = util::audit_records(&ua, &["--object", &format!("clip:{sha}")]);
    assert!(there.iter().any(|r| r["action"] == "consult" && r["actor"] == "user:tester"), "{there:#?}");

    // The same on both agencies' pages (web/tests/clip_request.mjs): asked from the form,
    // approved on the owner's page, the clip among the asker's clips.
    let report = util::browser_test(
        "clip_request.mjs",
        &[
            ("LIMES_URL", ro.url.trim_end_matches('/')),
            ("LIMES_PARTNER_URL", ua.url.trim_end_matches('/')),
            ("LIMES_AGENCY", "ro-igpf"),
            ("LIMES_CAMERA", "ro-siret-1"),
        ],
    )
    .await;
    eprintln!("a clip on request on the pages: {report}");
    assert_eq!(report["clip_shown"], true, "{report}");
    assert_eq!(report["axe_requests_clip"], "0 violations (light, dark)", "{report}");
    let asked = report["request"].as_str().unwrap();
    let on_page = get(&ua, &format!("/api/v1/requests/out/ro-igpf/{asked}")).await;
    assert_eq!((on_page["status"].as_str(), on_page["case_ref"].as_str()), (Some("answered"), Some("UI-2026/9")));
    assert!(on_page["released"]["clip"]["sha256"].is_string(), "{on_page}");
}
