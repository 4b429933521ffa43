//! The simulator: trips of the fleet along the corridor, turned into plate reads in time order.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

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

/// A read scheduled for later: small, because a busy region holds millions.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Milliseconds after the start.
    time_ms: i64,
    trip: u64,
    vehicle: u32,
    camera: u16,
    /// What the camera's kind needs: for a fixed camera 0 if the vehicle approached and 1 if it
    /// left; for the patrol car how far along its leg the read happened, in 65535ths.
    detail: u16,
}

impl Pending {
    /// Orders reads by time, then totally (a vehicle passes a camera once per trip), so that the
    /// stream is deterministic.
    fn key(&self) -> (i64, u64, u32, u16) {
        (self.time_ms, self.trip, self.vehicle, self.camera)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
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
        self.key().cmp(&other.key())
    }
}

/// Chance that a vehicle crosses the border on its next trip rather than driving locally.
const CROSS_FROM_HOME: f64 = 0.5;
const CROSS_FROM_ABROAD: f64 = 0.8;
const CROSS_FOREIGN: f64 = 0.9;

/// Queueing speed through the checkpoints, m/s (15 km/h).
const CHECKPOINT_SPEED: f64 = 15.0 / 3.6;

/// Minutes a vehicle stays put after a trip, at least.
const REST_MIN: (f64, f64) = (5.0, 60.0);

/// A trip takes one of this many parties that have waited longest.
const PICK_AMONG: usize = 16;

/// Seconds between convoy members at each camera.
const CONVOY_GAP_S: (f64, f64) = (1.5, 6.0);

/// A trip's route: the stations it passes, in the order it passes them.
#[derive(Debug, Clone)]
struct Route {
    travel: Travel,
    stations: Vec<usize>,
    crosses: bool,
}

/// Parties that are busy, in buckets by the minute they are free again: a timing wheel, because
/// a heap of a million busy parties costs more than all else the simulator does.
#[derive(Debug, Default)]
struct Wheel {
    /// The minute (since the Unix epoch of the start, in whole minutes) of the first bucket.
    first_minute: i64,
    buckets: VecDeque<Vec<u32>>,
}

impl Wheel {
    /// Marks `party` free from the minute after `free_ms`.
    fn push(&mut self, free_ms: i64, party: u32) {
        let minute = free_ms.div_euclid(60_000) + 1;
        if self.buckets.is_empty() {
            self.first_minute = minute;
        }
        if minute < self.first_minute {
            let missing = (self.first_minute - minute) as usize;
            for _ in 0..missing {
                self.buckets.push_front(Vec::new());
            }
            self.first_minute = minute;
        }
        let index = (minute - self.first_minute) as usize;
        if self.buckets.len() <= index {
            self.buckets.resize_with(index + 1, Vec::new);
        }
        self.buckets[index].push(party);
    }

