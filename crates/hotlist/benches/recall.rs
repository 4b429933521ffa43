//! Recall of edit-distance search: the index against the brute-force oracle.
//!
//! Ten million entries (`LIMES_BENCH_ENTRIES`) and 10,000 queries
//! (`LIMES_RECALL_QUERIES`), each a listed plate with up to two injected
//! look-alikes, insertions, deletions or substitutions, or a fresh plate, searched
//! within one or two edits. Prints the time per query of both and the recall, and
//! fails if the index and the oracle disagree on any query.

use std::time::Instant;

use limes_hotlist::{BruteForce, MaxEdits, Query};
use limes_plate::PlateText;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

mod common;

fn main() {
    let n = common::entry_count();
    let count: usize = std::env::var("LIMES_RECALL_QUERIES").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let entries = common::hotlist(n, 1);
    let mut rng = SmallRng::seed_from_u64(5);
    let queries: Vec<Query> = (0..count)
        .map(|_| {
            let text = if rng.random_range(0..10) == 0 {
                common::random_plate(&mut rng).1.as_bytes().to_vec()
            } else {
                let e = &entries[rng.random_range(0..entries.len())];
                let edits = rng.random_range(0..=2);
                common::with_errors(&mut rng, e.plate.as_bytes(), edits)
            };
            let plate = PlateText::new(std::str::from_utf8(&text).unwrap()).unwrap();
            let max = if rng.random_bool(0.5) { MaxEdits::One } else { MaxEdits::Two };
            Query::EditDistance { plate, max }
        })
        .collect();
    let index = common::build(entries.clone());
    let now = common::now();

    let start = Instant::now();
    let found: Vec<_> = queries.iter().map(|q| index.search(q, now, usize::MAX)).collect();
    let index_time = start.elapsed();

    let start = Instant::now();
    let oracle = BruteForce::new(&entries);
    let expected = oracle.search_many(&queries, now, usize::MAX);
    let oracle_time = start.elapsed();

    let (mut hits, mut missed, mut extra, mut wrong) = (0usize, 0usize, 0usize, 0usize);
    for ((query, got), want) in queries.iter().zip(&found).zip(&expected) {
        hits += want.len();
        missed += want.iter().filter(|h| !got.contains(h)).count();
        extra += got.iter().filter(|h| !want.contains(h)).count();
        if got != want {
            wrong += 1;
            if wrong <= 5 {
                eprintln!("mismatch for {query:?}:\n  index  {got:?}\n  oracle {want:?}");
            }
        }
    }
    println!(
        "{count} queries over {n} entries: index {:.1} µs per query, brute force {:.1} ms per query ({} threads)",
        index_time.as_secs_f64() * 1e6 / count as f64,
        oracle_time.as_secs_f64() * 1e3 / count as f64,
        rayon::current_num_threads(),
    );
    println!(
        "{hits} expected hits, {missed} missed, {extra} extra: recall {:.4} %, {wrong} queries differ",
        if hits == 0 { 100.0 } else { 100.0 * (hits - missed) as f64 / hits as f64 }
    );
    if wrong > 0 {
        std::process::exit(1);
    }
}
