//! The simulator's promises, checked on its own output.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::TimeDelta;
use limes_model::{CameraKind, Direction, GeoPoint};
use limes_plate::{CountryCode, PlateText, clean, lookalike_key};
use limes_sim::{ConfigError, ErrorClass, ErrorModel, Region, SimConfig, SimRead, Simulator, Variations, hotlist};

fn config(seed: u64, region: Region) -> SimConfig {
    SimConfig { seed, region, vehicles: 2_000, ..SimConfig::default() }
}

fn reads(cfg: &SimConfig, n: usize) -> Vec<SimRead> {
    Simulator::new(cfg.clone()).unwrap().take(n).collect()
}

fn regions() -> [Region; 3] {
    [Region::ro_ua(), Region::ro_rs(), Region::cz_pl()]
}

#[test]
fn the_same_seed_gives_the_same_stream_and_another_seed_another() {
    let a = reads(&config(42, Region::ro_ua()), 3_000);
    let b = reads(&config(42, Region::ro_ua()), 3_000);
    assert_eq!(a, b);
    let c = reads(&config(43, Region::ro_ua()), 3_000);
    assert_ne!(a, c);
    let same_plates = a.iter().zip(&c).filter(|(x, y)| x.truth.plate == y.truth.plate).count();
    assert!(same_plates < 100, "{same_plates} reads of the same plate at the same position");
}

#[test]
fn reads_come_in_time_order_from_the_start() {
    for region in regions() {
        let cfg = config(1, region);
        let reads = reads(&cfg, 5_000);
        assert!(reads[0].read.time >= cfg.start);
        assert!(reads[0].read.time < cfg.start + TimeDelta::minutes(5), "no traffic on the road at the start");
        assert!(reads.windows(2).all(|w| w[0].read.time <= w[1].read.time));
    }
}

#[test]
fn reads_are_valid_and_come_from_the_region_s_cameras() {
    for region in regions() {
        let cfg = config(2, region.clone());
        let cameras: HashMap<_, _> = region.cameras().into_iter().map(|c| (c.id.clone(), c)).collect();
        let mut seen = BTreeSet::new();
        for r in reads(&cfg, 20_000) {
            assert!(cameras.contains_key(&r.read.camera), "{} is not in {}", r.read.camera, region.name());
            r.read.validate(r.read.time).unwrap();
            seen.insert(r.read.camera.clone());
        }
        assert_eq!(seen.len(), cameras.len(), "every camera of {} reads something", region.name());
    }
}

#[test]
fn the_rate_is_the_configured_one() {
    for (region, rate) in [(Region::ro_ua(), 5.0), (Region::cz_pl(), 0.5), (Region::ro_rs(), 20.0)] {
        let cfg = SimConfig { reads_per_second: rate, vehicles: 40_000, ..config(3, region) };
        let mut sim = Simulator::new(cfg.clone()).unwrap();
        let n = 20_000;
        let last = sim.by_ref().take(n).last().unwrap();
        let seconds = (last.read.time - cfg.start).num_milliseconds() as f64 / 1000.0;
        let measured = n as f64 / seconds;
        assert!((measured / rate - 1.0).abs() < 0.1, "{}: {measured:.2} reads/s for {rate}", cfg.region.name());
        assert_eq!(sim.trips_skipped(), 0);
    }
    let slower = Simulator::new(config(3, Region::ro_ua())).unwrap().with_reads_per_second(0.25).unwrap();
    let start = slower.config().start;
    let last = slower.take(2_000).last().unwrap();
    let measured = 2_000.0 / ((last.read.time - start).num_milliseconds() as f64 / 1000.0);
    assert!((measured / 0.25 - 1.0).abs() < 0.1, "{measured}");
}

