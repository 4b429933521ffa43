//! The formats existing cameras send, parsed into limes records. Pure: no network, no
//! files, no clock, no async — bytes in, [`Observation`]s out.
//!
//! | format ([`SourceFormat`]) | function | where it comes from |
//! |---|---|---|
//! | `onvif-xml` | [`parse_onvif_xml`] | ONVIF Analytics `tt:MetadataStream` (RTSP metadata track, or a file): `tt:Frame`/`tt:Object` with `tt:LicensePlateInfo`, `tt:VehicleInfo`, `tt:HumanFace`, `tt:HumanBody` |
//! | `onvif-json` | [`parse_onvif_json`] | the same frames as ONVIF JSON over MQTT (`…/onvif-mj/VideoAnalytics/…` topics; `@attr`, `#text`) |
//! | `hikvision-isapi` | [`parse_hikvision_xml`], [`parse_hikvision_multipart`], [`split_multipart`] | Hikvision ISAPI `EventNotificationAlert` (HTTP listening/alarm server): `ANPR`, and `fielddetection`/`linedetection`-style events with a detection target |
//! | `axis-lpv` | [`parse_axis_push_json`], [`parse_axis_event_xml`] | AXIS License Plate Verifier: the HTTP push-event JSON, and the VAPIX `ALPV.AllPlates`/`ALPV.RealTime` events |
//! | `frigate` | [`parse_frigate`] | Frigate NVR over MQTT: `frigate/events` and `frigate/tracked_object_update` (type `lpr`) |
//!
//! Each parser returns every observation in the document: a plate read
//! ([`Payload::Plate`]) or a face, person or vehicle detection ([`Payload::Detection`]).
//! An observation keeps the source's own identity ([`SourceIdentity`]: MAC, serial, camera
//! name, MQTT topic…); the edge code that receives the bytes maps it to a limes
//! [`CameraId`] through its configuration ([`SourceIdentity::key`]) and then calls
//! [`Observation::into_plate_read`] or [`Observation::into_detection`], giving its receive
//! time for formats that carry none.
//!
//! One writer goes the other way: [`encode_onvif_json`] writes a plate read as an ONVIF JSON
//! frame, as a Profile M camera publishes it (the simulator plays cameras with it).
//!
//! Input is distrusted: sizes, nesting depth and counts are bounded by [`Limits`]; an XML
//! `<!DOCTYPE>` is refused (so no entity is ever expanded); values out of range are
//! errors, never clamped silently; nothing panics. Errors name the place
//! ([`FormatError`]). What a parser does not know it ignores.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use limes_camera_formats::{Limits, Payload, parse_frigate};
//! use limes_model::CameraId;
//!
//! let message = br#"{"type": "lpr", "id": "1700000000.1-abc", "plate": "B123XYZ", "score": 0.91,
//!                    "camera": "gate_east", "timestamp": 1700000001.5, "plate_box": [10, 20, 110, 50]}"#;
//! let observations = parse_frigate(message, &Limits::default()).unwrap();
//! assert_eq!(observations[0].source.key().as_deref(), Some("name:gate_east"));
//! let Payload::Plate(plate) = &observations[0].payload else { panic!() };
//! assert_eq!(plate.plate.text.value, "B123XYZ");
//!
//! let received = Utc.with_ymd_and_hms(2023, 11, 14, 22, 13, 30).unwrap();
//! let read = observations[0].clone().into_plate_read(CameraId::new("ro-gate-e").unwrap(), received).unwrap();
//! assert_eq!(read.time.timestamp_millis(), 1_700_000_001_500);
//! assert_eq!(read.plate.text.confidence, Some(0.91));
//! ```
//!
//! Sources of the format descriptions: the ONVIF Analytics and Core specifications
//! (`doc/Analytics.xml`, `doc/Core.xml` of onvif/specs), Hikvision's ISAPI event
//! notification as captured from cameras, Axis's "License plate verifier API" developer page,
//! and Frigate's `docs/integrations/mqtt.md`. Test fixtures and their origins are listed in
//! `tests/fixtures/SOURCES.md`.

use chrono::{DateTime, Utc};
use limes_model::{
    AgeRange, BoundingBox, CameraId, Detection, DetectionKind, Direction, Gender, GeoPoint, ImageRef, PlateInfo,
    PlateRead, Scored, VehicleInfo,
};
use serde::Serialize;

mod axis;
mod country;
mod encode;
mod error;
mod frigate;
mod hikvision;
mod json;
mod multipart;
mod onvif;
mod values;
mod xml;

pub use axis::{AxisImage, decode_axis_images, parse_axis_event_xml, parse_axis_push_json};
pub use country::country_from_code;
pub use encode::{encode_onvif_json, encode_onvif_json_detections, encode_onvif_json_frames};
pub use error::{FormatError, MultipartProblem};
pub use frigate::parse_frigate;
pub use hikvision::{HikvisionUpload, parse_hikvision_multipart, parse_hikvision_xml};
pub use multipart::{MultipartBody, Part, split_multipart};
pub use onvif::{parse_onvif_json, parse_onvif_xml};

