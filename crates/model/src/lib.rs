//! The canonical records of a limes node: cameras, plate reads, hotlist
//! entries and alerts.
//!
//! These are plain types with invariants in their constructors; they do no I/O.
//! Edge crates (the HTTP server, camera integrations) parse their own wire
//! formats and convert to these types explicitly.
//!
//! ```
//! use limes_model::GeoPoint;
//! assert!(GeoPoint::new(47.9, 26.3).is_ok());
//! assert!(GeoPoint::new(91.0, 26.3).is_err());
//! ```

use chrono::{DateTime, Utc};
use limes_plate::{CountryCode, PlateText};
use serde::{Deserialize, Serialize};

mod ids;
mod vehicle;
pub use ids::{AgencyId, CameraId, IdError};
pub use vehicle::{Colour, Make, Mismatch, VehicleCode};
mod detection;
pub mod live;
pub mod recording;
pub use detection::{AgeRange, BoundingBox, BoxUnits, Detection, DetectionError, DetectionKind, Gender, MAX_AGE};

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// Latitude outside -90..=90 or longitude outside -180..=180, or not finite.
    #[error("position ({lat}, {lon}) is not a WGS84 latitude/longitude")]
    BadPosition { lat: f64, lon: f64 },
    /// A heading outside 0..360 degrees.
    #[error("heading {0} is not in 0..360 degrees")]
    BadHeading(f64),
    /// A confidence outside 0..=1.
    #[error("{field} confidence {value} is not in 0..=1")]
    BadConfidence { field: &'static str, value: f32 },
    /// The read's time is later than the node's clock allows.
    #[error("timestamp {time} is {ahead_s} s in the future (at most {max_s} s allowed)")]
    FutureTime { time: DateTime<Utc>, ahead_s: i64, max_s: i64 },
    /// The read's time is before any camera could have taken it.
    #[error("timestamp {0} is before 2000-01-01")]
    AncientTime(DateTime<Utc>),
    /// An identifier was malformed.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The plate text was malformed.
    #[error("plate: {0}")]
    Plate(#[from] limes_plate::PlateError),
}

/// A WGS84 position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoint")]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Deserialize)]
struct RawPoint {
    lat: f64,
    lon: f64,
}

impl TryFrom<RawPoint> for GeoPoint {
    type Error = ModelError;
    fn try_from(r: RawPoint) -> Result<Self, ModelError> {
        GeoPoint::new(r.lat, r.lon)
    }
}

impl GeoPoint {
    pub fn new(lat: f64, lon: f64) -> Result<Self, ModelError> {
        if lat.is_finite() && lon.is_finite() && (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) {
            Ok(Self { lat, lon })
        } else {
            Err(ModelError::BadPosition { lat, lon })
        }
    }

    /// Great-circle distance in metres (haversine on a spherical Earth).
    pub fn distance_m(&self, other: &GeoPoint) -> f64 {
        const R: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * R * a.sqrt().asin()
    }
}

/// What kind of camera it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraKind {
    /// A fixed surveillance camera.
    Fixed,
    /// A fixed camera dedicated to number-plate recognition.
    Anpr,
    /// A camera on a vehicle; reads carry the reader's own position.
    Mobile,
    /// A camera on a drone; reads carry the drone's position.
    Drone,
}

impl CameraKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Anpr => "anpr",
            Self::Mobile => "mobile",
            Self::Drone => "drone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "fixed" => Self::Fixed,
            "anpr" => Self::Anpr,
            "mobile" => Self::Mobile,
            "drone" => Self::Drone,
            _ => return None,
        })
    }

    /// Whether the camera moves, so that each read should carry its own position.
    pub fn is_moving(&self) -> bool {
        matches!(self, Self::Mobile | Self::Drone)
    }
}

