//! Sending: signing and queueing, and one delivery loop per partner.
//!
//! A loop sends the partner's oldest queued messages as one signed batch, one batch at a
//! time, so that a stream's messages arrive in order. Acknowledged messages leave the queue;
//! refused ones are set aside with the partner's reason; everything else is sent again after
//! an exponential backoff. The loop sleeps until something is queued.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use limes_agreement::Act;
use limes_audit::{Action, Object, Outcome as AuditOutcome};
use limes_federation::{Receipt, Refusal, Status, backoff};
use limes_model::AgencyId;
use tokio::sync::Notify;

use crate::db::{Outgoing, Queued};
use crate::{Inner, LinkError, lock, tls};

pub(crate) fn enqueue(
    inner: &Inner,
    items: Vec<Outgoing>,
) -> Result<Vec<Result<limes_federation::MessageId, LinkError>>, LinkError> {
    let epochs: HashMap<AgencyId, String> = inner
        .partners
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .filter(|p| p.revoked.is_none())
        .map(|p| (p.agency.clone(), p.epoch.clone()))
        .collect();
    // Backpressure: a partner whose queue is full takes nothing more until it drains.
    let mut results: Vec<Option<Result<limes_federation::MessageId, LinkError>>> = Vec::with_capacity(items.len());
    let mut admitted = Vec::with_capacity(items.len());
    let now = Utc::now();
    let mut denials = Vec::new();
    {
        let mut queued = lock(&inner.queued);
        for item in items {
            // The agreement first: a message it does not allow is never signed or stored.
            if let Err(e) = agreement_allows(inner, &item, now) {
                inner.stats.denied_by_agreement.fetch_add(1, Ordering::Relaxed);
                denials.push(inner.audit_event(
                    inner.config.agency.as_str(),
                    Action::Denied,
                    Object::new("message", item.about.as_deref().unwrap_or(item.kind.as_str())),
                    AuditOutcome::Denied,
                    serde_json::json!({
                        "partner": item.partner,
                        "type": item.kind,
                        "labels": item.labels,
                        "error": e.to_string(),
                    }),
                ));
                results.push(Some(Err(e)));
                continue;
            }
            let n = queued.entry(item.partner.clone()).or_default();
            if *n >= inner.config.max_queued_per_partner {
                inner.stats.not_queued.fetch_add(1, Ordering::Relaxed);
                results.push(Some(Err(LinkError::QueueFull { partner: item.partner, queued: *n })));
            } else {
                *n += 1;
                results.push(None);
                admitted.push(item);
            }
        }
    }
    if let (Some(audit), false) = (&inner.audit, denials.is_empty()) {
        // Logged without waiting: the caller learns of the refusal from the result.
        if let Err(e) = audit.submit(denials) {
            tracing::error!(error = %e, "could not log messages the agreements refused");
        }
    }
    let partners: Vec<AgencyId> = admitted.iter().map(|i| i.partner.clone()).collect();
    // Data shared under an agreement is remembered until the partner's deletion receipt.
    let shared: Vec<Option<(String, String, chrono::DateTime<Utc>)>> = admitted
        .iter()
        .map(|i| {
            let labels = i.labels.as_ref()?;
            let active = inner.agreement_with(&i.partner)?;
            let flow = active.agreement.flow(inner.config.agency.as_str(), i.partner.as_str(), labels.category)?;
            let due = now + chrono::Duration::days(i64::from(flow.retention_days));
            Some((i.partner.to_string(), labels.category.id().to_owned(), due))
        })
        .collect();
    let stored = inner.db.enqueue(&inner.config.agency, &inner.identity.key, &epochs, admitted, Utc::now());
    let stored = match stored {
        Ok(s) => s,
        Err(e) => {
            let mut queued = lock(&inner.queued);
            for p in &partners {
                if let Some(n) = queued.get_mut(p) {
                    *n = n.saturating_sub(1);
                }
            }
            return Err(e);
        }
    };
    let rows: Vec<_> = stored
        .iter()
        .zip(&shared)
        .filter_map(|(r, s)| match (r, s) {
            (Ok(id), Some((partner, category, due))) => Some((*id, partner.clone(), category.clone(), *due)),
            _ => None,
        })
        .collect();
    if !rows.is_empty()
        && let Err(e) = inner.db.record_shared(&rows, now)
    {
        tracing::error!(error = %e, "could not remember shared messages for their deletion receipts");
    }
    let mut woken = std::collections::HashSet::new();
    {
        let mut queued = lock(&inner.queued);
        for (p, r) in partners.iter().zip(&stored) {
            if r.is_err() {
                if let Some(n) = queued.get_mut(p) {
                    *n = n.saturating_sub(1);
                }
            } else {
                woken.insert(p.clone());
            }
        }
    }
    for p in woken {
        wake(inner, &p).notify_one();
    }
    let mut stored = stored.into_iter();
    Ok(results.into_iter().map(|r| r.unwrap_or_else(|| stored.next().unwrap_or(Err(LinkError::Stopped)))).collect())
}

