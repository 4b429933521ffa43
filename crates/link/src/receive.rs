//! The partners' port: mutual TLS, then `POST /federation/v1/batches` (and the routes of
//! `blobs` and `hitquery`).
//!
//! A batch is checked (sender = the certificate's agency, signature, clock, recipient), then
//! each envelope (signature, digest, age, recipient, size, type), then stored in the inbox in
//! one transaction with each stream's place, and only then acknowledged. Every accepted or
//! refused message, every refused batch and every refused handshake is audited.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use limes_agreement::{Act, Labels};
use limes_audit::{Action, Object, Outcome as AuditOutcome};
use limes_federation::{
    Batch, DELETION_RECEIPT, DeletionReceipt, Envelope, Fingerprint, MessageType, Peer, Receipt, Refusal, RejectCode,
    Status, check_batch, check_envelope,
};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::{Inner, LinkError, tls};

/// The certificate that opened the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerCert(pub(crate) Fingerprint);

pub(crate) fn serve(inner: Arc<Inner>, listener: TcpListener) -> Result<tokio::task::JoinHandle<()>, LinkError> {
    let config = tls::server_config(&inner.identity, inner.pins.clone())?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let body_limit = inner.config.batch_max_bytes + inner.config.limits.max_payload_bytes * 2 + 64 * 1024;
    let router = Router::new()
        .route("/federation/v1/batches", post(batches))
        .route("/federation/v1/hello", get(hello))
        .route("/federation/v1/blobs/{sha256}", get(crate::blobs::status).put(crate::blobs::put))
        .route("/federation/v1/hitquery/set", get(crate::hitquery::set))
        .route("/federation/v1/hitquery/evaluate", post(crate::hitquery::evaluate))
        .route("/federation/v1/live/{camera}", get(crate::live::serve))
        .route(
            crate::witness::ADD_CHECKPOINT,
            post(crate::witness::add_checkpoint).layer(DefaultBodyLimit::max(crate::witness::MAX_ADD_CHECKPOINT_BYTES)),
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(inner.clone());
    let refusals: Arc<Mutex<HashMap<IpAddr, Instant>>> = Arc::default();
    Ok(tokio::spawn(async move {
        loop {
            let (tcp, peer_addr) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a partner connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let router = router.clone();
            let inner = inner.clone();
            let refusals = refusals.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await;
                let tls = match handshake {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => return handshake_refused(&inner, &refusals, peer_addr, &e.to_string()).await,
                    Err(_) => return,
                };
                let Some(fp) =
                    tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| Fingerprint::of_der(c))
                else {
                    return;
                };
                let service = TowerToHyperService::new(router.layer(Extension(PeerCert(fp))));
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(e) = builder.serve_connection(TokioIo::new(tls), service).await {
                    tracing::debug!(%peer_addr, error = %e, "partner connection ended");
                }
            });
        }
    }))
}

/// Audits a refused handshake (an unknown or revoked certificate, or no certificate): at most
/// one record per address every 10 seconds, so that a scanner cannot flood the log.
async fn handshake_refused(inner: &Inner, refusals: &Mutex<HashMap<IpAddr, Instant>>, peer: SocketAddr, error: &str) {
    inner.stats.handshakes_refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::warn!(%peer, %error, "refused a partner handshake");
    {
        let mut seen = refusals.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if seen.get(&peer.ip()).is_some_and(|t| now.duration_since(*t).as_secs() < 10) {
            return;
        }
        if seen.len() > 10_000 {
            seen.clear();
        }
        seen.insert(peer.ip(), now);
    }
    let event = inner.audit_event(
        &format!("unknown@{}", peer.ip()),
        Action::Denied,
        Object::new("connection", peer),
        AuditOutcome::Denied,
        serde_json::json!({ "error": error }),
    );
    inner.audit_all(vec![event]).await;
}

fn refuse(status: StatusCode, refusal: Refusal) -> Response {
    (status, axum::Json(refusal)).into_response()
}

