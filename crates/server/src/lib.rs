//! The node's HTTP API (v1): plate reads in, alerts out, cameras, hotlists,
//! search. It is the edge where wire formats (`wire`) meet the domain: it
//! parses and validates requests, normalises plates (`limes-plate`), matches
//! them against the hotlist index (`limes-hotlist`), writes reads and alerts
//! durably (`limes-store`) and only then acknowledges and pushes alerts to the
//! Server-Sent Events stream.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::path::Path::new("/var/lib/limes");
//! let store = limes_store::Store::open(dir, Default::default())?;
//! let state = limes_server::AppState::load(store, limes_server::ServerOptions::default())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, limes_server::router(state)).await?;
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::Router;
use limes_hotlist::HotlistIndex;
use limes_model::{Camera, CameraId};
use limes_store::Store;
use serde::Serialize;
use tokio::sync::broadcast;

mod error;
pub mod import;
mod ingest;
mod routes;
pub mod wire;

pub use error::ApiError;
pub use ingest::{IngestRecord, ingest_reads};

/// Limits and tuning of the API.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The largest JSON body accepted (single read, batch, hotlist or camera import).
    pub max_body_bytes: usize,
    /// The longest line of an NDJSON stream.
    pub max_line_bytes: usize,
    /// NDJSON streams are committed in chunks of this many reads.
    pub stream_chunk: usize,
    /// How many alerts a slow SSE subscriber may fall behind before it is told it lagged.
    pub alert_buffer: usize,
    /// When a hit may be confirmed.
    pub match_policy: limes_hotlist::MatchPolicy,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 << 20,
            max_line_bytes: 64 << 10,
            stream_chunk: 4096,
            alert_buffer: 65_536,
            match_policy: limes_hotlist::MatchPolicy::default(),
        }
    }
}

/// Counters shown by `/api/v1/stats` and the demo's summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub reads_accepted: AtomicU64,
    pub reads_rejected: AtomicU64,
    pub batches: AtomicU64,
    pub alerts_confirmed: AtomicU64,
    pub alerts_possible: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    pub reads_accepted: u64,
    pub reads_rejected: u64,
    pub batches: u64,
    pub alerts_confirmed: u64,
    pub alerts_possible: u64,
    pub hotlist_entries: u64,
    pub cameras: u64,
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub hotlist: Arc<RwLock<HotlistIndex>>,
    pub cameras: Arc<RwLock<HashMap<CameraId, Camera>>>,
    /// Each alert, serialised once, fanned out to every SSE subscriber.
    pub alerts: broadcast::Sender<AlertEvent>,
    pub stats: Arc<Stats>,
    pub options: ServerOptions,
}

/// An alert as pushed on the stream: its id and its JSON.
#[derive(Debug, Clone)]
pub struct AlertEvent {
    pub id: i64,
    pub json: Arc<str>,
}

impl AppState {
    /// Loads cameras and the hotlist from the store and builds the matching index.
    pub fn load(store: Store, options: ServerOptions) -> Result<Self, limes_store::StoreError> {
        let cameras = store.cameras()?.into_iter().map(|c| (c.id.clone(), c)).collect();
        let index = HotlistIndex::from_entries(store.hotlist()?);
        let (alerts, _) = broadcast::channel(options.alert_buffer.max(16));
        Ok(Self {
            store,
            hotlist: Arc::new(RwLock::new(index)),
            cameras: Arc::new(RwLock::new(cameras)),
            alerts,
            stats: Arc::new(Stats::default()),
            options,
        })
    }

    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.stats;
        StatsSnapshot {
            reads_accepted: s.reads_accepted.load(Ordering::Relaxed),
            reads_rejected: s.reads_rejected.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            alerts_confirmed: s.alerts_confirmed.load(Ordering::Relaxed),
            alerts_possible: s.alerts_possible.load(Ordering::Relaxed),
            hotlist_entries: read_lock(&self.hotlist).len() as u64,
            cameras: read_lock(&self.cameras).len() as u64,
        }
    }
}

/// Takes a read lock, recovering from a panic in another holder (the data stay consistent:
/// every writer updates the structures in one step).
pub(crate) fn read_lock<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write_lock<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Deletes reads older than `retention_days` once an hour, until the process ends.
pub async fn retention_task(store: Store, retention_days: u32) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.delete_reads_before(cutoff)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(deleted = n, %cutoff, "retention deleted old reads"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "retention failed; will retry"),
            Err(e) => tracing::error!(error = %e, "retention task panicked; will retry"),
        }
    }
}