/// Whether the agreement with the message's partner allows it. The protocol's own messages
/// are exempt and carry no labels; every other message needs labels the agreement allows.
fn agreement_allows(inner: &Inner, item: &Outgoing, now: chrono::DateTime<Utc>) -> Result<(), LinkError> {
    let refuse = |reason: String| Err(LinkError::NotAgreed { partner: item.partner.clone(), reason });
    match (crate::is_protocol(&item.kind), &item.labels) {
        (true, None) => Ok(()),
        (true, Some(_)) => refuse(format!("{} is a protocol message and carries no data labels", item.kind)),
        (false, None) => refuse(format!("a {} message needs labels saying what it carries", item.kind)),
        (false, Some(labels)) => {
            let me = inner.config.agency.as_str();
            let d = inner.decide(Act::Send, me, item.partner.as_str(), labels, item.approved_request, now);
            if d.allowed { Ok(()) } else { refuse(d.reason) }
        }
    }
}

pub(crate) fn wake(inner: &Inner, partner: &AgencyId) -> Arc<Notify> {
    lock(&inner.wake).entry(partner.clone()).or_insert_with(|| Arc::new(Notify::new())).clone()
}

/// Starts (or restarts) the delivery loop of `partner`.
pub(crate) fn spawn_loop(inner: &Arc<Inner>, partner: AgencyId) {
    let handle = tokio::spawn(deliver(inner.clone(), partner.clone()));
    if let Some(old) = lock(&inner.loops).insert(partner, handle) {
        old.abort();
    }
}