/// The per-character rates of the default error model, measured on about a million characters.
#[test]
fn the_error_model_s_rates_hold_per_character() {
    let cfg = SimConfig { vehicles: 50_000, reads_per_second: 50.0, ..config(4, Region::ro_ua()) };
    let (mut characters, mut with_lookalike) = (0u64, 0u64);
    let (mut lookalike, mut other, mut dropped_or_inserted) = (0u64, 0u64, 0u64);
    let mut no_country = 0u64;
    let mut n = 0u64;
    for r in Simulator::new(cfg.clone()).unwrap() {
        let plate = r.truth.plate.as_bytes();
        characters += plate.len() as u64;
        with_lookalike += plate.iter().filter(|c| b"ODQI1B8S5Z2G60".contains(c)).count() as u64;
        lookalike += u64::from(r.truth.errors.lookalike);
        other += u64::from(r.truth.errors.other);
        dropped_or_inserted += u64::from(r.truth.errors.dropped) + u64::from(r.truth.errors.inserted);
        no_country += u64::from(r.read.plate.country.is_none());
        n += 1;
        if characters >= 1_000_000 {
            break;
        }
    }
    // Counts are binomial: allow five standard deviations.
    let check = |what: &str, count: u64, trials: u64, p: f64| {
        let expected = trials as f64 * p;
        let sd = (expected * (1.0 - p)).sqrt();
        assert!(
            (count as f64 - expected).abs() < 5.0 * sd,
            "{what}: {count} in {trials}, expected {expected:.0} ± {:.0}",
            5.0 * sd
        );
    };
    let model = ErrorModel::default();
    check("look-alike substitutions", lookalike, with_lookalike, model.lookalike);
    check("other substitutions", other, characters, model.other);
    check("drops and inserts", dropped_or_inserted, characters, model.drop_insert);
    check("reads without a country", no_country, n, cfg.no_country_rate);
}

#[test]
fn a_model_without_errors_makes_none() {
    let cfg = SimConfig {
        error_model: ErrorModel::NONE,
        variations: Variations::NONE,
        cyrillic_rate: 0.0,
        ..config(5, Region::ro_ua())
    };
    for r in reads(&cfg, 5_000) {
        assert_eq!(r.truth.errors.class(), ErrorClass::Exact);
        assert_eq!(r.read.plate.text.value, r.truth.plate.as_str());
    }
}

/// What each class promises about the text, checked with the plate crate's own cleaning.
#[test]
fn read_errors_are_classified_right() {
    let mut count: BTreeMap<ErrorClass, usize> = BTreeMap::new();
    let (mut cyrillic, mut diacritics) = (0, 0);
    for region in regions() {
        // More errors than the default, so that every class is common.
        let cfg = SimConfig {
            error_model: ErrorModel { lookalike: 0.1, other: 0.02, drop_insert: 0.02 },
            cyrillic_rate: 0.5,
            variations: Variations { diacritics: 0.1, lower_case: 0.05, ..Variations::default() },
            ..config(6, region)
        };
        for r in reads(&cfg, 10_000) {
            let raw = &r.read.plate.text.value;
            let truth = &r.truth.plate;
            let errors = r.truth.errors;
            *count.entry(errors.class()).or_default() += 1;
            cyrillic += usize::from(errors.cyrillic);
            diacritics += usize::from(errors.diacritics);
            let cleaned = clean(raw).unwrap_or_else(|e| panic!("{raw:?} does not clean: {e}"));
            match errors.class() {
                ErrorClass::Exact => assert_eq!(raw, truth.as_str()),
                ErrorClass::Cosmetic => {
                    assert_ne!(raw, truth.as_str());
                    assert_eq!(&cleaned, truth, "{raw:?} is cosmetic only");
                }
                ErrorClass::LookAlike => {
                    assert_ne!(&cleaned, truth, "{raw:?}");
                    assert_eq!(lookalike_key(&cleaned), lookalike_key(truth), "{raw:?} differs by look-alikes only");
                }
                ErrorClass::Substitution => {
                    assert_eq!(cleaned.len(), truth.len(), "{raw:?}");
                    assert_ne!(lookalike_key(&cleaned), lookalike_key(truth), "{raw:?}");
                }
                ErrorClass::DropInsert => {
                    let expected = truth.len() + usize::from(errors.inserted) - usize::from(errors.dropped);
                    assert_eq!(cleaned.len(), expected, "{raw:?}");
                }
            }
            // The flags say what the text shows.
            assert_eq!(errors.separators, raw.chars().any(|c| !c.is_alphanumeric()), "{raw:?}");
            assert_eq!(errors.lower_case, raw.chars().any(char::is_lowercase), "{raw:?}");
            assert_eq!(errors.cyrillic, raw.chars().any(|c| ('\u{400}'..='\u{4FF}').contains(&c)), "{raw:?}");
            if errors.cyrillic {
                assert!([CountryCode::UA, CountryCode::BG, CountryCode::RS].contains(&r.truth.country));
            }
        }
    }
    for class in [
        ErrorClass::Exact,
        ErrorClass::Cosmetic,
        ErrorClass::LookAlike,
        ErrorClass::Substitution,
        ErrorClass::DropInsert,
    ] {
        assert!(count.get(&class).copied().unwrap_or(0) > 100, "{class:?} is rare: {count:?}");
    }
    assert!(cyrillic > 100 && diacritics > 100, "{cyrillic} Cyrillic, {diacritics} with diacritics");
}

