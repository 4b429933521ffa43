//! What a data-protection officer does over the API:
//!
//! - `GET /api/v1/audit?from&to&actor&plate&object`: audit records as JSON lines
//!   (`audit.view`);
//! - `GET /api/v1/subject/plates/{plate}?country=`: everything the node holds about a plate,
//!   for a data subject's access request (`subject.request`): its reads with their images,
//!   the hotlist entries naming it, and how many audit records mention it;
//! - `DELETE /api/v1/subject/plates/{plate}?country=`: erases the plate's reads (their
//!   alerts and images go with them) and its hotlist entries (`data.erase`);
//! - `POST` / `DELETE /api/v1/subject/plates/{plate}/restriction?country=`: restricts the
//!   plate's data instead of erasing it (accuracy contested, or kept as evidence), or lifts the
//!   restriction (`data.restrict`). Restricted reads and alerts are kept and matched, but left
//!   out of searches, lists and the live stream, and refused when opened, to everyone; the
//!   data-protection officer still reaches them through the subject request.
//!
//! - `GET` / `DELETE /api/v1/subject/events/{kind}/{id}` (`kind`: `read`, `alert` or
//!   `detection`): one event a data subject points to, with what hangs on it (a read's images,
//!   an alert's read), and how many audit records name it; `DELETE` erases it (an alert goes
//!   with its read).
//!
//! Each is logged with the declared purpose, legal basis and case. Audit records are not
//! erased here: they prove what was done with the data, and the law keeps them for their own
//! period (`limes audit` and `AuditLog::erase` for that).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use limes_access::Operation;
use limes_audit::{ExportFilter, Object};
use limes_federation::DeletionReason;
use limes_hotlist::Query as HotlistQuery;
use limes_store::{DeletedPartnerAlert, PlateFilter, ReadQuery, StoredRead};
use serde::{Deserialize, Serialize};

use crate::wire::ImageOut;
use crate::{ApiError, AppState, Caller, Grant, write_lock};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditParams {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    actor: Option<String>,
    plate: Option<String>,
    object: Option<String>,
}

pub(super) async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<AuditParams>,
) -> Result<Response, ApiError> {
    let object = match &p.plate {
        Some(plate) => Object::plate(plate),
        None => Object::new("audit", p.actor.as_deref().unwrap_or("*")),
    };
    state.authorize(&caller, Operation::AuditView, &state.access.node(), object).await?;
    let Some(log) = state.audit.clone() else {
        return Err(ApiError::NotFound("this node keeps no audit log".into()));
    };
    let filter = ExportFilter {
        from: p.from,
        to: p.to,
        actor: p.actor,
        object_contains: p.object,
        mentions: p.plate.map(|t| limes_plate::clean(&t).map(|c| c.as_str().to_owned()).unwrap_or(t)),
    };
    let body = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        log.export(&filter, &mut out).map(|_| out)
    })
    .await?
    .map_err(|e| ApiError::Internal(format!("audit export: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from(body)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SubjectParams {
    country: Option<String>,
}

#[derive(Serialize)]
pub(super) struct SubjectData {
    /// The plate as the node stores it (grammar-repaired canonical text).
    plate: String,
    reads: Vec<StoredRead>,
    images: Vec<ImageOut>,
    hotlist: Vec<limes_model::HotlistEntry>,
    /// Alerts partner agencies sent about the plate.
    partner_alerts: Vec<limes_store::Alert>,
    /// Audit records mentioning the plate (`GET /api/v1/audit?plate=` lists them).
    audit_records: u64,
    /// Whether the plate's data is restricted.
    restricted: bool,
}

/// Most reads one request finds or erases; a DPO repeats the request for more.
const MAX_SUBJECT_READS: usize = 100_000;

fn canonical(plate: &str, country: Option<&str>) -> Result<limes_plate::PlateText, ApiError> {
    let country = super::country_param(country)?;
    limes_plate::normalize(plate, country).map(|n| n.text).map_err(|e| ApiError::BadRequest(format!("plate: {e}")))
}

/// The stored reads of a canonical plate, newest first.
fn reads_of(store: &limes_store::Store, plate: &limes_plate::PlateText) -> Result<Vec<StoredRead>, ApiError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let q = ReadQuery {
            plate: Some(PlateFilter::Exact(plate.clone())),
            camera: None,
            from: None,
            to: None,
            after,
            limit: 1000,
            max_scan: 0,
        };
        let page = store.search_reads(&q)?;
        out.extend(page.reads);
        match page.next {
            Some(next) if out.len() < MAX_SUBJECT_READS => after = Some(next),
            _ => return Ok(out),
        }
    }
}

