//! `limes record`: a camera stream recorded into a node's data folder from the command line
//! (what `[[video.streams]]` does inside the node), for a set time or until interrupted.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use limes_model::CameraId;
use limes_recorder::{RecorderConfig, RecorderEvent, SegmentPolicy, StreamSource};
use limes_store::{Store, StoreOptions};

#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// The stream: rtsp://host[:port]/path.
    pub url: String,
    /// The camera's id: its segments go under <data>/recordings/<camera>/.
    #[arg(long)]
    pub camera: String,
    /// The node's data folder (`[store] data_dir`); not while that node runs.
    #[arg(long)]
    pub data: PathBuf,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// The camera's user name.
    #[arg(long, requires = "password_env")]
    pub user: Option<String>,
    /// The environment variable holding the camera's password.
    #[arg(long, requires = "user")]
    pub password_env: Option<String>,
    /// Segment length in seconds (cut at the first key frame after it).
    #[arg(long, default_value_t = 60)]
    pub segment_seconds: u32,
}

pub async fn record(a: RecordArgs) -> anyhow::Result<()> {
    let camera = CameraId::new(&a.camera).with_context(|| format!("camera {:?}", a.camera))?;
    let credentials = match (a.user, a.password_env) {
        (Some(user), Some(var)) => {
            let password = std::env::var(&var).with_context(|| format!("the environment variable {var} is not set"))?;
            Some((user, password))
        }
        _ => None,
    };
    let source = StreamSource::parse(&a.url, credentials)?;
    if let Some(s) = a.seconds
        && !(s.is_finite() && s > 0.0)
    {
        anyhow::bail!("--seconds must be a positive number, not {s}");
    }
    let dir = a.data.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir, StoreOptions::default()))
        .await?
        .with_context(|| format!("opening the store in {}", a.data.display()))?;
    let root = store.recordings_dir();
    let report = {
        let (store, root) = (store.clone(), root.clone());
        tokio::task::spawn_blocking(move || limes_recorder::recover(&store, &root)).await??
    };
    eprintln!("recovered: {report:?}");
    let mut config = RecorderConfig::new(camera, source, root);
    config.segment = SegmentPolicy { target: Duration::from_secs(a.segment_seconds.max(1).into()), max_frames: None };
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let shutdown = async move {
        match a.seconds {
            Some(s) => tokio::select! {
                () = tokio::time::sleep(Duration::from_secs_f64(s)) => {}
                _ = tokio::signal::ctrl_c() => {}
            },
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let printer = tokio::spawn(async move {
        let (mut segments, mut frames) = (0u64, 0usize);
        while let Some(e) = rx.recv().await {
            match e {
                RecorderEvent::Connected { codec } => eprintln!("playing {codec}"),
                RecorderEvent::Disconnected { error, retry_in } => {
                    eprintln!("stream lost ({error}); trying again in {retry_in:?}")
                }
                RecorderEvent::Segment(r) => {
                    segments += 1;
                    frames += r.index.frames.len();
                    println!(
                        "{}",
                        serde_json::json!({
                            "file": r.index.file, "start": r.index.start, "end": r.index.end,
                            "codec": r.index.parameters.codec, "frames": r.index.frames.len(), "bytes": r.index.bytes,
                        })
                    );
                }
            }
        }
        (segments, frames)
    });
    limes_recorder::record(config, store, None, events, shutdown).await?;
    let (segments, frames) = printer.await?;
    eprintln!("recorded {segments} segments, {frames} frames");
    Ok(())
}
