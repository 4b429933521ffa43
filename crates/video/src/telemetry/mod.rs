//! Telemetry beside footage: where the camera was, moment by moment.
//!
//! | format | function | where it comes from |
//! |---|---|---|
//! | GPX 1.0 and 1.1 | [`parse_gpx`] | GPS loggers, body cameras, phone apps: `<trk>/<trkseg>/<trkpt lat lon>` with `<ele>` and `<time>` |
//! | DJI-style SRT | [`parse_srt`] | the subtitle file DJI drones write beside each video: one cue per frame or second, with GPS, camera settings and, on most models, a wall-clock timestamp |
//!
//! Both give a [`Track`]: fixes in time order, each with latitude, longitude, the altitude
//! when the source gives one, and the camera's settings where present ([`Camera`]).
//! [`Track::position_at`] interpolates linearly between the two fixes around a moment and
//! answers `None` outside the track or across a gap longer than [`Track::max_gap`].
//!
//! Input is distrusted: its size, line length, nesting and number of fixes are bounded by
//! [`Limits`]; an XML `<!DOCTYPE>` is refused (so no entity is ever expanded); a latitude or
//! longitude out of range or not a number, a time going backwards, a cue cut short are
//! errors naming the place ([`TelemetryError`]), never clamped or skipped silently.

mod gpx;
mod srt;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

pub use self::gpx::parse_gpx;
pub use self::srt::parse_srt;

/// Bounds on what the parsers accept. The defaults hold an hour of 60 fps DJI telemetry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The largest document, in bytes.
    pub max_bytes: usize,
    /// The longest line of an SRT file, in bytes.
    pub max_line_bytes: usize,
    /// The deepest XML nesting.
    pub max_depth: usize,
    /// The most XML elements.
    pub max_elements: usize,
    /// The most fixes in one track.
    pub max_fixes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 64 << 20, max_line_bytes: 4096, max_depth: 32, max_elements: 2_000_000, max_fixes: 500_000 }
    }
}

/// How the times of an SRT file's cues, which are relative to the start of the video, become
/// moments: by the wall-clock timestamp a cue carries (most DJI models write one, in the
/// drone's local time without a zone, read at `utc_offset`), else by `start` plus the cue's
/// start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtClock {
    /// When the recording started, for cues without a timestamp of their own.
    pub start: Option<DateTime<Utc>>,
    /// The offset from UTC of the local time the cues' timestamps are written in.
    pub utc_offset: FixedOffset,
}

impl Default for SrtClock {
    fn default() -> Self {
        Self { start: None, utc_offset: FixedOffset::east_opt(0).expect("zero is a valid offset") }
    }
}

impl SrtClock {
    /// A recording that started at `start`, given with the offset its local clock used
    /// (`2020-04-02T15:19:58+05:00`): the start for cues without a timestamp, and the
    /// offset for cues with one.
    pub fn starting<Tz: chrono::TimeZone>(start: DateTime<Tz>) -> Self {
        use chrono::Offset;
        let utc_offset = start.offset().fix();
        Self { start: Some(start.with_timezone(&Utc)), utc_offset }
    }
}

/// The telemetry formats, as [`detect`] tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// GPS Exchange Format 1.0 or 1.1.
    Gpx,
    /// DJI-style SRT subtitles.
    Srt,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Gpx => "gpx",
            Self::Srt => "srt",
        })
    }
}

/// Which format a document is, by its content: XML (after a byte-order mark and
/// whitespace, a `<`) is GPX; a first line holding a cue number is SRT.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &bytes[start..];
    if rest.starts_with(b"<") {
        return Some(Format::Gpx);
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    (digits > 0 && digits <= 9 && matches!(rest.get(digits), Some(b'\r' | b'\n'))).then_some(Format::Srt)
}

/// Parses telemetry in either format, told apart by [`detect`]. `clock` serves SRT only.
pub fn parse(bytes: &[u8], clock: &SrtClock, limits: &Limits) -> Result<Track, TelemetryError> {
    check_size(bytes, limits)?;
    match detect(bytes) {
        Some(Format::Gpx) => parse_gpx(bytes, limits),
        Some(Format::Srt) => parse_srt(bytes, clock, limits),
        None => Err(TelemetryError::UnknownFormat),
    }
}

pub(crate) fn check_size(bytes: &[u8], limits: &Limits) -> Result<(), TelemetryError> {
    if bytes.len() > limits.max_bytes {
        return Err(TelemetryError::TooLarge { size: bytes.len(), limit: limits.max_bytes });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(TelemetryError::Empty);
    }
    Ok(())
}

