//! The simulator: trips of the fleet along the corridor, turned into plate reads in time order.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use chrono::{DateTime, TimeDelta, Utc};
use limes_model::{CameraKind, Direction, PlateInfo, PlateRead, Scored, VehicleInfo};
use limes_plate::{CountryCode, PlateText};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::fleet::{self, Fleet, Vehicle};
use crate::ocr::{self, ReadErrors, Style};
use crate::region::{self, Region, Side, Travel};
use crate::{ConfigError, SimConfig, Stream};

/// One simulated read: what the camera sent, and the truth behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimRead {
    /// The read as a camera would report it to a node.
    pub read: PlateRead,
    /// What really passed, for scoring a matcher against.
    pub truth: Truth,
}

/// The truth behind one read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truth {
    /// The vehicle's number in the fleet, stable for a seed.
    pub vehicle: u64,
    /// The vehicle's canonical plate text.
    pub plate: PlateText,
    /// The country that issued the plate (even when the read reports none).
    pub country: CountryCode,
    /// Whether the vehicle is on the hotlist that [`crate::hotlist`] generates.
    pub hotlisted: bool,
    /// What the read's text suffers compared with `plate`.
    pub errors: ReadErrors,
    /// The convoy the vehicle drives in, if any: its members pass the same cameras seconds apart.
    pub convoy: Option<u64>,
    /// The trip this read belongs to: reads of one trip are one vehicle's journey.
    pub trip: u64,
}

/// A read scheduled for later: small, because a busy region holds many.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Milliseconds after the start.
    time_ms: i64,
    /// Breaks ties in scheduling order, so that equal times come out deterministically.
    seq: u64,
    trip: u64,
    vehicle: u32,
    camera: u16,
    direction: Direction,
    /// For the patrol car: how far along its leg the read happened.
    fraction: f32,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time_ms, self.seq).cmp(&(other.time_ms, other.seq))
    }
}

/// Chance that a vehicle crosses the border on its next trip rather than driving locally.
const CROSS_FROM_HOME: f64 = 0.5;
const CROSS_FROM_ABROAD: f64 = 0.8;
const CROSS_FOREIGN: f64 = 0.9;

/// Queueing speed through the checkpoints, m/s (15 km/h).
const CHECKPOINT_SPEED: f64 = 15.0 / 3.6;

/// Seconds between convoy members at each camera.
const CONVOY_GAP_S: (f64, f64) = (1.5, 6.0);

/// A trip's route: the stations it passes, in the order it passes them.
#[derive(Debug, Clone)]
struct Route {
    travel: Travel,
    stations: Vec<usize>,
    crosses: bool,
}

/// Walks the fleet's vehicles in a random order, a new order each round, so that every vehicle
/// gets a turn in each round.
#[derive(Debug)]
struct Rounds {
    order: Vec<usize>,
    next: usize,
}

impl Rounds {
    fn next(&mut self, rng: &mut ChaCha8Rng) -> usize {
        if self.next == self.order.len() {
            self.order = fleet::shuffled(rng, self.order.len());
            self.next = 0;
        }
        self.next += 1;
        self.order[self.next - 1]
    }
}

/// Deterministic traffic for a border region: an endless iterator of [`SimRead`]s in time order.
///
/// Vehicles of the fleet make trips along the region's corridor, crossing the border (after a
/// wait at the checkpoints) or driving locally on one side; the cameras they pass read them with
/// the configured errors. Convoys pass the same cameras seconds apart; the patrol car reads the
/// vehicles it meets and the drone those queueing at the border, each read carrying the moving
/// camera's position. A vehicle makes one trip at a time, so no plate is in two places at once.
///
/// The stream is a function of the [`SimConfig`] alone: it starts at `cfg.start` (the traffic
/// already on the road then included) and never ends; take as many reads as needed.
#[derive(Debug)]
pub struct Simulator {
    cfg: SimConfig,
    fleet: Fleet,
    start_unix_ms: i64,
    /// Decides the trips.
    traffic: ChaCha8Rng,
    /// Decides what each read says, so that changing the error model keeps the same traffic.
    reads: ChaCha8Rng,
    pending: BinaryHeap<Reverse<Pending>>,
    /// When the next trip starts, seconds after the start (negative while warming up).
    next_trip_s: f64,
    /// Mean seconds between trip starts.
    mean_gap_s: f64,
    seq: u64,
    trips: u64,
    busy_until_ms: Vec<i64>,
    side: Vec<Side>,
    rounds: Rounds,
    /// Cumulative activity of the fleet's vehicles, for picking frequent travellers more often.
    activity: Vec<f64>,
}

