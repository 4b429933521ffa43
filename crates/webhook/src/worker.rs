//! One task per webhook: read the alerts after its cursor, POST each in order until the
//! receiver answers 2xx, advance the cursor, sleep until the next alert.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use limes_server::{AlertEvent, AppState, WebhookStats};
use limes_store::{Store, StoreError};
use reqwest::header::CONTENT_TYPE;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::{ConfigError, Webhook, WebhookConfig};
use crate::signature::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// Alerts read from the store at a time.
const PAGE: usize = 256;
/// The cursor is saved at least this often while a backlog drains, and whenever it is drained.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// With no alert broadcast, the store is looked at again after this long anyway.
const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// A webhook delivering in the background; dropping it stops the delivery too.
#[derive(Debug)]
pub struct Running {
    name: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops delivering and saves the position. An attempt under way is abandoned: its alert
    /// is delivered again at the next start (deliveries are at least once).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(webhook = %self.name, error = %e, "webhook task failed");
        }
    }
}

/// Why a webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its configuration is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built (TLS setup).
    #[error("webhook {name:?}: building the HTTP client: {detail}")]
    Client { name: String, detail: String },
    /// Its saved position could not be read or, for a new webhook, written.
    #[error("webhook {name:?}: reading its position in the store: {source}")]
    Store { name: String, source: StoreError },
    /// The task reading the position failed.
    #[error("webhook {name:?}: {detail}")]
    Task { name: String, detail: String },
}

/// Starts delivering a webhook's alerts: those after its saved position, or, the first time a
/// webhook of this name runs, those raised after this call (the position is saved before it
/// returns). Registers its counters with the node's `/api/v1/stats`. The task only reads the
/// store and saves its cursor (at most once a second); ingest never waits for it.
pub async fn spawn(config: &WebhookConfig, state: &AppState) -> Result<Running, StartError> {
    let webhook = config.build()?;
    if webhook.url.scheme() == "http" && !is_loopback(&webhook.url) {
        tracing::warn!(webhook = %webhook.name, "webhook sends alerts over plain http to another host; use https");
    }
    let client = reqwest::Client::builder()
        .timeout(webhook.timeout)
        // A redirect would send the signed alert somewhere the configuration does not name.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("limes/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| StartError::Client { name: webhook.name.clone(), detail: describe(e) })?;
    let (store, name) = (state.store.clone(), webhook.name.clone());
    let cursor = tokio::task::spawn_blocking(move || start_cursor(&store, &name))
        .await
        .map_err(|e| StartError::Task { name: webhook.name.clone(), detail: e.to_string() })?
        .map_err(|source| StartError::Store { name: webhook.name.clone(), source })?;
    let stats = Arc::new(WebhookStats::new(&webhook.name));
    stats.cursor.store(cursor, Ordering::Relaxed);
    state.stats.webhooks.write().unwrap_or_else(|e| e.into_inner()).push(stats.clone());
    let (stop, stopped) = watch::channel(false);
    let name = webhook.name.clone();
    let worker = Worker {
        webhook,
        client,
        store: state.store.clone(),
        alerts: state.alerts.clone(),
        stats,
        restricted: state.restricted.clone(),
        node: state.clone(),
    };
    let task = tokio::spawn(worker.run(cursor, stopped));
    Ok(Running { name, stop, task })
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

struct Worker {
    webhook: Webhook,
    client: reqwest::Client,
    store: Store,
    /// Held for `subscribe` (a wake-up per alert); never received from while delivering.
    alerts: broadcast::Sender<AlertEvent>,
    stats: Arc<WebhookStats>,
    /// The node's restricted plates: their alerts never leave it (counted as filtered).
    restricted: Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
    /// The node, for its audit log: every delivered alert is a transfer (LED Art. 25).
    node: AppState,
}

/// The end of a wait: the time passed, or the webhook is being stopped.
#[derive(PartialEq, Eq)]
enum Waited {
    Elapsed,
    Stopped,
}

impl Worker {
    async fn run(self, mut cursor: i64, mut stopped: watch::Receiver<bool>) {
        let name = self.webhook.name.clone();
        tracing::info!(webhook = %name, after_alert = cursor, "webhook delivering");
        let mut saved = cursor;
        let mut saved_at = Instant::now();
        let mut failures = 0u32;
        'outer: loop {
            // Subscribe before looking, so that an alert committed after the look still wakes
            // the wait below. Dropped while delivering, so a slow receiver holds no broadcast.
            let mut wake = self.alerts.subscribe();
            let page = match self.blocking(move |s| s.alerts_after(cursor, PAGE)).await {
                Ok(page) => {
                    failures = 0;
                    page
                }
                Err(e) => {
                    tracing::warn!(webhook = %name, error = %e, "reading alerts failed; will retry");
                    failures += 1;
                    if pause(&mut stopped, backoff(&self.webhook, failures - 1)).await == Waited::Stopped {
                        break;
                    }
                    continue;
                }
            };
            if page.is_empty() {
                if saved != cursor && self.save(cursor).await {
                    (saved, saved_at) = (cursor, Instant::now());
                }
                tokio::select! {
                    _ = wake.recv() => {}
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(IDLE_RECHECK) => {}
                }
                continue;
            }
            drop(wake);
            for alert in page {
                let restricted =
                    self.restricted.read().unwrap_or_else(|e| e.into_inner()).contains(alert.plate.as_str());
                // An alert a partner agency sent is not passed on: onward transfer is the
                // partner's to allow (agreements), not a webhook's.
                if alert.origin.is_none() && self.webhook.wants(&alert) && !restricted {
                    let body = match serde_json::to_vec(&alert) {
                        Ok(body) => body,
                        Err(e) => {
                            tracing::error!(webhook = %name, alert = alert.id, error = %e, "alert not serialisable; skipped");
                            continue;
                        }
                    };
                    loop {
                        let outcome = tokio::select! {
                            outcome = self.deliver(alert.id, &body) => outcome,
                            _ = stopped.changed() => break 'outer,
                        };
                        match outcome {
                            Ok(()) => {
                                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                                let recipient = serde_json::json!({ "recipient": self.webhook.url.as_str() });
                                self.node.audit_transfer(&format!("webhook:{name}"), alert.id, recipient).await;
                                *self.stats.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
                                failures = 0;
                                break;
                            }
                            Err(error) => {
                                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                                let delay = backoff(&self.webhook, failures);
                                failures += 1;
                                tracing::warn!(webhook = %name, alert = alert.id, %error, retry_in_ms = delay.as_millis() as u64,
                                               "webhook delivery failed");
                                *self.stats.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
                                if pause(&mut stopped, delay).await == Waited::Stopped {
                                    break 'outer;
                                }
                            }
                        }
                    }
                } else {
                    self.stats.filtered.fetch_add(1, Ordering::Relaxed);
                }
                cursor = alert.id;
                self.stats.cursor.store(cursor, Ordering::Relaxed);
                if saved_at.elapsed() >= SAVE_EVERY && self.save(cursor).await {
                    (saved, saved_at) = (cursor, Instant::now());
                }
            }
        }
        if saved != cursor {
            self.save(cursor).await;
        }
        tracing::info!(webhook = %name, after_alert = cursor, "webhook stopped");
    }

    /// Saves the cursor; on failure the position stays in memory and is saved later.
    async fn save(&self, cursor: i64) -> bool {
        let name = self.webhook.name.clone();
        match self.blocking(move |s| s.set_webhook_cursor(&name, cursor)).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(webhook = %self.webhook.name, error = %e, "saving the webhook's position failed; will retry");
                false
            }
        }
    }

    /// One attempt: POST the alert, signed; Ok on a 2xx answer.
    async fn deliver(&self, alert_id: i64, body: &[u8]) -> Result<(), String> {
        // A fresh timestamp on every attempt, so a retry hours later still passes a
        // receiver's replay window; the delivery id stays the alert's.
        let timestamp = unix_now();
        // agreement check and audit entry: when policy and audit exist (ARCHITECTURE, "every
        // flow leaving a node"), each delivery passes them here.
        let response = self
            .client
            .post(self.webhook.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, "alert")
            .header(DELIVERY_HEADER, alert_id.to_string())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(&self.webhook.secret, timestamp, body))
            .body(body.to_vec())
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(format!("the receiver answered {status}")) }
    }

    /// Runs a store call on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The saved position, or for a webhook that never ran, the newest alert now (saved).
