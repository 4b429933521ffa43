//! Partner agencies: `GET`/`POST /api/v1/partners`, `DELETE /api/v1/partners/{agency}`,
//! `POST /api/v1/partners/{agency}/revoke`, `GET /api/v1/federation` (this node's trust
//! anchor and its links' counters), and their sharing agreements: `GET`/`POST
//! /api/v1/agreements`, `POST /api/v1/agreements/{id}/revoke`.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use limes_access::Operation;
use limes_audit::Object;
use limes_federation::{MessageType, TrustAnchor};
use limes_link::{AgreementStatus, Link, LinkError, PartnerStatus};
use limes_model::AgencyId;
use serde::Deserialize;

use super::{body_bytes, json, utf8};
use crate::{ApiError, AppState, Caller};

fn link(state: &AppState) -> Result<Link, ApiError> {
    state
        .federation
        .get()
        .map(|f| f.link.clone())
        .ok_or_else(|| ApiError::NotFound("this node has no [federation] section: it has no partners".into()))
}

fn link_error(e: LinkError) -> ApiError {
    match e {
        LinkError::NotFound(m) => ApiError::NotFound(m),
        LinkError::Refused(m) => ApiError::Unprocessable(m),
        e @ LinkError::NotAgreed { .. } => ApiError::Unprocessable(e.to_string()),
        other => ApiError::Internal(other.to_string()),
    }
}

fn agency(s: &str) -> Result<AgencyId, ApiError> {
    AgencyId::new(s).map_err(|e| ApiError::BadRequest(e.to_string()))
}

