//! GPX 1.0 and 1.1 through the `gpx` crate (georust), which reads both versions and the
//! real files we test on (a Garmin eTrex 1.1 track with extensions, a GPSBabel 1.0 file with
//! waypoints and eight tracks). Its XML reader (xml-rs) has no bound on nesting — ten
//! thousand nested elements take it minutes — so a bounded quick-xml pass goes first:
//! size, depth, element count, well-formedness, and no `<!DOCTYPE>`.

use chrono::{DateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::Event;

use super::{Fix, Format, Limits, TelemetryError, Track, check_size};

/// Parses the track points of every track and segment of a GPX document, in document order.
/// Every track point needs a `<time>`; waypoints and routes are not read.
pub fn parse_gpx(bytes: &[u8], limits: &Limits) -> Result<Track, TelemetryError> {
    check_size(bytes, limits)?;
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(TelemetryError::NotUtf8 { format: Format::Gpx, offset: e.valid_up_to() });
    }
    guard(bytes, limits)?;
    let gpx = gpx::read(bytes).map_err(|e| TelemetryError::Gpx { message: e.to_string() })?;
    let mut fixes = Vec::new();
    for (t, track) in gpx.tracks.iter().enumerate() {
        for (s, segment) in track.segments.iter().enumerate() {
            for (p, point) in segment.points.iter().enumerate() {
                let place = format!("track {} segment {} point {}", t + 1, s + 1, p + 1);
                let time =
                    point.time.ok_or_else(|| TelemetryError::Gpx { message: format!("{place} has no <time>") })?;
                let time: time::OffsetDateTime = time.into();
                let time = DateTime::<Utc>::from_timestamp(time.unix_timestamp(), time.nanosecond())
                    .ok_or_else(|| TelemetryError::bad(Format::Gpx, &place, "the time", time, "out of range"))?;
                let at = point.point();
                fixes.push(Fix::new(Format::Gpx, &place, time, at.y(), at.x(), point.elevation)?);
                if fixes.len() > limits.max_fixes {
                    return Err(TelemetryError::TooMany {
                        format: Format::Gpx,
                        what: "fixes",
                        limit: limits.max_fixes,
                    });
                }
            }
        }
    }
    Track::new(Format::Gpx, fixes, limits)
}

/// The bounded pass: refuses a `<!DOCTYPE>`, nesting deeper than the limit, more elements
/// than the limit, and XML that is not well-formed.
fn guard(bytes: &[u8], limits: &Limits) -> Result<(), TelemetryError> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let (mut depth, mut elements) = (0usize, 0usize);
    let mut buf = Vec::new();
    loop {
        let offset = reader.buffer_position();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| TelemetryError::Gpx { message: format!("malformed XML at byte {offset}: {e}") })?;
        match event {
            Event::DocType(_) => return Err(TelemetryError::Doctype),
            Event::Start(_) | Event::Empty(_) => {
                elements += 1;
                if elements > limits.max_elements {
                    return Err(TelemetryError::TooMany {
                        format: Format::Gpx,
                        what: "XML elements",
                        limit: limits.max_elements,
                    });
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                    if depth > limits.max_depth {
                        return Err(TelemetryError::TooDeep { limit: limits.max_depth, offset });
                    }
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if depth > 0 {
        return Err(TelemetryError::Gpx { message: format!("the document ends inside {depth} open elements") });
    }
    if elements == 0 {
        return Err(TelemetryError::Gpx { message: "no XML element".into() });
    }
    Ok(())
}
