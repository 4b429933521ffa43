//! `limes bench video`: glass-to-glass latency of the live view in Chromium (issue #9).
//!
//! The "camera" is scripts/rtsp-test-server's clock stream: each frame shows, as 8 × 6 black or
//! white blocks, the wall-clock millisecond the frame was made (with a checksum), and is encoded
//! live (x264 or x265, zero-latency tuning) as a camera would. A `limes serve` process records
//! both clock streams (H.264, and H.265 which it transcodes for viewing), and web/tests/glass.mjs
//! plays them in the Video view: for every frame Chromium presents, it reads the blocks back from
//! the frame and subtracts that time from when the frame is expected on screen. Everything runs
//! on this machine, so one clock serves both ends; what is measured is encoding, RTSP, the
//! node's recorder and its fragmented MP4, HTTP, Media Source Extensions, decoding and
//! compositing — all but the camera's sensor and a network between.
//!
//! Beside it, in the same run, the floor: ffmpeg reading the same clock stream straight from the
//! RTSP server (no buffering, decoded to grey pixels) and this process reading the blocks back
//! the moment each frame comes out — what encoding, RTSP and decoding cost without the node and
//! the browser.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, ensure};
use limes_store::{Store, StoreOptions};

use super::{BenchArgs, figure};
use crate::simulate::quantile;

/// The clock streams and the camera ids the node records them as.
const CAMERAS: [(&str, &str); 2] = [("clock-h264", "clock264"), ("clock-h265", "clock265")];

struct ClockServer(Child);

