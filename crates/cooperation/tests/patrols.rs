//! Patrol units: positions judged in time order, suggestions ranked by distance, routes
//! thinned and simplified, checked against what each function promises on random input.

use chrono::{DateTime, Duration, Utc};
use limes_cooperation::patrol::*;
use limes_model::GeoPoint;
use proptest::prelude::*;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap()
}

fn unit(code: &str, kind: UnitKind, status: UnitStatus) -> Unit {
    Unit {
        id: UnitId::new("ua-dpsu", code).unwrap(),
        callsign: format!("Porubne {code}"),
        kind,
        vehicle: String::new(),
        crew: Crew { size: 2, roles: vec![] },
        status,
        assignment: None,
        covert: false,
    }
}

/// A track near Siret: `steps` of (seconds, metres north, metres east) from the last fix.
fn track(steps: &[(u16, i16, i16)]) -> Vec<Position> {
    let (mut time, mut lat, mut lon) = (t0(), 47.95, 26.07);
    steps
        .iter()
        .map(|&(s, n, e)| {
            time += Duration::seconds(i64::from(s));
            lat += f64::from(n) / 111_195.0;
            lon += f64::from(e) / (111_195.0 * lat.to_radians().cos());
            Position::at(time, lat, lon)
        })
        .collect()
}

fn steps() -> impl Strategy<Value = Vec<(u16, i16, i16)>> {
    prop::collection::vec((1u16..120, -400i16..400, -400i16..400), 0..80)
}

#[test]
fn the_nearest_available_unit_with_a_fresh_position_comes_first() {
    let now = t0();
    let scene = GeoPoint::new(47.96, 26.07).unwrap();
    let car = unit("car", UnitKind::Car, UnitStatus::Available);
    let foot = unit("foot", UnitKind::Foot, UnitStatus::Available);
    let heli = unit("heli", UnitKind::Helicopter, UnitStatus::Available);
    let stale = unit("stale", UnitKind::Car, UnitStatus::Available);
    let busy = unit("busy", UnitKind::Car, UnitStatus::Busy);
    let nowhere = unit("nowhere", UnitKind::Car, UnitStatus::Available);
    let p = |lat: f64, ago: i64| Position::at(now - Duration::seconds(ago), lat, 26.07);
    let (pc, pf, ph, ps, pb) = (p(47.95, 20), p(47.955, 5), p(47.80, 60), p(47.9601, 11 * 60), p(47.96, 1));
    let units = [
        (&car, Some(&pc)),
        (&foot, Some(&pf)),
        (&heli, Some(&ph)),
        (&stale, Some(&ps)),
        (&busy, Some(&pb)),
        (&nowhere, None),
    ];
    let ranked = suggest(units, scene, now, &SuggestOptions::default());
    let ids: Vec<String> = ranked.iter().map(|s| s.unit.code.as_str().to_owned()).collect();
    assert_eq!(ids, ["foot", "car", "heli"], "busy, stale and positionless units are not suggested");
    // On foot, 556 m at 5 km/h with paths 30 % longer: about 8.7 minutes.
    assert!((ranked[0].distance_m - 556.0).abs() < 2.0, "{:?}", ranked[0]);
    assert_eq!(ranked[0].eta_s, (ranked[0].distance_m * 1.3 / (5.0 / 3.6)).ceil() as u64);
    assert_eq!(ranked[0].eta_s, 521);
    // The helicopter is 17.8 km away, in the air at 200 km/h: about 5.3 minutes.
    assert!((ranked[2].eta_s as f64 - 17_791.0 / (200.0 / 3.6)).abs() < 3.0, "{:?}", ranked[2]);
    assert_eq!(ranked[1].age_s, 20);
    let near = suggest(units, scene, now, &SuggestOptions { max_distance_m: Some(1_000.0), ..Default::default() });
    assert_eq!(near.len(), 1);
    let one = suggest(units, scene, now, &SuggestOptions { limit: 1, ..Default::default() });
    assert_eq!(one[0].unit.code.as_str(), "foot");
}

#[test]
fn thinning_keeps_one_position_per_interval_and_none_while_parked() {
    let rule =
        Thinning { min_interval: Duration::seconds(15), min_distance_m: 25.0, heartbeat: Duration::seconds(300) };
    // Every second for ten minutes: moving north at 10 m/s for two minutes, then parked.
    let mut steps = vec![(1, 10, 0); 120];
    steps.extend(vec![(1, 0, 0); 480]);
    let tr = track(&steps);
    let kept = thin(None, &tr, &rule);
    let moving = kept.iter().filter(|p| p.time <= tr[119].time).count();
    assert_eq!(moving, 8, "one every 15 s while moving");
    // Where it stopped, then again only after the heartbeat.
    let parked: Vec<&Position> = kept.iter().filter(|p| p.time > tr[119].time).collect();
    assert_eq!(parked.len(), 2, "{parked:?}");
    assert_eq!(parked[0].time - kept[moving - 1].time, Duration::seconds(15));
    assert_eq!(parked[1].time - parked[0].time, Duration::seconds(300));
    // What was shared already is not shared again.
    let again = thin(kept.last(), &tr, &rule);
    assert!(again.is_empty(), "{again:?}");
}

