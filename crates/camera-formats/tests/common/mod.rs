//! Helpers shared by the integration tests.
#![allow(dead_code)]

use limes_camera_formats::{DetectionObservation, Observation, Payload, PlateObservation};
use limes_model::{BoundingBox, BoxUnits};

/// A fixture's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn plate(o: &Observation) -> &PlateObservation {
    match &o.payload {
        Payload::Plate(p) => p,
        other => panic!("expected a plate read, got {other:?}"),
    }
}

pub fn detection(o: &Observation) -> &DetectionObservation {
    match &o.payload {
        Payload::Detection(d) => d,
        other => panic!("expected a detection, got {other:?}"),
    }
}

/// Asserts a box's edges to within 1e-4 and its units.
pub fn assert_box(b: Option<&BoundingBox>, units: BoxUnits, [left, top, right, bottom]: [f32; 4]) {
    let b = b.expect("a bounding box");
    assert_eq!(b.units, units, "{b:?}");
    for (got, want) in [(b.left, left), (b.top, top), (b.right, right), (b.bottom, bottom)] {
        assert!((got - want).abs() < 1e-4, "{b:?} != {:?}", [left, top, right, bottom]);
    }
}

/// The UTC time as RFC 3339 with milliseconds.
pub fn time(o: &Observation) -> String {
    o.time.expect("a time").to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
