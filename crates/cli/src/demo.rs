//! `limes demo`: two agencies of the two countries of a border region, each with a node of its
//! own on the embedded store, partners over mutual TLS inside this process; simulated border
//! cameras feed the node of their country, alerts cross to the other; a summary per node.
//!
//! Both nodes hold the same hotlist, as the agencies on both sides of a border consult the
//! same shared lists (stolen vehicles, wanted persons); its entries belong to the region's
//! agencies of either country. Each node matches the reads of its own cameras only, so a
//! vehicle listed by a Romanian agency that drives into Ukraine raises its alert on the
//! Ukrainian node, and that alert crosses to the Romanian node (and the other way round).

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use limes_federation::MessageType;
use limes_link::Link;
use limes_model::{AgencyId, CameraId};
use limes_plate::CountryCode;
use limes_server::{AccessOptions, Retention, ServerOptions, StatsSnapshot};
use limes_sim::Simulator;
use reqwest::Client;

use crate::client::{AlertLine, AlertWatch};
use crate::node::Node;
use crate::simulate::{
    Pace, SimulateArgs, Target, hotlist_bodies, import_hotlist, quantile, register_cameras, send_routed,
};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Reads per second the simulated cameras send (both sides together).
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    /// Hotlist size (the fleet's hotlisted vehicles plus generated entries), on each node.
    #[arg(long, default_value_t = 100_000)]
    hotlist: usize,
    /// Border region: ro-ua, ro-rs or cz-pl.
    #[arg(long, default_value = "ro-ua")]
    region: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep the nodes' data here, a folder per agency (default: a temporary folder, deleted at
    /// the end).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// API address of the first country's node; the second's takes the next port (port 0: any
    /// free ports).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Print at most this many lines per second of alerts raised, and as many of alerts that
    /// crossed (all are counted).
    #[arg(long, default_value_t = 5)]
    alert_lines_per_second: u32,
    /// After the summary, keep both nodes serving (their operations-centre pages too) until
    /// Ctrl-C.
    #[arg(long)]
    keep: bool,
}

/// The agency whose node stands for its country in the demo.
#[derive(Debug)]
struct Agency {
    country: CountryCode,
    id: &'static str,
    name: &'static str,
}

/// One agency per country of the regions `limes-sim` knows: the border police where there is
/// one, the national police in Schengen's interior.
const AGENCIES: [Agency; 5] = [
    Agency { country: CountryCode::RO, id: "ro-igpf", name: "Inspectoratul General al Poliției de Frontieră" },
    Agency {
        country: CountryCode::UA, id: "ua-dpsu", name: "Державна прикордонна служба України"
    },
    Agency {
        country: CountryCode::RS, id: "rs-mup", name: "Министарство унутрашњих послова Републике Србије"
    },
    Agency { country: CountryCode::CZ, id: "cz-pcr", name: "Policie České republiky" },
    Agency { country: CountryCode::PL, id: "pl-sg", name: "Straż Graniczna" },
];

/// The example agreement (`docs/agreements/`) of a region.
fn example_for(region: &str) -> &'static str {
    match region {
        "ro-rs" => "ro-rs.toml",
        "cz-pl" => "cz-pl-police.toml",
        _ => "ro-ua.toml",
    }
}

/// Puts the region's example agreement in force on both nodes, with their own keys and
/// dates from yesterday for a year: what the two agencies do with `limes agreement sign` and
/// `limes agreement add`.
fn put_agreement_in_force(region: &str, nodes: &[DemoNode]) -> anyhow::Result<limes_agreement::Agreement> {
    let name = example_for(region);
    let keys: Vec<(&str, &limes_federation::AgencyKey)> =
        nodes.iter().map(|n| (n.agency.id, &n.link.identity().key)).collect();
    let agreement = limes_agreement::example::between(name, &keys, chrono::Utc::now().date_naive())
        .with_context(|| format!("the example agreement {name}"))?;
    let text = agreement.to_toml();
    for n in nodes {
        n.link.add_agreement(&text).with_context(|| format!("putting {} in force on {}", agreement.id, n.agency.id))?;
    }
    Ok(agreement)
}

