//! Matching in process, on one large hotlist: live matching (reads per second on
//! one core) and investigative search (time per query, and recall against the
//! brute-force oracle).
//!
//! The hotlist is `limes_sim::hotlist` for the benchmark's simulation: the
//! fleet's hotlisted vehicles and generated fillers, `--index-entries` in all.
//! Every plate is generated from the country grammars; none is real.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::bail;
use chrono::{DateTime, Utc};
use limes_hotlist::{BruteForce, HotlistIndex, MaxEdits, Query, SearchHit, Wildcard};
use limes_model::{HotlistEntry, MatchKind};
use limes_plate::{CountryCode, Normalized, PlateText, normalize};
use limes_sim::{SimConfig, Simulator};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::{BenchArgs, figure};

/// Raw reads generated for the live benchmark (it cycles through them).
const LIVE_READS: usize = 1 << 21;

/// Results asked of an investigative query: far more than any query here finds,
/// so the comparison with the oracle covers every hit.
pub(super) const SEARCH_LIMIT: usize = 10_000;

/// Wildcard patterns timed, and how many of them are checked against the oracle
/// (a wildcard scan of the oracle tests nearly every entry).
const WILDCARD_QUERIES: usize = 1_000;
const WILDCARD_CHECKED: usize = 100;

/// The simulation behind the matching benchmarks: the default error model and
/// country mix, with a fleet of 200,000 vehicles (2,000 of them hotlisted) at
/// 100 reads per second, which the fleet sustains.
pub(super) fn sim_config(a: &BenchArgs) -> SimConfig {
    SimConfig { seed: a.seed, vehicles: 200_000, reads_per_second: 100.0, ..SimConfig::default() }
}

/// The hotlist entries and their index.
pub(super) struct Hotlist {
    pub entries: Vec<HotlistEntry>,
    pub index: HotlistIndex,
    /// How long `HotlistIndex::from_entries` took.
    pub build: Duration,
    /// The simulation's start: the time of investigative queries (some entries
    /// have expired by then).
    pub now: DateTime<Utc>,
}

/// Generates `entries` hotlist entries for `cfg` and indexes them.
pub(super) fn hotlist(cfg: &SimConfig, entries: usize) -> anyhow::Result<Hotlist> {
    let t = Instant::now();
    let list: Vec<HotlistEntry> = limes_sim::hotlist(cfg, entries)?.collect();
    eprintln!("generated {} hotlist entries in {:.1} s", list.len(), t.elapsed().as_secs_f64());
    let t = Instant::now();
    let index = HotlistIndex::from_entries(list.clone());
    let build = t.elapsed();
    eprintln!(
        "indexed them in {:.1} s: {} entries, {:.0} MiB",
        build.as_secs_f64(),
        index.len(),
        index.memory_bytes() as f64 / (1 << 20) as f64
    );
    Ok(Hotlist { entries: list, index, build, now: cfg.start })
}

/// One read as a camera sends it: raw text, country if any, time.
struct RawRead {
    text: String,
    country: Option<CountryCode>,
    time: DateTime<Utc>,
}

