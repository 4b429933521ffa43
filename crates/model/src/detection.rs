//! Detections: faces, persons and vehicles that a camera's analytics saw.
//!
//! A detection says *that* something was seen, where in the picture and with which
//! estimated attributes (age range, gender, vehicle class). It never says *who*: see
//! [`Detection`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CameraId, GeoPoint, MAX_FUTURE_SKEW_S, ModelError, Scored, VehicleInfo};

/// Why a detection was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DetectionError {
    /// A time, confidence or position the plate-read rules also refuse.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// An age range whose minimum is above its maximum, or beyond any human age.
    #[error("age range {min}..={max} is not a range of human ages")]
    BadAge { min: u8, max: u8 },
    /// A bounding box that is not finite, has its edges swapped, or lies outside the picture.
    #[error("bounding box ({left}, {top}, {right}, {bottom}) in {units} is not inside the picture")]
    BadBox { left: f32, top: f32, right: f32, bottom: f32, units: &'static str },
    /// An attribute that belongs to another kind of object (an age on a vehicle).
    #[error("a {kind} detection cannot carry {attribute}")]
    NotApplicable { kind: &'static str, attribute: &'static str },
}

/// What kind of object was detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectionKind {
    /// A human face (ONVIF `tt:HumanFace`, class `Face`).
    Face,
    /// A person, whole body (ONVIF `Human`/`tt:HumanBody`, Frigate `person`, Hikvision `human`).
    Person,
    /// A vehicle of any class (car, truck, bus, motorcycle, bicycle).
    Vehicle,
}

impl DetectionKind {
    /// The kind as a lower-case word.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Face => "face",
            Self::Person => "person",
            Self::Vehicle => "vehicle",
        }
    }

    /// Whether age and gender estimates can belong to this kind.
    pub fn is_human(&self) -> bool {
        matches!(self, Self::Face | Self::Person)
    }
}

/// An estimated age range in whole years, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AgeRange {
    /// The youngest age in the range.
    pub min: u8,
    /// The oldest age in the range.
    pub max: u8,
}

/// The oldest age an [`AgeRange`] may name.
pub const MAX_AGE: u8 = 130;

/// An estimated gender, as camera analytics report it (ONVIF `fc:Gender`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Estimated female.
    Female,
    /// Estimated male.
    Male,
}

impl Gender {
    /// Parses `male`/`female` in any case; anything else (`unknown`, empty) is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "male" | "m" => Some(Self::Male),
            "female" | "f" => Some(Self::Female),
            _ => None,
        }
    }

    /// The gender as a lower-case word.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
        }
    }
}

/// The coordinate space of a [`BoundingBox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxUnits {
    /// Fractions of the picture, 0..=1, origin top left, y downwards.
    Normalized,
    /// Pixels of a picture whose size the source did not give, origin top left, y downwards.
    Pixels,
}

impl BoxUnits {
    /// The units as a lower-case word.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Normalized => "normalized",
            Self::Pixels => "pixels",
        }
    }
}

/// Where in the picture an object is: a rectangle, origin top left, y downwards.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    /// The left edge.
    pub left: f32,
    /// The top edge.
    pub top: f32,
    /// The right edge (not left of `left`).
    pub right: f32,
    /// The bottom edge (not above `top`).
    pub bottom: f32,
    /// Fractions of the picture, or pixels.
    pub units: BoxUnits,
}

impl BoundingBox {
    /// Checks that the edges are finite, ordered (`left <= right`, `top <= bottom`) and inside
    /// the picture (0..=1 when normalised, not negative in pixels).
    pub fn validate(&self) -> Result<(), DetectionError> {
        let edges = [self.left, self.top, self.right, self.bottom];
        let in_range = |v: f32| match self.units {
            BoxUnits::Normalized => (0.0..=1.0).contains(&v),
            BoxUnits::Pixels => v >= 0.0 && v.is_finite(),
        };
        if edges.iter().all(|v| in_range(*v)) && self.left <= self.right && self.top <= self.bottom {
            Ok(())
        } else {
            Err(DetectionError::BadBox {
                left: self.left,
                top: self.top,
                right: self.right,
                bottom: self.bottom,
                units: self.units.as_str(),
            })
        }
    }
}

/// One object a camera's analytics detected, as accepted by the node.
///
/// **A detection never holds identity.** It carries no names, no face embeddings or
/// templates, no recognition results and no person identifiers beyond the camera's own
/// short-lived tracking number (`object_id`). Sources that attach identity (Frigate
/// `sub_label` from face recognition, for instance) lose it before a `Detection` is built,
/// and nothing may be added to this type that would let a detection name a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// The camera whose analytics saw the object.
    pub camera: CameraId,
    /// When the object was seen, UTC.
    pub time: DateTime<Utc>,
    /// Face, person or vehicle.
    pub kind: DetectionKind,
    /// How sure the analytics was that the object is of this kind, 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// Estimated age range (faces and persons only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<Scored<AgeRange>>,
    /// Estimated gender (faces and persons only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Scored<Gender>>,
    /// Where the object is in the picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<BoundingBox>,
    /// The zone, region or rule of the camera's analytics that the object was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The camera's tracking number for the object: the same object in several messages
    /// shares it. Meaningful only together with `camera`, and only for a short while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// Vehicle attributes (vehicles only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<VehicleInfo>,
    /// The camera's own position when it moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<GeoPoint>,
}

