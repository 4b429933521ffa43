//! The vehicles of a region: plates from the country grammars, make, colour and class, which
//! are hotlisted, which drive in convoys, how often each travels.

use std::collections::HashSet;

use limes_plate::{CountryCode, PlateText, grammar};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use limes_model::VehicleInfo;

use crate::region::Side;
use crate::{SimConfig, VehicleModel};

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

/// The colours a classifier takes each colour of [`COLOURS`] for in poor light, by index:
/// the simulator's own view, written apart from the matcher's (`limes_model::Colour`).
const COLOUR_CONFUSIONS: [&[u8]; 10] = [
    &[1, 3],       // white: grey, silver
    &[0, 3, 2, 4], // grey: white, silver, black, blue
    &[1, 4, 6],    // black: grey, blue, green
    &[0, 1],       // silver: white, grey
    &[1, 2],       // blue: grey, black
    &[9, 7],       // red: orange, brown
    &[2, 1],       // green: black, grey
    &[5, 9, 2],    // brown: red, orange, black
    &[9],          // yellow: orange
    &[5, 8],       // orange: red, yellow
];

/// The colour a classifier reports for a vehicle of colour `true_colour` (an index into
/// [`COLOURS`]) under `model`.
pub(crate) fn seen_colour(rng: &mut ChaCha8Rng, true_colour: u8, model: &VehicleModel) -> &'static str {
    let index = if !rng.random_bool(model.colour_wrong) {
        usize::from(true_colour)
    } else if rng.random_bool(model.colour_far) {
        other_index(rng, COLOURS.len(), usize::from(true_colour))
    } else {
        let near = COLOUR_CONFUSIONS[usize::from(true_colour)];
        usize::from(near[rng.random_range(0..near.len())])
    };
    COLOURS[index].0
}

/// An index in `0..n` other than `not` (when `n > 1`).
fn other_index(rng: &mut ChaCha8Rng, n: usize, not: usize) -> usize {
    if n < 2 {
        return not;
    }
    let i = rng.random_range(0..n - 1);
    if i >= not { i + 1 } else { i }
}

/// The make a classifier reports for `vehicle`: another make of its body type now and then.
pub(crate) fn seen_make(rng: &mut ChaCha8Rng, vehicle: &Vehicle, model: &VehicleModel) -> &'static str {
    let table = makes(vehicle.class);
    let index = if rng.random_bool(model.make_wrong) {
        other_index(rng, table.len(), usize::from(vehicle.make))
    } else {
        usize::from(vehicle.make)
    };
    table[index].0
}

/// What a hotlist entry says about a vehicle of `class` with make and colour indices
/// `make` and `colour`: each named at the model's rate, now and then wrongly.
pub(crate) fn described(
    rng: &mut ChaCha8Rng,
    (class, make, colour): (Class, u8, u8),
    model: &VehicleModel,
) -> Option<VehicleInfo> {
    let table = makes(class);
    let make = rng.random_bool(model.entry_make).then(|| {
        let i = if rng.random_bool(model.entry_wrong) {
            other_index(rng, table.len(), usize::from(make))
        } else {
            usize::from(make)
        };
        table[i].0.to_owned()
    });
    let colour = rng.random_bool(model.entry_colour).then(|| {
        let i = if rng.random_bool(model.entry_wrong) {
            other_index(rng, COLOURS.len(), usize::from(colour))
        } else {
            usize::from(colour)
        };
        COLOURS[i].0.to_owned()
    });
    (make.is_some() || colour.is_some()).then_some(VehicleInfo { make, colour, class: None })
}

/// A random vehicle of `country`'s traffic: body type, make index and colour index.
pub(crate) fn random_vehicle(rng: &mut ChaCha8Rng, country: CountryCode) -> (Class, u8, u8) {
    let class = weighted(rng, &CLASSES);
    let make = make(rng, class, country);
    let colour = weighted_index(rng, &COLOURS) as u8;
    (class, make, colour)
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

fn makes(class: Class) -> &'static [(&'static str, f64)] {
    match class {
        Class::Car => &CAR_MAKES,
        Class::Van => &VAN_MAKES,
        Class::Truck => &TRUCK_MAKES,
        Class::Bus => &BUS_MAKES,
        Class::Motorcycle => &MOTORCYCLE_MAKES,
    }
}

