//! Matching quality on simulated traffic: recall of hotlisted vehicles and false
//! alerts, with the issue's reader error model.
//!
//! Reads come from `limes_sim::Simulator` with the default [`ErrorModel`] (2 %
//! look-alike substitution, 0.5 % other substitution, 0.3 % dropped or inserted
//! character per character; 5 % of reads without a country) and go, in process,
//! through `normalize` and `HotlistIndex::match_read_into` at the read's time, as
//! the node's ingest path does. Each read carries its truth, so every alert can
//! be judged: an alert is right when the entry's plate is the vehicle's true
//! plate. `limes_sim::hotlist` never gives a filler entry a plate any vehicle of
//! the fleet carries, so an alert on an entry with another plate is false.
//!
//! Hits then go through [`MatchPolicy::apply`] with the read's camera's
//! [`ConfidenceCalibration`]: each read is judged against the camera's reads before
//! it and counted in after, as the node does. Besides the main figures (the node's
//! default policy, or `--camera-quantile`), the trade-off curves of an absolute
//! confidence threshold and of the camera quantile are printed, with and without the
//! vehicle check. `--confidence-scale` puts the simulated readers on other vendors'
//! scales (all compressed to 0.5 + c/2, or a mix of three scales) to show which rule
//! depends on the scale.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use anyhow::bail;
use limes_hotlist::{ConfidenceCalibration, Hit, HotlistIndex, MatchPolicy};
use limes_model::{CameraId, Demotion, HotlistEntry, MatchKind};
use limes_plate::{Normalized, PlateText, clean, lookalike_key, normalize};
use limes_sim::{ErrorClass, ErrorModel, Simulator, VehicleModel};

use super::{BenchArgs, figure};

/// Examples of each kind of mistake printed to stderr.
const EXAMPLES: usize = 8;

const CLASSES: [ErrorClass; 5] =
    [ErrorClass::Exact, ErrorClass::Cosmetic, ErrorClass::LookAlike, ErrorClass::Substitution, ErrorClass::DropInsert];

/// Counts for one group of reads.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    reads: u64,
    /// Reads of hotlisted vehicles whose entry is live at the read's time.
    hotlisted: u64,
    /// Of those, reads with an alert of any kind on an entry with the true plate.
    found: u64,
    /// Of those, reads with a confirmed alert on an entry with the true plate.
    found_confirmed: u64,
    /// Alerts on entries whose plate is not the read's true plate.
    false_confirmed: u64,
    false_possible: u64,
    /// Reads `normalize` refused.
    unreadable: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.reads += o.reads;
        self.hotlisted += o.hotlisted;
        self.found += o.found;
        self.found_confirmed += o.found_confirmed;
        self.false_confirmed += o.false_confirmed;
        self.false_possible += o.false_possible;
        self.unreadable += o.unreadable;
    }

    fn recall(&self) -> f64 {
        ratio(self.found, self.hotlisted)
    }

    fn recall_confirmed(&self) -> f64 {
        ratio(self.found_confirmed, self.hotlisted)
    }

    fn per_10k(&self, n: u64) -> f64 {
        1e4 * ratio(n, self.reads)
    }

    fn line(&self, name: &str) -> String {
        format!(
            "{name:<22} {:>9} {:>9} {:>9.4} {:>9.4} {:>9} {:>9} {:>7}",
            self.reads,
            self.hotlisted,
            self.recall(),
            self.recall_confirmed(),
            self.false_confirmed,
            self.false_possible,
            self.unreadable
        )
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { f64::NAN } else { a as f64 / b as f64 }
}

fn class_name(c: ErrorClass) -> &'static str {
    match c {
        ErrorClass::Exact => "exact",
        ErrorClass::Cosmetic => "cosmetic",
        ErrorClass::LookAlike => "look-alike",
        ErrorClass::Substitution => "substitution",
        ErrorClass::DropInsert => "drop/insert",
    }
}

/// Thresholds of [`MatchPolicy::confirm_min_confidence`] whose trade-off is reported.
const CURVE: [f32; 7] = [0.0, 0.7, 0.75, 0.8, 0.82, 0.85, 0.9];

/// Quantiles of [`MatchPolicy::confirm_min_camera_quantile`] whose trade-off is reported.
const QUANTILES: [f32; 8] = [0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15];