/// Live matching on one thread: `normalize` + `match_read_into` over simulated
/// traffic, and `match_read_into` alone over the same reads normalised beforehand.
///
/// The list is `limes_sim::hotlist`'s, in which a few per cent of entries are
/// flagged `fuzzy` (possible alerts on reads one edit away). The same reads are
/// also matched against the same list with every flag cleared, to tell what the
/// fuzzy probe costs.
pub fn live(a: &BenchArgs) -> anyhow::Result<()> {
    eprintln!("== match: live matching against {} entries", a.index_entries);
    let cfg = sim_config(a);
    let list = hotlist(&cfg, a.index_entries)?;
    figure("match.index.entries", list.index.len(), "entries");
    figure("match.index.fuzzy_entries", list.entries.iter().filter(|e| e.fuzzy).count(), "entries");
    figure("match.index.build_seconds", format!("{:.2}", list.build.as_secs_f64()), "s");
    figure("match.index.memory_mib", format!("{:.0}", list.index.memory_bytes() as f64 / (1 << 20) as f64), "MiB");
    let (index, mut entries) = (list.index, list.entries);

    let t = Instant::now();
    let reads: Vec<RawRead> = Simulator::new(cfg)?
        .take(LIVE_READS)
        .map(|s| RawRead {
            text: s.read.plate.text.value,
            country: s.read.plate.country.map(|c| c.value),
            time: s.read.time,
        })
        .collect();
    let no_country = reads.iter().filter(|r| r.country.is_none()).count();
    eprintln!(
        "simulated {} reads in {:.1} s ({:.1} % without a country)",
        reads.len(),
        t.elapsed().as_secs_f64(),
        100.0 * no_country as f64 / reads.len() as f64
    );

    normalize_and_match(&index, &reads, a.seconds, "match.live");

    // Matching alone, on the same reads normalised beforehand.
    let normalized: Vec<(Normalized, DateTime<Utc>)> =
        reads.iter().filter_map(|r| normalize(&r.text, r.country).ok().map(|n| (n, r.time))).collect();
    let mut hits = Vec::new();
    let mut step = |(read, time): &(Normalized, DateTime<Utc>)| -> usize {
        index.match_read_into(black_box(read), *time, &mut hits);
        black_box(&hits).len()
    };
    let run = run_for(&normalized, a.seconds, &mut step);
    eprintln!("match only: {} reads in {:.2} s", run.count, run.elapsed.as_secs_f64());
    figure("match.live.match_only_reads_per_second_per_core", format!("{:.0}", run.per_second()), "reads/s");
    figure(
        "match.live.match_only_hits_per_10k_reads",
        format!("{:.1}", 1e4 * run.hits as f64 / run.count as f64),
        "hits",
    );

    // What the hits are, for the record (not timed).
    let (mut confirmed, mut possible, mut hit_reads) = (0u64, 0u64, 0u64);
    for (read, time) in &normalized {
        index.match_read_into(read, *time, &mut hits);
        hit_reads += u64::from(!hits.is_empty());
        confirmed += hits.iter().filter(|h| h.kind == MatchKind::Confirmed).count() as u64;
        possible += hits.iter().filter(|h| h.kind == MatchKind::Possible).count() as u64;
    }
    eprintln!("of {} reads, {hit_reads} hit: {confirmed} confirmed and {possible} possible hits", normalized.len());
    drop((index, normalized));

    // The same list without fuzzy flags.
    for e in &mut entries {
        e.fuzzy = false;
    }
    let index = HotlistIndex::from_entries(entries);
    normalize_and_match(&index, &reads, a.seconds, "match.live.fuzzy_cleared");
    Ok(())
}

/// Times `normalize` + `match_read_into` over `reads` on this thread, as the
/// node's ingest path does for each read, and prints the figures under `name`.
fn normalize_and_match(index: &HotlistIndex, reads: &[RawRead], seconds: f64, name: &str) {
    let mut hits = Vec::new();
    let mut unreadable = 0u64;
    let mut step = |r: &RawRead| -> usize {
        match normalize(black_box(&r.text), r.country) {
            Ok(read) => {
                index.match_read_into(&read, r.time, &mut hits);
                black_box(&hits).len()
            }
            Err(_) => {
                unreadable += 1;
                0
            }
        }
    };
    for r in &reads[..reads.len().min(100_000)] {
        step(r);
    }
    let run = run_for(reads, seconds, &mut step);
    eprintln!(
        "{name}: normalize + match: {} reads in {:.2} s ({:.2} passes over the reads, {unreadable} unreadable)",
        run.count,
        run.elapsed.as_secs_f64(),
        run.count as f64 / reads.len() as f64
    );
    figure(&format!("{name}.reads_per_second_per_core"), format!("{:.0}", run.per_second()), "reads/s");
    figure(&format!("{name}.reads_measured"), run.count, "reads");
    figure(&format!("{name}.hits_per_10k_reads"), format!("{:.1}", 1e4 * run.hits as f64 / run.count as f64), "hits");
}

/// What a timed loop did.
struct Run {
    count: u64,
    hits: u64,
    elapsed: Duration,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64()
    }
}

/// Nanoseconds this thread has run on a core and waited for one, as Linux
/// counts them (`/proc/thread-self/schedstat`); `None` elsewhere.
fn thread_schedstat() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut fields = stat.split_whitespace().map(|f| f.parse::<u64>().ok());
    Some((fields.next()??, fields.next()??))
}

