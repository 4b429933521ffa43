//! The vehicles of a region: plates from the country grammars, make, colour and class, which
//! are hotlisted, which drive in convoys, how often each travels.

use std::collections::HashSet;

use limes_plate::{CountryCode, PlateText, grammar};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::SimConfig;
use crate::region::Side;

/// A vehicle's body type, as readers with a classifier report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Car,
    Van,
    Truck,
    Bus,
    Motorcycle,
}

impl Class {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Class::Car => "car",
            Class::Van => "van",
            Class::Truck => "truck",
            Class::Bus => "bus",
            Class::Motorcycle => "motorcycle",
        }
    }

    /// Cruising speeds on the region's national roads, km/h.
    pub(crate) fn speed_kmh(self) -> (f64, f64) {
        match self {
            Class::Car => (65.0, 95.0),
            Class::Van => (60.0, 85.0),
            Class::Truck => (55.0, 75.0),
            Class::Bus => (60.0, 80.0),
            Class::Motorcycle => (70.0, 100.0),
        }
    }

    /// Lorries and coaches queue in their own lanes at the border, for longer.
    pub(crate) fn heavy(self) -> bool {
        matches!(self, Class::Truck | Class::Bus)
    }
}

const CLASSES: [(Class, f64); 5] =
    [(Class::Car, 0.78), (Class::Van, 0.08), (Class::Truck, 0.10), (Class::Bus, 0.02), (Class::Motorcycle, 0.02)];

const CAR_MAKES: [(&str, f64); 16] = [
    ("Dacia", 6.0),
    ("Volkswagen", 10.0),
    ("Škoda", 8.0),
    ("Renault", 6.0),
    ("Toyota", 7.0),
    ("Ford", 6.0),
    ("Opel", 6.0),
    ("Hyundai", 5.0),
    ("Kia", 4.0),
    ("Mercedes-Benz", 5.0),
    ("BMW", 5.0),
    ("Audi", 5.0),
    ("Peugeot", 4.0),
    ("Fiat", 3.0),
    ("Daewoo", 1.0),
    ("Lada", 1.0),
];
const VAN_MAKES: [(&str, f64); 6] =
    [("Ford", 3.0), ("Mercedes-Benz", 3.0), ("Renault", 2.0), ("Volkswagen", 3.0), ("Fiat", 2.0), ("Iveco", 1.0)];
const TRUCK_MAKES: [(&str, f64); 7] = [
    ("DAF", 3.0),
    ("Scania", 2.0),
    ("Volvo", 2.0),
    ("MAN", 2.0),
    ("Mercedes-Benz", 2.0),
    ("Iveco", 1.0),
    ("Renault", 1.0),
];
const BUS_MAKES: [(&str, f64); 5] =
    [("Mercedes-Benz", 3.0), ("Setra", 2.0), ("Iveco", 1.0), ("MAN", 1.0), ("Neoplan", 1.0)];
const MOTORCYCLE_MAKES: [(&str, f64); 5] =
    [("Honda", 3.0), ("Yamaha", 3.0), ("BMW", 2.0), ("Suzuki", 2.0), ("KTM", 1.0)];

const COLOURS: [(&str, f64); 10] = [
    ("white", 25.0),
    ("grey", 18.0),
    ("black", 17.0),
    ("silver", 12.0),
    ("blue", 10.0),
    ("red", 8.0),
    ("green", 3.0),
    ("brown", 3.0),
    ("yellow", 2.0),
    ("orange", 2.0),
];

/// The colours readers report.
pub(crate) fn colours() -> impl Iterator<Item = &'static str> {
    COLOURS.iter().map(|(c, _)| *c)
}

/// The make a country's own drivers favour (several times its usual share).
fn national_make(country: CountryCode) -> Option<&'static str> {
    Some(match country {
        CountryCode::RO | CountryCode::MD => "Dacia",
        CountryCode::CZ | CountryCode::SK => "Škoda",
        CountryCode::DE => "Volkswagen",
        CountryCode::RS => "Fiat",
        CountryCode::UA => "Daewoo",
        CountryCode::PL => "Toyota",
        _ => return None,
    })
}

