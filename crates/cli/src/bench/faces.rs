//! `limes bench faces`: face detection and blurring of a 720p video, end to end (decode, detect,
//! blur, encode H.264), with the pinned CenterFace model (`--models`, `$LIMES_MODELS`), beside
//! the Python `deface` tool (`--deface-python`: an interpreter with `deface==1.5.0` and
//! `onnxruntime`) on the same file at the same input size, in the same run, in turns.
//!
//! The video is the synthetic street video (`limes vision video --height 720`: two pedestrians'
//! faces and a partly seen third, sliding across the frame). Both detect at the frame's own size
//! rounded up to multiples of 32 (1280×736: limes' `max_side` 1280, deface without `--scale`),
//! blur from the same threshold (0.2) and encode with libx264 at its defaults. deface is checked
//! to run the model on onnxruntime (it says "Running on CPUExecutionProvider"), not its OpenCV
//! fallback. limes blurs faces only here (`--faces-only`), as deface does.

use std::time::Instant;

use anyhow::Context;
use limes_vision::faces::{FaceDetector, FaceSettings};
use limes_vision::footage::{FootageSettings, anonymise};

use super::{BenchArgs, figure};

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let dir = a.models.clone().context("--models (or LIMES_MODELS): the models folder, `limes models fetch --dir`")?;
    let tmp = tempfile::tempdir()?;
    let video = tmp.path().join("street-720p.mp4");
    let fps = 25;
    crate::vision::video(&dir, &video, "RO", a.seed, a.faces_seconds, fps, 720)?;
    let frames = (a.faces_seconds * fps as f32).round() as u64;
    figure("faces.video", format!("{frames} frames of 1280x720 at {fps}/s"), "");
    let checked = limes_vision::models::check(&dir)?;
    let runtime = limes_vision::runtime::Runtime::load(&checked)?;
    let threads = a.vision_threads.max(1);
    let settings = FootageSettings::default();
    for round in 1..=a.faces_rounds.max(1) {
        // As deface's time counts its start, loading the model counts here.
        let out = tmp.path().join("limes.mp4");
        let started = Instant::now();
        let mut detector = FaceDetector::new(&runtime, &checked, FaceSettings { threads, ..FaceSettings::default() })?;
        let load = started.elapsed();
        let r = anonymise(&video, &out, &mut detector, None, &settings)?;
        let seconds = started.elapsed().as_secs_f64();
        let per = |d: std::time::Duration| format!("{:.1}", d.as_secs_f64() * 1000.0 / r.frames.max(1) as f64);
        let tag = format!("faces.round{round}.limes");
        figure(&format!("{tag}.fps"), format!("{:.2}", r.frames as f64 / seconds), "frames/s end to end");
        figure(&format!("{tag}.model_load_ms"), format!("{:.0}", load.as_secs_f64() * 1000.0), "ms");
        figure(&format!("{tag}.decode_ms"), per(r.decode), "ms/frame");
        figure(&format!("{tag}.detect_ms"), per(r.detect), "ms/frame (CenterFace at 1280x736)");
        let times = detector.times();
        figure(&format!("{tag}.detect_prepare_ms"), per(times.prepare), "ms/frame (resize to 1280x736, to f32)");
        figure(&format!("{tag}.detect_model_ms"), per(times.model), "ms/frame (onnxruntime)");
        figure(&format!("{tag}.detect_decode_ms"), per(times.decode), "ms/frame (heatmap to faces)");
        figure(&format!("{tag}.blur_ms"), per(r.blur), "ms/frame");
        figure(&format!("{tag}.encode_ms"), per(r.encode), "ms/frame");
        figure(&format!("{tag}.faces_per_frame"), format!("{:.2}", r.faces as f64 / r.frames.max(1) as f64), "");
        let Some(python) = &a.deface_python else {
            if round == 1 {
                figure("faces.deface", "skipped (no --deface-python)", "");
            }
            continue;
        };
        let out = tmp.path().join("deface.mp4");
        let started = Instant::now();
        let run = std::process::Command::new(python)
            .args(["-c", "import sys; from deface.deface import main; sys.argv[0] = 'deface'; main()"])
            .arg(&video)
            .arg("-o")
            .arg(&out)
            .args(["--thresh", "0.2", "--backend", "onnxrt", "--execution-provider", "CPUExecutionProvider"])
            .output()
            .with_context(|| format!("running deface with {}", python.display()))?;
        let seconds = started.elapsed().as_secs_f64();
        let said = String::from_utf8_lossy(&run.stdout);
        anyhow::ensure!(run.status.success(), "deface failed: {said}{}", String::from_utf8_lossy(&run.stderr));
        anyhow::ensure!(
            said.contains("Running on CPUExecutionProvider"),
            "deface did not run CenterFace on onnxruntime's CPU provider: {said}"
        );
        figure(
            &format!("faces.round{round}.deface.fps"),
            format!("{:.2}", frames as f64 / seconds),
            "frames/s end to end",
        );
    }
    Ok(())
}
