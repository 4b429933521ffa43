//! Hikvision ISAPI event notifications (`EventNotificationAlert`, namespace
//! `http://www.hikvision.com/ver20/XMLSchema`), as a camera posts them to a listening
//! server, alone or as the XML part of a `multipart/form-data` body with the pictures.
//!
//! * An alert with an `<ANPR>` block is a plate read. A `licensePlate` of `unknown` is the
//!   camera saying it saw a vehicle but read no plate: that alert gives **no observation**
//!   (an empty list), never a read of "UNKNOWN". `confidenceLevel` is a percentage.
//!   `country` is kept raw (`country_raw`); it becomes a country only when it is an ISO
//!   3166-1 code, because the numeric codes of Hikvision firmware differ between regions.
//!   `direction` `forward` is taken as approaching and `reverse` as leaving: forward is the
//!   lane's configured direction, towards the camera in the usual ANPR set-up; a camera
//!   mounted the other way round needs the edge to swap them.
//! * An alert with a `DetectionRegionList` (`fielddetection`, `linedetection`,
//!   `regionEntrance`, `regionExiting`) gives one detection per region entry whose
//!   `detectionTarget` is `human` or `vehicle`, the region's `regionID` as the zone.
//! * Anything else (heartbeats, `videoloss`, `eventState` `inactive`) gives nothing.
//!
//! Rectangles: `TargetRect` is in fractions of the picture; `plateRect` is in thousandths
//! of the picture, as are Hikvision's region coordinates.

use limes_model::{BoundingBox, BoxUnits, DetectionKind, Direction, GeoPoint, PlateInfo, Scored, VehicleInfo};

use crate::multipart::{self, Part};
use crate::values::{self, known};
use crate::xml::{self, Element};
use crate::{
    DetectionObservation, FormatError, ImageKind, ImageSlot, Limits, Observation, Payload, PlateObservation,
    SourceFormat, SourceIdentity, country_from_code,
};

const FORMAT: SourceFormat = SourceFormat::HikvisionIsapi;

/// [`Observation::extra`].
type Extra = Vec<(String, String)>;

/// Parses one `EventNotificationAlert` XML document. See the module documentation above
/// for what each kind of alert gives.
pub fn parse_hikvision_xml(bytes: &[u8], limits: &Limits) -> Result<Vec<Observation>, FormatError> {
    let roots = xml::parse(bytes, FORMAT, limits)?;
    let alert = match roots.as_slice() {
        [root] if root.name == "EventNotificationAlert" => root,
        [root] => {
            return Err(FormatError::WrongRoot {
                format: FORMAT,
                expected: "<EventNotificationAlert>",
                found: format!("<{}>", root.name),
            });
        }
        _ => {
            return Err(FormatError::WrongRoot {
                format: FORMAT,
                expected: "<EventNotificationAlert>",
                found: format!("{} root elements", roots.len()),
            });
        }
    };
    if alert.text_at(&["eventState"]).is_some_and(|s| s.eq_ignore_ascii_case("inactive")) {
        return Ok(Vec::new());
    }
    let source = SourceIdentity {
        mac: alert.text_at(&["macAddress"]).map(values::mac),
        ip: alert.text_at(&["ipAddress"]).or(alert.text_at(&["ipv6Address"])).map(str::to_owned),
        channel: alert.text_at(&["channelID"]).or(alert.text_at(&["dynChannelID"])).map(str::to_owned),
        name: alert.text_at(&["channelName"]).map(str::to_owned),
        ..SourceIdentity::default()
    };
    let time = match alert.text_at(&["dateTime"]) {
        Some(raw) => values::iso_time(FORMAT, "<dateTime>", raw, false)?,
        None => None,
    };
    let position = match alert.child("DeviceGPSInfo") {
        Some(gps) => device_gps(gps)?,
        None => None,
    };
    let observation = |payload, extra| Observation {
        format: FORMAT,
        source: source.clone(),
        time,
        object_id: None,
        track: None,
        payload,
        extra,
    };
    if let Some(anpr) = alert.child("ANPR") {
        let Some((plate, mut extra)) = anpr_read(anpr, position)? else { return Ok(Vec::new()) };
        if let Some(uuid) = alert.text_at(&["UUID"]) {
            extra.push(("UUID".into(), uuid.into()));
        }
        return Ok(vec![observation(Payload::Plate(plate), extra)]);
    }
    let mut out = Vec::new();
    if let Some(regions) = alert.child("DetectionRegionList") {
        for (i, entry) in regions.children_named("DetectionRegionEntry").enumerate() {
            let kind = match entry.text_at(&["detectionTarget"]) {
                Some("human") => DetectionKind::Person,
                Some("vehicle") => DetectionKind::Vehicle,
                _ => continue,
            };
            if out.len() >= limits.max_objects {
                return Err(FormatError::TooMany {
                    format: FORMAT,
                    what: "detection regions",
                    limit: limits.max_objects,
                });
            }
            let path = format!("<DetectionRegionList>/<DetectionRegionEntry>[{i}]/<TargetRect>");
            let bbox = entry.child("TargetRect").map(|r| rect(r, 1.0, &path)).transpose()?.flatten();
            let detection = DetectionObservation {
                kind,
                confidence: None,
                age: None,
                gender: None,
                bbox,
                zone: entry.text_at(&["regionID"]).map(str::to_owned),
                vehicle: None,
                position,
            };
            let extra = alert.text_at(&["eventType"]).map(|t| vec![("eventType".into(), t.into())]).unwrap_or_default();
            out.push(observation(Payload::Detection(detection), extra));
        }
    }
    Ok(out)
}

