//! What a camera's confidence calibration costs on the read path: counting a read in
//! (every read with a confidence) and computing the quantile (only reads that would
//! confirm an alert).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use limes_hotlist::ConfidenceCalibration;

/// Reads per measured iteration.
const BATCH: usize = 1000;

fn bench(c: &mut Criterion) {
    // Confidences spread as the simulator's are: mostly 0.86–0.99, a tail below.
    let confidences: Vec<f32> = (0..BATCH as u32).map(|i| 0.99 - ((i * 7919) % 1000) as f32 / 4000.0).collect();
    let mut camera = ConfidenceCalibration::new();
    for &x in confidences.iter().cycle().take(10_000) {
        camera.observe(x);
    }
    let mut group = c.benchmark_group("calibration");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("observe", |b| {
        b.iter(|| {
            for &x in &confidences {
                camera.observe(black_box(x));
            }
        })
    });
    group.bench_function("threshold_q0.05", |b| {
        b.iter(|| {
            for &x in &confidences {
                black_box(camera.is_low(black_box(x), 0.05));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
