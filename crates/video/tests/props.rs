//! Properties of `Track::position_at`.

use chrono::{TimeDelta, TimeZone, Utc};
use limes_video::telemetry::{Fix, Format, Limits, Track};
use proptest::prelude::*;

fn fixes() -> impl Strategy<Value = Vec<(i64, f64, f64, Option<f64>)>> {
    prop::collection::vec((0i64..20_000, -89.9f64..89.9, -179.9f64..179.9, prop::option::of(-100.0f64..5000.0)), 1..40)
}

proptest! {
    /// Between two fixes no further apart than the gap limit, the position lies in the box
    /// of those two fixes; outside the track there is none.
    #[test]
    fn position_at_stays_within_the_two_fixes_around_it(raw in fixes(), probe in -1_000i64..21_000) {
        let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let mut raw = raw;
        raw.sort_by_key(|r| r.0);
        let fixes: Vec<Fix> = raw.iter().map(|&(ms, lat, lon, alt)| {
            Fix::new(Format::Gpx, "p", base + TimeDelta::milliseconds(ms * 10), lat, lon, alt).unwrap()
        }).collect();
        let track = Track::new(Format::Gpx, fixes, &Limits::default()).unwrap().with_max_gap(TimeDelta::seconds(60));
        let at = base + TimeDelta::milliseconds(probe * 10);
        let f = track.fixes();
        match track.position_at(at) {
            None => {
                let before = f.iter().rev().find(|x| x.time <= at);
                let after = f.iter().find(|x| x.time > at);
                match (before, after) {
                    (Some(a), Some(b)) => prop_assert!(a.time < at && b.time - a.time > track.max_gap()),
                    (Some(a), None) => prop_assert!(a.time < at),
                    _ => {}
                }
            }
            Some(p) => {
                prop_assert!(at >= track.start() && at <= track.end());
                let a = f.iter().rev().find(|x| x.time <= at).unwrap();
                if a.time == at {
                    prop_assert_eq!((p.lat, p.lon), (a.lat, a.lon));
                } else {
                    let b = f.iter().find(|x| x.time > at).unwrap();
                    prop_assert!(p.lat >= a.lat.min(b.lat) && p.lat <= a.lat.max(b.lat));
                    prop_assert!(p.lon >= a.lon.min(b.lon) && p.lon <= a.lon.max(b.lon));
                    if let (Some(x), Some(y), Some(z)) = (a.altitude, b.altitude, p.altitude) {
                        prop_assert!(z >= x.min(y) && z <= x.max(y));
                    }
                }
            }
        }
    }
}
