//! Plate reads written as ONVIF metadata in its JSON form, as an ONVIF Profile M camera
//! publishes them on its `…/onvif-mj/VideoAnalytics/…` MQTT topic: the simulator's way to play
//! a camera, and the counterpart [`parse_onvif_json`](crate::parse_onvif_json) is tested against.
//!
//! A read becomes one `Frame` (`@UtcTime` to the millisecond) holding a `LicensePlate` object
//! with `LicensePlateInfo` (`PlateNumber`, `CountryCode`, `PlateType`, `IssuingEntity`, each
//! with its `@Likelihood`) and, when the read reports the vehicle's make or class, a `Vehicle`
//! object that is the plate's `@Parent`, with `VehicleInfo` `Type` and `Brand`. The reader's
//! position, if any, is the plate object's `GeoLocation`.
//!
//! What ONVIF cannot say is left out: the direction of travel, the images, and the colour
//! (`tt:ColorDescriptor` holds colour-space coordinates, not names, and the parser reads none).
//! The plate object carries no `@ObjectId`: every read is a pass of its own, not a report in a
//! track that an edge would deduplicate.

use chrono::SecondsFormat;
use limes_model::{BoxUnits, Detection, DetectionKind, Gender, PlateRead, Scored};
use serde::Serialize;

/// One read as an ONVIF JSON document of one frame.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use limes_camera_formats::{Limits, encode_onvif_json, parse_onvif_json};
/// use limes_model::{CameraId, PlateInfo, PlateRead, Scored};
///
/// let camera = CameraId::new("ro-siret-01").unwrap();
/// let read = PlateRead {
///     camera: camera.clone(),
///     time: Utc.with_ymd_and_hms(2026, 6, 9, 4, 12, 33).unwrap(),
///     plate: PlateInfo {
///         text: Scored { value: "B 123 XYZ".into(), confidence: Some(0.93) },
///         plate_type: None,
///         country: None,
///         issuing_entity: None,
///     },
///     direction: Default::default(),
///     position: None,
///     vehicle: None,
///     images: Vec::new(),
///     exercise: false,
/// };
/// let bytes = encode_onvif_json(&read);
/// let observations = parse_onvif_json(&bytes, Some("cam/onvif-mj/VideoAnalytics/1"), &Limits::default()).unwrap();
/// let back = observations[0].clone().into_plate_read(camera, Utc::now()).unwrap();
/// assert_eq!(back, read);
/// ```
pub fn encode_onvif_json(read: &PlateRead) -> Vec<u8> {
    encode_onvif_json_frames(std::slice::from_ref(read))
}

/// Several reads of one camera as one ONVIF JSON document: reads in a row with the same time
/// share a frame, as one picture with several plates would; any other read opens a frame of
/// its own. The cameras of the reads are not written: the topic names the camera.
pub fn encode_onvif_json_frames(reads: &[PlateRead]) -> Vec<u8> {
    let mut frames: Vec<Frame<'_>> = Vec::new();
    // Object ids are unique in the document, since `@Parent` refers to them.
    let mut next_id = 1u32;
    for read in reads {
        let frame = frame_at(&mut frames, read.time);
        frame.object.extend(objects(read, &mut next_id));
    }
    serde_json::to_vec(&Document { frame: frames }).expect("ONVIF JSON of a plate read serialises")
}

