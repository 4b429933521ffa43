//! AXIS License Plate Verifier (LPV) events.
//!
//! * The HTTP push event (JSON, one per read): `plateUnicode`/`plateText`,
//!   `plateConfidence`, `plateCountry` (ISO alpha-3), `plateRegion` (issuing entity),
//!   `carState` (`new`/`update`/`lost` → [`TrackState`]), `carMoveDirection` (`in` taken as
//!   approaching, `out` as leaving), `geotag`, `plateCoordinates`
//!   (`[x, y, width, height]` in pixels), `vehicle_info`, `camera_info`, `imagesURI` and the
//!   base64 `ImageArray` ([`decode_axis_images`]). Numbers may come as JSON numbers or as
//!   text. `plateListDescription` (free text an operator typed about a listed plate) is
//!   dropped.
//! * The VAPIX events `tnsaxis:CameraApplicationPlatform/ALPV.AllPlates` (`text`, `country`,
//!   `carID`, `carState`, `carMoveDirection`, `left`/`top`/`width`/`height` in pixels) and
//!   `ALPV.RealTime` (`lpText`, `isDetected`, `coordinates_*` in ONVIF normalised
//!   coordinates), as `tt:MetadataStream`/`tt:Event`/`wsnt:NotificationMessage` with
//!   `tt:SimpleItem`s. Notifications on other topics are skipped.
//!
//! The edge keeps one read per (camera, `carID`): an LPV sends `new`, then `update`s.

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use limes_model::{Direction, GeoPoint, PlateInfo, Scored, VehicleInfo};

use crate::values::{self, known};
use crate::xml::{self, Element};
use crate::{
    FormatError, ImageKind, ImageSlot, Limits, Observation, Payload, PlateObservation, SourceFormat, SourceIdentity,
    TrackState, country_from_code, json,
};

const FORMAT: SourceFormat = SourceFormat::AxisLpv;

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "plateText")]
    plate_text: Option<String>,
    #[serde(rename = "plateUnicode")]
    plate_unicode: Option<String>,
    #[serde(rename = "plateUTF8")]
    plate_utf8: Option<String>,
    #[serde(rename = "plateCountry")]
    plate_country: Option<String>,
    #[serde(rename = "plateRegion")]
    plate_region: Option<String>,
    #[serde(rename = "plateRegionCode")]
    plate_region_code: Option<String>,
    #[serde(rename = "plateISO3166-2")]
    plate_iso3166_2: Option<String>,
    #[serde(rename = "plateList")]
    plate_list: Option<String>,
    #[serde(rename = "plateListMode")]
    plate_list_mode: Option<String>,
    #[serde(rename = "plateConfidence")]
    plate_confidence: Option<Value>,
    #[serde(rename = "carState")]
    car_state: Option<String>,
    #[serde(rename = "carMoveDirection")]
    car_move_direction: Option<String>,
    #[serde(rename = "carID")]
    car_id: Option<Value>,
    geotag: Option<GeoTag>,
    #[serde(rename = "plateCoordinates")]
    plate_coordinates: Option<Vec<f64>>,
    capture_timestamp: Option<Value>,
    capture_ts: Option<Value>,
    #[serde(rename = "imageType")]
    image_type: Option<String>,
    #[serde(rename = "imagesURI")]
    images_uri: Option<Vec<String>>,
    #[serde(rename = "ImageArray")]
    image_array: Option<Vec<PushImage>>,
    vehicle_info: Option<PushVehicle>,
    camera_info: Option<CameraInfo>,
}

#[derive(Deserialize)]
struct GeoTag {
    lat: Option<Value>,
    lon: Option<Value>,
}

#[derive(Deserialize)]
struct PushImage {
    #[serde(rename = "ImageType")]
    image_type: Option<String>,
    #[serde(rename = "ImageFormat")]
    image_format: Option<String>,
    #[serde(rename = "BinaryImage")]
    binary_image: Option<String>,
}

