//! Intelligence bulletins across the border (issue #8, item 3).
//!
//! A bulletin is issued to a distribution list. Each agency on it that is a partner receiving
//! `bulletin` messages gets its own copy, labelled `bulletins` with the issuer as origin and the
//! issuer's declared purpose; the agreement decides, and where its flow wants plates
//! pseudonymised the copy carries this node's pseudonym of each plate for that partner (as
//! alerts do), so the partner can ask for the vehicle through a request. What became of each
//! copy (queued, or why not) is kept with the bulletin.
//!
//! A recipient opens a bulletin within its handling code (`limes_cooperation::bulletin`:
//! H0 for crime purposes only, H1 not for judicial proceedings); its first reader there sends
//! the issuer a `bulletin-receipt` (a protocol message: the bulletin and when, never who).
//! Passing a bulletin on to a third agency is onward transfer: refused for H2, and otherwise
//! sent only where the agreement with the issuer allows it (the link decides on the `onward`
//! label), the copy naming who forwarded it.
//!
//! Every bulletin stored or changed here (issued, arrived from a partner, a copy sent on, a
//! partner's read receipt) goes on the live stream ([`Hub`], `GET /api/v1/bulletins/stream`),
//! so an inbox open on a page shows it without being shown again.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use limes_agreement::{Category, Labels, PlateForm, PlateRule};
use limes_cooperation::bulletin::{self, Bulletin, BulletinId};
use limes_federation::MessageType;
use limes_link::{LinkError, Outgoing, Received};
use limes_model::AgencyId;
use limes_store::StoredBulletin;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::{blocking, pseudonym};
use crate::AppState;

/// The message type of a bulletin.
pub const BULLETIN: &str = "bulletin";
/// The protocol message that tells the issuer a bulletin was read.
pub const RECEIPT: &str = "bulletin-receipt";
const STREAM: &str = "bulletins";

/// The bulletins' live stream: each bulletin as this node now holds it, after it was issued,
/// arrived, was passed on or read by a partner.
#[derive(Debug)]
pub struct Hub {
    pub live: broadcast::Sender<Live>,
}

impl Default for Hub {
    fn default() -> Self {
        Self { live: broadcast::channel(1024).0 }
    }
}

/// A bulletin on the live stream: as stored (what the stream's filter decides on, as the list
/// does) and its JSON, serialised once for every subscriber.
#[derive(Debug, Clone)]
pub struct Live {
    pub bulletin: Arc<StoredBulletin>,
    pub json: Arc<str>,
}

/// Pushes the bulletin `id` as this node now holds it on the live stream (nothing when nobody
/// follows it).
pub(crate) async fn push(state: &AppState, id: &BulletinId) {
    if state.bulletins.live.receiver_count() == 0 {
        return;
    }
    let (store, id) = (state.store.clone(), id.clone());
    match blocking(move || store.bulletin(&id)).await {
        Ok(Some(b)) => {
            if let Ok(json) = serde_json::to_string(&b) {
                let _ = state.bulletins.live.send(Live { bulletin: Arc::new(b), json: json.into() });
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "reading a bulletin for the live stream"),
    }
}

/// A read receipt as it travels (version 1 of `bulletin-receipt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptMessage {
    pub bulletin: BulletinId,
    pub read: DateTime<Utc>,
}

/// Sends `b` to each agency of `to`: a copy each, pseudonymised where that partner's agreement
/// says so. `onward` names the agreement with the issuer under which a forwarded bulletin is
/// passed on. Records what became of each copy.
pub(crate) async fn send_copies(
    state: &AppState,
    b: &Bulletin,
    to: &[AgencyId],
    purpose: &str,
    onward: Option<String>,
) {
    let now = Utc::now();
    let mut statuses: Vec<(AgencyId, String)> = Vec::new();
    match state.federation.get() {
        None => statuses.extend(to.iter().map(|a| (a.clone(), "this node has no federation".to_owned()))),
        Some(fed) => {
            let link = &fed.link;
            let kind = MessageType::new(BULLETIN).expect("a valid type");
            let partners = link.recipients(&kind);
            let me = link.config().agency.clone();
            let secret = link.identity().key.to_private_text();
            let mut items = Vec::new();
            let mut sent_to = Vec::new();
            for agency in to {
                if !partners.contains(agency) {
                    statuses.push((agency.clone(), "not a partner receiving bulletins".into()));
                    continue;
                }
                let pseudonymise = link.agreement_with(agency).and_then(|a| {
                    a.agreement.flow(b.id.origin.as_str(), agency.as_str(), Category::Bulletins).map(|f| f.plates)
                }) == Some(PlateRule::Pseudonymised);
                let mut copy = if pseudonymise {
                    b.pseudonymised(|plate| pseudonym(secret.as_bytes(), agency.as_str(), plate))
                } else {
                    b.clone()
                };
                if b.id.origin != me {
                    copy.forwarded_by = Some(me.clone());
                }
                let plates = if copy.vehicles.iter().any(|v| v.pseudonymised) {
                    PlateForm::Pseudonymised
                } else {
                    PlateForm::Clear
                };
                let Ok(payload) = serde_json::to_vec(&copy) else { continue };
                items.push(Outgoing {
                    partner: agency.clone(),
                    kind: kind.clone(),
                    stream: STREAM.into(),
                    payload,
                    about: Some(format!("bulletin:{}", b.id)),
                    labels: Some(Labels {
                        plates,
                        onward: onward.clone(),
                        ..Labels::full(Category::Bulletins, b.id.origin.as_str(), purpose)
                    }),
                    approved_request: false,
                });
                sent_to.push(agency.clone());
            }
            match link.send(items).await {
                Ok(results) => {
                    for (agency, r) in sent_to.into_iter().zip(results) {
                        let status = match r {
                            Ok(_) => "queued".to_owned(),
                            Err(e @ LinkError::NotAgreed { .. }) => format!("refused: {e}"),
                            Err(e) => format!("not sent: {e}"),
                        };
                        statuses.push((agency, status));
                    }
                }
                Err(e) => statuses.extend(sent_to.into_iter().map(|a| (a, format!("not sent: {e}")))),
            }
        }
    }
    let store = state.store.clone();
    let id = b.id.clone();
    let result = blocking(move || {
        statuses.iter().try_for_each(|(agency, status)| store.record_bulletin_copy(&id, agency.as_str(), status, now))
    })
    .await;
    if let Err(e) = result {
        tracing::error!(bulletin = %b.id, error = %e, "recording where a bulletin's copies went");
    }
}