/// Detections of one camera (faces and persons, with their estimated age and gender; vehicles)
/// as one ONVIF JSON document, as a Profile M camera publishes its analytics: detections in a
/// row with the same time share a frame. Each is an object of class `Face`, `Human` or
/// `Vehicle` (with its likelihood) whose `Shape/BoundingBox` is in ONVIF's normalised
/// coordinates (−1…1, y upwards); a face's or person's age range and gender are its
/// `HumanFace` (`Age/Min`, `Age/Max`; `Gender` with its likelihood). ONVIF has no place for the
/// age's confidence, the zone or the camera's tracking number; they are left out. A detection
/// holds no identity, and neither does what is written.
pub fn encode_onvif_json_detections(detections: &[Detection]) -> Vec<u8> {
    let mut frames: Vec<Frame<'_>> = Vec::new();
    for d in detections {
        let frame = frame_at(&mut frames, d.time);
        let name = match d.kind {
            DetectionKind::Face => "Face",
            DetectionKind::Person => "Human",
            DetectionKind::Vehicle => "Vehicle",
        };
        let human = (d.kind.is_human() && (d.age.is_some() || d.gender.is_some())).then(|| HumanFace {
            gender: d.gender.as_ref().map(|g| Text {
                likelihood: g.confidence,
                text: match g.value {
                    Gender::Male => "Male",
                    Gender::Female => "Female",
                },
            }),
            age: d.age.as_ref().map(|a| Age { min: a.value.min, max: a.value.max }),
        });
        frame.object.push(Object {
            object_id: None,
            parent: None,
            appearance: Appearance {
                shape: d.bbox.filter(|b| b.units == BoxUnits::Normalized).map(|b| Shape {
                    bounding_box: BoxJson {
                        left: onvif_x(b.left),
                        top: onvif_y(b.top),
                        right: onvif_x(b.right),
                        bottom: onvif_y(b.bottom),
                    },
                }),
                class: ClassJson { kind: [Text { likelihood: d.confidence, text: name }] },
                vehicle_info: None,
                license_plate_info: None,
                human_face: human,
                geo_location: d.position.map(|g| GeoLocation { lat: g.lat, lon: g.lon }),
            },
        });
    }
    serde_json::to_vec(&Document { frame: frames }).expect("ONVIF JSON of detections serialises")
}

/// The last frame when it is of `time` (to the millisecond), else a new one: things in a row
/// seen at the same time share a frame, as one picture would hold them.
fn frame_at<'a, 'f>(frames: &'f mut Vec<Frame<'a>>, time: chrono::DateTime<chrono::Utc>) -> &'f mut Frame<'a> {
    let time = time.to_rfc3339_opts(SecondsFormat::Millis, true);
    if frames.last().is_none_or(|f| f.utc_time != time) {
        frames.push(Frame { utc_time: time, object: Vec::new() });
    }
    frames.last_mut().expect("a frame")
}

/// A fraction of the picture's width from the left as ONVIF's x (−1 left, 1 right).
fn onvif_x(f: f32) -> f64 {
    f64::from(f) * 2.0 - 1.0
}

/// A fraction of the picture's height from the top as ONVIF's y (1 top, −1 bottom).
fn onvif_y(f: f32) -> f64 {
    1.0 - f64::from(f) * 2.0
}

/// The read's plate object, after its vehicle object when it has one.
fn objects<'a>(read: &'a PlateRead, next_id: &mut u32) -> Vec<Object<'a>> {
    let mut out = Vec::with_capacity(2);
    let vehicle = read.vehicle.as_ref().filter(|v| v.make.is_some() || v.class.is_some());
    let parent = vehicle.map(|v| {
        let id = *next_id;
        *next_id += 1;
        out.push(Object {
            object_id: Some(id),
            parent: None,
            appearance: Appearance {
                shape: None,
                class: class("Vehicle"),
                vehicle_info: Some(VehicleInfoJson {
                    kind: v.class.as_deref().map(|c| Text { likelihood: None, text: onvif_vehicle_type(c) }),
                    brand: v.make.as_deref().map(|m| Text { likelihood: None, text: m }),
                }),
                license_plate_info: None,
                human_face: None,
                geo_location: None,
            },
        });
        id
    });
    let p = &read.plate;
    let country = p.country.as_ref().map(|c| Text { likelihood: c.confidence, text: c.value.as_str() });
    out.push(Object {
        object_id: None,
        parent,
        appearance: Appearance {
            shape: None,
            class: class("LicensePlate"),
            vehicle_info: None,
            license_plate_info: Some(LicensePlateInfo {
                plate_number: scored(&p.text),
                plate_type: p.plate_type.as_ref().map(scored),
                country_code: country,
                issuing_entity: p.issuing_entity.as_ref().map(scored),
            }),
            human_face: None,
            geo_location: read.position.map(|g| GeoLocation { lat: g.lat, lon: g.lon }),
        },
    });
    out
}