#[derive(Deserialize)]
struct PushVehicle {
    view: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    color: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CameraInfo {
    serial_number: Option<String>,
    prod_short_name: Option<String>,
    #[serde(rename = "IPAddress")]
    ip_address: Option<String>,
    #[serde(rename = "MACAddress")]
    mac_address: Option<String>,
}

fn push_event(bytes: &[u8], limits: &Limits) -> Result<PushEvent, FormatError> {
    let text = json::checked(bytes, FORMAT, limits)?;
    if !text.trim_start().starts_with('{') {
        let value: Value = serde_json::from_str(text).map_err(|e| FormatError::json(FORMAT, &e))?;
        return Err(FormatError::WrongRoot {
            format: FORMAT,
            expected: "an LPV push event object",
            found: if value.is_array() { "an array".into() } else { "not an object".into() },
        });
    }
    serde_json::from_str(text).map_err(|e| FormatError::json(FORMAT, &e))
}

/// A JSON value that should be a number, given as a number or as text.
fn scalar(path: &str, v: &Value) -> Result<Option<String>, FormatError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(FormatError::bad(FORMAT, path, other.to_string(), "not a number")),
    }
}

fn image_kind(word: &str) -> ImageKind {
    match word.to_ascii_lowercase().as_str() {
        "plate" | "lp" => ImageKind::Plate,
        "overview" | "roi" | "frame" | "vehicle" => ImageKind::Overview,
        _ => ImageKind::Other,
    }
}

