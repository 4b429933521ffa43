//! Measures the store's write throughput alone: `cargo run --release -p limes-store --example write_speed`.

use std::time::Instant;

use chrono::Utc;
use limes_model::{CameraId, Direction, PlateInfo, PlateRead, Scored};
use limes_plate::{CountryCode, PlateText};
use limes_store::{NewRead, Store, StoreOptions, WriteBatch};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let now = Utc::now();
    let make = |i: usize| {
        let plate = format!("B{:03}{}", i % 1000, ["ABC", "XYZ", "KLM", "QRS"][i % 4]);
        let read = PlateRead {
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
    let batches: Vec<WriteBatch> = (0..400)
        .map(|b| WriteBatch { reads: (0..1000).map(|i| make(b * 1000 + i)).collect(), alerts: vec![] })
        .collect();
    let t = Instant::now();
    let n = batches.len() * 1000;
    let handles: Vec<_> = batches
        .into_iter()
        .map(|b| {
            let s = store.clone();
            std::thread::spawn(move || s.write_blocking(b).unwrap())
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!("store.write_reads_per_second={:.0} reads/s ({n} reads in {secs:.2} s)", n as f64 / secs);
}
