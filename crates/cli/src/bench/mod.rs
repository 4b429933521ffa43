//! `limes bench`: throughput, latency and matching-quality figures, printed as
//! `name=value unit` lines (one per figure) so that runs can be compared and
//! recorded in docs/benchmarks.md. These are long-running commands, not tests.

use clap::Args;

mod cpu;
mod faces;
mod federation;
mod incidents;
mod matching;
mod mqtt;
mod node;
mod pdq;
mod pgtrgm;
mod quality;
mod record;
mod ui;
mod video;
mod vision;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Which benchmarks: ingest, latency, mqtt, match, search, pgtrgm, quality, ui (needs the
    /// source tree's web/ with its npm packages, Node.js and Chromium), record (needs ffmpeg and
    /// the source tree's scripts/rtsp-test-server with GStreamer), video (glass-to-glass latency
    /// of the live view: what ui and record need), vision (the node's own analysis at 1080p,
    /// per stage, beside Python rapidocr with --python; needs --models), faces (face detection
    /// and blurring of a 720p video, beside Python deface with --deface-python; needs
    /// --models), pdq (PDQ hashing on one core, beside Meta's reference with
    /// --pdqhash-python), or all (without ui, record, video, vision, faces and pdq).
    #[arg(default_value = "all")]
    pub which: Vec<String>,
    /// Hotlist entries for the ingest, latency and quality benchmarks.
    #[arg(long, default_value_t = 1_000_000)]
    pub hotlist: usize,
    /// Hotlist entries for the live-matching and edit-distance benchmarks.
    #[arg(long, default_value_t = 10_000_000)]
    pub index_entries: usize,
    /// Investigative queries for the search benchmark and its recall check.
    #[arg(long, default_value_t = 10_000)]
    pub queries: usize,
    /// Seconds each throughput/latency run lasts.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Requests in flight at once in the ingest benchmark (each of 1,000 reads).
    #[arg(long, default_value_t = 32)]
    pub ingest_concurrency: usize,
    /// Reads per second for the latency benchmark.
    #[arg(long, default_value_t = 10_000.0)]
    pub latency_rate: f64,
    /// PostgreSQL connection string for the pg_trgm comparison.
    #[arg(long, default_value = "host=127.0.0.1 port=5432 user=postgres dbname=test")]
    pub postgres: String,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Make and colour recognition of the simulated readers and hotlists, for the quality
    /// benchmark: `default`, `poor` (twice the errors) or `silent` (no vehicle reported).
    #[arg(long, default_value = "default")]
    pub vehicle_model: String,
    /// Simulated reads scored by the quality benchmark.
    #[arg(long, default_value_t = 2_000_000)]
    pub quality_reads: usize,
    /// `[matching] confirm_min_camera_quantile` for the quality benchmark's main figures
    /// (default: the node's default); the trade-off curves try several anyway.
    #[arg(long)]
    pub camera_quantile: Option<f32>,
    /// The scale of the simulated readers' confidences, for the quality benchmark:
    /// `identity`, `compressed` (every camera reports 0.5 + c/2) or `mixed` (a third of the
    /// cameras each: c, 0.5 + c/2, c²), as vendors' scales differ.
    #[arg(long, default_value = "identity")]
    pub confidence_scale: String,
    /// The broker of the MQTT benchmark (`mqtts://` with `--mqtt-ca`: TLS).
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub mqtt_url: String,
    /// TLS to the benchmark's broker, for the publishers and the node alike.
    #[command(flatten)]
    pub mqtt_tls: crate::publish::TlsArgs,
    /// The node's MQTT connections (a shared subscription across them).
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Publishing connections of the MQTT benchmark.
    #[arg(long, default_value_t = 4)]
    pub publishers: usize,
    /// QoS of the MQTT benchmark's messages and subscription: 0 or 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// Plate reads per MQTT message (one ONVIF frame of several plates).
    #[arg(long, default_value_t = 1)]
    pub reads_per_message: usize,
    /// The node's MQTT batch (`[mqtt] batch`; default: the node's default).
    #[arg(long)]
    pub mqtt_batch: Option<usize>,
    /// `federation`: signed messages (alerts) to send from node A to node B.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// `federation`: packets dropped in each direction, in percent (root: network namespaces).
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// `ui`: reads timed from their POST to their row on the live board in the browser.
    #[arg(long, default_value_t = 100)]
    pub ui_reads: usize,
    /// `incidents`: incidents raised on one node, timed to the partner's live stream.
    #[arg(long, default_value_t = 200)]
    pub incidents: usize,
    /// `record`: numbers of concurrent streams to record, in turn (stopping at the first that
    /// drops frames or saturates the CPU).
    #[arg(long, value_delimiter = ',', default_value = "1,4,8,16")]
    pub streams: Vec<usize>,
    /// `record`: the pre-encoded 1080p H.264 clip (MP4) the RTSP server replays; made there with
    /// ffmpeg when missing (default: limes-bench-record/ under the temporary folder).
    #[arg(long)]
    pub file: Option<std::path::PathBuf>,
    /// `video`: the clock camera's picture width.
    #[arg(long, default_value_t = 1280)]
    pub video_width: u32,
    /// `video`: the clock camera's picture height.
    #[arg(long, default_value_t = 720)]
    pub video_height: u32,
    /// `vision`: the checked models folder (`limes models fetch --dir`).
    #[arg(long, env = "LIMES_MODELS")]
    pub models: Option<std::path::PathBuf>,
    /// `vision`: frames of the 1080p street video analysed per run.
    #[arg(long, default_value_t = 20)]
    pub vision_frames: u32,
    /// `vision`: threads per model of the second run (the first is on one).
    #[arg(long, default_value_t = 2)]
    pub vision_threads: usize,
    /// `vision`: a Python interpreter with rapidocr-onnxruntime 1.3.24, to measure its stages
    /// on the same pictures in the same run (crates/vision/benches/rapidocr_stages.py).
    #[arg(long)]
    pub python: Option<std::path::PathBuf>,
    /// `faces`: seconds of the 720p street video (25 frames a second).
    #[arg(long, default_value_t = 8.0)]
    pub faces_seconds: f32,
    /// `faces`: runs of each, in turns.
    #[arg(long, default_value_t = 2)]
    pub faces_rounds: u32,
    /// `faces`: a Python interpreter with `deface==1.5.0` and `onnxruntime`, run on the same
    /// video in the same run.
    #[arg(long)]
    pub deface_python: Option<std::path::PathBuf>,
    /// `pdq`: a folder of JPEG photographs (those of 1 MP or more are hashed; default the shared
    /// bridge pictures, `$LIMES_SHARED/pdq/images`, else generated ones).
    #[arg(long)]
    pub pictures: Option<std::path::PathBuf>,
    /// `pdq`: passes over the pictures (hash only; end to end makes a quarter as many).
    #[arg(long, default_value_t = 40)]
    pub pdq_rounds: u32,
    /// `pdq`: a Python interpreter with `pdqhash` (Meta's C++ reference), `numpy` and `pillow`,
    /// timed on the same pixels in the same run.
    #[arg(long)]
    pub pdqhash_python: Option<std::path::PathBuf>,
    /// `pdq`: hashes in the search benchmark's index (queries: `--queries`).
    #[arg(long, default_value_t = 10_000_000)]
    pub pdq_hashes: usize,
    /// `pdq`: queries checked against brute force for the search's recall.
    #[arg(long, default_value_t = 100)]
    pub pdq_recall_queries: usize,
    /// `pdq`: a Python interpreter with `faiss-cpu` and `numpy`, whose `IndexBinaryMultiHash`
    /// searches the same hashes with the same queries in the same run.
    #[arg(long)]
    pub faiss_python: Option<std::path::PathBuf>,
}