/// Calls `step` on `items`, cycling, for about `seconds`; `step` returns the hits.
/// Tells on stderr how much of the time the thread had a core: other processes
/// on the machine take cores away from a single-thread measurement.
fn run_for<T>(items: &[T], seconds: f64, step: &mut impl FnMut(&T) -> usize) -> Run {
    const CHUNK: usize = 4096;
    let limit = Duration::from_secs_f64(seconds);
    let (mut count, mut hits) = (0u64, 0u64);
    let before = thread_schedstat();
    let start = Instant::now();
    'outer: loop {
        for chunk in items.chunks(CHUNK) {
            for item in chunk {
                hits += step(item) as u64;
            }
            count += chunk.len() as u64;
            if start.elapsed() >= limit {
                break 'outer;
            }
        }
    }
    let elapsed = start.elapsed();
    if let (Some((run0, wait0)), Some((run1, wait1))) = (before, thread_schedstat()) {
        eprintln!(
            "  the thread ran on a core {:.1} % of the {:.2} s and waited {:.3} s for one",
            100.0 * (run1 - run0) as f64 / elapsed.as_nanos() as f64,
            elapsed.as_secs_f64(),
            (wait1 - wait0) as f64 / 1e9
        );
    }
    Run { count, hits, elapsed }
}

/// The look-alike a reader mistakes `c` for, as the simulator's error model has it.
fn lookalike(c: u8) -> Option<u8> {
    Some(match c {
        b'O' | b'D' | b'Q' => b'0',
        b'0' => b'O',
        b'I' => b'1',
        b'1' => b'I',
        b'B' => b'8',
        b'8' => b'B',
        b'S' => b'5',
        b'5' => b'S',
        b'Z' => b'2',
        b'2' => b'Z',
        b'G' => b'6',
        b'6' => b'G',
        _ => return None,
    })
}

const ALPHANUMERIC: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// The query plates of the search benchmark: plates of random entries with one or
/// two injected edits, each a look-alike, an insertion, a deletion or a
/// substitution (a quarter each; a look-alike where the plate has a character
/// with one, else a substitution). The same arguments give the same plates.
pub(super) fn edit_query_plates(entries: &[HotlistEntry], n: usize, seed: u64) -> Vec<PlateText> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed_0f9e_71e5);
    let mut kinds = [0usize; 4];
    let plates: Vec<PlateText> = (0..n)
        .map(|_| {
            let mut t = entries[rng.random_range(0..entries.len())].plate.as_bytes().to_vec();
            for _ in 0..rng.random_range(1..=2) {
                let kind = rng.random_range(0..4);
                let with_lookalike: Vec<usize> = (0..t.len()).filter(|&i| lookalike(t[i]).is_some()).collect();
                let kind = match kind {
                    0 if with_lookalike.is_empty() => 3,
                    1 if t.len() >= PlateText::MAX_LEN => 3,
                    2 if t.len() <= 2 => 3,
                    k => k,
                };
                kinds[kind] += 1;
                match kind {
                    0 => {
                        let i = with_lookalike[rng.random_range(0..with_lookalike.len())];
                        t[i] = lookalike(t[i]).unwrap_or(t[i]);
                    }
                    1 => t.insert(rng.random_range(0..=t.len()), ALPHANUMERIC[rng.random_range(0..36)]),
                    2 => {
                        t.remove(rng.random_range(0..t.len()));
                    }
                    _ => {
                        let i = rng.random_range(0..t.len());
                        let old = t[i];
                        while t[i] == old {
                            t[i] = ALPHANUMERIC[rng.random_range(0..36)];
                        }
                    }
                }
            }
            let text = std::str::from_utf8(&t).expect("plates and injected characters are ASCII");
            PlateText::new(text).expect("edits keep a plate canonical and at most 12 characters")
        })
        .collect();
    eprintln!(
        "{n} query plates with {} look-alikes, {} insertions, {} deletions and {} substitutions injected",
        kinds[0], kinds[1], kinds[2], kinds[3]
    );
    plates
}

/// Edit-distance queries for `plates`.
pub(super) fn edit_queries(plates: &[PlateText], max: MaxEdits) -> Vec<Query> {
    plates.iter().map(|p| Query::EditDistance { plate: p.clone(), max }).collect()
}

