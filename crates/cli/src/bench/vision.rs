//! `limes bench vision`: the node's own analysis at 1080p, per stage, on the synthetic street
//! video's frames (`limes vision video`: the street photograph with a plate on its bus sliding
//! across a 1920×1080 road), with the pinned models (`--models`, `$LIMES_MODELS`).
//!
//! - the whole pipeline without motion gating (every frame through the detector, plates read
//!   inside the vehicles found, the scene), frames per second on 1 thread per model (per core)
//!   and on `--vision-threads`, time per stage;
//! - what the region of interest saves: text detection on the bus's box against the whole frame;
//! - what the motion gate saves: a still picture with sensor noise, gated, against the pipeline;
//! - plate crops read per second (recognition of the plate's crop alone);
//! - side by side in the same run, when `--python` names an interpreter with
//!   `rapidocr-onnxruntime==1.3.24` (crates/vision/benches/rapidocr_stages.py): rapidocr's text
//!   detection on the same box and frame at the same input sizes, its recognition of the same
//!   crop, and its whole pipeline on the frame.

use std::time::Instant;

use anyhow::Context;
use image::RgbImage;
use limes_vision::analyse::{Analyser, Settings};
use limes_vision::motion::MotionSettings;
use limes_vision::ocr::TextBox;
use limes_vision::watch::{WatchSettings, Watcher};

