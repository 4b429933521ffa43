//! Live video anonymised (`limes_vision::live`) on real models (`LIMES_MODELS`) and real ffmpeg:
//! the street photograph encoded as a camera's H.264 stream and written at a camera's pace; what
//! comes out is a fragmented MP4 whose every picture has the faces annotated by hand without
//! their detail and the pavement with it, stamped at the pace it was seen. A search that fails
//! ends the stream; hostile input ends it with nothing sent.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use image::RgbImage;
use limes_vision::analyse::{AnalyseError, Analyser, Settings};
use limes_vision::anonymise::detail_kept;
use limes_vision::faces::{FaceDetector, FaceSettings};
use limes_vision::footage::{ToBlur, to_blur};
use limes_vision::live::{self, LiveCodec, LiveSettings};
use limes_vision::models::{self, ModelId, Models, STREET_PHOTO_FACES};
use limes_vision::runtime::Runtime;

fn real_models() -> Models {
    let dir = std::env::var_os("LIMES_MODELS").map(PathBuf::from).unwrap_or_else(|| {
        panic!("LIMES_MODELS is not set: run scripts/test, or `limes models fetch --dir DIR` and set LIMES_MODELS=DIR")
    });
    models::check(&dir).unwrap_or_else(|e| panic!("LIMES_MODELS={}: {e}", dir.display()))
}

/// The search the node runs: faces, and plate-shaped texts.
fn search(models: &Models) -> impl FnMut(&RgbImage) -> Result<ToBlur, AnalyseError> + Send + 'static {
    let runtime = Runtime::load(models).unwrap();
    let mut faces = FaceDetector::new(&runtime, models, FaceSettings::default()).unwrap();
    let mut plates = Analyser::new(&runtime, models, Settings::default()).unwrap();
    move |p: &RgbImage| to_blur(p, &mut faces, Some(&mut plates))
}

/// `seconds` of the photograph at 10 pictures a second, as a camera's H.264 Annex B stream.
fn camera_stream(photo: &Path, seconds: u32) -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-loop", "1", "-i"])
        .arg(photo)
        .args(["-t", &seconds.to_string(), "-r", "10", "-c:v", "libx264", "-tune", "zerolatency", "-g", "10"])
        .args(["-pix_fmt", "yuv420p", "-f", "h264", "pipe:1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Writes `stream` into `input` over `over`, in twenty pieces, then closes it.
fn feed(mut input: impl Write + Send + 'static, stream: Vec<u8>, over: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let piece = stream.len().div_ceil(20).max(1);
        for chunk in stream.chunks(piece) {
            if input.write_all(chunk).and_then(|()| input.flush()).is_err() {
                return;
            }
            std::thread::sleep(over / 20);
        }
    })
}

/// The top-level boxes of an MP4.
fn boxes(mut bytes: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    while bytes.len() >= 8 {
        let size = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        names.push(String::from_utf8_lossy(&bytes[4..8]).into_owned());
        if size < 8 || size > bytes.len() {
            break;
        }
        bytes = &bytes[size..];
    }
    names
}

