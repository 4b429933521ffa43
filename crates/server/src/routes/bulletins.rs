//! Intelligence bulletins (`federation::bulletins`): issue, list, open within the handling
//! code, pass on.
//!
//! | route | operation |
//! |---|---|
//! | `POST /api/v1/bulletins` | `bulletins.issue` |
//! | `GET /api/v1/bulletins?box=in\|out` | `bulletins.view` |
//! | `GET /api/v1/bulletins/{origin}/{n}` | `bulletins.view`, within the handling code and the agreement |
//! | `POST /api/v1/bulletins/{origin}/{n}/forward` | `bulletins.issue`; never an H2 bulletin of another agency |
//! | `GET /api/v1/bulletins/stream` | `bulletins.view` (Server-Sent Events), what the list would show |

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use chrono::{DateTime, Utc};
use futures::Stream;
use limes_access::Operation;
use limes_agreement::{Category, Labels};
use limes_audit::Object;
use limes_cooperation::area::Area;
use limes_cooperation::bulletin::{self, Bulletin, BulletinId, Handling, Information, Source, Vehicle};
use limes_model::{AgencyId, GeoPoint};
use limes_plate::CountryCode;
use limes_store::{BulletinBox, StoredBulletin};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::alerts::async_stream;
use super::{body_bytes, json, purpose_of, shared_id, utf8};
use crate::federation::bulletins::{push, send_copies, send_receipt};
use crate::federation::{blocking, may_use_now_from};
use crate::{ApiError, AppState, Caller};

