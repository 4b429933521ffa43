//! `limes bench`: throughput and latency figures as `name=value unit` lines.

use clap::Args;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Which benchmarks: ingest, latency, match, search, quality, pgtrgm, or all.
    #[arg(default_value = "all")]
    pub which: Vec<String>,
}

pub fn run(_a: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("limes bench: not built yet")
}
