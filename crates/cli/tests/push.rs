//! Cameras pushing in their own formats, over real HTTP to the real `limes` binary: a
//! Hikvision ANPR camera's multipart alert with its pictures, an AXIS License Plate
//! Verifier push event, an ONVIF metadata document; and what they send when things go wrong.

mod util;

use std::io::Cursor;
use std::path::PathBuf;

use base64::Engine;
use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};
use util::{TestNode, camera_json};

/// The Hikvision fixture (written for limes in the cameras' shape), dated now.
fn hikvision_xml() -> String {
    let xml = include_str!("../../camera-formats/tests/fixtures/hikvision_anpr_plate.xml");
    let start = xml.find("<dateTime>").unwrap() + "<dateTime>".len();
    let end = xml.find("</dateTime>").unwrap();
    format!("{}{}{}", &xml[..start], chrono::Utc::now().to_rfc3339(), &xml[end..])
}

fn jpeg(seed: u8) -> Vec<u8> {
    let img =
        image::RgbImage::from_fn(160, 120, |x, y| image::Rgb([(x as u8) ^ seed, (y as u8).wrapping_mul(3), seed]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A `multipart/form-data` body as the cameras build it: the XML, then the pictures.
fn multipart(xml: &str, parts: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "----limesTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"anpr.xml\"; filename=\"anpr.xml\"\r\n\
             Content-Type: application/xml; charset=\"UTF-8\"\r\nContent-Length: {}\r\n\r\n",
            xml.len()
        )
        .as_bytes(),
    );
    body.extend_from_slice(xml.as_bytes());
    for (name, content_type, data) in parts {
        body.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\
                 Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                data.len()
            )
            .as_bytes(),
        );
        body.extend_from_slice(data);
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn setup() -> (TestNode, Client) {
    let node = TestNode::start();
    let c = node.client();
    for (id, cc) in [("ro-siret-2", "RO"), ("de-axis-1", "DE")] {
        let r = c.post(node.at("/api/v1/cameras")).json(&camera_json(id, cc)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let hotlist = json!([{"plate": "CJ 07 LMN", "country": "RO", "reason": "stolen", "agency": "ro-igpf"}]);
    let r = c.post(node.at("/api/v1/hotlist")).json(&hotlist).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    (node, c)
}

#[tokio::test]
async fn a_hikvision_anpr_alert_with_its_pictures_becomes_a_read_an_alert_and_stored_images() {
    let (node, c) = setup().await;
    let (plate, scene) = (jpeg(1), jpeg(2));
    let (content_type, body) = multipart(
        &hikvision_xml(),
        &[("licensePlatePicture.jpg", "image/jpeg", plate.clone()), ("vehiclePicture.jpg", "image/jpeg", scene)],
    );
    let url = node.at("/api/v1/cameras/ro-siret-2/push/hikvision");
    let r = c.post(&url).header(header::CONTENT_TYPE, &content_type).body(body.clone()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["accepted"], 1, "{report}");
    assert_eq!(report["alerts"], 1, "CJ07LMN is hotlisted: {report}");
    assert_eq!(report["images"], 2, "{report}");
    let id = report["ids"][0].as_i64().unwrap();

    let read: Value = c.get(node.at(&format!("/api/v1/reads/{id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["plate"], "CJ07LMN", "{read}");
    assert_eq!(read["read"]["camera"], "ro-siret-2", "the URL names the camera, whatever the payload says");
    let images: Value =
        c.get(node.at(&format!("/api/v1/reads/{id}/images"))).send().await.unwrap().json().await.unwrap();
    let kinds: Vec<&str> = images.as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["plate", "overview"], "{images}");
    let crop = images.as_array().unwrap().iter().find(|i| i["kind"] == "plate").unwrap();
    let got = c.get(node.at(crop["url"].as_str().unwrap())).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(got.as_ref(), plate.as_slice(), "the plate crop is served byte for byte");

    // The same alert again (cameras resend when unsure): a second read, the same two files.
    let r = c.post(&url).header(header::CONTENT_TYPE, &content_type).body(body).send().await.unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!((report["accepted"].as_u64(), report["images"].as_u64()), (Some(1), Some(2)), "{report}");
    let stats: Value = c.get(node.at("/api/v1/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["reads_accepted"], 2, "{stats}");
}

#[tokio::test]
async fn a_lying_picture_is_refused_alone_and_bad_alerts_get_clear_errors() {
    let (node, c) = setup().await;
    let url = node.at("/api/v1/cameras/ro-siret-2/push/hikvision");
    // The plate "picture" is text claiming to be a JPEG: refused; the read and the real scene stay.
    let (content_type, body) = multipart(
        &hikvision_xml(),
        &[
            ("licensePlatePicture.jpg", "image/jpeg", b"<html>not a picture</html>".to_vec()),
            ("vehiclePicture.jpg", "image/jpeg", jpeg(3)),
        ],
    );
    let r = c.post(&url).header(header::CONTENT_TYPE, content_type).body(body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!((report["accepted"].as_u64(), report["images"].as_u64()), (Some(1), Some(1)), "{report}");
    let errors = report["image_errors"].as_array().unwrap();
    assert!(errors[0].as_str().unwrap().contains("licensePlatePicture.jpg"), "{report}");

    // Plain XML, without pictures, is accepted too.
    let r = c.post(&url).header(header::CONTENT_TYPE, "application/xml").body(hikvision_xml()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>
        <EventNotificationAlert>&lol2;</EventNotificationAlert>"#;
    let (no_xml_type, no_xml_body) = {
        let (t, b) = multipart("", &[("x.jpg", "image/jpeg", jpeg(4))]);
        (t, b)
    };
    for (content_type, body, expect) in [
        ("application/xml", bomb.as_bytes().to_vec(), "DOCTYPE"),
        ("application/xml", b"<EventNotificationAlert><ANPR>".to_vec(), ""),
        ("application/xml", vec![0xff, 0xfe, 0x3c], ""),
        ("multipart/form-data", b"--x\r\n\r\n".to_vec(), "boundary"),
        (no_xml_type.as_str(), no_xml_body, ""),
    ] {
        let r = c.post(&url).header(header::CONTENT_TYPE, content_type).body(body).send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{content_type}: {v}");
        let message = v["message"].as_str().unwrap();
        assert!(message.to_lowercase().contains(&expect.to_lowercase()), "{message}");
    }
    let r = c
        .post(node.at("/api/v1/cameras/nobody/push/hikvision"))
        .header(header::CONTENT_TYPE, "application/xml")
        .body(hikvision_xml())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let stats: Value = c.get(node.at("/api/v1/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["reads_accepted"], 2, "the two good alerts, nothing else: {stats}");
}

#[tokio::test]
async fn an_axis_push_event_and_an_onvif_document_become_reads() {
    let (node, c) = setup().await;
    let crop = jpeg(5);
    let event = json!({
        "packetCounter": "17", "capture_timestamp": chrono::Utc::now().timestamp_millis().to_string(),
        "plateText": "M AB 1234", "plateUnicode": "M AB 1234", "plateASCII": "MAB1234",
        "plateCountry": "DEU", "plateConfidence": "0.91", "carState": "new", "carID": "77",
        "carMoveDirection": "in",
        "camera_info": {"SerialNumber": "B8A44F000001", "ProdShortName": "AXIS Q1700-LE"},
        "ImageArray": [{"ImageType": "plate", "ImageFormat": "jpg",
                        "BinaryImage": base64::engine::general_purpose::STANDARD.encode(&crop)}]
    });
    let r = c.post(node.at("/api/v1/cameras/de-axis-1/push/axis")).json(&event).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!((report["accepted"].as_u64(), report["images"].as_u64()), (Some(1), Some(1)), "{report}");
    let id = report["ids"][0].as_i64().unwrap();
    let read: Value = c.get(node.at(&format!("/api/v1/reads/{id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["plate"], "MAB1234", "{read}");
    assert_eq!(read["country"], "DE", "{read}");

    let onvif = format!(
        r#"<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"><tt:VideoAnalytics>
        <tt:Frame UtcTime="{}"><tt:Object ObjectId="1"><tt:Appearance>
        <tt:LicensePlateInfo><tt:PlateNumber Likelihood="0.9">CJ07LMN</tt:PlateNumber>
        <tt:CountryCode Likelihood="0.8">RO</tt:CountryCode></tt:LicensePlateInfo>
        </tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>"#,
        chrono::Utc::now().to_rfc3339()
    );
    let r = c.post(node.at("/api/v1/cameras/ro-siret-2/push/onvif")).body(onvif).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!((report["accepted"].as_u64(), report["alerts"].as_u64()), (Some(1), Some(1)), "{report}");

    // An event whose only read is refused (a time far in the future) is a 422 with the reason.
    let mut future = event.clone();
    future["capture_timestamp"] = (chrono::Utc::now().timestamp_millis() + 86_400_000).to_string().into();
    let r = c.post(node.at("/api/v1/cameras/de-axis-1/push/axis")).json(&future).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let report: Value = r.json().await.unwrap();
    assert!(report["rejected"][0]["error"].as_str().unwrap().contains("future"), "{report}");
}

#[tokio::test]
async fn limes_push_sends_files_a_camera_wrote() {
    let (node, _c) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let plate = dir.path().join("plate.xml");
    std::fs::write(
        &plate,
        format!(
            r#"<tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema"><tt:VideoAnalytics>
            <tt:Frame UtcTime="{}"><tt:Object ObjectId="4"><tt:Appearance><tt:LicensePlateInfo>
            <tt:PlateNumber Likelihood="0.88">CJ 07 LMN</tt:PlateNumber></tt:LicensePlateInfo>
            </tt:Appearance></tt:Object></tt:Frame></tt:VideoAnalytics></tt:MetadataStream>"#,
            chrono::Utc::now().to_rfc3339()
        ),
    )
    .unwrap();
    let face = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../camera-formats/tests/fixtures/onvif_metadatastream_humanface.xml");
    let url = node.at("");
    let out = node.limes(&[
        "push",
        "--url",
        &url,
        "--camera",
        "ro-siret-2",
        "--format",
        "onvif",
        plate.to_str().unwrap(),
        face.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("\"accepted\":1") && lines[0].contains("\"alerts\":1"), "{stdout}");
    assert!(lines[1].contains("\"detections\":1") && lines[1].contains("\"accepted\":0"), "{stdout}");

    let garbage = dir.path().join("garbage.xml");
    std::fs::write(&garbage, "<tt:MetadataStream").unwrap();
    let out =
        node.limes(&["push", "--url", &url, "--camera", "ro-siret-2", "--format", "onvif", garbage.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("400"), "{}", String::from_utf8_lossy(&out.stderr));
}