    /// Moves the parties free by `now_ms` to the back of `free`.
    fn release(&mut self, now_ms: i64, free: &mut VecDeque<u32>) {
        let now = now_ms.div_euclid(60_000);
        while self.first_minute <= now {
            let Some(bucket) = self.buckets.pop_front() else {
                break;
            };
            free.extend(bucket);
            self.first_minute += 1;
        }
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
    trips: u64,
    trips_skipped: u64,
    /// Parties free to travel, those that have waited longest first.
    free: VecDeque<u32>,
    /// Parties on the road or resting, by the minute they are free again.
    busy: Wheel,
    /// The side of the border each party is on.
    side: Vec<Side>,
}

impl Simulator {
    /// A simulator for `cfg`; fails if the configuration is out of range.
    pub fn new(cfg: SimConfig) -> Result<Simulator, ConfigError> {
        cfg.validate()?;
        let fleet = Fleet::generate(&cfg);
        let mut traffic = crate::rng(cfg.seed, Stream::Traffic);
        let free = fleet::shuffled(&mut traffic, fleet.parties.len()).into_iter().map(|p| p as u32).collect();
        let mut sim = Simulator {
            start_unix_ms: cfg.start.timestamp_millis(),
            traffic,
            reads: crate::rng(cfg.seed, Stream::Reads),
            pending: BinaryHeap::new(),
            next_trip_s: 0.0,
            mean_gap_s: 1.0,
            trips: 0,
            trips_skipped: 0,
            free,
            busy: Wheel::default(),
            side: Vec::new(),
            fleet,
            cfg,
        };
        // Start in the long-run state: some vehicles are abroad already.
        let abroad = CROSS_FROM_HOME / (CROSS_FROM_HOME + CROSS_FROM_ABROAD);
        sim.side = (sim.fleet.parties.iter())
            .map(|p| {
                let home = sim.fleet.vehicles[p.leader()].home;
                if sim.traffic.random_bool(abroad) { home.other() } else { home }
            })
            .collect();
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

    /// How many trips could not start because every vehicle was on the road or resting: more
    /// than a few means the fleet is too small for the rate, and the rate falls short.
    pub fn trips_skipped(&self) -> u64 {
        self.trips_skipped
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
        let parties = &self.fleet.parties;
        // Domestic vehicles are abroad this share of the time in the long run.
        let abroad = CROSS_FROM_HOME / (CROSS_FROM_HOME + CROSS_FROM_ABROAD);
        let mut total = 0.0;
        const SAMPLES: usize = 4096;
        for _ in 0..SAMPLES {
            let party = &parties[rng.random_range(0..parties.len())];
            let vehicle = &self.fleet.vehicles[party.leader()];
            let side = if rng.random_bool(abroad) { vehicle.home.other() } else { vehicle.home };
            let route = route(&mut rng, &self.cfg.region, vehicle, side);
            total += party.members().len() as f64 * self.expected_reads(&route);
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

    /// A party free to start a trip at `at_ms`: one of those that have waited longest.
    fn pick_party(&mut self, at_ms: i64) -> Option<usize> {
        self.busy.release(at_ms, &mut self.free);
        if self.free.is_empty() {
            return None;
        }
        let i = self.traffic.random_range(0..self.free.len().min(PICK_AMONG));
        self.free.remove(i).map(|p| p as usize)
    }

    /// Starts the next trip and schedules its reads.
    fn start_trip(&mut self) {
        let start_s = self.next_trip_s;
        let gap = -(1.0 - self.traffic.random::<f64>()).ln() * self.mean_gap_s;
        self.next_trip_s += gap;
        let start_ms = (start_s * 1000.0).round() as i64;
        let Some(party_index) = self.pick_party(start_ms) else {
            self.trips_skipped += 1;
            return;
        };
        self.trips += 1;
        let trip = self.trips;
        let party = self.fleet.parties[party_index];
        let leader = party.leader();
        let side = self.side[party_index];
        let route = route(&mut self.traffic, &self.cfg.region, &self.fleet.vehicles[leader], side);

        // The party drives at the pace of its slowest member and queues in the lorry lanes if it
        // has a lorry or a coach.
        let heavy = party.members().iter().any(|&m| self.fleet.vehicles[m as usize].class.heavy());
        let class = if heavy { fleet::Class::Truck } else { self.fleet.vehicles[leader].class };
        let (low, high) = class.speed_kmh();
        let speed = fleet_speed_mps(self.traffic.random_range(low..high));
        let arrivals = self.arrivals(&route, start_s, speed, heavy);

        // Reads come from the last station at the latest; trips over before the start (while
        // warming up) only keep their vehicles busy.
        let members = party.members().len() as f64;
        let last_s = arrivals.last().copied().unwrap_or(start_s) + members * CONVOY_GAP_S.1;
        if last_s >= 0.0 {
            let mut offsets = vec![0.0; arrivals.len()];
            for (k, &member) in party.members().iter().enumerate() {
                if k > 0 {
                    for o in offsets.iter_mut() {
                        *o += self.traffic.random_range(CONVOY_GAP_S.0..CONVOY_GAP_S.1);
                    }
                }
                let times: Vec<f64> = arrivals.iter().zip(&offsets).map(|(a, o)| a + o).collect();
                self.schedule(trip, member, &route, &times);
            }
        }
        let rest_s = self.traffic.random_range(REST_MIN.0..REST_MIN.1) * 60.0;
        self.busy.push(((last_s + rest_s) * 1000.0) as i64, party_index as u32);
        if route.crosses {
            self.side[party_index] = side.other();
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
                    let leaving = u16::from(!site.approaching(route.travel));
                    let jitter = self.traffic.random_range(0.0..0.8);
                    reads.push((t + jitter, site.camera, leaving));
                }
            }
        }
        let patrol = &region.patrol;
        if covers(route, patrol.leg) && self.traffic.random_bool(patrol.read_rate) {
            let at = |station: usize| route.stations.iter().position(|&s| s == station).map(|i| times[i]);
            if let (Some(t0), Some(t1)) = (at(patrol.leg), at(patrol.leg + 1)) {
                let fraction = self.traffic.random_range(0.15..0.85);
                let detail = (fraction * f64::from(u16::MAX)).round() as u16;
                reads.push((t0 + (t1 - t0) * fraction, patrol.camera, detail));
            }
        }
        let drone = &region.drone;
        if route.crosses && self.traffic.random_bool(drone.read_rate) {
            let at = |station: usize| route.stations.iter().position(|&s| s == station).map(|i| times[i]);
            if let (Some(t0), Some(t1)) = (at(region.crossing - 1), at(region.crossing)) {
                let (first, last) = (t0.min(t1), t0.max(t1));
                let t = first + (last - first) * self.traffic.random_range(0.05..0.95);
                reads.push((t, drone.camera, 0));
            }
        }
        for (t, camera, detail) in reads {
            let time_ms = (t * 1000.0).round() as i64;
            if time_ms < 0 {
                continue;
            }
            self.pending.push(Reverse(Pending { time_ms, trip, vehicle, camera: camera as u16, detail }));
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
        let plate = vehicle.plate.text();
        let rendered = ocr::render(rng, &plate, &vehicle.printed(&plate), vehicle.country, style);

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

        let model = &self.cfg.vehicle_model;
        let colour = fleet::seen_colour(rng, vehicle.attributes().2, model);
        let make = rng.random_bool(model.make_reported).then(|| fleet::seen_make(rng, vehicle, model).to_owned());
        let (make, colour, class) = match camera.kind {
            CameraKind::Anpr => (make, Some(colour), Some(vehicle.class)),
            CameraKind::Fixed => (None, Some(colour), Some(vehicle.class)),
            CameraKind::Mobile => (make, Some(colour), None),
            CameraKind::Drone => (None, Some(colour), Some(vehicle.class)),
        };
        let info = VehicleInfo { make, colour: colour.map(str::to_owned), class: class.map(|c| c.as_str().to_owned()) };

        let (position, direction) = match camera.kind {
            CameraKind::Drone => (Some(region.drone.position(self.start_unix_ms + p.time_ms)), Direction::Unknown),
            CameraKind::Mobile => {
                // The patrol car reads oncoming traffic and the vehicles overtaking it.
                let fraction = f64::from(p.detail) / f64::from(u16::MAX);
                let direction = if rng.random_bool(0.6) { Direction::Approaching } else { Direction::Leaving };
                (Some(region.along(region.patrol.leg, fraction)), direction)
            }
            CameraKind::Anpr | CameraKind::Fixed => {
                (None, if p.detail == 0 { Direction::Approaching } else { Direction::Leaving })
            }
        };
        let read = PlateRead {
            exercise: false,
            camera: camera.id.clone(),
            time: self.cfg.start + TimeDelta::milliseconds(p.time_ms),
            plate: PlateInfo {
                text: Scored { value: rendered.text, confidence: Some(confidence) },
                plate_type,
                country,
                issuing_entity: None,
            },
            direction,
            position,
            vehicle: Some(info),
            images: Vec::new(),
        };
        let truth = Truth {
            vehicle: u64::from(p.vehicle),
            plate,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_read_stays_small() {
        assert_eq!(std::mem::size_of::<Pending>(), 24);
    }

    #[test]
    fn the_wheel_frees_parties_by_the_minute_in_order() {
        let mut wheel = Wheel::default();
        let mut free = VecDeque::new();
        wheel.push(125_000, 1); // free from minute 3
        wheel.push(-30_000, 2); // free from minute 0
        wheel.push(179_999, 3); // free from minute 3
        wheel.release(59_999, &mut free);
        assert_eq!(free, [2]);
        wheel.release(179_999, &mut free);
        assert_eq!(free, [2]);
        wheel.release(180_000, &mut free);
        assert_eq!(free, [2, 1, 3]);
        wheel.release(10_000_000, &mut free);
        wheel.push(10_000_000, 4); // in minute 166, free from minute 167
        wheel.release(10_019_999, &mut free);
        assert_eq!(free.len(), 3);
        wheel.release(10_020_000, &mut free);
        assert_eq!(free, [2, 1, 3, 4]);
    }
}
