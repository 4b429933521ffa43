//! The camera of the recorder's tests: GStreamer's RTSP server serving videotestsrc as H.264
//! and H.265 (`scripts/rtsp-test-server`, whose packages `scripts/test` installs). Shared by
//! the recorder's tests and the CLI's clip test (`#[path]`); each uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use limes_model::CameraId;
use limes_recorder::{Reconnect, RecorderConfig, RecorderEvent, SegmentPolicy, StreamSource};
use limes_store::{Recording, Store};

/// Frames per second the server encodes.
pub const FPS: u32 = 25;

/// The test server, stopped when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// Starts the server on `port` (0: any free port) and waits until it listens.
    pub fn start(port: u16) -> Server {
        Self::start_with(&[port.to_string(), "--fps".into(), FPS.to_string()])
    }

    /// Starts the server on a free port serving `file` (an MP4 holding H.264) at `/file`, from
    /// its start for each client, and waits until it listens.
    pub fn start_file(file: &Path) -> Server {
        Self::start_with(&["0".into(), "--file".into(), file.display().to_string()])
    }

    /// Starts the server on a free port also serving `picture` (a JPEG or PNG) scaled to
    /// `width`×`height` as a still camera at `/picture264`, and waits until it listens.
    pub fn start_picture(picture: &Path, width: u32, height: u32) -> Server {
        let size = ["--width".into(), width.to_string(), "--height".into(), height.to_string()];
        let mut args =
            vec!["0".into(), "--fps".into(), FPS.to_string(), "--picture".into(), picture.display().to_string()];
        args.extend(size);
        Self::start_with(&args)
    }

    fn start_with(args: &[String]) -> Server {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rtsp-test-server");
        let mut child = Command::new(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("scripts/rtsp-test-server runs (scripts/test installs its packages)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("ready rtsp://127.0.0.1:")
            .and_then(|rest| rest.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("server said {line:?}"));
        Server { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtsp://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Records `url` as `camera` into `store` for `seconds`, closing a segment at the first key
/// frame after each `segment`; returns the segments closed.
pub async fn record(store: &Store, camera: &str, url: &str, seconds: f32, segment: Duration) -> Vec<Recording> {
    let source = StreamSource::parse(url, None).unwrap();
    let mut config = RecorderConfig::new(CameraId::new(camera).unwrap(), source, store.recordings_dir());
    config.segment = SegmentPolicy { target: segment, max_frames: None };
    config.reconnect = Reconnect { initial: Duration::from_millis(200), max: Duration::from_secs(1) };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let shutdown = tokio::time::sleep(Duration::from_secs_f32(seconds));
    limes_recorder::record(config, store.clone(), None, tx, shutdown).await.unwrap();
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let RecorderEvent::Segment(s) = e {
            out.push(s);
        }
    }
    out
}