/// Bounds on what a parser accepts. The defaults suit every camera we know of with a wide
/// margin; an edge may lower them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest XML or JSON document, in bytes (default 4 MiB).
    pub max_document_bytes: usize,
    /// Deepest nesting of XML elements or JSON arrays and objects (default 64).
    pub max_depth: usize,
    /// Most XML elements or JSON values in one document (default 50,000).
    pub max_elements: usize,
    /// Most objects, notifications or observations in one document (default 256).
    pub max_objects: usize,
    /// Largest `multipart/*` body, in bytes (default 32 MiB).
    pub max_body_bytes: usize,
    /// Most parts in a `multipart/*` body (default 16).
    pub max_parts: usize,
    /// Largest part of a `multipart/*` body, in bytes (default 8 MiB).
    pub max_part_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_document_bytes: 4 << 20,
            max_depth: 64,
            max_elements: 50_000,
            max_objects: 256,
            max_body_bytes: 32 << 20,
            max_parts: 16,
            max_part_bytes: 8 << 20,
        }
    }
}

/// The format a document was parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SourceFormat {
    /// ONVIF Analytics metadata, XML.
    #[serde(rename = "onvif-xml")]
    OnvifXml,
    /// ONVIF Analytics metadata, JSON over MQTT.
    #[serde(rename = "onvif-json")]
    OnvifJson,
    /// Hikvision ISAPI event notification.
    #[serde(rename = "hikvision-isapi")]
    HikvisionIsapi,
    /// AXIS License Plate Verifier push events and VAPIX events.
    #[serde(rename = "axis-lpv")]
    AxisLpv,
    /// Frigate NVR MQTT messages.
    #[serde(rename = "frigate")]
    Frigate,
}

impl SourceFormat {
    /// The format's name: `onvif-xml`, `onvif-json`, `hikvision-isapi`, `axis-lpv`, `frigate`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OnvifXml => "onvif-xml",
            Self::OnvifJson => "onvif-json",
            Self::HikvisionIsapi => "hikvision-isapi",
            Self::AxisLpv => "axis-lpv",
            Self::Frigate => "frigate",
        }
    }
}

impl std::fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The source device or camera, as the format identifies it. Which fields are set depends
/// on the format; see [`SourceIdentity::key`] for the one string to look up in the node's
/// configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceIdentity {
    /// The device's serial number (Axis `camera_info.SerialNumber`).
    pub serial: Option<String>,
    /// The device's MAC address, lower case with colons (Hikvision `macAddress`, Axis `camera_info.MACAddress`).
    pub mac: Option<String>,
    /// The camera's name where the format names cameras (Frigate `camera`, Hikvision `channelName`).
    pub name: Option<String>,
    /// The MQTT topic or stream the caller received the message on, as the caller passed it.
    pub topic: Option<String>,
    /// The device's IP address as it reported it (Hikvision `ipAddress`, Axis `camera_info.IPAddress`).
    pub ip: Option<String>,
    /// The channel or video source on a multi-channel device (Hikvision `channelID`).
    pub channel: Option<String>,
    /// Further identifying items as given: ONVIF `Source` items and the frame's `Source`
    /// attribute, Axis `ProducerReference`, Axis `ProdShortName`.
    pub items: Vec<(String, String)>,
}

impl SourceIdentity {
    /// A stable string naming the source, for the node's configuration to map to a
    /// [`CameraId`]: the first of `serial:S`, `mac:M` (with `/ch:C` when a channel is
    /// given), `name:N`, `topic:T`, `ip:I` (with `/ch:C`) and `source:K=V,K=V` that the
    /// format provides; `None` when it provides nothing (an ONVIF metadata stream parsed
    /// without a topic: the caller knows the stream's camera).
    pub fn key(&self) -> Option<String> {
        let with_channel = |prefix: &str, v: &str| match &self.channel {
            Some(c) => format!("{prefix}:{v}/ch:{c}"),
            None => format!("{prefix}:{v}"),
        };
        if let Some(s) = &self.serial {
            Some(format!("serial:{s}"))
        } else if let Some(m) = &self.mac {
            Some(with_channel("mac", m))
        } else if let Some(n) = &self.name {
            Some(format!("name:{n}"))
        } else if let Some(t) = &self.topic {
            Some(format!("topic:{t}"))
        } else if let Some(ip) = &self.ip {
            Some(with_channel("ip", ip))
        } else if !self.items.is_empty() {
            let items: Vec<String> = self.items.iter().map(|(k, v)| format!("{k}={v}")).collect();
            Some(format!("source:{}", items.join(",")))
        } else {
            None
        }
    }
}

/// Where an object is in its track, for sources that report a track's life (Axis
/// `carState`, Frigate `type`). The edge uses it with [`Observation::object_id`] to keep one
/// read per tracked vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackState {
    /// The first message about the object.
    New,
    /// A later message about an object already reported.
    Update,
    /// The last message: the object left or was lost.
    End,
}