fn agency_of(country: CountryCode) -> anyhow::Result<&'static Agency> {
    AGENCIES.iter().find(|a| a.country == country).with_context(|| format!("no demo agency for {country}"))
}

/// What one node's alert stream showed.
#[derive(Debug, Default)]
struct Seen {
    /// Latencies of the node's own alerts: the read's arrival to the alert on the stream, µs.
    own: Vec<u64>,
    /// Latencies of alerts the partner sent: the read's arrival at the partner's node to the
    /// alert on this node's stream, µs.
    crossed: Vec<u64>,
}

/// At most `per_second` lines a second.
#[derive(Debug)]
struct LinePace {
    per_second: u32,
    window: Instant,
    shown: u32,
}

impl LinePace {
    fn new(per_second: u32) -> Self {
        Self { per_second, window: Instant::now(), shown: 0 }
    }

    fn allow(&mut self) -> bool {
        if self.window.elapsed() >= Duration::from_secs(1) {
            self.window = Instant::now();
            self.shown = 0;
        }
        let allowed = self.shown < self.per_second;
        self.shown += u32::from(allowed);
        allowed
    }
}

/// One agency's node, running in this process.
struct DemoNode {
    agency: &'static Agency,
    dir: PathBuf,
    node: Node,
    link: Link,
    /// The partners' port.
    federation: SocketAddr,
    client: Client,
    url: String,
    seen: Arc<Mutex<Seen>>,
}

impl DemoNode {
    /// Starts the node of `agency` in `dir`: the API on `listen`, the partners' port (mutual
    /// TLS) on a free port of 127.0.0.1, the agency's identity made on the first start.
    async fn start(agency: &'static Agency, dir: PathBuf, listen: SocketAddr) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let purpose = "detection";
        let legal_basis = "synthetic data: limes demo";
        let options = ServerOptions {
            access: AccessOptions {
                agency: agency.id.to_owned(),
                country: agency.country.to_string(),
                collection_purpose: limes_access::Purpose {
                    purpose: purpose.into(),
                    legal_basis: legal_basis.into(),
                    case_ref: None,
                },
                ..AccessOptions::default()
            },
            ..ServerOptions::default()
        };
        let mut node = Node::start(&dir, listen, options, Retention::default(), &[]).await?;
        // The trust anchor names the partners' port, so the port is chosen before the link
        // opens (and bound right after).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for the partners' port")?
            .port();
        let link = limes_link::LinkConfig {
            agency: AgencyId::new(agency.id).map_err(|e| anyhow::anyhow!("agency {}: {e}", agency.id))?,
            name: agency.name.to_owned(),
            country: agency.country,
            regime: limes_access::Regime::Led,
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            url: format!("https://127.0.0.1:{port}"),
            limits: limes_federation::Limits::default(),
            max_queued_per_partner: 1_000_000,
            batch_max_envelopes: 500,
            batch_max_bytes: 4 << 20,
            max_blob_bytes: 256 << 20,
            retry_base: Duration::from_millis(200),
            retry_max: Duration::from_secs(5),
            purpose: purpose.into(),
            legal_basis: legal_basis.into(),
            hitquery: limes_link::HitQueryConfig::default(),
            // The demo's nodes witness each other's audit logs every few seconds.
            witness: limes_link::WitnessConfig { interval: Duration::from_secs(2), ..Default::default() },
        };
        node.start_federation(&dir, link).await?;
        let running = node.federation.as_ref().context("the federation has started")?;
        let (link, federation) = (running.link.clone(), running.addr);
        let token = node.integration_token("demo")?;
        let client = crate::client::authed_client(Some(&token), [])?;
        let url = node.url();
        Ok(Self { agency, dir, node, link, federation, client, url, seen: Arc::default() })
    }

    /// "RO ro-igpf"
    fn label(&self) -> String {
        format!("{} {}", self.agency.country, self.agency.id)
    }

    fn stats(&self) -> StatsSnapshot {
        self.node.state.stats()
    }