async fn deliver(inner: Arc<Inner>, agency: AgencyId) {
    let notify = wake(&inner, &agency);
    let mut failures: u32 = 0;
    let mut client: Option<(limes_federation::Fingerprint, reqwest::Client)> = None;
    loop {
        let Some(partner) = inner.partner(&agency) else { return };
        let pending = {
            let inner = inner.clone();
            let agency = agency.clone();
            tokio::task::spawn_blocking(move || {
                inner.db.pending(&agency, inner.config.batch_max_envelopes, inner.config.batch_max_bytes)
            })
            .await
        };
        let pending = match pending {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                tracing::error!(partner = %agency, error = %e, "reading the outbox");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(_) => return,
        };
        // With nothing queued, the checkpoint alone is sent when the partner holds messages
        // for a better one (or has not said yet what it holds).
        if pending.is_empty() && !crate::witness::push_due(&inner, &partner) {
            let idle = inner.config.witness.interval.min(Duration::from_secs(5));
            let _ = tokio::time::timeout(idle, notify.notified()).await;
            continue;
        }
        if client.as_ref().is_none_or(|(fp, _)| *fp != partner.fingerprint) {
            match partner_client(&inner, partner.fingerprint, Duration::from_secs(30)) {
                Ok(c) => client = Some((partner.fingerprint, c)),
                Err(e) => {
                    tracing::error!(partner = %agency, error = %e, "building the TLS client");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            }
        }
        let http = &client.as_ref().expect("set above").1;
        let checkpoint = {
            let inner = inner.clone();
            let partner = partner.clone();
            tokio::task::spawn_blocking(move || crate::witness::carried(&inner, &partner)).await.unwrap_or(None)
        };
        match post(&inner, http, &partner.anchor.url, &agency, checkpoint.as_ref(), &pending).await {
            Ok(receipt) => {
                crate::witness::note_ack(
                    &inner,
                    &agency,
                    receipt.checkpoint.clone(),
                    checkpoint.as_ref(),
                    pending.is_empty(),
                );
                let retry = receipt.outcomes.iter().any(|o| o.status == Status::Retry)
                    || receipt.outcomes.len() < pending.len();
                settle(&inner, &agency, &pending, receipt).await;
                if retry {
                    failures += 1;
                    sleep_backoff(&inner, failures).await;
                } else {
                    failures = 0;
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                inner.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(partner = %agency, attempt = failures, %error, "delivery failed; will retry");
                {
                    let mut health = lock(&inner.health);
                    let h = health.entry(agency.clone()).or_default();
                    h.last_error = Some(error.clone());
                    h.last_error_at = Some(Utc::now());
                    h.consecutive_failures = failures;
                }
                let db_inner = inner.clone();
                let a = agency.clone();
                let _ = tokio::task::spawn_blocking(move || db_inner.db.attempt_failed(&a, &error)).await;
                sleep_backoff(&inner, failures).await;
            }
        }
    }
}

async fn sleep_backoff(inner: &Inner, failures: u32) {
    let jitter: f64 = rand::random();
    let d = backoff::delay(failures.saturating_sub(1), inner.config.retry_base, inner.config.retry_max, jitter);
    tokio::time::sleep(d).await;
}

/// A client to one partner: our certificate, only the partner's pinned one accepted.
pub(crate) fn partner_client(
    inner: &Inner,
    pin: limes_federation::Fingerprint,
    timeout: Duration,
) -> Result<reqwest::Client, LinkError> {
    let tls = tls::client_config(&inner.identity, pin)?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| LinkError::Tls(e.to_string()))
}

/// Sends one batch; the partner's receipt, or why there is none.
async fn post(
    inner: &Inner,
    http: &reqwest::Client,
    url: &str,
    to: &AgencyId,
    checkpoint: Option<&limes_federation::BatchCheckpoint>,
    pending: &[Queued],
) -> Result<Receipt, String> {
    let body = batch_body(inner, to, checkpoint, pending);
    let url = format!("{}/federation/v1/batches", url.trim_end_matches('/'));
    let resp = http
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", error_chain(&e)))?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| format!("{url}: reading the answer: {e}"))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| format!("{url}: the partner's receipt is not valid: {e}"));
    }
    match serde_json::from_slice::<Refusal>(&bytes) {
        Ok(r) => Err(format!("{to} refused the batch: {r}")),
        Err(_) => Err(format!("{to} answered {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)]))),
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The batch JSON, with the stored envelopes spliced in as they were signed (no re-encoding).
fn batch_body(
    inner: &Inner,
    to: &AgencyId,
    checkpoint: Option<&limes_federation::BatchCheckpoint>,
    pending: &[Queued],
) -> Vec<u8> {
    let now = Utc::now();
    let sigs: Vec<[u8; 64]> = pending.iter().map(|q| q.signature).collect();
    let sealed = limes_federation::envelope::seal_batch_header(
        &inner.config.agency,
        to,
        now,
        checkpoint,
        &sigs,
        &inner.identity.key,
    );
    let mut out = Vec::with_capacity(pending.iter().map(|q| q.envelope_json.len() + 1).sum::<usize>() + 512);
    out.extend_from_slice(sealed.prefix.as_bytes());
    for (i, q) in pending.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(q.envelope_json.as_bytes());
    }
    out.extend_from_slice(sealed.suffix.as_bytes());
    out
}

/// Applies a receipt to the queue, counts and audits.
async fn settle(inner: &Arc<Inner>, agency: &AgencyId, pending: &[Queued], receipt: Receipt) {
    let now = Utc::now();
    let by_id: HashMap<_, _> = receipt.outcomes.iter().map(|o| (o.id, o)).collect();
    let mut events = Vec::new();
    let mut done = 0u64;
    for q in pending {
        let Some(o) = by_id.get(&q.id) else { continue };
        match o.status {
            Status::Accepted | Status::Duplicate => {
                done += 1;
                if o.status == Status::Accepted {
                    events.push(inner.audit_event(
                        inner.config.agency.as_str(),
                        Action::Transfer,
                        Object::new("message", q.id),
                        AuditOutcome::Allowed,
                        serde_json::json!({ "recipient": agency, "type": q.kind, "about": q.about }),
                    ));
                }
            }
            Status::Rejected => {
                done += 1;
                inner.stats.refused_by_partner.fetch_add(1, Ordering::Relaxed);
                let r = o.refusal.as_ref().map(|r| r.to_string()).unwrap_or_default();
                tracing::error!(partner = %agency, message = %q.id, kind = %q.kind, error = %r, "the partner refused a message for good");
            }
            Status::Retry => {}
        }
    }
    let sent = receipt.outcomes.iter().filter(|o| matches!(o.status, Status::Accepted | Status::Duplicate)).count();
    inner.stats.sent.fetch_add(sent as u64, Ordering::Relaxed);
    let stored = {
        let inner = inner.clone();
        let agency = agency.clone();
        let pending = pending.to_vec();
        tokio::task::spawn_blocking(move || inner.db.complete(&agency, &pending, &receipt.outcomes, now)).await
    };
    if !matches!(stored, Ok(Ok(()))) {
        tracing::error!(partner = %agency, "could not record a receipt; the messages will be sent again (the partner ignores duplicates)");
        return;
    }
    {
        let mut queued = lock(&inner.queued);
        if let Some(n) = queued.get_mut(agency) {
            *n = n.saturating_sub(done);
        }
        let mut health = lock(&inner.health);
        let h = health.entry(agency.clone()).or_default();
        h.last_success = Some(now);
        h.consecutive_failures = 0;
    }
    // The transfers are logged beside the next delivery rather than before it: the audit
    // log's commit does not hold the link up.
    let inner = inner.clone();
    tokio::spawn(async move { inner.audit_all(events).await });
}
