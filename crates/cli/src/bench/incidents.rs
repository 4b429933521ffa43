//! `limes bench incidents`: how long an incident raised on one agency's node takes to reach
//! the partner's live stream (issue #8's goal: p99 under 1 s).
//!
//! Two `limes serve` processes over mutual TLS under the RO–RS example agreement (Serbia
//! notifies Romania of incidents). Each sample: `POST /api/v1/incidents` on the Serbian node,
//! timed from just before the request to the moment the Romanian node's
//! `GET /api/v1/incidents/stream` delivers it (the raise stored and stamped, the event signed,
//! queued, sent, checked against the agreement, stored and folded on the Romanian node).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use chrono::Utc;
use futures::StreamExt;
use serde_json::{Value, json};

use super::federation::FedNode;
use super::{BenchArgs, figure};
use crate::simulate::quantile;

/// A token of `node` for incidents, declaring the purpose incidents cross for.
async fn incident_token(node: &FedNode, agency: &str) -> anyhow::Result<reqwest::Client> {
    let r = node
        .admin
        .post(format!("{}/api/v1/tokens", node.url))
        .json(&json!({
            "name": "bench-incidents", "scope": ["incidents.view", "incidents.manage"],
            "purpose": "public_security", "legal_basis": "synthetic data: limes benchmarks", "agency": agency
        }))
        .send()
        .await?;
    ensure!(r.status().is_success(), "making a token: {}", r.text().await?);
    let v: Value = r.json().await?;
    crate::client::authed_client(Some(v["token"].as_str().context("a token")?), [])
}

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let samples = a.incidents.max(10);
    let rs = FedNode::start("rs-mup", "RS", "127.0.0.1", None, 0).await?;
    let ro = FedNode::start("ro-igpf", "RO", "127.0.0.1", None, 0).await?;
    let (rs_anchor, ro_anchor) = (rs.federation().await?["anchor"].clone(), ro.federation().await?["anchor"].clone());
    rs.add_partner(&ro_anchor, &["incident"], &[]).await?;
    ro.add_partner(&rs_anchor, &[], &["incident"]).await?;
    let (rs_key, ro_key) = (rs.identity()?.key, ro.identity()?.key);
    let agreement = limes_agreement::example::between(
        "ro-rs.toml",
        &[("ro-igpf", &ro_key), ("rs-mup", &rs_key)],
        Utc::now().date_naive(),
    )?;
    for node in [&rs, &ro] {
        node.add_agreement(&agreement.to_toml()).await?;
    }
    let (raiser, watcher) = (incident_token(&rs, "rs-mup").await?, incident_token(&ro, "ro-igpf").await?);

    // The Romanian live stream, read by a task that notes when each incident first shows.
    let resp = watcher.get(format!("{}/api/v1/incidents/stream", ro.url)).send().await?.error_for_status()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let reader = tokio::spawn(async move {
        let mut body = resp.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            let now = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:"))
                    && let Ok(v) = serde_json::from_str::<Value>(data.trim())
                    && let Some(id) = v["incident"]["id"].as_str()
                {
                    let _ = tx.send((id.to_owned(), now));
                }
            }
        }
    });

    let raise = |i: usize| {
        json!({"type": "traffic-accident", "severity": "medium", "title": format!("Benchmark incident {i}"),
               "position": {"lat": 45.27, "lon": 21.05}, "notified": ["ro-igpf"]})
    };
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut seen: HashMap<String, Instant> = HashMap::new();
    let mut lat_us = Vec::with_capacity(samples);
    let pace = Duration::from_millis(50);
    for i in 0..samples {
        let t0 = Instant::now();
        let r = raiser.post(format!("{}/api/v1/incidents", rs.url)).json(&raise(i)).send().await?;
        ensure!(r.status().is_success(), "raising: {}", r.text().await?);
        let v: Value = r.json().await?;
        sent.insert(v["id"].as_str().context("an incident id")?.to_owned(), t0);
        while let Ok((id, at)) = rx.try_recv() {
            seen.entry(id).or_insert(at);
        }
        tokio::time::sleep(pace).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent.keys().any(|id| !seen.contains_key(id)) {
        ensure!(Instant::now() < deadline, "{} incidents did not reach the partner", sent.len() - seen.len());
        if let Ok(Some((id, at))) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            seen.entry(id).or_insert(at);
        }
    }
    reader.abort();
    for (id, t0) in &sent {
        lat_us.push(seen[id].duration_since(*t0).as_micros() as u64);
    }
    figure("incidents.samples", lat_us.len(), "incidents");
    figure("incidents.pace", pace.as_millis(), "ms between raises");
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        figure(
            &format!("incidents.raise_to_partner_sse_{name}"),
            format!("{:.1}", quantile(&mut lat_us, q) as f64 / 1000.0),
            "ms",
        );
    }
    Ok(())
}
