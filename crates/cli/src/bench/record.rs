//! `limes bench record`: what recording concurrent 1080p H.264 camera streams costs on this
//! machine (issue #9), next to ffmpeg recording the same streams with `-c copy`.
//!
//! The streams come from GStreamer's RTSP server (`scripts/rtsp-test-server --file`) replaying a
//! pre-encoded file without re-encoding it: 1920×1080, 25 fps, a key frame every 50 frames,
//! about 4 Mbit/s, as a camera sends. The file is made once with ffmpeg (`testsrc2` with
//! temporal noise, so that the encoder spends the bitrate as on a real scene) and cached.
//!
//! For each number of streams N: N recorder tasks (`limes_recorder::record`) in this process
//! into a fresh store, then N `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment` processes.
//! CPU is taken from each process's CPU clock (user + system, `bench::cpu`) over `--seconds` of steady recording:
//! from the moment every stream is playing (limes) or writing (ffmpeg) to the moment it is told
//! to stop, so connecting and the last fsync are left out. The server's CPU is reported apart.
//! Frames: what each recorder wrote against 25 per wall second since its PLAY (limes) or its
//! start (ffmpeg); a stream short by more than 1 % and half a second of frames dropped frames. N grows until frames drop or limes' CPU nears
//! the machine's.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use limes_model::CameraId;
use limes_recorder::{RecorderConfig, RecorderEvent, StreamSource};
use limes_store::{Store, StoreOptions};

use super::{BenchArgs, cpu, figure};

