//! `encode_onvif_json` against `parse_onvif_json`: every simulated read comes back as it went
//! out, but for what ONVIF cannot carry (direction, colour, images, spaces around the text).

use chrono::{TimeZone, Utc};
use limes_camera_formats::{Limits, encode_onvif_json, encode_onvif_json_frames, parse_onvif_json};
use limes_model::{Direction, PlateRead};
use limes_sim::{Region, SimConfig, Simulator};
use proptest::prelude::*;

const TOPIC: &str = "limes-sim/ro-siret-01/onvif-mj/VideoAnalytics/1";

/// `read` as ONVIF can say it, with `position` as `got` has it if it is within 1e-9° (0.1 mm):
/// serde_json parses floats fast rather than exactly (its `float_roundtrip` is off), and a
/// longitude can come back an ulp apart.
fn expressible(read: &PlateRead, got: Option<&PlateRead>) -> PlateRead {
    let mut r = read.clone();
    // ONVIF comes from XML, whose parsers trim text: a text's surrounding spaces are not kept.
    r.plate.text.value = r.plate.text.value.trim().to_owned();
    if let (Some(a), Some(b)) = (r.position, got.and_then(|g| g.position))
        && (a.lat - b.lat).abs() < 1e-9
        && (a.lon - b.lon).abs() < 1e-9
    {
        r.position = Some(b);
    }
    r.direction = Direction::Unknown;
    r.images.clear();
    r.vehicle = r.vehicle.and_then(|mut v| {
        v.colour = None;
        (v.make.is_some() || v.class.is_some()).then_some(v)
    });
    r
}

fn decoded(bytes: &[u8], read: &PlateRead) -> Vec<PlateRead> {
    let observations = parse_onvif_json(bytes, Some(TOPIC), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)));
    // The receive time must not be what comes back: the frame's own time is.
    let received = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
    observations.into_iter().map(|o| o.into_plate_read(read.camera.clone(), received).expect("a plate read")).collect()
}

fn simulator(seed: u64, region: usize) -> Simulator {
    let region = [Region::ro_ua(), Region::named("ro-rs").unwrap(), Region::named("cz-pl").unwrap()][region].clone();
    let cfg = SimConfig {
        seed,
        region,
        start: Utc.with_ymd_and_hms(2026, 6, 9, 4, 0, 0).unwrap(),
        vehicles: 2_000,
        reads_per_second: 20.0,
        // More of the cases the text and country must survive.
        no_country_rate: 0.2,
        cyrillic_rate: 0.3,
        ..SimConfig::default()
    };
    Simulator::new(cfg).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn simulated_reads_survive_encoding_and_parsing(seed in any::<u64>(), region in 0usize..3) {
        for s in simulator(seed, region).take(200) {
            let read = &s.read;
            let back = decoded(&encode_onvif_json(read), read);
            prop_assert_eq!(back.len(), 1);
            let got = &back[0];
            // The figures the task names, one by one, for a clear message…
            prop_assert_eq!(got.plate.text.value.as_str(), read.plate.text.value.trim());
            prop_assert_eq!(got.plate.text.confidence, read.plate.text.confidence);
            prop_assert_eq!(&got.plate.country, &read.plate.country);
            prop_assert_eq!(got.time.timestamp_millis(), read.time.timestamp_millis());
            prop_assert_eq!(
                got.vehicle.as_ref().and_then(|v| v.make.as_deref()),
                read.vehicle.as_ref().and_then(|v| v.make.as_deref())
            );
            // …and everything else ONVIF can say.
            prop_assert_eq!(got, &expressible(read, Some(got)));
        }
    }

    #[test]
    fn several_reads_of_a_camera_survive_in_one_document(seed in any::<u64>(), n in 1usize..12) {
        let reads: Vec<PlateRead> = simulator(seed, 0).take(n).map(|s| s.read).collect();
        let back = decoded(&encode_onvif_json_frames(&reads), &reads[0]);
        prop_assert_eq!(back.len(), reads.len());
        let want: Vec<PlateRead> = reads
            .iter()
            .zip(&back)
            .map(|(r, got)| PlateRead { camera: reads[0].camera.clone(), ..expressible(r, Some(got)) })
            .collect();
        prop_assert_eq!(back, want);
    }
}