/// What a policy makes of the hits of every read.
#[derive(Debug, Clone, Copy, Default)]
struct CurvePoint {
    /// Confirmed alerts on a hotlisted vehicle's read, for its own entry.
    true_confirmed: u64,
    /// Confirmed alerts on an entry whose plate is not the vehicle's.
    false_confirmed: u64,
    /// Possible alerts on an entry whose plate is not the vehicle's.
    false_possible: u64,
}

impl CurvePoint {
    /// Counts what `policy` makes of the hits of `read` (`tried` is scratch space).
    fn add(&mut self, policy: &MatchPolicy, read: &Trial<'_>, tried: &mut Vec<Hit>) {
        tried.clear();
        tried.extend_from_slice(read.hits);
        policy.apply(read.confidence, Some(read.camera), read.vehicle, read.index, tried);
        for hit in tried.iter() {
            let right = read.entries[read.by_id[&hit.entry_id]].plate == *read.plate;
            match (right, hit.kind) {
                (true, MatchKind::Confirmed) => self.true_confirmed += u64::from(read.counted),
                (true, MatchKind::Possible) => {}
                (false, MatchKind::Confirmed) => self.false_confirmed += 1,
                (false, MatchKind::Possible) => self.false_possible += 1,
            }
        }
    }
}

/// One read's hits before any policy, and what a policy and the scoring need.
struct Trial<'a> {
    hits: &'a [Hit],
    confidence: Option<f32>,
    camera: &'a ConfidenceCalibration,
    vehicle: Option<&'a limes_model::VehicleInfo>,
    index: &'a HotlistIndex,
    entries: &'a [HotlistEntry],
    by_id: &'a HashMap<u64, usize>,
    /// The vehicle's true plate.
    plate: &'a PlateText,
    /// Whether the read is of a hotlisted vehicle whose entry is live.
    counted: bool,
}

/// How the simulated readers' confidences are put on a vendor's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    /// As the simulator gives them.
    Identity,
    /// Every camera reports 0.5 + c/2.
    Compressed,
    /// The cameras in turn (by first read) report c, 0.5 + c/2 and c².
    Mixed,
}

impl Scale {
    fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "identity" => Self::Identity,
            "compressed" => Self::Compressed,
            "mixed" => Self::Mixed,
            other => bail!("unknown confidence scale {other:?}: use identity, compressed or mixed"),
        })
    }

    /// The confidence camera number `camera` reports for `c`.
    fn apply(self, camera: usize, c: f32) -> f32 {
        match (self, camera % 3) {
            (Self::Identity, _) | (Self::Mixed, 0) => c,
            (Self::Compressed, _) | (Self::Mixed, 1) => 0.5 + c / 2.0,
            (Self::Mixed, _) => c * c,
        }
    }
}

/// Why a possible alert was raised, as far as the read and the entry tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum PossibleSource {
    /// A text of the read equals the entry's plate, but the countries disagree.
    SameText,
    /// A text of the read has the entry's look-alike fold.
    LookAlike,
    /// The entry is flagged fuzzy and lies one edit away.
    Fuzzy,
}

/// Whether the read's text, or a candidate country's repair, folds as `plate` does.
fn same_fold(read: &Normalized, plate: &PlateText) -> bool {
    let fold = lookalike_key(plate);
    std::iter::once(&read.text).chain(read.candidates.iter().map(|c| &c.text)).any(|t| lookalike_key(t) == fold)
}

