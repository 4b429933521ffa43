//! ONVIF Analytics metadata: `tt:Frame`s of `tt:Object`s, as XML or as ONVIF JSON.
//!
//! Both forms become the same element tree (JSON: `@name` members are attributes, `#text`
//! is the text, arrays are repeated elements, `@context` and namespace prefixes are
//! dropped), and one walker turns each object into at most one observation:
//!
//! * an object whose `Appearance` has `LicensePlateInfo` is a plate read; its vehicle
//!   attributes come from its own `VehicleInfo` or, through `Parent`, from its parent
//!   object anywhere in the document;
//! * otherwise an object is a detection when its class (`Class/Type` with the highest
//!   `Likelihood`, or the ONVIF 1.x `ClassCandidate`) or its descriptors say what it is:
//!   `Face`/`HumanFace` → face, `Human`/`Person` or a `HumanBody` → person, `Vehicle`
//!   (and the spec's old spelling `Vehical`), `Car`, `Bus`, `Truck`, `Bike`, `Motorcycle`… or
//!   a `VehicleInfo` → vehicle. Age and gender come from `HumanFace`. A vehicle object that
//!   is the `Parent` of a plate object in the same document gives no detection of its own:
//!   its attributes are in the read.
//! * objects of other classes (`Animal`, `LicensePlate` without text, `Other`) give nothing.
//!
//! Boxes are converted from ONVIF's normalised coordinates (after the frame's
//! `Transformation`) to fractions of the picture from the top left. `tt:Event`s,
//! `tt:SensorData`, `tt:PTZ` and unknown elements are ignored.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use limes_model::{AgeRange, BoundingBox, DetectionKind, Gender, GeoPoint, MAX_AGE, PlateInfo, Scored, VehicleInfo};

use crate::values::{self, known};
use crate::xml::{self, Element};
use crate::{
    DetectionObservation, FormatError, Limits, Observation, Payload, PlateObservation, SourceFormat, SourceIdentity,
    country_from_code, json,
};

/// Parses ONVIF metadata XML: a `tt:MetadataStream` (or `tt:MetaDataStream`), a bare
/// `tt:VideoAnalytics`, or one or more bare `tt:Frame`s, prefixes declared or not.
///
/// `topic` is where the caller got the document (an MQTT topic or the stream's name); it
/// becomes [`SourceIdentity::topic`]. A document without objects gives an empty list.
pub fn parse_onvif_xml(bytes: &[u8], topic: Option<&str>, limits: &Limits) -> Result<Vec<Observation>, FormatError> {
    let format = SourceFormat::OnvifXml;
    let roots = xml::parse(bytes, format, limits)?;
    let mut frames = Vec::new();
    for root in &roots {
        match root.name.as_str() {
            "MetadataStream" | "MetaDataStream" => {
                frames.extend(root.children_named("VideoAnalytics").flat_map(|va| va.children_named("Frame")));
            }
            "VideoAnalytics" => frames.extend(root.children_named("Frame")),
            "Frame" => frames.push(root),
            other => {
                return Err(FormatError::WrongRoot {
                    format,
                    expected: "<tt:MetadataStream>, <tt:VideoAnalytics> or <tt:Frame>",
                    found: format!("<{other}>"),
                });
            }
        }
    }
    observations(&frames, format, topic, limits)
}

