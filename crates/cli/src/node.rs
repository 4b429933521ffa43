//! Running a node: the store, the API server and its background tasks.

use std::net::SocketAddr;
use std::path::Path;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use limes_mqtt::{MqttConfig, MqttStats};
use limes_server::{AppState, Retention, ServerOptions};
use limes_store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::Config;
use limes_audit::{AuditLog, AuditOptions};

/// The file, in the data directory, holding the first administrator's password.
pub const INITIAL_ADMIN_PASSWORD: &str = "initial-admin-password";

/// Writes `text` to a new file only its owner may read.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    f.sync_all().with_context(|| format!("syncing {}", path.display()))?;
    Ok(())
}

/// `GET /api/v1/mqtt`: the MQTT side's counters, per source.
fn mqtt_routes(state: AppState, stats: Arc<MqttStats>) -> axum::Router {
    use limes_server::Caller;
    axum::Router::new()
        .route(
            "/api/v1/mqtt",
            axum::routing::get(move |axum::extract::State(state): axum::extract::State<AppState>, caller: Caller| {
                let stats = stats.clone();
                async move {
                    let object = limes_audit::Object::new("stats", "mqtt");
                    state.authorize(&caller, limes_access::Operation::StatsView, &state.access.node(), object).await?;
                    Ok::<_, limes_server::ApiError>(axum::Json(serde_json::json!({
                    "messages": stats.messages.load(Ordering::Relaxed),
                    "connections_lost": stats.connections_lost.load(Ordering::Relaxed),
                    "last_connection_error": *stats.last_connection_error.lock().unwrap_or_else(|e| e.into_inner()),
                    "alerts_published": stats.alerts_published.load(Ordering::Relaxed),
                    "sources": stats.sources(),
                    })))
                }
            }),
        )
        .with_state(state)
}

/// A node running inside this process.
#[derive(Debug)]
pub struct Node {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    retention: JoinHandle<()>,
    /// Escalates incidents partners did not acknowledge in time.
    escalation: JoinHandle<()>,
    /// What the MQTT side has done (all zero without `[mqtt]`).
    pub mqtt_stats: Arc<MqttStats>,
    mqtt: Option<JoinHandle<()>>,
    webhooks: Vec<limes_webhook::Running>,
    /// The partners' port and delivery loops, with `[federation]`.
    pub federation: Option<limes_link::Running>,
    /// The camera streams recorded, with `[[video.streams]]`.
    recording: Option<limes_server::video::Recording>,
}

