//! `limes vision eval` on the real models (`LIMES_MODELS`, which scripts/test fills): a small
//! evaluation set (one picture per country and condition) is read and scored, detection scored
//! on the street photograph, and every picture written beside its truth.

mod util;

use std::collections::BTreeMap;

#[test]
fn limes_vision_eval_scores_plate_reading_and_detection_and_writes_the_set() {
    let models = util::models();
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
    // Faces on the Solvay photograph against the 29 drawn by hand, and the two portraits.
    assert_eq!(figures.get("faces_group_drawn"), Some(&"29"), "{stdout}");
    assert!(number("faces_group_recall") >= 0.9 && number("faces_group_precision") >= 0.9, "{stdout}");
    assert!(number("faces_blur_detail_kept_max") < 0.1, "{stdout}");
    assert_eq!(figures.get("faces_minimums_met"), Some(&"true"), "{stdout}");
    assert_eq!(figures.get("gender_right"), Some(&"2/2"), "{stdout}");
    assert!(figures.get("age_gauss").is_some_and(|a| a.contains("painted at 63")), "{stdout}");
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
    let models = util::models();
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

/// `limes vision faces` and `limes vision anonymise` on the street photograph: its faces printed
/// with their landmarks; the anonymised copy has them (and the bus's lettering, plate-shaped)
/// blurred and the rest as it was; a file that is no picture is named and nothing is written.
#[test]
fn limes_vision_finds_faces_and_writes_pictures_with_faces_and_plates_blurred() {
    let models = util::models();
    let photo = std::path::Path::new(&models).join("street-bus.jpg");
    let dir = tempfile::tempdir().unwrap();
    let not_a_picture = dir.path().join("seized.png");
    std::fs::write(&not_a_picture, b"\x89PNG\r\n\x1a\n and then no picture").unwrap();
    let run = util::limes(&[
        "vision",
        "faces",
        "--models",
        &models,
        photo.to_str().unwrap(),
        not_a_picture.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(!run.status.success() && stderr.contains("seized.png") && stderr.contains("1 of 2"), "{stderr}");
    let faces: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!((2..=3).contains(&faces.len()), "{stdout}");
    for f in &faces {
        assert_eq!(f["box"].as_array().map(Vec::len), Some(4), "{f}");
        assert_eq!(f["landmarks"].as_array().map(Vec::len), Some(5), "{f}");
        assert!(f["score"].as_f64() > Some(0.2), "{f}");
        assert!(f.get("age").is_none(), "no age or gender unless asked: {f}");
    }
    // Asked for: age and gender of the public-domain portrait of Gauss (a man of 63), each with
    // its confidence, and the reminder of what they are.
    let portrait = std::path::Path::new(&models).join("portrait-gauss.png");
    let run = util::limes(&["vision", "faces", "--age-gender", "--models", &models, portrait.to_str().unwrap()]);
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success() && stderr.contains("Annex III 1(b)"), "{stdout}{stderr}");
    let gauss: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(gauss["gender"], "male", "{gauss}");
    assert!(gauss["gender_confidence"].as_f64() > Some(0.8), "{gauss}");
    assert!((gauss["age"].as_f64().unwrap() - 63.0).abs() <= 15.0, "{gauss}");
    assert_eq!(gauss["age_range"].as_array().map(Vec::len), Some(2), "{gauss}");
    assert!(gauss["age_confidence"].as_f64().is_some_and(|c| (0.0..=1.0).contains(&c)), "{gauss}");

    let out = dir.path().join("shared.png");
    let run =
        util::limes(&["vision", "anonymise", "--models", &models, photo.to_str().unwrap(), out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.lines().any(|l| l == format!("faces={}", faces.len())), "{stdout}");
    let original = image::open(&photo).unwrap().to_rgb8();
    let blurred = image::open(&out).unwrap().to_rgb8();
    assert_eq!(original.dimensions(), blurred.dimensions());
    // Each face printed above, and the lettering "cero emisiones" on the bus, lose their detail;
    // the pavement keeps all of it.
    for f in &faces {
        let b: Vec<f64> = f["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let rect = (b[0] as u32, b[1] as u32, (b[2] - b[0]) as u32, (b[3] - b[1]) as u32);
        let kept = limes_vision::anonymise::detail_kept(&original, &blurred, rect);
        assert!(kept < 0.05, "{f}: {kept}");
    }
    assert!(limes_vision::anonymise::detail_kept(&original, &blurred, (560, 550, 110, 60)) < 0.2);
    assert_eq!(limes_vision::anonymise::detail_kept(&original, &blurred, (300, 900, 200, 150)), 1.0);

    // Bad input: nothing is written.
    let refused = dir.path().join("refused.png");
    for (input, output) in [(&not_a_picture, &refused), (&photo, &dir.path().join("refused.txt"))] {
        let run = util::limes(&[
            "vision",
            "anonymise",
            "--models",
            &models,
            input.to_str().unwrap(),
            output.to_str().unwrap(),
        ]);
        assert!(!run.status.success());
        assert!(!output.exists(), "{}", output.display());
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(stderr.contains("seized.png") || stderr.contains("refused.txt"), "{stderr}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "only the bad file and the anonymised copy");
}

/// `limes vision anonymise` on a video: the synthetic 720p street video's two faces, where the
/// street photograph puts them in each frame (annotated by hand on the photograph, slid as
/// `limes vision video` slides it), lose their detail in every frame of the H.264 MP4 written;
/// a file that is no video and a truncated video are refused and nothing is written.
#[test]
fn limes_vision_anonymises_a_video_in_every_frame() {
    let models = util::models();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("street.mp4");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let made = util::limes(&[
        "vision",
        "video",
        "--models",
        &models,
        "--out",
        &path(&input),
        "--seconds",
        "1",
        "--fps",
        "8",
        "--height",
        "720",
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let output = dir.path().join("shared.mp4");
    let run = util::limes(&["vision", "anonymise", "--models", &models, "--faces-only", &path(&input), &path(&output)]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.lines().any(|l| l == "frames=8") && stdout.contains("size=1280x720"), "{stdout}");

    let decode = |video: &std::path::Path| -> Vec<image::RgbImage> {
        let frames = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-i", &path(video)])
            .arg(frames.path().join("%03d.png"))
            .status()
            .unwrap();
        assert!(status.success());
        let mut names: Vec<_> = std::fs::read_dir(frames.path()).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        names.iter().map(|p| image::open(p).unwrap().to_rgb8()).collect()
    };
    let (original, shared) = (decode(&input), decode(&output));
    assert_eq!((original.len(), shared.len()), (8, 8));
    // The photograph (810×1080) slides from x = 0 to 1920 − 810 over the 8 frames of the 1080p
    // video, scaled by ⅔ to 720p.
    for (i, (o, s)) in original.iter().zip(&shared).enumerate() {
        let x = (1920.0 - 810.0) * i as f32 / 7.0;
        for f in limes_vision::models::STREET_PHOTO_FACES {
            let [l, t, r, b] = [f[0] + x, f[1], f[2] + x, f[3]].map(|v| v * 2.0 / 3.0);
            let rect = (l as u32, t as u32, (r - l) as u32, (b - t) as u32);
            let kept = limes_vision::anonymise::detail_kept(o, s, rect);
            assert!(kept < 0.1, "frame {i}, face {f:?}: {kept:.3} of its detail kept");
        }
        // The road below them is as it was (bar the encoder's noise).
        let road = (0, 660, 1280, 60);
        assert!(limes_vision::anonymise::detail_kept(o, s, road) > 0.8, "frame {i}");
    }

    // Bad input: nothing is written.
    let not_a_video = dir.path().join("seized.mp4");
    std::fs::write(&not_a_video, b"\x00\x00\x00\x18ftypmp42 and then nothing").unwrap();
    let truncated = dir.path().join("truncated.mp4");
    let bytes = std::fs::read(&input).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    for bad in [&not_a_video, &truncated] {
        let out = dir.path().join("refused.mp4");
        let run = util::limes(&["vision", "anonymise", "--models", &models, "--faces-only", &path(bad), &path(&out)]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{}: {}", bad.display(), String::from_utf8_lossy(&run.stdout));
        assert!(stderr.contains(bad.file_name().unwrap().to_str().unwrap()) || stderr.contains("ffmpeg"), "{stderr}");
        assert!(!out.exists(), "{}: a refused video left an output", bad.display());
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 4, "no temporary files left: {left:?}");
}

/// `limes bench faces`, briefly (half a second of the 720p video, one round, one thread, no
/// deface): each stage gives its figure. The real run is a command of its own
/// (docs/benchmarks.md).
#[test]
fn limes_bench_faces_prints_each_stage() {
    let models = util::models();
    let run = util::limes(&[
        "bench",
        "faces",
        "--models",
        &models,
        "--faces-seconds",
        "0.5",
        "--faces-rounds",
        "1",
        "--vision-threads",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    let figures: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once('=')).collect();
    for name in ["fps", "decode_ms", "detect_ms", "detect_model_ms", "blur_ms", "encode_ms", "faces_per_frame"] {
        let name = format!("faces.round1.limes.{name}");
        let value: f64 = figures
            .get(name.as_str())
            .and_then(|v| v.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name}: {stdout}"));
        assert!(value > 0.0, "{name}: {stdout}");
    }
    assert_eq!(figures.get("faces.deface"), Some(&"skipped (no --deface-python) "), "{stdout}");
}
