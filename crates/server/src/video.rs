//! The node's own recording: every camera stream its config names recorded by `limes-recorder`
//! (one task per camera, reconnecting forever), recovery before the first frame, and retention
//! enforced every `check_every` — per-camera age, a byte budget, and a free-space floor on the
//! recordings' disk (oldest first, whichever camera). The [`Hub`] keeps each camera's state for
//! monitoring (`GET /api/v1/video/cameras`) and its live frames for viewers.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use limes_model::CameraId;
use limes_model::recording::VideoCodec;
use limes_recorder::{LiveFrame, RecorderConfig, RecorderEvent, RetentionRules, SegmentPolicy, StreamSource};
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::AppState;

/// One camera stream the node records.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub camera: CameraId,
    pub source: StreamSource,
    pub segment_seconds: u32,
}

/// What the node records and how long it keeps it.
#[derive(Debug, Clone, Default)]
pub struct VideoOptions {
    pub streams: Vec<StreamConfig>,
    pub rules: RetentionRules,
    /// Below this many free bytes on the recordings' disk, the oldest segments go until it is
    /// free again.
    pub min_free_bytes: Option<u64>,
    pub check_every: Duration,
}

/// How a recorded camera is doing, as the monitoring view shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedStatus {
    pub camera: String,
    /// The stream's URL without its credentials.
    pub url: String,
    pub connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec: Option<VideoCodec>,
    /// Since when it is connected, or since when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The end of the last segment recorded in this run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_segment_end: Option<DateTime<Utc>>,
    pub segments_recorded: u64,
    pub reconnects: u64,
}

/// A recorded camera: its state and its live frames.
#[derive(Debug)]
pub struct Feed {
    pub status: Mutex<FeedStatus>,
    pub live: broadcast::Sender<LiveFrame>,
}

/// The cameras this node records.
#[derive(Debug, Default)]
pub struct Hub {
    feeds: std::sync::RwLock<BTreeMap<CameraId, Arc<Feed>>>,
}

impl Hub {
    pub fn feed(&self, camera: &CameraId) -> Option<Arc<Feed>> {
        crate::read_lock(&self.feeds).get(camera).cloned()
    }

    pub fn statuses(&self) -> Vec<FeedStatus> {
        let feeds = crate::read_lock(&self.feeds);
        feeds.values().map(|f| f.status.lock().unwrap_or_else(|p| p.into_inner()).clone()).collect()
    }
}

/// The running recorders and the retention loop; stopped with [`Recording::stop`].
#[derive(Debug)]
pub struct Recording {
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Recording {
    /// Stops recording: each open segment is closed (fsynced and indexed) before this returns.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Recovers the recordings folder (design/recording.md), then starts a recorder per stream and
/// the retention loop.
pub async fn start(state: &AppState, options: VideoOptions) -> Result<Recording, limes_recorder::RecorderError> {
    let root = state.store.recordings_dir();
    let report = {
        let (store, root) = (state.store.clone(), root.clone());
        tokio::task::spawn_blocking(move || limes_recorder::recover(&store, &root))
            .await
            .map_err(|e| limes_recorder::RecorderError::Task(e.to_string()))??
    };
    tracing::info!(?report, "recordings recovered");
    let (shutdown, watch) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for stream in options.streams.iter().cloned() {
        let (live, _) = broadcast::channel(256);
        let mut url = stream.source.url().clone();
        let _ = url.set_password(None);
        let _ = url.set_username("");
        let feed = Arc::new(Feed {
            status: Mutex::new(FeedStatus {
                camera: stream.camera.to_string(),
                url: url.to_string(),
                ..Default::default()
            }),
            live: live.clone(),
        });
        crate::write_lock(&state.video.feeds).insert(stream.camera.clone(), feed.clone());
        let mut config = RecorderConfig::new(stream.camera.clone(), stream.source, root.clone());
        config.segment = SegmentPolicy { target: Duration::from_secs(stream.segment_seconds.into()), max_frames: None };
        config.live = Some(live);
        let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let store = state.store.clone();
        let mut stop = watch.clone();
        let camera = stream.camera.clone();
        tasks.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = limes_recorder::record(config, store, None, events, shutdown).await {
                tracing::error!(camera = %camera, error = %e, "recording stopped: the store failed");
            }
        }));
        tasks.push(tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let mut s = feed.status.lock().unwrap_or_else(|p| p.into_inner());
                match event {
                    RecorderEvent::Connected { codec } => {
                        s.connected = true;
                        s.codec = Some(codec);
                        s.since = Some(Utc::now());
                    }
                    RecorderEvent::Segment(r) => {
                        s.segments_recorded += 1;
                        s.last_segment_end = Some(r.index.end);
                    }
                    RecorderEvent::Disconnected { error, .. } => {
                        if s.connected || s.since.is_none() {
                            s.since = Some(Utc::now());
                        }
                        s.connected = false;
                        s.reconnects += 1;
                        s.last_error = Some(error);
                    }
                }
            }
        }));
    }
    let (state, mut stop) = (state.clone(), watch);
    tasks.push(tokio::spawn(async move {
        loop {
            enforce(&state, &options).await;
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(options.check_every) => {}
            }
        }
    }));
    Ok(Recording { shutdown, tasks })
}