/// ONVIF's vehicle type names (`tt:VehicleType`) for limes's classes; others as given.
fn onvif_vehicle_type(class: &str) -> &str {
    match class {
        "car" => "Car",
        "bus" => "Bus",
        "truck" => "Truck",
        "van" => "Van",
        "motorcycle" => "Motorcycle",
        "bicycle" => "Bicycle",
        other => other,
    }
}

fn class(name: &'static str) -> ClassJson<'static> {
    ClassJson { kind: [Text { likelihood: None, text: name }] }
}

fn scored(s: &Scored<String>) -> Text<'_> {
    Text { likelihood: s.confidence, text: s.value.as_str() }
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(rename = "Frame")]
    frame: Vec<Frame<'a>>,
}

#[derive(Serialize)]
struct Frame<'a> {
    #[serde(rename = "@UtcTime")]
    utc_time: String,
    #[serde(rename = "Object")]
    object: Vec<Object<'a>>,
}

#[derive(Serialize)]
struct Object<'a> {
    #[serde(rename = "@ObjectId", skip_serializing_if = "Option::is_none")]
    object_id: Option<u32>,
    #[serde(rename = "@Parent", skip_serializing_if = "Option::is_none")]
    parent: Option<u32>,
    #[serde(rename = "Appearance")]
    appearance: Appearance<'a>,
}

#[derive(Serialize)]
struct Appearance<'a> {
    #[serde(rename = "Shape", skip_serializing_if = "Option::is_none")]
    shape: Option<Shape>,
    #[serde(rename = "Class")]
    class: ClassJson<'a>,
    #[serde(rename = "VehicleInfo", skip_serializing_if = "Option::is_none")]
    vehicle_info: Option<VehicleInfoJson<'a>>,
    #[serde(rename = "LicensePlateInfo", skip_serializing_if = "Option::is_none")]
    license_plate_info: Option<LicensePlateInfo<'a>>,
    #[serde(rename = "HumanFace", skip_serializing_if = "Option::is_none")]
    human_face: Option<HumanFace<'a>>,
    #[serde(rename = "GeoLocation", skip_serializing_if = "Option::is_none")]
    geo_location: Option<GeoLocation>,
}

#[derive(Serialize)]
struct Shape {
    #[serde(rename = "BoundingBox")]
    bounding_box: BoxJson,
}

#[derive(Serialize)]
struct BoxJson {
    #[serde(rename = "@left")]
    left: f64,
    #[serde(rename = "@top")]
    top: f64,
    #[serde(rename = "@right")]
    right: f64,
    #[serde(rename = "@bottom")]
    bottom: f64,
}

#[derive(Serialize)]
struct HumanFace<'a> {
    #[serde(rename = "Gender", skip_serializing_if = "Option::is_none")]
    gender: Option<Text<'a>>,
    #[serde(rename = "Age", skip_serializing_if = "Option::is_none")]
    age: Option<Age>,
}

#[derive(Serialize)]
struct Age {
    #[serde(rename = "Min")]
    min: u8,
    #[serde(rename = "Max")]
    max: u8,
}

#[derive(Serialize)]
struct ClassJson<'a> {
    #[serde(rename = "Type")]
    kind: [Text<'a>; 1],
}

#[derive(Serialize)]
struct VehicleInfoJson<'a> {
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    kind: Option<Text<'a>>,
    #[serde(rename = "Brand", skip_serializing_if = "Option::is_none")]
    brand: Option<Text<'a>>,
}