#[test]
fn every_hotlisted_vehicle_passes_a_camera() {
    let cfg = SimConfig { hotlist_fraction: 0.02, ..config(7, Region::ro_ua()) };
    let listed: HashSet<PlateText> = hotlist(&cfg, 40).unwrap().map(|e| e.plate).collect();
    assert_eq!(listed.len(), 40);
    let end = cfg.start + TimeDelta::hours(36);
    let mut seen = HashSet::new();
    for r in Simulator::new(cfg.clone()).unwrap().take_while(|r| r.read.time < end) {
        assert_eq!(r.truth.hotlisted, listed.contains(&r.truth.plate), "{:?}", r.truth.plate);
        if r.truth.hotlisted {
            seen.insert(r.truth.plate.clone());
        }
    }
    let missing: Vec<_> = listed.difference(&seen).collect();
    assert!(missing.is_empty(), "never read: {missing:?}");
}

#[test]
fn convoys_pass_the_same_cameras_seconds_apart() {
    let cfg = config(8, Region::ro_ua());
    let mut by_trip_camera: HashMap<(u64, String), Vec<(i64, u64)>> = HashMap::new();
    for r in reads(&cfg, 20_000) {
        if r.truth.convoy.is_some() {
            let key = (r.truth.trip, r.read.camera.to_string());
            by_trip_camera.entry(key).or_default().push((r.read.time.timestamp_millis(), r.truth.vehicle));
        }
    }
    let together = by_trip_camera
        .values()
        .filter(|passes| {
            let vehicles: HashSet<u64> = passes.iter().map(|p| p.1).collect();
            let first = passes.iter().map(|p| p.0).min().unwrap_or(0);
            let last = passes.iter().map(|p| p.0).max().unwrap_or(0);
            vehicles.len() >= 2 && last - first <= 30_000
        })
        .count();
    assert!(together > 50, "{together} convoy passes");
}

#[test]
fn vehicles_cross_both_ways_with_plausible_travel_times() {
    let region = Region::ro_ua();
    let cameras: HashMap<_, _> = region.cameras().into_iter().map(|c| (c.id.clone(), c)).collect();
    let cfg = config(9, region);
    let mut trips: HashMap<u64, Vec<SimRead>> = HashMap::new();
    for r in reads(&cfg, 30_000) {
        trips.entry(r.truth.trip * 10_000 + r.truth.vehicle).or_default().push(r);
    }
    let (mut ro_to_ua, mut ua_to_ro) = (0, 0);
    for reads in trips.values() {
        let fixed: Vec<_> = reads.iter().filter(|r| !cameras[&r.read.camera].kind.is_moving()).collect();
        for w in fixed.windows(2) {
            let (a, b) = (&cameras[&w[0].read.camera], &cameras[&w[1].read.camera]);
            let metres = a.position.unwrap().distance_m(&b.position.unwrap());
            let seconds = (w[1].read.time - w[0].read.time).num_milliseconds() as f64 / 1000.0;
            if metres > 2_000.0 {
                let kmh = metres / 1000.0 / (seconds / 3600.0);
                assert!(kmh < 120.0, "{} → {}: {kmh:.0} km/h", a.id, b.id);
            }
            match (a.country, b.country) {
                (CountryCode::RO, CountryCode::UA) => ro_to_ua += 1,
                (CountryCode::UA, CountryCode::RO) => ua_to_ro += 1,
                _ => {}
            }
            if a.country != b.country {
                assert!(seconds >= 5.0 * 60.0, "crossed {} → {} in {seconds} s", a.id, b.id);
            }
        }
    }
    assert!(ro_to_ua > 100 && ua_to_ro > 100, "{ro_to_ua} RO→UA, {ua_to_ro} UA→RO");
}