/// Parses ONVIF metadata in its JSON form (the `onvif-mj` MQTT payload): an object with a
/// `Frame` array, or with a `VideoAnalytics` or `MetadataStream` member holding one, or a
/// single frame (an object with `@UtcTime` or `Object`).
///
/// `topic` is the MQTT topic the message came on (it names the device and the analytics
/// module, e.g. `MyDevice/onvif-mj/VideoAnalytics/1/MyClassifier`).
pub fn parse_onvif_json(bytes: &[u8], topic: Option<&str>, limits: &Limits) -> Result<Vec<Observation>, FormatError> {
    let format = SourceFormat::OnvifJson;
    let text = json::checked(bytes, format, limits)?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| FormatError::json(format, &e))?;
    let serde_json::Value::Object(mut map) = value else {
        return Err(FormatError::WrongRoot {
            format,
            expected: "an object with Frame",
            found: json_kind(&value).into(),
        });
    };
    // The tree takes the document's strings over rather than copying them.
    let mut count = 0;
    let mut element = |name: &str, v: serde_json::Value| to_element(name.to_owned(), v, format, limits, &mut count);
    let in_stream = map.get("MetadataStream").and_then(|m| m.get("VideoAnalytics")).is_some();
    let analytics = if map.contains_key("Frame") {
        element("VideoAnalytics", serde_json::Value::Object(map))?
    } else if map.contains_key("@UtcTime") || map.contains_key("Object") {
        let frame = element("Frame", serde_json::Value::Object(map))?;
        Element { name: "VideoAnalytics".into(), children: vec![frame], ..Element::default() }
    } else if let Some(v) = map.remove("VideoAnalytics") {
        element("VideoAnalytics", v)?
    } else if in_stream
        && let Some(serde_json::Value::Object(mut stream)) = map.remove("MetadataStream")
        && let Some(v) = stream.remove("VideoAnalytics")
    {
        element("VideoAnalytics", v)?
    } else {
        let keys: Vec<&str> = map.keys().take(5).map(String::as_str).collect();
        return Err(FormatError::WrongRoot {
            format,
            expected: "an object with Frame",
            found: format!("an object with {}", keys.join(", ")),
        });
    };
    let frames: Vec<&Element> = analytics.children_named("Frame").collect();
    observations(&frames, format, topic, limits)
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The ONVIF JSON form as an element tree, named `name` with its namespace prefix dropped.
/// Depth was bounded by [`json::checked`].
fn to_element(
    name: String,
    value: serde_json::Value,
    format: SourceFormat,
    limits: &Limits,
    count: &mut usize,
) -> Result<Element, FormatError> {
    *count += 1;
    if *count > limits.max_elements {
        return Err(FormatError::TooMany { format, what: "elements", limit: limits.max_elements });
    }
    let mut element = Element { name: local(name), ..Element::default() };
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                if key == "@context" {
                    continue;
                }
                if let Some(attr) = key.strip_prefix('@') {
                    if let Some(s) = scalar(v) {
                        element.attrs.push((local(attr.to_owned()), s));
                    }
                } else if key == "#text" {
                    if let Some(s) = scalar(v) {
                        element.text = s;
                    }
                } else if let serde_json::Value::Array(items) = v {
                    for item in items {
                        element.children.push(to_element(key.clone(), item, format, limits, count)?);
                    }
                } else if !v.is_null() {
                    element.children.push(to_element(key, v, format, limits, count)?);
                }
            }
        }
        other => element.text = scalar(other).unwrap_or_default(),
    }
    Ok(element)
}

/// A name without its namespace prefix (`tt:Frame` → `Frame`).
fn local(mut name: String) -> String {
    if let Some(i) = name.rfind(':') {
        name.drain(..=i);
    }
    name
}