fn is_expired(entry: &HotlistEntry, time: chrono::DateTime<chrono::Utc>) -> bool {
    entry.expires.is_some_and(|t| t <= time)
}

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let reads = a.quality_reads;
    eprintln!("== quality: {reads} simulated reads against a hotlist of {} entries", a.hotlist);
    let scale = Scale::parse(&a.confidence_scale)?;
    let policy = MatchPolicy {
        confirm_min_camera_quantile: a.camera_quantile.unwrap_or(MatchPolicy::DEFAULT_CONFIRM_MIN_CAMERA_QUANTILE),
        ..MatchPolicy::default()
    };
    if !(0.0..=0.5).contains(&policy.confirm_min_camera_quantile) {
        bail!("--camera-quantile must be in 0..=0.5");
    }
    let mut cfg = super::matching::sim_config(a);
    cfg.vehicle_model = match a.vehicle_model.as_str() {
        "default" => VehicleModel::default(),
        "silent" => VehicleModel::SILENT,
        "poor" => {
            let d = VehicleModel::default();
            VehicleModel {
                make_wrong: 2.0 * d.make_wrong,
                colour_wrong: 2.0 * d.colour_wrong,
                colour_far: 1.6 * d.colour_far,
                entry_wrong: 3.0 * d.entry_wrong,
                ..d
            }
        }
        other => bail!("unknown vehicle model {other:?}: use default, poor or silent"),
    };
    // The issue's error model; the figures mean nothing with another.
    let issue = ErrorModel { lookalike: 0.02, other: 0.005, drop_insert: 0.003 };
    if cfg.error_model != issue || cfg.no_country_rate != 0.05 {
        bail!(
            "the simulator's default error model {:?} with {} of reads without a country is not the issue's \
             (2 % look-alike, 0.5 % other, 0.3 % drop/insert, 5 % without a country)",
            cfg.error_model,
            cfg.no_country_rate
        );
    }
    eprintln!(
        "error model {:?}, {} % of reads without a country, {} % Cyrillic for UA/BG/RS, {:?}",
        cfg.error_model,
        100.0 * cfg.no_country_rate,
        100.0 * cfg.cyrillic_rate,
        cfg.variations
    );
    eprintln!("vehicle model {:?}", cfg.vehicle_model);

    let t = Instant::now();
    let entries: Vec<HotlistEntry> = limes_sim::hotlist(&cfg, a.hotlist)?.collect();
    let index = HotlistIndex::from_entries(entries.clone());
    eprintln!("hotlist of {} entries generated and indexed in {:.1} s", entries.len(), t.elapsed().as_secs_f64());
    let by_id: HashMap<u64, usize> = entries.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    let by_plate: HashMap<&str, Vec<usize>> = entries.iter().enumerate().fold(HashMap::new(), |mut m, (i, e)| {
        m.entry(e.plate.as_str()).or_default().push(i);
        m
    });

    let mut by_class = [Tally::default(); 5];
    let mut by_country = [Tally::default(); 2];
    let (mut expired_hotlisted, mut listed_not_hotlisted) = (0u64, 0u64);
    let mut vehicles = HashSet::new();
    // Whether each trip of a hotlisted vehicle raised an alert on its entry at least once.
    let mut trips: HashMap<(u64, u64), bool> = HashMap::new();
    let mut missed_examples = Vec::new();
    let mut false_examples = Vec::new();
    // False confirmed alerts by (read had a country, grammar repair made the match).
    let mut false_confirmed_kinds: HashMap<(bool, bool), u64> = HashMap::new();
    // The repairs behind false confirmed alerts, as "cleaned→repaired" characters.
    let mut repairs: HashMap<String, u64> = HashMap::new();
    let mut false_possible_sources: HashMap<(bool, PossibleSource), u64> = HashMap::new();
    let mut hits = Vec::new();
    // Without the vehicle check, then with it.
    let mut curve = [[CurvePoint::default(); CURVE.len()]; 2];
    let mut quantile_curve = [[CurvePoint::default(); QUANTILES.len()]; 2];
    let mut tried = Vec::new();
    // Each camera's number (in order of first read, for `Scale`) and confidences so far.
    let mut cameras: HashMap<CameraId, (usize, ConfidenceCalibration)> = HashMap::new();
    // Hits the vehicle check made possible: on the vehicle's own entry, and on another.
    let (mut demoted_true, mut demoted_false) = (0u64, 0u64);
    // The same for the confidence rules.
    let (mut unsure_true, mut unsure_false) = (0u64, 0u64);
    let t = Instant::now();
    let mut sim = Simulator::new(cfg)?;
    let (mut first, mut last) = (None, None);
    for s in sim.by_ref().take(reads) {
        let (read, truth) = (&s.read, &s.truth);
        first.get_or_insert(read.time);
        last = Some(read.time);
        let class = truth.errors.class();
        let country = read.plate.country.as_ref().map(|c| c.value);
        let mut tally = Tally { reads: 1, ..Tally::default() };
        let normalized = normalize(&read.plate.text.value, country);
        match &normalized {
            Ok(n) => index.match_read_into(n, read.time, &mut hits),
            Err(_) => {
                tally.unreadable = 1;
                hits.clear();
            }
        }
        let next = cameras.len();
        let (number, camera) = cameras.entry(read.camera.clone()).or_insert_with(|| (next, Default::default()));
        let confidence = read.plate.text.confidence.map(|c| scale.apply(*number, c));
        // The trade-off of the confidence rules, from the hits before they are applied.
        let listed = by_plate
            .get(truth.plate.as_str())
            .is_some_and(|list| list.iter().any(|&i| !is_expired(&entries[i], read.time)));
        let trial = Trial {
            hits: &hits,
            confidence,
            camera,
            vehicle: read.vehicle.as_ref(),
            index: &index,
            entries: &entries,
            by_id: &by_id,
            plate: &truth.plate,
            counted: truth.hotlisted && listed,
        };
        for (check_vehicle, (row, quantile_row)) in
            [false, true].into_iter().zip(curve.iter_mut().zip(&mut quantile_curve))
        {
            if hits.is_empty() {
                break;
            }
            for (threshold, point) in CURVE.iter().zip(row.iter_mut()) {
                let p =
                    MatchPolicy { confirm_min_confidence: *threshold, confirm_min_camera_quantile: 0.0, check_vehicle };
                point.add(&p, &trial, &mut tried);
            }
            for (quantile, point) in QUANTILES.iter().zip(quantile_row.iter_mut()) {
                let p =
                    MatchPolicy { confirm_min_confidence: 0.0, confirm_min_camera_quantile: *quantile, check_vehicle };
                point.add(&p, &trial, &mut tried);
            }
        }
        policy.apply(confidence, Some(camera), read.vehicle.as_ref(), &index, &mut hits);
        // Judged first, counted in after, as the node does.
        if let Some(c) = confidence {
            camera.observe(c);
        }
        expired_hotlisted += u64::from(truth.hotlisted && !listed);
        listed_not_hotlisted += u64::from(!truth.hotlisted && listed);
        let (mut found, mut confirmed) = (false, false);
        for hit in &hits {
            let entry = &entries[by_id[&hit.entry_id]];
            let vehicle_demoted = matches!(hit.demoted, Some(Demotion::MakeDiffers | Demotion::ColourDiffers));
            let unsure = matches!(hit.demoted, Some(Demotion::LowConfidence | Demotion::LowConfidenceForCamera));
            if entry.plate == truth.plate {
                found = true;
                confirmed |= hit.kind == MatchKind::Confirmed;
                demoted_true += u64::from(vehicle_demoted && truth.hotlisted && listed);
                unsure_true += u64::from(unsure && truth.hotlisted && listed);
                continue;
            }
            demoted_false += u64::from(vehicle_demoted);
            unsure_false += u64::from(unsure);
            match hit.kind {
                MatchKind::Confirmed => {
                    tally.false_confirmed += 1;
                    // Whether grammar repair made the text equal: the cleaned text is not the plate.
                    let cleaned = clean(&read.plate.text.value).ok();
                    let repaired = cleaned.as_ref() != Some(&entry.plate);
                    if let Some(cleaned) = cleaned.filter(|c| c.len() == entry.plate.len()) {
                        for (r, e) in cleaned.as_bytes().iter().zip(entry.plate.as_bytes()).filter(|(r, e)| r != e) {
                            *repairs.entry(format!("{}→{}", *r as char, *e as char)).or_default() += 1;
                        }
                    }
                    *false_confirmed_kinds.entry((country.is_some(), repaired)).or_default() += 1;
                }
                MatchKind::Possible => {
                    tally.false_possible += 1;
                    let source = match &normalized {
                        _ if hit.distance == 0 => PossibleSource::SameText,
                        Ok(n) if same_fold(n, &entry.plate) => PossibleSource::LookAlike,
                        _ => PossibleSource::Fuzzy,
                    };
                    *false_possible_sources.entry((country.is_some(), source)).or_default() += 1;
                }
            }
            if hit.kind == MatchKind::Confirmed && false_examples.len() < EXAMPLES {
                false_examples.push(format!(
                    "read {:?} ({}) of {} {} [{}] confirmed entry {} {:?}",
                    read.plate.text.value,
                    country.map_or_else(|| "no country".to_owned(), |c| c.as_str().to_owned()),
                    truth.plate,
                    truth.country.as_str(),
                    class_name(class),
                    entry.plate,
                    entry.country.map(|c| c.as_str().to_owned()),
                ));
            }
        }
        if truth.hotlisted && listed {
            vehicles.insert(truth.vehicle);
            *trips.entry((truth.trip, truth.vehicle)).or_default() |= found;
            tally.hotlisted = 1;
            tally.found = u64::from(found);
            tally.found_confirmed = u64::from(confirmed);
            if !found && class <= ErrorClass::LookAlike && missed_examples.len() < EXAMPLES {
                missed_examples.push(format!(
                    "missed read {:?} ({}) of {} {} [{}]",
                    read.plate.text.value,
                    country.map_or_else(|| "no country".to_owned(), |c| c.as_str().to_owned()),
                    truth.plate,
                    truth.country.as_str(),
                    class_name(class),
                ));
            }
        }
        by_class[class as usize].add(&tally);
        by_country[usize::from(country.is_some())].add(&tally);
    }
    let elapsed = t.elapsed();
    let mut all = Tally::default();
    for t in &by_class {
        all.add(t);
    }
    let mut lookalike_or_better = Tally::default();
    for (c, t) in CLASSES.iter().zip(&by_class) {
        if *c <= ErrorClass::LookAlike {
            lookalike_or_better.add(t);
        }
    }
    eprintln!(
        "{} reads from {} to {} simulated and matched in {:.1} s ({} trips skipped)",
        all.reads,
        first.map(|t| t.to_rfc3339()).unwrap_or_default(),
        last.map(|t| t.to_rfc3339()).unwrap_or_default(),
        elapsed.as_secs_f64(),
        sim.trips_skipped()
    );
    eprintln!(
        "{expired_hotlisted} reads of hotlisted vehicles whose entry had expired (not counted as hotlisted); \
         {listed_not_hotlisted} reads of other vehicles carrying a listed plate"
    );
    eprintln!("by error class:");
    eprintln!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "class", "reads", "hotlisted", "recall", "confirmd", "false.c", "false.p", "unread."
    );
    for (c, t) in CLASSES.iter().zip(&by_class) {
        eprintln!("{}", t.line(class_name(*c)));
    }
    eprintln!("{}", lookalike_or_better.line("<= look-alike"));
    eprintln!("{}", by_country[1].line("with country"));
    eprintln!("{}", by_country[0].line("without country"));
    eprintln!("{}", all.line("all"));
    let mut kinds: Vec<_> = false_confirmed_kinds.into_iter().collect();
    kinds.sort();
    for ((had_country, repaired), n) in kinds {
        eprintln!(
            "false confirmed alerts, read {} a country, {}: {n}",
            if had_country { "with" } else { "without" },
            if repaired { "equal to the entry only after grammar repair" } else { "cleaned text equal to the entry" }
        );
    }
    let mut repairs: Vec<_> = repairs.into_iter().collect();
    repairs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    eprintln!(
        "grammar repairs behind them: {}",
        repairs.iter().map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", ")
    );
    let mut sources: Vec<_> = false_possible_sources.into_iter().collect();
    sources.sort();
    for ((had_country, source), n) in sources {
        eprintln!(
            "false possible alerts, read {} a country, {}: {n}",
            if had_country { "with" } else { "without" },
            match source {
                PossibleSource::SameText => "same text as the entry but another country",
                PossibleSource::LookAlike => "same look-alike fold as the entry",
                PossibleSource::Fuzzy => "a fuzzy entry one edit away",
            }
        );
    }
    for e in false_examples.iter().chain(&missed_examples) {
        eprintln!("  {e}");
    }

    figure("quality.hotlist_entries", entries.len(), "entries");
    figure("quality.reads", all.reads, "reads");
    figure("quality.hotlisted_reads", all.hotlisted, "reads");
    figure("quality.hotlisted_vehicles_read", vehicles.len(), "vehicles");
    figure("quality.lookalike_or_better_hotlisted_reads", lookalike_or_better.hotlisted, "reads");
    figure("quality.recall", format!("{:.4}", all.recall()), "fraction");
    let found_trips = trips.values().filter(|&&found| found).count();
    figure("quality.hotlisted_trips", trips.len(), "trips");
    figure("quality.recall_per_trip", format!("{:.4}", ratio(found_trips as u64, trips.len() as u64)), "fraction");
    figure("quality.recall_confirmed", format!("{:.4}", all.recall_confirmed()), "fraction");
    figure("quality.recall_lookalike_or_better", format!("{:.4}", lookalike_or_better.recall()), "fraction");
    figure(
        "quality.recall_lookalike_or_better_confirmed",
        format!("{:.4}", lookalike_or_better.recall_confirmed()),
        "fraction",
    );
    figure("quality.false_confirmed_per_10k_reads", format!("{:.3}", all.per_10k(all.false_confirmed)), "alerts");
    figure("quality.false_possible_per_10k_reads", format!("{:.3}", all.per_10k(all.false_possible)), "alerts");
    figure("quality.policy.check_vehicle", policy.check_vehicle, "(figures above apply it)");
    figure("quality.vehicle_check.demoted_true_hits", demoted_true, "reads");
    figure("quality.vehicle_check.demoted_false_hits", demoted_false, "alerts");
    figure(
        "quality.text_only.recall_confirmed",
        format!("{:.4}", ratio(curve[0][0].true_confirmed, all.hotlisted)),
        "fraction",
    );
    figure(
        "quality.text_only.false_confirmed_per_10k_reads",
        format!("{:.3}", all.per_10k(curve[0][0].false_confirmed)),
        "alerts",
    );
    figure("quality.unreadable_reads", all.unreadable, "reads");
    figure("quality.policy.confirm_min_confidence", policy.confirm_min_confidence, "(figures above apply it)");
    figure(
        "quality.policy.confirm_min_camera_quantile",
        policy.confirm_min_camera_quantile,
        "(figures above apply it)",
    );
    figure("quality.confidence_scale", &a.confidence_scale, "(as readers report it)");
    figure("quality.confidence_rules.demoted_true_hits", unsure_true, "reads");
    figure("quality.confidence_rules.demoted_false_hits", unsure_false, "alerts");
    for ((threshold, point), vehicle_point) in CURVE.iter().zip(&curve[0]).zip(&curve[1]) {
        let name = format!("quality.curve.min_confidence_{threshold:.2}");
        figure(
            &format!("{name}.with_vehicle_check.recall_confirmed"),
            format!("{:.4}", ratio(vehicle_point.true_confirmed, all.hotlisted)),
            "fraction",
        );
        figure(
            &format!("{name}.with_vehicle_check.false_confirmed_per_10k_reads"),
            format!("{:.3}", all.per_10k(vehicle_point.false_confirmed)),
            "alerts",
        );
        figure(
            &format!("{name}.recall_confirmed"),
            format!("{:.4}", ratio(point.true_confirmed, all.hotlisted)),
            "fraction",
        );
        figure(
            &format!("{name}.false_confirmed_per_10k_reads"),
            format!("{:.3}", all.per_10k(point.false_confirmed)),
            "alerts",
        );
    }
    for ((quantile, point), vehicle_point) in QUANTILES.iter().zip(&quantile_curve[0]).zip(&quantile_curve[1]) {
        let name = format!("quality.curve.camera_quantile_{quantile:.2}");
        for (name, point) in [(format!("{name}.with_vehicle_check"), vehicle_point), (name, point)] {
            figure(
                &format!("{name}.recall_confirmed"),
                format!("{:.4}", ratio(point.true_confirmed, all.hotlisted)),
                "fraction",
            );
            figure(
                &format!("{name}.false_confirmed_per_10k_reads"),
                format!("{:.3}", all.per_10k(point.false_confirmed)),
                "alerts",
            );
            figure(
                &format!("{name}.false_possible_per_10k_reads"),
                format!("{:.3}", all.per_10k(point.false_possible)),
                "alerts",
            );
        }
        // Where the quantile fell on each camera's scale at the end.
        if *quantile == 0.0 {
            continue;
        }
        let thresholds: Vec<f32> = cameras.values().filter_map(|(_, c)| c.threshold(*quantile)).collect();
        if let (Some(lo), Some(hi)) =
            (thresholds.iter().copied().reduce(f32::min), thresholds.iter().copied().reduce(f32::max))
        {
            figure(
                &format!("quality.camera_quantile_{quantile:.2}.final_thresholds"),
                format!("{lo:.3}..{hi:.3}"),
                &format!("(over {} cameras)", thresholds.len()),
            );
        }
    }
    Ok(())
}