/// An index into `items`, with probability proportional to its weight.
pub(crate) fn weighted_index<T>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> usize {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (i, (_, w)) in items.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    items.len() - 1
}

/// One item of `items`, with probability proportional to its weight.
pub(crate) fn weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    items[weighted_index(rng, items)].0
}

/// An index into [`makes`]`(class)`.
fn make(rng: &mut ChaCha8Rng, class: Class, country: CountryCode) -> u8 {
    let table = makes(class);
    let index = match (class, national_make(country)) {
        (Class::Car, Some(national)) => {
            let boosted: Vec<(&str, f64)> =
                table.iter().map(|&(m, w)| (m, if m == national { w * 5.0 } else { w })).collect();
            weighted_index(rng, &boosted)
        }
        _ => weighted_index(rng, table),
    };
    index as u8
}

/// A canonical plate text stored inline, so that a large fleet stays small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Plate {
    bytes: [u8; PlateText::MAX_LEN],
    len: u8,
}

impl Plate {
    pub(crate) fn of(text: &PlateText) -> Plate {
        let mut bytes = [0; PlateText::MAX_LEN];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Plate { bytes, len: text.len() as u8 }
    }

    pub(crate) fn text(&self) -> PlateText {
        let s = std::str::from_utf8(&self.bytes[..self.len as usize]).expect("plate bytes are ASCII");
        PlateText::new(s).expect("plate bytes are canonical")
    }
}

/// A plate of `country` in one of its grammar's formats, and that format's index.
pub(crate) fn plate(rng: &mut ChaCha8Rng, country: CountryCode) -> (PlateText, u8) {
    let formats = grammar::formats(country);
    let index = rng.random_range(0..formats.len().min(256));
    let text = formats[index].generate(&mut |n| if n == 0 { 0 } else { rng.random_range(0..n) });
    (text, index as u8)
}

/// One vehicle of the fleet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vehicle {
    pub plate: Plate,
    /// The index of the plate's format in its country's grammar.
    pub format: u8,
    pub country: CountryCode,
    pub class: Class,
    make: u8,
    colour: u8,
    pub hotlisted: bool,
    /// The convoy the vehicle always travels in, if any.
    pub convoy: Option<u32>,
    /// The side of the border the vehicle starts on.
    pub home: Side,
}

impl Vehicle {
    /// Body type, make index and colour index.
    pub(crate) fn attributes(&self) -> (Class, u8, u8) {
        (self.class, self.make, self.colour)
    }

    /// The plate as printed, with its format's separators.
    pub(crate) fn printed(&self, text: &PlateText) -> String {
        grammar::formats(self.country)[self.format as usize].display(text)
    }
}

/// The vehicles that travel together: one, or a convoy of two to four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Party {
    members: [u32; 4],
    len: u8,
}

impl Party {
    pub(crate) fn members(&self) -> &[u32] {
        &self.members[..self.len as usize]
    }

    /// The vehicle that leads; it decides the route.
    pub(crate) fn leader(&self) -> usize {
        self.members[0] as usize
    }

    fn of(members: &[u32]) -> Party {
        let mut party = Party { members: [0; 4], len: 0 };
        for &m in members.iter().take(4) {
            party.members[party.len as usize] = m;
            party.len += 1;
        }
        party
    }
}

/// The vehicles of a simulation, generated from the configuration's seed alone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fleet {
    pub vehicles: Vec<Vehicle>,
    /// The units that make trips: every vehicle outside a convoy alone, then the convoys.
    pub parties: Vec<Party>,
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
                if !seen.contains(&Plate::of(&candidate.0)) {
                    break;
                }
                candidate = plate(&mut rng, country);
            }
            let (text, format) = candidate;
            let plate = Plate::of(&text);
            seen.insert(plate);
            let (class, make, colour) = random_vehicle(&mut rng, country);
            let home = match cfg.region.side_of(country) {
                Some(side) => side,
                None if rng.random_bool(0.5) => Side::A,
                None => Side::B,
            };
            vehicles.push(Vehicle {
                plate,
                format,
                country,
                class,
                make,
                colour,
                hotlisted: false,
                convoy: None,
                home,
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
        let mut parties: Vec<Party> =
            (0..n as u32).filter(|&v| vehicles[v as usize].convoy.is_none()).map(|v| Party::of(&[v])).collect();
        parties.extend(convoys.iter().map(|members| Party::of(members)));
        Fleet { vehicles, parties }
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