/// One thing a camera reported: a plate read or a detection, with where and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation {
    /// The format the document was parsed as.
    pub format: SourceFormat,
    /// Who sent it, as the format says; the edge maps it to a [`CameraId`].
    pub source: SourceIdentity,
    /// When the camera saw it, UTC; `None` when the format gives no usable time (the edge
    /// then uses its receive time).
    pub time: Option<DateTime<Utc>>,
    /// The camera's tracking number for the object, when it gives one: ONVIF `ObjectId`,
    /// Axis `carID`, Frigate `id`. Several messages about the same object share it.
    pub object_id: Option<String>,
    /// Where the object is in its track, when the format says.
    pub track: Option<TrackState>,
    /// The read or the detection.
    pub payload: Payload,
    /// Values of the source that have no canonical field, keyed by their path in the
    /// document (e.g. `ANPR/vehicleInfo/vehicleLogoRecog`, `plateList`). Never identity: the
    /// parsers drop names that sources attach to persons or vehicles.
    pub extra: Vec<(String, String)>,
}

/// What was observed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// A number plate was read.
    Plate(PlateObservation),
    /// A face, person or vehicle was detected (without a plate read).
    Detection(DetectionObservation),
}

/// A plate read as the source reported it: everything a [`PlateRead`] needs but the camera
/// and, when absent, the time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlateObservation {
    /// Text, type, country (when the source's code is a known ISO 3166-1 code) and issuing
    /// entity, each with the source's confidence scaled to 0..=1.
    pub plate: PlateInfo,
    /// The country exactly as the source gave it (`DEU`, `US`, Hikvision's numeric `5`), also
    /// when it could not be mapped.
    pub country_raw: Option<String>,
    /// Towards or away from the camera, when the source says.
    pub direction: Direction,
    /// Make, colour and class of the vehicle, when the source reports them.
    pub vehicle: Option<VehicleInfo>,
    /// The camera's own position, when the source reports one.
    pub position: Option<GeoPoint>,
    /// Where the plate is in the picture.
    pub plate_box: Option<BoundingBox>,
    /// The pictures the source sent or offers with the read.
    pub images: Vec<ImageSlot>,
}

/// A detection as the source reported it: everything a [`Detection`] needs but the camera
/// and, when absent, the time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionObservation {
    /// Face, person or vehicle.
    pub kind: DetectionKind,
    /// How sure the source was of the kind, 0..=1.
    pub confidence: Option<f32>,
    /// Estimated age range (faces and persons).
    pub age: Option<Scored<AgeRange>>,
    /// Estimated gender (faces and persons).
    pub gender: Option<Scored<Gender>>,
    /// Where the object is in the picture.
    pub bbox: Option<BoundingBox>,
    /// The source's zone, region or rule the object was in.
    pub zone: Option<String>,
    /// Vehicle attributes (vehicles only).
    pub vehicle: Option<VehicleInfo>,
    /// The camera's own position, when the source reports one.
    pub position: Option<GeoPoint>,
}

/// What a picture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    /// A crop of the plate.
    Plate,
    /// The vehicle or the scene.
    Overview,
    /// Anything else, or not said.
    Other,
}

impl ImageKind {
    /// `plate`, `overview` or `other`, as in [`ImageRef::kind`].
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Plate => "plate",
            Self::Overview => "overview",
            Self::Other => "other",
        }
    }
}

/// A picture that belongs to an observation, referred to as the payload refers to it. The
/// bytes travel separately: a Hikvision multipart part whose name is `name`, the Axis
/// `ImageArray` entry at `index` ([`decode_axis_images`]), or a URI on the camera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSlot {
    /// What the picture shows.
    pub kind: ImageKind,
    /// File name, part name or URI on the camera.
    pub name: Option<String>,
    /// Position in the payload's list of embedded images.
    pub index: Option<usize>,
}

impl Observation {
    /// The plate read this observation is, for camera `camera`; its time, or `received`
    /// when the source gave none. `None` for a detection. The read is not validated: call
    /// [`PlateRead::validate`]. Its `images` are empty: the edge stores the pictures
    /// ([`PlateObservation::images`]) and adds their URIs.
    pub fn into_plate_read(self, camera: CameraId, received: DateTime<Utc>) -> Option<PlateRead> {
        let Payload::Plate(p) = self.payload else { return None };
        Some(PlateRead {
            exercise: false,
            camera,
            time: self.time.unwrap_or(received),
            plate: p.plate,
            direction: p.direction,
            position: p.position,
            vehicle: p.vehicle,
            images: Vec::<ImageRef>::new(),
        })
    }

    /// The detection this observation is, for camera `camera`; its time, or `received`
    /// when the source gave none. `None` for a plate read. Not validated: call
    /// [`Detection::validate`].
    pub fn into_detection(self, camera: CameraId, received: DateTime<Utc>) -> Option<Detection> {
        let Payload::Detection(d) = self.payload else { return None };
        Some(Detection {
            camera,
            time: self.time.unwrap_or(received),
            kind: d.kind,
            confidence: d.confidence,
            age: d.age,
            gender: d.gender,
            bbox: d.bbox,
            zone: d.zone,
            object_id: self.object_id,
            vehicle: d.vehicle,
            position: d.position,
        })
    }
}