/// Why telemetry was refused. Messages name the place: a cue and line for SRT, a track
/// point or byte offset for GPX.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TelemetryError {
    /// The document is larger than [`Limits::max_bytes`].
    #[error("the telemetry is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    /// The document is empty or only whitespace.
    #[error("the telemetry is empty")]
    Empty,
    /// Neither GPX nor SRT.
    #[error("the telemetry is neither GPX (XML) nor SRT (numbered cues)")]
    UnknownFormat,
    /// Not UTF-8 (both formats are).
    #[error("{format}: not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 { format: Format, offset: usize },
    /// A line longer than [`Limits::max_line_bytes`].
    #[error("srt: line {line} is longer than {limit} bytes")]
    LineTooLong { line: usize, limit: usize },
    /// The GPX has a `<!DOCTYPE>`: GPX never needs one, and its entities could expand
    /// exponentially or reach outside (XXE).
    #[error("gpx: a <!DOCTYPE> is refused (GPX has none; its entities could expand or reach outside)")]
    Doctype,
    /// XML nested deeper than [`Limits::max_depth`].
    #[error("gpx: nested deeper than {limit} levels at byte {offset}")]
    TooDeep { limit: usize, offset: u64 },
    /// More elements or fixes than the limits allow.
    #[error("{format}: more than {limit} {what}")]
    TooMany { format: Format, what: &'static str, limit: usize },
    /// The XML is not well-formed, or not GPX.
    #[error("gpx: {message}")]
    Gpx { message: String },
    /// An SRT cue is malformed or cut short.
    #[error("srt: cue {cue} (line {line}): {problem}")]
    Cue { cue: usize, line: usize, problem: String },
    /// A value is present but impossible: out of range, not a number.
    #[error("{format}: {place}: {what} is {value:?}: {reason}")]
    BadValue { format: Format, place: String, what: &'static str, value: String, reason: &'static str },
    /// A fix is earlier than the one before it.
    #[error("{format}: {place}: the time goes backwards ({time} after {previous})")]
    Backwards { format: Format, place: String, time: DateTime<Utc>, previous: DateTime<Utc> },
    /// SRT cues without timestamps, and no start time given.
    #[error("srt: the cues carry no timestamp; give the recording's start time")]
    NeedsStart,
    /// The document holds no usable fix.
    #[error("{format}: no position with a time in the telemetry")]
    NoFixes { format: Format },
}

impl TelemetryError {
    pub(crate) fn bad(
        format: Format,
        place: impl Into<String>,
        what: &'static str,
        value: impl std::fmt::Display,
        reason: &'static str,
    ) -> Self {
        let mut value = value.to_string();
        if value.len() > 64 {
            let cut = (0..=64).rev().find(|i| value.is_char_boundary(*i)).unwrap_or(0);
            value.truncate(cut);
            value.push('…');
        }
        Self::BadValue { format, place: place.into(), what, value, reason }
    }
}

/// The camera's settings and the aircraft's state at a fix, as far as the source says.
/// DJI writes these as it names them; values are kept in the source's units.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Camera {
    /// Sensitivity (ISO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iso: Option<f64>,
    /// Shutter speed as written (`1/2500.0`, `60`, `30.15`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutter: Option<String>,
    /// Aperture as an f-number (2.8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f_number: Option<f64>,
    /// Exposure compensation (EV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ev: Option<f64>,
    /// Focal length as written (`focal_len`; tenths of a millimetre on the Mavic 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focal_length: Option<f64>,
    /// Colour temperature in kelvin (`ct`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour_temperature: Option<f64>,
    /// Height above the take-off point in metres (`H`, `BAROMETER`, `rel_alt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height_m: Option<f64>,
    /// Distance from the home point in metres (`D`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_m: Option<f64>,
    /// Horizontal speed in m/s (`H.S`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub horizontal_speed: Option<f64>,
    /// Vertical speed in m/s (`V.S`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vertical_speed: Option<f64>,
    /// The aircraft's pitch, roll and yaw in degrees (`F.PRY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aircraft_pry: Option<[f64; 3]>,
    /// The gimbal's pitch, roll and yaw in degrees (`G.PRY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gimbal_pry: Option<[f64; 3]>,
}

impl Camera {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One timestamped position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub time: DateTime<Utc>,
    /// Degrees north, −90 to 90.
    pub lat: f64,
    /// Degrees east, −180 to 180.
    pub lon: f64,
    /// Metres above sea level (GPX `<ele>`, DJI `altitude`/`abs_alt`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
    /// The camera's settings at this fix, when the source gives them.
    #[serde(default, skip_serializing_if = "Camera::is_empty")]
    pub camera: Camera,
}