pub(super) async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<PartnerStatus>>, ApiError> {
    state.authorize(&caller, Operation::PartnersView, &state.access.node(), Object::new("partners", "all")).await?;
    Ok(Json(link(&state)?.partners()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddBody {
    anchor: TrustAnchor,
    /// Message types this node sends the partner.
    #[serde(default)]
    send: BTreeSet<MessageType>,
    /// Message types this node accepts from the partner.
    #[serde(default)]
    receive: BTreeSet<MessageType>,
}

/// Adds a partner from its trust anchor, or changes what is exchanged with one.
pub(super) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<PartnerStatus>), ApiError> {
    let bytes = body_bytes(&state, body).await?;
    let b: AddBody = json("partner", utf8(&bytes)?)?;
    let object = Object::new("partner", &b.anchor.agency);
    state.authorize(&caller, Operation::PartnersManage, &state.access.node(), object).await?;
    let link = link(&state)?;
    let added = link.add_partner(b.anchor, b.send, b.receive).map_err(link_error)?;
    let status = link
        .partners()
        .into_iter()
        .find(|p| p.agency == added.agency)
        .ok_or_else(|| ApiError::Internal(format!("partner {} was added but is not listed", added.agency)))?;
    Ok((StatusCode::CREATED, Json(status)))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = agency(&id)?;
    state.authorize(&caller, Operation::PartnersManage, &state.access.node(), Object::new("partner", &id)).await?;
    let dropped = link(&state)?.remove_partner(&id).map_err(link_error)?;
    Ok(Json(serde_json::json!({ "removed": id, "dropped_messages": dropped })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RevokeBody {
    reason: String,
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = agency(&id)?;
    state.authorize(&caller, Operation::PartnersManage, &state.access.node(), Object::new("partner", &id)).await?;
    let bytes = body_bytes(&state, body).await?;
    let b: RevokeBody = json("revocation", utf8(&bytes)?)?;
    if b.reason.trim().is_empty() {
        return Err(ApiError::Unprocessable("a revocation needs a reason".into()));
    }
    let dropped = link(&state)?.revoke_partner(&id, b.reason.trim()).map_err(link_error)?;
    Ok(Json(serde_json::json!({ "revoked": id, "dropped_messages": dropped })))
}

/// This node's trust anchor and its links' counters.
pub(super) async fn status(State(state): State<AppState>, caller: Caller) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .authorize(&caller, Operation::PartnersView, &state.access.node(), Object::new("federation", "status"))
        .await?;
    let link = link(&state)?;
    let anchor = link.anchor().map_err(link_error)?;
    let s = link.stats();
    let refused = link.refused(20).map_err(link_error)?;
    let (receipts, awaiting) = link.receipt_counts().map_err(link_error)?;
    let (overdue, oldest) = link.overdue_receipts(chrono::Utc::now(), 20).map_err(link_error)?;
    let witness = link.witness_status().map_err(link_error)?;
    let forks = link.forks(20).map_err(link_error)?;
    Ok(Json(serde_json::json!({
        "agency": link.config().agency,
        "fingerprint": link.identity().fingerprint().to_hex(),
        "anchor": anchor,
        "sent": s.sent.load(Ordering::Relaxed),
        "refused_by_partners": s.refused_by_partner.load(Ordering::Relaxed),
        "failed_attempts": s.failed_attempts.load(Ordering::Relaxed),
        "not_queued": s.not_queued.load(Ordering::Relaxed),
        "denied_by_agreements": s.denied_by_agreement.load(Ordering::Relaxed),
        "received": s.received.load(Ordering::Relaxed),
        "duplicates": s.duplicates.load(Ordering::Relaxed),
        "rejected": s.rejected.load(Ordering::Relaxed),
        "handshakes_refused": s.handshakes_refused.load(Ordering::Relaxed),
        "queued": link.queued(),
        "partner_alerts": state.stats.partner_alerts.load(Ordering::Relaxed),
        "recently_refused_by_partners": refused,
        "deletion_receipts": { "received": receipts, "awaited": awaiting, "overdue": overdue, "oldest_overdue": oldest },
        "witnessed_audit": {
            "checkpoints_accepted": s.checkpoints_accepted.load(Ordering::Relaxed),
            "checkpoints_held": s.checkpoints_held.load(Ordering::Relaxed),
            "released": s.released.load(Ordering::Relaxed),
            "forks": s.forks.load(Ordering::Relaxed),
            "cosignatures_given": s.cosignatures_given.load(Ordering::Relaxed),
            "cosignatures_refused": s.cosignatures_refused.load(Ordering::Relaxed),
            "status": witness,
            "recent_forks": forks,
        },
    })))
}

pub(super) async fn agreements(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AgreementStatus>>, ApiError> {
    state.authorize(&caller, Operation::PartnersView, &state.access.node(), Object::new("agreements", "all")).await?;
    Ok(Json(link(&state)?.agreements()))
}

/// Puts a sharing agreement in force. The body is the agreement document itself (TOML or
/// JSON), as both agencies signed it.
pub(super) async fn add_agreement(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<AgreementStatus>), ApiError> {
    let bytes = body_bytes(&state, body).await?;
    let text = utf8(&bytes)?;
    let id = limes_agreement::Agreement::parse(text).map_err(|e| ApiError::BadRequest(e.to_string()))?.id;
    state.authorize(&caller, Operation::PartnersManage, &state.access.node(), Object::new("agreement", &id)).await?;
    let added = link(&state)?.add_agreement(text).map_err(link_error)?;
    // What the agreement lets the node share of its hotlist goes now, not at the next pass.
    state.hotlist_changed.notify_one();
    Ok((StatusCode::CREATED, Json(added)))
}

pub(super) async fn revoke_agreement(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.authorize(&caller, Operation::PartnersManage, &state.access.node(), Object::new("agreement", &id)).await?;
    let bytes = body_bytes(&state, body).await?;
    let b: RevokeBody = json("revocation", utf8(&bytes)?)?;
    if b.reason.trim().is_empty() {
        return Err(ApiError::Unprocessable("a revocation needs a reason".into()));
    }
    link(&state)?.revoke_agreement(&id, b.reason.trim()).map_err(link_error)?;
    Ok(Json(serde_json::json!({ "revoked": id })))
}