impl Simulator {
    /// A simulator for `cfg`; fails if the configuration is out of range.
    pub fn new(cfg: SimConfig) -> Result<Simulator, ConfigError> {
        cfg.validate()?;
        let fleet = Fleet::generate(&cfg);
        let mut total = 0.0;
        let activity = fleet
            .vehicles
            .iter()
            .map(|v| {
                total += v.activity;
                total
            })
            .collect();
        let n = fleet.vehicles.len();
        let mut sim = Simulator {
            start_unix_ms: cfg.start.timestamp_millis(),
            traffic: crate::rng(cfg.seed, Stream::Traffic),
            reads: crate::rng(cfg.seed, Stream::Reads),
            pending: BinaryHeap::new(),
            next_trip_s: 0.0,
            mean_gap_s: 1.0,
            seq: 0,
            trips: 0,
            busy_until_ms: vec![i64::MIN; n],
            side: fleet.vehicles.iter().map(|v| v.home).collect(),
            rounds: Rounds { order: (0..n).collect(), next: n },
            activity,
            fleet,
            cfg,
        };
        sim.mean_gap_s = sim.reads_per_trip() / sim.cfg.reads_per_second;
        sim.next_trip_s = -sim.longest_trip_s();
        Ok(sim)
    }

    /// The same simulation at another rate: `reads_per_second` reads per second of simulated time
    /// on average, so that a sender pacing at that rate sends reads whose times keep up with the
    /// clock.
    pub fn with_reads_per_second(self, reads_per_second: f64) -> Result<Simulator, ConfigError> {
        Simulator::new(SimConfig { reads_per_second, ..self.cfg })
    }

    /// The configuration the simulator runs.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// How many trips have started so far, including those that began before the start.
    pub fn trips(&self) -> u64 {
        self.trips
    }

    fn region(&self) -> &Region {
        &self.cfg.region
    }

    /// The longest a trip can take, so that warming up that long fills the roads.
    fn longest_trip_s(&self) -> f64 {
        let region = self.region();
        let slowest = fleet_speed_mps(fleet::Class::Truck.speed_kmh().0) * 0.9;
        let driving: f64 = region.leg_m.iter().map(|m| m * region::ROAD_FACTOR / slowest).sum();
        let border = region.car_wait.max.max(region.truck_wait.max) * 60.0;
        let convoy = 4.0 * CONVOY_GAP_S.1 * region.stations.len() as f64;
        driving + border + convoy + 600.0
    }

    /// The mean number of reads a trip yields, from a fixed sample of trips.
    fn reads_per_trip(&self) -> f64 {
        let mut rng = crate::rng(self.cfg.seed, Stream::Pilot);
        let n = self.fleet.vehicles.len();
        // Domestic vehicles are abroad this share of the time in the long run.
        let abroad = CROSS_FROM_HOME / (CROSS_FROM_HOME + CROSS_FROM_ABROAD);
        let mut total = 0.0;
        const SAMPLES: usize = 4096;
        for _ in 0..SAMPLES {
            let v = if rng.random_bool(0.5) { rng.random_range(0..n) } else { by_activity(&mut rng, &self.activity) };
            let vehicle = &self.fleet.vehicles[v];
            let side = if rng.random_bool(abroad) { vehicle.home.other() } else { vehicle.home };
            let route = route(&mut rng, &self.cfg.region, vehicle, side);
            let party = self.fleet.party(v as u32).len() as f64;
            total += party * self.expected_reads(&route);
        }
        (total / SAMPLES as f64).max(0.01)
    }