/// Parses one LPV HTTP push event. Each event is one read.
pub fn parse_axis_push_json(bytes: &[u8], limits: &Limits) -> Result<Vec<Observation>, FormatError> {
    let e = push_event(bytes, limits)?;
    let (field, text) =
        [("plateUnicode", &e.plate_unicode), ("plateText", &e.plate_text), ("plateUTF8", &e.plate_utf8)]
            .into_iter()
            .find_map(|(f, t)| Some((f, t.as_deref()?)))
            .ok_or_else(|| FormatError::missing(FORMAT, "plateText"))?;
    if text.trim().is_empty() {
        return Err(FormatError::bad(FORMAT, field, text, "the plate text is empty"));
    }
    let confidence = match &e.plate_confidence {
        Some(v) => match scalar("plateConfidence", v)? {
            Some(raw) => Some(values::unit_confidence(FORMAT, "plateConfidence", &raw)?),
            None => None,
        },
        None => None,
    };
    let country_raw = e.plate_country.as_deref().and_then(known).map(str::to_owned);
    let plate = PlateInfo {
        text: Scored { value: text.trim().to_owned(), confidence },
        plate_type: None,
        country: country_raw.as_deref().and_then(country_from_code).map(|c| Scored { value: c, confidence: None }),
        issuing_entity: e
            .plate_region
            .as_deref()
            .and_then(known)
            .map(|r| Scored { value: r.to_owned(), confidence: None }),
    };
    let position = match &e.geotag {
        Some(g) => geotag(g)?,
        None => None,
    };
    let plate_box = match &e.plate_coordinates {
        Some(c) => match c.as_slice() {
            [x, y, w, h] => Some(values::pixel_box(FORMAT, "plateCoordinates", [*x, *y, x + w, y + h])?),
            _ => return Err(FormatError::bad(FORMAT, "plateCoordinates", format!("{c:?}"), "not x, y, width, height")),
        },
        None => None,
    };
    let time = if let Some(raw) =
        e.capture_timestamp.as_ref().map(|v| scalar("capture_timestamp", v)).transpose()?.flatten()
    {
        Some(values::epoch_millis(FORMAT, "capture_timestamp", &raw)?)
    } else if let Some(raw) = e.capture_ts.as_ref().map(|v| scalar("capture_ts", v)).transpose()?.flatten() {
        let nanos = raw.trim().parse::<i64>().map_err(|_| {
            FormatError::bad(FORMAT, "capture_ts", raw.as_str(), "not a time in nanoseconds since 1970")
        })?;
        Some(chrono::DateTime::from_timestamp_nanos(nanos))
    } else {
        None
    };
    let vehicle = e.vehicle_info.as_ref().and_then(|v| {
        let colour = v.color.as_deref().and_then(known).map(str::to_ascii_lowercase);
        let class = v.kind.as_deref().and_then(known).map(str::to_ascii_lowercase);
        (colour.is_some() || class.is_some()).then_some(VehicleInfo { make: None, colour, class })
    });
    let mut images = Vec::new();
    for uri in e.images_uri.iter().flatten() {
        let kind = if uri.contains("lp_") {
            ImageKind::Plate
        } else if uri.contains("roi_") {
            ImageKind::Overview
        } else {
            ImageKind::Other
        };
        images.push(ImageSlot { kind, name: Some(uri.clone()), index: None });
    }
    for (index, image) in e.image_array.iter().flatten().enumerate() {
        let word = image.image_type.as_deref().and_then(known).or(e.image_type.as_deref()).unwrap_or("");
        images.push(ImageSlot { kind: image_kind(word), name: None, index: Some(index) });
    }
    let mut source = SourceIdentity::default();
    if let Some(c) = &e.camera_info {
        source.serial = c.serial_number.as_deref().and_then(known).map(str::to_owned);
        source.mac = c.mac_address.as_deref().and_then(known).map(values::mac);
        source.ip = c.ip_address.as_deref().and_then(known).map(str::to_owned);
        if let Some(model) = c.prod_short_name.as_deref().and_then(known) {
            source.items.push(("ProdShortName".into(), model.into()));
        }
    }
    let mut extra = Vec::new();
    for (key, value) in [
        ("plateRegionCode", &e.plate_region_code),
        ("plateISO3166-2", &e.plate_iso3166_2),
        ("plateList", &e.plate_list),
        ("plateListMode", &e.plate_list_mode),
        ("vehicle_info.view", &e.vehicle_info.as_ref().and_then(|v| v.view.clone())),
    ] {
        if let Some(v) = value.as_deref().and_then(known) {
            extra.push((key.to_owned(), v.to_owned()));
        }
    }
    let object_id = e.car_id.as_ref().map(|v| scalar("carID", v)).transpose()?.flatten();
    Ok(vec![Observation {
        format: FORMAT,
        source,
        time,
        object_id,
        track: e.car_state.as_deref().and_then(track_state),
        payload: Payload::Plate(PlateObservation {
            plate,
            country_raw,
            direction: e.car_move_direction.as_deref().map_or(Direction::Unknown, direction),
            vehicle,
            position,
            plate_box,
            images,
        }),
        extra,
    }])
}

fn track_state(s: &str) -> Option<TrackState> {
    match s.trim() {
        "new" => Some(TrackState::New),
        "update" => Some(TrackState::Update),
        "lost" => Some(TrackState::End),
        _ => None,
    }
}

fn direction(s: &str) -> Direction {
    match s.trim() {
        "in" => Direction::Approaching,
        "out" => Direction::Leaving,
        _ => Direction::Unknown,
    }
}

fn geotag(g: &GeoTag) -> Result<Option<GeoPoint>, FormatError> {
    let coordinate = |path: &str, v: &Option<Value>| -> Result<Option<f64>, FormatError> {
        match v.as_ref().map(|v| scalar(path, v)).transpose()?.flatten() {
            Some(raw) => values::number(FORMAT, path, &raw).map(Some),
            None => Ok(None),
        }
    };
    match (coordinate("geotag.lat", &g.lat)?, coordinate("geotag.lon", &g.lon)?) {
        (Some(lat), Some(lon)) if lat != 0.0 || lon != 0.0 => values::position(FORMAT, "geotag", lat, lon).map(Some),
        _ => Ok(None),
    }
}

