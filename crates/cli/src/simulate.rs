//! `limes simulate`: simulated border traffic sent to a node at a target rate, over HTTP, or
//! published on an MQTT broker as ONVIF Profile M cameras publish their plate reads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use clap::Args;
use limes_camera_formats::encode_onvif_json;
use limes_model::{Camera, CameraId, PlateRead};
use limes_server::wire::{IngestReport, ReadIn};
use limes_sim::{Region, SimConfig, Simulator};
use reqwest::Client;
use tokio::sync::{Mutex, Semaphore};

use crate::publish::{Broker, Publisher, TlsArgs};

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// The node's API address.
    #[arg(long, env = "LIMES_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API token whose scope covers reads.ingest (and cameras.manage, hotlist.manage with
    /// --setup-hotlist).
    #[arg(long, env = "LIMES_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Border region: ro-ua, ro-rs or cz-pl.
    #[arg(long, default_value = "ro-ua")]
    pub region: String,
    /// Reads per second to send.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many reads (whichever comes first).
    #[arg(long, visible_alias = "count")]
    pub reads: Option<u64>,
    /// Seed of every random choice: the same seed sends the same traffic.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Reads per HTTP request.
    #[arg(long, default_value_t = 250)]
    pub batch: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Vehicles in the simulated fleet (default: enough for the rate).
    #[arg(long)]
    pub vehicles: Option<usize>,
    /// Time of the first simulated read (RFC 3339; default: now). With the same seed and
    /// start, the same reads are generated.
    #[arg(long)]
    pub start: Option<chrono::DateTime<Utc>>,
    /// First register the region's cameras and import a hotlist of this many entries
    /// (the fleet's hotlisted vehicles plus generated fillers).
    #[arg(long)]
    pub setup_hotlist: Option<usize>,
    /// Publish the reads on this MQTT broker (`mqtt://host:port`, or `mqtts://host:port` with
    /// `--mqtt-ca`) as the cameras' ONVIF JSON instead of posting them to the node: one
    /// message per read on `<prefix>/<camera>/onvif-mj/VideoAnalytics/1`. `--setup-hotlist`
    /// still uses `--url`.
    #[arg(long)]
    pub mqtt: Option<String>,
    #[command(flatten)]
    pub mqtt_tls: TlsArgs,
    /// The first level of the MQTT topics.
    #[arg(long, default_value = "limes-sim")]
    pub mqtt_prefix: String,
    /// QoS of the MQTT messages: 0 or 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub qos: u8,
    /// With `--mqtt`: print the node's `[mqtt]` configuration for the region's cameras and exit.
    #[arg(long, requires = "mqtt")]
    pub print_config: bool,
}

impl SimulateArgs {
    pub fn sim_config(&self) -> anyhow::Result<SimConfig> {
        let region = Region::named(&self.region)
            .with_context(|| format!("--region {:?} is not ro-ua, ro-rs or cz-pl", self.region))?;
        let vehicles = self.vehicles.unwrap_or(((self.rate * 2000.0) as usize).clamp(2000, 2_000_000));
        Ok(SimConfig {
            seed: self.seed,
            region,
            start: self.start.unwrap_or_else(Utc::now),
            vehicles,
            reads_per_second: self.rate,
            ..SimConfig::default()
        })
    }
}

/// What a run of the sender did.
#[derive(Debug, Default)]
pub struct SendReport {
    pub sent: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub alerts: u64,
    pub failed_requests: u64,
    /// Request latencies, microseconds.
    pub latencies_us: Vec<u64>,
    pub elapsed: Duration,
}

/// Registers the region's cameras and imports a hotlist of `entries` entries.
pub async fn setup(client: &Client, url: &str, cfg: &SimConfig, entries: usize) -> anyhow::Result<usize> {
    register_cameras(client, url, &cfg.region.cameras()).await?;
    import_hotlist(client, url, &hotlist_bodies(cfg, entries)?).await
}

/// Registers `cameras` on the node at `url`.
pub async fn register_cameras(client: &Client, url: &str, cameras: &[Camera]) -> anyhow::Result<()> {
    for c in cameras {
        let r = client.post(format!("{url}/api/v1/cameras")).json(c).send().await.context("registering a camera")?;
        if !r.status().is_success() {
            bail!("registering camera {}: {}", c.id, r.text().await.unwrap_or_default());
        }
    }
    Ok(())
}