/// A camera in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    pub id: CameraId,
    /// The agency that owns and operates the camera.
    pub agency: AgencyId,
    pub kind: CameraKind,
    /// Where a fixed camera stands; for a mobile camera, its home or last known position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<GeoPoint>,
    /// The direction the camera looks, degrees clockwise from north.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub road: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// The country the camera stands in.
    pub country: CountryCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Camera {
    /// Checks the invariants the type cannot hold by itself.
    pub fn validate(&self) -> Result<(), ModelError> {
        if let Some(h) = self.heading
            && !(h.is_finite() && (0.0..360.0).contains(&h))
        {
            return Err(ModelError::BadHeading(h));
        }
        Ok(())
    }
}

/// The travel direction of a vehicle relative to the camera (ONVIF: `Direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Approaching,
    Leaving,
    #[default]
    Unknown,
}

impl Direction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Approaching => "approaching",
            Self::Leaving => "leaving",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "approaching" => Self::Approaching,
            "leaving" => Self::Leaving,
            _ => Self::Unknown,
        }
    }
}

/// A value with the confidence the reader gave it (ONVIF's `Likelihood`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored<T> {
    pub value: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}

/// What a plate reader saw, modelled on ONVIF Profile M `tt:LicensePlateInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateInfo {
    /// The plate text as the reader reported it, before normalisation.
    pub text: Scored<String>,
    /// Plate type as reported (e.g. `normal`, `diplomatic`, `temporary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate_type: Option<Scored<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Scored<CountryCode>>,
    /// The region or authority that issued the plate, as reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuing_entity: Option<Scored<String>>,
}

/// Optional vehicle attributes a reader may report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VehicleInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// e.g. `car`, `truck`, `bus`, `motorcycle`, `van`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
}

/// What an image of a read shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageKind {
    /// A crop of the plate, as the reader cut it out.
    Plate,
    /// The scene: vehicle and surroundings.
    Overview,
}

impl ImageKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Plate => "plate",
            Self::Overview => "overview",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "plate" => Some(Self::Plate),
            "overview" => Some(Self::Overview),
            _ => None,
        }
    }
}

/// A reference to an image a reader took (plate crop or overview).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRef {
    /// `plate` or `overview`.
    pub kind: String,
    pub uri: String,
}

/// One plate read, as accepted by the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateRead {
    pub camera: CameraId,
    /// When the reader saw the plate, UTC.
    pub time: DateTime<Utc>,
    pub plate: PlateInfo,
    #[serde(default)]
    pub direction: Direction,
    /// The reader's own position when the camera moves (patrol car, drone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<GeoPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<VehicleInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageRef>,
    /// A read an exercise scripted (`limes exercise run`): it matches only exercise hotlist
    /// entries, raises only exercise alerts, and never answers a real query or request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
}

/// How far ahead of the node's clock a read's time may be (camera clocks drift).
pub const MAX_FUTURE_SKEW_S: i64 = 300;

impl PlateRead {
    /// Checks what the types cannot: confidences in range, time not in the future.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), ModelError> {
        let ahead = (self.time - now).num_seconds();
        if ahead > MAX_FUTURE_SKEW_S {
            return Err(ModelError::FutureTime { time: self.time, ahead_s: ahead, max_s: MAX_FUTURE_SKEW_S });
        }
        if self.time.timestamp() < 946_684_800 {
            return Err(ModelError::AncientTime(self.time));
        }
        let check = |field: &'static str, c: Option<f32>| match c {
            Some(v) if !(0.0..=1.0).contains(&v) => Err(ModelError::BadConfidence { field, value: v }),
            _ => Ok(()),
        };
        check("text", self.plate.text.confidence)?;
        check("plate_type", self.plate.plate_type.as_ref().and_then(|s| s.confidence))?;
        check("country", self.plate.country.as_ref().and_then(|s| s.confidence))?;
        check("issuing_entity", self.plate.issuing_entity.as_ref().and_then(|s| s.confidence))?;
        Ok(())
    }
}

/// Why a vehicle is on a hotlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HotlistReason {
    Stolen,
    Wanted,
    MissingPerson,
    Suspect,
    Other,
}