#[test]
fn no_vehicle_is_in_two_places_at_once() {
    let cfg = config(10, Region::ro_rs());
    let mut last: HashMap<u64, (u64, i64)> = HashMap::new();
    let mut trips_of: HashMap<u64, BTreeSet<u64>> = HashMap::new();
    for r in reads(&cfg, 30_000) {
        trips_of.entry(r.truth.vehicle).or_default().insert(r.truth.trip);
        if let Some(&(trip, _)) = last.get(&r.truth.vehicle) {
            // Reads of a vehicle's earlier trip never come after those of a later one.
            assert!(trip <= r.truth.trip, "vehicle {} back on trip {trip}", r.truth.vehicle);
        }
        last.insert(r.truth.vehicle, (r.truth.trip, r.read.time.timestamp_millis()));
    }
    assert!(trips_of.values().any(|t| t.len() >= 2), "vehicles make several trips");
}

#[test]
fn moving_cameras_report_their_moving_position() {
    for region in regions() {
        let cameras: HashMap<_, _> = region.cameras().into_iter().map(|c| (c.id.clone(), c)).collect();
        let mut positions: HashMap<CameraKind, Vec<GeoPoint>> = HashMap::new();
        let mut directions = HashSet::new();
        for r in reads(&config(11, region.clone()), 20_000) {
            let camera = &cameras[&r.read.camera];
            directions.insert(r.read.direction);
            match r.read.position {
                Some(p) => {
                    assert!(camera.kind.is_moving(), "{} is fixed but reports a position", camera.id);
                    assert!(p.distance_m(&camera.position.unwrap()) < 30_000.0, "{} strays", camera.id);
                    positions.entry(camera.kind).or_default().push(p);
                }
                None => assert!(!camera.kind.is_moving(), "{} moves but reports no position", camera.id),
            }
        }
        for kind in [CameraKind::Drone, CameraKind::Mobile] {
            let seen = &positions[&kind];
            let distinct: HashSet<(u64, u64)> = seen.iter().map(|p| (p.lat.to_bits(), p.lon.to_bits())).collect();
            assert!(distinct.len() > seen.len() / 2 && seen.len() > 20, "{kind:?} in {}", region.name());
        }
        let drone = &positions[&CameraKind::Drone];
        let spread = drone.iter().map(|p| p.distance_m(&drone[0])).fold(0.0, f64::max);
        assert!(spread > 300.0 && spread < 1_000.0, "the drone circles: {spread} m");
        assert!(directions.contains(&Direction::Approaching) && directions.contains(&Direction::Leaving));
    }
}

#[test]
fn the_traffic_follows_the_country_mix() {
    let region = Region::ro_ua();
    let mut count: HashMap<CountryCode, usize> = HashMap::new();
    let reads = reads(&config(12, region.clone()), 30_000);
    let vehicles: HashMap<u64, CountryCode> = reads.iter().map(|r| (r.truth.vehicle, r.truth.country)).collect();
    for country in vehicles.values() {
        *count.entry(*country).or_default() += 1;
    }
    let total = vehicles.len() as f64;
    for &(country, share) in region.country_mix() {
        let measured = count.get(&country).copied().unwrap_or(0) as f64 / total;
        assert!((measured - share).abs() < 0.04, "{country}: {measured:.3} of vehicles, mix says {share}");
    }
}

