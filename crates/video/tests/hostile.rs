//! Hostile and broken telemetry: refused with the specific error, never a panic or a hang.

use chrono::{TimeZone, Utc};
use limes_video::telemetry::{Format, Limits, SrtClock, TelemetryError, parse, parse_gpx, parse_srt};

fn clock() -> SrtClock {
    SrtClock::starting(Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).unwrap())
}

fn srt(text: &str) -> Result<limes_video::telemetry::Track, TelemetryError> {
    parse_srt(text.as_bytes(), &clock(), &Limits::default())
}

fn gpx(text: &str) -> Result<limes_video::telemetry::Track, TelemetryError> {
    parse_gpx(text.as_bytes(), &Limits::default())
}

const CUE: &str = "1\n00:00:00,000 --> 00:00:01,000\nF/2.8, SS 30.15, ISO 260, EV -1.7, GPS (-121.7458, 48.0771, 17), D 221.21m, H 200.70m\n\n";

fn gpx_with(lat: &str, lon: &str, times: [&str; 2]) -> String {
    format!(
        r#"<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="45.1" lon="14.1"><time>{}</time></trkpt><trkpt lat="{lat}" lon="{lon}"><time>{}</time></trkpt></trkseg></trk></gpx>"#,
        times[0], times[1]
    )
}

#[test]
fn empty_and_whitespace_are_refused() {
    for doc in ["", "  \r\n\t\n"] {
        assert_eq!(srt(doc).unwrap_err(), TelemetryError::Empty);
        assert_eq!(gpx(doc).unwrap_err(), TelemetryError::Empty);
        assert_eq!(parse(doc.as_bytes(), &clock(), &Limits::default()).unwrap_err(), TelemetryError::Empty);
    }
}

#[test]
fn binary_junk_is_refused() {
    let junk: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let err = parse(&junk, &clock(), &Limits::default()).unwrap_err();
    assert_eq!(err, TelemetryError::UnknownFormat);
    assert!(matches!(parse_srt(&junk, &clock(), &Limits::default()), Err(TelemetryError::NotUtf8 { .. })));
    assert!(matches!(parse_gpx(&junk, &Limits::default()), Err(TelemetryError::NotUtf8 { .. })));
    // Junk that is UTF-8 but neither format.
    assert!(matches!(srt("GIF89a\nxx"), Err(TelemetryError::Cue { cue: 1, line: 1, .. })));
    assert!(matches!(gpx("<html><body>hi</body></html>"), Err(TelemetryError::Gpx { .. })));
}

#[test]
fn a_truncated_cue_names_the_cue() {
    let err = srt(&format!("{CUE}2\n")).unwrap_err();
    assert_eq!(err.to_string(), "srt: cue 2 (line 5): the file ends before the cue's time line");
    let err = srt(&format!("{CUE}2\n00:00:01,000 --> 00:00:02,000\n")).unwrap_err();
    assert_eq!(err.to_string(), "srt: cue 2 (line 5): the cue has no text (cut short?)");
    let err = srt(&format!("{CUE}2\n00:00:01,000 --> 00:0")).unwrap_err();
    assert!(err.to_string().starts_with("srt: cue 2 (line 6): expected `00:00:01,000 --> 00:00:02,000`"), "{err}");
    let err = srt("1\n00:00:00,000 --> 00:00:01,000\nF/2.8, SS 30.15, ISO 260\n").unwrap_err();
    assert_eq!(err.to_string(), "srt: cue 1 (line 1): no GPS position in the cue");
}

#[test]
fn impossible_positions_are_refused_not_clamped() {
    let err = srt(&CUE.replace("48.0771", "999")).unwrap_err();
    assert_eq!(err.to_string(), "srt: cue 1 (line 1): the latitude is \"999\": not a number from -90 to 90");
    let err = srt(&CUE.replace("-121.7458", "NaN")).unwrap_err();
    assert!(matches!(err, TelemetryError::BadValue { what: "the longitude", .. }), "{err:?}");
    let err = srt(&CUE.replace("48.0771", "4x")).unwrap_err();
    assert!(matches!(err, TelemetryError::BadValue { what: "the latitude", reason: "not a number", .. }), "{err:?}");
    let times = ["2024-05-01T08:00:00Z", "2024-05-01T08:00:01Z"];
    for (lat, lon, what) in [("999", "14.2", "latitude"), ("NaN", "14.2", "latitude"), ("45.2", "181", "longitude")] {
        let err = gpx(&gpx_with(lat, lon, times)).unwrap_err();
        assert!(
            matches!(err, TelemetryError::Gpx { ref message } if message.to_lowercase().contains(what)),
            "{lat} {lon}: {err:?}"
        );
    }
}