/// Tells the issuer of a partner's bulletin that it was read here (once).
pub(crate) async fn send_receipt(state: &AppState, b: &Bulletin, read: DateTime<Utc>) {
    let Some(fed) = state.federation.get() else { return };
    let Ok(payload) = serde_json::to_vec(&ReceiptMessage { bulletin: b.id.clone(), read }) else { return };
    let item = Outgoing {
        partner: b.id.origin.clone(),
        kind: MessageType::new(RECEIPT).expect("a valid type"),
        stream: STREAM.into(),
        payload,
        about: Some(format!("bulletin:{}", b.id)),
        labels: None,
        approved_request: false,
    };
    match fed.link.send(vec![item]).await.map(|mut r| r.pop()) {
        Ok(Some(Ok(_))) => {}
        Ok(r) => tracing::info!(bulletin = %b.id, result = ?r, "no read receipt for the issuer (not a partner)"),
        Err(e) => tracing::error!(bulletin = %b.id, error = %e, "queuing a read receipt"),
    }
}

/// Checks and keeps a bulletin a partner sent.
pub(crate) async fn received(state: &AppState, r: &Received) -> Result<(), String> {
    let b: Bulletin = serde_json::from_slice(&r.payload).map_err(|e| e.to_string())?;
    b.check().map_err(|e| format!("bulletin {}: {e}", b.id))?;
    let labels = match r.labels.as_ref() {
        Some(l) if l.category == Category::Bulletins && l.origin == b.id.origin.as_str() => l,
        other => return Err(format!("bulletin {} labelled {other:?}", b.id)),
    };
    // From its issuer, or passed on by the agency the copy names, under the issuer's leave.
    if r.sender != b.id.origin && (b.forwarded_by.as_ref() != Some(&r.sender) || labels.onward.is_none()) {
        return Err(format!(
            "{} sent {}'s bulletin without forwarding it under the issuer's leave",
            r.sender, b.id.origin
        ));
    }
    if b.handling == bulletin::Handling::H2 && r.sender != b.id.origin {
        return Err(format!("bulletin {} is H2 and was passed on by {}", b.id, r.sender));
    }
    let pseudonymised = b.vehicles.iter().any(|v| v.pseudonymised);
    let clear = b.vehicles.iter().any(|v| !v.pseudonymised);
    match labels.plates {
        PlateForm::Pseudonymised if clear => return Err("a plate in clear in a bulletin labelled pseudonymised".into()),
        PlateForm::Clear if pseudonymised => return Err("a pseudonym in a bulletin labelled clear".into()),
        _ => {}
    }
    let (store, from, message) = (state.store.clone(), r.sender.to_string(), r.id.to_string());
    let id = b.id.clone();
    let new = blocking(move || store.put_partner_bulletin(&b, &from, &message, Utc::now())).await?;
    if new {
        push(state, &id).await;
    } else {
        tracing::debug!(message = %r.id, "a bulletin this node holds already");
    }
    Ok(())
}

/// Records a partner's read receipt for one of this node's bulletins.
pub(crate) async fn received_receipt(state: &AppState, r: &Received) -> Result<(), String> {
    let m: ReceiptMessage = serde_json::from_slice(&r.payload).map_err(|e| e.to_string())?;
    let me = state.access.options.agency.as_str();
    if m.bulletin.origin.as_str() != me {
        return Err(format!("a receipt for {}, not one of this agency's bulletins", m.bulletin));
    }
    let (store, from) = (state.store.clone(), r.sender.to_string());
    let id = m.bulletin.clone();
    let known = blocking(move || {
        if store.bulletin(&id)?.is_none() {
            return Ok(false);
        }
        store.record_bulletin_read(&id, &from, "", m.read.min(Utc::now())).map(|_| true)
    })
    .await?;
    if !known {
        return Err(format!("a receipt for bulletin {}, which this node never issued", m.bulletin));
    }
    push(state, &m.bulletin).await;
    Ok(())
}
