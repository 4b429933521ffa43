//! `limes bench ui`: read-to-screen latency in a real browser (issue #7's goal: p99 < 1 s).
//! A `limes serve` process with the region's cameras and a hotlist of the plates to read, an
//! officer account, and `web/tests/latency.mjs` (playwright-core driving Chromium) posting
//! reads from the signed-in page and timing each until its alert's row is on the live board.

use anyhow::Context;
use limes_store::{Store, StoreOptions};

use super::{BenchArgs, figure};
use crate::simulate::quantile;

pub async fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    anyhow::ensure!(
        web.join("node_modules/playwright-core").exists(),
        "limes bench ui needs {}/node_modules (npm ci there) and Chromium",
        web.display()
    );
    let dir = tempfile::tempdir()?;
    let cfg = super::node::sim_config(a, 10.0);
    let camera = cfg.region.cameras().into_iter().next().context("the region has cameras")?;
    let plates: Vec<String> = (0..a.ui_reads.clamp(1, 999)).map(|i| format!("B{i:03}UIX")).collect();
    let (token, password) = {
        let store = Store::open(&dir.path().join("limes-data"), StoreOptions::default())?;
        store.upsert_cameras(&cfg.region.cameras())?;
        let mut entries: Vec<limes_model::HotlistEntry> = plates
            .iter()
            .map(|p| limes_model::HotlistEntry {
                exercise: false,
                id: 0,
                plate: limes_plate::PlateText::new(p).expect("a valid plate"),
                country: Some(limes_plate::CountryCode::RO),
                reason: limes_model::HotlistReason::Stolen,
                priority: 1,
                agency: limes_model::AgencyId::new("ro-igpf").expect("an agency id"),
                expires: None,
                fuzzy: false,
                note: None,
                vehicle: None,
            })
            .collect();
        store.insert_hotlist(&mut entries)?;
        let access = limes_server::AccessOptions {
            agency: "ro-igpf".into(),
            country: "RO".into(),
            ..limes_server::AccessOptions::default()
        };
        let roles = [limes_access::Role::Operator, limes_access::Role::Analyst];
        let password = limes_server::auth::create_account(&store, &access, "bench-officer", "benchmark", &roles)
            .map_err(|e| anyhow::anyhow!("creating the officer: {e}"))?
            .context("a new store has no officer yet")?;
        (crate::node::integration_token(&store, "bench", "ro-igpf", "RO")?, password)
    };
    let config = dir.path().join("limes.toml");
    std::fs::write(&config, crate::config::default_toml("bench", "ro-igpf", "RO", "127.0.0.1:0", "limes-data"))?;
    let (mut child, url) =
        super::node::serve(std::process::Command::new(std::env::current_exe()?), &config, "warn").await?;
    let out = tokio::process::Command::new("node")
        .arg(web.join("tests/latency.mjs"))
        .current_dir(&web)
        .env("LIMES_URL", url.trim_end_matches('/'))
        .env("LIMES_USER", "bench-officer")
        .env("LIMES_PASSWORD", &password)
        .env("LIMES_TOKEN", &token)
        .env("LIMES_CAMERA", camera.id.as_str())
        .env("LIMES_PLATES", plates.join(","))
        .env("LIMES_LEGAL_BASIS", "synthetic data: limes benchmark")
        .output()
        .await
        .context("running node web/tests/latency.mjs")?;
    let _ = child.kill();
    let _ = child.wait();
    anyhow::ensure!(out.status.success(), "the browser benchmark failed: {}", String::from_utf8_lossy(&out.stderr));
    let times: Vec<f64> = serde_json::from_slice(&out.stdout).context("the benchmark's times")?;
    let mut us: Vec<u64> = times.iter().map(|ms| (ms * 1000.0) as u64).collect();
    figure("ui.reads", us.len(), "reads");
    figure("ui.read_to_screen_p50", format!("{:.1}", quantile(&mut us, 0.5) as f64 / 1000.0), "ms");
    figure("ui.read_to_screen_p99", format!("{:.1}", quantile(&mut us, 0.99) as f64 / 1000.0), "ms");
    figure("ui.read_to_screen_max", format!("{:.1}", us.iter().max().copied().unwrap_or(0) as f64 / 1000.0), "ms");
    Ok(())
}