impl Drop for ClockServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the RTSP test server at `width`×`height`; its base URL.
fn clock_server(width: u32, height: u32) -> anyhow::Result<(ClockServer, String)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rtsp-test-server");
    let mut child = Command::new(&script)
        .args(["0", "--width", &width.to_string(), "--height", &height.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {} (scripts/test installs its packages)", script.display()))?;
    let stdout = child.stdout.take().context("the server's output")?;
    let server = ClockServer(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).context("reading the RTSP server's output")?;
    let base = line.trim().strip_prefix("ready ").with_context(|| format!("the RTSP server said {line:?}"))?;
    Ok((server, base.to_owned()))
}

/// The 48 bits of a clock frame of `width`×`height` grey pixels, as the milliseconds it shows
/// when the checksum holds.
fn read_clock(frame: &[u8], width: usize, height: usize) -> Option<u64> {
    let mut word = 0u64;
    for i in 0..48 {
        let x = ((i % 8) as f64 + 0.5) * width as f64 / 8.0;
        let y = ((i / 8) as f64 + 0.5) * height as f64 / 6.0;
        let bit = u64::from(*frame.get(y as usize * width + x as usize)? > 128);
        word = (word << 1) | bit;
    }
    let (value, check) = (word >> 8, word & 0xff);
    let sum = (0..5).map(|b| (value >> (8 * b)) & 0xff).sum::<u64>() & 0xff;
    (sum == check).then_some(value)
}

/// ffmpeg decoding `url` for `seconds`: each frame's age (ms) when it came out of the decoder.
fn ffmpeg_floor(url: &str, width: u32, height: u32, seconds: f64) -> anyhow::Result<Vec<f64>> {
    use std::io::Read;
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-fflags", "nobuffer", "-flags", "low_delay"])
        .args(["-probesize", "32", "-analyzeduration", "0", "-rtsp_transport", "tcp", "-i", url])
        .args(["-t", &format!("{seconds}"), "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting ffmpeg (scripts/test installs it)")?;
    let mut out = child.stdout.take().context("ffmpeg's output")?;
    let (w, h) = (width as usize, height as usize);
    let mut frame = vec![0u8; w * h];
    let mut ages = Vec::new();
    while out.read_exact(&mut frame).is_ok() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
        if let Some(shown) = read_clock(&frame, w, h) {
            ages.push(((now & ((1 << 40) - 1)) as f64 - shown as f64).rem_euclid((1u64 << 40) as f64));
        }
    }
    let _ = child.wait();
    Ok(ages)
}

/// p50, p99 and max of `ms` as figures named `prefix_…`.
fn latency_figures(prefix: &str, ms: &[f64]) {
    let mut us: Vec<u64> = ms.iter().map(|m| (m.max(0.0) * 1000.0) as u64).collect();
    for (label, q) in [("p50", 0.5), ("p99", 0.99)] {
        figure(&format!("{prefix}_{label}"), format!("{:.1}", quantile(&mut us, q) as f64 / 1000.0), "ms");
    }
    figure(&format!("{prefix}_max"), format!("{:.1}", us.iter().max().copied().unwrap_or(0) as f64 / 1000.0), "ms");
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    ensure!(
        web.join("node_modules/playwright-core").exists(),
        "limes bench video needs {}/node_modules (npm ci there), Chromium and scripts/rtsp-test-server's GStreamer",
        web.display()
    );
    let (width, height) = (a.video_width, a.video_height);
    ensure!(
        width >= 64 && height >= 48 && width % 16 == 0 && height % 8 == 0,
        "--video-width/--video-height: a multiple of 16 × 8, at least 64 × 48"
    );
    let (_server, base) = clock_server(width, height)?;
    let dir = tempfile::tempdir()?;
    let password = {
        let store = Store::open(&dir.path().join("limes-data"), StoreOptions::default())?;
        let access = limes_server::AccessOptions {
            agency: "ro-igpf".into(),
            country: "RO".into(),
            ..limes_server::AccessOptions::default()
        };
        limes_server::auth::create_account(
            &store,
            &access,
            "bench-officer",
            "benchmark",
            &[limes_access::Role::Operator],
        )
        .map_err(|e| anyhow::anyhow!("creating the officer: {e}"))?
        .context("a new store has no officer yet")?
    };
    let mut config = crate::config::default_toml("bench", "ro-igpf", "RO", "127.0.0.1:0", "limes-data");
    for (camera, path) in CAMERAS {
        config.push_str(&format!(
            "\n[[video.streams]]\ncamera = \"{camera}\"\nurl = \"{base}{path}\"\nsegment_seconds = 10\n"
        ));
    }
    let config_path = dir.path().join("limes.toml");
    std::fs::write(&config_path, config)?;
    let (mut child, url) =
        super::node::serve(std::process::Command::new(std::env::current_exe()?), &config_path, "warn").await?;
    let out = tokio::process::Command::new("node")
        .arg(web.join("tests/glass.mjs"))
        .current_dir(&web)
        .env("LIMES_URL", url.trim_end_matches('/'))
        .env("LIMES_USER", "bench-officer")
        .env("LIMES_PASSWORD", &password)
        .env("LIMES_LEGAL_BASIS", "synthetic data: limes benchmark")
        .env("LIMES_CAMERAS", CAMERAS.map(|(c, _)| c).join(","))
        .env("LIMES_SECONDS", a.seconds.to_string())
        .output()
        .await
        .context("running node web/tests/glass.mjs")?;
    let _ = child.kill();
    let _ = child.wait();
    ensure!(out.status.success(), "the browser benchmark failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(out.stdout.trim_ascii()).context("the benchmark's report")?;
    figure("video.resolution", format!("{width}x{height}"), "pixels");
    for (camera, path) in CAMERAS {
        let r = &report[camera];
        let ms: Vec<f64> = r["samples"]
            .as_array()
            .with_context(|| format!("no samples of {camera}: {report}"))?
            .iter()
            .filter_map(|v| v.as_f64())
            .collect();
        let name = camera.replace('-', "_");
        figure(&format!("video.{name}.frames_read"), ms.len(), "frames");
        figure(&format!("video.{name}.frames_unreadable"), r["undecoded"].as_u64().unwrap_or(0), "frames");
        ensure!(!ms.is_empty(), "no frame of {camera} could be read back: {r}");
        latency_figures(&format!("video.{name}.glass_to_glass"), &ms);
        // The floor, with the node stopped: the stream decoded by ffmpeg alone.
        let url = format!("{base}{path}");
        let seconds = a.seconds;
        let floor = tokio::task::spawn_blocking(move || ffmpeg_floor(&url, width, height, seconds)).await??;
        ensure!(!floor.is_empty(), "ffmpeg decoded no readable frame of {camera}");
        figure(&format!("video.{name}.ffmpeg_frames_read"), floor.len(), "frames");
        latency_figures(&format!("video.{name}.ffmpeg_decode"), &floor);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    figure("video.load_average", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "), "");
    Ok(())
}
