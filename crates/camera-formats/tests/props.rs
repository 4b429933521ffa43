//! Property tests: no input makes a parser panic, and whatever a parser accepts holds only
//! values in range (confidences in 0..=1, boxes inside the picture, ordered age ranges).
//!
//! Each parser gets arbitrary bytes, its valid fixtures with random edits (flipped,
//! deleted, inserted and duplicated bytes, truncation, tokens of the format spliced in), and
//! a soup of the format's own tokens.

mod common;

use common::fixture;
use limes_camera_formats::{
    FormatError, Limits, Observation, Payload, decode_axis_images, parse_axis_event_xml, parse_axis_push_json,
    parse_frigate, parse_hikvision_multipart, parse_hikvision_xml, parse_onvif_json, parse_onvif_xml,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

const XML_TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "tt:",
    "Frame",
    "Object",
    "Appearance",
    "LicensePlateInfo",
    "PlateNumber",
    "CountryCode",
    "VehicleInfo",
    "Class",
    "Type",
    "HumanFace",
    "HumanBody",
    "Age",
    "Min",
    "Max",
    "Gender",
    "Male",
    "Shape",
    "BoundingBox",
    "Transformation",
    "Scale",
    " x=\"0\"",
    " left=\"-2\"",
    " top=\"1e9\"",
    " Likelihood=\"0.5\"",
    " Likelihood=\"NaN\"",
    " ObjectId=\"1\"",
    " Parent=\"1\"",
    " UtcTime=\"2020-01-01T00:00:00Z\"",
    "EventNotificationAlert",
    "ANPR",
    "licensePlate",
    "unknown",
    "confidenceLevel",
    "DeviceGPSInfo",
    "Latitude",
    "degree",
    "pictureInfo",
    "plateRect",
    "X",
    "DetectionRegionList",
    "DetectionRegionEntry",
    "detectionTarget",
    "human",
    "TargetRect",
    "NotificationMessage",
    "Topic",
    "ALPV.AllPlates",
    "ALPV.RealTime",
    "Message",
    "Data",
    "SimpleItem",
    " Name=\"text\"",
    " Name=\"left\"",
    " Value=\"AB1\"",
    " Value=\"\"",
    "&amp;",
    "&#0;",
    "&#x10FFFF;",
    "&#xD800;",
    "&lol;",
    "<!DOCTYPE a [<!ENTITY b \"c\">]>",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<?xml version=\"1.0\"?>",
    "\"",
    "'",
    "=",
    " ",
    "\n",
    "7",
    "-1",
    "1e308",
    "\u{FEFF}",
    "é",
    "\u{0}",
];

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"Frame\"",
    "\"Object\"",
    "\"@ObjectId\"",
    "\"@Parent\"",
    "\"Appearance\"",
    "\"LicensePlateInfo\"",
    "\"PlateNumber\"",
    "\"HumanFace\"",
    "\"Age\"",
    "\"Min\"",
    "\"#text\"",
    "\"@Likelihood\"",
    "\"BoundingBox\"",
    "\"@left\"",
    "\"type\"",
    "\"new\"",
    "\"update\"",
    "\"lpr\"",
    "\"after\"",
    "\"before\"",
    "\"camera\"",
    "\"label\"",
    "\"car\"",
    "\"person\"",
    "\"frame_time\"",
    "\"recognized_license_plate\"",
    "\"plate\"",
    "\"score\"",
    "\"box\"",
    "\"plate_box\"",
    "\"timestamp\"",
    "\"plateText\"",
    "\"plateConfidence\"",
    "\"geotag\"",
    "\"lat\"",
    "\"lon\"",
    "\"plateCoordinates\"",
    "\"capture_timestamp\"",
    "\"ImageArray\"",
    "\"BinaryImage\"",
    "\"camera_info\"",
    "0",
    "1",
    "-1",
    "7",
    "1e400",
    "0.5",
    "-0.0",
    "99999999999999999999",
    "null",
    "true",
    "\"x\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"NaN\"",
    " ",
    "\u{FEFF}",
];