fn scalar(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A frame's coordinate transformation: normalised = raw * scale + translate.
#[derive(Debug, Clone, Copy)]
struct Transform {
    translate: (f64, f64),
    scale: (f64, f64),
}

struct FrameContext {
    time: Option<DateTime<Utc>>,
    transform: Transform,
    source: SourceIdentity,
}

fn frame_context(
    frame: &Element,
    index: usize,
    format: SourceFormat,
    topic: Option<&str>,
) -> Result<FrameContext, FormatError> {
    let path = |rest: &str| format!("<Frame>[{index}]{rest}");
    let time = match frame.attr("UtcTime") {
        Some(raw) => values::iso_time(format, &path("@UtcTime"), raw, true)?,
        None => None,
    };
    let mut transform = Transform { translate: (0.0, 0.0), scale: (1.0, 1.0) };
    if let Some(t) = frame.child("Transformation") {
        let pair = |name: &str, default: f64| -> Result<(f64, f64), FormatError> {
            let Some(e) = t.child(name) else { return Ok((default, default)) };
            let coord = |axis: &str| match e.attr(axis) {
                Some(raw) => values::number(format, &path(&format!("/<Transformation>/<{name}>@{axis}")), raw),
                None => Ok(default),
            };
            Ok((coord("x")?, coord("y")?))
        };
        transform = Transform { translate: pair("Translate", 0.0)?, scale: pair("Scale", 1.0)? };
    }
    let mut source = SourceIdentity { topic: topic.map(str::to_owned), ..SourceIdentity::default() };
    if let Some(s) = frame.attr("Source") {
        source.items.push(("Source".into(), s.to_owned()));
    }
    Ok(FrameContext { time, transform, source })
}

fn observations(
    frames: &[&Element],
    format: SourceFormat,
    topic: Option<&str>,
    limits: &Limits,
) -> Result<Vec<Observation>, FormatError> {
    let mut objects: Vec<(usize, &Element)> = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        for object in frame.children_named("Object") {
            objects.push((i, object));
            if objects.len() > limits.max_objects {
                return Err(FormatError::TooMany { format, what: "objects", limit: limits.max_objects });
            }
        }
    }
    let by_id: HashMap<&str, &Element> = objects.iter().filter_map(|(_, o)| Some((o.attr("ObjectId")?, *o))).collect();
    let plate_parents: HashSet<&str> = objects
        .iter()
        .filter(|(_, o)| o.at(&["Appearance", "LicensePlateInfo"]).is_some())
        .filter_map(|(_, o)| o.attr("Parent"))
        .collect();
    let contexts =
        frames.iter().enumerate().map(|(i, f)| frame_context(f, i, format, topic)).collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for (frame_index, object) in objects {
        let id = object.attr("ObjectId");
        let path = match id {
            Some(id) => format!("<Frame>[{frame_index}]/<Object ObjectId={id:?}>"),
            None => format!("<Frame>[{frame_index}]/<Object>"),
        };
        let parent = object.attr("Parent").and_then(|p| by_id.get(p).copied());
        let is_plate_parent = id.is_some_and(|id| plate_parents.contains(id));
        let ctx = &contexts[frame_index];
        if let Some(payload) = object_payload(object, parent, is_plate_parent, ctx.transform, format, &path)? {
            out.push(Observation {
                format,
                source: ctx.source.clone(),
                time: ctx.time,
                object_id: id.map(str::to_owned),
                track: None,
                extra: extras(object, parent),
                payload,
            });
        }
    }
    Ok(out)
}

fn extras(object: &Element, parent: Option<&Element>) -> Vec<(String, String)> {
    let mut extra = Vec::new();
    for e in [Some(object), parent].into_iter().flatten() {
        if let Some(model) = e.text_at(&["Appearance", "VehicleInfo", "Model"]) {
            extra.push(("VehicleInfo/Model".to_owned(), model.to_owned()));
            break;
        }
    }
    if let Some(uuid) = object.attr("UUID") {
        extra.push(("Object@UUID".to_owned(), uuid.to_owned()));
    }
    extra
}

