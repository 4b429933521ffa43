//! `limes recorder search` and `limes recorder pull` against a Hikvision recorder: an ISAPI
//! fixture (axum, written from the ISAPI ContentMgmt schema; ../shared/samples has no search
//! answer) whose playback URIs point at the real GStreamer RTSP server the recorder's tests
//! use (`scripts/rtsp-test-server`), so the pulled segment really lands in the store.

mod util;

use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[derive(Clone)]
struct Fixture {
    rtsp_port: u16,
    /// The time spans the searches asked for.
    spans: Arc<Mutex<Vec<(String, String)>>>,
}

async fn isapi(State(f): State<Fixture>, uri: Uri, body: Bytes) -> Response {
    if uri.path() != "/ISAPI/ContentMgmt/search" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(d) = limes_onvif::xml::parse(&body, &limes_onvif::Limits::default()) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let text = |path: &[&str]| d.text_at(path).unwrap_or_default().to_owned();
    f.spans
        .lock()
        .unwrap()
        .push((text(&["timeSpanList", "timeSpan", "startTime"]), text(&["timeSpanList", "timeSpan", "endTime"])));
    if text(&["trackIDList", "trackID"]) != "101" {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let port = f.rtsp_port;
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><CMSearchResult version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><searchID>{}</searchID><responseStatus>true</responseStatus><responseStatusStrg>OK</responseStatusStrg><numOfMatches>1</numOfMatches><matchList><searchMatchItem><sourceID>{{0000}}</sourceID><trackID>101</trackID><timeSpan><startTime>2024-03-01T08:00:00Z</startTime><endTime>2024-03-01T08:15:00Z</endTime></timeSpan><mediaSegmentDescriptor><contentType>video</contentType><codecType>H.264-BP</codecType><playbackURI>rtsp://127.0.0.1:{port}/h264?starttime=20240301T080000Z&amp;endtime=20240301T081500Z</playbackURI></mediaSegmentDescriptor></searchMatchItem></matchList></CMSearchResult>"#,
        text(&["searchID"])
    )
    .into_response()
}

async fn limes(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || Command::new(util::limes_bin()).args(&args).output().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_pull_from_an_isapi_recorder() {
    let rtsp = util::rtsp::Server::start(0);
    let fixture = Fixture { rtsp_port: rtsp.port, spans: Arc::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new().fallback(isapi).with_state(fixture.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let span = ["--from", "2024-03-01T08:00:00Z", "--to", "2024-03-01T09:00:00Z", "--channel", "1"];
    let args = |cmd: &str, extra: &[&str]| -> Vec<String> {
        ["recorder", cmd, &url, "--kind", "isapi"].iter().chain(&span).chain(extra).map(|s| s.to_string()).collect()
    };

    let out = limes(args("search", &["--json"])).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found[0]["source"], "101");
    assert_eq!(found[0]["start"], "2024-03-01T08:00:00Z");
    let playback = format!("rtsp://127.0.0.1:{}/h264?starttime=20240301T080000Z&endtime=20240301T081500Z", rtsp.port);
    assert_eq!(found[0]["uri"], playback.as_str());
    assert_eq!(fixture.spans.lock().unwrap()[0], ("2024-03-01T08:00:00Z".into(), "2024-03-01T09:00:00Z".into()));

    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let out = limes(args("pull", &["--camera", "gate-1", "--data", dir, "--seconds", "3"])).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let segments: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!segments.is_empty());
    let store = limes_store::Store::open(data.path(), limes_store::StoreOptions::default()).unwrap();
    for s in &segments {
        let file = s["file"].as_str().unwrap();
        assert!(file.starts_with("gate-1/"), "{file}");
        let stored = store.recording_by_file(file).unwrap().expect("the segment is indexed");
        assert_eq!(stored.index.camera.as_str(), "gate-1");
        assert!(stored.index.frames.len() > 10 && stored.index.frames[0].key);
        let on_disk = std::fs::metadata(store.recordings_dir().join(file)).unwrap().len();
        assert_eq!(on_disk, stored.index.bytes);
    }

    // A span that ends before it starts is refused before anything is asked.
    let out = limes(vec![
        "recorder".into(),
        "search".into(),
        url.clone(),
        "--kind".into(),
        "isapi".into(),
        "--from".into(),
        "2024-03-01".into(),
        "--to".into(),
        "2024-02-01".into(),
    ])
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from must be before --to"));
}
