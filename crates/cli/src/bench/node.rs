//! Node-level benchmarks over real HTTP on loopback: ingest throughput into the
//! durable store, and latency from a read's arrival to its alert on the SSE stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use limes_server::wire::{IngestReport, ReadIn};
use limes_sim::{Region, SimConfig, Simulator};
use limes_store::{Store, StoreOptions};

use super::{BenchArgs, figure};
use crate::simulate::{Pace, quantile, send};

/// A node of its own: a `limes serve` process on a temporary folder holding the region's
/// cameras and a generated hotlist, so that the load generator in this process cannot
/// starve the node's tasks (they still share the machine's cores).
pub(super) struct NodeProcess {
    _dir: tempfile::TempDir,
    pub(super) child: std::process::Child,
    pub(super) url: String,
    /// An integration token of the node's (collection, cameras, hotlist, alerts, stats).
    pub(super) token: String,
}

impl NodeProcess {
    pub(super) async fn start(a: &BenchArgs, cfg: &SimConfig) -> anyhow::Result<Self> {
        Self::start_with(a, cfg, "").await
    }

    /// A node whose configuration ends with `extra` (TOML sections such as `[mqtt]`).
    pub(super) async fn start_with(a: &BenchArgs, cfg: &SimConfig, extra: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let t = Instant::now();
        let token = {
            let store = Store::open(&dir.path().join("limes-data"), StoreOptions::default())?;
            store.upsert_cameras(&cfg.region.cameras())?;
            let entries: Vec<_> = limes_sim::hotlist(cfg, a.hotlist)?.collect();
            store.upsert_hotlist(&entries)?;
            crate::node::integration_token(&store, "bench", "ro-igpf", "RO")?
        };
        let config = dir.path().join("limes.toml");
        let text = crate::config::default_toml("bench", "ro-igpf", "RO", "127.0.0.1:0", "limes-data");
        std::fs::write(&config, format!("{text}\n{extra}"))?;
        let (child, url) = serve(std::process::Command::new(std::env::current_exe()?), &config, "warn").await?;
        eprintln!("node with {} hotlist entries ready in {:.1} s", a.hotlist, t.elapsed().as_secs_f64());
        Ok(Self { _dir: dir, child, url, token })
    }

    pub(super) async fn stats(&self) -> anyhow::Result<limes_server::StatsSnapshot> {
        Ok(self.client()?.get(format!("{}/api/v1/stats", self.url)).send().await?.json().await?)
    }

    /// A client holding the node's integration token.
    pub(super) fn client(&self) -> anyhow::Result<reqwest::Client> {
        crate::client::authed_client(Some(&self.token), [])
    }
}

/// Runs `cmd` (this binary, or a wrapper that runs it) as `serve --config config` and waits
/// for the API address it prints.
pub(super) async fn serve(
    mut cmd: std::process::Command,
    config: &std::path::Path,
    log: &str,
) -> anyhow::Result<(std::process::Child, String)> {
    let mut child = cmd
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", log)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting limes serve")?;
    let stdout = child.stdout.take().context("node stdout")?;
    // Read on after the address: the node prints more (the page's URL), and a closed pipe
    // would fail its next print.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.split("listening on ").nth(1)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let url = rx.await.context("the node did not report its address")?;
    Ok((child, url))
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn sim_config(a: &BenchArgs, rate: f64) -> SimConfig {
    SimConfig {
        seed: a.seed,
        region: Region::ro_ua(),
        start: Utc::now() - chrono::Duration::hours(1),
        vehicles: ((rate * 2000.0) as usize).clamp(20_000, 2_000_000),
        reads_per_second: rate,
        ..SimConfig::default()
    }
}

