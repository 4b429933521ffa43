//! `limes vision eval` on the real models (`LIMES_MODELS`, which scripts/test fills): a small
//! evaluation set (one picture per country and condition) is read and scored, detection scored
//! on the street photograph, and every picture written beside its truth.

mod util;

use std::collections::BTreeMap;

#[test]
fn limes_vision_eval_scores_plate_reading_and_detection_and_writes_the_set() {
    let models =
        std::env::var("LIMES_MODELS").expect("LIMES_MODELS: run scripts/test, or set it to a fetched models folder");
    let out = tempfile::tempdir().unwrap();
    let run = util::limes(&[
        "vision",
        "eval",
        "--models",
        &models,
        "--per-condition",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let figures: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    // 7 countries × 5 conditions.
    assert_eq!(figures.get("plates_pictures"), Some(&"35"), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    let number =
        |k: &str| figures.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or_else(|| panic!("{k}: {stdout}"));
    assert_eq!(number("detection_vehicle_recall"), 1.0, "the bus");
    assert!(number("detection_person_precision") >= 0.75 && number("detection_person_recall") >= 0.5, "{stdout}");
    // One picture per country and condition is too few for the minimums (`limes vision eval`
    // with its default set measures them, docs/benchmarks.md): this catches a broken reader.
    assert!(number("plates_exact_clean") >= 0.5 && number("plates_exact_degraded") >= 0.5, "{stdout}");
    for country in ["RO", "UA", "RS", "CZ", "PL", "HU", "MD"] {
        assert!((0.0..=1.0).contains(&number(&format!("plates_exact_clean_{country}"))));
    }
    // The command says whether the minimums were met, and exits non-zero when not.
    let met = figures.get("plates_minimums_met") == Some(&"true");
    assert_eq!(run.status.success(), met, "{stdout}");
    let written = std::fs::read_dir(out.path()).unwrap().count();
    assert_eq!(written, 70, "a picture and its truth each");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("0000.json")).unwrap()).unwrap();
    assert_eq!(truth["truth"]["country"], "RO");
    assert!(truth["truth"]["plate"].as_str().is_some_and(|p| !p.is_empty()));
    // `limes vision read` on a picture of the set that was read exactly, a file that is no
    // picture and a picture too small to analyse: the plate is printed as read and as a plate,
    // the two bad files are named, and the command fails after reading the good one.
    let exact = (0..35)
        .map(|i| out.path().join(format!("{i:04}")))
        .find(|p| {
            let t: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p.with_extension("json")).unwrap()).unwrap();
            t["exact"] == true
        })
        .expect("a picture read exactly");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(exact.with_extension("json")).unwrap()).unwrap();
    let not_a_picture = out.path().join("not-a-picture.jpg");
    std::fs::write(&not_a_picture, b"\xff\xd8 a text, not a JPEG").unwrap();
    let tiny = out.path().join("tiny.png");
    image::RgbImage::new(8, 8).save(&tiny).unwrap();
    let read = util::limes(&[
        "vision",
        "read",
        "--models",
        &models,
        not_a_picture.to_str().unwrap(),
        exact.with_extension("jpg").to_str().unwrap(),
        tiny.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (String::from_utf8_lossy(&read.stdout), String::from_utf8_lossy(&read.stderr));
    assert!(!read.status.success(), "{stdout}");
    assert!(
        stderr.contains("not-a-picture.jpg") && stderr.contains("tiny.png") && stderr.contains("2 of 3"),
        "{stderr}"
    );
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let plate =
        lines.iter().find(|l| l["plate"] == truth["truth"]["plate"]).unwrap_or_else(|| panic!("{truth}: {stdout}"));
    assert!(
        plate["raw"].as_str().is_some_and(|r| !r.is_empty()) && plate["confidence"].as_f64() > Some(0.7),
        "{plate}"
    );
    assert_eq!(plate["country"], truth["truth"]["country"]);
    assert_eq!(plate["corners"].as_array().map(Vec::len), Some(4));
    // A missing models folder: a clear refusal.
    let bad = util::limes(&["vision", "eval", "--models", out.path().to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("limes models fetch"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// `limes bench vision`, briefly (three frames, one thread): every stage gives its figure, and
/// the plate's crop is read as the plate. The real run is a command of its own (docs/benchmarks.md).
#[test]
fn limes_bench_vision_prints_each_stage() {
    let models =
        std::env::var("LIMES_MODELS").expect("LIMES_MODELS: run scripts/test, or set it to a fetched models folder");
    let run = util::limes(&["bench", "vision", "--models", &models, "--vision-frames", "3", "--vision-threads", "1"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    let figures: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    for name in [
        "vision.pipeline_1_thread.fps",
        "vision.pipeline_1_thread.objects_ms",
        "vision.pipeline_1_thread.plates_roi_ms",
        "vision.plates_whole_frame_1_thread_ms",
        "vision.idle_frame_gated_ms",
        "vision.plate_crops_per_s_1_thread",
    ] {
        let value: f64 = figures
            .get(name)
            .and_then(|v| v.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name}: {stdout}"));
        assert!(value > 0.0, "{name}: {stdout}");
    }
    assert_eq!(figures.get("vision.python"), Some(&"skipped (no --python) "), "{stdout}");
    assert!(figures.get("vision.plate_crop_read").is_some_and(|r| !r.trim().is_empty()), "{stdout}");
}