pub(super) async fn subject(
    State(state): State<AppState>,
    caller: Caller,
    Path(plate): Path<String>,
    Query(p): Query<SubjectParams>,
) -> Result<Json<SubjectData>, ApiError> {
    state.authorize(&caller, Operation::SubjectRequest, &state.access.node(), Object::plate(&plate)).await?;
    let text = canonical(&plate, p.country.as_deref())?;
    let hotlist: Vec<_> = {
        let index = crate::read_lock(&state.hotlist);
        index
            .search(&HotlistQuery::Exact(text.clone()), Utc::now(), 1000)
            .into_iter()
            .filter_map(|h| index.get(h.entry_id))
            .collect()
    };
    let store = state.store.clone();
    let log = state.audit.clone();
    let plate_text = text.clone();
    let (reads, images, partner_alerts, audit_records) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let reads = reads_of(&store, &plate_text)?;
        let partner_alerts = store.partner_alerts_for_plate(plate_text.as_str())?;
        let mut images = Vec::new();
        for r in &reads {
            images.extend(store.read_images(r.id)?.iter().map(ImageOut::from));
        }
        let audit_records = match log {
            Some(log) => {
                let filter = ExportFilter { mentions: Some(plate_text.as_str().to_owned()), ..ExportFilter::default() };
                log.export(&filter, &mut std::io::sink()).map_err(|e| ApiError::Internal(e.to_string()))?
            }
            None => 0,
        };
        Ok((reads, images, partner_alerts, audit_records))
    })
    .await??;
    let restricted = state.is_restricted(text.as_str());
    Ok(Json(SubjectData {
        plate: text.as_str().to_owned(),
        reads,
        images,
        hotlist,
        partner_alerts,
        audit_records,
        restricted,
    }))
}

#[derive(Serialize)]
pub(super) struct Erased {
    plate: String,
    reads: u64,
    hotlist: usize,
    /// Alerts partner agencies sent about the plate.
    partner_alerts: u64,
}

pub(super) async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path(plate): Path<String>,
    Query(p): Query<SubjectParams>,
) -> Result<(StatusCode, Json<Erased>), ApiError> {
    let grant = state.authorize(&caller, Operation::DataErase, &state.access.node(), Object::plate(&plate)).await?;
    let text = canonical(&plate, p.country.as_deref())?;
    let entries: Vec<u64> = crate::read_lock(&state.hotlist)
        .search(&HotlistQuery::Exact(text.clone()), Utc::now(), 10_000)
        .into_iter()
        .map(|h| h.entry_id)
        .collect();
    let store = state.store.clone();
    let plate_text = text.clone();
    let ids = entries.clone();
    let (reads, deleted) = tokio::task::spawn_blocking(move || -> Result<(u64, Vec<DeletedPartnerAlert>), ApiError> {
        let reads: Vec<i64> = reads_of(&store, &plate_text)?.iter().map(|r| r.id).collect();
        let n = store.delete_reads(&reads)?;
        let partner_alerts = store.delete_partner_alerts_for_plate(plate_text.as_str())?;
        for id in ids {
            store.delete_hotlist_entry(id)?;
        }
        Ok((n, partner_alerts))
    })
    .await??;
    let partner_alerts = deleted.len() as u64;
    crate::federation::send_deletion_receipts(&state, &deleted, DeletionReason::Erasure).await;
    let partner_entries = crate::federation::hotlist::forget(&state, &entries);
    crate::federation::send_deletion_receipts(&state, &partner_entries, DeletionReason::Erasure).await;
    let erased = Erased { plate: text.as_str().to_owned(), reads, hotlist: entries.len(), partner_alerts };
    // The erasure's own record, with what went (the authorisation's record says who asked).
    let details = serde_json::json!({ "reads": reads, "hotlist": entries });
    log_erasure(&state, &caller, &grant, Object::plate(text.as_str()), details).await?;
    Ok((StatusCode::OK, Json(erased)))
}

#[derive(Serialize)]
pub(super) struct Restriction {
    plate: String,
    restricted: bool,
    /// Whether this call changed anything.
    changed: bool,
}

/// `POST …/restriction` restricts, `DELETE` lifts.
pub(super) async fn restrict(
    State(state): State<AppState>,
    caller: Caller,
    method: axum::http::Method,
    Path(plate): Path<String>,
    Query(p): Query<SubjectParams>,
) -> Result<Json<Restriction>, ApiError> {
    let restrict = method == axum::http::Method::POST;
    let object = Object::new("restriction", format!("{plate}:{}", if restrict { "on" } else { "off" }));
    let grant = state.authorize(&caller, Operation::DataRestrict, &state.access.node(), object).await?;
    let text = canonical(&plate, p.country.as_deref())?;
    let purpose = declared(&grant)?;
    let store = state.store.clone();
    let (key, by) = (text.as_str().to_owned(), caller.principal.id.clone());
    let basis = purpose.legal_basis.clone();
    let case = purpose.case_ref.clone();
    let changed = tokio::task::spawn_blocking(move || {
        if restrict { store.restrict_plate(&key, &by, &basis, case.as_deref()) } else { store.lift_restriction(&key) }
    })
    .await??;
    {
        let mut set = write_lock(&state.restricted);
        if restrict {
            set.insert(text.as_str().to_owned());
        } else {
            set.remove(text.as_str());
        }
    }
    Ok(Json(Restriction { plate: text.as_str().to_owned(), restricted: restrict, changed }))
}