/// What an object's class says it is.
enum Class {
    Kind(DetectionKind, Option<&'static str>),
    Plate,
    Other,
}

fn classify(name: &str) -> Class {
    match name.to_ascii_lowercase().as_str() {
        "human" | "person" => Class::Kind(DetectionKind::Person, None),
        "face" | "humanface" => Class::Kind(DetectionKind::Face, None),
        "vehicle" | "vehical" => Class::Kind(DetectionKind::Vehicle, None),
        "car" => Class::Kind(DetectionKind::Vehicle, Some("car")),
        "bus" => Class::Kind(DetectionKind::Vehicle, Some("bus")),
        "truck" => Class::Kind(DetectionKind::Vehicle, Some("truck")),
        "van" => Class::Kind(DetectionKind::Vehicle, Some("van")),
        "bike" | "motorbike" | "motorcycle" => Class::Kind(DetectionKind::Vehicle, Some("motorcycle")),
        "bicycle" => Class::Kind(DetectionKind::Vehicle, Some("bicycle")),
        "licenseplate" => Class::Plate,
        _ => Class::Other,
    }
}

/// The class with the highest likelihood, from `Class/Type` (ONVIF 2.x) or
/// `Class/ClassCandidate` (1.x).
fn best_class(class: &Element, format: SourceFormat, path: &str) -> Result<Option<(String, Option<f32>)>, FormatError> {
    let mut best: Option<(String, Option<f32>)> = None;
    let mut consider = |name: &str, likelihood: Option<f32>| {
        if !name.is_empty() && best.as_ref().is_none_or(|(_, l)| likelihood.unwrap_or(0.0) > l.unwrap_or(0.0)) {
            best = Some((name.to_owned(), likelihood));
        }
    };
    for t in class.children_named("Type") {
        let l = t
            .attr("Likelihood")
            .map(|raw| values::unit_confidence(format, &format!("{path}/<Class>/<Type>@Likelihood"), raw))
            .transpose()?;
        consider(t.text(), l);
    }
    for c in class.children_named("ClassCandidate") {
        let l = c
            .text_at(&["Likelihood"])
            .map(|raw| values::unit_confidence(format, &format!("{path}/<Class>/<ClassCandidate>/<Likelihood>"), raw))
            .transpose()?;
        consider(c.text_at(&["Type"]).unwrap_or(""), l);
    }
    Ok(best)
}

fn object_payload(
    object: &Element,
    parent: Option<&Element>,
    is_plate_parent: bool,
    transform: Transform,
    format: SourceFormat,
    path: &str,
) -> Result<Option<Payload>, FormatError> {
    let Some(appearance) = object.child("Appearance") else { return Ok(None) };
    let path = format!("{path}/<Appearance>");
    let class = match appearance.child("Class") {
        Some(c) => best_class(c, format, &path)?,
        None => None,
    };
    let bbox = match appearance.at(&["Shape", "BoundingBox"]) {
        Some(b) => Some(bounding_box(b, transform, format, &format!("{path}/<Shape>/<BoundingBox>"))?),
        None => None,
    };
    let position = match appearance.child("GeoLocation") {
        Some(g) => geo_location(g, format, &format!("{path}/<GeoLocation>"))?,
        None => None,
    };
    let class_kind = class.as_ref().map(|(name, _)| classify(name));
    let vehicle_class = match &class_kind {
        Some(Class::Kind(DetectionKind::Vehicle, specific)) => *specific,
        _ => None,
    };
    let vehicle = vehicle_info(appearance, vehicle_class)
        .or_else(|| parent.and_then(|p| p.child("Appearance")).and_then(parent_vehicle));

    if let Some(info) = appearance.child("LicensePlateInfo") {
        let (plate, country_raw) = plate_info(info, format, &format!("{path}/<LicensePlateInfo>"))?;
        let is_plate_box = matches!(class_kind, None | Some(Class::Plate));
        return Ok(Some(Payload::Plate(PlateObservation {
            plate,
            country_raw,
            direction: limes_model::Direction::Unknown,
            vehicle,
            position,
            plate_box: if is_plate_box { bbox } else { None },
            images: Vec::new(),
        })));
    }

    let face = appearance.child("HumanFace");
    let kind = match class_kind {
        Some(Class::Kind(kind, _)) => kind,
        Some(Class::Plate | Class::Other) => return Ok(None),
        None if face.is_some() => DetectionKind::Face,
        None if appearance.child("HumanBody").is_some() => DetectionKind::Person,
        None if appearance.child("VehicleInfo").is_some() => DetectionKind::Vehicle,
        None => return Ok(None),
    };
    if kind == DetectionKind::Vehicle && is_plate_parent {
        return Ok(None);
    }
    let (age, gender) = match face.filter(|_| kind.is_human()) {
        Some(face) => human_face(face, format, &format!("{path}/<HumanFace>"))?,
        None => (None, None),
    };
    Ok(Some(Payload::Detection(DetectionObservation {
        kind,
        confidence: class.and_then(|(_, l)| l),
        age,
        gender,
        bbox,
        zone: None,
        vehicle: if kind == DetectionKind::Vehicle { vehicle } else { None },
        position,
    })))
}

fn parent_vehicle(appearance: &Element) -> Option<VehicleInfo> {
    let class = appearance.child("Class").and_then(|c| {
        c.children_named("Type").find_map(|t| match classify(t.text()) {
            Class::Kind(DetectionKind::Vehicle, specific) => specific,
            _ => None,
        })
    });
    vehicle_info(appearance, class)
}

fn vehicle_info(appearance: &Element, class: Option<&'static str>) -> Option<VehicleInfo> {
    let info = appearance.child("VehicleInfo");
    let make = info.and_then(|i| i.text_at(&["Brand"])).and_then(known).map(str::to_owned);
    let class = info
        .and_then(|i| i.text_at(&["Type"]))
        .and_then(known)
        .map(|t| match classify(t) {
            Class::Kind(_, Some(specific)) => specific.to_owned(),
            _ => t.to_ascii_lowercase(),
        })
        .or(class.map(str::to_owned));
    (make.is_some() || class.is_some()).then_some(VehicleInfo { make, colour: None, class })
}

fn scored_text(e: &Element, format: SourceFormat, path: &str) -> Result<Option<Scored<String>>, FormatError> {
    let Some(text) = known(e.text()) else { return Ok(None) };
    let confidence = e
        .attr("Likelihood")
        .map(|raw| values::unit_confidence(format, &format!("{path}@Likelihood"), raw))
        .transpose()?;
    Ok(Some(Scored { value: text.to_owned(), confidence }))
}

fn plate_info(info: &Element, format: SourceFormat, path: &str) -> Result<(PlateInfo, Option<String>), FormatError> {
    let number_path = format!("{path}/<PlateNumber>");
    let number = info.child("PlateNumber").ok_or_else(|| FormatError::missing(format, &number_path))?;
    if number.text().is_empty() {
        return Err(FormatError::bad(format, &number_path, "", "the plate text is empty"));
    }
    let text = Scored {
        value: number.text().to_owned(),
        confidence: number
            .attr("Likelihood")
            .map(|raw| values::unit_confidence(format, &format!("{number_path}@Likelihood"), raw))
            .transpose()?,
    };
    let field = |name: &str| match info.child(name) {
        Some(e) => scored_text(e, format, &format!("{path}/<{name}>")),
        None => Ok(None),
    };
    let plate_type = field("PlateType")?;
    let country_text = field("CountryCode")?;
    let issuing_entity = field("IssuingEntity")?;
    let country_raw = country_text.as_ref().map(|c| c.value.clone());
    let country = country_text
        .and_then(|c| country_from_code(&c.value).map(|code| Scored { value: code, confidence: c.confidence }));
    Ok((PlateInfo { text, plate_type, country, issuing_entity }, country_raw))
}

type FaceAttributes = (Option<Scored<AgeRange>>, Option<Scored<Gender>>);

fn human_face(face: &Element, format: SourceFormat, path: &str) -> Result<FaceAttributes, FormatError> {
    let gender = match face.child("Gender") {
        Some(g) => match Gender::parse(g.text()) {
            Some(value) => {
                let confidence = g
                    .attr("Likelihood")
                    .map(|raw| values::unit_confidence(format, &format!("{path}/<Gender>@Likelihood"), raw))
                    .transpose()?;
                Some(Scored { value, confidence })
            }
            None => None,
        },
        None => None,
    };
    let age = match face.child("Age") {
        Some(a) => {
            let bound = |name: &str| -> Result<Option<u8>, FormatError> {
                let Some(raw) = a.text_at(&[name]) else { return Ok(None) };
                let p = format!("{path}/<Age>/<{name}>");
                let v = values::number(format, &p, raw)?;
                if v.fract() != 0.0 || !(0.0..=f64::from(MAX_AGE)).contains(&v) {
                    return Err(FormatError::bad(format, p, raw, "not an age in whole years 0..=130"));
                }
                Ok(Some(v as u8))
            };
            match (bound("Min")?, bound("Max")?) {
                (Some(min), Some(max)) if min <= max => Some(Scored { value: AgeRange { min, max }, confidence: None }),
                (Some(min), Some(max)) => {
                    return Err(FormatError::bad(
                        format,
                        format!("{path}/<Age>"),
                        format!("{min}..{max}"),
                        "Min above Max",
                    ));
                }
                (Some(v), None) | (None, Some(v)) => {
                    Some(Scored { value: AgeRange { min: v, max: v }, confidence: None })
                }
                (None, None) => None,
            }
        }
        None => None,
    };
    Ok((age, gender))
}

fn bounding_box(b: &Element, t: Transform, format: SourceFormat, path: &str) -> Result<BoundingBox, FormatError> {
    let edge = |name: &str| -> Result<f64, FormatError> {
        let raw = b.attr(name).ok_or_else(|| FormatError::missing(format, format!("{path}@{name}")))?;
        values::number(format, &format!("{path}@{name}"), raw)
    };
    let x = |v: f64| v * t.scale.0 + t.translate.0;
    let y = |v: f64| v * t.scale.1 + t.translate.1;
    values::onvif_box(format, path, [x(edge("left")?), y(edge("top")?), x(edge("right")?), y(edge("bottom")?)])
}

fn geo_location(g: &Element, format: SourceFormat, path: &str) -> Result<Option<GeoPoint>, FormatError> {
    let (Some(lat), Some(lon)) = (g.attr("lat"), g.attr("lon")) else { return Ok(None) };
    let lat = values::number(format, &format!("{path}@lat"), lat)?;
    let lon = values::number(format, &format!("{path}@lon"), lon)?;
    values::position(format, path, lat, lon).map(Some)
}