impl Detection {
    /// Checks what the types cannot: time not in the future nor before 2000, confidences
    /// in 0..=1, age ranges ordered, boxes inside the picture, attributes fitting the kind.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), DetectionError> {
        let ahead = (self.time - now).num_seconds();
        if ahead > MAX_FUTURE_SKEW_S {
            return Err(ModelError::FutureTime { time: self.time, ahead_s: ahead, max_s: MAX_FUTURE_SKEW_S }.into());
        }
        if self.time.timestamp() < 946_684_800 {
            return Err(ModelError::AncientTime(self.time).into());
        }
        let check = |field: &'static str, c: Option<f32>| match c {
            Some(v) if !(0.0..=1.0).contains(&v) => Err(ModelError::BadConfidence { field, value: v }),
            _ => Ok(()),
        };
        check("detection", self.confidence)?;
        check("age", self.age.as_ref().and_then(|a| a.confidence))?;
        check("gender", self.gender.as_ref().and_then(|g| g.confidence))?;
        if let Some(age) = &self.age {
            let AgeRange { min, max } = age.value;
            if min > max || max > MAX_AGE {
                return Err(DetectionError::BadAge { min, max });
            }
        }
        if !self.kind.is_human() {
            let attribute = if self.age.is_some() {
                Some("an age")
            } else if self.gender.is_some() {
                Some("a gender")
            } else {
                None
            };
            if let Some(attribute) = attribute {
                return Err(DetectionError::NotApplicable { kind: self.kind.as_str(), attribute });
            }
        }
        if self.kind != DetectionKind::Vehicle && self.vehicle.is_some() {
            return Err(DetectionError::NotApplicable { kind: self.kind.as_str(), attribute: "vehicle attributes" });
        }
        if let Some(b) = &self.bbox {
            b.validate()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn face(now: DateTime<Utc>) -> Detection {
        Detection {
            camera: CameraId::new("ro-siret-02").unwrap(),
            time: now,
            kind: DetectionKind::Face,
            confidence: Some(0.8),
            age: Some(Scored { value: AgeRange { min: 20, max: 30 }, confidence: None }),
            gender: Some(Scored { value: Gender::Male, confidence: Some(0.7) }),
            bbox: Some(BoundingBox { left: 0.1, top: 0.2, right: 0.3, bottom: 0.4, units: BoxUnits::Normalized }),
            zone: Some("gate".into()),
            object_id: Some("15".into()),
            vehicle: None,
            position: None,
        }
    }

    #[test]
    fn a_detection_is_refused_when_its_values_are_impossible() {
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        assert_eq!(face(now).validate(now), Ok(()));

        let mut d = face(now + chrono::Duration::hours(1));
        assert!(matches!(d.validate(now), Err(DetectionError::Model(ModelError::FutureTime { .. }))));
        d.time = Utc.timestamp_opt(0, 0).unwrap();
        assert!(matches!(d.validate(now), Err(DetectionError::Model(ModelError::AncientTime(_)))));

        let mut d = face(now);
        d.confidence = Some(7.0);
        assert_eq!(d.validate(now).unwrap_err().to_string(), "detection confidence 7 is not in 0..=1",);
        d.confidence = Some(f32::NAN);
        assert!(d.validate(now).is_err());

        let mut d = face(now);
        d.age.as_mut().unwrap().value = AgeRange { min: 40, max: 30 };
        assert_eq!(d.validate(now), Err(DetectionError::BadAge { min: 40, max: 30 }));
        d.age.as_mut().unwrap().value = AgeRange { min: 40, max: 200 };
        assert_eq!(d.validate(now), Err(DetectionError::BadAge { min: 40, max: 200 }));

        let mut d = face(now);
        d.kind = DetectionKind::Vehicle;
        assert_eq!(d.validate(now), Err(DetectionError::NotApplicable { kind: "vehicle", attribute: "an age" }));
        d.age = None;
        assert_eq!(d.validate(now), Err(DetectionError::NotApplicable { kind: "vehicle", attribute: "a gender" }));

        let mut d = face(now);
        d.vehicle = Some(VehicleInfo::default());
        assert!(matches!(d.validate(now), Err(DetectionError::NotApplicable { attribute: "vehicle attributes", .. })));
    }

    #[test]
    fn boxes_lie_inside_the_picture() {
        let b = |left, top, right, bottom, units| BoundingBox { left, top, right, bottom, units };
        for (bx, ok) in [
            (b(0.0, 0.0, 1.0, 1.0, BoxUnits::Normalized), true),
            (b(0.5, 0.0, 0.4, 1.0, BoxUnits::Normalized), false),
            (b(0.0, 0.6, 1.0, 0.5, BoxUnits::Normalized), false),
            (b(0.0, 0.0, 1.5, 1.0, BoxUnits::Normalized), false),
            (b(10.0, 20.0, 1920.0, 1080.0, BoxUnits::Pixels), true),
            (b(-1.0, 20.0, 1920.0, 1080.0, BoxUnits::Pixels), false),
            (b(0.0, 0.0, f32::INFINITY, 1.0, BoxUnits::Pixels), false),
            (b(f32::NAN, 0.0, 1.0, 1.0, BoxUnits::Normalized), false),
        ] {
            assert_eq!(bx.validate().is_ok(), ok, "{bx:?}");
        }
    }

    #[test]
    fn genders_parse_and_detections_round_trip_as_json() {
        assert_eq!(Gender::parse(" Female "), Some(Gender::Female));
        assert_eq!(Gender::parse("MALE"), Some(Gender::Male));
        assert_eq!(Gender::parse("unknown"), None);
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        let d = face(now);
        let json = serde_json::to_string(&d).unwrap();
        assert!(json.contains(r#""kind":"face""#), "{json}");
        assert_eq!(serde_json::from_str::<Detection>(&json).unwrap(), d);
    }
}
