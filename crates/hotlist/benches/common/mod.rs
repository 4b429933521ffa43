//! Synthetic hotlists, reads and queries for the benchmarks. Every plate is
//! generated from the country grammars; none is real.

#![allow(dead_code)]

use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use limes_hotlist::HotlistIndex;
use limes_model::{AgencyId, HotlistEntry, HotlistReason};
use limes_plate::grammar::{KNOWN, formats};
use limes_plate::{CountryCode, PlateText};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 5, 4, 12, 0, 0).unwrap()
}

/// The entry count, from `LIMES_BENCH_ENTRIES` (default ten million).
pub fn entry_count() -> usize {
    std::env::var("LIMES_BENCH_ENTRIES").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000_000)
}

/// A plate of a random known country and format, and its printed form.
pub fn random_plate(rng: &mut SmallRng) -> (CountryCode, PlateText, String) {
    let country = KNOWN[rng.random_range(0..KNOWN.len())];
    let fs = formats(country);
    let format = &fs[rng.random_range(0..fs.len())];
    let plate = format.generate(&mut |n| rng.random_range(0..n));
    let printed = format.display(&plate);
    (country, plate, printed)
}

/// A hotlist of `n` entries: about 5,000 per 10M flagged fuzzy, a tenth expired.
pub fn hotlist(n: usize, seed: u64) -> Vec<HotlistEntry> {
    const CHUNK: usize = 1 << 16;
    let agencies: Vec<AgencyId> =
        KNOWN.iter().map(|c| AgencyId::new(format!("{}-police", c.as_str().to_lowercase())).unwrap()).collect();
    let reasons = [HotlistReason::Stolen, HotlistReason::Wanted, HotlistReason::MissingPerson, HotlistReason::Suspect];
    (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .flat_map_iter(|chunk| {
            let mut rng = SmallRng::seed_from_u64(seed ^ (chunk as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let start = chunk * CHUNK;
            let agencies = &agencies;
            (start..(start + CHUNK).min(n)).map(move |i| {
                let (country, plate, _) = random_plate(&mut rng);
                let roll = rng.random_range(0..1000u32);
                HotlistEntry {
                    exercise: false,
                    id: i as u64 + 1,
                    plate,
                    country: Some(country),
                    reason: reasons[i % reasons.len()],
                    priority: (i % 5) as u8 + 1,
                    agency: agencies[i % agencies.len()].clone(),
                    expires: match roll {
                        0..100 => Some(now() - Duration::days(1)),
                        100..200 => Some(now() + Duration::days(30)),
                        _ => None,
                    },
                    fuzzy: rng.random_range(0..2000u32) == 0,
                    note: (roll == 999).then(|| "seen at the border".to_owned()),
                    vehicle: None,
                }
            })
        })
        .collect()
}

/// Builds the index, printing the time and the memory it reports.
pub fn build(entries: Vec<HotlistEntry>) -> HotlistIndex {
    let n = entries.len();
    let start = Instant::now();
    let index = HotlistIndex::from_entries(entries);
    eprintln!(
        "built an index of {n} entries in {:.1} s; memory_bytes = {:.0} MiB; resident now {}",
        start.elapsed().as_secs_f64(),
        index.memory_bytes() as f64 / (1 << 20) as f64,
        resident().unwrap_or_else(|| "unknown".into()),
    );
    index
}

/// The process's resident memory, as Linux reports it.
fn resident() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l["VmRSS:".len()..].trim().to_owned())
}

/// The look-alike of a character, if it has one.
pub fn lookalike(c: u8) -> Option<u8> {
    limes_plate::lookalike_swap(c)
}

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `text` with `edits` injected errors: look-alikes, insertions, deletions, substitutions.
pub fn with_errors(rng: &mut SmallRng, text: &[u8], edits: usize) -> Vec<u8> {
    let mut t = text.to_vec();
    for _ in 0..edits {
        let i = rng.random_range(0..t.len());
        match rng.random_range(0..4) {
            0 => match lookalike(t[i]) {
                Some(c) => t[i] = c,
                None => t[i] = ALNUM[rng.random_range(0..ALNUM.len())],
            },
            1 if t.len() < PlateText::MAX_LEN => {
                t.insert(rng.random_range(0..=t.len()), ALNUM[rng.random_range(0..ALNUM.len())])
            }
            2 if t.len() > 2 => {
                t.remove(i);
            }
            _ => t[i] = ALNUM[rng.random_range(0..ALNUM.len())],
        }
    }
    t
}

/// Camera reads as raw strings with the camera's country or none: mostly plates
/// not on the list, 2 % listed plates and 2 % listed plates with a look-alike.
pub fn raw_reads(
    entries: &[HotlistEntry],
    n: usize,
    with_country: bool,
    seed: u64,
) -> Vec<(String, Option<CountryCode>)> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let roll = rng.random_range(0..100);
            let (country, text) = if roll < 4 {
                let e = &entries[rng.random_range(0..entries.len())];
                let text = if roll < 2 {
                    e.plate.as_str().to_owned()
                } else {
                    let mut t = e.plate.as_bytes().to_vec();
                    let i = rng.random_range(0..t.len());
                    t[i] = lookalike(t[i]).unwrap_or(t[i]);
                    String::from_utf8(t).unwrap()
                };
                (e.country.unwrap_or(CountryCode::RO), text)
            } else {
                let (country, _, printed) = random_plate(&mut rng);
                (country, printed)
            };
            (text, with_country.then_some(country))
        })
        .collect()
}
