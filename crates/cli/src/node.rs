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

/// `GET /api/v1/mqtt`: the MQTT side's counters, per source.
fn mqtt_routes(stats: Arc<MqttStats>) -> axum::Router {
    axum::Router::new().route(
        "/api/v1/mqtt",
        axum::routing::get(move || {
            let stats = stats.clone();
            async move {
                axum::Json(serde_json::json!({
                    "messages": stats.messages.load(Ordering::Relaxed),
                    "connections_lost": stats.connections_lost.load(Ordering::Relaxed),
                    "last_connection_error": *stats.last_connection_error.lock().unwrap_or_else(|e| e.into_inner()),
                    "alerts_published": stats.alerts_published.load(Ordering::Relaxed),
                    "sources": stats.sources(),
                }))
            }
        }),
    )
}

/// A node running inside this process.
#[derive(Debug)]
pub struct Node {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    retention: JoinHandle<()>,
    /// What the MQTT side has done (all zero without `[mqtt]`).
    pub mqtt_stats: Arc<MqttStats>,
    mqtt: Option<JoinHandle<()>>,
    webhooks: Vec<limes_webhook::Running>,
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
        let state = tokio::task::spawn_blocking(move || AppState::load(store, options))
            .await?
            .context("loading cameras and hotlist")?;
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
        let app = limes_server::router(state.clone()).merge(mqtt_routes(mqtt_stats.clone()));
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        let retention = tokio::spawn(limes_server::retention_task(state.store.clone(), retention));
        Ok(Self { addr, state, shutdown: Some(tx), server, retention, webhooks: running, mqtt_stats, mqtt: None })
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

    /// Starts the node a config file describes.
    pub async fn from_config(cfg: &Config) -> anyhow::Result<Self> {
        let options = ServerOptions {
            max_body_bytes: cfg.api.max_body_bytes,
            match_policy: cfg.matching.policy(),
            images: cfg.images.limits(),
            ..ServerOptions::default()
        };
        let retention =
            Retention { reads_days: cfg.retention.reads_days, detections_days: cfg.retention.detections_days };
        let mut node = Self::start(&cfg.store.data_dir, cfg.api.listen, options, retention, &cfg.webhooks).await?;
        if let Some(mqtt) = &cfg.mqtt {
            node.start_mqtt(mqtt.clone())?;
        }
        Ok(node)
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
        if let Some(mqtt) = self.mqtt.take() {
            mqtt.abort();
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