const MULTIPART_TOKENS: &[&str] = &[
    "--b0und",
    "--b0und--",
    "\r\n",
    "\r\n\r\n",
    "--",
    " ",
    "Content-Type: image/jpeg",
    "Content-Type: text/xml",
    "Content-Disposition: form-data; name=\"anpr.xml\"",
    "Content-Disposition: form-data; name=\"a.jpg\"; filename=\"a.jpg\"",
    "<EventNotificationAlert><ANPR><licensePlate>AB1</licensePlate></ANPR></EventNotificationAlert>",
    "\u{FF}\u{D8}",
    ":",
];

/// Asserts the ranges every accepted observation must respect.
fn assert_sane(observations: &[Observation]) {
    let unit = |c: Option<f32>| assert!(c.is_none_or(|c| (0.0..=1.0).contains(&c)), "confidence {c:?}");
    for o in observations {
        match &o.payload {
            Payload::Plate(p) => {
                assert!(!p.plate.text.value.trim().is_empty());
                unit(p.plate.text.confidence);
                for s in [&p.plate.plate_type, &p.plate.issuing_entity].into_iter().flatten() {
                    unit(s.confidence);
                }
                unit(p.plate.country.as_ref().and_then(|c| c.confidence));
                if let Some(b) = &p.plate_box {
                    b.validate().unwrap();
                }
            }
            Payload::Detection(d) => {
                unit(d.confidence);
                unit(d.gender.as_ref().and_then(|g| g.confidence));
                if let Some(a) = &d.age {
                    assert!(a.value.min <= a.value.max && a.value.max <= limes_model::MAX_AGE);
                }
                if let Some(b) = &d.bbox {
                    b.validate().unwrap();
                }
            }
        }
    }
}

fn check(result: Result<Vec<Observation>, FormatError>) {
    match result {
        Ok(observations) => assert_sane(&observations),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// One random edit of a document.
#[derive(Debug, Clone)]
enum Edit {
    Flip(Index, u8),
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    Splice(Index, usize),
    Duplicate(Index, usize),
    Truncate(Index),
}

fn edit(tokens: &'static [&'static str]) -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<Index>(), 1..32usize).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<Index>(), vec(any::<u8>(), 1..8)).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<Index>(), 0..tokens.len()).prop_map(|(i, t)| Edit::Splice(i, t)),
        (any::<Index>(), 1..200usize).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut doc: Vec<u8>, edits: &[Edit], tokens: &[&str]) -> Vec<u8> {
    for e in edits {
        let at = |i: &Index, doc: &Vec<u8>| i.index(doc.len() + 1);
        match e {
            Edit::Flip(i, b) if !doc.is_empty() => {
                let p = i.index(doc.len());
                doc[p] = *b;
            }
            Edit::Flip(..) => {}
            Edit::Delete(i, n) => {
                let p = at(i, &doc);
                let end = (p + n).min(doc.len());
                doc.drain(p..end);
            }
            Edit::Insert(i, bytes) => {
                let p = at(i, &doc);
                doc.splice(p..p, bytes.iter().copied());
            }
            Edit::Splice(i, t) => {
                let p = at(i, &doc);
                doc.splice(p..p, tokens[*t].bytes());
            }
            Edit::Duplicate(i, n) => {
                let p = at(i, &doc);
                let end = (p + n).min(doc.len());
                let copy = doc[p..end].to_vec();
                doc.splice(p..p, copy);
            }
            Edit::Truncate(i) => {
                let p = at(i, &doc);
                doc.truncate(p);
            }
        }
    }
    doc
}

/// The three properties for one parser.
macro_rules! never_panics {
    ($module:ident, $parse:expr, $tokens:expr, [$($fixture:literal),+ $(,)?]) => {
        mod $module {
            use super::*;

            const FIXTURES: &[&str] = &[$($fixture),+];

            proptest! {
                #[test]
                fn on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..1024)) {
                    check($parse(&bytes));
                }

                #[test]
                fn on_edited_documents(which in any::<Index>(), edits in vec(edit($tokens), 1..8)) {
                    let doc = fixture(FIXTURES[which.index(FIXTURES.len())]);
                    check($parse(&apply(doc, &edits, $tokens)));
                }

                #[test]
                fn on_token_soup(tokens in vec(select($tokens), 0..200)) {
                    check($parse(tokens.concat().as_bytes()));
                }
            }
        }
    };
}

