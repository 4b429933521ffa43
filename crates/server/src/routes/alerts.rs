//! Alerts: listing, acknowledgement and the live Server-Sent Events stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::Utc;
use futures::Stream;
use limes_store::{Alert, AlertQuery};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::{body_bytes, json, utf8};
use crate::federation::may_access;
use crate::{ApiError, AppState, Caller};
use limes_access::Operation;
use limes_audit::Object;

#[derive(Deserialize)]
pub(super) struct ListParams {
    #[serde(default)]
    unacknowledged: bool,
    before: Option<i64>,
    limit: Option<usize>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let object = Object::new("alerts", format!("before={}", p.before.map_or("latest".into(), |b| b.to_string())));
    let grant = state.authorize(&caller, Operation::AlertsList, &state.access.node(), object).await?;
    let purpose = grant.purpose.map_or_else(|| state.access.options.collection_purpose.purpose.clone(), |p| p.purpose);
    let q = AlertQuery { unacknowledged_only: p.unacknowledged, before_id: p.before, limit: p.limit.unwrap_or(100) };
    let store = state.store.clone();
    let mut alerts = tokio::task::spawn_blocking(move || store.alerts(&q)).await??;
    alerts.retain(|a| {
        !state.is_restricted(a.plate.as_str())
            && may_access(&state, &purpose, a.origin.as_ref().map(|o| (o.agency.as_str(), o.pseudonymised)), a.created)
    });
    Ok(Json(alerts))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AckBody {
    /// Ignored: the signed-in caller acknowledges (kept so that older clients still work).
    #[serde(default)]
    #[allow(dead_code)]
    by: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

pub(super) async fn ack(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: Body,
) -> Result<Json<Alert>, ApiError> {
    let grant = state.authorize(&caller, Operation::AlertsAck, &state.access.node(), Object::alert(id)).await?;
    let bytes = body_bytes(&state, body).await?;
    let b: AckBody = json("acknowledgement", utf8(&bytes)?)?;
    let by = caller.principal.id.clone();
    let store = state.store.clone();
    // A partner's alert the caller may not see (the agreement's purposes, its retention) is
    // not there for them to acknowledge either.
    let purpose = grant.purpose.map_or_else(|| state.access.options.collection_purpose.purpose.clone(), |p| p.purpose);
    let alert = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.alert(id)).await??
    };
    if !may_access(&state, &purpose, alert.origin.as_ref().map(|o| (o.agency.as_str(), o.pseudonymised)), alert.created)
    {
        return Err(ApiError::NotFound(format!("alert {id} not found")));
    }
    Ok(Json(
        tokio::task::spawn_blocking(move || store.acknowledge_alert(id, &by, b.note.as_deref(), Utc::now())).await??,
    ))
}

/// `GET /api/v1/alerts/stream`: every new alert as an `alert` event whose id is
/// the alert's id. A client that reconnects with `Last-Event-ID` first gets the
/// alerts it missed (up to 10,000), then the live ones, without duplicates.
pub(super) async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let grant =
        state.authorize(&caller, Operation::AlertsLive, &state.access.node(), Object::new("alerts", "live")).await?;
    let purpose = grant.purpose.map_or_else(|| state.access.options.collection_purpose.purpose.clone(), |p| p.purpose);
    // Subscribe before reading the backlog so nothing falls between the two.
    let mut rx = state.alerts.subscribe();
    let restricted = {
        let state = state.clone();
        move |plate: &str| state.is_restricted(plate)
    };
    // A partner's alert only where the agreement with its origin allows the caller's purpose.
    let refused = {
        let state = state.clone();
        move |origin: Option<(&str, bool)>, created| !may_access(&state, &purpose, origin, created)
    };
    let last_seen: Option<i64> =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let store = state.store.clone();
    let stream = async_stream(move |tx| async move {
        let mut high = last_seen.unwrap_or(i64::MIN);
        if let Some(last) = last_seen {
            let backlog = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                let mut before = None;
                while out.len() < 10_000 {
                    let page =
                        store.alerts(&AlertQuery { unacknowledged_only: false, before_id: before, limit: 1000 })?;
                    let done = page.len() < 1000;
                    before = page.last().map(|a| a.id);
                    out.extend(page.into_iter().take_while(|a| a.id > last));
                    if done || before.is_some_and(|b| b <= last) {
                        break;
                    }
                }
                out.reverse();
                Ok::<_, limes_store::StoreError>(out)
            })
            .await;
            if let Ok(Ok(missed)) = backlog {
                for a in missed {
                    high = high.max(a.id);
                    if restricted(a.plate.as_str())
                        || refused(a.origin.as_ref().map(|o| (o.agency.as_str(), o.pseudonymised)), a.created)
                    {
                        continue;
                    }
                    let json = serde_json::to_string(&a).unwrap_or_default();
                    if tx.send(Event::default().event("alert").id(a.id.to_string()).data(json)).await.is_err() {
                        return;
                    }
                }
            }
        }
        loop {
            let ev = match rx.recv().await {
                Ok(a) if a.id <= high => continue,
                Ok(a) if restricted(&a.plate) => continue,
                Ok(a) if refused(a.origin.as_ref().map(|(o, p)| (&**o, *p)), Utc::now()) => continue,
                Ok(a) => Event::default().event("alert").id(a.id.to_string()).data(&*a.json),
                Err(RecvError::Lagged(n)) => Event::default()
                    .event("lagged")
                    .data(format!("{n} alerts skipped; list them with GET /api/v1/alerts")),
                Err(RecvError::Closed) => return,
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a task through a small channel; the task ends when the client goes.
pub(super) fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(f(tx));
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|ev| (Ok(ev), rx)) })
}