/// A picture embedded in a push event's `ImageArray`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisImage {
    /// The position in `ImageArray`, as in [`ImageSlot::index`].
    pub index: usize,
    /// What the picture shows (`ImageType`, or the event's `imageType`).
    pub kind: ImageKind,
    /// `ImageFormat` as given (`jpg`).
    pub format: Option<String>,
    /// The decoded bytes.
    pub data: Vec<u8>,
    /// The data starts with the JPEG magic bytes (`FF D8 FF`).
    pub is_jpeg: bool,
    /// `ImageFormat` says JPEG but the bytes are not one.
    pub mislabelled: bool,
}

/// Decodes the base64 pictures of a push event's `ImageArray`. Kept apart from
/// [`parse_axis_push_json`] so that reading the plate never pays for the pictures.
pub fn decode_axis_images(bytes: &[u8], limits: &Limits) -> Result<Vec<AxisImage>, FormatError> {
    let e = push_event(bytes, limits)?;
    let mut out = Vec::new();
    for (index, image) in e.image_array.iter().flatten().enumerate() {
        let path = format!("ImageArray[{index}].BinaryImage");
        let Some(b64) = image.binary_image.as_deref() else { continue };
        let data = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| FormatError::bad(FORMAT, path, b64, "not base64"))?;
        let format = image.image_format.as_deref().and_then(known).map(str::to_owned);
        let is_jpeg = data.starts_with(&[0xFF, 0xD8, 0xFF]);
        let claims_jpeg = format.as_deref().is_some_and(|f| ["jpg", "jpeg"].contains(&f.to_ascii_lowercase().as_str()));
        let word = image.image_type.as_deref().and_then(known).or(e.image_type.as_deref()).unwrap_or("");
        out.push(AxisImage {
            index,
            kind: image_kind(word),
            format,
            data,
            is_jpeg,
            mislabelled: claims_jpeg && !is_jpeg,
        });
    }
    Ok(out)
}

/// Parses VAPIX event XML carrying `ALPV.AllPlates` or `ALPV.RealTime` notifications: a
/// `tt:MetadataStream` (or `tt:Event`, a bare `wsnt:NotificationMessage`, or a SOAP
/// envelope around notifications). Each plate notification is one read; `ALPV.RealTime`
/// notifications with `isDetected` 0 and notifications on other topics give nothing.
/// `topic` is the MQTT topic or stream the caller got it from.
pub fn parse_axis_event_xml(
    bytes: &[u8],
    topic: Option<&str>,
    limits: &Limits,
) -> Result<Vec<Observation>, FormatError> {
    let roots = xml::parse(bytes, FORMAT, limits)?;
    let mut notifications = Vec::new();
    for root in &roots {
        match root.name.as_str() {
            "MetadataStream" | "MetaDataStream" | "Event" | "NotificationMessage" | "Envelope" => {
                collect(root, "NotificationMessage", &mut notifications);
            }
            other => {
                return Err(FormatError::WrongRoot {
                    format: FORMAT,
                    expected: "<tt:MetadataStream>, <tt:Event> or <wsnt:NotificationMessage>",
                    found: format!("<{other}>"),
                });
            }
        }
    }
    let mut out = Vec::new();
    for (i, n) in notifications.into_iter().enumerate() {
        let Some(kind) = n.text_at(&["Topic"]).and_then(|t| {
            if t.ends_with("ALPV.AllPlates") {
                Some(Alpv::AllPlates)
            } else if t.ends_with("ALPV.RealTime") {
                Some(Alpv::RealTime)
            } else {
                None
            }
        }) else {
            continue;
        };
        if out.len() >= limits.max_objects {
            return Err(FormatError::TooMany { format: FORMAT, what: "notifications", limit: limits.max_objects });
        }
        if let Some(o) = alpv(n, kind, i, topic)? {
            out.push(o);
        }
    }
    Ok(out)
}