#[derive(Serialize)]
struct LicensePlateInfo<'a> {
    #[serde(rename = "PlateNumber")]
    plate_number: Text<'a>,
    #[serde(rename = "PlateType", skip_serializing_if = "Option::is_none")]
    plate_type: Option<Text<'a>>,
    #[serde(rename = "CountryCode", skip_serializing_if = "Option::is_none")]
    country_code: Option<Text<'a>>,
    #[serde(rename = "IssuingEntity", skip_serializing_if = "Option::is_none")]
    issuing_entity: Option<Text<'a>>,
}

/// A value with its likelihood: `{"@Likelihood": 0.93, "#text": "B123XYZ"}`. Likelihoods are
/// written as `f32`, in their shortest form, so they parse back to the same `f32`.
#[derive(Serialize)]
struct Text<'a> {
    #[serde(rename = "@Likelihood", skip_serializing_if = "Option::is_none")]
    likelihood: Option<f32>,
    #[serde(rename = "#text")]
    text: &'a str,
}

#[derive(Serialize)]
struct GeoLocation {
    #[serde(rename = "@lat")]
    lat: f64,
    #[serde(rename = "@lon")]
    lon: f64,
}

#[cfg(test)]
mod face_tests {
    use chrono::{TimeZone, Utc};
    use limes_model::{AgeRange, BoundingBox, CameraId};

    use super::*;
    use crate::{Limits, Payload, parse_onvif_json};

    fn face(ms: i64, bbox: [f32; 4], age: Option<(u8, u8)>, gender: Option<(Gender, f32)>) -> Detection {
        Detection {
            camera: CameraId::new("ro-hall-1").unwrap(),
            time: Utc.timestamp_millis_opt(1_780_000_000_000 + ms).unwrap(),
            kind: DetectionKind::Face,
            confidence: Some(0.87),
            age: age.map(|(min, max)| Scored { value: AgeRange { min, max }, confidence: None }),
            gender: gender.map(|(value, c)| Scored { value, confidence: Some(c) }),
            bbox: Some(BoundingBox {
                left: bbox[0],
                top: bbox[1],
                right: bbox[2],
                bottom: bbox[3],
                units: BoxUnits::Normalized,
            }),
            zone: None,
            object_id: None,
            vehicle: None,
            position: None,
        }
    }