proptest! {
    #[test]
    fn thinning_is_a_greedy_subsequence_that_respects_its_rule(
        s in steps(), interval in 1i64..60, distance in 0.0f64..500.0, heartbeat in 1i64..600,
    ) {
        let rule = Thinning {
            min_interval: Duration::seconds(interval),
            min_distance_m: distance,
            heartbeat: Duration::seconds(heartbeat),
        };
        let tr = track(&s);
        let kept = thin(None, &tr, &rule);
        let mut last: Option<&Position> = None;
        let mut k = kept.iter().peekable();
        for p in &tr {
            let allowed = last.is_none_or(|q| {
                let gap = p.time - q.time;
                gap >= rule.min_interval && (gap >= rule.heartbeat || p.point().distance_m(&q.point()) >= distance)
            });
            // Kept exactly when the rule allows it, given the last one kept.
            if k.peek() == Some(&p) {
                prop_assert!(allowed, "{p:?} kept after {last:?}");
                last = k.next();
            } else {
                prop_assert!(!allowed, "{p:?} dropped after {last:?}");
            }
        }
        prop_assert!(k.next().is_none());
    }

    #[test]
    fn simplified_routes_keep_the_ends_and_stay_within_tolerance(s in steps(), tolerance in 0.0f64..300.0) {
        let tr = track(&s);
        let simple = simplify(&tr, tolerance);
        prop_assert_eq!(simple.first(), tr.first());
        prop_assert_eq!(simple.last(), tr.last());
        // A subsequence, and every position dropped lies within the tolerance of the segment
        // between the kept positions around it.
        let mut kept_at = Vec::new();
        let mut j = 0;
        for (i, p) in tr.iter().enumerate() {
            if j < simple.len() && simple[j] == *p {
                kept_at.push(i);
                j += 1;
            }
        }
        prop_assert_eq!(kept_at.len(), simple.len());
        for w in kept_at.windows(2) {
            for p in &tr[w[0] + 1..w[1]] {
                let d = offset_m(p, &tr[w[0]], &tr[w[1]]);
                prop_assert!(d <= tolerance + 1e-6, "{d} m off, tolerance {tolerance}");
            }
        }
    }

    #[test]
    fn judged_positions_only_move_forward(
        times in prop::collection::vec(-50i64..50, 0..40), latest in prop::option::of(-20i64..20),
    ) {
        let now = t0();
        let positions: Vec<Position> =
            times.iter().map(|s| Position::at(now + Duration::seconds(*s * 2), 47.0, 26.0)).collect();
        let latest = latest.map(|s| now + Duration::seconds(s * 2));
        let verdicts = judge(latest, &positions, now);
        prop_assert_eq!(verdicts.len(), positions.len());
        let mut accepted: Vec<DateTime<Utc>> = positions
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| **v == Verdict::Accepted)
            .map(|(p, _)| p.time)
            .collect();
        accepted.sort();
        // Distinct, after the latest stored, none ahead of the clock beyond the tolerance.
        prop_assert!(accepted.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(accepted.first().is_none_or(|first| latest.is_none_or(|l| *first > l)));
        prop_assert!(accepted.iter().all(|t| (*t - now).num_seconds() <= MAX_AHEAD_S));
        // Every time after the latest, within the tolerance, is taken once.
        for (p, v) in positions.iter().zip(&verdicts) {
            let fits = latest.is_none_or(|l| p.time > l) && (p.time - now).num_seconds() <= MAX_AHEAD_S;
            prop_assert_eq!(fits, accepted.contains(&p.time), "{:?}: {:?}", p.time, v);
        }
    }

    #[test]
    fn suggestions_are_the_nearest_available_fresh_units_in_order(
        units in prop::collection::vec((0usize..6, 0u8..3, -2000i32..2000, -2000i32..2000, 0i64..1200), 0..30),
        limit in 1usize..10,
    ) {
        let now = t0();
        let scene = GeoPoint::new(47.96, 26.07).unwrap();
        let statuses = [UnitStatus::Available, UnitStatus::Available, UnitStatus::Busy, UnitStatus::EnRoute,
            UnitStatus::OffDuty, UnitStatus::Available];
        let list: Vec<(Unit, Position)> = units
            .iter()
            .enumerate()
            .map(|(i, &(s, k, n, e, ago))| {
                let kind = [UnitKind::Car, UnitKind::Foot, UnitKind::Drone][usize::from(k)];
                let p = Position::at(now - Duration::seconds(ago), 47.96 + f64::from(n) * 1e-5, 26.07 + f64::from(e) * 1e-5);
                (unit(&format!("u{i}"), kind, statuses[s]), p)
            })
            .collect();
        let opts = SuggestOptions { limit, ..Default::default() };
        let ranked = suggest(list.iter().map(|(u, p)| (u, Some(p))), scene, now, &opts);
        prop_assert!(ranked.windows(2).all(|w| w[0].distance_m <= w[1].distance_m));
        let eligible = list
            .iter()
            .filter(|(u, p)| u.status == UnitStatus::Available && now - p.time <= Duration::minutes(10))
            .count();
        prop_assert_eq!(ranked.len(), eligible.min(limit));
        // No unit left out is nearer than the last one suggested.
        if let Some(last) = ranked.last() {
            for (u, p) in &list {
                let eligible = u.status == UnitStatus::Available && now - p.time <= Duration::minutes(10);
                if eligible && !ranked.iter().any(|s| s.unit == u.id) {
                    prop_assert!(p.point().distance_m(&scene) >= last.distance_m);
                }
            }
        }
    }
}