fn me(state: &AppState) -> Result<AgencyId, ApiError> {
    AgencyId::new(state.access.options.agency.as_str()).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Whether a partner's bulletin may be used here now for `purpose`: the agreement with its
/// issuer (purposes for bulletins, retention from when it arrived).
fn agreed(state: &AppState, b: &StoredBulletin, purpose: &str) -> bool {
    let Some(from) = b.received_from.as_deref() else { return true };
    let plates = if b.bulletin.vehicles.iter().any(|v| v.pseudonymised) {
        limes_agreement::PlateForm::Pseudonymised
    } else {
        limes_agreement::PlateForm::Clear
    };
    // A copy passed on is used under the agreement with the agency that passed it on.
    let onward = (from != b.bulletin.id.origin.as_str()).then(|| "passed on".to_owned());
    let labels = Labels { plates, onward, ..Labels::full(Category::Bulletins, b.bulletin.id.origin.as_str(), purpose) };
    may_use_now_from(state, from, &labels, b.stored)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VehicleBody {
    plate: String,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssueBody {
    title: String,
    summary: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    area: Option<Area>,
    #[serde(default)]
    position: Option<GeoPoint>,
    from: DateTime<Utc>,
    #[serde(default)]
    until: Option<DateTime<Utc>>,
    #[serde(default)]
    modus_operandi: String,
    #[serde(default)]
    vehicles: Vec<VehicleBody>,
    source: Source,
    information: Information,
    handling: Handling,
    #[serde(default)]
    restrictions: String,
    distribution: Vec<AgencyId>,
    #[serde(default)]
    exercise: bool,
}

fn vehicle(v: VehicleBody) -> Result<Vehicle, ApiError> {
    let country = match v.country.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(CountryCode::parse(c).map_err(|e| ApiError::Unprocessable(format!("vehicle country: {e}")))?),
        None => None,
    };
    let plate = limes_plate::normalize(&v.plate, country)
        .map_err(|e| ApiError::Unprocessable(format!("plate {:?}: {e}", v.plate)))?
        .text;
    Ok(Vehicle {
        plate: plate.as_str().to_owned(),
        country: country.map(|c| c.to_string()),
        description: v.description,
        pseudonymised: false,
    })
}

pub(super) async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<StoredBulletin>), ApiError> {
    let grant = state
        .authorize(&caller, Operation::BulletinsIssue, &state.access.node(), Object::new("bulletins", "issue"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let bytes = body_bytes(&state, body).await?;
    let b: IssueBody = json("bulletin", utf8(&bytes)?)?;
    let area = match (b.area, b.position) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Unprocessable("a bulletin has an area or a position, not both".into()));
        }
        (a, p) => a.or(p.map(Area::point)),
    };
    let me = me(&state)?;
    let mut distribution = b.distribution;
    distribution.sort();
    distribution.dedup();
    distribution.retain(|a| *a != me);
    let mut draft = Bulletin {
        id: BulletinId { origin: me.clone(), n: 0 },
        title: b.title,
        summary: b.summary,
        place: b.place,
        area,
        from: b.from,
        until: b.until,
        modus_operandi: b.modus_operandi,
        vehicles: b.vehicles.into_iter().map(vehicle).collect::<Result<_, _>>()?,
        source: b.source,
        information: b.information,
        handling: b.handling,
        restrictions: b.restrictions,
        distribution: distribution.clone(),
        exercise: b.exercise,
        issued: Utc::now(),
        forwarded_by: None,
    };
    draft.check().map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let store = state.store.clone();
    let issued = blocking(move || {
        store.issue_bulletin(&me, Utc::now(), |id| {
            draft.id = id;
            draft
        })
    })
    .await
    .map_err(ApiError::Internal)?;
    send_copies(&state, &issued, &distribution, &purpose, None).await;
    push(&state, &issued.id).await;
    let stored = state.store.bulletin(&issued.id)?.ok_or_else(|| ApiError::Internal("issued, then gone".into()))?;
    Ok((StatusCode::CREATED, Json(stored)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    #[serde(rename = "box", default)]
    which: Option<String>,
    exercise: Option<bool>,
    limit: Option<usize>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<StoredBulletin>>, ApiError> {
    let which = match p.which.as_deref().unwrap_or("in") {
        "in" => BulletinBox::In,
        "out" => BulletinBox::Out,
        other => return Err(ApiError::BadRequest(format!("box {other:?} is not in or out"))),
    };
    let grant = state
        .authorize(&caller, Operation::BulletinsView, &state.access.node(), Object::new("bulletins", "list"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let (store, limit) = (state.store.clone(), p.limit.unwrap_or(200));
    let found = blocking(move || store.bulletins(which, p.exercise, limit)).await.map_err(ApiError::Internal)?;
    // The list shows what the caller may open: the agreement and the handling code decide.
    let me = me(&state)?;
    Ok(Json(found.into_iter().filter(|b| listed(&state, &me, b, &purpose)).collect()))
}

pub(super) async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
) -> Result<Json<StoredBulletin>, ApiError> {
    let id = shared_id(&origin, &n)?;
    let object = Object::new("bulletin", id.to_string());
    let grant = state.authorize(&caller, Operation::BulletinsView, &state.access.node(), object.clone()).await?;
    let purpose = purpose_of(&state, grant);
    let me = me(&state)?;
    let found = {
        let (store, id) = (state.store.clone(), id.clone());
        blocking(move || store.bulletin(&id)).await.map_err(ApiError::Internal)?
    };
    let b = match found {
        Some(b) if agreed(&state, &b, &purpose) => b,
        _ => return Err(ApiError::NotFound(format!("bulletin {id} not found"))),
    };
    if let Err(e) = bulletin::may_open(&b.bulletin, &me, &purpose) {
        let reason = e.to_string();
        state.audit_denied(caller.actor(), &caller.principal.role_text(), object.as_str(), &reason, None).await;
        return Err(ApiError::Forbidden(reason));
    }
    if b.received_from.is_some() {
        let (store, reader, bid) = (state.store.clone(), caller.principal.id.clone(), id.clone());
        let agency = me.to_string();
        let now = Utc::now();
        let first = blocking(move || store.record_bulletin_read(&bid, &agency, &reader, now))
            .await
            .map_err(ApiError::Internal)?;
        if first {
            send_receipt(&state, &b.bulletin, now).await;
        }
    }
    let b = state.store.bulletin(&id)?.ok_or_else(|| ApiError::NotFound(format!("bulletin {id} not found")))?;
    Ok(Json(b))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ForwardBody {
    to: Vec<AgencyId>,
    /// The issuer's consent to passing it on, where the agreement asks for it (LED Art.
    /// 35(1)(e)): where it is recorded ("e-mail of 21 Nov 2026, ref. 4411/2026").
    #[serde(default)]
    consent: Option<String>,
}

pub(super) async fn forward(
    State(state): State<AppState>,
    caller: Caller,
    Path((origin, n)): Path<(String, String)>,
    body: Body,
) -> Result<Json<StoredBulletin>, ApiError> {
    let id = shared_id(&origin, &n)?;
    let object = Object::new("bulletin", id.to_string());
    let grant = state.authorize(&caller, Operation::BulletinsIssue, &state.access.node(), object.clone()).await?;
    let purpose = purpose_of(&state, grant);
    let bytes = body_bytes(&state, body).await?;
    let f: ForwardBody = json("forward", utf8(&bytes)?)?;
    if f.to.is_empty() || f.to.len() > bulletin::MAX_DISTRIBUTION {
        return Err(ApiError::Unprocessable(format!("forward to 1 to {} agencies", bulletin::MAX_DISTRIBUTION)));
    }
    let me = me(&state)?;
    let b = match state.store.bulletin(&id)? {
        Some(b) if agreed(&state, &b, &purpose) => b,
        _ => return Err(ApiError::NotFound(format!("bulletin {id} not found"))),
    };
    if let Err(e) = bulletin::may_forward(&b.bulletin, &me) {
        let reason = e.to_string();
        state.audit_denied(caller.actor(), &caller.principal.role_text(), object.as_str(), &reason, None).await;
        return Err(ApiError::Forbidden(reason));
    }
    let mut to = f.to;
    to.retain(|a| *a != me && *a != b.bulletin.id.origin);
    // Passing on another agency's bulletin: under the agreement with the issuer (the link
    // checks it allows it), naming that agreement, and the issuer's consent where the
    // agreement asks for it. Without what the agreement needs, the link refuses each copy.
    let onward = if b.bulletin.id.origin == me {
        None
    } else {
        let fed = state.federation.get().ok_or_else(|| ApiError::Conflict("this node has no federation".into()))?;
        let issuer = fed
            .link
            .agreement_with(&b.bulletin.id.origin)
            .ok_or_else(|| ApiError::Conflict(format!("no agreement with {} is in force", b.bulletin.id.origin)))?;
        let rule = issuer
            .agreement
            .flow(b.bulletin.id.origin.as_str(), me.as_str(), Category::Bulletins)
            .map(|f| f.onward_transfer);
        let consent = f.consent.as_deref().map(str::trim).filter(|c| !c.is_empty());
        if let Some(c) = consent
            && (c.chars().count() > 200 || c.chars().any(char::is_control))
        {
            return Err(ApiError::Unprocessable("consent: at most 200 characters, no control characters".into()));
        }
        match (rule, consent) {
            (Some(limes_agreement::Onward::Allowed), _) => Some(issuer.agreement.id.clone()),
            (Some(limes_agreement::Onward::WithConsent), Some(c)) => {
                Some(format!("{}; consent: {c}", issuer.agreement.id))
            }
            _ => None,
        }
    };
    send_copies(&state, &b.bulletin, &to, &purpose, onward).await;
    push(&state, &id).await;
    let b = state.store.bulletin(&id)?.ok_or_else(|| ApiError::NotFound(format!("bulletin {id} not found")))?;
    Ok(Json(b))
}

/// Whether the caller, who declared `purpose`, is shown `b` in a list or on the stream: what
/// the agreement and the handling code let them open.
fn listed(state: &AppState, me: &AgencyId, b: &StoredBulletin, purpose: &str) -> bool {
    agreed(state, b, purpose) && bulletin::may_open(&b.bulletin, me, purpose).is_ok()
}

/// Each bulletin as it is issued, arrives, is passed on or read by a partner (`event:
/// bulletin`, the bulletin as listed), only those the list would show the caller.
pub(super) async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let grant = state
        .authorize(&caller, Operation::BulletinsView, &state.access.node(), Object::new("bulletins", "live"))
        .await?;
    let purpose = purpose_of(&state, grant);
    let me = me(&state)?;
    let mut rx = state.bulletins.live.subscribe();
    let stream = async_stream(move |tx| async move {
        loop {
            let ev = match rx.recv().await {
                Ok(l) if !listed(&state, &me, &l.bulletin, &purpose) => continue,
                Ok(l) => SseEvent::default().event("bulletin").data(&*l.json),
                Err(RecvError::Lagged(n)) => SseEvent::default()
                    .event("lagged")
                    .data(format!("{n} bulletin changes skipped; list them with GET /api/v1/bulletins")),
                Err(RecvError::Closed) => return,
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
