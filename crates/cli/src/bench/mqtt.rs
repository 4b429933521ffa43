//! MQTT ingest end to end: simulated cameras publish ONVIF JSON on a broker, a `limes serve`
//! process takes it through its `[mqtt]` subscriptions into the durable store.
//!
//! The publishers run in this process, several connections, with messages encoded up front
//! (each read's time is rewritten with the sending time). They publish as fast as the node
//! takes the messages: a broker drops what a subscriber's queue cannot hold (Mosquitto: 1,000
//! messages per client by default), so the publishers keep at most a window of reads ahead of
//! what the node has stored, and every read published is stored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use limes_camera_formats::encode_onvif_json_frames;
use limes_model::PlateRead;
use limes_sim::Simulator;

use super::node::{NodeProcess, sim_config};
use super::{BenchArgs, cpu, figure};
use crate::publish::{Broker, Publisher, qos};
use crate::simulate::{camera_topic, node_mqtt_config};

/// The placeholder time of every encoded read, overwritten at sending with a time of the same width.
const PLACEHOLDER: &str = "2001-01-01T00:00:00.123Z";

/// One message ready to send: its topic and payload, and where its frame's time is.
struct Message {
    topic: usize,
    bytes: Vec<u8>,
    slot: usize,
    reads: u64,
}

impl Message {
    fn at(&self, stamp: &[u8]) -> Bytes {
        let mut out = self.bytes.clone();
        out[self.slot..self.slot + stamp.len()].copy_from_slice(stamp);
        Bytes::from(out)
    }
}

/// Reads of one camera, `per_message` at a time, as messages on that camera's topic.
fn messages(
    reads: Vec<PlateRead>,
    topics: &[String],
    prefix: &str,
    per_message: usize,
) -> anyhow::Result<Vec<Message>> {
    let placeholder = chrono::DateTime::parse_from_rfc3339(PLACEHOLDER)?.with_timezone(&Utc);
    let mut by_camera: Vec<Vec<PlateRead>> = vec![Vec::new(); topics.len()];
    let mut out = Vec::new();
    for mut read in reads {
        read.time = placeholder;
        let topic = camera_topic(prefix, read.camera.as_str());
        let t = topics.iter().position(|x| *x == topic).context("a read of an unknown camera")?;
        by_camera[t].push(read);
        if by_camera[t].len() == per_message {
            let group = std::mem::take(&mut by_camera[t]);
            let bytes = encode_onvif_json_frames(&group);
            let slot = bytes
                .windows(PLACEHOLDER.len())
                .position(|w| w == PLACEHOLDER.as_bytes())
                .context("the frame's time is the placeholder")?;
            ensure!(
                bytes.windows(PLACEHOLDER.len()).filter(|w| *w == PLACEHOLDER.as_bytes()).count() == 1,
                "reads of one message share one frame"
            );
            out.push(Message { topic: t, bytes, slot, reads: per_message as u64 });
        }
    }
    Ok(out)
}

/// CPU seconds process `pid` has spent; `None` where its clock cannot be read.
fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu::seconds(pid).ok()
}