#[test]
fn regions_are_well_formed() {
    for region in regions() {
        let cameras = region.cameras();
        let ids: HashSet<_> = cameras.iter().map(|c| c.id.clone()).collect();
        assert_eq!(ids.len(), cameras.len(), "camera ids of {} are unique", region.name());
        let mix: f64 = region.country_mix().iter().map(|(_, s)| s).sum();
        assert!((mix - 1.0).abs() < 1e-9);
        let [a, b] = region.countries();
        let center = cameras[0].position.unwrap();
        for c in &cameras {
            c.validate().unwrap();
            assert!(c.country == a || c.country == b);
            assert!(c.position.unwrap().distance_m(&center) < 100_000.0, "{} is far away", c.id);
            assert!(c.id.as_str().starts_with(&c.country.as_str().to_ascii_lowercase()), "{}", c.id);
            assert!(c.name.is_some());
        }
        for kind in [CameraKind::Mobile, CameraKind::Drone] {
            assert_eq!(cameras.iter().filter(|c| c.kind == kind).count(), 1, "{kind:?} in {}", region.name());
        }
        assert!(cameras.iter().filter(|c| matches!(c.kind, CameraKind::Anpr | CameraKind::Fixed)).count() >= 6);
        assert!(cameras.iter().any(|c| c.country == a) && cameras.iter().any(|c| c.country == b));
        assert!(region.agencies().len() >= 2);
        assert_eq!(Region::named(region.name()).as_ref(), Some(&region));
    }
    assert_eq!(Region::named("xx-yy"), None);
}

#[test]
fn the_hotlist_holds_the_fleet_s_hotlisted_vehicles_and_fillers() {
    let cfg = SimConfig { hotlist_fraction: 0.05, ..config(13, Region::cz_pl()) };
    let entries: Vec<_> = hotlist(&cfg, 20_000).unwrap().collect();
    assert_eq!(entries.len(), 20_000);
    let ids: HashSet<u64> = entries.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), entries.len());
    let fleet_listed: HashSet<&PlateText> = entries[..100].iter().map(|e| &e.plate).collect();

    let mut fleet = HashMap::new();
    for r in reads(&cfg, 30_000) {
        fleet.insert(r.truth.plate.clone(), r.truth.hotlisted);
    }
    for (plate, hotlisted) in &fleet {
        assert_eq!(*hotlisted, fleet_listed.contains(plate), "{plate:?}");
    }
    for filler in &entries[100..] {
        assert!(!fleet.contains_key(&filler.plate), "filler {:?} is a fleet vehicle", filler.plate);
    }
    let share = |f: &dyn Fn(&limes_model::HotlistEntry) -> bool| {
        entries.iter().filter(|e| f(e)).count() as f64 / entries.len() as f64
    };
    assert!((0.0003..0.01).contains(&share(&|e| e.fuzzy)), "fuzzy on a small share");
    assert!((0.1..0.5).contains(&share(&|e| e.expires.is_some())));
    assert!(share(&|e| e.expires.is_some_and(|t| t < cfg.start)) > 0.005);
    assert!(share(&|e| e.country.is_none()) > 0.005);
    assert!(entries.iter().all(|e| (1..=5).contains(&e.priority)));
    let agencies: HashSet<_> = entries.iter().map(|e| e.agency.clone()).collect();
    assert_eq!(agencies.len(), cfg.region.agencies().len());
    // Never fewer than the fleet's hotlisted vehicles.
    assert_eq!(hotlist(&cfg, 10).unwrap().count(), 100);
    // Deterministic.
    assert_eq!(hotlist(&cfg, 20_000).unwrap().collect::<Vec<_>>(), entries);
}

#[test]
fn a_million_entry_hotlist_is_quick() {
    let cfg = config(14, Region::ro_ua());
    let list = hotlist(&cfg, 1_000_000).unwrap();
    assert_eq!(list.len(), 1_000_000);
    assert_eq!(list.count(), 1_000_000);
}

