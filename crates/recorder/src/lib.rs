//! Camera streams in, recorded: an RTSP client (retina, as Moonfire NVR uses it) that takes a
//! camera's H.264 or H.265 access units as they come — never transcoded —, tracks the camera's
//! clock against the node's, reconnects with backoff, and writes **segments**: one file per
//! segment under the store's `recordings/<camera>/`, its index (codec parameters, times, one
//! entry per frame) a row in the node's store. The durability procedure and recovery are in
//! `design/recording.md`: a segment's file is fsynced before its row commits, and [`recover`]
//! makes files and index agree at start, so a damaged or truncated file never corrupts the index.
//!
//! - [`StreamSource`], [`connect`], [`record`]: the camera side and the recording loop.
//! - [`ClockTracker`]: RTP timestamps to wall time (no I/O).
//! - `format`: the segment file's bytes (no I/O); [`read_sample`] reads a frame back.
//! - [`recover`]: the index and files made to agree at start.
//! - [`clip::cut`]: a camera's recording from one moment to another as a fragmented MP4.
//! - [`RetentionRules`], [`retention::plan`] (no I/O), [`retention::enforce`]: per-camera age
//!   and a disk byte budget, oldest first.
//!
//! ```no_run
//! # async fn run(store: limes_store::Store) -> Result<(), limes_recorder::RecorderError> {
//! use limes_recorder::{RecorderConfig, StreamSource};
//! let source = StreamSource::parse("rtsp://127.0.0.1:8554/h264", None)?;
//! let camera = limes_model::CameraId::new("gate-1").unwrap();
//! let config = RecorderConfig::new(camera, source, store.recordings_dir());
//! limes_recorder::recover(&store, &config.root)?;
//! let (events, _segments) = tokio::sync::mpsc::unbounded_channel();
//! let shutdown = tokio::time::sleep(std::time::Duration::from_secs(60));
//! limes_recorder::record(config, store, None, events, shutdown).await
//! # }
//! ```

use std::path::PathBuf;
use std::time::Duration;

use limes_model::CameraId;
use limes_model::recording::VideoCodec;
use limes_store::{Recording, StoreError};

pub mod clip;
mod clock;
mod files;
pub mod format;
mod recover;
pub mod retention;
mod rtsp;

pub use clock::ClockTracker;
pub use recover::{RecoveryReport, recover};
pub use retention::RetentionRules;
pub use rtsp::{Connection, StreamSource, connect, record};

/// What went wrong while recording.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The stream URL cannot be a camera's.
    #[error("stream url {url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The camera could not be reached, refused the request or never answered.
    #[error("cannot play {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The camera offers no H.264 or H.265 video stream.
    #[error("{url} offers no H.264 or H.265 video (it offers {offered:?})")]
    NoVideo { url: String, offered: Vec<String> },
    /// The stream broke while playing (connection lost, malformed packets).
    #[error("stream: {0}")]
    Stream(String),
    /// No frame came for this long.
    #[error("no frame for {seconds} s")]
    Stalled { seconds: f32 },
    /// A segment file could not be written, read or removed.
    #[error("file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
    /// The index could not be written or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A camera id that cannot name a folder (`.` or `..`).
    #[error("camera id {0:?} cannot name a folder")]
    BadCamera(String),
    /// A blocking task failed.
    #[error("task: {0}")]
    Task(String),
}

/// When a segment ends: at the first key frame once it is `target` long or holds `max_frames`
/// frames, and whenever the codec parameters change.
#[derive(Debug, Clone, Copy)]
pub struct SegmentPolicy {
    pub target: Duration,
    pub max_frames: Option<u32>,
}

impl Default for SegmentPolicy {
    fn default() -> Self {
        Self { target: Duration::from_secs(60), max_frames: None }
    }
}

/// Waits between attempts to reach the camera again: `initial`, doubling up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Reconnect {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self { initial: Duration::from_secs(1), max: Duration::from_secs(60) }
    }
}

/// One camera's recording.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    pub camera: CameraId,
    pub source: StreamSource,
    /// The recordings folder (`Store::recordings_dir`); the camera's segments go in a folder
    /// named by its id.
    pub root: PathBuf,
    pub segment: SegmentPolicy,
    pub reconnect: Reconnect,
    /// For DESCRIBE, SETUP and PLAY together.
    pub connect_timeout: Duration,
    /// A stream without a frame for this long is dropped and connected again.
    pub stall_timeout: Duration,
    /// Where each frame goes as it arrives, for live viewers (`None`: nowhere). A frame is sent
    /// only while someone listens.
    pub live: Option<tokio::sync::broadcast::Sender<LiveFrame>>,
}

/// A frame as it arrives from the camera, for live viewers: the same access unit the segment
/// gets, with the parameters it needs to be decoded.
#[derive(Debug, Clone)]
pub struct LiveFrame {
    pub parameters: std::sync::Arc<limes_model::recording::CodecParameters>,
    /// When it was taken, on the node's clock (as the segment records it).
    pub wall: chrono::DateTime<chrono::Utc>,
    /// Its RTP time in clock ticks since the session's start (wrap-free); a new session (after a
    /// reconnection) starts again.
    pub ticks: i64,
    pub key: bool,
    /// The access unit: NAL units with 4-byte big-endian lengths.
    pub data: bytes::Bytes,
}

impl RecorderConfig {
    /// The defaults: one-minute segments, reconnection from 1 s to 60 s, 10 s to connect,
    /// 10 s without a frame is a stall.
    pub fn new(camera: CameraId, source: StreamSource, root: PathBuf) -> Self {
        Self {
            camera,
            source,
            root,
            segment: SegmentPolicy::default(),
            reconnect: Reconnect::default(),
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(10),
            live: None,
        }
    }
}

/// What the recording loop tells its caller.
#[derive(Debug, Clone)]
pub enum RecorderEvent {
    /// The camera is playing.
    Connected { codec: VideoCodec },
    /// A segment was closed: its file fsynced and its index committed.
    Segment(Recording),
    /// The stream was lost; the loop tries again after `retry_in`.
    Disconnected { error: String, retry_in: Duration },
}

/// The sample of frame `frame` of a recorded segment, read from its file under `root`.
pub fn read_sample(root: &std::path::Path, recording: &Recording, frame: usize) -> Result<Vec<u8>, RecorderError> {
    use std::io::{Read, Seek, SeekFrom};
    let path = root.join(&recording.index.file);
    let Some(entry) = recording.index.frames.get(frame) else {
        return Err(RecorderError::File {
            path,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, format!("no frame {frame}")),
        });
    };
    let mut file = std::fs::File::open(&path).map_err(files::io(&path))?;
    file.seek(SeekFrom::Start(entry.offset)).map_err(files::io(&path))?;
    let mut sample = vec![0; entry.length as usize];
    file.read_exact(&mut sample).map_err(files::io(&path))?;
    Ok(sample)
}