fn broker_pid() -> Option<u32> {
    let pid = std::fs::read_to_string("/run/mosquitto/mosquitto.pid").ok()?;
    let pid = pid.trim().parse().ok()?;
    cpu_seconds(pid).map(|_| pid)
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let level = a.qos;
    let qos = qos(level)?;
    let connections = a.connections.clamp(1, 64);
    let publishers = a.publishers.max(1);
    let per_message = a.reads_per_message.max(1);
    let prefix = format!("limes-bench-{}-{}", std::process::id(), Utc::now().timestamp_millis());
    let cfg = sim_config(a, 100_000.0);
    let cameras = cfg.region.cameras();
    let broker = Broker::new(&a.mqtt_url, &a.mqtt_tls).context("--mqtt-url")?;
    let mut section = node_mqtt_config(&broker, &prefix, level, connections, &cameras);
    if let Some(batch) = a.mqtt_batch {
        section = section.replace("\nconnections = ", &format!("\nbatch = {batch}\nconnections = "));
    }
    let node = NodeProcess::start_with(a, &cfg, &section).await?;

    let t = Instant::now();
    let topics: Vec<String> = cameras.iter().map(|c| camera_topic(&prefix, c.id.as_str())).collect();
    let reads: Vec<PlateRead> = Simulator::new(cfg)?.take(100_000).map(|s| s.read).collect();
    let messages = Arc::new(messages(reads, &topics, &prefix, per_message)?);
    eprintln!(
        "encoded {} messages of {per_message} reads ({} bytes on average) in {:.1} s",
        messages.len(),
        messages.iter().map(|m| m.bytes.len()).sum::<usize>() / messages.len().max(1),
        t.elapsed().as_secs_f64()
    );

    // The node subscribes once connected: probe until it receives (a malformed message, which
    // it counts and stores nothing of).
    let mqtt_stats = format!("{}/api/v1/mqtt", node.url);
    let mut probe = Publisher::connect(&broker, &format!("{prefix}-probe"), qos, 100).await?;
    let start = Instant::now();
    loop {
        probe.publish(&format!("{prefix}/probe/onvif-mj/VideoAnalytics/1"), Bytes::from_static(b"probe")).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let v: serde_json::Value = reqwest::get(&mqtt_stats).await?.json().await?;
        if v["messages"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        ensure!(start.elapsed() < Duration::from_secs(30), "the node did not subscribe within 30 s");
    }
    probe.finish(Duration::from_secs(5)).await?;
    // Every connection of the node subscribes on its own; give the last ones time (a shared
    // subscription would otherwise load the first ones with the others' share).
    tokio::time::sleep(Duration::from_secs(2)).await;

    // What the node has stored, polled; the publishers stay within `window` reads of it.
    let at_start = node.stats().await?;
    let stored = Arc::new(AtomicU64::new(at_start.reads_accepted));
    let base = at_start.reads_accepted;
    let published = Arc::new(AtomicU64::new(0));
    // Enough to keep every connection's in-flight messages (Mosquitto: 20) and the node's next
    // batch busy, far below what a broker queues per client (Mosquitto: 1,000 messages).
    let window = (connections as u64 * 100).clamp(2_000, 16_000) * per_message as u64;
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let (stored, done, url) = (stored.clone(), done.clone(), format!("{}/api/v1/stats", node.url));
        let client = node.client()?;
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Ok(r) = client.get(&url).send().await
                    && let Ok(s) = r.json::<limes_server::StatsSnapshot>().await
                {
                    stored.store(s.reads_accepted, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let (node_cpu0, bench_cpu0) = (cpu_seconds(node.child.id()), cpu_seconds(std::process::id()));
    let broker_process = broker_pid();
    let broker_cpu0 = broker_process.and_then(cpu_seconds);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds);
    let mut tasks = Vec::new();
    for p in 0..publishers {
        let client_id = format!("{prefix}-pub-{p}");
        let mut publisher = Publisher::connect(&broker, &client_id, qos, 1_000).await?;
        let (messages, topics, stored, published) =
            (messages.clone(), topics.clone(), stored.clone(), published.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = p;
            let mut stamp = String::new();
            let mut stamped_at = Instant::now() - Duration::from_secs(1);
            while Instant::now() < deadline {
                if published.load(Ordering::Relaxed) > stored.load(Ordering::Relaxed) + window {
                    tokio::time::sleep(Duration::from_micros(500)).await;
                    continue;
                }
                if stamped_at.elapsed() >= Duration::from_millis(1) {
                    stamp = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
                    stamped_at = Instant::now();
                }
                let m = &messages[i % messages.len()];
                i += publishers;
                publisher.publish(&topics[m.topic], m.at(stamp.as_bytes())).await?;
                published.fetch_add(m.reads, Ordering::Relaxed);
            }
            let sent = publisher.published();
            publisher.finish(Duration::from_secs(60)).await?;
            anyhow::Ok(sent)
        }));
    }
    let mut sent_messages = 0;
    for t in tasks {
        sent_messages += t.await??;
    }
    let secs = start.elapsed().as_secs_f64();
    let at_end = node.stats().await?;
    let stored_at_end = at_end.reads_accepted;
    let node_cpu = cpu_seconds(node.child.id()).zip(node_cpu0).map(|(b, a)| b - a);
    let bench_cpu = cpu_seconds(std::process::id()).zip(bench_cpu0).map(|(b, a)| b - a);
    let broker_cpu = broker_process.and_then(cpu_seconds).zip(broker_cpu0).map(|(b, a)| b - a);
    // Then everything published must arrive.
    let sent_reads = published.load(Ordering::Relaxed);
    let drain = Instant::now();
    let mut last = (stored_at_end, Instant::now());
    let total = loop {
        let now = node.stats().await?.reads_accepted - base;
        if now >= sent_reads || last.1.elapsed() > Duration::from_secs(5) {
            break now;
        }
        if now != last.0 {
            last = (now, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    done.store(true, Ordering::Relaxed);
    let _ = poller.await;
    let mqtt: serde_json::Value = reqwest::get(&mqtt_stats).await?.json().await?;
    let stats = node.stats().await?;
    drop(node);

    let in_run = stored_at_end - base;
    figure("mqtt.reads_per_s", format!("{:.0}", in_run as f64 / secs), "reads/s");
    figure("mqtt.messages_per_s", format!("{:.0}", sent_messages as f64 / secs), "messages/s");
    figure("mqtt.reads_per_message", per_message, "reads");
    figure("mqtt.connections", connections, "node connections");
    figure("mqtt.publishers", publishers, "publisher connections");
    figure("mqtt.qos", level, "");
    figure("mqtt.seconds", format!("{secs:.1}"), "s");
    let batches = at_end.batches - at_start.batches;
    figure("mqtt.reads_per_commit", (stored_at_end - base).checked_div(batches).unwrap_or(0), "reads (mean batch)");
    figure("mqtt.reads_published", sent_reads, "reads");
    figure("mqtt.reads_stored", total, "reads");
    figure("mqtt.reads_lost", sent_reads.saturating_sub(total), "reads");
    figure("mqtt.drain", format!("{:.2}", drain.elapsed().as_secs_f64()), "s after the last publish");
    figure("mqtt.alerts", stats.alerts_confirmed + stats.alerts_possible, "alerts");
    figure("mqtt.connections_lost", mqtt["connections_lost"].as_u64().unwrap_or(0), "");
    figure("mqtt.hotlist_entries", a.hotlist, "entries");
    let cores = |c: Option<f64>| c.map_or("unknown".to_owned(), |c| format!("{:.2}", c / secs));
    figure("mqtt.node_cpu", cores(node_cpu), "cores");
    figure("mqtt.publisher_cpu", cores(bench_cpu), "cores (the bench process: publishers and stats polling)");
    figure("mqtt.broker_cpu", cores(broker_cpu), "cores");
    figure(
        "mqtt.load_generator_shares_cores",
        "yes",
        "(node, broker and publishers are three processes on the same cores)",
    );
    Ok(())
}
