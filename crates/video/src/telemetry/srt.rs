//! DJI-style SRT telemetry, parsed by hand: no maintained crate reads it (the subtitle
//! crates stop at the cue text, and DJI's text is a different ad-hoc format per model).
//!
//! A cue is a number, a time line `00:00:01,033 --> 00:00:01,050` (relative to the start
//! of the video) and text lines. The text formats met so far, each in the tests on a real
//! file:
//!
//! * Mavic 2 and later: `<font size="36">FrameCnt : 1, DiffTime : 16ms` / `2020-04-02
//!   15:19:58,720,764` / `[iso : 120] [shutter : 1/2500.0] [fnum : 280] … [latitude :
//!   31.452012] [longtitude : 74.398751] [altitude: 213.983002] </font>` (DJI's spelling;
//!   `longitude`, `rel_alt`/`abs_alt` are read too);
//! * Mavic Pro: `HOME(lon,lat) 2017.08.05 14:11:51` / `GPS(lon,lat,alt) BAROMETER:1.9` /
//!   `ISO:100 Shutter:60 EV: Fnum:2.2`;
//! * Mavic Mini: `F/2.8, SS 30.15, ISO 260, EV -1.7, GPS (lon, lat, n), D 221.21m, H
//!   200.70m, H.S n/a, V.S n/a` (the third GPS number is not an altitude);
//! * Phantom 4 RTK: the Mini's, with `HOME (…)`, `F.PRY (p°, r°, y°)` and `G.PRY (…)`.
//!
//! Line endings CRLF or LF. A cue at 0° 0° (DJI's placeholder before a satellite fix) is
//! skipped; a cue without any position, or cut short, is an error.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};

use super::{Camera, Fix, Format, Limits, SrtClock, TelemetryError, Track, check_size};

/// Parses a DJI-style SRT file into a track: one fix per cue with a position, timed by the
/// cue's own timestamp when it has one, else by `clock.start` plus the cue's start time.
pub fn parse_srt(bytes: &[u8], clock: &SrtClock, limits: &Limits) -> Result<Track, TelemetryError> {
    check_size(bytes, limits)?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| TelemetryError::NotUtf8 { format: Format::Srt, offset: e.valid_up_to() })?;
    let mut fixes: Vec<Fix> = Vec::new();
    for cue in cues(text, limits)? {
        let Some(fix) = fix(&cue, clock)? else { continue };
        if let Some(previous) = fixes.last().filter(|p| fix.time < p.time) {
            return Err(TelemetryError::Backwards {
                format: Format::Srt,
                place: format!("cue {} (line {})", cue.number, cue.line),
                time: fix.time,
                previous: previous.time,
            });
        }
        fixes.push(fix);
        if fixes.len() > limits.max_fixes {
            return Err(TelemetryError::TooMany { format: Format::Srt, what: "fixes", limit: limits.max_fixes });
        }
    }
    Track::new(Format::Srt, fixes, limits)
}

/// One cue: its number, the line it starts on, its start time and its text (lines joined
/// by spaces, markup such as `<font>` removed).
struct Cue {
    number: usize,
    line: usize,
    start: TimeDelta,
    text: String,
}

fn cue_error(cue: usize, line: usize, problem: impl Into<String>) -> TelemetryError {
    TelemetryError::Cue { cue, line, problem: problem.into() }
}

