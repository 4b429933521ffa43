//! The real third-party samples in the developers' and CI's `shared/samples` folder (beside
//! the project's root, or where `LIMES_SHARED` points) parse to the values they hold.
//!
//! The Hikvision and Axis samples carry no licence, so the project cannot ship them; they
//! are read from `shared/` here and never copied. The open-licensed ONVIF and Frigate
//! samples are also fixtures of this crate: the copies must stay byte-for-byte identical.
//! Where `shared/` is absent (a clone without it) these tests say so and check nothing else;
//! the fixtures' own tests still run.

mod common;

use std::path::PathBuf;

use common::{assert_box, detection, plate, time};
use limes_camera_formats::{
    Limits, TrackState, decode_axis_images, parse_axis_event_xml, parse_axis_push_json, parse_hikvision_xml,
};
use limes_model::{BoxUnits, DetectionKind, Direction, GeoPoint, Scored, VehicleInfo};
use limes_plate::CountryCode;

fn samples() -> Option<PathBuf> {
    let dir = match std::env::var_os("LIMES_SHARED") {
        Some(d) => PathBuf::from(d).join("samples"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("no shared samples at {}: only the crate's own fixtures are checked", dir.display());
        None
    }
}

fn sample(name: &str) -> Option<Vec<u8>> {
    let path = samples()?.join(name);
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[test]
fn open_licensed_fixtures_are_unchanged_copies() {
    let Some(dir) = samples() else { return };
    for name in [
        "onvif_metadatastream_humanface.xml",
        "onvif_metadata_humanface_mqtt.json",
        "onvif_fragment_licenseplateinfo.xml",
        "onvif_fragment_vehicleinfo.xml",
        "onvif_fragment_vehicle_plate_frames.xml",
        "onvif_metadatastream_cellmotion_event.xml",
        "onvif_metadatastream_sensordata.xml",
        "frigate_mqtt_events_lpr.json",
        "frigate_mqtt_tracked_object_update_lpr.json",
        "frigate_mqtt_reviews.json",
    ] {
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), common::fixture(name), "{name}");
    }
}

#[test]
fn hikvision_anpr_sample() {
    let Some(bytes) = sample("hikvision_isapi_anpr_plate_detected.xml") else { return };
    let obs = parse_hikvision_xml(&bytes, &Limits::default()).unwrap();
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(time(o), "2023-08-11T12:49:00.000Z");
    assert_eq!(o.source.key().as_deref(), Some("mac:bc:5e:33:62:2a:5c/ch:1"));
    assert_eq!(o.source.ip.as_deref(), Some("10.2.124.188"));
    let p = plate(o);
    assert_eq!(p.plate.text, Scored { value: "KH35192".into(), confidence: Some(1.0) });
    assert_eq!((p.plate.country.as_ref(), p.country_raw.as_deref()), (None, Some("5")));
    assert_eq!(p.direction, Direction::Approaching);
    assert_eq!(p.vehicle, Some(VehicleInfo { make: None, colour: Some("white".into()), class: None }));
    let expected = GeoPoint::new(58.0 + 6.0 / 60.0 + 22.3 / 3600.0, 7.0 + 56.0 / 60.0 + 9.0 / 3600.0).unwrap();
    assert!(p.position.unwrap().distance_m(&expected) < 0.01);
    assert_eq!(p.images.len(), 2);
    assert_eq!(p.images[0].name.as_deref(), Some("licensePlatePicture.jpg"));
    assert_box(p.plate_box.as_ref(), BoxUnits::Normalized, [0.544, 0.835, 0.584, 0.870]);
}