fn collect<'a>(e: &'a Element, name: &str, out: &mut Vec<&'a Element>) {
    if e.name == name {
        out.push(e);
        return;
    }
    for c in &e.children {
        collect(c, name, out);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Alpv {
    AllPlates,
    RealTime,
}

fn simple_items(e: Option<&Element>) -> Vec<(&str, &str)> {
    e.map(|e| e.children_named("SimpleItem").filter_map(|s| Some((s.attr("Name")?, s.attr("Value")?))).collect())
        .unwrap_or_default()
}

fn alpv(n: &Element, kind: Alpv, index: usize, topic: Option<&str>) -> Result<Option<Observation>, FormatError> {
    let base = format!("<NotificationMessage>[{index}]/<Message>/<Message>");
    let message = n.at(&["Message", "Message"]).ok_or_else(|| FormatError::missing(FORMAT, &base))?;
    let data = simple_items(message.child("Data"));
    let item = |name: &str| data.iter().find(|(k, _)| *k == name).map(|(_, v)| v.trim());
    let path = |name: &str| format!("{base}/<Data>/<SimpleItem Name={name:?}>@Value");
    let number = |name: &str| item(name).map(|raw| values::number(FORMAT, &path(name), raw)).transpose();

    let (text_name, stamp_name) = match kind {
        Alpv::AllPlates => ("text", "capture_timestamp"),
        Alpv::RealTime => ("lpText", "timestamp"),
    };
    if kind == Alpv::RealTime && item("isDetected") == Some("0") {
        return Ok(None);
    }
    let text = item(text_name).ok_or_else(|| FormatError::missing(FORMAT, path(text_name)))?;
    if text.is_empty() {
        return Err(FormatError::bad(FORMAT, path(text_name), text, "the plate text is empty"));
    }
    let time = match (item(stamp_name), message.attr("UtcTime")) {
        (Some(ms), _) => Some(values::epoch_millis(FORMAT, &path(stamp_name), ms)?),
        (None, Some(utc)) => values::iso_time(FORMAT, &format!("{base}@UtcTime"), utc, true)?,
        (None, None) => None,
    };
    let plate_box = match kind {
        Alpv::AllPlates => match (number("left")?, number("top")?, number("width")?, number("height")?) {
            (Some(l), Some(t), Some(w), Some(h)) => {
                Some(values::pixel_box(FORMAT, &path("left"), [l, t, l + w, t + h])?)
            }
            _ => None,
        },
        Alpv::RealTime => {
            match (
                number("coordinates_left")?,
                number("coordinates_top")?,
                number("coordinates_right")?,
                number("coordinates_bottom")?,
            ) {
                (Some(l), Some(t), Some(r), Some(b)) => {
                    Some(values::onvif_box(FORMAT, &path("coordinates_left"), [l, t, r, b])?)
                }
                _ => None,
            }
        }
    };
    let country_raw = item("country").and_then(known).map(str::to_owned);
    let mut source = SourceIdentity { topic: topic.map(str::to_owned), ..SourceIdentity::default() };
    if let Some(address) = n.text_at(&["ProducerReference", "Address"]) {
        source.items.push(("ProducerReference".into(), address.into()));
    }
    for (k, v) in simple_items(message.child("Source")) {
        source.items.push((k.into(), v.into()));
    }
    let mut extra = Vec::new();
    for key in ["listName", "action"] {
        if let Some(v) = item(key).and_then(known) {
            extra.push((key.to_owned(), v.to_owned()));
        }
    }
    Ok(Some(Observation {
        format: FORMAT,
        source,
        time,
        object_id: item("carID").and_then(known).map(str::to_owned),
        track: item("carState").and_then(track_state),
        payload: Payload::Plate(PlateObservation {
            plate: PlateInfo {
                text: Scored { value: text.to_owned(), confidence: None },
                plate_type: None,
                country: country_raw
                    .as_deref()
                    .and_then(country_from_code)
                    .map(|c| Scored { value: c, confidence: None }),
                issuing_entity: None,
            },
            country_raw,
            direction: item("carMoveDirection").map_or(Direction::Unknown, direction),
            vehicle: None,
            position: None,
            plate_box,
            images: Vec::new(),
        }),
        extra,
    }))
}
