//! Every fixture parses to the values it holds.

mod common;

use chrono::{TimeZone, Utc};
use common::{assert_box, detection, fixture, plate, time};
use limes_camera_formats::{
    ImageKind, ImageSlot, Limits, SourceFormat, TrackState, decode_axis_images, parse_axis_event_xml,
    parse_axis_push_json, parse_frigate, parse_hikvision_multipart, parse_hikvision_xml, parse_onvif_json,
    parse_onvif_xml,
};
use limes_model::{AgeRange, BoxUnits, CameraId, DetectionKind, Direction, Gender, GeoPoint, Scored, VehicleInfo};
use limes_plate::CountryCode;

fn limits() -> Limits {
    Limits::default()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

#[test]
fn onvif_xml_human_face_and_body() {
    let obs = parse_onvif_xml(&fixture("onvif_metadatastream_humanface.xml"), None, &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!((o.format, o.object_id.as_deref()), (SourceFormat::OnvifXml, Some("15")));
    assert_eq!(time(o), "2021-10-05T15:13:27.321Z");
    assert_eq!(o.source.items, vec![("Source".to_owned(), "MyClassifier".to_owned())]);
    assert_eq!(o.source.key().as_deref(), Some("source:Source=MyClassifier"));
    let d = detection(o);
    assert_eq!(d.kind, DetectionKind::Person);
    assert_eq!(d.confidence, Some(0.8));
    assert_eq!(d.age, Some(Scored { value: AgeRange { min: 20, max: 30 }, confidence: None }));
    assert_eq!(d.gender, Some(Scored { value: Gender::Male, confidence: None }));
    // 640x480 pixels by the frame's transformation; ONVIF's y axis points up.
    assert_box(d.bbox.as_ref(), BoxUnits::Normalized, [0.03125, 0.833_333, 0.15625, 0.9375]);

    let detection = obs[0].clone().into_detection(CameraId::new("ro-siret-cam-3").unwrap(), now()).unwrap();
    assert_eq!(detection.object_id.as_deref(), Some("15"));
    assert_eq!(detection.validate(now()), Ok(()));
    assert!(obs[0].clone().into_plate_read(CameraId::new("x").unwrap(), now()).is_none());
}

#[test]
fn onvif_json_gives_what_the_same_frame_in_xml_gives() {
    let topic = "MyDevice/onvif-mj/VideoAnalytics/1/MyClassifier";
    let json = parse_onvif_json(&fixture("onvif_metadata_humanface_mqtt.json"), Some(topic), &limits()).unwrap();
    let xml = parse_onvif_xml(&fixture("onvif_metadatastream_humanface.xml"), Some(topic), &limits()).unwrap();
    assert_eq!(json.len(), 1);
    assert_eq!(json[0].format, SourceFormat::OnvifJson);
    assert_eq!(json[0].source.key(), Some(format!("topic:{topic}")));
    assert_eq!((&json[0].payload, json[0].time, &json[0].object_id), (&xml[0].payload, xml[0].time, &xml[0].object_id));
}

#[test]
fn onvif_json_single_frame_root() {
    let doc = br##"{"@UtcTime": "2026-01-02T03:04:05Z", "Object": [{"@ObjectId": 7, "Appearance": {
        "LicensePlateInfo": {"PlateNumber": {"@Likelihood": 0.5, "#text": "SB77XYZ"}}}}]}"##;
    let obs = parse_onvif_json(doc, None, &limits()).unwrap();
    assert_eq!(time(&obs[0]), "2026-01-02T03:04:05.000Z");
    assert_eq!(plate(&obs[0]).plate.text, Scored { value: "SB77XYZ".into(), confidence: Some(0.5) });
}