/// Runs each query on the index, timing each one.
pub(super) fn timed_search(
    index: &HotlistIndex,
    queries: &[Query],
    now: DateTime<Utc>,
) -> (Vec<Vec<SearchHit>>, Vec<Duration>) {
    let mut times = Vec::with_capacity(queries.len());
    let results = queries
        .iter()
        .map(|q| {
            let t = Instant::now();
            let hits = index.search(black_box(q), now, SEARCH_LIMIT);
            times.push(t.elapsed());
            hits
        })
        .collect();
    (results, times)
}

/// Mean, median and 99th percentile of `times`, in microseconds.
pub(super) struct Latency {
    pub mean_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Latency {
    pub fn of(times: &[Duration]) -> Latency {
        let mut us: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e6).collect();
        us.sort_unstable_by(f64::total_cmp);
        let at = |q: f64| us.get(((us.len().saturating_sub(1)) as f64 * q).round() as usize).copied().unwrap_or(0.0);
        Latency { mean_us: us.iter().sum::<f64>() / us.len().max(1) as f64, p50_us: at(0.5), p99_us: at(0.99) }
    }

    /// Prints `{name}.us_per_query` (the mean), `_p50` and `_p99`.
    fn print(&self, name: &str) {
        figure(&format!("{name}.us_per_query"), format!("{:.1}", self.mean_us), "µs");
        figure(&format!("{name}.us_per_query_p50"), format!("{:.1}", self.p50_us), "µs");
        figure(&format!("{name}.us_per_query_p99"), format!("{:.1}", self.p99_us), "µs");
    }
}

/// How the hits of one side compare with the oracle's, by entry id.
#[derive(Debug, Default)]
pub(super) struct Agreement {
    /// Hits the oracle gives, over all queries.
    pub expected: usize,
    /// Of those, the ones the other side found.
    pub found: usize,
    /// Hits the other side gives that the oracle does not.
    pub extra: usize,
    /// Queries whose sets of entry ids differ.
    pub differing: usize,
    /// Queries the oracle answered with `SEARCH_LIMIT` hits (so the sets may be cut).
    pub at_limit: usize,
}

impl Agreement {
    /// Compares entry id sets query by query; prints the first `show` differences.
    pub fn of(queries: &[Query], got: &[Vec<u64>], want: &[Vec<SearchHit>], show: usize) -> Agreement {
        let mut a = Agreement::default();
        for ((query, got), want) in queries.iter().zip(got).zip(want) {
            let mut got = got.clone();
            got.sort_unstable();
            got.dedup();
            let mut ids: Vec<u64> = want.iter().map(|h| h.entry_id).collect();
            ids.sort_unstable();
            a.expected += ids.len();
            a.found += ids.iter().filter(|id| got.binary_search(id).is_ok()).count();
            a.extra += got.iter().filter(|id| ids.binary_search(id).is_err()).count();
            a.at_limit += usize::from(want.len() >= SEARCH_LIMIT);
            if got != ids {
                a.differing += 1;
                if a.differing <= show {
                    let missed: Vec<u64> = ids.iter().filter(|id| got.binary_search(id).is_err()).copied().collect();
                    let extra: Vec<u64> = got.iter().filter(|id| ids.binary_search(id).is_err()).copied().collect();
                    eprintln!(
                        "  differs from the oracle on {query:?}: {} hits, {} missed (first {:?}), {} extra (first {:?})",
                        ids.len(),
                        missed.len(),
                        &missed[..missed.len().min(8)],
                        extra.len(),
                        &extra[..extra.len().min(8)]
                    );
                }
            }
        }
        a
    }

    /// The share of the oracle's hits found; 1 when the oracle found nothing.
    pub fn recall(&self) -> f64 {
        if self.expected == 0 { 1.0 } else { self.found as f64 / self.expected as f64 }
    }
}

/// The entry ids of each result.
pub(super) fn ids(results: &[Vec<SearchHit>]) -> Vec<Vec<u64>> {
    results.iter().map(|r| r.iter().map(|h| h.entry_id).collect()).collect()
}