/// Splits the file into cues, checking every line's length first.
fn cues(text: &str, limits: &Limits) -> Result<Vec<Cue>, TelemetryError> {
    let mut lines = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if line.len() > limits.max_line_bytes {
            return Err(TelemetryError::LineTooLong { line: i + 1, limit: limits.max_line_bytes });
        }
        lines.push((i + 1, line.strip_suffix('\r').unwrap_or(line).trim_end()));
    }
    let mut out = Vec::new();
    let mut rest = lines.as_slice();
    let mut expected = 1;
    loop {
        while let [(_, ""), tail @ ..] = rest {
            rest = tail;
        }
        let [(line, first), tail @ ..] = rest else { break };
        rest = tail;
        let number: usize = match first.trim().parse() {
            Ok(n) => n,
            Err(_) => {
                return Err(cue_error(expected, *line, format!("expected the cue number, found {}", shown(first))));
            }
        };
        let Some(((time_line, timing), tail)) = rest.split_first().filter(|((_, t), _)| !t.is_empty()) else {
            return Err(cue_error(number, *line, "the file ends before the cue's time line"));
        };
        rest = tail;
        let start = timing_start(timing).ok_or_else(|| {
            cue_error(number, *time_line, format!("expected `00:00:01,000 --> 00:00:02,000`, found {}", shown(timing)))
        })?;
        let mut body = String::new();
        while let [(_, l), tail @ ..] = rest {
            if l.is_empty() {
                break;
            }
            body.push_str(l);
            body.push(' ');
            rest = tail;
        }
        let text = strip_markup(&body);
        if text.trim().is_empty() {
            return Err(cue_error(number, *line, "the cue has no text (cut short?)"));
        }
        out.push(Cue { number, line: *line, start, text });
        expected = number + 1;
    }
    if out.is_empty() {
        return Err(TelemetryError::NoFixes { format: Format::Srt });
    }
    Ok(out)
}

/// A value for an error message: quoted and cut to 64 characters.
fn shown(s: &str) -> String {
    let cut = s.char_indices().nth(64).map_or(s.len(), |(i, _)| i);
    if cut < s.len() { format!("{:?}…", &s[..cut]) } else { format!("{s:?}") }
}

/// The start of `HH:MM:SS,mmm --> HH:MM:SS,mmm` (`.` also accepted), both ends checked.
fn timing_start(line: &str) -> Option<TimeDelta> {
    let (from, to) = line.split_once("-->")?;
    let from = clock_time(from.trim())?;
    let to = clock_time(to.trim())?;
    (to >= from).then_some(from)
}