#[test]
fn onvif_license_plate_fragment_without_namespace_declarations() {
    let obs = parse_onvif_xml(&fixture("onvif_fragment_licenseplateinfo.xml"), None, &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    assert_eq!(time(&obs[0]), "2010-10-20T12:24:57.321Z");
    assert_eq!(obs[0].object_id.as_deref(), Some("12"));
    let p = plate(&obs[0]);
    assert_eq!(p.plate.text, Scored { value: "6DZG261".into(), confidence: Some(0.9) });
    assert_eq!(p.plate.plate_type, Some(Scored { value: "Normal".into(), confidence: Some(0.8) }));
    assert_eq!(p.plate.country, Some(Scored { value: CountryCode::parse("US").unwrap(), confidence: Some(0.7) }));
    assert_eq!(p.country_raw.as_deref(), Some("US"));
    assert_eq!(p.plate.issuing_entity, Some(Scored { value: "California".into(), confidence: Some(0.6) }));
    assert_eq!(p.direction, Direction::Unknown);

    let read = obs[0].clone().into_plate_read(CameraId::new("us-ca-1").unwrap(), now()).unwrap();
    assert_eq!(
        read.time,
        Utc.with_ymd_and_hms(2010, 10, 20, 12, 24, 57).unwrap() + chrono::Duration::milliseconds(321)
    );
    assert_eq!(read.validate(now()), Ok(()));
}

#[test]
fn onvif_vehicle_info_fragment() {
    let obs = parse_onvif_xml(&fixture("onvif_fragment_vehicleinfo.xml"), None, &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    assert_eq!(time(&obs[0]), "2020-11-05T12:24:57.321Z");
    let d = detection(&obs[0]);
    assert_eq!(d.kind, DetectionKind::Vehicle);
    assert_eq!(d.vehicle, Some(VehicleInfo { make: Some("Volvo".into()), colour: None, class: Some("car".into()) }));
    assert_eq!(obs[0].extra, vec![("VehicleInfo/Model".to_owned(), "XC60".to_owned())]);
}

#[test]
fn onvif_frames_with_parent_objects() {
    let obs = parse_onvif_xml(&fixture("onvif_fragment_vehicle_plate_frames.xml"), None, &limits()).unwrap();
    // Object 14 is classed LicensePlate but carries no text: it gives nothing.
    assert_eq!(obs.len(), 1, "{obs:#?}");
    assert_eq!(obs[0].object_id.as_deref(), Some("12"));
    assert_eq!(time(&obs[0]), "2019-06-10T12:24:57.321Z");
    assert!(obs[0].extra.contains(&("Object@UUID".into(), "032e91c6-39f1-4504-9970-3a2c41408d4a".into())));
    let d = detection(&obs[0]);
    assert_eq!((d.kind, d.confidence), (DetectionKind::Vehicle, Some(0.9)));
    assert_box(d.bbox.as_ref(), BoxUnits::Normalized, [0.03125, 0.625, 0.15625, 0.9375]);
}

#[test]
fn onvif_documents_without_objects_give_nothing() {
    for name in ["onvif_metadatastream_cellmotion_event.xml", "onvif_metadatastream_sensordata.xml"] {
        assert_eq!(parse_onvif_xml(&fixture(name), None, &limits()).unwrap(), vec![], "{name}");
    }
}

#[test]
fn onvif_json_plate_takes_the_vehicle_of_its_parent() {
    let topic = "gate-7/onvif-mj/VideoAnalytics/1/PlateReader";
    let obs = parse_onvif_json(&fixture("onvif_json_plate_vehicle.json"), Some(topic), &limits()).unwrap();
    assert_eq!(obs.len(), 2, "the vehicle parent gives no detection of its own: {obs:#?}");
    assert_eq!(time(&obs[0]), "2026-06-09T04:12:33.250Z");
    assert_eq!(obs[0].object_id.as_deref(), Some("32"));
    let p = plate(&obs[0]);
    assert_eq!(p.plate.text, Scored { value: "B123XYZ".into(), confidence: Some(0.93) });
    assert_eq!(p.plate.country, Some(Scored { value: CountryCode::RO, confidence: Some(0.9) }));
    assert_eq!(p.plate.issuing_entity, Some(Scored { value: "București".into(), confidence: Some(0.7) }));
    assert_eq!(p.vehicle, Some(VehicleInfo { make: Some("Scania".into()), colour: None, class: Some("truck".into()) }));
    assert!(obs[0].extra.contains(&("VehicleInfo/Model".into(), "R 450".into())));
    assert_box(p.plate_box.as_ref(), BoxUnits::Normalized, [0.453_125, 0.652_775, 0.546_875, 0.694_442]);

    let d = detection(&obs[1]);
    assert_eq!((d.kind, d.confidence), (DetectionKind::Person, Some(0.88)));
    assert_eq!(d.age.as_ref().map(|a| a.value), Some(AgeRange { min: 30, max: 45 }));
    assert_eq!(d.gender, Some(Scored { value: Gender::Female, confidence: Some(0.75) }));
}

#[test]
fn hikvision_anpr_read() {
    let obs = parse_hikvision_xml(&fixture("hikvision_anpr_plate.xml"), &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.format, SourceFormat::HikvisionIsapi);
    assert_eq!(time(o), "2026-03-02T05:15:42.000Z");
    assert_eq!(o.source.mac.as_deref(), Some("02:1a:7c:40:0b:e3"));
    assert_eq!(o.source.ip.as_deref(), Some("192.0.2.41"));
    assert_eq!(o.source.name.as_deref(), Some("Siret lane 2"));
    assert_eq!(o.source.key().as_deref(), Some("mac:02:1a:7c:40:0b:e3/ch:2"));
    let p = plate(o);
    assert_eq!(p.plate.text, Scored { value: "CJ07LMN".into(), confidence: Some(0.87) });
    assert_eq!((p.plate.country.as_ref(), p.country_raw.as_deref()), (None, Some("12")));
    assert_eq!(p.plate.plate_type, None, "`unknown` is no type");
    assert_eq!(p.direction, Direction::Leaving);
    assert_eq!(p.vehicle, Some(VehicleInfo { make: None, colour: Some("blue".into()), class: Some("truck".into()) }));
    let position = p.position.unwrap();
    let siret = GeoPoint::new(47.953_694, 26.067).unwrap();
    assert!(position.distance_m(&siret) < 1.0, "{position:?}");
    assert_eq!(
        p.images,
        vec![
            ImageSlot { kind: ImageKind::Plate, name: Some("licensePlatePicture.jpg".into()), index: Some(0) },
            ImageSlot { kind: ImageKind::Overview, name: Some("vehiclePicture.jpg".into()), index: Some(1) },
        ]
    );
    assert_box(p.plate_box.as_ref(), BoxUnits::Normalized, [0.412, 0.698, 0.473, 0.722]);
    assert!(o.extra.contains(&("ANPR/vehicleInfo/vehicleLogoRecog".into(), "1024".into())), "{:?}", o.extra);

    let read = o.clone().into_plate_read(CameraId::new("ro-siret-2").unwrap(), now()).unwrap();
    assert_eq!(read.validate(now()), Ok(()));
    assert_eq!(read.position, Some(position));
}

#[test]
fn hikvision_time_without_offset_is_left_to_the_receiver() {
    let xml = String::from_utf8(fixture("hikvision_anpr_plate.xml")).unwrap();
    let xml = xml.replace("2026-03-02T07:15:42+02:00", "2026-03-02T07:15:42");
    let obs = parse_hikvision_xml(xml.as_bytes(), &limits()).unwrap();
    assert_eq!(obs[0].time, None, "a camera's local time without its offset cannot be placed");
}

#[test]
fn hikvision_unknown_plate_gives_no_read() {
    assert_eq!(parse_hikvision_xml(&fixture("hikvision_anpr_unknown.xml"), &limits()).unwrap(), vec![]);
}

#[test]
fn hikvision_field_detection_of_a_person() {
    let obs = parse_hikvision_xml(&fixture("hikvision_fielddetection_human.xml"), &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    assert_eq!(time(&obs[0]), "2026-05-14T19:03:11.000Z");
    assert_eq!(obs[0].source.key().as_deref(), Some("mac:02:44:9d:21:c0:5a/ch:1"));
    let d = detection(&obs[0]);
    assert_eq!((d.kind, d.zone.as_deref()), (DetectionKind::Person, Some("3")));
    assert_box(d.bbox.as_ref(), BoxUnits::Normalized, [0.4125, 0.301_389, 0.49375, 0.654_167]);
}

/// A Hikvision multipart body as cameras post it.
fn hikvision_multipart(boundary: &str, jpeg: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    let part = |body: &mut Vec<u8>, headers: &str, data: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    };
    let xml = fixture("hikvision_anpr_plate.xml");
    part(
        &mut body,
        &format!(
            "Content-Disposition: form-data; name=\"anpr.xml\"; filename=\"anpr.xml\"\r\nContent-Type: application/xml\r\nContent-Length: {}",
            xml.len()
        ),
        &xml,
    );
    part(
        &mut body,
        "Content-Disposition: form-data; name=\"licensePlatePicture.jpg\"; filename=\"licensePlatePicture.jpg\"\r\nContent-Type: image/jpeg",
        jpeg,
    );
    part(
        &mut body,
        "Content-Disposition: form-data; name=\"vehiclePicture.jpg\"; filename=\"vehiclePicture.jpg\"\r\nContent-Type: image/jpeg",
        jpeg,
    );
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

#[test]
fn hikvision_multipart_gives_the_read_and_its_pictures() {
    let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x0D, 0x0A, b'-', b'-', 0xFF, 0xD9];
    let body = hikvision_multipart("MIME_boundary_8d4e2a", &jpeg);
    let content_type = "multipart/form-data; boundary=MIME_boundary_8d4e2a";
    let upload = parse_hikvision_multipart(content_type, &body, &limits()).unwrap();
    assert_eq!(upload.observations.len(), 1);
    let p = plate(&upload.observations[0]);
    assert_eq!(p.plate.text.value, "CJ07LMN");
    assert_eq!(upload.images.len(), 2);
    for slot in &p.images {
        let name = slot.name.as_deref().unwrap();
        let part = upload.images.iter().find(|part| part.is_named(name)).unwrap();
        assert_eq!(part.data, jpeg, "{name}");
        assert!(part.is_jpeg && !part.mislabelled);
        assert_eq!(part.content_type.as_deref(), Some("image/jpeg"));
    }
}

#[test]
fn axis_push_event() {
    let obs = parse_axis_push_json(&fixture("axis_lpv_push_event.json"), &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.format, SourceFormat::AxisLpv);
    assert_eq!(time(o), "2026-03-02T07:15:42.310Z");
    assert_eq!(o.source.key().as_deref(), Some("serial:02A1B2C3D4E5"));
    assert_eq!(o.source.mac.as_deref(), Some("02:a1:b2:c3:d4:e5"));
    assert_eq!(o.source.ip.as_deref(), Some("192.0.2.77"));
    assert_eq!((o.object_id.as_deref(), o.track), (Some("8812"), Some(TrackState::New)));
    let p = plate(o);
    assert_eq!(p.plate.text, Scored { value: "АА1234ВХ".into(), confidence: Some(0.861_402) });
    assert_eq!(p.plate.country, Some(Scored { value: CountryCode::UA, confidence: None }));
    assert_eq!(p.country_raw.as_deref(), Some("UKR"));
    assert_eq!(p.plate.issuing_entity.as_ref().map(|e| e.value.as_str()), Some("Kyiv"));
    assert_eq!(p.direction, Direction::Approaching);
    assert_eq!(p.position, Some(GeoPoint::new(48.01062, 26.02971).unwrap()));
    assert_box(p.plate_box.as_ref(), BoxUnits::Pixels, [702.0, 488.0, 833.0, 518.0]);
    assert_eq!(p.vehicle, Some(VehicleInfo { make: None, colour: Some("white".into()), class: Some("truck".into()) }));
    assert_eq!(p.images.iter().map(|i| i.kind).collect::<Vec<_>>(), [ImageKind::Plate, ImageKind::Overview]);

    // The Cyrillic text normalises to the Latin plate for Ukraine.
    let read = o.clone().into_plate_read(CameraId::new("ua-porubne-1").unwrap(), now()).unwrap();
    assert_eq!(read.validate(now()), Ok(()));
    let normalized = limes_plate::normalize(&read.plate.text.value, Some(CountryCode::UA)).unwrap();
    assert_eq!(normalized.text.as_str(), "AA1234BX");
}

#[test]
fn axis_push_event_with_embedded_images() {
    let bytes = fixture("axis_lpv_push_event_images.json");
    let obs = parse_axis_push_json(&bytes, &limits()).unwrap();
    let o = &obs[0];
    assert_eq!((o.track, o.object_id.as_deref()), (Some(TrackState::Update), Some("8820")));
    let p = plate(o);
    assert_eq!(p.plate.text.value, "MÜAB1234");
    assert_eq!(p.plate.country.as_ref().map(|c| c.value), Some(CountryCode::DE));
    assert_eq!(p.plate.issuing_entity.as_ref().map(|e| e.value.as_str()), Some("Mühldorf a. Inn"));
    assert_eq!(p.direction, Direction::Leaving);
    assert!(o.extra.contains(&("plateList".into(), "Block list".into())));
    assert!(!format!("{obs:?}").contains("Hans Muster"), "the list description is dropped");
    assert_eq!(
        p.images,
        vec![
            ImageSlot { kind: ImageKind::Plate, name: None, index: Some(0) },
            ImageSlot { kind: ImageKind::Overview, name: None, index: Some(1) },
        ]
    );
    let images = decode_axis_images(&bytes, &limits()).unwrap();
    assert_eq!(images.len(), 2);
    assert!(images[0].data.starts_with(b"\x89PNG"));
    assert!(images[0].mislabelled && !images[0].is_jpeg, "a PNG that says jpg is flagged");
    assert!(images[1].is_jpeg && !images[1].mislabelled);
    assert_eq!(images[1].kind, ImageKind::Overview);
}

#[test]
fn axis_alpv_all_plates_event() {
    let obs = parse_axis_event_xml(&fixture("axis_lpv_alpv_allplates_event.xml"), None, &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(time(o), "2026-04-18T05:40:12.480Z");
    assert_eq!((o.object_id.as_deref(), o.track), (Some("20417"), Some(TrackState::New)));
    assert_eq!(
        o.source.key().as_deref(),
        Some("source:ProducerReference=uri://6f1c2a9e-0d4b-4c1e-9a57-3b8e2f7d1c40/ProducerReference")
    );
    let p = plate(o);
    assert_eq!(p.plate.text, Scored { value: "SV12ABC".into(), confidence: None });
    assert_eq!(p.plate.country.as_ref().map(|c| c.value), Some(CountryCode::RO));
    assert_eq!(p.direction, Direction::Leaving);
    assert_box(p.plate_box.as_ref(), BoxUnits::Pixels, [880.0, 611.0, 1022.0, 642.0]);
    assert!(o.extra.contains(&("action".into(), "No action".into())));

    let with_topic =
        parse_axis_event_xml(&fixture("axis_lpv_alpv_allplates_event.xml"), Some("axis/lpv-3/events"), &limits())
            .unwrap();
    assert_eq!(with_topic[0].source.key().as_deref(), Some("topic:axis/lpv-3/events"));
}

#[test]
fn axis_alpv_real_time_event() {
    let obs = parse_axis_event_xml(&fixture("axis_lpv_alpv_realtime_event.xml"), None, &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    assert_eq!(time(&obs[0]), "2026-04-18T05:40:12.950Z");
    let p = plate(&obs[0]);
    assert_eq!(p.plate.text.value, "SV12ABC");
    assert_box(p.plate_box.as_ref(), BoxUnits::Normalized, [0.375, 0.4, 0.625, 0.45]);
}

#[test]
fn frigate_event_with_a_plate_drops_the_sub_label() {
    let obs = parse_frigate(&fixture("frigate_mqtt_events_lpr.json"), &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.format, SourceFormat::Frigate);
    assert_eq!(o.source.key().as_deref(), Some("name:front_door"));
    assert_eq!(o.object_id.as_deref(), Some("1607123955.475377-mxklsc"));
    assert_eq!(o.track, Some(TrackState::Update));
    assert_eq!(o.time.unwrap().timestamp_micros(), 1_607_123_962_082_975);
    let p = plate(o);
    assert_eq!(p.plate.text, Scored { value: "ABC12345".into(), confidence: Some(0.933_451) });
    assert_eq!(p.vehicle, None, "the documented example tracks a person");
    assert!(!format!("{obs:?}").contains("John Smith"));
}

#[test]
fn frigate_tracked_object_update_lpr() {
    let obs = parse_frigate(&fixture("frigate_mqtt_tracked_object_update_lpr.json"), &limits()).unwrap();
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.source.name.as_deref(), Some("driveway_cam"));
    assert_eq!(o.object_id.as_deref(), Some("1607123955.475377-mxklsc"));
    assert_eq!(o.time.unwrap().timestamp_micros(), 1_607_123_958_748_393);
    let p = plate(o);
    assert_eq!(p.plate.text, Scored { value: "123ABC".into(), confidence: Some(0.95) });
    assert_box(p.plate_box.as_ref(), BoxUnits::Pixels, [917.0, 487.0, 1029.0, 529.0]);
    assert!(!format!("{obs:?}").contains("John's Car"));
}

#[test]
fn frigate_reviews_give_nothing() {
    assert_eq!(parse_frigate(&fixture("frigate_mqtt_reviews.json"), &limits()).unwrap(), vec![]);
}

#[test]
fn frigate_new_car_and_new_person() {
    let obs = parse_frigate(&fixture("frigate_events_car_new.json"), &limits()).unwrap();
    assert_eq!(obs[0].track, Some(TrackState::New));
    let p = plate(&obs[0]);
    assert_eq!(p.plate.text, Scored { value: "SV12ABC".into(), confidence: Some(0.88) });
    assert_eq!(p.vehicle.as_ref().and_then(|v| v.class.as_deref()), Some("car"));
    assert!(!format!("{obs:?}").contains("Popescu"));

    let obs = parse_frigate(&fixture("frigate_events_person_new.json"), &limits()).unwrap();
    let d = detection(&obs[0]);
    assert_eq!((d.kind, d.confidence, d.zone.as_deref()), (DetectionKind::Person, Some(0.74), Some("border_strip")));
    assert_box(d.bbox.as_ref(), BoxUnits::Pixels, [100.0, 200.0, 180.0, 420.0]);
    assert!(!format!("{obs:?}").contains("Maria"));
    let detection = obs[0].clone().into_detection(CameraId::new("ro-footpath").unwrap(), now()).unwrap();
    assert_eq!(detection.validate(now()), Ok(()));
    assert!(!serde_json::to_string(&detection).unwrap().contains("Maria"));
}

#[test]
fn a_read_without_a_time_takes_the_receive_time() {
    let message = br#"{"type": "lpr", "id": "x", "plate": "B123XYZ", "camera": "gate"}"#;
    let obs = parse_frigate(message, &limits()).unwrap();
    assert_eq!(obs[0].time, None);
    let read = obs[0].clone().into_plate_read(CameraId::new("gate").unwrap(), now()).unwrap();
    assert_eq!(read.time, now());
}