never_panics!(
    onvif_xml,
    |b: &[u8]| parse_onvif_xml(b, Some("t"), &Limits::default()),
    XML_TOKENS,
    [
        "onvif_metadatastream_humanface.xml",
        "onvif_fragment_licenseplateinfo.xml",
        "onvif_fragment_vehicle_plate_frames.xml",
        "onvif_fragment_vehicleinfo.xml",
        "onvif_metadatastream_cellmotion_event.xml",
    ]
);
never_panics!(
    onvif_json,
    |b: &[u8]| parse_onvif_json(b, None, &Limits::default()),
    JSON_TOKENS,
    ["onvif_metadata_humanface_mqtt.json", "onvif_json_plate_vehicle.json"]
);
never_panics!(
    hikvision_xml,
    |b: &[u8]| parse_hikvision_xml(b, &Limits::default()),
    XML_TOKENS,
    ["hikvision_anpr_plate.xml", "hikvision_anpr_unknown.xml", "hikvision_fielddetection_human.xml"]
);
never_panics!(
    axis_event_xml,
    |b: &[u8]| parse_axis_event_xml(b, None, &Limits::default()),
    XML_TOKENS,
    ["axis_lpv_alpv_allplates_event.xml", "axis_lpv_alpv_realtime_event.xml"]
);
never_panics!(
    axis_push_json,
    |b: &[u8]| parse_axis_push_json(b, &Limits::default()),
    JSON_TOKENS,
    ["axis_lpv_push_event.json", "axis_lpv_push_event_images.json"]
);
never_panics!(
    axis_images,
    |b: &[u8]| decode_axis_images(b, &Limits::default()).map(|_| Vec::new()),
    JSON_TOKENS,
    ["axis_lpv_push_event_images.json"]
);
never_panics!(
    frigate,
    |b: &[u8]| parse_frigate(b, &Limits::default()),
    JSON_TOKENS,
    [
        "frigate_mqtt_events_lpr.json",
        "frigate_mqtt_tracked_object_update_lpr.json",
        "frigate_mqtt_reviews.json",
        "frigate_events_car_new.json",
        "frigate_events_person_new.json",
    ]
);

/// A valid Hikvision multipart body.
fn multipart_body() -> Vec<u8> {
    let mut body =
        b"--b0und\r\nContent-Disposition: form-data; name=\"anpr.xml\"\r\nContent-Type: text/xml\r\n\r\n".to_vec();
    body.extend(fixture("hikvision_anpr_plate.xml"));
    body.extend_from_slice(b"\r\n--b0und\r\nContent-Type: image/jpeg\r\n\r\n\xFF\xD8\xFF\xE0\r\n--b0und--\r\n");
    body
}

fn multipart(body: &[u8]) -> Result<Vec<Observation>, FormatError> {
    let limits = Limits { max_parts: 4, ..Limits::default() };
    let upload = parse_hikvision_multipart("multipart/form-data; boundary=b0und", body, &limits)?;
    for part in &upload.images {
        assert!(part.data.len() <= body.len());
        assert!(!(part.mislabelled && part.is_jpeg));
    }
    Ok(upload.observations)
}

proptest! {
    #[test]
    fn multipart_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..1024)) {
        check(multipart(&bytes));
    }

    #[test]
    fn multipart_on_edited_bodies(edits in vec(edit(MULTIPART_TOKENS), 1..8)) {
        check(multipart(&apply(multipart_body(), &edits, MULTIPART_TOKENS)));
    }

    #[test]
    fn multipart_on_token_soup(tokens in vec(select(MULTIPART_TOKENS), 0..100)) {
        check(multipart(tokens.concat().as_bytes()));
    }

    #[test]
    fn multipart_content_types(content_type in "[ -~]{0,80}") {
        let body = multipart_body();
        let result = parse_hikvision_multipart(&content_type, &body, &Limits::default());
        check(result.map(|u| u.observations));
    }
}
