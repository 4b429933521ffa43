//! Prints simulated reads of a region, one line each, with the truth behind them.
//!
//! `cargo run -p limes-sim --example print_reads -- ro-ua 20 [seed]`

use limes_sim::{Region, SimConfig, Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "ro-ua".to_owned());
    let count: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let region = Region::named(&name).ok_or_else(|| format!("no region {name:?}: try {}", Region::NAMES.join(", ")))?;
    let cfg = SimConfig { seed, region, vehicles: 5_000, ..SimConfig::default() };
    for r in Simulator::new(cfg)?.take(count) {
        let country = r.read.plate.country.as_ref().map_or("--".to_owned(), |c| c.value.to_string());
        println!(
            "{}  {:<17} {:<12} {:<14} {country}  truth {} {} {:?}{}{}",
            r.read.time.format("%H:%M:%S%.3f"),
            r.read.camera.as_str(),
            r.read.direction.as_str(),
            r.read.plate.text.value,
            r.truth.plate,
            r.truth.country,
            r.truth.errors.class(),
            if r.truth.hotlisted { " HOTLISTED" } else { "" },
            r.truth.convoy.map_or(String::new(), |c| format!(" convoy {c}")),
        );
    }
    Ok(())
}