fn clock_time(s: &str) -> Option<TimeDelta> {
    let (hms, ms) = s.split_once([',', '.'])?;
    let mut parts = hms.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || ms.is_empty() || ms.len() > 3 {
        return None;
    }
    let num = |x: &str, max: i64| -> Option<i64> {
        (!x.is_empty() && x.len() <= 3 && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse().ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    let ms = num(ms, 999)? * 10_i64.pow(3 - ms.len() as u32);
    Some(
        TimeDelta::hours(num(h, 999)?)
            + TimeDelta::minutes(num(m, 59)?)
            + TimeDelta::seconds(num(sec, 59)?)
            + TimeDelta::milliseconds(ms),
    )
}

/// The text without `<…>` tags.
fn strip_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The fix a cue gives: `None` for DJI's 0° 0° placeholder.
fn fix(cue: &Cue, clock: &SrtClock) -> Result<Option<Fix>, TelemetryError> {
    let place = format!("cue {} (line {})", cue.number, cue.line);
    let text = cue.text.as_str();
    let pairs = bracket_pairs(text);
    let pair = |names: &[&str]| pairs.iter().find(|(k, _)| names.contains(k)).map(|(_, v)| *v);
    let number = |what: &'static str, v: &str| -> Result<f64, TelemetryError> {
        v.trim().parse::<f64>().map_err(|_| TelemetryError::bad(Format::Srt, &place, what, v, "not a number"))
    };
    let (lat, lon, altitude) = match (pair(&["latitude"]), pair(&["longtitude", "longitude"])) {
        (Some(lat), Some(lon)) => {
            let altitude = pair(&["altitude", "abs_alt"]).map(|a| number("the altitude", a)).transpose()?;
            (number("the latitude", lat)?, number("the longitude", lon)?, altitude)
        }
        (None, None) => match tuple(text, "GPS") {
            Some((values, spaced)) if values.len() >= 2 => {
                // `GPS(lon,lat,alt)` on the Mavic Pro; `GPS (lon, lat, n)` later, not an altitude.
                let altitude = match values.get(2) {
                    Some(a) if !spaced => Some(number("the altitude", a)?),
                    _ => None,
                };
                (number("the latitude", values[1])?, number("the longitude", values[0])?, altitude)
            }
            Some((values, _)) => {
                return Err(TelemetryError::bad(Format::Srt, &place, "GPS", values.join(", "), "not lon, lat"));
            }
            None => return Err(cue_error(cue.number, cue.line, "no GPS position in the cue")),
        },
        _ => return Err(cue_error(cue.number, cue.line, "a latitude without a longitude or the reverse")),
    };
    if lat == 0.0 && lon == 0.0 {
        return Ok(None);
    }
    let time = match timestamp(text) {
        Some(local) => (local - clock.utc_offset).and_utc(),
        None => clock.start.ok_or(TelemetryError::NeedsStart)? + cue.start,
    };
    let mut fix = Fix::new(Format::Srt, &place, time, lat, lon, altitude)?;
    fix.camera = camera(text, &pairs);
    Ok(Some(fix))
}

/// The camera's settings a cue carries; a value that does not read is left out.
fn camera(text: &str, pairs: &[(&str, &str)]) -> Camera {
    let pair = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let num = |v: Option<&str>, unit: &str| -> Option<f64> {
        v.and_then(|v| v.strip_suffix(unit).unwrap_or(v).parse::<f64>().ok()).filter(|v| v.is_finite())
    };
    let pry = |key: &str| -> Option<[f64; 3]> {
        let (values, _) = tuple(text, key)?;
        let v: Vec<f64> = values.iter().filter_map(|v| num(Some(v.trim_end_matches('°')), "")).collect();
        <[f64; 3]>::try_from(v).ok()
    };
    Camera {
        iso: num(pair("iso").or_else(|| scalar(text, "ISO")), ""),
        shutter: pair("shutter").or_else(|| scalar(text, "SS")).or_else(|| scalar(text, "Shutter")).map(str::to_owned),
        f_number: num(pair("fnum"), "")
            .map(|f| f / 100.0)
            .or_else(|| num(scalar(text, "F/"), ""))
            .or_else(|| num(scalar(text, "Fnum"), "")),
        ev: num(pair("ev").or_else(|| scalar(text, "EV")), ""),
        focal_length: num(pair("focal_len"), ""),
        colour_temperature: num(pair("ct"), ""),
        height_m: num(pair("rel_alt").or_else(|| scalar(text, "H")).or_else(|| scalar(text, "BAROMETER")), "m"),
        distance_m: num(scalar(text, "D"), "m"),
        horizontal_speed: num(scalar(text, "H.S"), "m/s"),
        vertical_speed: num(scalar(text, "V.S"), "m/s"),
        aircraft_pry: pry("F.PRY"),
        gimbal_pry: pry("G.PRY"),
    }
}

/// The `key : value` pairs inside `[…]` groups (`[iso : 120]`, `[rel_alt: 1.3 abs_alt: 2.0]`).
fn bracket_pairs(text: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']') else { break };
        let mut inner = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        while let Some(colon) = inner.find(':') {
            let key = inner[..colon].trim();
            let after = inner[colon + 1..].trim_start();
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            out.push((key, &after[..end]));
            inner = &after[end..];
        }
    }
    out
}

/// Where `key` starts a word in `text`, and the text after it.
fn word<'a>(text: &'a str, key: &str) -> impl Iterator<Item = &'a str> {
    text.match_indices(key).filter_map(move |(i, _)| {
        let before = text[..i].chars().next_back();
        matches!(before, None | Some(' ' | ',' | '\t')).then(|| &text[i + key.len()..])
    })
}

/// The value after `KEY value`, `KEY:value` or (for a key ending in `/`) `KEY/value`, up to
/// a comma or space.
fn scalar<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    word(text, key).find_map(|after| {
        let after = if key.ends_with('/') {
            after
        } else {
            let after = after.strip_prefix(':').or_else(|| after.strip_prefix(' '))?;
            after.trim_start_matches([' ', ':'])
        };
        let end = after.find([',', ' ']).unwrap_or(after.len());
        let value = &after[..end];
        (!value.is_empty() && !value.contains(':')).then_some(value)
    })
}

