//! Images of reads over real HTTP against the real `limes` binary, with the files on disk.

mod util;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Client, StatusCode, header};
use serde_json::Value;
use util::{TestNode, camera_json, read_json, wait_until};

/// A real image encoded by the `image` crate.
fn encoded(format: image::ImageFormat, width: u32, height: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x as u8).wrapping_mul(5) ^ seed, (y as u8).wrapping_mul(11), seed])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn jpeg(seed: u8) -> Vec<u8> {
    encoded(image::ImageFormat::Jpeg, 320, 240, seed)
}

fn png(seed: u8) -> Vec<u8> {
    encoded(image::ImageFormat::Png, 120, 30, seed)
}

/// A real PNG changed to declare `width` x `height` pixels (its header CRC fixed).
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(1);
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let mut crc = 0xffff_ffffu32;
    for &b in &bytes[12..29] {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    bytes[29..33].copy_from_slice(&(!crc).to_be_bytes());
    bytes
}

fn images_dir(node: &TestNode) -> PathBuf {
    node.dir.path().join("limes-data").join("images")
}

/// Every file under the node's images folder.
fn image_files(node: &TestNode) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.path().is_dir() { walk(&e.path(), out) } else { out.push(e.path()) }
        }
    }
    let mut out = Vec::new();
    walk(&images_dir(node), &mut out);
    out.sort();
    out
}