impl Node {
    /// Opens the store in `data_dir`, binds `listen` and serves the API.
    pub async fn start(
        data_dir: &Path,
        listen: SocketAddr,
        options: ServerOptions,
        retention: Retention,
        webhooks: &[limes_webhook::WebhookConfig],
    ) -> anyhow::Result<Self> {
        let dir = data_dir.to_owned();
        let store = tokio::task::spawn_blocking(move || Store::open(&dir, StoreOptions::default()))
            .await?
            .with_context(|| format!("opening the store in {}", data_dir.display()))?;
        // Image files left by a crash (between a deletion's commit and its unlink, or a file
        // written whose row never committed): removed in the background, file by file under
        // the image's lock, so the node serves meanwhile.
        let sweeper = store.clone();
        tokio::task::spawn_blocking(move || match sweeper.sweep_orphan_images() {
            Ok(r) if r.removed > 0 => tracing::info!(files = r.files, removed = r.removed, "swept orphan image files"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeping orphan image files failed; the next start retries"),
        });
        let access = options.access.clone();
        let first_admin = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || limes_server::auth::ensure_first_admin(&store, &access)).await?
        }
        .map_err(|e| anyhow::anyhow!("creating the first administrator: {e}"))?;
        if let Some(password) = first_admin {
            let path = data_dir.join(INITIAL_ADMIN_PASSWORD);
            write_private(&path, &format!("{password}\n"))?;
            tracing::warn!(
                "created the administrator account {:?}; its password is in {} (change it, then delete the file)",
                limes_server::auth::FIRST_ADMIN,
                path.display()
            );
        }
        let dir = data_dir.to_owned();
        let origin = format!("limes/{}/audit", options.access.agency);
        let audit = tokio::task::spawn_blocking(move || AuditLog::open(&dir, AuditOptions::new(origin)))
            .await?
            .with_context(|| format!("opening the audit log in {}", data_dir.display()))?;
        let oidc = options.access.oidc.clone();
        let state = tokio::task::spawn_blocking(move || AppState::load(store, options))
            .await?
            .context("loading cameras and hotlist")?
            .with_audit(audit);
        limes_server::identity::discover(state.identity.clone(), oidc);
        state.audit_collection_gap().await.map_err(|e| anyhow::anyhow!("closing the audit gap: {e}"))?;
        // Before the API serves: a new webhook's starting point (saved by spawn) then precedes
        // every alert raised from now on.
        let mut running = Vec::with_capacity(webhooks.len());
        for w in webhooks {
            running.push(limes_webhook::spawn(w, &state).await.context("starting webhooks")?);
        }
        let listener = TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let mqtt_stats = Arc::new(MqttStats::default());
        // The API, and the operations-centre page at /ui/ (limes-web: embedded, same origin).
        let app = limes_server::router(state.clone())
            .merge(mqtt_routes(state.clone(), mqtt_stats.clone()))
            .merge(limes_web::router());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        let retention = tokio::spawn(limes_server::retention_task(state.clone(), retention));
        let escalation = tokio::spawn(limes_server::incidents::escalate(state.clone()));
        Ok(Self {
            addr,
            state,
            shutdown: Some(tx),
            server,
            retention,
            escalation,
            webhooks: running,
            mqtt_stats,
            mqtt: None,
            federation: None,
            recording: None,
        })
    }

    /// Starts taking camera analytics from an MQTT broker (and publishing alerts to it).
    /// The broker need not be up: the client keeps reconnecting.
    pub fn start_mqtt(&mut self, cfg: MqttConfig) -> anyhow::Result<()> {
        cfg.validate().map_err(|e| anyhow::anyhow!(e))?;
        let (state, stats) = (self.state.clone(), self.mqtt_stats.clone());
        self.mqtt = Some(tokio::spawn(async move {
            if let Err(e) = limes_mqtt::run(state, cfg, stats).await {
                tracing::error!(error = %e, "mqtt stopped");
            }
        }));
        Ok(())
    }

    /// Opens the links to partner agencies (`<data_dir>/federation`), binds the partners'
    /// port, and starts sharing alerts and applying what partners send.
    pub async fn start_federation(&mut self, data_dir: &Path, cfg: limes_link::LinkConfig) -> anyhow::Result<()> {
        let dir = data_dir.join("federation");
        let audit = self.state.audit.clone();
        let link = tokio::task::spawn_blocking(move || limes_link::open(&dir, cfg, audit))
            .await?
            .context("opening the federation links")?;
        let running = link.start().await.context("starting the partners' port")?;
        self.state.start_federation(link);
        self.federation = Some(running);
        Ok(())
    }

    /// Recovers the recordings, then records every stream `options` names and keeps them
    /// within its retention.
    pub async fn start_video(&mut self, options: limes_server::video::VideoOptions) -> anyhow::Result<()> {
        let recording = limes_server::video::start(&self.state, options).await.context("starting the recorders")?;
        self.recording = Some(recording);
        Ok(())
    }

    /// Starts the node a config file describes.
    pub async fn from_config(cfg: &Config) -> anyhow::Result<Self> {
        // The MQTT broker's TLS files, read before anything starts: a bad one stops the node
        // here, named, rather than leaving it up without its cameras.
        if let Some(tls) = cfg.mqtt.as_ref().and_then(|m| m.tls.as_ref()) {
            tls.client_config().context("[mqtt.tls]")?;
        }
        let options = ServerOptions {
            max_body_bytes: cfg.api.max_body_bytes,
            match_policy: cfg.matching.policy(),
            images: cfg.images.limits(),
            access: cfg.access_options()?,
            incidents: cfg.incidents.options()?,
            patrols: cfg.patrols.options()?,
            triage_dir: Some(cfg.triage.dir.clone().unwrap_or_else(|| cfg.store.data_dir.join("triage"))),
            ..ServerOptions::default()
        };
        // Before anything starts: a stream named wrong stops the node here.
        let video = cfg.video.options()?;
        let analysis = cfg.analysis.options(&cfg.store.data_dir)?;
        let retention = Retention {
            reads_days: cfg.retention.reads_days,
            detections_days: cfg.retention.detections_days,
            reads_days_by_country: cfg.retention.reads_days_by_country.clone(),
            detections_days_by_country: cfg.retention.detections_days_by_country.clone(),
        };
        let mut node = Self::start(&cfg.store.data_dir, cfg.api.listen, options, retention, &cfg.webhooks).await?;
        node.state.analysis.configure(analysis);
        if let Some(mqtt) = &cfg.mqtt {
            node.start_mqtt(mqtt.clone())?;
        }
        if let Some(link) = cfg.link_config()? {
            node.start_federation(&cfg.store.data_dir, link).await?;
        }
        node.start_video(video).await?;
        // After the recorders: live analysis takes its frames from their feeds.
        limes_server::analysis::start_live(&node.state);
        Ok(node)
    }

    /// Creates an API token for an integration running beside the node (the demo, the
    /// simulator): see [`integration_token`].
    pub fn integration_token(&self, name: &str) -> anyhow::Result<String> {
        let access = &self.state.access.options;
        integration_token(&self.state.store, name, &access.agency, &access.country)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests and waits for those under way.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.retention.abort();
        self.escalation.abort();
        if let Some(mqtt) = self.mqtt.take() {
            mqtt.abort();
        }
        // Each open segment closed: fsynced and indexed.
        if let Some(recording) = self.recording.take() {
            recording.stop().await;
        }
        self.server.await??;
        // After the last request: every alert raised is in the store for the next start.
        for w in self.webhooks.drain(..) {
            w.stop().await;
        }
        Ok(())
    }

    /// Serves until the server fails or the process gets SIGINT/SIGTERM.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; shutting down"),
            _ = term.recv() => tracing::info!("terminated; shutting down"),
        }
        self.stop().await
    }
}