/// One item of `items`, with probability proportional to its weight.
pub(crate) fn weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for &(item, w) in items {
        if x < w {
            return item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

fn make(rng: &mut ChaCha8Rng, class: Class, country: CountryCode) -> &'static str {
    match class {
        Class::Car => {
            let national = national_make(country);
            let boosted: Vec<(&'static str, f64)> =
                CAR_MAKES.iter().map(|&(m, w)| (m, if Some(m) == national { w * 5.0 } else { w })).collect();
            weighted(rng, &boosted)
        }
        Class::Van => weighted(rng, &VAN_MAKES),
        Class::Truck => weighted(rng, &TRUCK_MAKES),
        Class::Bus => weighted(rng, &BUS_MAKES),
        Class::Motorcycle => weighted(rng, &MOTORCYCLE_MAKES),
    }
}

/// A plate of `country`, in one of its grammar's formats, and its printed form.
pub(crate) fn plate(rng: &mut ChaCha8Rng, country: CountryCode) -> (PlateText, String) {
    let format = format(rng, country);
    let text = generate(rng, format);
    let printed = format.display(&text);
    (text, printed)
}

/// A plate of `country`, in one of its grammar's formats.
pub(crate) fn plate_text(rng: &mut ChaCha8Rng, country: CountryCode) -> PlateText {
    let format = format(rng, country);
    generate(rng, format)
}

fn format(rng: &mut ChaCha8Rng, country: CountryCode) -> &'static grammar::Format {
    let formats = grammar::formats(country);
    &formats[rng.random_range(0..formats.len())]
}

fn generate(rng: &mut ChaCha8Rng, format: &grammar::Format) -> PlateText {
    format.generate(&mut |n| if n == 0 { 0 } else { rng.random_range(0..n) })
}

/// One vehicle of the fleet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vehicle {
    pub plate: PlateText,
    /// The plate as printed, with its format's separators.
    pub printed: String,
    pub country: CountryCode,
    pub class: Class,
    pub make: &'static str,
    pub colour: &'static str,
    pub hotlisted: bool,
    /// The convoy the vehicle always travels in, if any.
    pub convoy: Option<u32>,
    /// The side of the border the vehicle starts on.
    pub home: Side,
    /// How often the vehicle travels, relative to the others.
    pub activity: f64,
}

/// The vehicles of a simulation, generated from the configuration's seed alone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fleet {
    pub vehicles: Vec<Vehicle>,
    /// Each convoy's vehicles, indices into `vehicles`.
    pub convoys: Vec<Vec<u32>>,
}

impl Fleet {
    pub(crate) fn generate(cfg: &SimConfig) -> Fleet {
        let mut rng = crate::rng(cfg.seed, crate::Stream::Fleet);
        let mix = cfg.region.country_mix();
        let mut seen = HashSet::with_capacity(cfg.vehicles);
        let mut vehicles = Vec::with_capacity(cfg.vehicles);
        for _ in 0..cfg.vehicles {
            let country = weighted(&mut rng, mix);
            // A few tries for a plate no other vehicle has; a country whose formats are nearly
            // exhausted gets a duplicate, as a cloned plate would be.
            let mut candidate = plate(&mut rng, country);
            for _ in 0..64 {
                if !seen.contains(&candidate.0) {
                    break;
                }
                candidate = plate(&mut rng, country);
            }
            let (plate, printed) = candidate;
            seen.insert(plate.clone());
            let class = weighted(&mut rng, &CLASSES);
            let make = make(&mut rng, class, country);
            let colour = weighted(&mut rng, &COLOURS);
            let home = match cfg.region.side_of(country) {
                Some(side) => side,
                None if rng.random_bool(0.5) => Side::A,
                None => Side::B,
            };
            // Most vehicles cross now and then; some commute, and lorries run every day.
            let mut activity = weighted(&mut rng, &[(1.0, 0.70), (4.0, 0.25), (15.0, 0.05)]);
            if class == Class::Truck {
                activity *= 3.0;
            }
            vehicles.push(Vehicle {
                plate,
                printed,
                country,
                class,
                make,
                colour,
                hotlisted: false,
                convoy: None,
                home,
                activity,
            });
        }

        let n = vehicles.len();
        let hotlisted = ((n as f64) * cfg.hotlist_fraction).round() as usize;
        for &i in &shuffled(&mut rng, n)[..hotlisted.min(n)] {
            vehicles[i].hotlisted = true;
        }

        let mut in_convoys = ((n as f64) * cfg.convoy_fraction).round() as usize;
        let order = shuffled(&mut rng, n);
        let mut convoys: Vec<Vec<u32>> = Vec::new();
        let mut next = 0;
        while in_convoys >= 2 {
            let size = rng.random_range(2..=4usize).min(in_convoys);
            // Leave no single vehicle behind: a convoy has 2 to 4.
            let size = match in_convoys - size {
                1 if size < 4 => size + 1,
                1 => size - 1,
                _ => size,
            };
            let members: Vec<u32> = order[next..next + size].iter().map(|&i| i as u32).collect();
            for &m in &members {
                vehicles[m as usize].convoy = Some(convoys.len() as u32);
            }
            convoys.push(members);
            next += size;
            in_convoys -= size;
        }
        Fleet { vehicles, convoys }
    }

    /// The vehicles that travel together with vehicle `v`, `v` first.
    pub(crate) fn party(&self, v: u32) -> Vec<u32> {
        match self.vehicles[v as usize].convoy {
            None => vec![v],
            Some(c) => {
                let mut members = self.convoys[c as usize].clone();
                members.retain(|&m| m != v);
                members.insert(0, v);
                members
            }
        }
    }
}

/// `0..n` in random order.
pub(crate) fn shuffled(rng: &mut ChaCha8Rng, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    order
}
