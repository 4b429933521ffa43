//! Times as devices write them.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::Error;

/// An `xs:dateTime`: RFC 3339 with an offset or `Z`, or without a zone (read as UTC, which is
/// what ONVIF and ISAPI devices mean by it). `what` names the value in the error.
pub fn parse_datetime(value: &str, what: &'static str) -> Result<DateTime<Utc>, Error> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| t.and_utc())
        .map_err(|_| Error::BadValue { what, value: value.chars().take(64).collect() })
}

/// A time as ONVIF and ISAPI requests write it: `2024-03-01T10:00:00Z` (whole seconds, UTC).
pub fn format_datetime(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_times() {
        let t = |s| parse_datetime(s, "t").map(format_datetime);
        assert_eq!(t("2024-03-01T10:00:00Z").unwrap(), "2024-03-01T10:00:00Z");
        assert_eq!(t("2024-03-01T12:00:00+02:00").unwrap(), "2024-03-01T10:00:00Z");
        assert_eq!(t("2024-03-01T10:00:00.250").unwrap(), "2024-03-01T10:00:00Z");
        assert_eq!(t(" 2024-03-01T10:00:00 ").unwrap(), "2024-03-01T10:00:00Z");
        assert_eq!(t("yesterday").unwrap_err().to_string(), "t: \"yesterday\" does not parse");
        assert!(t("2024-13-01T10:00:00Z").is_err());
    }
}