/// Creates, in `store`, an API token for an integration running beside a node (the demo, the
/// benchmarks, the simulator): collection, cameras, hotlist and live alerts, for detection on
/// synthetic data. Returns its bearer value.
pub fn integration_token(store: &Store, name: &str, agency: &str, country: &str) -> anyhow::Result<String> {
    use limes_access::Operation::*;
    let scope = [
        ReadsIngest,
        ImagesUpload,
        DetectionsIngest,
        CamerasView,
        CamerasManage,
        HotlistManage,
        HotlistView,
        AlertsLive,
        AlertsList,
        StatsView,
    ];
    token_for(store, name, agency, country, "detection", &scope)
}

/// An API token of `agency` named `name` holding `scope`, declaring `purpose` (synthetic data:
/// the demo and the benchmarks).
pub fn token_for(
    store: &Store,
    name: &str,
    agency: &str,
    country: &str,
    purpose: &str,
    scope: &[limes_access::Operation],
) -> anyhow::Result<String> {
    let purpose = limes_access::Purpose {
        purpose: purpose.into(),
        legal_basis: "synthetic data: limes demo and benchmarks".into(),
        case_ref: None,
    };
    let spec = limes_server::auth::TokenSpec {
        name: name.to_owned(),
        scope: scope.iter().copied().collect(),
        purpose: Some(purpose),
        agency: agency.to_owned(),
        country: country.to_owned(),
        expires_us: None,
    };
    let (row, bearer) = limes_server::auth::mint_token(spec, "node").map_err(|e| anyhow::anyhow!(e))?;
    store.create_token(&row)?;
    Ok(bearer)
}
