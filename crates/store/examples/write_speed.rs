//! Measures the store's write throughput alone: `cargo run --release -p limes-store --example write_speed`.

use std::time::Instant;

use chrono::Utc;
use limes_model::{CameraId, Direction, PlateInfo, PlateRead, Scored};
use limes_plate::{CountryCode, PlateText};
use limes_store::{NewRead, Store, StoreOptions, WriteBatch};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    // Experiments: LIMES_DROP_INDEX=name drops one index first, to see what it costs.
    if let Ok(index) = std::env::var("LIMES_DROP_INDEX") {
        let conn = rusqlite::Connection::open(store.path()).unwrap();
        conn.execute_batch(&format!("DROP INDEX {index}")).unwrap();
    }
    let rounds: usize = std::env::var("LIMES_BATCHES").ok().and_then(|v| v.parse().ok()).unwrap_or(400);
    let now = Utc::now();
    let make = |i: usize| {
        // Spread keys like real traffic: many distinct plates in random order.
        let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        let letters: String = (0..3).map(|k| (b'A' + ((h >> (5 * k)) % 26) as u8) as char).collect();
        let plate = format!("B{:03}{letters}", (h >> 20) % 1000);
        let read = PlateRead {
            exercise: false,
            camera: CameraId::new(format!("cam-{}", i % 10)).unwrap(),
            time: now,
            plate: PlateInfo {
                text: Scored { value: plate.clone(), confidence: Some(0.9) },
                plate_type: None,
                country: Some(Scored { value: CountryCode::RO, confidence: Some(0.8) }),
                issuing_entity: None,
            },
            direction: Direction::Leaving,
            position: None,
            vehicle: None,
            images: vec![],
        };
        NewRead::new(read, PlateText::new(&plate).unwrap(), Some(CountryCode::RO), true, now)
    };
    let batches: Vec<WriteBatch> = (0..rounds)
        .map(|b| WriteBatch { reads: (0..1000).map(|i| make(b * 1000 + i)).collect(), alerts: vec![] })
        .collect();
    let t = Instant::now();
    let n = batches.len() * 1000;
    // 32 writers at a time, as many HTTP requests in flight would be; a line every million rows.
    let mut lap = Instant::now();
    let mut done = 0usize;
    for chunk in batches.chunks(32) {
        let handles: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|b| {
                let s = store.clone();
                std::thread::spawn(move || s.write_blocking(b).unwrap())
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        done += chunk.len() * 1000;
        if done % 1_000_000 < chunk.len() * 1000 {
            eprintln!(
                "{done} rows: {:.0} rows/s over the last million (every million)",
                1e6 / lap.elapsed().as_secs_f64()
            );
            lap = Instant::now();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    // Plate search after the writes: exact and look-alike, over every segment.
    let segments = (n as f64 / f64::from(1u32 << 18)).ceil();
    let t = Instant::now();
    let mut found = 0;
    for i in (0..n).step_by(n / 1000) {
        let plate = make(i).plate;
        let q = limes_store::ReadQuery {
            plate: Some(limes_store::PlateFilter::Exact(plate)),
            limit: 100,
            ..Default::default()
        };
        found += store.search_reads(&q).unwrap().reads.len();
    }
    eprintln!(
        "store.plate_search_us={:.0} µs per exact search over {segments} segments ({found} reads found by 1,000 searches)",
        t.elapsed().as_secs_f64() * 1e6 / 1000.0
    );
    let wal = std::fs::metadata(store.path().with_extension("db-wal")).map(|m| m.len()).unwrap_or(0);
    let db = std::fs::metadata(store.path()).map(|m| m.len()).unwrap_or(0);
    eprintln!("wal {:.1} MB, database {:.1} MB", wal as f64 / 1e6, db as f64 / 1e6);
    println!("store.write_reads_per_second={:.0} reads/s ({n} reads in {secs:.2} s)", n as f64 / secs);
}