#[test]
fn bad_configurations_are_refused() {
    let check = |cfg: SimConfig, expected: ConfigError| {
        assert_eq!(Simulator::new(cfg.clone()).err(), Some(expected.clone()));
        assert_eq!(hotlist(&cfg, 10).err(), Some(expected));
    };
    let ok = SimConfig::default();
    check(SimConfig { vehicles: 0, ..ok.clone() }, ConfigError::Vehicles(0));
    check(SimConfig { reads_per_second: 0.0, ..ok.clone() }, ConfigError::ReadsPerSecond(0.0));
    check(
        SimConfig { no_country_rate: 1.5, ..ok.clone() },
        ConfigError::Probability { field: "no_country_rate", value: 1.5 },
    );
    let nan = SimConfig { error_model: ErrorModel { lookalike: f64::NAN, ..ErrorModel::default() }, ..ok.clone() };
    assert!(matches!(
        Simulator::new(nan).err(),
        Some(ConfigError::Probability { field: "error_model.lookalike", value }) if value.is_nan()
    ));
    assert!(Simulator::new(ok).unwrap().with_reads_per_second(-1.0).is_err());
}

#[test]
fn a_configuration_reads_from_json_with_defaults() {
    let cfg: SimConfig =
        serde_json::from_str(r#"{"seed": 9, "region": "ro-rs", "error_model": {"lookalike": 0.05}}"#).unwrap();
    assert_eq!(cfg.seed, 9);
    assert_eq!(cfg.region, Region::ro_rs());
    assert_eq!(cfg.error_model, ErrorModel { lookalike: 0.05, ..ErrorModel::default() });
    assert_eq!(cfg.no_country_rate, 0.05);
    let back: SimConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
    assert!(serde_json::from_str::<SimConfig>(r#"{"region": "de-at"}"#).is_err());
    assert!(serde_json::from_str::<SimConfig>(r#"{"sede": 1}"#).is_err());
}

/// Reads of hotlisted vehicles compared with their entries' descriptions: the share of
/// makes that disagree and of colours that differ at all.
fn vehicle_disagreement(cfg: &SimConfig) -> (f64, f64, usize) {
    let entries: HashMap<PlateText, limes_model::HotlistEntry> =
        hotlist(cfg, 0).unwrap().map(|e| (e.plate.clone(), e)).collect();
    let (mut makes, mut make_diff, mut colours, mut colour_diff) = (0, 0, 0, 0);
    for r in reads(cfg, 200_000).iter().filter(|r| r.truth.hotlisted) {
        let (Some(seen), Some(listed)) = (&r.read.vehicle, entries[&r.truth.plate].vehicle.as_ref()) else {
            continue;
        };
        if let (Some(a), Some(b)) = (&seen.make, &listed.make) {
            makes += 1;
            make_diff += usize::from(a != b);
        }
        if let (Some(a), Some(b)) = (&seen.colour, &listed.colour) {
            colours += 1;
            colour_diff += usize::from(a != b);
        }
    }
    (make_diff as f64 / makes.max(1) as f64, colour_diff as f64 / colours.max(1) as f64, makes)
}

#[test]
fn make_and_colour_are_misread_at_the_models_rates() {
    let cfg = SimConfig { hotlist_fraction: 0.05, ..config(9, Region::ro_ua()) };
    let model = cfg.vehicle_model;
    let (make, colour, compared) = vehicle_disagreement(&cfg);
    assert!(compared > 2_000, "{compared} reads with a make on both sides");
    // Reader and list are each wrong now and then.
    let expected_make = model.make_wrong + model.entry_wrong;
    assert!((make - expected_make).abs() < 0.02, "make differs on {make}, expected about {expected_make}");
    let expected_colour = model.colour_wrong + model.entry_wrong;
    assert!((colour - expected_colour).abs() < 0.025, "colour differs on {colour}, expected about {expected_colour}");

    let silent = SimConfig { vehicle_model: limes_sim::VehicleModel::SILENT, ..cfg.clone() };
    assert!(hotlist(&silent, 0).unwrap().all(|e| e.vehicle.is_none()), "silent lists describe no vehicle");
    assert!(reads(&silent, 5_000).iter().all(|r| r.read.vehicle.as_ref().is_none_or(|v| v.make.is_none())));
    let bad = SimConfig { vehicle_model: limes_sim::VehicleModel { colour_far: 1.5, ..Default::default() }, ..cfg };
    assert!(matches!(Simulator::new(bad), Err(ConfigError::Probability { field: "vehicle_model.colour_far", .. })));
}