/// What one event a data subject points to holds.
#[derive(Serialize)]
pub(super) struct EventData {
    kind: &'static str,
    id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    read: Option<StoredRead>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<limes_store::Alert>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detection: Option<crate::wire::DetectionOut>,
    images: Vec<ImageOut>,
    audit_records: u64,
}

fn event_kind(kind: &str) -> Result<&'static str, ApiError> {
    match kind {
        "read" => Ok("read"),
        "alert" => Ok("alert"),
        "detection" => Ok("detection"),
        other => Err(ApiError::BadRequest(format!("event kind {other:?} is not read, alert or detection"))),
    }
}

/// The audit object naming the event, as the routes that consult it log it.
fn event_object(kind: &str, id: i64) -> Object {
    match kind {
        "read" => Object::reads(id, id),
        "alert" => Object::alert(id),
        _ => Object::new("detection", id),
    }
}

pub(super) async fn event(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, id)): Path<(String, i64)>,
) -> Result<Json<EventData>, ApiError> {
    let kind = event_kind(&kind)?;
    let object = event_object(kind, id);
    state.authorize(&caller, Operation::SubjectRequest, &state.access.node(), object.clone()).await?;
    let store = state.store.clone();
    let log = state.audit.clone();
    let data = tokio::task::spawn_blocking(move || -> Result<EventData, ApiError> {
        let mut data =
            EventData { kind, id, read: None, alert: None, detection: None, images: Vec::new(), audit_records: 0 };
        match kind {
            "detection" => data.detection = Some(crate::wire::DetectionOut::from(&store.detection(id)?)),
            _ => {
                let read_id = if kind == "alert" {
                    let alert = store.alert(id)?;
                    let read_id = alert.read_id;
                    data.alert = Some(alert);
                    read_id
                } else {
                    Some(id)
                };
                // A partner's alert has no read here.
                if let Some(read_id) = read_id {
                    data.read = Some(store.read(read_id)?);
                    data.images = store.read_images(read_id)?.iter().map(ImageOut::from).collect();
                }
            }
        }
        if let Some(log) = log {
            let filter = ExportFilter { object_contains: Some(object.as_str().to_owned()), ..ExportFilter::default() };
            data.audit_records =
                log.export(&filter, &mut std::io::sink()).map_err(|e| ApiError::Internal(e.to_string()))?;
        }
        Ok(data)
    })
    .await??;
    Ok(Json(data))
}

pub(super) async fn erase_event(
    State(state): State<AppState>,
    caller: Caller,
    Path((kind, id)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let kind = event_kind(&kind)?;
    let object = event_object(kind, id);
    let grant = state.authorize(&caller, Operation::DataErase, &state.access.node(), object.clone()).await?;
    let store = state.store.clone();
    let erased =
        tokio::task::spawn_blocking(move || -> Result<(serde_json::Value, Vec<DeletedPartnerAlert>), ApiError> {
            let mut partner = Vec::new();
            let erased = match kind {
                "detection" => {
                    if !store.delete_detection(id)? {
                        return Err(ApiError::NotFound(format!("detection {id} not found")));
                    }
                    serde_json::json!({ "detection": id })
                }
                _ => {
                    let read_id = if kind == "alert" { store.alert(id)?.read_id } else { Some(store.read(id)?.id) };
                    match read_id {
                        Some(read_id) => {
                            store.delete_reads(&[read_id])?;
                            serde_json::json!({ "read": read_id })
                        }
                        None => {
                            partner.extend(store.delete_partner_alert(id)?);
                            serde_json::json!({ "partner_alert": id })
                        }
                    }
                }
            };
            Ok((erased, partner))
        })
        .await??;
    let (erased, partner) = erased;
    crate::federation::send_deletion_receipts(&state, &partner, DeletionReason::Erasure).await;
    log_erasure(&state, &caller, &grant, object, erased).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The purpose an allowed act on personal data was declared for (the policy refuses such an
/// act without one, so its absence is a bug, not a client error).
fn declared(grant: &Grant) -> Result<limes_access::Purpose, ApiError> {
    grant
        .purpose
        .clone()
        .ok_or_else(|| ApiError::Internal("an act on personal data was allowed without a purpose".into()))
}

/// The record of data erased: what went (`details`), by whom, for the purpose the erasure was
/// allowed for. The authorisation's own record says who asked; this one, what was done.
async fn log_erasure(
    state: &AppState,
    caller: &Caller,
    grant: &Grant,
    object: Object,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    let purpose = declared(grant)?;
    state
        .audit(limes_audit::AuditEvent {
            actor: caller.actor(),
            role: caller.principal.role_text(),
            action: limes_audit::Action::Erase,
            object,
            purpose: purpose.purpose,
            legal_basis: purpose.legal_basis,
            case_ref: purpose.case_ref,
            outcome: limes_audit::Outcome::Allowed,
            details: limes_audit::Details::new(&details),
        })
        .await
}
