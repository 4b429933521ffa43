//! Two agencies' nodes, each a `limes serve` process, partners over mutual TLS: how many
//! signed messages per second cross from one to the other, and how long a read at node A takes
//! to become an alert on node B's live stream.
//!
//! Every message is an alert: node A holds a hotlist and every read posted to it hits, so each
//! read becomes an alert, an envelope signed by A, a batch over TLS, B's checks, B's inbox
//! commit, B's store and B's stream. With `--loss PCT` (root only) the nodes run in two network
//! namespaces of a `limes-netlab` lab that drops that share of the packets arriving in each.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::Utc;
use serde_json::{Value, json};

use super::{BenchArgs, figure};
use crate::config::{FederationInit, default_toml_with};
use crate::simulate::quantile;

pub(super) struct FedNode {
    _dir: tempfile::TempDir,
    /// The node's data folder.
    data: std::path::PathBuf,
    child: std::process::Child,
    pub(super) url: String,
    token: String,
    pub(super) admin: reqwest::Client,
}

impl Drop for FedNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `i`-th of the benchmark's Bucharest plates (letters that plates of every grammar take:
/// no I, O or Q, which grammars repair or refuse).
fn plate(i: usize) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    let l = |n: usize| LETTERS[n % LETTERS.len()] as char;
    let n = i / 1000;
    format!("B{:03}{}{}{}", i % 1000, l(n), l(n / 23), l(n / 529))
}

impl FedNode {
    pub(super) async fn start(
        agency: &str,
        country: &str,
        host: &str,
        ns: Option<&limes_netlab::Netns>,
        plates: usize,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("limes-data");
        let token = {
            let store = limes_store::Store::open(&data, limes_store::StoreOptions::default())?;
            if plates > 0 {
                let camera: limes_model::Camera = serde_json::from_value(json!({
                    "id": "ro-bench-1", "agency": agency, "kind": "anpr", "country": country,
                    "position": {"lat": 47.95, "lon": 26.07}
                }))?;
                store.upsert_cameras(&[camera])?;
                let agency_id = limes_model::AgencyId::new(agency)?;
                let entries: Vec<limes_model::HotlistEntry> = (0..plates)
                    .map(|i| {
                        Ok(limes_model::HotlistEntry {
                            exercise: false,
                            id: i as u64 + 1,
                            plate: limes_plate::PlateText::new(&plate(i))?,
                            country: Some(limes_plate::CountryCode::parse(country)?),
                            reason: limes_model::HotlistReason::Stolen,
                            priority: 1,
                            agency: agency_id.clone(),
                            expires: None,
                            fuzzy: false,
                            note: None,
                            vehicle: None,
                        })
                    })
                    .collect::<anyhow::Result<_>>()?;
                store.upsert_hotlist(&entries)?;
            }
            crate::node::integration_token(&store, "bench", agency, country)?
        };
        let port = match ns {
            Some(ns) => ns.run(free_port)??,
            None => free_port()?,
        };
        let fed = FederationInit {
            listen: format!("{host}:{port}"),
            url: format!("https://{host}:{port}"),
            name: format!("{agency} (benchmark)"),
        };
        let config = dir.path().join("limes.toml");
        let text = default_toml_with(agency, agency, country, &format!("{host}:0"), "limes-data", Some(&fed));
        std::fs::write(&config, text)?;
        let exe = std::env::current_exe()?;
        let cmd = match ns {
            Some(ns) => ns.command(&exe),
            None => std::process::Command::new(&exe),
        };
        let log = std::env::var("LIMES_BENCH_LOG").unwrap_or_else(|_| "error".into());
        let (child, url) = super::node::serve(cmd, &config, &log).await?;
        let admin = admin_session(&data, &url).await?;
        Ok(Self { _dir: dir, data, child, url, token, admin })
    }

    pub(super) async fn federation(&self) -> anyhow::Result<Value> {
        Ok(self.admin.get(format!("{}/api/v1/federation", self.url)).send().await?.error_for_status()?.json().await?)
    }

    /// The agency identity `limes init` made in the node's data folder.
    pub(super) fn identity(&self) -> anyhow::Result<limes_link::Identity> {
        Ok(limes_link::Identity::load(&self.data.join("federation").join("identity"))?)
    }

    pub(super) async fn add_agreement(&self, text: &str) -> anyhow::Result<()> {
        let r = self.admin.post(format!("{}/api/v1/agreements", self.url)).body(text.to_owned()).send().await?;
        ensure!(r.status().is_success(), "putting the agreement in force: {}", r.text().await?);
        Ok(())
    }

    pub(super) async fn add_partner(&self, anchor: &Value, send: &[&str], receive: &[&str]) -> anyhow::Result<()> {
        let r = self
            .admin
            .post(format!("{}/api/v1/partners", self.url))
            .json(&json!({ "anchor": anchor, "send": send, "receive": receive }))
            .send()
            .await?;
        ensure!(r.status().is_success(), "adding a partner: {}", r.text().await?);
        Ok(())
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("0.0.0.0:0")?.local_addr()?.port())
}

