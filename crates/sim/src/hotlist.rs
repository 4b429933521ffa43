//! The hotlist that goes with a simulation: the fleet's hotlisted vehicles and filler entries.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use limes_model::{AgencyId, HotlistEntry, HotlistReason};
use limes_plate::{CountryCode, PlateText, grammar};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::fleet::{self, Fleet, Plate, weighted};
use crate::{ConfigError, SimConfig, Stream};

/// The hotlist for `cfg`'s fleet: first an entry for every hotlisted vehicle, then filler entries
/// of plates from the same countries and formats that no vehicle of the fleet carries, up to
/// `total_entries` in all (never fewer than the fleet's hotlisted vehicles).
///
/// Entries carry reasons, priorities by reason, the region's agencies, an expiry on some (a few
/// fillers already expired at `cfg.start`) and `fuzzy` on a small share (1 % of the fleet's entries, 0.1 % of fillers). Filler plates may repeat
/// each other, as entries from different agencies do. Ids count from 1.
///
/// ```
/// use limes_sim::{hotlist, SimConfig};
/// let cfg = SimConfig { vehicles: 1_000, hotlist_fraction: 0.02, ..SimConfig::default() };
/// let entries: Vec<_> = hotlist(&cfg, 10_000)?.collect();
/// assert_eq!(entries.len(), 10_000);
/// # Ok::<(), limes_sim::ConfigError>(())
/// ```
pub fn hotlist(cfg: &SimConfig, total_entries: usize) -> Result<Hotlist, ConfigError> {
    cfg.validate()?;
    let fleet = Fleet::generate(cfg);
    let mut rng = crate::rng(cfg.seed, Stream::Hotlist);
    let agencies = cfg.region.agencies();
    let mut next_id = 0;
    let mut fleet_entries = Vec::new();
    for vehicle in fleet.vehicles.iter().filter(|v| v.hotlisted) {
        next_id += 1;
        let country = (!rng.random_bool(0.02)).then_some(vehicle.country);
        let expires = rng.random_bool(0.3).then(|| days_after(cfg.start, rng.random_range(30.0..365.0)));
        // Edit-distance alerting is for the few entries an agency marks for it: 1 %
        // of wanted vehicles here, 0.1 % of the rest of the list.
        let fuzzy = rng.random_bool(0.01);
        let mut e = entry(&mut rng, &agencies, next_id, vehicle.plate.text(), country, expires, fuzzy);
        e.vehicle = fleet::described(&mut rng, vehicle.attributes(), &cfg.vehicle_model);
        fleet_entries.push(e);
    }
    let fillers = total_entries.saturating_sub(fleet_entries.len());
    let known: Vec<(CountryCode, f64)> = grammar::KNOWN.iter().map(|&c| (c, 1.0)).collect();
    Ok(Hotlist {
        fleet_plates: fleet.vehicles.iter().map(|v| v.plate).collect(),
        fleet_entries: fleet_entries.into_iter(),
        fillers,
        next_id,
        rng,
        agencies,
        mix: cfg.region.country_mix().to_vec(),
        known,
        start: cfg.start,
        vehicle_model: cfg.vehicle_model,
    })
}

/// The entries of [`hotlist`], generated as they are taken.
#[derive(Debug)]
pub struct Hotlist {
    fleet_entries: std::vec::IntoIter<HotlistEntry>,
    fleet_plates: HashSet<Plate>,
    fillers: usize,
    next_id: u64,
    rng: ChaCha8Rng,
    agencies: Vec<AgencyId>,
    mix: Vec<(CountryCode, f64)>,
    known: Vec<(CountryCode, f64)>,
    start: DateTime<Utc>,
    vehicle_model: crate::VehicleModel,
}

impl Iterator for Hotlist {
    type Item = HotlistEntry;

    fn next(&mut self) -> Option<HotlistEntry> {
        if let Some(entry) = self.fleet_entries.next() {
            return Some(entry);
        }
        if self.fillers == 0 {
            return None;
        }
        self.fillers -= 1;
        self.next_id += 1;
        let rng = &mut self.rng;
        // Mostly the region's traffic; some from anywhere (the Schengen Information System
        // brings entries from every member).
        let mut country = if rng.random_bool(0.85) { weighted(rng, &self.mix) } else { weighted(rng, &self.known) };
        let mut tries = 0;
        let plate = loop {
            let (plate, _) = fleet::plate(rng, country);
            if !self.fleet_plates.contains(&Plate::of(&plate)) {
                break plate;
            }
            // A country whose every plate is in the fleet: try another.
            tries += 1;
            if tries % 64 == 0 {
                country = weighted(rng, &self.known);
            }
        };
        let attributes = fleet::random_vehicle(rng, country);
        let country = (!rng.random_bool(0.02)).then_some(country);
        let expires = rng.random_bool(0.25).then(|| days_after(self.start, rng.random_range(-30.0..365.0)));
        let fuzzy = rng.random_bool(0.001);
        let mut e = entry(rng, &self.agencies, self.next_id, plate, country, expires, fuzzy);
        e.vehicle = fleet::described(rng, attributes, &self.vehicle_model);
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.fleet_entries.len() + self.fillers;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Hotlist {}

const REASONS: [(HotlistReason, f64); 5] = [
    (HotlistReason::Stolen, 45.0),
    (HotlistReason::Wanted, 20.0),
    (HotlistReason::Suspect, 20.0),
    (HotlistReason::MissingPerson, 5.0),
    (HotlistReason::Other, 10.0),
];

fn entry(
    rng: &mut ChaCha8Rng,
    agencies: &[AgencyId],
    id: u64,
    plate: PlateText,
    country: Option<CountryCode>,
    expires: Option<DateTime<Utc>>,
    fuzzy: bool,
) -> HotlistEntry {
    let reason = weighted(rng, &REASONS);
    let priority = match reason {
        HotlistReason::MissingPerson => 1,
        HotlistReason::Wanted => rng.random_range(1..=2),
        HotlistReason::Stolen => rng.random_range(2..=3),
        HotlistReason::Suspect => rng.random_range(3..=4),
        HotlistReason::Other => rng.random_range(4..=5),
    };
    let agency = agencies[rng.random_range(0..agencies.len())].clone();
    HotlistEntry {
        exercise: false,
        id,
        plate,
        country,
        reason,
        priority,
        agency,
        expires,
        fuzzy,
        note: None,
        vehicle: None,
    }
}

fn days_after(start: DateTime<Utc>, days: f64) -> DateTime<Utc> {
    start + TimeDelta::seconds((days * 86_400.0) as i64)
}