/// Prints one figure.
pub fn figure(name: &str, value: impl std::fmt::Display, unit: &str) {
    println!("{name}={value} {unit}");
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    let all = a.which.iter().any(|w| w == "all");
    let wants = |name: &str| all || a.which.iter().any(|w| w == name);
    for w in &a.which {
        if ![
            "all",
            "ingest",
            "latency",
            "mqtt",
            "federation",
            "incidents",
            "match",
            "search",
            "pgtrgm",
            "quality",
            "ui",
            "record",
            "video",
            "vision",
            "faces",
            "pdq",
        ]
        .contains(&w.as_str())
        {
            anyhow::bail!(
                "unknown benchmark {w:?}: use ingest, latency, mqtt, federation, incidents, match, search, pgtrgm, quality, ui, record, video, vision, faces, pdq or all"
            );
        }
    }
    figure("machine.cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "cores");
    let rt = || tokio::runtime::Builder::new_multi_thread().enable_all().build();
    if wants("ingest") {
        rt()?.block_on(node::ingest(&a))?;
    }
    if wants("latency") {
        rt()?.block_on(node::latency(&a))?;
    }
    if wants("mqtt") {
        rt()?.block_on(mqtt::run(&a))?;
    }
    if wants("federation") {
        rt()?.block_on(federation::run(&a))?;
    }
    if wants("incidents") {
        rt()?.block_on(incidents::run(&a))?;
    }
    if wants("match") {
        matching::live(&a)?;
    }
    if wants("search") {
        matching::search(&a)?;
    }
    if wants("pgtrgm") {
        pgtrgm::run(&a)?;
    }
    if wants("quality") {
        quality::run(&a)?;
    }
    if a.which.iter().any(|w| w == "ui") {
        rt()?.block_on(ui::run(&a))?;
    }
    if a.which.iter().any(|w| w == "record") {
        record::run(&a)?;
    }
    if a.which.iter().any(|w| w == "video") {
        rt()?.block_on(video::run(&a))?;
    }
    if a.which.iter().any(|w| w == "vision") {
        vision::run(&a)?;
    }
    if a.which.iter().any(|w| w == "faces") {
        faces::run(&a)?;
    }
    if a.which.iter().any(|w| w == "pdq") {
        pdq::run(&a)?;
    }
    Ok(())
}