impl Fix {
    /// A fix at a checked position: latitude and longitude finite and in range, altitude
    /// finite. `place` names it in the error.
    pub fn new(
        format: Format,
        place: &str,
        time: DateTime<Utc>,
        lat: f64,
        lon: f64,
        altitude: Option<f64>,
    ) -> Result<Self, TelemetryError> {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(TelemetryError::bad(format, place, "the latitude", lat, "not a number from -90 to 90"));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(TelemetryError::bad(format, place, "the longitude", lon, "not a number from -180 to 180"));
        }
        if let Some(a) = altitude.filter(|a| !a.is_finite() || a.abs() > 100_000.0) {
            return Err(TelemetryError::bad(format, place, "the altitude", a, "not a number of metres within 100 km"));
        }
        Ok(Self { time, lat, lon, altitude, camera: Camera::default() })
    }
}

/// A position at a moment, interpolated between two fixes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Position {
    pub time: DateTime<Utc>,
    pub lat: f64,
    pub lon: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
}

/// The smallest latitude/longitude rectangle holding every fix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    pub min_lat: f64,
    pub min_lon: f64,
    pub max_lat: f64,
    pub max_lon: f64,
}

/// What a track is, in a few numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub fixes: usize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub bbox: BoundingBox,
}

/// Fixes in time order (equal times allowed), at least one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Track {
    format: Format,
    fixes: Vec<Fix>,
    max_gap: TimeDelta,
}

impl Track {
    /// The longest gap between two fixes that [`Track::position_at`] interpolates across,
    /// unless [`Track::with_max_gap`] says otherwise.
    pub const DEFAULT_MAX_GAP: TimeDelta = TimeDelta::seconds(30);

    /// A track of `fixes` read from `format`: refused if empty, too many, or if a time goes
    /// backwards.
    pub fn new(format: Format, fixes: Vec<Fix>, limits: &Limits) -> Result<Self, TelemetryError> {
        if fixes.is_empty() {
            return Err(TelemetryError::NoFixes { format });
        }
        if fixes.len() > limits.max_fixes {
            return Err(TelemetryError::TooMany { format, what: "fixes", limit: limits.max_fixes });
        }
        if let Some(i) = fixes.windows(2).position(|w| w[1].time < w[0].time) {
            return Err(TelemetryError::Backwards {
                format,
                place: format!("fix {}", i + 2),
                time: fixes[i + 1].time,
                previous: fixes[i].time,
            });
        }
        Ok(Self { format, fixes, max_gap: Self::DEFAULT_MAX_GAP })
    }

    /// The same track, interpolating across gaps up to `max_gap`.
    pub fn with_max_gap(mut self, max_gap: TimeDelta) -> Self {
        self.max_gap = max_gap;
        self
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn fixes(&self) -> &[Fix] {
        &self.fixes
    }

    pub fn max_gap(&self) -> TimeDelta {
        self.max_gap
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.fixes[0].time
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.fixes[self.fixes.len() - 1].time
    }

    /// The number of fixes, the first and last times and the bounding box.
    pub fn summary(&self) -> Summary {
        let first = &self.fixes[0];
        let init = BoundingBox { min_lat: first.lat, min_lon: first.lon, max_lat: first.lat, max_lon: first.lon };
        let bbox = self.fixes.iter().fold(init, |b, f| BoundingBox {
            min_lat: b.min_lat.min(f.lat),
            min_lon: b.min_lon.min(f.lon),
            max_lat: b.max_lat.max(f.lat),
            max_lon: b.max_lon.max(f.lon),
        });
        Summary { fixes: self.fixes.len(), start: self.start(), end: self.end(), bbox }
    }

    /// Where the camera was at `at`: linear between the last fix at or before it and the
    /// first after it (latitude, longitude and, when both have one, altitude); exactly a
    /// fix's position at its time. `None` before the first fix, after the last, or between
    /// two fixes further apart than [`Track::max_gap`].
    ///
    /// Linear in degrees, which is what a track of fixes seconds apart needs; a pair of
    /// fixes either side of the antimeridian would be interpolated the long way round.
    pub fn position_at(&self, at: DateTime<Utc>) -> Option<Position> {
        // The first fix later than `at`.
        let after = self.fixes.partition_point(|f| f.time <= at);
        if after == 0 {
            return None;
        }
        let a = &self.fixes[after - 1];
        if a.time == at {
            return Some(Position { time: at, lat: a.lat, lon: a.lon, altitude: a.altitude });
        }
        let b = self.fixes.get(after)?;
        let span = b.time - a.time;
        if span > self.max_gap {
            return None;
        }
        let t = nanos(at - a.time) / nanos(span);
        let lerp = |x: f64, y: f64| (x + (y - x) * t).clamp(x.min(y), x.max(y));
        let altitude = match (a.altitude, b.altitude) {
            (Some(x), Some(y)) => Some(lerp(x, y)),
            _ => None,
        };
        Some(Position { time: at, lat: lerp(a.lat, b.lat), lon: lerp(a.lon, b.lon), altitude })
    }
}

fn nanos(d: TimeDelta) -> f64 {
    d.num_nanoseconds().map_or(d.num_milliseconds() as f64 * 1e6, |n| n as f64)
}