    fn expected_reads(&self, route: &Route) -> f64 {
        let region = self.region();
        let fixed: f64 = route
            .stations
            .iter()
            .flat_map(|&s| &region.stations[s].sites)
            .filter(|site| site.sees(route.travel))
            .map(|site| site.read_rate)
            .sum();
        let patrol = if covers(route, region.patrol.leg) { region.patrol.read_rate } else { 0.0 };
        let drone = if route.crosses { region.drone.read_rate } else { 0.0 };
        fixed + patrol + drone
    }

    /// A vehicle (with its convoy) free to start a trip at `at_ms`, if one is found quickly.
    fn pick_party(&mut self, at_ms: i64) -> Option<Vec<u32>> {
        for _ in 0..16 {
            let v = if self.traffic.random_bool(0.5) {
                self.rounds.next(&mut self.traffic)
            } else {
                by_activity(&mut self.traffic, &self.activity)
            };
            let party = self.fleet.party(v as u32);
            if party.iter().all(|&m| self.busy_until_ms[m as usize] <= at_ms) {
                return Some(party);
            }
        }
        None
    }

    /// Starts the next trip and schedules its reads.
    fn start_trip(&mut self) {
        let start_s = self.next_trip_s;
        let gap = -(1.0 - self.traffic.random::<f64>()).ln() * self.mean_gap_s;
        self.next_trip_s += gap;
        let start_ms = (start_s * 1000.0).round() as i64;
        let Some(party) = self.pick_party(start_ms) else {
            return;
        };
        self.trips += 1;
        let trip = self.trips;
        let leader = party[0] as usize;
        let side = self.side[leader];
        let route = route(&mut self.traffic, &self.cfg.region, &self.fleet.vehicles[leader], side);

        // The party drives at the pace of its slowest member and queues in the lorry lanes if it
        // has a lorry or a coach.
        let heavy = party.iter().any(|&m| self.fleet.vehicles[m as usize].class.heavy());
        let class = if heavy { fleet::Class::Truck } else { self.fleet.vehicles[leader].class };
        let (low, high) = class.speed_kmh();
        let speed = fleet_speed_mps(self.traffic.random_range(low..high));
        let arrivals = self.arrivals(&route, start_s, speed, heavy);

        let mut offsets = vec![0.0; arrivals.len()];
        let mut end_s = start_s;
        for (k, &member) in party.iter().enumerate() {
            if k > 0 {
                for o in offsets.iter_mut() {
                    *o += self.traffic.random_range(CONVOY_GAP_S.0..CONVOY_GAP_S.1);
                }
            }
            let times: Vec<f64> = arrivals.iter().zip(&offsets).map(|(a, o)| a + o).collect();
            self.schedule(trip, member, &route, &times);
            end_s = end_s.max(times.last().copied().unwrap_or(start_s));
        }
        let rest_s = self.traffic.random_range(20.0..240.0) * 60.0;
        let busy_until = ((end_s + rest_s) * 1000.0) as i64;
        let destination = if route.crosses { side.other() } else { side };
        for &m in &party {
            self.busy_until_ms[m as usize] = busy_until;
            self.side[m as usize] = destination;
        }
    }

    /// When the trip reaches each station of its route, seconds after the start.
    fn arrivals(&mut self, route: &Route, start_s: f64, speed: f64, heavy: bool) -> Vec<f64> {
        let region = &self.cfg.region;
        let mut t = start_s;
        let mut times = Vec::with_capacity(route.stations.len());
        for (i, &s) in route.stations.iter().enumerate() {
            if i > 0 {
                let leg = s.min(route.stations[i - 1]);
                let metres = region.leg_m[leg] * region::ROAD_FACTOR;
                t += if leg + 1 == region.crossing {
                    let wait = if heavy { region.truck_wait } else { region.car_wait };
                    wait.quantile(self.traffic.random()) * 60.0 + metres / CHECKPOINT_SPEED
                } else {
                    metres / speed * self.traffic.random_range(0.92..1.08)
                };
            }
            times.push(t);
        }
        times
    }

