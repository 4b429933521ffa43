//! Publishing a window of 100,000 distinct plates, one query round trip, and a membership
//! lookup in the published set.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use limes_hitquery::rand_core::OsRng;
use limes_hitquery::{PublishedSet, Query, Request, Response, ServerKey, SetBuilder, Window};
use limes_plate::PlateText;
use limes_plate::grammar::{KNOWN, formats};

const PLATES: usize = 100_000;

/// `n` distinct synthetic plates of the known countries, the same every run.
fn synthetic_plates(n: usize) -> Vec<PlateText> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // xorshift64*: enough to spread plates over formats and characters.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize
    };
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let country = KNOWN[next() % KNOWN.len()];
        let formats = formats(country);
        let plate = formats[next() % formats.len()].generate(&mut |k| next() % k.max(1));
        if seen.insert(plate.clone()) {
            out.push(plate);
        }
    }
    out
}

fn window() -> Window {
    Window::new(1_767_225_600, 1_767_830_400).unwrap()
}

fn publish(key: &ServerKey, plates: &[PlateText]) -> Vec<u8> {
    let mut builder = SetBuilder::new(key, window());
    for plate in plates {
        builder.insert(&mut OsRng, plate).unwrap();
    }
    builder.build().to_bytes()
}

fn bench(c: &mut Criterion) {
    let plates = synthetic_plates(PLATES);
    let key = ServerKey::from_seed(&[42; 32]);

    let mut slow = c.benchmark_group("publish");
    slow.sample_size(10).measurement_time(Duration::from_secs(60));
    slow.bench_function("100k_plates", |b| b.iter(|| publish(&key, black_box(&plates))));
    slow.finish();

    let bytes = publish(&key, &plates);
    println!("published set of {PLATES} plates: {} bytes", bytes.len());
    let mut parse = c.benchmark_group("parse");
    parse.sample_size(20);
    parse.bench_function("100k_plates", |b| b.iter(|| PublishedSet::from_bytes(black_box(&bytes)).unwrap()));
    parse.finish();

    let set = PublishedSet::from_bytes(&bytes).unwrap();
    let asked = [plates[PLATES / 2].clone()];

    c.bench_function("query/blind_one_plate", |b| b.iter(|| Query::new(&mut OsRng, set.key(), black_box(&asked))));
    let (_, request) = Query::new(&mut OsRng, set.key(), &asked).unwrap();
    c.bench_function("query/evaluate_one_plate", |b| b.iter(|| key.evaluate(&mut OsRng, black_box(&request))));
    c.bench_function("query/finish_one_plate", |b| {
        b.iter_batched(
            || {
                let (query, request) = Query::new(&mut OsRng, set.key(), &asked).unwrap();
                (query, key.evaluate(&mut OsRng, &request).unwrap())
            },
            |(query, response)| query.finish(&response, &set).unwrap(),
            BatchSize::SmallInput,
        )
    });
    c.bench_function("query/round_trip_one_plate_json", |b| {
        b.iter(|| {
            let (query, request) = Query::new(&mut OsRng, set.key(), &asked).unwrap();
            let request = Request::from_json(request.to_json().as_bytes()).unwrap();
            let response = key.evaluate(&mut OsRng, &request).unwrap().to_json();
            let answers = query.finish(&Response::from_json(response.as_bytes()).unwrap(), &set).unwrap();
            assert!(answers[0].is_hit());
        })
    });
    let full: Vec<PlateText> = plates[..16].to_vec();
    c.bench_function("query/round_trip_16_plates", |b| {
        b.iter(|| {
            let (query, request) = Query::new(&mut OsRng, set.key(), &full).unwrap();
            let response = key.evaluate(&mut OsRng, &request).unwrap();
            query.finish(&response, &set).unwrap()
        })
    });

    let hit = key.tags(&plates[PLATES / 3]);
    let miss = key.tags(&PlateText::new("ZZ999ZZ9").unwrap());
    assert!(set.answer(&hit).is_hit() && !set.answer(&miss).is_hit());
    c.bench_function("lookup/100k_hit", |b| b.iter(|| set.answer(black_box(&hit))));
    c.bench_function("lookup/100k_miss", |b| b.iter(|| set.answer(black_box(&miss))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
