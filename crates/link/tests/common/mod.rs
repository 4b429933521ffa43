//! What the link's tests share: a node's link configuration on loopback, and free ports.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use limes_federation::Limits;
use limes_link::LinkConfig;
use limes_model::AgencyId;

/// The link of `agency` in `country`, its partners' port on `port` of 127.0.0.1, its trust
/// anchor naming `url`; small limits and quick retries. Tests change what they need with
/// `LinkConfig { …, ..config(…) }`.
pub fn config(agency: &str, country: &str, port: u16, url: String) -> LinkConfig {
    LinkConfig {
        agency: AgencyId::new(agency).unwrap(),
        name: format!("{agency} police"),
        country: limes_plate::CountryCode::parse(country).unwrap(),
        regime: limes_access::Regime::Led,
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        url,
        limits: Limits::default(),
        max_queued_per_partner: 1000,
        batch_max_envelopes: 100,
        batch_max_bytes: 1 << 20,
        max_blob_bytes: 1 << 20,
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_secs(1),
        purpose: "detection".into(),
        legal_basis: "limes test suite: synthetic data".into(),
        hitquery: Default::default(),
        // Witnessing rounds every 300 ms, so that checkpoints are cosigned at once.
        witness: limes_link::WitnessConfig { interval: Duration::from_millis(300), ..Default::default() },
    }
}

/// The same, its trust anchor naming its own port.
pub fn config_at(agency: &str, country: &str, port: u16) -> LinkConfig {
    config(agency, country, port, format!("https://127.0.0.1:{port}"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