    /// Schedules the reads of one vehicle passing the route's stations at `times`.
    fn schedule(&mut self, trip: u64, vehicle: u32, route: &Route, times: &[f64]) {
        let region = &self.cfg.region;
        let mut reads = Vec::new();
        for (&station, &t) in route.stations.iter().zip(times) {
            for site in &region.stations[station].sites {
                if site.sees(route.travel) && self.traffic.random_bool(site.read_rate) {
                    let direction =
                        if site.approaching(route.travel) { Direction::Approaching } else { Direction::Leaving };
                    let jitter = self.traffic.random_range(0.0..0.8);
                    reads.push((t + jitter, site.camera, direction, 0.0));
                }
            }
        }
        let patrol = &region.patrol;
        if covers(route, patrol.leg) && self.traffic.random_bool(patrol.read_rate) {
            let at = |station: usize| route.stations.iter().position(|&s| s == station).map(|i| times[i]);
            if let (Some(t0), Some(t1)) = (at(patrol.leg), at(patrol.leg + 1)) {
                let fraction = self.traffic.random_range(0.15..0.85);
                let direction = if self.traffic.random_bool(0.6) { Direction::Approaching } else { Direction::Leaving };
                reads.push((t0 + (t1 - t0) * fraction, patrol.camera, direction, fraction));
            }
        }
        let drone = &region.drone;
        if route.crosses && self.traffic.random_bool(drone.read_rate) {
            let at = |station: usize| route.stations.iter().position(|&s| s == station).map(|i| times[i]);
            if let (Some(t0), Some(t1)) = (at(region.crossing - 1), at(region.crossing)) {
                let (first, last) = (t0.min(t1), t0.max(t1));
                let t = first + (last - first) * self.traffic.random_range(0.05..0.95);
                reads.push((t, drone.camera, Direction::Unknown, 0.0));
            }
        }
        for (t, camera, direction, fraction) in reads {
            let time_ms = (t * 1000.0).round() as i64;
            if time_ms < 0 {
                continue;
            }
            self.seq += 1;
            self.pending.push(Reverse(Pending {
                time_ms,
                seq: self.seq,
                trip,
                vehicle,
                camera: camera as u16,
                direction,
                fraction: fraction as f32,
            }));
        }
    }

    /// Turns a scheduled read into what the camera reports.
    fn emit(&mut self, p: Pending) -> SimRead {
        let region = &self.cfg.region;
        let vehicle = &self.fleet.vehicles[p.vehicle as usize];
        let camera = region.camera(p.camera as usize);
        let rng = &mut self.reads;
        let style = Style {
            errors: &self.cfg.error_model,
            variations: &self.cfg.variations,
            cyrillic_rate: self.cfg.cyrillic_rate,
        };
        let rendered = ocr::render(rng, &vehicle.plate, &vehicle.printed, vehicle.country, style);

        let mut confidence = rng.random_range(0.86..0.99) - 0.1 * rendered.errors.character_errors() as f64;
        if rendered.errors.cyrillic || rendered.errors.diacritics {
            confidence -= 0.04;
        }
        let confidence = round3(confidence.clamp(0.35, 0.99));
        let country = if rng.random_bool(self.cfg.no_country_rate) {
            None
        } else {
            Some(Scored { value: vehicle.country, confidence: Some(round3(rng.random_range(0.7..0.99))) })
        };
        let plate_type = (camera.kind == CameraKind::Anpr)
            .then(|| Scored { value: "normal".to_owned(), confidence: Some(round3(rng.random_range(0.9..0.99))) });

        let mut colour = vehicle.colour;
        if rng.random_bool(0.05) {
            let colours: Vec<&'static str> = fleet::colours().collect();
            colour = colours[rng.random_range(0..colours.len())];
        }
        let make = rng.random_bool(0.9).then(|| vehicle.make.to_owned());
        let (make, colour, class) = match camera.kind {
            CameraKind::Anpr => (make, Some(colour), Some(vehicle.class)),
            CameraKind::Fixed => (None, Some(colour), Some(vehicle.class)),
            CameraKind::Mobile => (make, Some(colour), None),
            CameraKind::Drone => (None, Some(colour), Some(vehicle.class)),
        };
        let info = VehicleInfo { make, colour: colour.map(str::to_owned), class: class.map(|c| c.as_str().to_owned()) };

        let position = match camera.kind {
            CameraKind::Drone => Some(region.drone.position(self.start_unix_ms + p.time_ms)),
            CameraKind::Mobile => Some(region.along(region.patrol.leg, f64::from(p.fraction))),
            CameraKind::Anpr | CameraKind::Fixed => None,
        };
        let read = PlateRead {
            camera: camera.id.clone(),
            time: self.cfg.start + TimeDelta::milliseconds(p.time_ms),
            plate: PlateInfo {
                text: Scored { value: rendered.text, confidence: Some(confidence) },
                plate_type,
                country,
                issuing_entity: None,
            },
            direction: p.direction,
            position,
            vehicle: Some(info),
            images: Vec::new(),
        };
        let truth = Truth {
            vehicle: u64::from(p.vehicle),
            plate: vehicle.plate.clone(),
            country: vehicle.country,
            hotlisted: vehicle.hotlisted,
            errors: rendered.errors,
            convoy: vehicle.convoy.map(u64::from),
            trip: p.trip,
        };
        SimRead { read, truth }
    }