/// The XML of a multipart alert, read, with the other parts: the pictures that
/// [`PlateObservation::images`] name (match them with [`Part::is_named`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HikvisionUpload<'a> {
    /// What the XML part gives, as [`parse_hikvision_xml`] returns it.
    pub observations: Vec<Observation>,
    /// Every part but the XML, in order; check [`Part::mislabelled`] before storing one.
    pub images: Vec<Part<'a>>,
}

/// Parses a Hikvision alert posted as `multipart/form-data` (or `multipart/mixed`): the
/// XML part as [`parse_hikvision_xml`] does, and the pictures, borrowed from `body`.
/// `content_type` is the request's `Content-Type` header value.
pub fn parse_hikvision_multipart<'a>(
    content_type: &str,
    body: &'a [u8],
    limits: &Limits,
) -> Result<HikvisionUpload<'a>, FormatError> {
    let split = multipart::split(FORMAT, content_type, body, limits)?;
    let observations = parse_hikvision_xml(split.xml.data, limits)?;
    Ok(HikvisionUpload { observations, images: split.images })
}

fn anpr_read(anpr: &Element, position: Option<GeoPoint>) -> Result<Option<(PlateObservation, Extra)>, FormatError> {
    let plate_element =
        anpr.child("licensePlate").ok_or_else(|| FormatError::missing(FORMAT, "<ANPR>/<licensePlate>"))?;
    let text = plate_element.text();
    if text.eq_ignore_ascii_case("unknown") {
        return Ok(None);
    }
    if text.is_empty() {
        return Err(FormatError::bad(FORMAT, "<ANPR>/<licensePlate>", text, "the plate text is empty"));
    }
    let confidence = match anpr.text_at(&["confidenceLevel"]) {
        Some(raw) => {
            let path = "<ANPR>/<confidenceLevel>";
            Some(values::confidence_in_range(FORMAT, path, raw, values::number(FORMAT, path, raw)?, 100.0)?)
        }
        None => None,
    };
    let country_raw = anpr.text_at(&["country"]).map(str::to_owned);
    let country = country_raw.as_deref().and_then(country_from_code).map(|c| Scored { value: c, confidence: None });
    let plate = PlateInfo {
        text: Scored { value: text.to_owned(), confidence },
        plate_type: anpr
            .text_at(&["plateType"])
            .and_then(known)
            .map(|t| Scored { value: t.to_owned(), confidence: None }),
        country,
        issuing_entity: None,
    };
    let direction = match anpr.text_at(&["direction"]) {
        Some("forward") => Direction::Approaching,
        Some("reverse") => Direction::Leaving,
        _ => Direction::Unknown,
    };
    let colour = anpr.text_at(&["vehicleInfo", "color"]).and_then(known).map(str::to_owned);
    let class = anpr.text_at(&["vehicleType"]).and_then(known).and_then(vehicle_class);
    let vehicle = (colour.is_some() || class.is_some()).then_some(VehicleInfo { make: None, colour, class });

    let mut images = Vec::new();
    let mut plate_box = None;
    if let Some(list) = anpr.child("pictureInfoList") {
        for (index, picture) in list.children_named("pictureInfo").enumerate() {
            let kind = match picture.text_at(&["type"]) {
                Some("licensePlatePicture") => ImageKind::Plate,
                Some("vehiclePicture") => ImageKind::Overview,
                _ => ImageKind::Other,
            };
            images.push(ImageSlot {
                kind,
                name: picture.text_at(&["fileName"]).map(str::to_owned),
                index: Some(index),
            });
            if plate_box.is_none()
                && let Some(r) = picture.child("plateRect")
            {
                let path = format!("<ANPR>/<pictureInfoList>/<pictureInfo>[{index}]/<plateRect>");
                plate_box = rect(r, 1000.0, &path)?;
            }
        }
    }
    let mut extra = Vec::new();
    for path in [
        &["vehicleType"][..],
        &["plateColor"],
        &["vehicleListName"],
        &["vehicleInfo", "vehicleLogoRecog"],
        &["vehicleInfo", "vehileSubLogoRecog"],
        &["vehicleInfo", "vehileModel"],
    ] {
        if let Some(v) = anpr.text_at(path).and_then(known) {
            extra.push((format!("ANPR/{}", path.join("/")), v.to_owned()));
        }
    }
    let observation = PlateObservation { plate, country_raw, direction, vehicle, position, plate_box, images };
    Ok(Some((observation, extra)))
}

