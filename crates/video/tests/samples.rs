//! The real telemetry files in `../shared/samples/` (origins in its `SOURCES.md`), with
//! exact values checked for a few fixes of each.

use chrono::{DateTime, FixedOffset, TimeDelta, TimeZone, Utc};
use limes_video::telemetry::{Fix, Format, Limits, SrtClock, Track, detect, parse, parse_gpx, parse_srt};

/// The shared samples folder: `$LIMES_SHARED/samples`, else `shared/samples` beside the
/// project's root (the developers' and CI's machines have it; the files are not the project's
/// to ship).
fn samples() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("LIMES_SHARED") {
        Some(d) => std::path::PathBuf::from(d).join("samples"),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/samples"),
    };
    dir.is_dir().then_some(dir)
}

/// Whether the samples are absent, said once per test: the test then checks nothing.
fn absent() -> bool {
    let absent = samples().is_none();
    if absent {
        eprintln!("no shared samples (set LIMES_SHARED): this test checks nothing here");
    }
    absent
}

fn sample(name: &str) -> Vec<u8> {
    let path = samples().expect("the samples folder").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Checks a fix's time, latitude, longitude and altitude.
fn check(fix: &Fix, time: &str, lat: f64, lon: f64, altitude: Option<f64>) {
    assert_eq!((fix.time, fix.lat, fix.lon, fix.altitude), (at(time), lat, lon, altitude), "{fix:?}");
}

fn gpx(name: &str) -> Track {
    let bytes = sample(name);
    assert_eq!(detect(&bytes), Some(Format::Gpx));
    parse_gpx(&bytes, &Limits::default()).unwrap()
}

#[test]
fn gpx_1_1_garmin_track() {
    if absent() {
        return;
    }
    let track = gpx("gpxpy_around-visnjan-with-car.gpx");
    let f = track.fixes();
    assert_eq!(f.len(), 104);
    check(&f[0], "2020-12-18T06:15:50Z", 45.2735188510, 13.7142099626, Some(211.15));
    check(&f[1], "2020-12-18T06:16:00Z", 45.2734133229, 13.7141885050, Some(211.63));
    check(&f[103], "2020-12-18T06:24:24Z", 45.2733349521, 13.7139970623, Some(210.67));
    // Half-way between the first two fixes.
    let p = track.position_at(at("2020-12-18T06:15:55Z")).unwrap();
    assert!((p.lat - (45.2735188510 + 45.2734133229) / 2.0).abs() < 1e-12, "{p:?}");
    assert!((p.lon - (13.7142099626 + 13.7141885050) / 2.0).abs() < 1e-12, "{p:?}");
    assert!((p.altitude.unwrap() - 211.39).abs() < 1e-9, "{p:?}");
    assert_eq!(track.position_at(at("2020-12-18T06:15:49Z")), None);
    assert_eq!(track.position_at(at("2020-12-18T06:24:25Z")), None);
    let s = track.summary();
    assert_eq!((s.fixes, s.start, s.end), (104, at("2020-12-18T06:15:50Z"), at("2020-12-18T06:24:24Z")));
}

#[test]
fn gpx_1_0_gpsbabel_with_waypoints_and_eight_tracks() {
    if absent() {
        return;
    }
    let track = gpx("gpxpy_cerknicko-jezero.gpx");
    let f = track.fixes();
    assert_eq!(f.len(), 296);
    check(&f[0], "2010-08-05T14:23:59Z", 45.772175035, 14.357659249, Some(542.320923));
    check(&f[1], "2010-08-05T14:25:08Z", 45.772089791, 14.357567383, Some(550.972656));
    check(&f[295], "2010-08-05T16:23:49Z", 45.790873384, 14.304442042, Some(562.508545));
    // 69 s apart: beyond the default gap of 30 s, within a gap of 2 min.
    let moment = at("2010-08-05T14:24:30Z");
    assert_eq!(track.position_at(moment), None);
    let p = track.clone().with_max_gap(TimeDelta::minutes(2)).position_at(moment).unwrap();
    assert!(p.lat < 45.772175035 && p.lat > 45.772089791, "{p:?}");
    // The waypoints' box is wider than the track's; the summary is the track's.
    let b = track.summary().bbox;
    assert!(b.min_lat >= 45.735199945 && b.max_lat <= 45.795349991, "{b:?}");
}

fn srt(name: &str, clock: &SrtClock) -> Track {
    let bytes = sample(name);
    assert_eq!(detect(&bytes), Some(Format::Srt));
    let track = parse_srt(&bytes, clock, &Limits::default()).unwrap();
    assert_eq!(parse(&bytes, clock, &Limits::default()).unwrap(), track);
    track
}

#[test]
fn dji_mavic_2_zoom_font_format_with_timestamps() {
    if absent() {
        return;
    }
    // The drone's clock has no zone: read at UTC unless told.
    let track = srt("dji_srt_m2zoom_first300.SRT", &SrtClock::default());
    let f = track.fixes();
    assert_eq!(f.len(), 300);
    check(&f[0], "2020-04-02T15:19:58.720764Z", 31.452012, 74.398751, Some(213.983002));
    check(&f[1], "2020-04-02T15:19:58.737447Z", 31.452012, 74.398751, Some(213.983002));
    check(&f[299], "2020-04-02T15:20:03.709068Z", 31.452011, 74.398750, Some(214.078003));
    let c = &f[0].camera;
    assert_eq!((c.iso, c.shutter.as_deref(), c.f_number, c.ev), (Some(120.0), Some("1/2500.0"), Some(2.8), Some(0.0)));
    assert_eq!((c.focal_length, c.colour_temperature), (Some(240.0), Some(5003.0)));
    // Told the drone's clock was at UTC+5 (Pakistan), the same cues are five hours earlier.
    let east = FixedOffset::east_opt(5 * 3600).unwrap();
    let start = east.with_ymd_and_hms(2020, 4, 2, 15, 19, 58).unwrap();
    let track = srt("dji_srt_m2zoom_first300.SRT", &SrtClock::starting(start));
    check(&track.fixes()[0], "2020-04-02T10:19:58.720764Z", 31.452012, 74.398751, Some(213.983002));
}

#[test]
fn dji_mavic_pro_gps_barometer_format() {
    if absent() {
        return;
    }
    // The start is ignored: every cue has its own timestamp.
    let start = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    let track = srt("dji_srt_mavic_pro.SRT", &SrtClock::starting(start));
    let f = track.fixes();
    assert_eq!(f.len(), 468);
    check(&f[0], "2017-08-05T14:11:51Z", -20.2533, 149.0251, Some(16.0));
    check(&f[99], "2017-08-05T14:13:30Z", -20.2524, 149.0240, Some(16.0));
    check(&f[467], "2017-08-05T14:19:39Z", -20.2532, 149.0251, Some(16.0));
    let c = &f[99].camera;
    assert_eq!((c.iso, c.shutter.as_deref(), c.f_number, c.ev), (Some(100.0), Some("60"), Some(2.2), None));
    assert_eq!(c.height_m, Some(72.8));
}

#[test]
fn dji_mavic_mini_needs_the_start() {
    if absent() {
        return;
    }
    let bytes = sample("dji_srt_mavic_mini.SRT");
    let err = parse_srt(&bytes, &SrtClock::default(), &Limits::default()).unwrap_err();
    assert_eq!(err.to_string(), "srt: the cues carry no timestamp; give the recording's start time");
    let start = Utc.with_ymd_and_hms(2021, 6, 1, 9, 0, 0).unwrap();
    let track = srt("dji_srt_mavic_mini.SRT", &SrtClock::starting(start));
    let f = track.fixes();
    assert_eq!(f.len(), 117);
    // The third GPS number (17) is not an altitude.
    check(&f[0], "2021-06-01T09:00:00Z", 48.0771, -121.7458, None);
    check(&f[116], "2021-06-01T09:01:56Z", 48.0775, -121.7476, None);
    let c = &f[116].camera;
    assert_eq!((c.f_number, c.shutter.as_deref(), c.iso, c.ev), (Some(2.8), Some("67.93"), Some(100.0), Some(0.0)));
    assert_eq!((c.distance_m, c.height_m, c.horizontal_speed), (Some(305.73), Some(200.80), None));
}

#[test]
fn dji_phantom_4_rtk_with_attitude() {
    if absent() {
        return;
    }
    let start = Utc.with_ymd_and_hms(2019, 3, 10, 14, 0, 0).unwrap();
    let track = srt("dji_srt_p4_rtk.SRT", &SrtClock::starting(start));
    let f = track.fixes();
    assert_eq!(f.len(), 55);
    check(&f[0], "2019-03-10T14:00:00Z", -34.237922, -58.851745, None);
    check(&f[1], "2019-03-10T14:00:01Z", -34.237911, -58.851740, None);
    check(&f[54], "2019-03-10T14:00:54Z", -34.232349, -58.849196, None);
    let c = &f[54].camera;
    assert_eq!(
        (c.height_m, c.distance_m, c.horizontal_speed, c.vertical_speed),
        (Some(85.8), Some(159.98), Some(13.07), Some(0.0))
    );
    assert_eq!((c.aircraft_pry, c.gimbal_pry), (Some([8.4, -20.1, 109.2]), Some([-24.4, 0.0, 111.9])));
    // Half a second in: half-way between the first two fixes.
    let p = track.position_at(start + TimeDelta::milliseconds(500)).unwrap();
    assert!((p.lat - (-34.237922 + -34.237911) / 2.0).abs() < 1e-12, "{p:?}");
}

#[test]
fn lf_line_endings_read_as_crlf() {
    if absent() {
        return;
    }
    let crlf = sample("dji_srt_p4_rtk.SRT");
    let lf = String::from_utf8(crlf.clone()).unwrap().replace("\r\n", "\n");
    assert!(lf.len() < crlf.len());
    let clock = SrtClock::starting(Utc.with_ymd_and_hms(2019, 3, 10, 14, 0, 0).unwrap());
    let limits = Limits::default();
    assert_eq!(parse_srt(lf.as_bytes(), &clock, &limits).unwrap(), parse_srt(&crlf, &clock, &limits).unwrap());
}