use super::{BenchArgs, figure};

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let dir = a.models.clone().context("--models (or LIMES_MODELS): the models folder, `limes models fetch --dir`")?;
    let n = a.vision_frames.max(3);
    let country = limes_plate::CountryCode::parse("RO").expect("RO");
    let (scene, truth) = crate::vision::street(&dir, country, a.seed)?;
    let frames: Vec<RgbImage> = (0..n).map(|i| crate::vision::street_frame(&scene, i, n)).collect();
    let checked = limes_vision::models::check(&dir)?;
    let runtime = limes_vision::runtime::Runtime::load(&checked)?;
    figure("vision.frames", n, "frames of 1920x1080");

    // The pipeline, ungated, on 1 thread per model and on the threads asked for.
    let mut runs = vec![1];
    if a.vision_threads > 1 {
        runs.push(a.vision_threads);
    }
    for threads in runs {
        let mut analyser = Analyser::new(&runtime, &checked, Settings { threads, ..Settings::default() })?;
        let settings = WatchSettings {
            motion: MotionSettings { enabled: false, ..MotionSettings::default() },
            ..WatchSettings::default()
        };
        let mut watcher = Watcher::new(settings)?;
        // One frame to warm the sessions up.
        watcher.frame(&mut analyser, chrono::Utc::now(), &frames[0])?;
        let (mut objects, mut plates, mut scene_ms, mut reads) = (Vec::new(), Vec::new(), Vec::new(), 0usize);
        let started = Instant::now();
        for (i, f) in frames.iter().enumerate() {
            let time = chrono::Utc::now() + chrono::TimeDelta::milliseconds(200 * i as i64);
            let w = watcher.frame(&mut analyser, time, f)?;
            objects.push(ms(w.times.objects));
            plates.push(ms(w.times.plates));
            scene_ms.push(ms(w.times.scene));
            reads += w.detections.iter().filter(|d| d.plate.as_ref().is_some_and(|p| p.text == truth.plate)).count();
        }
        let total = started.elapsed().as_secs_f64();
        let tag = format!("vision.pipeline_{threads}_thread{}", if threads == 1 { "" } else { "s" });
        figure(&format!("{tag}.fps"), format!("{:.2}", n as f64 / total), "frames/s");
        figure(&format!("{tag}.objects_ms"), format!("{:.1}", median(objects)), "ms median");
        figure(&format!("{tag}.plates_roi_ms"), format!("{:.1}", median(plates)), "ms median");
        figure(&format!("{tag}.scene_ms"), format!("{:.3}", median(scene_ms)), "ms median");
        figure(&format!("{tag}.frames_read_exactly"), reads, "frames");
        if threads != 1 {
            continue;
        }
        // The region of interest's gain: the plates of the whole frame, text detection on all
        // of it (scaled to 1280).
        let mut whole = Vec::new();
        for f in &frames {
            let started = Instant::now();
            analyser.plates(f)?;
            whole.push(ms(started.elapsed()));
        }
        figure("vision.plates_whole_frame_1_thread_ms", format!("{:.1}", median(whole)), "ms median");
    }

    // The motion gate's gain: a still picture with a sensor's noise, gated.
    let mut analyser = Analyser::new(&runtime, &checked, Settings { threads: 1, ..Settings::default() })?;
    let mut watcher = Watcher::new(WatchSettings {
        motion: MotionSettings { hold_ms: 0, ..MotionSettings::default() },
        ..WatchSettings::default()
    })?;
    let still = &frames[n as usize / 2];
    let mut idle = Vec::new();
    for i in 0..n {
        let mut noisy = still.clone();
        for (k, p) in noisy.pixels_mut().enumerate().step_by(7) {
            let d = ((k as u32).wrapping_mul(2654435761).wrapping_add(i * 97) >> 29) as u8;
            p.0[0] = p.0[0].saturating_add(d);
        }
        let time = chrono::Utc::now() + chrono::TimeDelta::milliseconds(200 * i64::from(i));
        let started = Instant::now();
        let w = watcher.frame(&mut analyser, time, &noisy)?;
        if i > 0 {
            anyhow::ensure!(!w.analysed, "the still picture was taken for motion");
            idle.push(ms(started.elapsed()));
        }
    }
    figure("vision.idle_frame_gated_ms", format!("{:.2}", median(idle)), "ms median");

    // Plate crops read per second: the plate's own box, recognised alone.
    let x = crate::vision::street_x(&scene, n / 2, n) as f32;
    let (_, height) = crate::vision::VIDEO;
    let y = (height - scene.height()) as f32;
    let plate_box = TextBox { corners: truth.corners.map(|(cx, cy)| (cx + x, cy + y)), score: 1.0 };
    let (read, _) = analyser.read_text(still, &plate_box)?;
    figure("vision.plate_crop_read", read.replace(' ', ""), "");
    let rounds = 50;
    let started = Instant::now();
    for _ in 0..rounds {
        analyser.read_text(still, &plate_box)?;
    }
    let per = started.elapsed().as_secs_f64() / f64::from(rounds);
    figure("vision.plate_crops_per_s_1_thread", format!("{:.1}", 1.0 / per), "crops/s");
    figure("vision.recognition_1_thread_ms", format!("{:.2}", per * 1000.0), "ms mean");

    // Side by side: rapidocr's stages on the same pictures at the same sizes, limes's beside.
    let Some(python) = &a.python else {
        figure("vision.python", "skipped (no --python)", "");
        return Ok(());
    };
    let objects = analyser.objects(still)?;
    let bus = objects
        .iter()
        .filter(|o| o.class.is_vehicle())
        .max_by(|p, q| ((p.right - p.left) * (p.bottom - p.top)).total_cmp(&((q.right - q.left) * (q.bottom - q.top))))
        .context("no vehicle found on the still picture")?;
    let (left, top) = (bus.left.max(0.0) as u32, bus.top.max(0.0) as u32);
    let vehicle = image::imageops::crop_imm(
        still,
        left,
        top,
        (bus.right as u32).min(still.width()) - left,
        (bus.bottom as u32).min(still.height()) - top,
    )
    .to_image();
    let crop = limes_vision::ocr::crop(still, &plate_box).context("the plate's crop")?;
    let tmp = tempfile::tempdir()?;
    let (vehicle_png, frame_png, plate_png) =
        (tmp.path().join("vehicle.png"), tmp.path().join("frame.png"), tmp.path().join("plate.png"));
    vehicle.save(&vehicle_png)?;
    still.save(&frame_png)?;
    crop.save(&plate_png)?;
    let threads = a.vision_threads.max(1);
    let mut analyser = Analyser::new(&runtime, &checked, Settings { threads, ..Settings::default() })?;
    // At the same input size as rapidocr 1.3.24 (the strip's own width, unpadded), and padded to
    // 320 as the node reads (`Settings::recognition_min_width`).
    let mut unpadded =
        Analyser::new(&runtime, &checked, Settings { threads, recognition_min_width: 16, ..Settings::default() })?;
    // rapidocr's stages run in a Python process that stays up and times one stage each time it
    // is asked (crates/vision/benches/rapidocr_stages.py --serve). Each round times each stage
    // of limes, then the same stage of rapidocr, so that a host whose speed drifts over the run
    // (this one's does, by half) weighs on both alike.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../vision/benches/rapidocr_stages.py");
    let mut server = std::process::Command::new(python)
        .arg(&script)
        .arg(threads.to_string())
        .arg(&dir)
        .args([&vehicle_png, &frame_png, &plate_png])
        .arg("--serve")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    let mut ask = server.stdin.take().context("the script's input")?;
    let mut answers = std::io::BufReader::new(server.stdout.take().context("the script's output")?);
    let mut ask_line = |what: &str| -> anyhow::Result<String> {
        use std::io::{BufRead, Write};
        writeln!(ask, "{what}")?;
        ask.flush()?;
        let mut line = String::new();
        answers.read_line(&mut line)?;
        anyhow::ensure!(!line.is_empty(), "{} ended without answering {what}", script.display());
        Ok(line.trim().to_owned())
    };
    let python_read = ask_line("read")?;
    let python_boxes = ask_line("boxes")?;
    let mut python_ms = |stage: &str| -> anyhow::Result<f64> {
        let line = ask_line(stage)?;
        line.parse::<f64>().with_context(|| format!("rapidocr_stages.py answered {line:?} to {stage}"))
    };
    // (figure name, the script's stage); `limes_stage` below does limes' side of each.
    const STAGES: [(&str, &str); 4] = [
        ("text_detection_vehicle", "det_vehicle"),
        ("text_detection_frame", "det_frame"),
        ("recognition", "rec"),
        ("ocr_frame", "ocr"),
    ];
    let mut limes_stage = |i: usize| -> anyhow::Result<f64> {
        let started = Instant::now();
        match i {
            0 => drop(analyser.text_boxes(&vehicle)?),
            1 => drop(analyser.text_boxes(still)?),
            2 => drop(unpadded.read_strip(crop.clone())?),
            _ => drop(analyser.plates(still)?),
        }
        Ok(ms(started.elapsed()))
    };
    let (mut mine, mut theirs) = (vec![Vec::new(); STAGES.len()], vec![Vec::new(); STAGES.len()]);
    for round in 0..18 {
        for (i, (_, stage)) in STAGES.iter().enumerate() {
            let (l, p) = (limes_stage(i)?, python_ms(stage)?);
            // Three rounds to warm both up.
            if round >= 3 {
                mine[i].push(l);
                theirs[i].push(p);
            }
        }
    }
    // Median of 15 runs after 3 to warm up (limes only: rapidocr is handed the crop).
    let timed = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let mut v = Vec::new();
        for round in 0..18 {
            let started = Instant::now();
            f()?;
            if round >= 3 {
                v.push(ms(started.elapsed()));
            }
        }
        Ok(median(v))
    };
    let padded = timed(&mut || analyser.read_strip(crop.clone()).map(drop).map_err(Into::into))?;
    let cut = timed(&mut || limes_vision::ocr::crop(still, &plate_box).map(drop).context("the plate's crop"))?;
    drop(ask);
    let _ = server.wait();
    let strip_width = (48.0 * crop.width() as f32 / crop.height().max(1) as f32).ceil();
    let sizes = [
        format!("{}x{}", vehicle.width(), vehicle.height()),
        "1920x1080 scaled to 1280".to_owned(),
        format!("the cut-out strip at 48x{strip_width}"),
        "detection and every box read".to_owned(),
    ];
    for (i, (name, _)) in STAGES.iter().enumerate() {
        let (l, p) = (median(mine[i].clone()), median(theirs[i].clone()));
        let unit = format!("ms median of 15 interleaved rounds, {}", sizes[i]);
        figure(&format!("vision.limes_{name}_ms"), format!("{l:.2}"), &unit);
        figure(&format!("vision.python_{name}_ms"), format!("{p:.2}"), &unit);
        let wins = mine[i].iter().zip(&theirs[i]).filter(|(l, p)| l <= p).count();
        figure(&format!("vision.limes_faster_{name}_rounds"), format!("{wins}/{}", mine[i].len()), "rounds");
    }
    figure("vision.limes_plate_cut_ms", format!("{cut:.2}"), "ms median, the plate's box cut out upright");
    figure(
        "vision.limes_recognition_padded_ms",
        format!("{padded:.2}"),
        "ms median, padded to 48x320 as the node reads",
    );
    figure("vision.python_plate_read", python_read, "");
    figure("vision.python_ocr_frame_boxes", python_boxes, "boxes");
    Ok(())
}