impl HotlistReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Stolen => "stolen",
            Self::Wanted => "wanted",
            Self::MissingPerson => "missing_person",
            Self::Suspect => "suspect",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().replace([' ', '-'], "_").as_str() {
            "stolen" => Self::Stolen,
            "wanted" => Self::Wanted,
            "missing_person" | "missing" => Self::MissingPerson,
            "suspect" => Self::Suspect,
            "other" => Self::Other,
            _ => return None,
        })
    }
}

/// One hotlist entry, its plate already normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotlistEntry {
    pub id: u64,
    /// Canonical plate text (grammar-repaired when `country` is known).
    pub plate: PlateText,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
    pub reason: HotlistReason,
    /// 1 (highest) to 5.
    pub priority: u8,
    pub agency: AgencyId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<DateTime<Utc>>,
    /// Also alert, as *possible*, on reads within edit distance 1 of this plate.
    #[serde(default)]
    pub fuzzy: bool,
    /// The vehicle the plate belongs to, when the list says: a read whose vehicle plainly
    /// differs (another make, a contradicting colour) gives only a *possible* hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<VehicleInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// An entry an exercise put on the list: only exercise reads hit it, and a real read
    /// never does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
}

impl HotlistEntry {
    /// Whether a read hits this entry at all as far as the exercise mark goes: exercise
    /// reads only exercise entries, real reads only real entries.
    pub fn same_world(&self, read: &PlateRead) -> bool {
        self.exercise == read.exercise
    }
}

/// How sure a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The grammar-repaired canonical text equals the entry's, and countries agree.
    Confirmed,
    /// Equal only after look-alike folding, equal text under another country than the
    /// read's, or within edit distance of an entry flagged fuzzy: an operator must look at
    /// the image. (A read without a country whose text equals the entry's, as read or as
    /// repaired by the entry country's grammar, is confirmed.)
    Possible,
}

/// Why a hit whose text would confirm it is only [`MatchKind::Possible`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Demotion {
    /// The reader's confidence in the text was below the node's threshold.
    LowConfidence,
    /// The reader's confidence in the text was among the lowest of its camera's recent
    /// reads (a rank, whatever the vendor's scale).
    LowConfidenceForCamera,
    /// The reader saw another make than the entry names.
    MakeDiffers,
    /// The reader saw a colour that contradicts the entry's.
    ColourDiffers,
}

impl Demotion {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::LowConfidence => "low_confidence",
            Self::LowConfidenceForCamera => "low_confidence_for_camera",
            Self::MakeDiffers => "make_differs",
            Self::ColourDiffers => "colour_differs",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "low_confidence" => Self::LowConfidence,
            "low_confidence_for_camera" => Self::LowConfidenceForCamera,
            "make_differs" => Self::MakeDiffers,
            "colour_differs" => Self::ColourDiffers,
            _ => return None,
        })
    }
}

impl From<Mismatch> for Demotion {
    fn from(m: Mismatch) -> Self {
        match m {
            Mismatch::Make => Self::MakeDiffers,
            Mismatch::Colour => Self::ColourDiffers,
        }
    }
}