    /// Watches the node's alert stream: prints alerts (within `pace`), counts their latencies.
    async fn watch(
        &self,
        own_lines: Arc<Mutex<LinePace>>,
        crossed_lines: Arc<Mutex<LinePace>>,
    ) -> anyhow::Result<AlertWatch> {
        let country = self.agency.country;
        let seen = self.seen.clone();
        AlertWatch::start(&self.client, &self.url, move |alert: &AlertLine, latency| {
            let ms = latency as f64 / 1000.0;
            let (tag, after, pace) = match &alert.origin {
                None => {
                    lock(&seen).own.push(latency);
                    (format!("[{country}]"), format!("{ms:.1} ms after the read arrived"), &own_lines)
                }
                Some(o) => {
                    lock(&seen).crossed.push(latency);
                    let from = o.country.as_deref().unwrap_or(&o.agency);
                    (
                        format!("[{country} ← {from}]"),
                        format!("{ms:.1} ms after the read arrived at {from}; entry of {}", alert.agency),
                        &crossed_lines,
                    )
                }
            };
            if lock(pace).allow() {
                // A partner whose agreement wants plates pseudonymised sends a pseudonym and no read text.
                let read = match alert.read_text.as_str() {
                    "" => "(plate pseudonymised)".to_owned(),
                    text => format!("read {text:?}"),
                };
                println!(
                    "{tag:<9} ALERT {:<9} {:<12} {:<14} p{} camera {:<16} {read} ({after})",
                    alert.kind, alert.plate, alert.reason, alert.priority, alert.camera,
                );
            }
        })
        .await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub async fn run(a: DemoArgs) -> anyhow::Result<()> {
    let sim_args = SimulateArgs {
        url: String::new(),
        token: None,
        region: a.region.clone(),
        rate: a.rate,
        duration: a.duration,
        reads: None,
        seed: a.seed,
        // A request per 100 ms of reads, at most 200 reads.
        batch: ((a.rate / 10.0).ceil() as usize).clamp(1, 200),
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
    let temp;
    let root = match &a.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::tempdir().context("creating a temporary data folder")?;
            temp.path().to_owned()
        }
    };

    // A node per country of the border, each agency's own.
    let mut nodes = Vec::with_capacity(2);
    for (i, country) in cfg.region.countries().into_iter().enumerate() {
        let agency = agency_of(country)?;
        let listen = match a.listen.port() {
            0 => a.listen,
            port => SocketAddr::new(
                a.listen.ip(),
                port.checked_add(i as u16).context("--listen: no port after the first node's")?,
            ),
        };
        nodes.push(DemoNode::start(agency, root.join(agency.id), listen).await?);
    }
    println!("limes demo: {}, an agency's node on each side, partners over mutual TLS", cfg.region.title());
    for n in &nodes {
        let fingerprint = n.link.identity().fingerprint().to_hex();
        println!(
            "  {:<10} API {}, partners' port {}, certificate {}… (data in {})",
            n.label(),
            n.url,
            n.federation,
            fingerprint.get(..23).unwrap_or(&fingerprint),
            n.dir.display()
        );
        // An officer to sign in to the operations-centre page with (synthetic data only).
        let (store, access) = (n.node.state.store.clone(), n.node.state.access.options.clone());
        let created = tokio::task::spawn_blocking(move || {
            use limes_access::Role;
            let roles = [Role::Operator, Role::Analyst, Role::Supervisor];
            limes_server::auth::create_account(&store, &access, "officer", "demo officer", &roles)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("creating the demo officer: {e}"))?;
        match created {
            Some(password) => println!(
                "  {:<10} page {}/ui/ — sign in as officer, password {password}",
                n.label(),
                n.url.trim_end_matches('/')
            ),
            None => println!("  {:<10} page {}/ui/ — sign in as officer", n.label(), n.url.trim_end_matches('/')),
        }
    }
    // What `limes partner add <anchor> --send alert,released --receive alert,released` does
    // through the API, each node with the other's trust anchor: alerts, and the data released
    // on an approved request.
    let kinds: BTreeSet<MessageType> = [
        MessageType::new(limes_server::federation::ALERT)?,
        MessageType::new(limes_server::federation::requests::RELEASED)?,
        MessageType::new(limes_server::federation::incidents::INCIDENT)?,
    ]
    .into();
    for (i, n) in nodes.iter().enumerate() {
        let other = &nodes[1 - i];
        let anchor = other.link.anchor().with_context(|| format!("the trust anchor of {}", other.agency.id))?;
        n.link
            .add_partner(anchor, kinds.clone(), kinds.clone())
            .with_context(|| format!("adding {} as a partner of {}", other.agency.id, n.agency.id))?;
    }
    println!(
        "  {} and {} are partners: each sends and receives alerts and incidents",
        nodes[0].agency.id, nodes[1].agency.id
    );
    let agreement = put_agreement_in_force(&a.region, &nodes)?;
    println!(
        "  under agreement {} ({} flows; `limes agreement check docs/agreements/{}.toml` explains it)",
        agreement.id,
        agreement.flows.len(),
        example_for(&a.region).trim_end_matches(".toml")
    );

    // Each node gets its country's cameras and the whole hotlist.
    let t = Instant::now();
    let hotlist = {
        let (cfg, entries) = (cfg.clone(), a.hotlist);
        tokio::task::spawn_blocking(move || hotlist_bodies(&cfg, entries)).await??
    };
    let cameras = cfg.region.cameras();
    let setups = nodes.iter().map(|n| {
        let own: Vec<_> = cameras.iter().filter(|c| c.country == n.agency.country).cloned().collect();
        let hotlist = &hotlist;
        async move {
            register_cameras(&n.client, &n.url, &own).await?;
            let imported = import_hotlist(&n.client, &n.url, hotlist).await?;
            anyhow::Ok((format!("{} {} cameras on {}", own.len(), n.agency.country, n.agency.id), imported))
        }
    });
    let done = futures::future::try_join_all(setups).await?;
    let registered: Vec<&str> = done.iter().map(|(c, _)| c.as_str()).collect();
    println!(
        "registered {}; imported {} hotlist entries into each node in {:.1} s; sending {} reads/s for {} s, each to the node of its camera's country",
        registered.join(" and "),
        done[0].1,
        t.elapsed().as_secs_f64(),
        a.rate,
        a.duration
    );

    // The live alert streams, as the operators' screens on both sides would get them.
    let own_lines = Arc::new(Mutex::new(LinePace::new(a.alert_lines_per_second)));
    let crossed_lines = Arc::new(Mutex::new(LinePace::new(a.alert_lines_per_second)));
    let mut watches = Vec::with_capacity(nodes.len());
    for n in &nodes {
        watches.push(n.watch(own_lines.clone(), crossed_lines.clone()).await?);
    }

    let node_of: HashMap<CameraId, usize> = cameras
        .iter()
        .filter_map(|c| nodes.iter().position(|n| n.agency.country == c.country).map(|i| (c.id.clone(), i)))
        .collect();
    let targets: Vec<Target> = nodes.iter().map(|n| Target { client: n.client.clone(), url: n.url.clone() }).collect();
    let sim = Simulator::new(cfg)?;
    let route = |read: &limes_model::PlateRead| node_of.get(&read.camera).copied().unwrap_or(usize::MAX);
    let mut rep = send_routed(&targets, route, sim, Pace::from(&sim_args)).await?;
    settle(&nodes, Duration::from_secs(10)).await;
    for w in watches {
        w.stop();
    }

    let stats: Vec<StatsSnapshot> = nodes.iter().map(DemoNode::stats).collect();
    let total = |f: fn(&StatsSnapshot) -> u64| stats.iter().map(f).sum::<u64>();
    let mut own_latencies: Vec<u64> = nodes.iter().flat_map(|n| lock(&n.seen).own.clone()).collect();
    let secs = rep.elapsed.as_secs_f64();
    println!();
    println!("summary after {secs:.1} s:");
    println!("  reads sent       {} ({:.0}/s)", rep.sent, rep.sent as f64 / secs);
    println!("  reads stored     {}", total(|s| s.reads_accepted));
    println!("  reads refused    {}", total(|s| s.reads_rejected));
    println!("  hits (confirmed) {}", total(|s| s.alerts_confirmed));
    println!("  possible hits    {}", total(|s| s.alerts_possible));
    println!("  alerts           {}", total(|s| s.alerts_confirmed + s.alerts_possible));
    println!(
        "  alert latency    p50 {:.1} ms, p99 {:.1} ms (read arrived -> alert on the SSE stream; {} alerts seen)",
        quantile(&mut own_latencies, 0.5) as f64 / 1000.0,
        quantile(&mut own_latencies, 0.99) as f64 / 1000.0,
        own_latencies.len()
    );
    println!(
        "  request latency  p50 {:.1} ms, p99 {:.1} ms ({} requests, {} failed)",
        quantile(&mut rep.latencies_us, 0.5) as f64 / 1000.0,
        quantile(&mut rep.latencies_us, 0.99) as f64 / 1000.0,
        rep.latencies_us.len(),
        rep.failed_requests
    );
    print_per_node(&nodes, &stats);
    if let Some(reference) = hit_no_hit(&nodes).await {
        request_full_data(&nodes, reference).await;
    }
    if let Err(e) = cooperation(&nodes).await {
        println!("\n  incidents: {e:#}");
    }
    if a.keep {
        println!("\nthe nodes keep serving (the pages above); Ctrl-C ends the demo");
        let _ = tokio::signal::ctrl_c().await;
    }

    for n in nodes {
        n.node.stop().await?;
    }
    Ok(())
}

/// A token of `n` for incidents and patrols, declaring the purpose incidents are shared for.
fn cooperation_client(n: &DemoNode) -> anyhow::Result<(String, reqwest::Client)> {
    use limes_access::Operation::*;
    let state = &n.node.state;
    let o = &state.access.options;
    let scope = [IncidentsView, IncidentsManage, PatrolsView, PatrolsManage, PatrolsReport];
    let token =
        crate::node::token_for(&state.store, "demo-cooperation", &o.agency, &o.country, "public_security", &scope)?;
    Ok((token.clone(), crate::client::authed_client(Some(&token), [])?))
}

/// The second node raises an incident near the first's border camera and notifies it; the
/// first sees it on its board, acknowledges it, and sends the patrol unit the node suggests;
/// then both play a short joint exercise, marked EXERCISE on both sides.
async fn cooperation(nodes: &[DemoNode]) -> anyhow::Result<()> {
    use crate::client::send;
    let (home, raiser) = (&nodes[0], &nodes[1]);
    let (home_token, home_api) = cooperation_client(home)?;
    let (raiser_token, raiser_api) = cooperation_client(raiser)?;
    let camera = home
        .node
        .state
        .cameras
        .read()
        .ok()
        .and_then(|c| c.values().find_map(|c| c.position))
        .unwrap_or(limes_model::GeoPoint { lat: 47.95, lon: 26.07 });
    let t = Instant::now();
    let raised = send(raiser_api.post(format!("{}/api/v1/incidents", raiser.url)).json(&serde_json::json!({
        "type": "traffic-accident", "severity": "high",
        "title": "Lorry overturned at the crossing, fuel leaking",
        "position": {"lat": camera.lat + 0.01, "lon": camera.lon + 0.01},
        "notified": [home.agency.id]
    })))
    .await?;
    let id = raised["id"].as_str().context("an incident id")?.to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = home_api.get(format!("{}/api/v1/incidents/{id}", home.url)).send().await?;
        if r.status().is_success() {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "incident {id} did not reach {} within 10 s", home.agency.id);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "\n  incident: {} raised {id} (traffic accident, high) notifying {}; on its board in {:.0} ms",
        raiser.agency.id,
        home.agency.id,
        t.elapsed().as_secs_f64() * 1000.0
    );
    send(home_api.post(format!("{}/api/v1/incidents/{id}/ack", home.url))).await?;
    println!("    acknowledged by {} (the deadline for a high-severity incident is 15 min)", home.agency.id);

    // A patrol unit of the home agency reports where it is; the node suggests it; it is sent.
    let unit = format!("{}/PATROL-1", home.agency.id);
    send(home_api.post(format!("{}/api/v1/patrols/units", home.url)).json(&serde_json::json!({
        "id": unit, "callsign": "Patrol 1", "kind": "car", "vehicle": "marked estate car",
        "crew": {"size": 2, "roles": ["commander", "driver"]}
    })))
    .await?;
    send(home_api.post(format!("{}/api/v1/patrols/units/{unit}/positions", home.url)).json(&serde_json::json!({
        "time": chrono::Utc::now(), "lat": camera.lat - 0.02, "lon": camera.lon, "speed_kmh": 0
    })))
    .await?;
    let suggested = send(home_api.get(format!("{}/api/v1/patrols/suggestions?incident={id}", home.url))).await?;
    let first = &suggested["units"][0];
    println!(
        "    patrol: {} suggested, {:.1} km away, about {:.0} min",
        first["unit"].as_str().unwrap_or("?"),
        first["distance_m"].as_f64().unwrap_or(0.0) / 1000.0,
        first["eta_s"].as_f64().unwrap_or(0.0) / 60.0
    );
    send(home_api.post(format!("{}/api/v1/patrols/assignments", home.url)).json(&serde_json::json!({
        "unit": unit, "incident": id, "note": "close the lane, keep traffic back"
    })))
    .await?;
    println!("    {unit} assigned to {id}, en route (shared with partners where an agreement has patrol positions)");

    // A two-step drill through the same API, as `limes exercise run` plays a scenario file.
    let scenario = format!(
        r#"name = "Demo drill: fire at the crossing's parking"
[nodes.home]
url = "{home_url}"
token_env = "HOME"
[nodes.partner]
url = "{raiser_url}"
token_env = "PARTNER"
[[events]]
at = "0s"
node = "partner"
raise = {{ ref = "fire", type = "fire", severity = "medium", title = "DRILL: lorry fire in the parking", position = {{ lat = {lat}, lon = {lon} }}, notified = ["{home_agency}"] }}
[[events]]
at = "1s"
node = "home"
acknowledge = {{ incident = "fire" }}
[[events]]
at = "2s"
node = "partner"
status = {{ incident = "fire", status = "closed" }}
"#,
        home_url = home.url,
        raiser_url = raiser.url,
        lat = camera.lat,
        lon = camera.lon,
        home_agency = home.agency.id
    );
    let scenario = limes_cooperation::exercise::Scenario::parse(&scenario)?;
    println!("\n  exercise: a drill played through both nodes' APIs (`limes exercise run` plays scenario files)");
    let tokens = [("HOME".to_owned(), home_token), ("PARTNER".to_owned(), raiser_token)].into();
    crate::exercise::run_with(&scenario, &tokens, 4.0).await?;
    Ok(())
}

/// An investigator of the second node asks the first, hit/no-hit, whether it saw a plate one
/// of its cameras read and a plate nobody read, where the agreement allows it; the first node
/// learns neither. Returns the reference of the hit.
async fn hit_no_hit(nodes: &[DemoNode]) -> Option<String> {
    let (owner, asker) = (&nodes[0], &nodes[1]);
    let owner_id = AgencyId::new(owner.agency.id).ok()?;
    let purpose = "investigation";
    if !asker.link.hitquery_partners(purpose).contains(&owner_id) {
        println!("\n  hit/no-hit: the agreement lets {} ask {} nothing hit/no-hit", asker.agency.id, owner.agency.id);
        return None;
    }
    let now = chrono::Utc::now();
    let store = owner.node.state.store.clone();
    let seen =
        tokio::task::spawn_blocking(move || store.plates_seen(now - chrono::Duration::hours(1), now, false)).await;
    let seen = seen.ok().and_then(Result::ok).and_then(|p| p.into_iter().next()).map(|(p, _)| p)?;
    // The owner publishes the plates its cameras read (the node does it every minute; now here).
    let sightings: Vec<limes_link::Sighting> = {
        let store = owner.node.state.store.clone();
        let plates =
            tokio::task::spawn_blocking(move || store.plates_seen(now - chrono::Duration::days(1), now, false))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
        plates.into_iter().map(|(plate, reads)| limes_link::Sighting { plate, reads }).collect()
    };
    if let Err(e) = owner.link.publish_sightings(sightings, now).await {
        println!("\n  hit/no-hit: {} could not publish its sightings: {e}", owner.agency.id);
        return None;
    }
    let unseen = limes_plate::PlateText::new("ZZ99ZZZ").ok();
    let plates: Vec<limes_plate::PlateText> = std::iter::once(seen.clone()).chain(unseen).collect();
    let asking = limes_link::Asking {
        actor: limes_audit::Actor::User("demo-investigator".into()),
        role: "investigator".into(),
        purpose: purpose.into(),
        legal_basis: "synthetic data: limes demo".into(),
        case_ref: Some("DEMO/1".into()),
    };
    let t = Instant::now();
    match asker.link.ask_plates(&owner_id, &plates, &asking).await {
        Ok(answers) => {
            println!(
                "\n  hit/no-hit: {} asked {} about {} plates without revealing them ({:.1} ms):",
                asker.agency.id,
                owner.agency.id,
                plates.len(),
                t.elapsed().as_secs_f64() * 1000.0
            );
            let reference = answers.first().and_then(|a| a.exact).map(|r| r.to_string());
            for (plate, answer) in plates.iter().zip(answers) {
                let what = match (&answer.exact, answer.folded.is_empty()) {
                    (Some(r), _) => format!("hit, reference {r}"),
                    (None, false) => format!("look-alike hit, {} references", answer.folded.len()),
                    (None, true) => "no hit".into(),
                };
                println!("    {:<12} {what}", plate.as_str());
            }
            reference
        }
        Err(e) => {
            println!("\n  hit/no-hit: {e}");
            None
        }
    }
}

/// The asker's investigator requests the reads behind the hit; a supervisor of the owner
/// approves; the reads cross with the agreement's conditions.
async fn request_full_data(nodes: &[DemoNode], reference: String) {
    use limes_server::federation::requests;
    use limes_store::Direction;
    let (owner, asker) = (&nodes[0], &nodes[1]);
    let (Ok(owner_id), Ok(asker_id)) = (AgencyId::new(owner.agency.id), AgencyId::new(asker.agency.id)) else {
        return;
    };
    let t = Instant::now();
    let asked = requests::NewRequest {
        exercise: false,
        partner: owner_id.clone(),
        category: limes_agreement::Category::PlateReads,
        reference,
        clip: None,
        urgent: false,
        justification: "the vehicle of a burglary series near the crossing (synthetic)".into(),
        purpose: "investigation".into(),
        legal_basis: "synthetic data: limes demo".into(),
        case_ref: "DEMO/1".into(),
        asked_by: "user:demo-investigator".into(),
    };
    let made = match requests::make(&asker.node.state, asked).await {
        Ok(r) => r,
        Err(e) => {
            println!("\n  request: {e}");
            return;
        }
    };
    println!(
        "\n  request {}: {} asked {} for the reads behind the hit (case DEMO/1, deadline {})",
        &made.id[..8],
        asker.agency.id,
        owner.agency.id,
        made.deadline.format("%Y-%m-%d %H:%M UTC")
    );
    let poll = async |node: &DemoNode, direction: Direction, partner: &AgencyId, status: &str| {
        for _ in 0..100 {
            let (store, p, id) = (node.node.state.store.clone(), partner.to_string(), made.id.clone());
            if let Ok(Ok(Some(r))) = tokio::task::spawn_blocking(move || store.request(direction, &p, &id)).await
                && r.status == status
            {
                return Some(r);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    };
    if poll(owner, Direction::In, &asker_id, "pending").await.is_none() {
        println!("    it did not reach {}", owner.agency.id);
        return;
    }
    println!("    pending at {}: a supervisor there decides", owner.agency.id);
    let by = "user:demo-supervisor (supervisor)";
    let reason = Some("the case is confirmed".to_owned());
    if let Err(e) = requests::decide(&owner.node.state, &asker_id, &made.id, true, by, reason).await {
        println!("    not decided: {e}");
        return;
    }
    let Some(answered) = poll(asker, Direction::Out, &owner_id, "answered").await else {
        println!("    no answer reached {}", asker.agency.id);
        return;
    };
    let released: Option<requests::Released> = answered.released.as_deref().and_then(|t| serde_json::from_str(t).ok());
    if let Some(r) = released {
        println!(
            "    approved by {by}; {} reads released to {} in {:.1} ms, under {} ({} {}): for {}, kept {} days, onward transfer {:?}",
            r.reads.len(),
            asker.agency.id,
            t.elapsed().as_secs_f64() * 1000.0,
            r.conditions.agreement,
            r.conditions.instrument,
            r.conditions.article,
            r.conditions.purposes.join(", "),
            r.conditions.retention_days,
            r.conditions.onward_transfer
        );
    }
}

/// Waits, at most `limit`, until every alert raised has crossed to the partner and every alert
/// has reached the streams: the queues are empty and the streams showed what the nodes counted.
async fn settle(nodes: &[DemoNode], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let stats: Vec<StatsSnapshot> = nodes.iter().map(DemoNode::stats).collect();
        let settled = nodes.iter().enumerate().all(|(i, n)| {
            let (mine, partner) = (&stats[i], &stats[1 - i]);
            let seen = lock(&n.seen);
            // What the agreement keeps here never crosses.
            let shared = raised(mine).saturating_sub(n.link.stats().denied_by_agreement.load(RELAXED));
            n.link.queued() == 0
                && partner.partner_alerts >= shared
                && (seen.own.len() + seen.crossed.len()) as u64 >= raised(mine) + mine.partner_alerts
        });
        if settled || Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn raised(s: &StatsSnapshot) -> u64 {
    s.alerts_confirmed + s.alerts_possible
}

/// Per node: what it stored and raised, what its link did, what crossed to it.
fn print_per_node(nodes: &[DemoNode], stats: &[StatsSnapshot]) {
    let row = |label: &str, values: Vec<String>, note: &str| {
        let cells: String = values.iter().map(|v| format!("{v:>20}")).collect();
        println!("  {label:<22}{cells}{note}");
    };
    let each = |f: &dyn Fn(usize) -> u64| (0..nodes.len()).map(|i| f(i).to_string()).collect::<Vec<_>>();
    println!();
    row("per node", nodes.iter().map(DemoNode::label).collect(), "");
    row("reads of its cameras", each(&|i| stats[i].reads_accepted), "");
    row("alerts raised", each(&|i| raised(&stats[i])), "");
    row(
        "kept by the agreement",
        each(&|i| nodes[i].link.stats().denied_by_agreement.load(RELAXED)),
        "  (alerts the agreement does not let cross)",
    );
    row("messages sent", each(&|i| nodes[i].link.stats().sent.load(RELAXED)), "  (acknowledged by the partner)");
    row("messages received", each(&|i| nodes[i].link.stats().received.load(RELAXED)), "");
    row(
        "messages rejected",
        each(&|i| nodes[i].link.stats().rejected.load(RELAXED)),
        "  (refused by this node's checks)",
    );
    row("still queued", each(&|i| nodes[i].link.queued()), "");
    row("alerts that crossed", each(&|i| stats[i].partner_alerts), "  (received from the partner)");
    let crossing = |q: f64| {
        nodes
            .iter()
            .map(|n| {
                let mut l = lock(&n.seen).crossed.clone();
                if l.is_empty() { "-".to_owned() } else { format!("{:.1} ms", quantile(&mut l, q) as f64 / 1000.0) }
            })
            .collect::<Vec<_>>()
    };
    row("crossing latency p50", crossing(0.5), "  (read arrived at the partner -> alert on this node's SSE stream)");
    row("crossing latency p99", crossing(0.99), "");
}

const RELAXED: std::sync::atomic::Ordering = std::sync::atomic::Ordering::Relaxed;