    /// The start of the simulated time.
    pub fn start(&self) -> DateTime<Utc> {
        self.cfg.start
    }
}

impl Iterator for Simulator {
    type Item = SimRead;

    /// The next read in time order; never `None`.
    fn next(&mut self) -> Option<SimRead> {
        // A trip's reads all come at or after its start, so once the next trip starts later
        // than the earliest pending read, that read is the next one.
        loop {
            let next_trip_ms = (self.next_trip_s * 1000.0).round() as i64;
            match self.pending.peek() {
                Some(Reverse(p)) if p.time_ms < next_trip_ms => break,
                _ => self.start_trip(),
            }
        }
        let Reverse(p) = self.pending.pop()?;
        Some(self.emit(p))
    }
}

fn fleet_speed_mps(kmh: f64) -> f64 {
    kmh / 3.6
}

fn round3(x: f64) -> f32 {
    ((x * 1000.0).round() / 1000.0) as f32
}

fn pick(rng: &mut ChaCha8Rng, range: std::ops::Range<usize>) -> usize {
    rng.random_range(range)
}

/// Whether the route drives the whole of leg `leg`.
fn covers(route: &Route, leg: usize) -> bool {
    route.stations.windows(2).any(|w| w[0].min(w[1]) == leg)
}

/// A vehicle index, with probability proportional to its activity (`cumulative` sums them).
fn by_activity(rng: &mut ChaCha8Rng, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let x = rng.random::<f64>() * total;
    cumulative.partition_point(|&c| c <= x).min(cumulative.len() - 1)
}

/// Where a vehicle on `side` drives next.
fn route(rng: &mut ChaCha8Rng, region: &Region, vehicle: &Vehicle, side: Side) -> Route {
    let p_cross = match region.side_of(vehicle.country) {
        None => CROSS_FOREIGN,
        Some(home) if home == side => CROSS_FROM_HOME,
        Some(_) => CROSS_FROM_ABROAD,
    };
    let interior = region.interior(side);
    if interior.is_empty() || rng.random_bool(p_cross) {
        let from = pick(rng, region.stations_of(side));
        let to = pick(rng, region.stations_of(side.other()));
        let (travel, stations) = match side {
            Side::A => (Travel::AToB, (from..=to).collect()),
            Side::B => (Travel::BToA, (to..=from).rev().collect()),
        };
        Route { travel, stations, crosses: true }
    } else {
        let (a, b) = (pick(rng, interior.clone()), pick(rng, interior));
        let (a, b) = (a.min(b), a.max(b));
        if rng.random_bool(0.5) {
            Route { travel: Travel::AToB, stations: (a..=b).collect(), crosses: false }
        } else {
            Route { travel: Travel::BToA, stations: (a..=b).rev().collect(), crosses: false }
        }
    }
}