/// Hikvision's `vehicleType` words as limes vehicle classes.
fn vehicle_class(raw: &str) -> Option<String> {
    Some(
        match raw {
            "vehicle" | "motorVehicle" => return None,
            "SUVMPV" => "suv",
            "smallCar" | "miniCar" | "car" => "car",
            "largeBus" | "mediumBus" | "bus" => "bus",
            "truck" | "largeTruck" | "pickupTruck" | "lightTruck" => "truck",
            "van" => "van",
            "twoWheelVehicle" | "motorcycle" => "motorcycle",
            other => return Some(other.to_ascii_lowercase()),
        }
        .to_owned(),
    )
}

/// A rectangle `X`, `Y`, `width`, `height` on a 0..=`scale` scale; all zeros means none.
fn rect(r: &Element, scale: f64, path: &str) -> Result<Option<BoundingBox>, FormatError> {
    let field = |name: &str| -> Result<f64, FormatError> {
        let raw = r.text_at(&[name]).ok_or_else(|| FormatError::missing(FORMAT, format!("{path}/<{name}>")))?;
        values::number(FORMAT, &format!("{path}/<{name}>"), raw)
    };
    let (x, y, w, h) = (field("X")?, field("Y")?, field("width")?, field("height")?);
    if x == 0.0 && y == 0.0 && w == 0.0 && h == 0.0 {
        return Ok(None);
    }
    let b = BoundingBox {
        left: (x / scale) as f32,
        top: (y / scale) as f32,
        right: ((x + w) / scale) as f32,
        bottom: ((y + h) / scale) as f32,
        units: BoxUnits::Normalized,
    };
    b.validate()
        .map_err(|_| FormatError::bad(FORMAT, path, format!("{x}, {y}, {w}, {h}"), "not inside the picture"))?;
    Ok(Some(b))
}

/// `DeviceGPSInfo`: degrees, minutes and seconds with hemisphere letters. A position of
/// exactly 0, 0 is a camera without a fix.
fn device_gps(gps: &Element) -> Result<Option<GeoPoint>, FormatError> {
    let lat = coordinate(gps, "Latitude", "latitudeType", 90.0, "S")?;
    let lon = coordinate(gps, "Longitude", "longitudeType", 180.0, "W")?;
    match (lat, lon) {
        (Some(lat), Some(lon)) if lat != 0.0 || lon != 0.0 => {
            values::position(FORMAT, "<DeviceGPSInfo>", lat, lon).map(Some)
        }
        _ => Ok(None),
    }
}

fn coordinate(
    gps: &Element,
    name: &str,
    hemisphere: &str,
    max: f64,
    negative: &str,
) -> Result<Option<f64>, FormatError> {
    let Some(e) = gps.child(name) else { return Ok(None) };
    let path = format!("<DeviceGPSInfo>/<{name}>");
    let value = if e.child("degree").is_some() {
        let part = |child: &str, limit: f64| -> Result<f64, FormatError> {
            let p = format!("{path}/<{child}>");
            let raw = e.text_at(&[child]).unwrap_or("0");
            let v = values::number(FORMAT, &p, raw)?;
            if (0.0..limit).contains(&v) || (child == "degree" && v == max) {
                Ok(v)
            } else {
                Err(FormatError::bad(
                    FORMAT,
                    p,
                    raw,
                    if child == "degree" { "too many degrees" } else { "not in 0..60" },
                ))
            }
        };
        part("degree", max)? + part("minute", 60.0)? / 60.0 + part("sec", 60.0)? / 3600.0
    } else {
        let raw = e.text();
        if raw.is_empty() {
            return Ok(None);
        }
        values::number(FORMAT, &path, raw)?
    };
    if value.abs() > max {
        return Err(FormatError::bad(FORMAT, path, value.to_string(), "too many degrees"));
    }
    let sign = if gps.text_at(&[hemisphere]).is_some_and(|h| h.eq_ignore_ascii_case(negative)) { -1.0 } else { 1.0 };
    Ok(Some(sign * value))
}
