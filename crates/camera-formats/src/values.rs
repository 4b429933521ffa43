//! Checked conversions of the values the formats share: numbers, confidences, times,
//! positions and boxes. Each takes the path to name in its error.

use chrono::{DateTime, NaiveDateTime, Utc};
use limes_model::{BoundingBox, BoxUnits, GeoPoint};

use crate::{FormatError, SourceFormat};

/// A finite number.
pub(crate) fn number(format: SourceFormat, path: &str, raw: &str) -> Result<f64, FormatError> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(FormatError::bad(format, path, raw, "not a finite number")),
        Err(_) => Err(FormatError::bad(format, path, raw, "not a number")),
    }
}

/// A confidence already on the 0..=1 scale.
pub(crate) fn unit_confidence(format: SourceFormat, path: &str, raw: &str) -> Result<f32, FormatError> {
    let v = number(format, path, raw)?;
    confidence_in_range(format, path, raw, v, 1.0)
}

/// A confidence on a 0..=`scale` scale (Hikvision: percent), returned on 0..=1.
pub(crate) fn confidence_in_range(
    format: SourceFormat,
    path: &str,
    raw: &str,
    v: f64,
    scale: f64,
) -> Result<f32, FormatError> {
    if !v.is_finite() {
        return Err(FormatError::bad(format, path, raw, "not a finite number"));
    }
    if !(0.0..=scale).contains(&v) {
        return Err(FormatError::bad(
            format,
            path,
            raw,
            if scale == 1.0 { "a confidence must be in 0..=1" } else { "a confidence must be in 0..=100" },
        ));
    }
    Ok((v / scale) as f32)
}

/// An ISO 8601 date-time. With an offset or `Z` it is converted to UTC; without one it is
/// taken as UTC when `naive_is_utc` (ONVIF's `UtcTime` is UTC by definition) and is `None`
/// otherwise (a camera's local time without its offset cannot be placed).
pub(crate) fn iso_time(
    format: SourceFormat,
    path: &str,
    raw: &str,
    naive_is_utc: bool,
) -> Result<Option<DateTime<Utc>>, FormatError> {
    let s = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    match NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        Ok(t) if naive_is_utc => Ok(Some(t.and_utc())),
        Ok(_) => Ok(None),
        Err(_) => Err(FormatError::bad(format, path, raw, "not an ISO 8601 date and time")),
    }
}

/// Seconds since the Unix epoch, with a fraction (Frigate).
pub(crate) fn epoch_seconds(format: SourceFormat, path: &str, v: f64) -> Result<DateTime<Utc>, FormatError> {
    // Beyond ±1e11 s (year 5138) no camera clock is meant; it also keeps the cast exact enough.
    if !v.is_finite() || v.abs() > 1e11 {
        return Err(FormatError::bad(format, path, v.to_string(), "not a time in seconds since 1970"));
    }
    // Microseconds: what f64 holds exactly for today's epoch times (16 digits < 2^53).
    DateTime::from_timestamp_micros((v * 1e6).round() as i64)
        .ok_or_else(|| FormatError::bad(format, path, v.to_string(), "not a time in seconds since 1970"))
}

/// Milliseconds since the Unix epoch, as an integer in text (Axis).
pub(crate) fn epoch_millis(format: SourceFormat, path: &str, raw: &str) -> Result<DateTime<Utc>, FormatError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .ok_or_else(|| FormatError::bad(format, path, raw, "not a time in milliseconds since 1970"))
}

/// A WGS84 position.
pub(crate) fn position(format: SourceFormat, path: &str, lat: f64, lon: f64) -> Result<GeoPoint, FormatError> {
    GeoPoint::new(lat, lon).map_err(|_| FormatError::bad(format, path, format!("{lat}, {lon}"), "not a WGS84 position"))
}

/// A box in pixels from its left, top, right and bottom edges.
pub(crate) fn pixel_box(
    format: SourceFormat,
    path: &str,
    [left, top, right, bottom]: [f64; 4],
) -> Result<BoundingBox, FormatError> {
    let b = BoundingBox {
        left: left as f32,
        top: top as f32,
        right: right as f32,
        bottom: bottom as f32,
        units: BoxUnits::Pixels,
    };
    b.validate().map_err(|_| {
        FormatError::bad(format, path, format!("{left}, {top}, {right}, {bottom}"), "not a box inside the picture")
    })?;
    Ok(b)
}

/// How far outside -1..=1 an ONVIF coordinate may stray (rounding in cameras) before the box
/// is refused rather than clamped.
const ONVIF_SLACK: f64 = 0.01;