/// Every picture of `mp4`, decoded by ffmpeg, with its time.
fn decoded(mp4: &[u8]) -> Vec<(f64, RgbImage)> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.mp4");
    std::fs::write(&file, mp4).unwrap();
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-fps_mode", "passthrough"])
        .arg(dir.path().join("%04d.png"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let probe = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0"])
        .arg(&file)
        .output()
        .unwrap();
    let times: Vec<f64> = String::from_utf8_lossy(&probe.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    names.sort();
    assert_eq!(times.len(), names.len(), "{times:?}");
    times.into_iter().zip(names.iter().map(|p| image::open(p).unwrap().to_rgb8())).collect()
}

#[test]
fn a_live_stream_leaves_with_every_picture_blurred_at_the_pace_it_was_seen() {
    let models = real_models();
    let photo_path = models.path(ModelId::StreetPhoto);
    let photo = image::open(&photo_path).unwrap().to_rgb8();
    let stream = camera_stream(&photo_path, 4);
    let (anonymiser, input, mut output) =
        live::start(LiveCodec::H264, 810, 1080, search(&models), &LiveSettings::default()).unwrap();
    let started = Instant::now();
    let feeder = feed(input, stream, Duration::from_secs(4));
    let mut mp4 = Vec::new();
    output.read_to_end(&mut mp4).unwrap();
    feeder.join().unwrap();
    let took = started.elapsed();

    let stats = &anonymiser.stats;
    let (decoded_n, sent) = (stats.decoded.load(Ordering::Relaxed), stats.sent.load(Ordering::Relaxed));
    eprintln!(
        "40 pictures in {took:?}: {decoded_n} decoded, {sent} searched and sent, {} faces, {} plates",
        stats.faces.load(Ordering::Relaxed),
        stats.plates.load(Ordering::Relaxed)
    );
    assert_eq!(decoded_n, 40);
    assert!(stats.failure.lock().unwrap().is_none(), "{:?}", stats.failure);
    assert!(sent >= 4 && sent <= decoded_n, "{sent} sent");
    assert!(stats.faces.load(Ordering::Relaxed) >= 2 * sent, "both faces in every picture");
    let b = boxes(&mp4);
    assert_eq!(b[..2], ["ftyp", "moov"], "{b:?}");
    assert!(b.iter().filter(|n| *n == "moof").count() >= 2, "fragments as it goes: {b:?}");

    let pictures = decoded(&mp4);
    assert_eq!(pictures.len() as u64, sent, "what was counted as sent is what arrived");
    // Stamped as seen: the pictures span most of the four seconds the camera took.
    let span = pictures.last().unwrap().0 - pictures[0].0;
    assert!(span > 2.0 && span < 6.0, "the pictures span {span:.2} s");
    for (i, (t, p)) in pictures.iter().enumerate() {
        assert_eq!(p.dimensions(), (810, 1080));
        for f in STREET_PHOTO_FACES {
            let rect = (f[0] as u32, f[1] as u32, (f[2] - f[0]) as u32, (f[3] - f[1]) as u32);
            let kept = detail_kept(&photo, p, rect);
            assert!(kept < 0.1, "picture {i} at {t:.2} s, face {f:?}: {kept:.3} of its detail left");
        }
        let pavement = detail_kept(&photo, p, (300, 900, 200, 150));
        assert!(pavement > 0.5, "picture {i}: the pavement kept {pavement:.3} of its detail");
    }
}

#[test]
fn a_failing_search_ends_the_stream_and_sends_nothing_it_did_not_search() {
    let models = real_models();
    let photo_path = models.path(ModelId::StreetPhoto);
    let mut real = search(&models);
    let mut searched = 0;
    let failing = move |p: &RgbImage| {
        searched += 1;
        if searched == 3 { Err(AnalyseError::Model("the detector broke".into())) } else { real(p) }
    };
    let (anonymiser, input, mut output) =
        live::start(LiveCodec::H264, 810, 1080, failing, &LiveSettings::default()).unwrap();
    let feeder = feed(input, camera_stream(&photo_path, 10), Duration::from_secs(10));
    let started = Instant::now();
    let mut mp4 = Vec::new();
    output.read_to_end(&mut mp4).unwrap();
    let ended = started.elapsed();
    let failure = anonymiser.stats.failure.lock().unwrap().clone().expect("the failure is told");
    assert!(failure.contains("the detector broke"), "{failure}");
    // The first searched picture was sent once the second was searched (the window holds one);
    // the second would have needed the third.
    assert_eq!(anonymiser.stats.sent.load(Ordering::Relaxed), 1);
    assert!(
        ended < Duration::from_secs(8),
        "ended {ended:?} after it began: it should end well before the camera's 10 s"
    );
    let pictures = decoded(&mp4);
    assert_eq!(pictures.len(), 1);
    let photo = image::open(&photo_path).unwrap().to_rgb8();
    for f in STREET_PHOTO_FACES {
        let rect = (f[0] as u32, f[1] as u32, (f[2] - f[0]) as u32, (f[3] - f[1]) as u32);
        assert!(detail_kept(&photo, &pictures[0].1, rect) < 0.1);
    }
    drop(anonymiser);
    feeder.join().unwrap();
}

#[test]
fn hostile_streams_end_with_nothing_sent_and_a_dropped_anonymiser_stops_at_once() {
    let models = real_models();
    // Bytes that are no video: the decoder gives nothing, nothing is sent.
    let mut noise = Vec::with_capacity(200_000);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..noise.capacity() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        noise.push(seed as u8);
    }
    for (codec, bytes) in [(LiveCodec::H264, noise.clone()), (LiveCodec::H265, noise), (LiveCodec::H264, Vec::new())] {
        let (anonymiser, input, mut output) =
            live::start(codec, 640, 480, search(&models), &LiveSettings::default()).unwrap();
        let feeder = feed(input, bytes, Duration::from_millis(200));
        let mut mp4 = Vec::new();
        output.read_to_end(&mut mp4).unwrap();
        feeder.join().unwrap();
        assert_eq!(anonymiser.stats.sent.load(Ordering::Relaxed), 0, "{codec:?}");
        assert!(!boxes(&mp4).iter().any(|b| b == "moof"), "{codec:?}: no picture left");
    }
    // Sizes no camera sends.
    for (w, h) in [(0, 0), (15, 480), (640, 9000)] {
        let refused = live::start(LiveCodec::H264, w, h, search(&models), &LiveSettings::default());
        assert!(refused.is_err(), "{w}×{h}");
    }
    // A viewer who leaves: dropping the anonymiser ends its output at once.
    let photo_path = models.path(ModelId::StreetPhoto);
    let (anonymiser, input, mut output) =
        live::start(LiveCodec::H264, 810, 1080, search(&models), &LiveSettings::default()).unwrap();
    let feeder = feed(input, camera_stream(&photo_path, 10), Duration::from_secs(10));
    let mut first = [0u8; 64];
    output.read_exact(&mut first).unwrap();
    let dropped = Instant::now();
    drop(anonymiser);
    let mut rest = Vec::new();
    let _ = output.read_to_end(&mut rest);
    assert!(dropped.elapsed() < Duration::from_secs(2), "{:?}", dropped.elapsed());
    feeder.join().unwrap();
}