#[test]
fn hikvision_unknown_and_field_detection_samples() {
    let Some(bytes) = sample("hikvision_isapi_anpr_plate_unknown.xml") else { return };
    assert_eq!(parse_hikvision_xml(&bytes, &Limits::default()).unwrap(), vec![]);
    let Some(bytes) = sample("hikvision_isapi_fielddetection_vehicle.xml") else { return };
    let obs = parse_hikvision_xml(&bytes, &Limits::default()).unwrap();
    assert_eq!(obs.len(), 1);
    assert_eq!(time(&obs[0]), "2022-01-19T06:51:17.000Z");
    let d = detection(&obs[0]);
    assert_eq!((d.kind, d.zone.as_deref()), (DetectionKind::Vehicle, Some("2")));
    assert_box(d.bbox.as_ref(), BoxUnits::Normalized, [0.779_688, 0.409_722, 0.989_063, 0.869_444]);
}

#[test]
fn axis_alpv_samples() {
    let Some(bytes) = sample("axis_lpv_alpv_allplates_event.xml") else { return };
    let obs = parse_axis_event_xml(&bytes, None, &Limits::default()).unwrap();
    assert_eq!(obs.len(), 1);
    assert_eq!(time(&obs[0]), "2021-05-20T11:54:21.894Z");
    assert_eq!((obs[0].object_id.as_deref(), obs[0].track), (Some("1139066"), Some(TrackState::New)));
    let p = plate(&obs[0]);
    assert_eq!(p.plate.text.value, "II04458");
    assert_eq!(p.plate.country.as_ref().map(|c| c.value.as_str().to_owned()).as_deref(), Some("PT"));
    assert_eq!(p.direction, Direction::Unknown);
    assert_box(p.plate_box.as_ref(), BoxUnits::Pixels, [539.0, 354.0, 707.0, 382.0]);

    let Some(bytes) = sample("axis_lpv_alpv_realtime_event.xml") else { return };
    let obs = parse_axis_event_xml(&bytes, None, &Limits::default()).unwrap();
    assert_eq!(time(&obs[0]), "2024-03-14T18:08:57.193Z");
    assert_eq!(obs[0].object_id.as_deref(), Some("4"));
    let p = plate(&obs[0]);
    assert_eq!(p.plate.text.value, "MWR6677");
    assert_box(p.plate_box.as_ref(), BoxUnits::Normalized, [0.553_125, 0.709_26, 0.684_375, 0.75]);
}

#[test]
fn axis_push_samples() {
    let Some(bytes) = sample("axis_lpv_push_event.json") else { return };
    let obs = parse_axis_push_json(&bytes, &Limits::default()).unwrap();
    let o = &obs[0];
    assert_eq!(time(o), "2023-12-11T12:27:05.507Z");
    assert_eq!(o.source.key().as_deref(), Some("serial:ACCC8EBFB452"));
    assert_eq!((o.object_id.as_deref(), o.track), (Some("54950"), Some(TrackState::Update)));
    let p = plate(o);
    assert_eq!(p.plate.text, Scored { value: "HWR6677".into(), confidence: Some(0.737_21) });
    assert_eq!(p.plate.country.as_ref().map(|c| c.value), Some(CountryCode::DE));
    assert_eq!(p.plate.issuing_entity.as_ref().map(|e| e.value.as_str()), Some("Hannover"));
    assert_eq!(p.direction, Direction::Leaving);
    assert_eq!(p.position, Some(GeoPoint::new(55.70421, 13.19366).unwrap()));
    assert_box(p.plate_box.as_ref(), BoxUnits::Pixels, [514.0, 570.0, 634.0, 598.0]);
    assert_eq!(p.vehicle, Some(VehicleInfo { make: None, colour: Some("black".into()), class: Some("car".into()) }));

    let Some(bytes) = sample("axis_lpv_push_event_blocklist.json") else { return };
    let obs = parse_axis_push_json(&bytes, &Limits::default()).unwrap();
    let p = plate(&obs[0]);
    assert_eq!(p.plate.text.value, "TÖLSL123");
    assert_eq!(p.plate.issuing_entity.as_ref().map(|e| e.value.as_str()), Some("Bad Tölz"));
    assert!(obs[0].extra.contains(&("plateListMode".into(), "block".into())));
    let images = decode_axis_images(&bytes, &Limits::default()).unwrap();
    assert_eq!(images.len(), 1);
    assert!(images[0].mislabelled, "the sample's `jpg` is a PNG");
}