/// One pass of retention: the rules, with the byte budget lowered to free `min_free_bytes`.
async fn enforce(state: &AppState, options: &VideoOptions) {
    let (store, root) = (state.store.clone(), state.store.recordings_dir());
    let (rules, min_free) = (options.rules.clone(), options.min_free_bytes);
    let done = tokio::task::spawn_blocking(move || {
        let mut rules = rules;
        if let Some(min_free) = min_free {
            let free =
                free_bytes(&root).map_err(|e| limes_recorder::RecorderError::File { path: root.clone(), source: e })?;
            let recorded: u64 = store.recordings(None)?.iter().map(|s| s.index.bytes).sum();
            rules.byte_budget = budget(rules.byte_budget, recorded, free, min_free);
        }
        limes_recorder::retention::enforce(&store, &root, &rules, Utc::now())
    })
    .await;
    match done {
        Ok(Ok(deleted)) if !deleted.is_empty() => {
            let mut by_camera: HashMap<&str, usize> = HashMap::new();
            for d in &deleted {
                *by_camera.entry(d.index.camera.as_str()).or_default() += 1;
            }
            tracing::info!(?by_camera, "recording retention deleted the oldest segments");
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "recording retention; will retry"),
        Err(e) => tracing::error!(error = %e, "recording retention task"),
    }
}

/// The byte budget that leaves `min_free` bytes free on a disk with `free` bytes free now and
/// `recorded` bytes of segments: the configured budget, lowered by what is missing.
pub fn budget(configured: Option<u64>, recorded: u64, free: u64, min_free: u64) -> Option<u64> {
    if free >= min_free {
        return configured;
    }
    let for_space = recorded.saturating_sub(min_free - free);
    Some(configured.map_or(for_space, |c| c.min(for_space)))
}

/// Free bytes for an unprivileged writer on the disk holding `path` (created if missing).
fn free_bytes(path: &std::path::Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(path)?;
    let s = rustix::fs::statvfs(path)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::budget;

    #[test]
    fn the_budget_frees_what_the_disk_lacks() {
        // Enough free: the configured budget (or none).
        assert_eq!(budget(None, 500, 1000, 100), None);
        assert_eq!(budget(Some(400), 500, 1000, 100), Some(400));
        // 60 bytes short: the segments shrink by 60.
        assert_eq!(budget(None, 500, 40, 100), Some(440));
        assert_eq!(budget(Some(300), 500, 40, 100), Some(300));
        // Shorter than all the segments: all of them.
        assert_eq!(budget(None, 50, 0, 100), Some(0));
    }
}