    #[test]
    fn faces_with_age_and_gender_read_back_as_the_detections_they_were() {
        let faces = [
            face(0, [0.1, 0.2, 0.25, 0.45], Some((48, 66)), Some((Gender::Male, 0.97))),
            face(0, [0.6, 0.1, 0.7, 0.3], None, None),
            face(500, [0.0, 0.5, 0.125, 1.0], Some((20, 20)), Some((Gender::Female, 0.75))),
        ];
        let bytes = encode_onvif_json_detections(&faces);
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["Frame"].as_array().unwrap().len(), 2, "one frame per time: {doc}");
        assert_eq!(doc["Frame"][0]["Object"][0]["Appearance"]["HumanFace"]["Gender"]["#text"], "Male");
        assert!(doc["Frame"][0]["Object"][1]["Appearance"].get("HumanFace").is_none(), "no estimate, no HumanFace");
        let back = parse_onvif_json(&bytes, Some("limes/ro-hall-1/faces"), &Limits::default()).unwrap();
        assert_eq!(back.len(), 3);
        for (o, f) in back.iter().zip(&faces) {
            assert_eq!(o.time, Some(f.time));
            let Payload::Detection(d) = &o.payload else { panic!("{o:?}") };
            assert_eq!(
                (d.kind, d.confidence, d.age.clone(), d.gender.clone()),
                (f.kind, f.confidence, f.age.clone(), f.gender.clone())
            );
            let (b, want) = (d.bbox.unwrap(), f.bbox.unwrap());
            for (got, want) in [(b.left, want.left), (b.top, want.top), (b.right, want.right), (b.bottom, want.bottom)]
            {
                assert!((got - want).abs() < 1e-6, "{b:?} != {want:?}");
            }
        }
    }

    #[test]
    fn no_detections_is_an_empty_document_and_pixel_boxes_are_left_out() {
        assert_eq!(encode_onvif_json_detections(&[]), br#"{"Frame":[]}"#);
        let mut f = face(0, [1.0, 2.0, 30.0, 40.0], None, None);
        f.bbox.as_mut().unwrap().units = BoxUnits::Pixels;
        let doc: serde_json::Value = serde_json::from_slice(&encode_onvif_json_detections(&[f])).unwrap();
        assert!(doc["Frame"][0]["Object"][0]["Appearance"].get("Shape").is_none(), "{doc}");
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use limes_model::{CameraId, GeoPoint, PlateInfo, VehicleInfo};
    use limes_plate::CountryCode;

    use super::*;
    use crate::{Limits, Payload, parse_onvif_json};

    fn read(plate: &str, ms: i64) -> PlateRead {
        PlateRead {
            exercise: false,
            camera: CameraId::new("ro-cam-1").unwrap(),
            time: Utc.timestamp_millis_opt(1_780_000_000_000 + ms).unwrap(),
            plate: PlateInfo {
                text: Scored { value: plate.into(), confidence: Some(0.931) },
                plate_type: Some(Scored { value: "normal".into(), confidence: Some(0.95) }),
                country: Some(Scored { value: CountryCode::RO, confidence: Some(0.9) }),
                issuing_entity: None,
            },
            direction: Default::default(),
            position: Some(GeoPoint::new(47.95, 26.07).unwrap()),
            vehicle: Some(VehicleInfo {
                make: Some("Scania".into()),
                colour: Some("red".into()),
                class: Some("truck".into()),
            }),
            images: Vec::new(),
        }
    }

    #[test]
    fn a_read_is_one_frame_with_a_vehicle_parent_and_a_plate() {
        let json: serde_json::Value = serde_json::from_slice(&encode_onvif_json(&read("B 123 XYZ", 250))).unwrap();
        let expected = serde_json::json!({"Frame": [{
            "@UtcTime": "2026-05-28T20:26:40.250Z",
            "Object": [
                {"@ObjectId": 1, "Appearance": {
                    "Class": {"Type": [{"#text": "Vehicle"}]},
                    "VehicleInfo": {"Type": {"#text": "Truck"}, "Brand": {"#text": "Scania"}}}},
                {"@Parent": 1, "Appearance": {
                    "Class": {"Type": [{"#text": "LicensePlate"}]},
                    "LicensePlateInfo": {
                        "PlateNumber": {"@Likelihood": 0.931, "#text": "B 123 XYZ"},
                        "PlateType": {"@Likelihood": 0.95, "#text": "normal"},
                        "CountryCode": {"@Likelihood": 0.9, "#text": "RO"}},
                    "GeoLocation": {"@lat": 47.95, "@lon": 26.07}}}
            ]
        }]});
        assert_eq!(json, expected);
    }

    #[test]
    fn reads_of_one_time_share_a_frame_and_others_get_their_own() {
        let reads = [read("B1AAA", 0), read("B2AAA", 0), read("B3AAA", 40)];
        let bytes = encode_onvif_json_frames(&reads);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["Frame"].as_array().unwrap().len(), 2);
        assert_eq!(json["Frame"][0]["Object"].as_array().unwrap().len(), 4);
        let observations = parse_onvif_json(&bytes, Some("t"), &Limits::default()).unwrap();
        let plates: Vec<(&str, i64)> = observations
            .iter()
            .map(|o| match &o.payload {
                Payload::Plate(p) => (p.plate.text.value.as_str(), o.time.unwrap().timestamp_millis() % 1000),
                Payload::Detection(_) => panic!("vehicles are the plates' parents, not detections"),
            })
            .collect();
        assert_eq!(plates, vec![("B1AAA", 0), ("B2AAA", 0), ("B3AAA", 40)]);
        // Each plate gets its own vehicle, not its neighbour's.
        assert!(observations.iter().all(|o| o.object_id.is_none()));
    }
}