/// Ingest → match → durable store, batched over HTTP by concurrent clients in this process.
pub async fn ingest(a: &BenchArgs) -> anyhow::Result<()> {
    const BATCH: usize = 1000;
    let concurrency = a.ingest_concurrency.max(1);
    let cfg = sim_config(a, 100_000.0);
    let node = NodeProcess::start(a, &cfg).await?;
    // Bodies are serialised up front so the load generator spends its time sending. Each read's
    // time is a fixed-width placeholder that is overwritten with the sending time, so that
    // times increase as a camera's do (reusing the same times would make the time indexes take
    // random inserts, which real traffic does not cause).
    let t = Instant::now();
    let placeholder = chrono::DateTime::parse_from_rfc3339(PLACEHOLDER)?.with_timezone(&Utc);
    let bodies: Arc<Vec<TimedBody>> = Arc::new(
        Simulator::new(cfg)?
            .take(200 * BATCH)
            .map(|s| {
                let mut r = ReadIn::from(&s.read);
                r.time = placeholder;
                r
            })
            .collect::<Vec<_>>()
            .chunks(BATCH)
            .map(|c| serde_json::to_vec(c).map(TimedBody::new))
            .collect::<Result<_, _>>()?,
    );
    anyhow::ensure!(bodies.iter().all(|b| b.slots.len() == BATCH), "every read's time is a placeholder");
    eprintln!("generated {} batches of {BATCH} reads in {:.1} s", bodies.len(), t.elapsed().as_secs_f64());
    let client = node.client()?;
    let url = format!("{}/api/v1/reads", node.url);
    let accepted = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (client, url, bodies, accepted) = (client.clone(), url.clone(), bodies.clone(), accepted.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = w;
            while Instant::now() < deadline {
                let body = bodies[i % bodies.len()].at(Utc::now());
                i += concurrency;
                let t = Instant::now();
                let r = client.post(&url).header("content-type", "application/json").body(body).send().await?;
                let rep: IngestReport = r.error_for_status()?.json().await?;
                latencies.push(t.elapsed().as_micros() as u64);
                accepted.fetch_add(rep.accepted as u64, Ordering::Relaxed);
            }
            anyhow::Ok(latencies)
        }));
    }
    // Throughput per 10-second window, to see whether it holds as the store grows.
    let windows = {
        let accepted = accepted.clone();
        tokio::spawn(async move {
            let mut last = 0;
            let mut out = Vec::new();
            while Instant::now() + Duration::from_secs(10) <= deadline {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let now = accepted.load(Ordering::Relaxed);
                out.push((now - last) / 10);
                last = now;
            }
            out
        })
    };
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let windows = windows.await?;
    let secs = start.elapsed().as_secs_f64();
    let n = accepted.load(Ordering::Relaxed);
    let stats = node.stats().await?;
    drop(node);
    figure("ingest.reads_per_second", format!("{:.0}", n as f64 / secs), "reads/s");
    figure("ingest.reads", n, "reads");
    if windows.len() > 1 {
        let list: Vec<String> = windows.iter().map(u64::to_string).collect();
        figure("ingest.reads_per_second_by_10s_window", list.join(","), "reads/s");
    }
    figure("ingest.alerts", stats.alerts_confirmed + stats.alerts_possible, "alerts");
    figure("ingest.hotlist_entries", a.hotlist, "entries");
    figure("ingest.batch", BATCH, "reads/request");
    figure("ingest.concurrency", concurrency, "requests");
    figure("ingest.request_p50", format!("{:.1}", quantile(&mut latencies, 0.5) as f64 / 1000.0), "ms");
    figure("ingest.request_p99", format!("{:.1}", quantile(&mut latencies, 0.99) as f64 / 1000.0), "ms");
    figure(
        "ingest.load_generator_shares_cores",
        "yes",
        "(node and load generator are two processes on the same 2 cores)",
    );
    Ok(())
}

/// p50/p99 from a read's arrival at the node to its alert on the SSE stream, at a steady rate.
pub async fn latency(a: &BenchArgs) -> anyhow::Result<()> {
    let cfg = sim_config(a, a.latency_rate);
    let node = NodeProcess::start(a, &cfg).await?;
    let client = node.client()?;
    let watch = crate::client::AlertWatch::start(&client, &node.url, |_, _| {}).await?;
    let mut sim_cfg = cfg;
    sim_cfg.start = Utc::now();
    let sim = Simulator::new(sim_cfg)?;
    let pace = Pace {
        rate: a.latency_rate,
        duration: Duration::from_secs_f64(a.seconds),
        max_reads: None,
        batch: 100,
        concurrency: 8,
    };
    let rep = send(&client, &node.url, sim, pace).await.context("sending reads")?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut lat = watch.stop();
    drop(node);
    let secs = rep.elapsed.as_secs_f64();
    figure("latency.rate", format!("{:.0}", rep.sent as f64 / secs), "reads/s");
    figure("latency.alerts", lat.len(), "alerts");
    figure("latency.read_to_sse_p50", format!("{:.2}", quantile(&mut lat, 0.5) as f64 / 1000.0), "ms");
    figure("latency.read_to_sse_p99", format!("{:.2}", quantile(&mut lat, 0.99) as f64 / 1000.0), "ms");
    figure("latency.read_to_sse_max", format!("{:.2}", quantile(&mut lat, 1.0) as f64 / 1000.0), "ms");
    figure("latency.failed_requests", rep.failed_requests, "requests");
    Ok(())
}

/// How the placeholder time serialises; the sending time is written in the same width.
const PLACEHOLDER: &str = "2001-01-01T00:00:00.123456Z";

/// A serialised batch whose reads' times are overwritten when it is sent.
struct TimedBody {
    bytes: Vec<u8>,
    /// Offsets of the placeholder time in `bytes`.
    slots: Vec<usize>,
}

impl TimedBody {
    fn new(bytes: Vec<u8>) -> Self {
        let p = PLACEHOLDER.as_bytes();
        let slots = bytes.windows(p.len()).enumerate().filter(|(_, w)| *w == p).map(|(i, _)| i).collect();
        Self { bytes, slots }
    }

    /// The body with every read's time set to `t`.
    fn at(&self, t: chrono::DateTime<Utc>) -> bytes::Bytes {
        let stamp = t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut out = self.bytes.clone();
        if stamp.len() == PLACEHOLDER.len() {
            for &at in &self.slots {
                out[at..at + stamp.len()].copy_from_slice(stamp.as_bytes());
            }
        }
        bytes::Bytes::from(out)
    }
}