/// The hotlist of `entries` entries for `cfg`'s fleet, as the JSON arrays of the requests that
/// import it (50,000 entries each): made once, sent to as many nodes as need it.
pub fn hotlist_bodies(cfg: &SimConfig, entries: usize) -> anyhow::Result<Vec<bytes::Bytes>> {
    let mut bodies = Vec::new();
    let mut chunk = Vec::with_capacity(50_000);
    let mut list = limes_sim::hotlist(cfg, entries)?.peekable();
    while list.peek().is_some() {
        chunk.clear();
        chunk.extend(list.by_ref().take(50_000).map(|e| {
            serde_json::json!({
                "plate": e.plate.as_str(), "country": e.country.map(|c| c.to_string()), "reason": e.reason.as_str(),
                "priority": e.priority, "agency": e.agency.as_str(), "expires": e.expires.map(|t| t.to_rfc3339()),
                "fuzzy": e.fuzzy, "note": e.note,
            })
        }));
        bodies.push(serde_json::to_vec(&chunk)?.into());
    }
    Ok(bodies)
}

/// Imports the hotlist [`hotlist_bodies`] made into the node at `url`; returns the entries
/// it imported.
pub async fn import_hotlist(client: &Client, url: &str, bodies: &[bytes::Bytes]) -> anyhow::Result<usize> {
    let mut imported = 0;
    for body in bodies {
        let r = client
            .post(format!("{url}/api/v1/hotlist"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await
            .context("importing the hotlist")?;
        let status = r.status();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!("importing the hotlist: {status} {v}");
        }
        imported += v["imported"].as_u64().unwrap_or(0) as usize;
    }
    Ok(imported)
}

/// How fast and how long to send.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Reads per second.
    pub rate: f64,
    pub duration: Duration,
    pub max_reads: Option<u64>,
    /// Reads per request.
    pub batch: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl From<&SimulateArgs> for Pace {
    fn from(a: &SimulateArgs) -> Self {
        Self {
            rate: a.rate,
            duration: Duration::from_secs_f64(a.duration.max(0.0)),
            max_reads: a.reads,
            batch: a.batch,
            concurrency: a.concurrency,
        }
    }
}

/// Sends the simulator's reads in batches, paced to `pace.rate` reads per second,
/// until `pace.duration` has passed or `pace.max_reads` were sent.
pub async fn send(client: &Client, url: &str, sim: Simulator, pace: Pace) -> anyhow::Result<SendReport> {
    let target = Target { client: client.clone(), url: url.to_owned() };
    send_routed(std::slice::from_ref(&target), |_| 0, sim, pace).await
}

/// A node the sender posts reads to.
#[derive(Debug, Clone)]
pub struct Target {
    /// A client carrying a token of the node's.
    pub client: Client,
    /// The node's API address.
    pub url: String,
}

/// Sends the simulator's reads as [`send`] does, each to the target `route` names (an index
/// into `targets`): every batch is split into one request per target that has reads in it.
pub async fn send_routed(
    targets: &[Target],
    route: impl Fn(&PlateRead) -> usize,
    sim: Simulator,
    pace: Pace,
) -> anyhow::Result<SendReport> {
    let Pace { rate, duration, max_reads, batch, concurrency } = pace;
    if rate.is_nan() || rate <= 0.0 {
        bail!("--rate must be positive");
    }
    if targets.is_empty() {
        bail!("no node to send reads to");
    }
    let batch = batch.max(1);
    let report = Arc::new(Mutex::new(SendReport::default()));
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let endpoints: Vec<String> = targets.iter().map(|t| format!("{}/api/v1/reads", t.url)).collect();
    let start = Instant::now();
    let mut sim = sim;
    let mut sent: u64 = 0;
    let mut tasks = tokio::task::JoinSet::new();
    while start.elapsed() < duration && max_reads.is_none_or(|m| sent < m) {
        let n = max_reads.map_or(batch as u64, |m| (m - sent).min(batch as u64)) as usize;
        // Pace: this batch is due when the reads before it have had their time.
        let due = start + Duration::from_secs_f64(sent as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let now = Utc::now();
        let mut bodies: Vec<Vec<ReadIn>> = targets.iter().map(|_| Vec::with_capacity(n)).collect();
        for s in sim.by_ref().take(n) {
            let to = route(&s.read);
            let body =
                bodies.get_mut(to).with_context(|| format!("a read routed to node {to} of {}", targets.len()))?;
            let mut r = ReadIn::from(&s.read);
            // A simulated read never claims a time after its sending.
            r.time = r.time.min(now);
            body.push(r);
            sent += 1;
        }
        for (to, body) in bodies.into_iter().enumerate().filter(|(_, b)| !b.is_empty()) {
            let permit = permits.clone().acquire_owned().await?;
            let (client, endpoint, report) = (targets[to].client.clone(), endpoints[to].clone(), report.clone());
            tasks.spawn(async move {
                let t = Instant::now();
                let result = client.post(&endpoint).json(&body).send().await;
                let outcome = match result {
                    Ok(r) if r.status().is_success() => r.json::<IngestReport>().await.ok(),
                    Ok(r) => {
                        tracing::warn!(status = %r.status(), "batch refused");
                        None
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "sending a batch failed");
                        None
                    }
                };
                let mut rep = report.lock().await;
                rep.sent += body.len() as u64;
                rep.latencies_us.push(t.elapsed().as_micros() as u64);
                match outcome {
                    Some(o) => {
                        rep.accepted += o.accepted as u64;
                        rep.rejected += o.rejected.len() as u64;
                        rep.alerts += o.alerts as u64;
                    }
                    None => rep.failed_requests += 1,
                }
                drop(permit);
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut rep = std::mem::take(&mut *report.lock().await);
    rep.elapsed = start.elapsed();
    Ok(rep)
}

/// The `q`-quantile (0..=1) of `values`, sorting them.
pub fn quantile(values: &mut [u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// The topic a simulated camera publishes its reads on: `<prefix>/<camera>/onvif-mj/VideoAnalytics/1`.
pub fn camera_topic(prefix: &str, camera: &str) -> String {
    format!("{prefix}/{camera}/onvif-mj/VideoAnalytics/1")
}

/// The `[mqtt]` section of a node that takes the simulated cameras' messages from `broker`
/// (the same TLS files, made absolute).
pub fn node_mqtt_config(broker: &Broker, prefix: &str, qos: u8, connections: usize, cameras: &[Camera]) -> String {
    let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let url = &broker.url;
    let mut out = String::new();
    out.push_str(&format!(
        "# The simulated cameras of `limes simulate --mqtt {url} --mqtt-prefix {prefix}`: ONVIF JSON,\n\
         # one topic per camera, each mapped to the camera registered under the same id.\n\
         [mqtt]\n\
         url = {}\n\
         client_id = {}\n\
         connections = {connections}\n\
         subscriptions = [\n  {{ topic = {}, format = \"onvif-json\", qos = {qos} }},\n]\n\n",
        quoted(url),
        quoted(&format!("{prefix}-node")),
        quoted(&format!("{prefix}/+/onvif-mj/#")),
    ));
    if let Some(tls) = &broker.tls {
        let path =
            |p: &std::path::Path| quoted(&std::path::absolute(p).unwrap_or_else(|_| p.to_owned()).to_string_lossy());
        out.push_str(&format!("[mqtt.tls]\nca_file = {}\n", path(&tls.ca_file)));
        if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
            out.push_str(&format!("cert_file = {}\nkey_file = {}\n", path(cert), path(key)));
        }
        out.push('\n');
    }
    out.push_str("[mqtt.cameras]\n");
    for c in cameras {
        out.push_str(&format!(
            "{} = {}\n",
            quoted(&format!("topic:{}", camera_topic(prefix, c.id.as_str()))),
            quoted(c.id.as_str())
        ));
    }
    out
}

/// What a run of the MQTT publisher did.
#[derive(Debug, Default)]
pub struct PublishReport {
    pub sent: u64,
    /// Messages the broker acknowledged (QoS 1), or wrote (QoS 0).
    pub acknowledged: u64,
    pub elapsed: Duration,
}

/// Publishes the simulator's reads one per message, each on its camera's topic, paced to
/// `pace.rate` reads per second, until `pace.duration` has passed or `pace.max_reads` were
/// sent; then waits for the broker to acknowledge them.
pub async fn publish(
    broker: &Broker,
    prefix: &str,
    qos: u8,
    sim: Simulator,
    pace: Pace,
) -> anyhow::Result<PublishReport> {
    let Pace { rate, duration, max_reads, .. } = pace;
    if rate.is_nan() || rate <= 0.0 {
        bail!("--rate must be positive");
    }
    let client_id = format!("{prefix}-sim-{}", std::process::id());
    let mut publisher = Publisher::connect(broker, &client_id, crate::publish::qos(qos)?, 1_000).await?;
    let topics: HashMap<CameraId, String> = sim
        .config()
        .region
        .cameras()
        .into_iter()
        .map(|c| {
            let topic = camera_topic(prefix, c.id.as_str());
            (c.id, topic)
        })
        .collect();
    // Reads are published in steps of a millisecond's worth.
    let step = ((rate / 1000.0).ceil() as u64).max(1);
    let start = Instant::now();
    let mut sim = sim;
    let mut sent: u64 = 0;
    while start.elapsed() < duration && max_reads.is_none_or(|m| sent < m) {
        let n = max_reads.map_or(step, |m| (m - sent).min(step));
        let due = start + Duration::from_secs_f64(sent as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let now = Utc::now();
        for s in sim.by_ref().take(n as usize) {
            let mut read = s.read;
            // A simulated read never claims a time after its sending.
            read.time = read.time.min(now);
            let topic = topics.get(&read.camera).context("a simulated read names a camera of its region")?;
            publisher.publish(topic, encode_onvif_json(&read).into()).await?;
            sent += 1;
        }
    }
    let elapsed = start.elapsed();
    let acknowledged = publisher.finish(Duration::from_secs(30)).await?;
    Ok(PublishReport { sent, acknowledged, elapsed })
}

pub async fn run(a: SimulateArgs) -> anyhow::Result<()> {
    let cfg = a.sim_config()?;
    let broker = a.mqtt.as_deref().map(|url| Broker::new(url, &a.mqtt_tls).context("--mqtt")).transpose()?;
    if let Some(broker) = &broker
        && a.print_config
    {
        print!("{}", node_mqtt_config(broker, &a.mqtt_prefix, a.qos, 1, &cfg.region.cameras()));
        return Ok(());
    }
    let client = crate::client::authed_client(a.token.as_deref(), [])?;
    let url = a.url.trim_end_matches('/').to_owned();
    if let Some(n) = a.setup_hotlist {
        let imported = setup(&client, &url, &cfg, n).await?;
        println!("registered {} cameras, imported {imported} hotlist entries", cfg.region.cameras().len());
    }
    let sim = Simulator::new(cfg)?;
    if let Some(broker) = &broker {
        let rep = publish(broker, &a.mqtt_prefix, a.qos, sim, Pace::from(&a)).await?;
        let secs = rep.elapsed.as_secs_f64();
        println!(
            "published {} reads in {secs:.1} s ({:.0}/s) on {}/<camera>/onvif-mj/VideoAnalytics/1 at QoS {}: {} acknowledged by the broker",
            rep.sent,
            rep.sent as f64 / secs,
            a.mqtt_prefix,
            a.qos,
            rep.acknowledged,
        );
        println!("(the node's [mqtt] section for these cameras: add --print-config)");
        if rep.acknowledged < rep.sent {
            bail!("{} messages were not acknowledged by the broker", rep.sent - rep.acknowledged);
        }
        return Ok(());
    }
    let mut rep = send(&client, &url, sim, Pace::from(&a)).await?;
    let secs = rep.elapsed.as_secs_f64();
    println!(
        "sent {} reads in {secs:.1} s ({:.0}/s): accepted {}, rejected {}, alerts {}, failed requests {}, request p50 {:.1} ms, p99 {:.1} ms",
        rep.sent,
        rep.sent as f64 / secs,
        rep.accepted,
        rep.rejected,
        rep.alerts,
        rep.failed_requests,
        quantile(&mut rep.latencies_us, 0.5) as f64 / 1000.0,
        quantile(&mut rep.latencies_us, 0.99) as f64 / 1000.0,
    );
    if rep.failed_requests > 0 {
        bail!("{} requests failed", rep.failed_requests);
    }
    Ok(())
}
