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
//!
//! Then the same video as a camera's live stream through the live anonymiser a partner's view
//! goes through (`limes_vision::live`, faces and plate-shaped texts): the pictures a second it
//! searches and sends.

use std::sync::atomic::Ordering;
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
    live(&video, &checked, &runtime, threads, a.faces_seconds, fps)
}

/// The same video as a camera's live stream (Annex B, written at its own pace) through the live
/// anonymiser a partner's view goes through, with the node's search (faces and plate-shaped
/// texts): how many pictures a second are searched, blurred and sent.
fn live(
    video: &std::path::Path,
    checked: &limes_vision::models::Models,
    runtime: &limes_vision::runtime::Runtime,
    threads: usize,
    seconds: f32,
    fps: u32,
) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let annexb = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", "pipe:1"])
        .output()
        .context("ffmpeg")?;
    anyhow::ensure!(annexb.status.success(), "ffmpeg: {}", String::from_utf8_lossy(&annexb.stderr));
    let mut faces = FaceDetector::new(runtime, checked, FaceSettings { threads, ..FaceSettings::default() })?;
    let settings = limes_vision::analyse::Settings { threads, ..Default::default() };
    let mut plates = limes_vision::analyse::Analyser::new(runtime, checked, settings)?;
    let search = move |p: &image::RgbImage| limes_vision::footage::to_blur(p, &mut faces, Some(&mut plates));
    let live_settings = limes_vision::live::LiveSettings::default();
    let (anonymiser, mut input, mut output) =
        limes_vision::live::start(limes_vision::live::LiveCodec::H264, 1280, 720, search, &live_settings)?;
    let started = Instant::now();
    let stream = annexb.stdout;
    let feeder = std::thread::spawn(move || {
        // In as many pieces as frames, one every frame interval: the camera's pace.
        let frames = (seconds * fps as f32).round().max(1.0) as usize;
        for piece in stream.chunks(stream.len().div_ceil(frames).max(1)) {
            if input.write_all(piece).and_then(|()| input.flush()).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_secs_f64(1.0 / f64::from(fps)));
        }
    });
    let mut mp4 = Vec::new();
    output.read_to_end(&mut mp4)?;
    let _ = feeder.join();
    let took = started.elapsed().as_secs_f64();
    let stats = &anonymiser.stats;
    let (decoded, sent) = (stats.decoded.load(Ordering::Relaxed), stats.sent.load(Ordering::Relaxed));
    figure("faces.live.decoded", decoded, &format!("pictures of 1280x720 at {fps}/s"));
    figure(
        "faces.live.sent_per_s",
        format!("{:.2}", sent as f64 / took),
        "pictures/s searched (faces and plates), blurred and sent",
    );
    figure("faces.live.mp4_kb", mp4.len() / 1024, "KiB sent");
    Ok(())
}