async fn admin_session(data: &Path, url: &str) -> anyhow::Result<reqwest::Client> {
    let password = std::fs::read_to_string(data.join(crate::node::INITIAL_ADMIN_PASSWORD))?;
    let r: Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({ "user": "admin", "password": password.trim() }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = r["token"].as_str().context("a session token")?;
    crate::client::authed_client(Some(token), [])
}

fn read(i: usize) -> Value {
    json!({ "camera": "ro-bench-1", "time": Utc::now(), "plate": plate(i), "confidence": 0.95,
            "direction": "leaving", "country": "RO" })
}

/// `limes bench federation`.
pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let messages = a.messages.max(1000);
    let latency_samples = 1000usize.min(messages);
    let plates = messages + latency_samples;
    let mut lab = None;
    let (ro, ua) = if a.loss > 0.0 {
        let mut l = limes_netlab::Lab::new().context("a network lab (needs root and nftables)")?;
        let na = l.add_namespace("ro")?;
        let nb = l.add_namespace("ua")?;
        // Each namespace drops the share of packets arriving from the other and from the root
        // namespace (the test process's API calls), so both directions lose packets.
        let loss = limes_netlab::Loss::percent(a.loss)?;
        let backend = l.set_loss(loss)?;
        na.set_loss_from(limes_netlab::Peer::Root, loss)?;
        nb.set_loss_from(limes_netlab::Peer::Root, loss)?;
        figure("federation.loss_backend", format!("{backend:?}"), "");
        let ro = FedNode::start("ro-igpf", "RO", &na.addr().to_string(), Some(&na), plates).await?;
        let ua = FedNode::start("ua-dpsu", "UA", &nb.addr().to_string(), Some(&nb), 0).await?;
        lab = Some(l);
        (ro, ua)
    } else {
        let ro = FedNode::start("ro-igpf", "RO", "127.0.0.1", None, plates).await?;
        let ua = FedNode::start("ua-dpsu", "UA", "127.0.0.1", None, 0).await?;
        (ro, ua)
    };
    let (ro_anchor, ua_anchor) = (ro.federation().await?["anchor"].clone(), ua.federation().await?["anchor"].clone());
    ro.add_partner(&ua_anchor, &["alert"], &[]).await?;
    ua.add_partner(&ro_anchor, &[], &["alert"]).await?;
    // Under the RO–UA example agreement, each node's own key in it, both signatures.
    let (ro_key, ua_key) = (ro.identity()?.key, ua.identity()?.key);
    let agreement = limes_agreement::example::between(
        "ro-ua.toml",
        &[("ro-igpf", &ro_key), ("ua-dpsu", &ua_key)],
        Utc::now().date_naive(),
    )?;
    for node in [&ro, &ua] {
        node.add_agreement(&agreement.to_toml()).await?;
    }

    // Throughput: every read an alert, every alert a message; as fast as A takes them.
    let client = crate::client::authed_client(Some(&ro.token), [])?;
    let reads_url = format!("{}/api/v1/reads", ro.url);
    let start = Instant::now();
    let poster = {
        let (client, url) = (client.clone(), reads_url.clone());
        tokio::spawn(async move {
            for chunk in (0..messages).collect::<Vec<_>>().chunks(500) {
                let body: Vec<Value> = chunk.iter().map(|&i| read(i)).collect();
                client.post(&url).json(&body).send().await?.error_for_status()?;
            }
            anyhow::Ok(Instant::now())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    // Until B has stored every alert and pushed it on its stream (not only taken it in).
    let received = loop {
        let n = ua.federation().await?["partner_alerts"].as_u64().unwrap_or(0);
        if n >= messages as u64 {
            break n;
        }
        if Instant::now() > deadline {
            bail!("only {n} of {messages} messages arrived within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let secs = start.elapsed().as_secs_f64();
    let posted = poster.await??.duration_since(start).as_secs_f64();
    let sent = ro.federation().await?;
    figure("federation.messages", received, "signed messages (alerts) A → B");
    figure(
        "federation.messages_per_second",
        format!("{:.0}", received as f64 / secs),
        "messages/s (first read posted at A → last alert stored and streamed at B)",
    );
    figure("federation.reads_posted_in", format!("{posted:.2}"), "s");
    figure("federation.sender_failed_attempts", sent["failed_attempts"].clone(), "attempts");

    // Latency: one read at a time at A, to its alert on B's live stream.
    let ua_client = crate::client::authed_client(Some(&ua.token), [])?;
    let watch = crate::client::AlertWatch::start(&ua_client, &ua.url, |_, _| {}).await?;
    let pace = Duration::from_secs_f64(1.0 / a.latency_rate.clamp(1.0, 1000.0));
    let mut next = Instant::now();
    for i in messages..messages + latency_samples {
        client.post(&reads_url).json(&read(i)).send().await?.error_for_status()?;
        next += pace;
        tokio::time::sleep_until(next.into()).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while ua.federation().await?["partner_alerts"].as_u64().unwrap_or(0) < (messages + latency_samples) as u64 {
        ensure!(Instant::now() < deadline, "the latency samples did not all arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut lat = watch.stop();
    figure("federation.latency_samples", lat.len(), "alerts");
    figure("federation.latency_rate", format!("{:.0}", a.latency_rate.clamp(1.0, 1000.0)), "reads/s");
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        figure(
            &format!("federation.read_at_a_to_sse_at_b_{name}"),
            format!("{:.1}", quantile(&mut lat, q) as f64 / 1000.0),
            "ms",
        );
    }
    figure("federation.loss_each_way", a.loss, "%");
    let b = ua.federation().await?;
    figure("federation.duplicates_at_b", b["duplicates"].clone(), "messages");
    figure("federation.rejected_at_b", b["rejected"].clone(), "messages");
    drop((ro, ua));
    drop(lab);
    Ok(())
}