async fn hello(State(inner): State<Arc<Inner>>, Extension(PeerCert(fp)): Extension<PeerCert>) -> Response {
    match inner.partner_by_fingerprint(&fp) {
        Some(_) => axum::Json(serde_json::json!({
            "agency": inner.config.agency,
            "time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }))
        .into_response(),
        None => refuse(
            StatusCode::FORBIDDEN,
            Refusal::new(RejectCode::UnknownPeer, "this certificate is no longer a partner's"),
        ),
    }
}

async fn batches(
    State(inner): State<Arc<Inner>>,
    Extension(PeerCert(fp)): Extension<PeerCert>,
    body: Bytes,
) -> Response {
    let now = Utc::now();
    // The partner may have been removed or revoked since its connection opened.
    let Some(partner) = inner.partner_by_fingerprint(&fp) else {
        let refusal =
            Refusal::new(RejectCode::Revoked, "this certificate is no longer a partner's (removed or revoked)");
        return batch_refused(&inner, fp.to_hex().as_str(), None, StatusCode::FORBIDDEN, refusal).await;
    };
    capture(&inner, partner.agency.as_str(), &body);
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            let refusal = Refusal::new(RejectCode::Malformed, format!("the batch is not valid JSON of a batch: {e}"));
            return batch_refused(&inner, partner.agency.as_str(), None, StatusCode::BAD_REQUEST, refusal).await;
        }
    };
    // The protocol's own messages (deletion receipts…) are accepted from every partner.
    let mut receive = partner.receive.clone();
    receive.extend(limes_agreement::ProtocolMessage::ALL.iter().filter_map(|p| MessageType::new(p.id()).ok()));
    let peer = Peer { agency: &partner.agency, key: &partner.key, receive: &receive };
    let limits = &inner.config.limits;
    if let Err(refusal) = check_batch(&batch, &inner.config.agency, peer, now, limits) {
        let status = match refusal.code {
            RejectCode::TooManyEnvelopes => StatusCode::PAYLOAD_TOO_LARGE,
            RejectCode::ClockSkew => StatusCode::CONFLICT,
            _ => StatusCode::FORBIDDEN,
        };
        return batch_refused(&inner, partner.agency.as_str(), Some(&batch), status, refusal).await;
    }
    if let Some(checkpoint) = &batch.checkpoint
        && checkpoint.note.len() > limes_audit::checkpoint::MAX_NOTE_BYTES
    {
        let refusal = Refusal::new(
            RejectCode::Oversized,
            format!(
                "the batch's audit checkpoint is {} bytes; a note has at most {}",
                checkpoint.note.len(),
                limes_audit::checkpoint::MAX_NOTE_BYTES
            ),
        );
        let status = StatusCode::PAYLOAD_TOO_LARGE;
        return batch_refused(&inner, partner.agency.as_str(), Some(&batch), status, refusal).await;
    }
    let checks: Vec<_> = batch
        .envelopes
        .iter()
        .map(|e| {
            check_envelope(e, &batch, &inner.config.agency, peer, now, limits)
                .and_then(|()| agreement_allows(&inner, e, now))
        })
        .collect();
    let stored = {
        let inner = inner.clone();
        let partner = partner.clone();
        tokio::task::spawn_blocking(move || {
            // The sender's audit checkpoint decides whether its data messages are held; its
            // effect is part of their transaction.
            let received = crate::witness::judge(&inner, &partner, batch.checkpoint.as_ref(), now).and_then(
                |(effect, ack, fork)| {
                    let (outcomes, released) =
                        inner.db.receive(&partner.agency, &batch.envelopes, checks, &effect, now)?;
                    Ok((outcomes, released, effect, ack, fork))
                },
            );
            (batch, received)
        })
        .await
    };
    let (batch, outcomes, released, effect, ack, fork) = match stored {
        Ok((batch, Ok((o, released, effect, ack, fork)))) => (batch, o, released, effect, ack, fork),
        Ok((_, Err(e))) => {
            tracing::error!(error = %e, "storing received messages");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                Refusal::new(RejectCode::Unavailable, "the receiver could not store the batch; send it again later"),
            );
        }
        Err(_) => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                Refusal::new(RejectCode::Unavailable, "the receiver is stopping"),
            );
        }
    };
    if let Some(evidence) = &fork {
        crate::witness::report_fork(&inner, &partner.agency, "receiver", evidence).await;
    }
    let counter = match ack.status {
        limes_federation::CheckpointStatus::Accepted => Some(&inner.stats.checkpoints_accepted),
        limes_federation::CheckpointStatus::Held | limes_federation::CheckpointStatus::Fork => {
            Some(&inner.stats.checkpoints_held)
        }
        limes_federation::CheckpointStatus::NotRequired => None,
    };
    if let Some(counter) = counter {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if released > 0 {
        inner.stats.released.fetch_add(released, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(partner = %partner.agency, released, "a checkpoint was accepted: the partner's held messages are delivered");
    }
    let mut events = Vec::new();
    let mut accepted = 0;
    for (env, o) in batch.envelopes.iter().zip(&outcomes) {
        let details = |extra: serde_json::Value| {
            let mut d = serde_json::json!({ "type": env.kind, "stream": env.stream, "seq": env.seq, "bytes": env.payload.len() });
            if let Some(held) = effect.hold.as_ref().filter(|_| !crate::is_protocol(&env.kind)) {
                d["held"] = serde_json::Value::String(held.clone());
            }
            if let (Some(d), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
                d.extend(extra.clone());
            }
            d
        };
        match o.status {
            Status::Accepted if env.kind.as_str() == DELETION_RECEIPT => {
                // The partner deleted what we sent it: logged here, at the origin.
                let receipt = DeletionReceipt::parse(&env.payload).ok();
                events.push(inner.audit_event(
                    partner.agency.as_str(),
                    Action::Erase,
                    Object::new("deletion-receipt", env.id),
                    AuditOutcome::Allowed,
                    details(serde_json::json!({
                        "messages": receipt.as_ref().map(|r| r.messages.len()),
                        "reason": receipt.as_ref().map(|r| r.reason),
                        "deleted_at": receipt.as_ref().map(|r| r.deleted_at),
                    })),
                ));
            }
            Status::Accepted => {
                accepted += 1;
                events.push(inner.audit_event(
                    partner.agency.as_str(),
                    Action::Collect,
                    Object::new("message", env.id),
                    AuditOutcome::Allowed,
                    details(serde_json::json!({})),
                ));
            }
            Status::Duplicate => {
                inner.stats.duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Status::Rejected | Status::Retry => {
                let r = o.refusal.clone().unwrap_or_else(|| Refusal::new(RejectCode::Malformed, "refused"));
                if o.status == Status::Rejected {
                    inner.stats.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(partner = %partner.agency, message = %env.id, error = %r, "refused a message");
                }
                if r.code != RejectCode::Gap {
                    events.push(inner.audit_event(
                        partner.agency.as_str(),
                        Action::Denied,
                        Object::new("message", env.id),
                        AuditOutcome::Denied,
                        details(serde_json::json!({ "code": r.code, "error": r.error })),
                    ));
                }
            }
        }
    }
    inner.stats.received.fetch_add(accepted, std::sync::atomic::Ordering::Relaxed);
    inner.audit_all(events).await;
    if accepted > 0 || released > 0 {
        inner.inbox.notify_waiters();
    }
    axum::Json(Receipt { outcomes, checkpoint: Some(ack) }).into_response()
}

/// Keeps a request's bytes where [`crate::Link::capture_batches`] said, as
/// `<n>-<name>.json` (`name` is the partner, followed by what the request is for anything but a
/// batch).
pub(crate) fn capture(inner: &Inner, name: &str, body: &[u8]) {
    let mut capture = crate::lock(&inner.capture);
    let Some((dir, n)) = capture.as_mut() else { return };
    *n += 1;
    let path = dir.join(format!("{n:08}-{name}.json"));
    if let Err(e) = std::fs::write(&path, body) {
        tracing::error!(path = %path.display(), error = %e, "capturing a batch");
    }
}

/// Whether the agreement with the sender allows the message, decided on its signed labels.
/// The protocol's own messages are exempt.
fn agreement_allows(inner: &Inner, env: &Envelope, now: chrono::DateTime<Utc>) -> Result<(), Refusal> {
    if env.kind.as_str() == DELETION_RECEIPT {
        return DeletionReceipt::parse(&env.payload)
            .map(|_| ())
            .map_err(|e| Refusal::new(RejectCode::Malformed, e.to_string()));
    }
    if crate::is_protocol(&env.kind) {
        return Ok(());
    }
    let Some(text) = &env.labels else {
        return Err(Refusal::new(
            RejectCode::NotAgreed,
            format!("a {} message needs labels saying what it carries", env.kind),
        ));
    };
    let labels: Labels = serde_json::from_str(text)
        .map_err(|e| Refusal::new(RejectCode::Malformed, format!("the message's labels are not valid: {e}")))?;
    // The sender owns the data and approves requests for it: a record that names a request
    // is, by the sender's signed word, the answer to one it approved.
    let approved = labels.request.is_some();
    let d = inner.decide(Act::Receive, env.sender.as_str(), inner.config.agency.as_str(), &labels, approved, now);
    if d.allowed { Ok(()) } else { Err(Refusal::new(RejectCode::NotAgreed, d.reason)) }
}

async fn batch_refused(
    inner: &Inner,
    who: &str,
    batch: Option<&Batch>,
    status: StatusCode,
    refusal: Refusal,
) -> Response {
    inner.stats.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::warn!(partner = %who, error = %refusal, "refused a batch");
    let ids: Vec<String> =
        batch.map(|b| b.envelopes.iter().take(50).map(|e| e.id.to_string()).collect()).unwrap_or_default();
    let event = inner.audit_event(
        who,
        Action::Denied,
        Object::new("batch", who),
        AuditOutcome::Denied,
        serde_json::json!({
            "code": refusal.code,
            "error": refusal.error,
            "messages": batch.map(|b| b.envelopes.len()),
            "ids": ids,
        }),
    );
    inner.audit_all(vec![event]).await;
    refuse(status, refusal)
}
