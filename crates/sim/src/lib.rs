//! Deterministic traffic for a border region, with the truth behind every read.
//!
//! `limes simulate` and the matching-quality measurements use this crate to make plate reads as
//! the cameras of a border region would send them, and to know what really passed.
//!
//! * [`Region`] is a preset border region: cameras of both countries' agencies along the road to
//!   one crossing ([`Region::ro_ua`], [`Region::ro_rs`], [`Region::cz_pl`]), the wait at the
//!   border, and the country mix of the traffic.
//! * [`SimConfig`] holds everything a run depends on: the seed, the region, the start time, the
//!   fleet, the read rate, the share of hotlisted vehicles and convoys, and the [`ErrorModel`]
//!   and [`Variations`] of the readers.
//! * [`Simulator`] is an endless iterator of [`SimRead`]s in time order: a
//!   [`limes_model::PlateRead`] and its [`Truth`] — the vehicle, its canonical plate and country,
//!   whether it is hotlisted, and the [`ReadErrors`] the read's text suffers.
//! * [`hotlist`] makes the hotlist that goes with the fleet: its hotlisted vehicles and any
//!   number of filler entries.
//!
//! * [`picture`] draws plates of the region's countries into photographs under clean and
//!   degraded conditions, with the truth beside each: the evaluation set of the node's own plate
//!   recognition.
//!
//! The crate does no I/O and never reads the clock: the same configuration gives the same
//! reads, byte for byte, on the same platform.
//!
//! # Errors in the reads
//!
//! Each character of the true plate is, independently, read as its look-alike (O↔0, D→0, Q→0,
//! I↔1, B↔8, S↔5, Z↔2, G↔6; [`ErrorModel::lookalike`], 2 % by default, of the characters that
//! have one), as another character ([`ErrorModel::other`], 0.5 %), or dropped or followed by an
//! extra one ([`ErrorModel::drop_insert`], 0.3 %). The text is then given its form: the printed
//! form's separators, none, or others ([`Variations`]); Cyrillic look-alike letters for a share
//! of UA, BG and RS plates ([`SimConfig::cyrillic_rate`]); diacritics or lower case now and
//! then. A share of reads ([`SimConfig::no_country_rate`], 5 %) reports no country.
//!
//! [`ReadErrors`] counts the character errors and tells from the text itself which cosmetic
//! differences it shows; [`ReadErrors::class`] is the worst of them, ordered
//! `Exact < Cosmetic < LookAlike < Substitution < DropInsert`. A `Cosmetic` read cleans
//! ([`limes_plate::clean`]) to the true plate; a `LookAlike` one has the true plate's look-alike
//! key ([`limes_plate::lookalike_key`]). So "recall on reads that differ only by look-alikes,
//! separators, diacritics or Cyrillic" is recall over reads with `class() <= LookAlike`.
//!
//! # Rate and fleet
//!
//! Trips start at random (a Poisson process) at the pace that gives
//! [`SimConfig::reads_per_second`] on average, so a sender pacing at that rate sends reads whose
//! times keep up with the clock. A vehicle makes one trip at a time and rests after it, so the
//! fleet must be large enough for the rate ([`SimConfig::vehicles`]);
//! [`Simulator::trips_skipped`] tells when it is not.
//!
//! ```
//! use limes_sim::{hotlist, ErrorClass, Region, SimConfig, Simulator};
//!
//! let cfg = SimConfig { seed: 7, region: Region::ro_ua(), vehicles: 2_000, ..SimConfig::default() };
//! let reads: Vec<_> = Simulator::new(cfg.clone())?.take(1_000).collect();
//! assert!(reads.windows(2).all(|w| w[0].read.time <= w[1].read.time));
//! assert!(reads.iter().all(|r| r.read.time >= cfg.start));
//!
//! // Reads that a matcher must find: hotlisted, and wrong only by look-alikes or in form.
//! let must_find = reads
//!     .iter()
//!     .filter(|r| r.truth.hotlisted && r.truth.errors.class() <= ErrorClass::LookAlike)
//!     .count();
//! assert!(must_find <= reads.len());
//!
//! let entries: Vec<_> = hotlist(&cfg, 5_000)?.collect();
//! assert_eq!(entries.len(), 5_000);
//! # Ok::<(), limes_sim::ConfigError>(())
//! ```