#[test]
fn time_going_backwards_is_refused() {
    let second = CUE.replace("1\n00:00:00,000 --> 00:00:01,000", "2\n00:00:00,000 --> 00:00:01,000");
    let back = format!("{}{second}", CUE.replace("00:00:00,000 --> 00:00:01,000", "00:00:05,000 --> 00:00:06,000"));
    let err = srt(&back).unwrap_err();
    assert_eq!(
        err.to_string(),
        "srt: cue 2 (line 5): the time goes backwards (2024-05-01 08:00:00 UTC after 2024-05-01 08:00:05 UTC)"
    );
    let err = gpx(&gpx_with("45.2", "14.2", ["2024-05-01T08:00:05Z", "2024-05-01T08:00:01Z"])).unwrap_err();
    assert!(matches!(err, TelemetryError::Backwards { format: Format::Gpx, .. }), "{err:?}");
    // A time line whose end is before its start.
    assert!(matches!(
        srt(&CUE.replace("--> 00:00:01,000", "--> 00:00:00,000").replace("00:00:00,000 -->", "00:00:02,000 -->")),
        Err(TelemetryError::Cue { .. })
    ));
}

#[test]
fn huge_input_and_long_lines_are_refused_by_the_limits() {
    // About 100 MB on one line: refused by size before anything is read.
    let mut huge = CUE.as_bytes().to_vec();
    huge.resize(100 << 20, b'A');
    let err = parse(&huge, &clock(), &Limits::default()).unwrap_err();
    assert_eq!(err, TelemetryError::TooLarge { size: 100 << 20, limit: 64 << 20 });
    assert!(matches!(parse_gpx(&huge, &Limits::default()), Err(TelemetryError::TooLarge { .. })));
    // Under a raised size limit the line limit still holds.
    let limits = Limits { max_bytes: 128 << 20, ..Limits::default() };
    let err = parse_srt(&huge, &clock(), &limits).unwrap_err();
    assert_eq!(err, TelemetryError::LineTooLong { line: 5, limit: 4096 });
    assert_eq!(err.to_string(), "srt: line 5 is longer than 4096 bytes");
    // Too many fixes.
    let limits = Limits { max_fixes: 2, ..Limits::default() };
    let many = "00:00:00,000 --> 00:00:01,000\nGPS (1.0, 2.0, 3)\n\n";
    let doc: String = (1..=3).map(|i| format!("{i}\n{many}")).collect();
    let err = parse_srt(doc.as_bytes(), &clock(), &limits).unwrap_err();
    assert_eq!(err, TelemetryError::TooMany { format: Format::Srt, what: "fixes", limit: 2 });
}

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<gpx version="1.1" creator="t"><trk><name>&lol9;</name></trk></gpx>"#;

#[test]
fn entity_bombs_and_deep_nesting_are_refused_before_the_gpx_reader() {
    let err = gpx(BILLION_LAUGHS).unwrap_err();
    assert_eq!(err, TelemetryError::Doctype);
    assert!(err.to_string().contains("<!DOCTYPE> is refused"), "{err}");
    let xxe = r#"<!DOCTYPE gpx [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]><gpx version="1.1" creator="&xxe;"/>"#;
    assert_eq!(gpx(xxe).unwrap_err(), TelemetryError::Doctype);
    // Ten thousand nested elements: xml-rs, under the gpx crate, would take minutes.
    let deep = format!(r#"<gpx version="1.1" creator="t">{}{}</gpx>"#, "<a>".repeat(10_000), "</a>".repeat(10_000));
    assert!(matches!(gpx(&deep), Err(TelemetryError::TooDeep { limit: 32, .. })));
    // Not well-formed, and cut short.
    assert!(matches!(gpx(r#"<gpx version="1.1"><trk></gpx>"#), Err(TelemetryError::Gpx { .. })));
    let cut = &gpx_with("45.2", "14.2", ["2024-05-01T08:00:00Z", "2024-05-01T08:00:01Z"])[..150];
    let err = gpx(cut).unwrap_err();
    assert!(matches!(err, TelemetryError::Gpx { .. }), "{err:?}");
}

#[test]
fn gpx_without_a_timed_track_point_is_refused() {
    let no_time = r#"<gpx version="1.1" creator="t"><trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>"#;
    assert_eq!(gpx(no_time).unwrap_err().to_string(), "gpx: track 1 segment 1 point 1 has no <time>");
    let waypoints_only = r#"<gpx version="1.1" creator="t"><wpt lat="1" lon="2"/></gpx>"#;
    assert_eq!(gpx(waypoints_only).unwrap_err(), TelemetryError::NoFixes { format: Format::Gpx });
}

#[test]
fn placeholder_positions_before_a_fix_are_skipped_but_not_all() {
    let placeholder = CUE.replace("GPS (-121.7458, 48.0771, 17)", "GPS (0.0, 0.0, 0)");
    assert_eq!(srt(&placeholder).unwrap_err(), TelemetryError::NoFixes { format: Format::Srt });
    let second = CUE.replacen("1\n00:00:00,000 --> 00:00:01,000", "2\n00:00:01,000 --> 00:00:02,000", 1);
    let track = srt(&format!("{placeholder}{second}")).unwrap();
    assert_eq!(track.fixes().len(), 1);
}
