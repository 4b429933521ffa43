//! Drone and body-camera footage with its telemetry over real HTTP against the real `limes`
//! binary: the real DJI SRT and GPX samples of `../shared/samples/` attached, positions asked.
//! The files are real H.264 MP4s made by ffmpeg (the node checks only that a file begins as a
//! video container does, and refuses pictures, texts and documents); the page's test plays one
//! beside the map in Chromium.

mod util;

use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::Digest;
use util::{TestNode, audit_records, camera_json};

/// The shared samples folder: `$LIMES_SHARED/samples`, else `shared/samples` beside the
/// project's root (the developers' and CI's machines have it; the files are not the project's
/// to ship).
fn samples() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("LIMES_SHARED") {
        Some(d) => std::path::PathBuf::from(d).join("samples"),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples"),
    };
    dir.is_dir().then_some(dir)
}

/// Whether the samples are absent, said once per test: the test then checks nothing.
fn absent() -> bool {
    let absent = samples().is_none();
    if absent {
        eprintln!("no shared samples (set LIMES_SHARED): this test checks nothing here");
    }
    absent
}

fn sample(name: &str) -> Vec<u8> {
    let path = samples().expect("the samples folder").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A real H.264 MP4 of `seconds` of ffmpeg's test pattern at `size` (scripts/test installs ffmpeg).
fn real_video(seconds: u32, size: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", &format!("testsrc=size={size}:rate=25")])
        .args(["-t", &seconds.to_string(), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
        .arg(&path)
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(&path).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

async fn upload(node: &TestNode, c: &Client, start: &str, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let r = c
        .post(node.at("/api/v1/footage"))
        .query(&[("camera", "ro-drone-1"), ("start", start), ("name", name)])
        .header("content-type", "video/mp4")
        .body(bytes)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn attach(node: &TestNode, c: &Client, sha: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let r = c.post(node.at(&format!("/api/v1/footage/{sha}/telemetry"))).body(bytes).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn position(node: &TestNode, c: &Client, sha: &str, at: &str) -> (StatusCode, Value) {
    let r = c.get(node.at(&format!("/api/v1/footage/{sha}/position"))).query(&[("at", at)]).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn footage_with_dji_and_gpx_telemetry_answers_positions() {
    if absent() {
        return;
    }
    let node = TestNode::start();
    let c = node.client();
    let mut drone = camera_json("ro-drone-1", "RO");
    drone["kind"] = "drone".into();
    let r = c.post(node.at("/api/v1/cameras")).json(&drone).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    let video = real_video(2, "320x240");
    let sha = hex(&video);
    let (s, f) = upload(&node, &c, "2017-08-05T14:11:50Z", "DJI_0001.MP4", video.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    assert_eq!((f["sha256"].as_str(), f["bytes"].as_u64()), (Some(sha.as_str()), Some(video.len() as u64)));
    assert!(f.get("telemetry").is_none(), "{f}");
    // The same bytes again: the same footage, nothing new.
    let (s, again) = upload(&node, &c, "2017-08-05T14:11:50Z", "copy.MP4", video.clone()).await;
    assert_eq!((s, again["name"].as_str()), (StatusCode::OK, Some("DJI_0001.MP4")));
    let on_disk = node.dir.path().join("limes-data").join("footage").join(&sha);
    assert_eq!(std::fs::read(&on_disk).unwrap(), video);

    // No telemetry yet: no position.
    let (s, e) = position(&node, &c, &sha, "2017-08-05T14:13:30Z").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");

    // The Mavic Pro's SRT: its cues carry their own timestamps.
    let (s, f) = attach(&node, &c, &sha, sample("dji_srt_mavic_pro.SRT")).await;
    assert_eq!(s, StatusCode::OK, "{f}");
    let t = &f["telemetry"];
    assert_eq!((t["format"].as_str(), t["fixes"].as_u64()), (Some("srt"), Some(468)), "{f}");
    assert_eq!((t["start"].as_str(), t["end"].as_str()), (Some("2017-08-05T14:11:51Z"), Some("2017-08-05T14:19:39Z")));
    let (s, p) = position(&node, &c, &sha, "2017-08-05T14:13:30Z").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (p["lat"].as_f64(), p["lon"].as_f64(), p["altitude"].as_f64()),
        (Some(-20.2524), Some(149.024), Some(16.0))
    );
    let (s, e) = position(&node, &c, &sha, "2017-08-05T15:00:00Z").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(e["message"].as_str().unwrap_or_default().contains("no position at"), "{e}");

    // Bad telemetry: 422 with the parser's reason, and the footage as it was.
    let bad = String::from_utf8(sample("dji_srt_mavic_pro.SRT")).unwrap().replacen(
        "GPS(149.0251,-20.2533,16)",
        "GPS(149.0251,999,16)",
        1,
    );
    let (s, e) = attach(&node, &c, &sha, bad.into_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["message"].as_str().unwrap().contains("srt: cue 1 (line 1): the latitude is \"999\""), "{e}");
    for junk in [b"\x00\x01binary junk\xff".to_vec(), Vec::new(), b"<!DOCTYPE x><gpx/>".to_vec()] {
        let (s, e) = attach(&node, &c, &sha, junk).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    }
    let r = c.get(node.at(&format!("/api/v1/footage/{sha}"))).send().await.unwrap();
    let kept: Value = r.json().await.unwrap();
    assert_eq!(kept["telemetry"]["fixes"].as_u64(), Some(468), "{kept}");

    // A second file, a body camera's GPX 1.1 track.
    let clip = real_video(3, "160x120");
    let (s, g) = upload(&node, &c, "2020-12-18T07:15:50+01:00", "body.mp4", clip.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let gsha = hex(&clip);
    let (s, g) = attach(&node, &c, &gsha, sample("gpxpy_around-visnjan-with-car.gpx")).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!((g["telemetry"]["format"].as_str(), g["telemetry"]["fixes"].as_u64()), (Some("gpx"), Some(104)));
    let (s, p) = position(&node, &c, &gsha, "2020-12-18T06:15:50Z").await;
    assert_eq!((s, p["lat"].as_f64(), p["altitude"].as_f64()), (StatusCode::OK, Some(45.273518851), Some(211.15)));

    // A Mavic Mini SRT has no timestamps: timed from the footage's start.
    let (s, m) = attach(&node, &c, &gsha, sample("dji_srt_mavic_mini.SRT")).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["telemetry"]["start"].as_str(), Some("2020-12-18T06:15:50Z"), "{m}");
    let (s, p) = position(&node, &c, &gsha, "2020-12-18T06:17:46Z").await;
    assert_eq!((s, p["lat"].as_f64(), p["lon"].as_f64()), (StatusCode::OK, Some(48.0775), Some(-121.7476)));

    // Listed newest recording first; the file downloads as uploaded.
    let list: Value = c.get(node.at("/api/v1/footage")).send().await.unwrap().json().await.unwrap();
    let shas: Vec<&str> = list.as_array().unwrap().iter().map(|f| f["sha256"].as_str().unwrap()).collect();
    assert_eq!(shas, [gsha.as_str(), sha.as_str()]);
    let r = c.get(node.at(&format!("/api/v1/footage/{sha}/file"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap().to_vec(), video);

    // Refused uploads leave nothing behind.
    let r = c
        .post(node.at("/api/v1/footage"))
        .query(&[("camera", "ro-unknown"), ("start", "2020-01-01T00:00:00Z"), ("name", "x")])
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (s, e) = upload(&node, &c, "2020-01-01T00:00:00Z", "empty.mp4", Vec::new()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    // What is not video: a picture, a text, 5 MB of a document (refused from its first bytes).
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x01\x00".to_vec();
    let text = b"Not a video: the officer's notes on the drone flight.\n".repeat(20);
    let document = b"%PDF-1.7\n".iter().copied().chain(std::iter::repeat_n(b'x', 5 << 20)).collect::<Vec<u8>>();
    for (name, bytes) in [("photo.png", png), ("notes.mp4", text), ("report.pdf", document)] {
        let (s, e) = upload(&node, &c, "2020-01-01T00:00:00Z", name, bytes).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {e}");
        assert!(e["message"].as_str().unwrap().contains("not a video file"), "{name}: {e}");
    }
    let files: Vec<_> =
        std::fs::read_dir(on_disk.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let r = c.get(node.at(&format!("/api/v1/footage/{}", "0".repeat(64)))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Collection of each new file is in the audit log.
    let records = audit_records(&node, &["--object", "footage:"]);
    let collected: Vec<&Value> = records.iter().filter(|r| r["action"] == "collect").collect();
    assert_eq!(collected.len(), 2, "{records:?}");
}

/// A drone's flight on the page (web/tests/footage.mjs in Chromium): a real 12-second H.264
/// file made by ffmpeg and a GPX track of the same 12 seconds over Siret, uploaded from the
/// Video view's form, played beside the map with the marker where the track says the drone was;
/// then the track as GeoJSON from the API, and the views in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drone_file_with_its_telemetry_plays_on_the_map() {
    let node = TestNode::start();
    let c = node.client();
    let mut drone = camera_json("ro-drone-2", "RO");
    drone["kind"] = "drone".into();
    let r = c.post(node.at("/api/v1/cameras")).json(&drone).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());

    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("DJI_0042.MP4");
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"])
        .args([
            "-t",
            "12",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-profile:v",
            "baseline",
            "-movflags",
            "+faststart",
        ])
        .arg(&video)
        .output()
        .expect("ffmpeg runs (scripts/test installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // One point a second, 13 in all, north-east along the road out of Siret.
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-10-03T09:30:00Z").unwrap().with_timezone(&chrono::Utc);
    let points: Vec<(i64, f64, f64)> = (0..13)
        .map(|i| {
            let t = t0 + chrono::Duration::seconds(i);
            // As the GPX writes them (7 decimals), so the page and this test read the same numbers.
            let at7 = |x: f64| format!("{x:.7}").parse::<f64>().unwrap();
            let (lat, lon) = (47.9500 + 0.0004 * i as f64 + 0.00002 * (i * i) as f64, 26.0600 + 0.0006 * i as f64);
            (t.timestamp_millis(), at7(lat), at7(lon))
        })
        .collect();
    let trkpts: String = points
        .iter()
        .map(|(ms, lat, lon)| {
            let time = chrono::DateTime::from_timestamp_millis(*ms).unwrap().format("%Y-%m-%dT%H:%M:%SZ");
            format!("<trkpt lat=\"{lat}\" lon=\"{lon}\"><ele>{}</ele><time>{time}</time></trkpt>", 80 + ms % 7)
        })
        .collect();
    let gpx = dir.path().join("flight.gpx");
    std::fs::write(
        &gpx,
        format!(
            "<?xml version=\"1.0\"?><gpx version=\"1.1\" creator=\"limes test\" \
             xmlns=\"http://www.topografix.com/GPX/1/1\"><trk><trkseg>{trkpts}</trkseg></trk></gpx>"
        ),
    )
    .unwrap();
    let track: Vec<Value> = points.iter().map(|(ms, lat, lon)| serde_json::json!([ms, lat, lon])).collect();

    let (video_path, gpx_path) = (video.to_str().unwrap(), gpx.to_str().unwrap());
    let track = serde_json::to_string(&track).unwrap();
    let report = util::browser_test(
        "footage.mjs",
        &[
            ("TZ", "UTC"),
            ("LIMES_URL", node.url.trim_end_matches('/')),
            ("LIMES_VIDEO", video_path),
            ("LIMES_GPX", gpx_path),
            ("LIMES_CAMERA", "ro-drone-2"),
            ("LIMES_START", "2026-10-03T09:30:00"),
            ("LIMES_TRACK", &track),
        ],
    )
    .await;
    eprintln!("footage on the map: {report}");
    for view in ["footage_list", "footage_player"] {
        assert_eq!(report[format!("axe_{view}")], "0 violations (light, dark)", "{report}");
    }

    // What the page uploaded, and the track it drew, through the API.
    let sha = hex(&std::fs::read(&video).unwrap());
    let s = node.session_client();
    let f: Value = s.get(node.at(&format!("/api/v1/footage/{sha}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (f["start"].as_str(), f["telemetry"]["fixes"].as_u64()),
        (Some("2026-10-03T09:30:00Z"), Some(13)),
        "{f}"
    );
    let r = s.get(node.at(&format!("/api/v1/footage/{sha}/track"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let feature: Value = r.json().await.unwrap();
    assert_eq!(feature["geometry"]["type"], "LineString");
    let coords = feature["geometry"]["coordinates"].as_array().unwrap();
    assert_eq!(coords.len(), 13);
    assert_eq!(
        coords[12],
        serde_json::json!([points[12].2, points[12].1, (80 + points[12].0 % 7) as f64]),
        "{feature}"
    );
    assert_eq!(feature["properties"]["times"][12], "2026-10-03T09:30:12.000Z");
    let r = s.get(node.at(&format!("/api/v1/footage/{}/track", "0".repeat(64)))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let records = audit_records(&node, &["--object", &format!("footage:{sha}")]);
    assert!(records.iter().any(|r| r["action"] == "consult" && r["actor"] == "user:tester"), "{records:#?}");
}