use chrono::{DateTime, TimeZone, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

mod fleet;
mod hotlist;
mod ocr;
pub mod picture;
mod region;
mod traffic;

pub use hotlist::{Hotlist, hotlist};
pub use ocr::{ErrorClass, ErrorModel, ReadErrors, Variations};
pub use region::Region;
pub use traffic::{SimRead, Simulator, Truth};

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A share or probability outside `0..=1` (or not a number).
    #[error("{field} is {value}, not a probability in 0..=1")]
    Probability { field: &'static str, value: f64 },
    /// No vehicles, or more than the simulator numbers.
    #[error("vehicles is {0}, must be 1 to 4294967295")]
    Vehicles(usize),
    /// A read rate that is not a positive number.
    #[error("reads_per_second is {0}, must be a positive number")]
    ReadsPerSecond(f64),
}

/// Everything a simulation depends on.
///
/// The default is the matching-quality measurement's setting: [`ErrorModel::default`] (2 %
/// look-alike, 0.5 % other substitution, 0.3 % dropped or inserted character), 5 % of reads
/// without a country, on the Romania–Ukraine region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Seeds every random choice: the same seed gives the same fleet, traffic and reads.
    pub seed: u64,
    /// The border region, written as its name (`ro-ua`, `ro-rs`, `cz-pl`).
    pub region: Region,
    /// The time of the first possible read; traffic already on the road then is included.
    pub start: DateTime<Utc>,
    /// Fleet size. A vehicle makes one trip at a time and rests between trips, so a fleet too
    /// small for the rate cannot keep it up: allow about 2,000 vehicles per read per second.
    pub vehicles: usize,
    /// Mean reads per second of simulated time.
    pub reads_per_second: f64,
    /// Share of the fleet on the hotlist.
    pub hotlist_fraction: f64,
    /// Share of the fleet that drives in convoys of 2 to 4 vehicles.
    pub convoy_fraction: f64,
    /// Per-character errors of the readers.
    pub error_model: ErrorModel,
    /// Share of reads that report no country.
    pub no_country_rate: f64,
    /// Share of reads of UA, BG and RS plates reported in Cyrillic look-alike letters.
    pub cyrillic_rate: f64,
    /// Separators, diacritics and case of the reported text.
    pub variations: Variations,
    /// How readers recognise make and colour, and how hotlists describe vehicles.
    pub vehicle_model: VehicleModel,
}

/// Make and colour: what readers report and how often they are wrong, and what hotlist
/// entries say about the vehicle.
///
/// The defaults are meant to be on the pessimistic side of published make-and-model
/// recognition (about 90 to 95 % right on the make) and of colour classification (white,
/// silver and grey, black and dark blue confused in poor light and at night). A wrong
/// make is another make of the same body type; a wrong colour is mostly a neighbouring
/// one ([`VehicleModel::colour_far`] of the wrong ones are any colour).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VehicleModel {
    /// Share of reads from cameras with a make classifier (ANPR and patrol cameras) that
    /// report a make.
    pub make_reported: f64,
    /// Share of reported makes that are wrong.
    pub make_wrong: f64,
    /// Share of reported colours that are wrong.
    pub colour_wrong: f64,
    /// Share of wrong colours that are any colour rather than a neighbouring one.
    pub colour_far: f64,
    /// Share of hotlist entries that name the vehicle's make.
    pub entry_make: f64,
    /// Share of hotlist entries that name the vehicle's colour.
    pub entry_colour: f64,
    /// Share of hotlist descriptions that are wrong (repainted, mistyped): another make or
    /// colour than the vehicle's.
    pub entry_wrong: f64,
}

impl Default for VehicleModel {
    fn default() -> Self {
        VehicleModel {
            make_reported: 0.9,
            make_wrong: 0.08,
            colour_wrong: 0.12,
            colour_far: 0.25,
            entry_make: 0.9,
            entry_colour: 0.8,
            entry_wrong: 0.01,
        }
    }
}

impl VehicleModel {
    /// Readers and hotlists that say nothing about vehicles.
    pub const SILENT: VehicleModel = VehicleModel {
        make_reported: 0.0,
        make_wrong: 0.0,
        colour_wrong: 0.0,
        colour_far: 0.0,
        entry_make: 0.0,
        entry_colour: 0.0,
        entry_wrong: 0.0,
    };

    fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("vehicle_model.make_reported", self.make_reported),
            ("vehicle_model.make_wrong", self.make_wrong),
            ("vehicle_model.colour_wrong", self.colour_wrong),
            ("vehicle_model.colour_far", self.colour_far),
            ("vehicle_model.entry_make", self.entry_make),
            ("vehicle_model.entry_colour", self.entry_colour),
            ("vehicle_model.entry_wrong", self.entry_wrong),
        ] {
            check_probability(field, value)?;
        }
        Ok(())
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            region: Region::ro_ua(),
            start: Utc.with_ymd_and_hms(2026, 6, 1, 6, 0, 0).single().expect("a valid date"),
            vehicles: 20_000,
            reads_per_second: 1.0,
            hotlist_fraction: 0.01,
            convoy_fraction: 0.03,
            error_model: ErrorModel::default(),
            no_country_rate: 0.05,
            cyrillic_rate: 0.15,
            variations: Variations::default(),
            vehicle_model: VehicleModel::default(),
        }
    }
}

impl SimConfig {
    /// Checks that every share is a probability and the fleet and rate are usable.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vehicles == 0 || u32::try_from(self.vehicles).is_err() {
            return Err(ConfigError::Vehicles(self.vehicles));
        }
        if !(self.reads_per_second.is_finite() && self.reads_per_second > 0.0) {
            return Err(ConfigError::ReadsPerSecond(self.reads_per_second));
        }
        check_probability("hotlist_fraction", self.hotlist_fraction)?;
        check_probability("convoy_fraction", self.convoy_fraction)?;
        check_probability("no_country_rate", self.no_country_rate)?;
        check_probability("cyrillic_rate", self.cyrillic_rate)?;
        self.error_model.validate()?;
        self.vehicle_model.validate()?;
        self.variations.validate()
    }
}

pub(crate) fn check_probability(field: &'static str, value: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&value) { Ok(()) } else { Err(ConfigError::Probability { field, value }) }
}

/// The independent random streams of a simulation: changing how one is used leaves the others.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Fleet = 1,
    Traffic = 2,
    Reads = 3,
    Hotlist = 4,
    Pilot = 5,
}

pub(crate) fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}