async fn setup(node: &TestNode, c: &Client) {
    let r = c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-cam-1", "RO")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// Posts reads of the given ages (days); returns their ids.
async fn post_reads(node: &TestNode, c: &Client, ages_days: &[i64]) -> Vec<i64> {
    let batch: Vec<Value> = ages_days
        .iter()
        .map(|d| {
            let mut r = read_json("ro-cam-1", "B 12 ABC", Some("RO"));
            r["time"] = (chrono::Utc::now() - chrono::Duration::days(*d)).to_rfc3339().into();
            r
        })
        .collect();
    let v: Value = c.post(node.at("/api/v1/reads")).json(&batch).send().await.unwrap().json().await.unwrap();
    v["ids"].as_array().unwrap().iter().map(|i| i.as_i64().unwrap()).collect()
}

async fn post_image(
    node: &TestNode,
    c: &Client,
    read: i64,
    kind: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let r = c
        .post(node.at(&format!("/api/v1/reads/{read}/images?kind={kind}")))
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn images_are_stored_once_served_with_their_type_and_kept_across_restarts() {
    let node = TestNode::start();
    let c = node.client();
    setup(&node, &c).await;
    let ids = post_reads(&node, &c, &[0, 0]).await;
    let (overview, plate) = (jpeg(1), png(2));

    let (s, first) = post_image(&node, &c, ids[0], "overview", "image/jpeg", overview.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(
        (first["format"].as_str(), first["width"].as_u64(), first["height"].as_u64()),
        (Some("jpeg"), Some(320), Some(240))
    );
    assert_eq!(first["deduplicated"], false);
    assert_eq!(first["camera"], "ro-cam-1");
    assert_eq!(first["agency"], "ro-igpf");
    let sha = first["sha256"].as_str().unwrap().to_owned();
    assert_eq!(first["url"], format!("/api/v1/images/{sha}"));
    // The same bytes for another read: one file, two references.
    let (s, second) = post_image(&node, &c, ids[1], "overview", "image/jpeg", overview.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!((second["sha256"].as_str(), &second["deduplicated"]), (Some(sha.as_str()), &Value::Bool(true)));
    // Posting it again for the same read changes nothing.
    let (s, _) = post_image(&node, &c, ids[1], "overview", "image/jpeg", overview.clone()).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = post_image(&node, &c, ids[0], "plate", "image/png", plate.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    let files = image_files(&node);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().any(|f| f.ends_with(Path::new(&sha[0..2]).join(&sha[2..4]).join(&sha))), "{files:?}");

    let list: Value =
        c.get(node.at(&format!("/api/v1/reads/{}/images", ids[0]))).send().await.unwrap().json().await.unwrap();
    let kinds: Vec<&str> = list.as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["plate", "overview"]);

    let r = c.get(node.at(&format!("/api/v1/images/{sha}"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(h[header::ETAG], format!("\"{sha}\""));
    assert_eq!(h[header::CACHE_CONTROL], "private");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(r.bytes().await.unwrap().as_ref(), overview.as_slice());
    let r = c
        .get(node.at(&format!("/api/v1/images/{sha}")))
        .header(header::IF_NONE_MATCH, format!("\"{sha}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    let node = node.restart();
    let plate_sha = list[0]["sha256"].as_str().unwrap();
    let r = c.get(node.at(&format!("/api/v1/images/{plate_sha}"))).send().await.unwrap();
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), plate.as_slice());
    assert_eq!(image_files(&node).len(), 2, "the startup sweep keeps referenced files");
}

#[tokio::test]
async fn hostile_images_get_clear_errors_and_leave_nothing_behind() {
    let node = TestNode::start_edited(|c| c.replace("max_bytes = 8388608", "max_bytes = 200000"));
    let c = node.client();
    setup(&node, &c).await;
    let id = post_reads(&node, &c, &[0]).await[0];
    let mut truncated = jpeg(1);
    truncated.truncate(truncated.len() / 2);
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        ("plate", "image/jpeg", b"JFIF but really text".to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "not an image"),
        (
            "plate",
            "image/png",
            png_declaring(100_000, 100_000),
            StatusCode::UNPROCESSABLE_ENTITY,
            "larger than 16384 x 16384",
        ),
        ("plate", "image/jpeg", truncated, StatusCode::UNPROCESSABLE_ENTITY, "truncated"),
        (
            "plate",
            "image/png",
            jpeg(1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "content type says PNG but the body is a JPEG",
        ),
        ("plate", "image/jpeg", vec![], StatusCode::UNPROCESSABLE_ENTITY, "empty"),
        ("plate", "text/plain", jpeg(1), StatusCode::UNSUPPORTED_MEDIA_TYPE, "image/jpeg or image/png"),
        ("plate", "image/gif", b"GIF89a".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "image/jpeg or image/png"),
        ("licence", "image/jpeg", jpeg(1), StatusCode::BAD_REQUEST, "\"plate\" or \"overview\""),
        ("plate", "image/jpeg", vec![0xff; 300_000], StatusCode::PAYLOAD_TOO_LARGE, "larger than"),
    ];
    for (kind, ct, body, want, needle) in cases {
        // A refused body may close the connection: a client of its own each time.
        let (got, v) = post_image(&node, &node.client(), id, kind, ct, body).await;
        let msg = v["message"].as_str().unwrap_or_default();
        assert_eq!(got, want, "{kind} {ct}: {v}");
        assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
    }
    let r =
        c.post(node.at(&format!("/api/v1/reads/{id}/images"))).header(header::CONTENT_TYPE, "image/jpeg").body(jpeg(1));
    assert_eq!(r.send().await.unwrap().status(), StatusCode::BAD_REQUEST, "kind is required");
    let (s, _) = post_image(&node, &c, id + 1000, "plate", "image/jpeg", jpeg(1)).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no such read");
    assert_eq!(
        c.get(node.at(&format!("/api/v1/reads/{}/images", id + 1000))).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    for (path, want) in [
        ("/api/v1/images/..%2F..%2Flimes.db", StatusCode::BAD_REQUEST),
        ("/api/v1/images/abc", StatusCode::BAD_REQUEST),
        (&*format!("/api/v1/images/{}", "ab".repeat(32)), StatusCode::NOT_FOUND),
    ] {
        assert_eq!(c.get(node.at(path)).send().await.unwrap().status(), want, "{path}");
    }
    assert!(image_files(&node).is_empty(), "{:?}", image_files(&node));
    let list: Value = c.get(node.at(&format!("/api/v1/reads/{id}/images"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(list, Value::Array(vec![]));
}

#[tokio::test]
async fn retention_deletes_an_image_with_the_last_read_using_it() {
    // A year's retention first: retention runs as the node starts, maybe after these posts.
    let node = TestNode::start_edited(|c| c.replace("reads_days = 30", "reads_days = 365"));
    let c = node.client();
    setup(&node, &c).await;
    // Reads 40 and 10 days old share an overview; the old one also has a plate crop.
    let ids = post_reads(&node, &c, &[40, 10]).await;
    let (shared, only_old) = (jpeg(3), png(4));
    let (_, v) = post_image(&node, &c, ids[0], "overview", "image/jpeg", shared.clone()).await;
    let shared_sha = v["sha256"].as_str().unwrap_or_else(|| panic!("{v}")).to_owned();
    post_image(&node, &c, ids[1], "overview", "image/jpeg", shared).await;
    let (_, v) = post_image(&node, &c, ids[0], "plate", "image/png", only_old).await;
    let old_sha = v["sha256"].as_str().unwrap().to_owned();
    assert_eq!(image_files(&node).len(), 2);

    // Thirty days' retention, which runs as the node starts: the old read goes.
    let config = std::fs::read_to_string(&node.config).unwrap();
    std::fs::write(&node.config, config.replace("reads_days = 365", "reads_days = 30")).unwrap();
    let node = node.restart();
    wait_for_status(&c, &node.at(&format!("/api/v1/images/{old_sha}")), StatusCode::NOT_FOUND).await;
    assert_eq!(c.get(node.at(&format!("/api/v1/images/{shared_sha}"))).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(image_files(&node).len(), 1, "only the shared file is left");

    // Five days' retention: the other read goes, and the shared file with it.
    let config = std::fs::read_to_string(&node.config).unwrap();
    std::fs::write(&node.config, config.replace("reads_days = 30", "reads_days = 5")).unwrap();
    let node = node.restart();
    wait_for_status(&c, &node.at(&format!("/api/v1/images/{shared_sha}")), StatusCode::NOT_FOUND).await;
    wait_until(Duration::from_secs(10), || image_files(&node).is_empty());
}

async fn wait_for_status(c: &Client, url: &str, want: StatusCode) {
    let start = std::time::Instant::now();
    loop {
        if c.get(url).send().await.unwrap().status() == want {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{url} did not answer {want} within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