impl MatchKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Possible => "possible",
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn read_at(time: DateTime<Utc>) -> PlateRead {
        PlateRead {
            exercise: false,
            camera: CameraId::new("ro-1").unwrap(),
            time,
            plate: PlateInfo {
                text: Scored { value: "B 12 ABC".into(), confidence: Some(0.9) },
                plate_type: None,
                country: Some(Scored { value: CountryCode::RO, confidence: Some(0.7) }),
                issuing_entity: None,
            },
            direction: Direction::Leaving,
            position: None,
            vehicle: None,
            images: vec![],
        }
    }

    #[test]
    fn positions_are_checked_and_distances_measured() {
        for (lat, lon, ok) in [(47.9, 26.3, true), (-90.0, 180.0, true), (90.1, 0.0, false), (0.0, -180.5, false)] {
            assert_eq!(GeoPoint::new(lat, lon).is_ok(), ok, "{lat}, {lon}");
        }
        assert!(GeoPoint::new(f64::NAN, 0.0).is_err());
        // Siret (RO) to Porubne (UA): about 6.3 km apart.
        let siret = GeoPoint::new(47.9537, 26.0670).unwrap();
        let porubne = GeoPoint::new(48.0106, 26.0297).unwrap();
        let d = siret.distance_m(&porubne);
        assert!((6_000.0..7_500.0).contains(&d), "{d}");
        assert_eq!(siret.distance_m(&siret), 0.0);
        let bad: Result<GeoPoint, _> = serde_json::from_str(r#"{"lat": 100, "lon": 0}"#);
        assert!(bad.unwrap_err().to_string().contains("not a WGS84"));
    }

    #[test]
    fn ids_hold_their_invariants() {
        assert!(CameraId::new("ro-siret-01").is_ok());
        assert!(AgencyId::new("ua.dpsu:west_1").is_ok());
        assert_eq!(CameraId::new("").unwrap_err(), IdError::Empty { kind: "camera" });
        assert!(matches!(CameraId::new("a b"), Err(IdError::BadChar { .. })));
        assert!(matches!(AgencyId::new("x".repeat(65)), Err(IdError::TooLong { .. })));
        let bad: Result<Camera, _> =
            serde_json::from_str(r#"{"id": "a/b", "agency": "x", "kind": "anpr", "country": "RO"}"#);
        assert!(bad.unwrap_err().to_string().contains("camera id"));
    }

    #[test]
    fn demotions_are_stored_by_the_names_they_are_serialised_with() {
        use Demotion::*;
        let all = [LowConfidence, LowConfidenceForCamera, MakeDiffers, ColourDiffers];
        let names: Vec<&str> = all.iter().map(Demotion::as_str).collect();
        assert_eq!(names, ["low_confidence", "low_confidence_for_camera", "make_differs", "colour_differs"]);
        for d in all {
            assert_eq!(Demotion::parse(d.as_str()), Some(d));
        }
        assert_eq!(Demotion::parse("LowConfidence"), None);
    }

    #[test]
    fn a_read_is_refused_when_its_time_or_confidences_are_impossible() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        assert!(read_at(now).validate(now).is_ok());
        assert!(read_at(now + chrono::Duration::seconds(MAX_FUTURE_SKEW_S)).validate(now).is_ok());
        let err = read_at(now + chrono::Duration::hours(1)).validate(now).unwrap_err();
        assert!(matches!(err, ModelError::FutureTime { ahead_s: 3600, .. }), "{err:?}");
        assert!(matches!(read_at(Utc.timestamp_opt(0, 0).unwrap()).validate(now), Err(ModelError::AncientTime(_))));
        let mut r = read_at(now);
        r.plate.country.as_mut().unwrap().confidence = Some(1.5);
        assert!(matches!(r.validate(now), Err(ModelError::BadConfidence { field: "country", .. })));
        r.plate.country = None;
        r.plate.text.confidence = Some(f32::NAN);
        assert!(matches!(r.validate(now), Err(ModelError::BadConfidence { field: "text", .. })));
    }

    #[test]
    fn camera_headings_and_kinds() {
        let mut c: Camera =
            serde_json::from_str(r#"{"id": "a", "agency": "x", "kind": "drone", "country": "UA", "heading": 359.5}"#)
                .unwrap();
        assert!(c.validate().is_ok());
        assert!(c.kind.is_moving());
        c.heading = Some(360.0);
        assert!(matches!(c.validate(), Err(ModelError::BadHeading(_))));
        for k in [CameraKind::Fixed, CameraKind::Anpr, CameraKind::Mobile, CameraKind::Drone] {
            assert_eq!(CameraKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(HotlistReason::parse("Missing person"), Some(HotlistReason::MissingPerson));
        assert_eq!(HotlistReason::parse("lost"), None);
    }
}
