//! Live matching on one thread against a hotlist of ten million entries
//! (`LIMES_BENCH_ENTRIES` to change): normalising and matching raw reads with the
//! camera's country and without, and matching already normalised reads.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use limes_plate::normalize;

mod common;

/// Reads per measured iteration.
const BATCH: usize = 1000;

fn bench(c: &mut Criterion) {
    let entries = common::hotlist(common::entry_count(), 1);
    let reads_country = common::raw_reads(&entries, 1 << 20, true, 2);
    let reads_none = common::raw_reads(&entries, 1 << 18, false, 3);
    let index = common::build(entries);
    let now = common::now();
    let normalized: Vec<_> = reads_country.iter().filter_map(|(raw, country)| normalize(raw, *country).ok()).collect();
    let normalized_none: Vec<_> =
        reads_none.iter().filter_map(|(raw, country)| normalize(raw, *country).ok()).collect();

    let hits: usize = normalized.iter().map(|r| index.match_read(r, now).len()).sum();
    eprintln!("{} of {} reads hit", hits, normalized.len());

    let mut group = c.benchmark_group("live");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut hits = Vec::new();
    for (name, reads) in
        [("normalize_and_match/country", &reads_country), ("normalize_and_match/no_country", &reads_none)]
    {
        let mut at = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                for (raw, country) in &reads[at..at + BATCH] {
                    if let Ok(read) = normalize(black_box(raw), *country) {
                        index.match_read_into(&read, now, &mut hits);
                        black_box(&hits);
                    }
                }
                at = (at + BATCH) % (reads.len() - BATCH);
            })
        });
    }
    for (name, reads) in [("match_only/country", &normalized), ("match_only/no_country", &normalized_none)] {
        let mut at = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                for read in &reads[at..at + BATCH] {
                    index.match_read_into(black_box(read), now, &mut hits);
                    black_box(&hits);
                }
                at = (at + BATCH) % (reads.len() - BATCH);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