/// The values of `KEY(a, b, c)` or `KEY (a, b, c)`, and whether a space came before `(`.
fn tuple<'a>(text: &'a str, key: &str) -> Option<(Vec<&'a str>, bool)> {
    word(text, key).find_map(|after| {
        let (inner, spaced) = match after.strip_prefix('(') {
            Some(inner) => (inner, false),
            None => (after.strip_prefix(" (")?, true),
        };
        let inner = &inner[..inner.find(')')?];
        Some((inner.split(',').map(str::trim).collect(), spaced))
    })
}

/// The first wall-clock timestamp in the text: `2020-04-02 15:19:58,720,764` (milliseconds,
/// then microseconds), `2020-04-02 15:19:58.720`, `2017.08.05 14:11:51`.
fn timestamp(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(18)).find_map(|i| {
        let d = |j: usize, n: usize| -> Option<u32> {
            let s = text.get(i + j..i + j + n)?;
            s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok()).flatten()
        };
        let sep = |j: usize, set: &[u8]| b.get(i + j).is_some_and(|c| set.contains(c));
        if i > 0 && b[i - 1].is_ascii_digit() {
            return None;
        }
        if !(sep(4, b"-./") && sep(7, b"-./") && sep(10, b" T") && sep(13, b":") && sep(16, b":")) {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(d(0, 4)? as i32, d(5, 2)?, d(8, 2)?)?;
        let mut time = date.and_hms_opt(d(11, 2)?, d(14, 2)?, d(17, 2)?)?;
        let digits = |from: usize| b[from.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
        if sep(19, b",.") {
            let n = digits(i + 20);
            if (1..=9).contains(&n) {
                let frac: i64 = text[i + 20..i + 20 + n].parse().ok()?;
                time += TimeDelta::nanoseconds(frac * 10_i64.pow(9 - n as u32));
                let at = i + 20 + n;
                // DJI writes the microseconds after the milliseconds: `58,720,764`.
                if n == 3 && b.get(at) == Some(&b',') && digits(at + 1) == 3 {
                    let micros: i64 = text[at + 1..at + 4].parse().ok()?;
                    time += TimeDelta::microseconds(micros);
                }
            }
        }
        Some(time)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_the_forms_dji_writes() {
        let t = |s: &str| timestamp(s).map(|t| t.to_string());
        assert_eq!(t("2020-04-02 15:19:58,720,764 [iso"), Some("2020-04-02 15:19:58.720764".into()));
        assert_eq!(t("HOME(1,2) 2017.08.05 14:11:51 x"), Some("2017-08-05 14:11:51".into()));
        assert_eq!(t("2021-07-11 11:45:32.12"), Some("2021-07-11 11:45:32.120".into()));
        assert_eq!(t("F/2.8, SS 30.15, ISO 260"), None);
        assert_eq!(t("2020-13-02 15:19:58"), None);
    }

    #[test]
    fn scalars_tuples_and_brackets() {
        let text = "F/2.8, SS 30.15, ISO 260, EV -1.7, GPS (-121.7458, 48.0771, 17), D 221.21m, H 200.70m, H.S n/a";
        assert_eq!(scalar(text, "F/"), Some("2.8"));
        assert_eq!(scalar(text, "H"), Some("200.70m"));
        assert_eq!(scalar(text, "H.S"), Some("n/a"));
        assert_eq!(scalar("ISO:100 Shutter:60 EV: Fnum:2.2", "EV"), None);
        assert_eq!(scalar("ISO:100 Shutter:60 EV: Fnum:2.2", "Fnum"), Some("2.2"));
        assert_eq!(tuple(text, "GPS"), Some((vec!["-121.7458", "48.0771", "17"], true)));
        assert_eq!(tuple("GPS(149.0251,-20.2533,16) B", "GPS"), Some((vec!["149.0251", "-20.2533", "16"], false)));
        assert_eq!(
            bracket_pairs("[iso : 120] [rel_alt: 1.300 abs_alt: 2.5]"),
            vec![("iso", "120"), ("rel_alt", "1.300"), ("abs_alt", "2.5")]
        );
        assert_eq!(clock_time("00:01:02,033"), Some(TimeDelta::milliseconds(62_033)));
        assert_eq!(clock_time("00:61:02,033"), None);
    }
}