/// A box in ONVIF normalised coordinates (-1..=1, y upwards, after the frame's
/// transformation), as fractions of the picture from the top left. The edges may come in
/// either order.
pub(crate) fn onvif_box(
    format: SourceFormat,
    path: &str,
    [left, top, right, bottom]: [f64; 4],
) -> Result<BoundingBox, FormatError> {
    let raw = || format!("{left}, {top}, {right}, {bottom}");
    let edges = [left, top, right, bottom];
    if !edges.iter().all(|v| v.is_finite()) {
        return Err(FormatError::bad(format, path, raw(), "not a finite number"));
    }
    if !edges.iter().all(|v| (-1.0 - ONVIF_SLACK..=1.0 + ONVIF_SLACK).contains(v)) {
        return Err(FormatError::bad(format, path, raw(), "outside the picture (-1..=1 after the transformation)"));
    }
    let x = |v: f64| ((v.clamp(-1.0, 1.0) + 1.0) / 2.0) as f32;
    let y = |v: f64| ((1.0 - v.clamp(-1.0, 1.0)) / 2.0) as f32;
    let (l, r) = (x(left), x(right));
    let (t, b) = (y(top), y(bottom));
    Ok(BoundingBox { left: l.min(r), top: t.min(b), right: l.max(r), bottom: t.max(b), units: BoxUnits::Normalized })
}

/// Trims; an empty value or one of the words sources use for "not known" gives `None`.
pub(crate) fn known(raw: &str) -> Option<&str> {
    let s = raw.trim();
    let unknown = s.is_empty() || ["unknown", "none", "null", "n/a"].iter().any(|w| s.eq_ignore_ascii_case(w));
    (!unknown).then_some(s)
}

/// Lower-cases a MAC address and writes it with colons (`ACCC8EBFB452` → `ac:cc:8e:bf:b4:52`);
/// other text is kept, trimmed.
pub(crate) fn mac(raw: &str) -> String {
    let hex: String = raw.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    let separators_only = raw.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
    if hex.len() == 12 && separators_only {
        let hex = hex.to_ascii_lowercase();
        (0..6).map(|i| &hex[2 * i..2 * i + 2]).collect::<Vec<_>>().join(":")
    } else {
        raw.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: SourceFormat = SourceFormat::OnvifXml;

    #[test]
    fn times_are_utc() {
        let t = |s, naive| iso_time(F, "t", s, naive).unwrap().map(|t| t.to_rfc3339());
        assert_eq!(t("2023-08-11T13:49:00+01:00", false).as_deref(), Some("2023-08-11T12:49:00+00:00"));
        assert_eq!(t("2010-10-20T12:24:57.321", true).as_deref(), Some("2010-10-20T12:24:57.321+00:00"));
        assert_eq!(t("2010-10-20T12:24:57", false), None);
        assert!(iso_time(F, "t", "yesterday", true).is_err());
        assert_eq!(epoch_seconds(F, "t", 1607123961.837752).unwrap().timestamp_micros(), 1_607_123_961_837_752);
        assert!(epoch_seconds(F, "t", f64::NAN).is_err());
        assert!(epoch_seconds(F, "t", 1e300).is_err());
        assert_eq!(epoch_millis(F, "t", "1621511661894").unwrap().to_rfc3339(), "2021-05-20T11:54:21.894+00:00");
        assert!(epoch_millis(F, "t", "99999999999999999999").is_err());
    }

    #[test]
    fn confidences_and_boxes_are_checked() {
        assert_eq!(unit_confidence(F, "c", "0.9").unwrap(), 0.9);
        let err = unit_confidence(F, "<PlateNumber>@Likelihood", "7").unwrap_err();
        assert_eq!(err.to_string(), r#"onvif-xml: <PlateNumber>@Likelihood is "7": a confidence must be in 0..=1"#);
        assert!(matches!(
            unit_confidence(F, "c", "NaN"),
            Err(FormatError::BadValue { reason: "not a finite number", .. })
        ));
        assert!(matches!(unit_confidence(F, "c", "high"), Err(FormatError::BadValue { reason: "not a number", .. })));
        let b = onvif_box(F, "b", [-1.0, 1.0, 0.0, 0.0]).unwrap();
        assert_eq!((b.left, b.top, b.right, b.bottom), (0.0, 0.0, 0.5, 0.5));
        assert!(onvif_box(F, "b", [-3.0, 1.0, 0.0, 0.0]).is_err());
        assert!(pixel_box(F, "b", [10.0, 10.0, 5.0, 20.0]).is_err());
    }

    #[test]
    fn macs_and_unknowns() {
        assert_eq!(mac("ACCC8EBFB452"), "ac:cc:8e:bf:b4:52");
        assert_eq!(mac("BC-5E-33-62-2A-5C"), "bc:5e:33:62:2a:5c");
        assert_eq!(mac("not a mac"), "not a mac");
        assert_eq!(known(" Unknown "), None);
        assert_eq!(known(" white "), Some("white"));
    }
}
