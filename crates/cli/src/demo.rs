//! `limes demo`: a node on the embedded store, simulated border cameras, live alerts, a summary.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use limes_server::{Retention, ServerOptions};
use limes_sim::Simulator;

use crate::client::AlertWatch;
use crate::node::Node;
use crate::simulate::{Pace, SimulateArgs, quantile, send, setup};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Reads per second the simulated cameras send.
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    /// Hotlist size (the fleet's hotlisted vehicles plus generated entries).
    #[arg(long, default_value_t = 100_000)]
    hotlist: usize,
    /// Border region: ro-ua, ro-rs or cz-pl.
    #[arg(long, default_value = "ro-ua")]
    region: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep the node's data here (default: a temporary folder, deleted at the end).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// API address of the demo node (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Print at most this many alert lines per second (all are counted).
    #[arg(long, default_value_t = 5)]
    alert_lines_per_second: u32,
}

pub async fn run(a: DemoArgs) -> anyhow::Result<()> {
    let temp;
    let dir = match &a.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir().context("creating a temporary data folder")?;
            temp.path().to_owned()
        }
    };
    let node = Node::start(&dir, a.listen, ServerOptions::default(), Retention::default(), &[]).await?;
    let url = node.url();
    println!("limes demo: node on {url} (data in {}), region {}", dir.display(), a.region);

    let sim_args = SimulateArgs {
        url: url.clone(),
        token: None,
        region: a.region.clone(),
        rate: a.rate,
        duration: a.duration,
        reads: None,
        seed: a.seed,
        batch: 200,
        concurrency: 4,
        vehicles: None,
        start: None,
        setup_hotlist: Some(a.hotlist),
        mqtt: None,
        mqtt_tls: Default::default(),
        mqtt_prefix: String::new(),
        qos: 1,
        print_config: false,
    };
    let cfg = sim_args.sim_config()?;
    let token = node.integration_token("demo")?;
    let client = crate::client::authed_client(Some(&token), [])?;
    let t = Instant::now();
    let imported = setup(&client, &url, &cfg, a.hotlist).await?;
    println!(
        "registered {} cameras, imported {imported} hotlist entries in {:.1} s; sending {} reads/s for {} s",
        cfg.region.cameras().len(),
        t.elapsed().as_secs_f64(),
        a.rate,
        a.duration
    );

    // The live alert stream, as an operator's screen would get it.
    let per_second = a.alert_lines_per_second;
    let mut window = Instant::now();
    let mut shown = 0u32;
    let watch = AlertWatch::start(&client, &url, move |alert, latency| {
        if window.elapsed() >= Duration::from_secs(1) {
            window = Instant::now();
            shown = 0;
        }
        if shown < per_second {
            shown += 1;
            println!(
                "ALERT {:<9} {:<10} {:<14} p{} camera {:<14} read {:?} ({:.1} ms after the read arrived)",
                alert.kind,
                alert.plate,
                alert.reason,
                alert.priority,
                alert.camera,
                alert.read_text,
                latency as f64 / 1000.0
            );
        }
    })
    .await?;

    let sim = Simulator::new(cfg)?;
    let mut rep = send(&client, &url, sim, Pace::from(&sim_args)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await; // let the last alerts arrive
    let stats = node.state.stats();
    let mut alert_latencies = watch.stop();
    node.stop().await?;

    let secs = rep.elapsed.as_secs_f64();
    println!();
    println!("summary after {secs:.1} s:");
    println!("  reads sent       {} ({:.0}/s)", rep.sent, rep.sent as f64 / secs);
    println!("  reads stored     {}", stats.reads_accepted);
    println!("  reads refused    {}", stats.reads_rejected);
    println!("  hits (confirmed) {}", stats.alerts_confirmed);
    println!("  possible hits    {}", stats.alerts_possible);
    println!("  alerts           {}", stats.alerts_confirmed + stats.alerts_possible);
    println!(
        "  alert latency    p50 {:.1} ms, p99 {:.1} ms (read arrived -> alert on the SSE stream; {} alerts seen)",
        quantile(&mut alert_latencies, 0.5) as f64 / 1000.0,
        quantile(&mut alert_latencies, 0.99) as f64 / 1000.0,
        alert_latencies.len()
    );
    println!(
        "  request latency  p50 {:.1} ms, p99 {:.1} ms ({} requests, {} failed)",
        quantile(&mut rep.latencies_us, 0.5) as f64 / 1000.0,
        quantile(&mut rep.latencies_us, 0.99) as f64 / 1000.0,
        rep.latencies_us.len(),
        rep.failed_requests
    );
    Ok(())
}