const FPS: f64 = 25.0;
/// The length of the encoded clip; the served file repeats it.
const CLIP_SECONDS: u32 = 4;
/// What the served file lasts beyond `--seconds`: connecting, probing, stopping.
const MARGIN_SECONDS: f64 = 30.0;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn run_quietly(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let out =
        command.stdin(Stdio::null()).output().with_context(|| format!("running {what} (is ffmpeg installed?)"))?;
    ensure!(out.status.success(), "{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// The pre-encoded clip at `clip` (made there if missing), and beside it a file repeating it
/// for at least `seconds` (made if missing): the path of the latter.
fn prepare_file(clip: &Path, seconds: f64) -> anyhow::Result<PathBuf> {
    let dir = clip.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if !clip.exists() {
        eprintln!("encoding the {CLIP_SECONDS} s 1080p H.264 test clip {} (once)", clip.display());
        let partial = dir.join(format!(".clip-partial-{}.mp4", std::process::id()));
        run_quietly(
            Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
                .arg("testsrc2=size=1920x1080:rate=25,noise=alls=12:allf=t")
                .args(["-t", &CLIP_SECONDS.to_string(), "-c:v", "libx264", "-preset", "veryfast"])
                .args(["-profile:v", "main", "-bf", "0", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0"])
                .args(["-b:v", "4M", "-maxrate", "4M", "-bufsize", "4M", "-pix_fmt", "yuv420p"])
                .args(["-movflags", "+faststart", "-f", "mp4"])
                .arg(&partial),
            "ffmpeg (encoding the clip)",
        )?;
        std::fs::rename(&partial, clip)?;
    }
    let clip_seconds = probe_duration(clip)?;
    let repeats = ((seconds + MARGIN_SECONDS) / clip_seconds).ceil().max(1.0) as u32;
    let stem = clip.file_stem().and_then(|s| s.to_str()).unwrap_or("clip");
    let served = dir.join(format!("{stem}-x{repeats}.mp4"));
    if !served.exists() {
        let partial = dir.join(format!(".{stem}-x{repeats}-partial-{}.mp4", std::process::id()));
        run_quietly(
            Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y", "-stream_loop", &(repeats - 1).to_string(), "-i"])
                .arg(clip)
                .args(["-an", "-c", "copy", "-f", "mp4"])
                .arg(&partial),
            "ffmpeg (repeating the clip)",
        )?;
        std::fs::rename(&partial, &served)?;
    }
    Ok(served)
}

fn probe_duration(file: &Path) -> anyhow::Result<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .context("running ffprobe")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().with_context(|| format!("the duration of {}: {text:?}", file.display()))
}

/// Video packets in the files ffmpeg wrote.
fn count_packets(files: &[PathBuf]) -> anyhow::Result<u64> {
    let mut total = 0;
    for file in files {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-count_packets", "-select_streams", "v:0"])
            .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
            .arg(file)
            .output()
            .context("running ffprobe")?;
        let text = String::from_utf8_lossy(&out.stdout);
        total += text.trim().trim_end_matches(',').parse::<u64>().unwrap_or(0);
    }
    Ok(total)
}

/// The RTSP server, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(file: &Path) -> anyhow::Result<Server> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rtsp-test-server");
        let mut child = Command::new(&script)
            .arg("0")
            .arg("--file")
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} (scripts/test installs its packages)", script.display()))?;
        let mut line = String::new();
        let stdout = child.stdout.take().context("the server's output")?;
        let read = BufReader::new(stdout).read_line(&mut line);
        let mut server = Server { child, url: String::new() };
        read.context("reading the RTSP server's output")?;
        let base = line.trim().strip_prefix("ready ").with_context(|| format!("the RTSP server said {line:?}"))?;
        server.url = format!("{base}file");
        Ok(server)
    }

    fn cpu(&self) -> anyhow::Result<f64> {
        cpu::seconds(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one recorder (limes or ffmpeg) did with N streams.
struct Outcome {
    /// CPU seconds per wall second, all streams together.
    cpu: f64,
    server_cpu: f64,
    frames: u64,
    expected: u64,
    /// Streams short of their expected frames by more than the tolerance.
    short_streams: usize,
    bytes: u64,
    disconnections: usize,
}

/// Whether a stream lacks frames against 25 per wall second: by more than 1 % and half a second
/// of frames, what the edges of the window take (PLAY to the first frame, ffmpeg's own start-up,
/// stop to the last frame). A recorder that cannot keep up falls further behind every second.
fn short(frames: u64, expected: f64) -> bool {
    (frames as f64) < expected - (expected * 0.01).max(FPS / 2.0)
}

async fn record_limes(server: &Server, n: usize, seconds: f64) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), StoreOptions::default())?;
    let source = StreamSource::parse(&server.url, None)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant, RecorderEvent)>();
    let mut tasks = Vec::new();
    for i in 0..n {
        let config = RecorderConfig::new(
            CameraId::new(format!("bench-{i}")).context("a camera id")?,
            source.clone(),
            store.recordings_dir(),
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let forward = events_tx.clone();
        tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                let _ = forward.send((i, Instant::now(), e));
            }
        });
        let mut stopped = stopped.clone();
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        tasks.push(tokio::spawn(limes_recorder::record(config, store.clone(), None, tx, shutdown)));
    }
    drop(events_tx);
    let mut connected: Vec<Option<Instant>> = vec![None; n];
    let mut segments = Vec::new();
    let mut disconnections = 0;
    let mut note = |(i, at, e): (usize, Instant, RecorderEvent), connected: &mut Vec<Option<Instant>>| match e {
        RecorderEvent::Connected { .. } => {
            connected[i].get_or_insert(at);
        }
        RecorderEvent::Segment(s) => segments.push((i, s)),
        RecorderEvent::Disconnected { error, .. } => {
            eprintln!("limes stream {i}: {error}");
            disconnections += 1;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while connected.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = tokio::time::timeout(left, events.recv())
            .await
            .context("the streams did not all start playing within 30 s")?
            .context("the recorders ended")?;
        note(e, &mut connected);
    }
    let (server_before, cpu_before, start) = (server.cpu()?, cpu::seconds(std::process::id())?, Instant::now());
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let (server_after, cpu_after, end) = (server.cpu()?, cpu::seconds(std::process::id())?, Instant::now());
    stop.send_replace(true);
    for task in tasks {
        task.await??;
    }
    while let Some(e) = events.recv().await {
        note(e, &mut connected);
    }
    let wall = (end - start).as_secs_f64();
    let mut per_stream = vec![0u64; n];
    let mut bytes = 0;
    for (i, s) in &segments {
        per_stream[*i] += s.index.frames.len() as u64;
        bytes += s.index.bytes;
    }
    let mut expected = 0.0;
    let mut short_streams = 0;
    for (i, frames) in per_stream.iter().enumerate() {
        let since = connected[i].context("a stream's start")?;
        let e = (end - since).as_secs_f64() * FPS;
        expected += e;
        short_streams += usize::from(short(*frames, e));
    }
    Ok(Outcome {
        cpu: (cpu_after - cpu_before) / wall,
        server_cpu: (server_after - server_before) / wall,
        frames: per_stream.iter().sum(),
        expected: expected.round() as u64,
        short_streams,
        bytes,
        disconnections,
    })
}