fn start_cursor(store: &Store, name: &str) -> Result<i64, StoreError> {
    match store.webhook_cursor(name)? {
        Some(cursor) => Ok(cursor),
        None => {
            let newest = store.newest_alert_id()?;
            store.set_webhook_cursor(name, newest)?;
            Ok(newest)
        }
    }
}

/// Sleeps, unless the webhook is stopped first (or its handle dropped).
async fn pause(stopped: &mut watch::Receiver<bool>, delay: Duration) -> Waited {
    tokio::select! {
        _ = tokio::time::sleep(delay) => Waited::Elapsed,
        _ = stopped.changed() => Waited::Stopped,
    }
}

/// The pause after `failures` failed attempts in a row (0 for the first): the initial pause
/// doubled per failure, capped, then drawn between half of that and all of it, so that
/// webhooks failing together do not retry in step.
pub(crate) fn backoff(w: &Webhook, failures: u32) -> Duration {
    let ceiling = w.retry_initial.saturating_mul(1u32 << failures.min(24)).min(w.retry_max);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::random_range(ms / 2..=ms))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// An HTTP client error with its causes, without the URL (which may carry a token).
fn describe(e: reqwest::Error) -> String {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if timeout { format!("no answer in time ({text})") } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_initial_pause_to_the_cap_with_jitter() {
        let config: WebhookConfig = serde_json::from_value(serde_json::json!({
            "name": "w", "url": "http://127.0.0.1:1/", "secret": "0123456789abcdef",
            "retry_initial_ms": 1000, "retry_max_ms": 300000
        }))
        .unwrap();
        let w = config.build().unwrap();
        for (failures, low, high) in [
            (0, 500, 1000),
            (1, 1000, 2000),
            (2, 2000, 4000),
            (8, 128_000, 256_000),
            (9, 150_000, 300_000),
            (60, 150_000, 300_000),
        ] {
            let mut seen = std::collections::HashSet::new();
            for _ in 0..200 {
                let d = backoff(&w, failures).as_millis() as u64;
                assert!((low..=high).contains(&d), "{failures} failures: {d} ms not in {low}..={high}");
                seen.insert(d);
            }
            assert!(seen.len() > 10, "{failures} failures: the pause is drawn, not fixed");
        }
    }
}
