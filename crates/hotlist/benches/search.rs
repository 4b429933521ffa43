//! Investigative search against a hotlist of ten million entries
//! (`LIMES_BENCH_ENTRIES` to change): edit distance ≤ 1 and ≤ 2 for listed plates
//! with injected errors, and wildcard patterns.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use limes_hotlist::{MaxEdits, Query, Wildcard};
use limes_plate::PlateText;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

mod common;

fn bench(c: &mut Criterion) {
    let entries = common::hotlist(common::entry_count(), 1);
    let mut rng = SmallRng::seed_from_u64(4);
    let queries: Vec<PlateText> = (0..1000)
        .map(|_| {
            let e = &entries[rng.random_range(0..entries.len())];
            let edits = rng.random_range(0..=2);
            let text = common::with_errors(&mut rng, e.plate.as_bytes(), edits);
            PlateText::new(std::str::from_utf8(&text).unwrap()).unwrap()
        })
        .collect();
    // Patterns as an investigator types them: a listed plate with a forgotten
    // character (`?`) and a forgotten middle (`*`).
    let patterns: Vec<Wildcard> = (0..200)
        .filter_map(|_| {
            let e = &entries[rng.random_range(0..entries.len())];
            let mut t: Vec<u8> = e.plate.as_bytes().to_vec();
            let n = t.len();
            let q = rng.random_range(0..n);
            t[q] = b'?';
            let (a, b) = (rng.random_range(1..n), rng.random_range(1..n));
            let (a, b) = (a.min(b), a.max(b));
            let mut p = t[..a].to_vec();
            p.push(b'*');
            p.extend_from_slice(&t[b..]);
            Wildcard::parse(std::str::from_utf8(&p).unwrap()).ok()
        })
        .collect();
    let index = common::build(entries);
    let now = common::now();

    let mut group = c.benchmark_group("search");
    for (name, max) in [("edit_distance_1", MaxEdits::One), ("edit_distance_2", MaxEdits::Two)] {
        let mut at = 0;
        let total: usize = queries[..100]
            .iter()
            .map(|q| index.search(&Query::EditDistance { plate: q.clone(), max }, now, usize::MAX).len())
            .sum();
        eprintln!("{name}: {:.1} hits per query", total as f64 / 100.0);
        group.bench_function(name, |b| {
            b.iter(|| {
                let query = Query::EditDistance { plate: queries[at].clone(), max };
                at = (at + 1) % queries.len();
                black_box(index.search(&query, now, 100))
            })
        });
    }
    let mut at = 0;
    group.bench_function("wildcard", |b| {
        b.iter(|| {
            let query = Query::Wildcard(patterns[at].clone());
            at = (at + 1) % patterns.len();
            black_box(index.search(&query, now, 100))
        })
    });
    for pattern in ["B*12?ABC", "*12345", "?J07*"] {
        let query = Query::Wildcard(Wildcard::parse(pattern).unwrap());
        group.bench_function(format!("wildcard/{pattern}"), |b| b.iter(|| black_box(index.search(&query, now, 100))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