/// Wildcard patterns as an investigator types them: a listed plate with a
/// forgotten character (`?`) and a forgotten middle (`*`).
fn wildcard_patterns(entries: &[HotlistEntry], n: usize, seed: u64) -> Vec<Wildcard> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x0a11_ca7d);
    let mut patterns = Vec::with_capacity(n);
    while patterns.len() < n {
        let mut t = entries[rng.random_range(0..entries.len())].plate.as_bytes().to_vec();
        let len = t.len();
        if len < 4 {
            continue;
        }
        t[rng.random_range(0..len)] = b'?';
        let (x, y) = (rng.random_range(1..len), rng.random_range(1..len));
        let (from, to) = (x.min(y), x.max(y));
        let mut p = t[..from].to_vec();
        p.push(b'*');
        p.extend_from_slice(&t[to..]);
        if let Ok(w) = Wildcard::parse(std::str::from_utf8(&p).expect("ASCII")) {
            patterns.push(w);
        }
    }
    patterns
}

/// Investigative search: edit distance ≤ 2 and ≤ 1 for listed plates with
/// injected errors, timed per query and checked against the brute-force oracle;
/// and wildcard patterns.
pub fn search(a: &BenchArgs) -> anyhow::Result<()> {
    eprintln!("== search: {} edit-distance queries against {} entries", a.queries, a.index_entries);
    let cfg = sim_config(a);
    let list = hotlist(&cfg, a.index_entries)?;
    let (index, entries, now) = (&list.index, &list.entries, list.now);
    let plates = edit_query_plates(entries, a.queries, a.seed);
    figure("search.index_entries", index.len(), "entries");
    figure("search.queries", plates.len(), "queries");

    let t = Instant::now();
    let oracle = BruteForce::new(entries);
    eprintln!("oracle prepared in {:.1} s", t.elapsed().as_secs_f64());
    let mut failures = Vec::new();
    for (name, max) in [("ed2", MaxEdits::Two), ("ed1", MaxEdits::One)] {
        let queries = edit_queries(&plates, max);
        let (results, times) = timed_search(index, &queries, now);
        Latency::of(&times).print(&format!("search.{name}"));
        let hits: usize = results.iter().map(Vec::len).sum();
        figure(&format!("search.{name}.hits_per_query"), format!("{:.2}", hits as f64 / queries.len() as f64), "hits");

        let t = Instant::now();
        let want = oracle.search_many(&queries, now, SEARCH_LIMIT);
        let oracle_time = t.elapsed();
        figure(
            &format!("search.{name}.oracle_ms_per_query"),
            format!("{:.2}", oracle_time.as_secs_f64() * 1e3 / queries.len() as f64),
            "ms (wall, brute force on every core)",
        );
        let agreement = Agreement::of(&queries, &ids(&results), &want, 3);
        eprintln!("{name}: {agreement:?}");
        figure(&format!("search.{name}.recall"), format!("{:.6}", agreement.recall()), "fraction");
        figure(&format!("search.{name}.queries_differing_from_oracle"), agreement.differing, "queries");
        if agreement.differing > 0 || agreement.at_limit > 0 {
            failures.push(format!(
                "{name}: {} of {} queries differ from the oracle ({} hits missed, {} extra, {} at the limit)",
                agreement.differing,
                queries.len(),
                agreement.expected - agreement.found,
                agreement.extra,
                agreement.at_limit
            ));
        }
    }

    let patterns = wildcard_patterns(entries, WILDCARD_QUERIES.min(a.queries.max(1)), a.seed);
    let queries: Vec<Query> = patterns.into_iter().map(Query::Wildcard).collect();
    let (results, times) = timed_search(index, &queries, now);
    Latency::of(&times).print("search.wildcard");
    let hits: usize = results.iter().map(Vec::len).sum();
    figure("search.wildcard.hits_per_query", format!("{:.2}", hits as f64 / queries.len() as f64), "hits");
    let checked = WILDCARD_CHECKED.min(queries.len());
    let t = Instant::now();
    let want = oracle.search_many(&queries[..checked], now, SEARCH_LIMIT);
    eprintln!("wildcard oracle: {:.1} ms per query", t.elapsed().as_secs_f64() * 1e3 / checked.max(1) as f64);
    let agreement = Agreement::of(&queries[..checked], &ids(&results[..checked]), &want, 3);
    figure(
        "search.wildcard.recall",
        format!("{:.6}", agreement.recall()),
        &format!("fraction (first {checked} patterns)"),
    );
    if agreement.differing > 0 {
        failures.push(format!("wildcard: {} of {checked} patterns differ from the oracle", agreement.differing));
    }
    if !failures.is_empty() {
        bail!("search does not agree with the brute-force oracle: {}", failures.join("; "));
    }
    Ok(())
}