fn record_ffmpeg(server: &Server, n: usize, seconds: f64) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let mut children = Vec::new();
    let mut started = Vec::new();
    for i in 0..n {
        let out = dir.path().join(format!("cam-{i}"));
        std::fs::create_dir(&out)?;
        let child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", &server.url])
            .args(["-map", "0:v:0", "-c", "copy", "-f", "segment", "-segment_time", "60"])
            .args(["-segment_format", "matroska", "-reset_timestamps", "1"])
            .arg(out.join("%05d.mkv"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting ffmpeg")?;
        started.push(Instant::now());
        children.push((child, out));
    }
    let files = |out: &Path| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(out).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
        files.sort();
        files
    };
    // Writing once each has a non-empty output file: past connecting and probing.
    let deadline = Instant::now() + Duration::from_secs(30);
    let writing = |out: &Path| files(out).iter().any(|f| std::fs::metadata(f).map(|m| m.len() > 0).unwrap_or(false));
    while !children.iter().all(|(_, out)| writing(out)) {
        if Instant::now() > deadline {
            bail!("the ffmpeg processes did not all start writing within 30 s");
        }
        for (child, _) in &mut children {
            if let Some(status) = child.try_wait()? {
                bail!("ffmpeg ended early: {status}");
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let cpu_of = |children: &[(Child, PathBuf)]| -> anyhow::Result<f64> {
        children.iter().map(|(c, _)| cpu::seconds(c.id())).sum()
    };
    let (server_before, cpu_before, start) = (server.cpu()?, cpu_of(&children)?, Instant::now());
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let (server_after, cpu_after, end) = (server.cpu()?, cpu_of(&children)?, Instant::now());
    for (child, _) in &mut children {
        // ffmpeg's own "stop": it finishes the file it writes.
        if let Some(stdin) = child.stdin.as_mut() {
            let _ = stdin.write_all(b"q");
        }
        drop(child.stdin.take());
    }
    let mut frames = 0;
    let mut expected = 0.0;
    let mut short_streams = 0;
    let mut bytes = 0;
    let mut disconnections = 0;
    for ((child, out), since) in children.iter_mut().zip(started) {
        let status = child.wait()?;
        if !status.success() {
            disconnections += 1;
        }
        let written = files(out);
        bytes += written.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum::<u64>();
        let f = count_packets(&written)?;
        let e = (end - since).as_secs_f64() * FPS;
        frames += f;
        expected += e;
        short_streams += usize::from(short(f, e));
    }
    let wall = (end - start).as_secs_f64();
    Ok(Outcome {
        cpu: (cpu_after - cpu_before) / wall,
        server_cpu: (server_after - server_before) / wall,
        frames,
        expected: expected.round() as u64,
        short_streams,
        bytes,
        disconnections,
    })
}

fn report(n: usize, who: &str, o: &Outcome) {
    let p = format!("record.n{n}.{who}");
    figure(&format!("{p}.cpu_per_stream"), format!("{:.2}", o.cpu * 100.0 / n as f64), "%core");
    figure(&format!("{p}.cpu_total"), format!("{:.1}", o.cpu * 100.0), "%core");
    figure(&format!("{p}.frames"), format!("{}/{}", o.frames, o.expected), "frames recorded/expected");
    figure(&format!("{p}.short_streams"), o.short_streams, "streams");
    figure(&format!("{p}.disconnections"), o.disconnections, "events");
    let media_seconds = o.frames as f64 / FPS;
    figure(&format!("{p}.written"), format!("{:.2}", o.bytes as f64 * 8.0 / 1e6 / media_seconds), "Mbit/s of video");
    figure(&format!("{p}.rtsp_server_cpu"), format!("{:.1}", o.server_cpu * 100.0), "%core");
}

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    ensure!(a.seconds > 0.0, "--seconds must be positive");
    ensure!(!a.streams.is_empty() && a.streams.iter().all(|n| *n > 0), "--streams: numbers of streams above 0");
    let clip = a
        .file
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("limes-bench-record").join("clip-1080p25-h264-4mbit.mp4"));
    let served = prepare_file(&clip, a.seconds)?;
    figure("record.file", served.display(), "path");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let server = Server::start(&served)?;
    let mut streams = a.streams.clone();
    streams.sort_unstable();
    streams.dedup();
    let (mut best_limes, mut best_ffmpeg) = (0, 0);
    for n in streams {
        figure(&format!("record.n{n}.load_average"), load_average(), "1/5/15 min");
        let limes = rt.block_on(record_limes(&server, n, a.seconds))?;
        report(n, "limes", &limes);
        let ffmpeg = record_ffmpeg(&server, n, a.seconds)?;
        report(n, "ffmpeg", &ffmpeg);
        if ffmpeg.short_streams == 0 && ffmpeg.disconnections == 0 {
            best_ffmpeg = best_ffmpeg.max(n);
        }
        let saturated = limes.cpu >= 0.9 * cores;
        if limes.short_streams > 0 || limes.disconnections > 0 || saturated {
            eprintln!("limes dropped frames or saturated the CPU at {n} streams: stopping there");
            break;
        }
        best_limes = n;
    }
    figure("record.limes.max_streams_without_drops", best_limes, "streams");
    figure("record.ffmpeg.max_streams_without_drops", best_ffmpeg, "streams");
    Ok(())
}
