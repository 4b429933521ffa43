//! Incidents across the border (issue #8, item 1).
//!
//! Every event an agency writes on an incident (the raise, a note, an acknowledgement, a status
//! change, an escalation) travels as an `incident` message from its writer to each other agency
//! the incident involves, labelled with the category `incidents`, the writer as origin and the
//! purpose its regime gives incidents; the agreement with each recipient decides, as for any
//! data. An agency sends only what it wrote: a partner's note reaches a third agency only from
//! that partner, under their own agreement, never relayed. Each node stores the events it
//! receives and folds them with its own, so both sides see one timeline in causal order.

use limes_access::Regime;
use limes_agreement::{Category, Labels, PlateForm};
use limes_cooperation::incident::{Change, Event, Incident};
use limes_federation::MessageType;
use limes_link::Received;
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};

use crate::AppState;

/// The message type of incident events.
pub const INCIDENT: &str = "incident";
/// Incident events travel in one stream per partner, in the order they were written.
const STREAM: &str = "incidents";
/// The most events one message carries (an escalation re-sends the whole incident).
const MAX_EVENTS: usize = 200;

/// Incident events as they travel (version 1 of `incident`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentMessage {
    pub events: Vec<Event>,
}

/// What incidents are shared for, under the sender's law: what the agreement's purposes for
/// incidents are checked against.
pub fn share_purpose(regime: Regime) -> &'static str {
    match regime {
        Regime::Led => "public_security",
        Regime::Gdpr => "public_task",
    }
}

/// What an incident event is, for the agreement: no plates (an incident names places, not
/// vehicles), no images (attachments travel apart).
pub(crate) fn labels(origin: &str, purpose: &str) -> Labels {
    Labels { plates: PlateForm::None, ..Labels::full(Category::Incidents, origin, purpose) }
}

/// Sends the events written here among `events` to the other agencies `incident` involves
/// (or only to `only`) that are partners receiving incidents.
pub(crate) async fn share(state: &AppState, incident: &Incident, events: &[Event], only: Option<&AgencyId>) {
    let Some(fed) = state.federation.get() else { return };
    let link = &fed.link;
    let kind = MessageType::new(INCIDENT).expect("a valid type");
    let me = link.config().agency.clone();
    let partners = link.recipients(&kind);
    let recipients: Vec<AgencyId> = incident
        .others(&me)
        .into_iter()
        .filter(|a| only.is_none_or(|o| o == a))
        .filter(|a| {
            let partner = partners.contains(a);
            if !partner {
                tracing::info!(incident = %incident.id, agency = %a, "not a partner receiving incidents: told by other means");
            }
            partner
        })
        .collect();
    let mine: Vec<Event> = events.iter().filter(|e| e.stamp.agency == me).cloned().collect();
    if recipients.is_empty() || mine.is_empty() {
        return;
    }
    let labels = labels(me.as_str(), share_purpose(link.config().regime));
    let messages = mine.chunks(MAX_EVENTS).map(|chunk| IncidentMessage { events: chunk.to_vec() });
    super::send_events(link, INCIDENT, STREAM, &format!("incident:{}", incident.id), &labels, &recipients, messages)
        .await;
}

pub(crate) use super::NotApplied;

/// Checks what a partner sent and stores it.
pub(crate) async fn received(state: &AppState, r: &Received) -> Result<(), NotApplied> {
    check(state, r)
        .map_err(NotApplied::Invalid)
        .map(|events| async move {
            for e in &events {
                state.incidents.observe(&e.stamp).map_err(NotApplied::Invalid)?;
            }
            crate::incidents::apply_partner_events(state, events).await.map_err(NotApplied::Store)
        })?
        .await
}

fn check(state: &AppState, r: &Received) -> Result<Vec<Event>, String> {
    match r.labels.as_ref() {
        Some(l) if l.category == Category::Incidents && l.origin == r.sender.as_str() => {}
        other => return Err(format!("incident events labelled {other:?}")),
    }
    let m: IncidentMessage = serde_json::from_slice(&r.payload).map_err(|e| e.to_string())?;
    if m.events.is_empty() || m.events.len() > MAX_EVENTS {
        return Err(format!("{} events in one message (1 to {MAX_EVENTS})", m.events.len()));
    }
    let me = &state.federation.get().ok_or("no federation")?.link.config().agency;
    for e in &m.events {
        e.check().map_err(|err| format!("incident {}: {err}", e.incident))?;
        if e.stamp.agency != r.sender {
            return Err(format!("{} sent an event {} wrote: agencies send only their own", r.sender, e.stamp.agency));
        }
        if let Change::Raised { notified, .. } = &e.change
            && !notified.contains(me)
        {
            return Err(format!("incident {} does not notify this agency", e.incident));
        }
    }
    Ok(m.events)
}
