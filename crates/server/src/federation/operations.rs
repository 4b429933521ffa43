//! Joint operations across the border (issue #8, item 4).
//!
//! Every event a member writes (the opening, notes, tasks, hotlist entries, hits, the close)
//! travels as an `operation` message from its writer to every other member that is a partner
//! receiving operations, labelled `joint-operations` with the writer as origin and the purpose
//! the operation serves under the writer's law; the agreement with each member decides. An
//! operation's hotlist names plates in clear: a flow that wants them pseudonymised refuses its
//! events, and the page says so.

use limes_access::Regime;
use limes_agreement::{Category, Labels};
use limes_cooperation::operation::{OpChange, OpEvent, Operation};
use limes_federation::MessageType;
use limes_link::Received;
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};

use super::NotApplied;
use crate::AppState;

/// The message type of operation events.
pub const OPERATION: &str = "operation";
const STREAM: &str = "operations";
const MAX_EVENTS: usize = 200;

/// Operation events as they travel (version 1 of `operation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationMessage {
    pub events: Vec<OpEvent>,
}

/// What a joint operation's data is shared for, under the sender's law.
pub fn share_purpose(regime: Regime) -> &'static str {
    match regime {
        Regime::Led => "investigation",
        Regime::Gdpr => "public_task",
    }
}

/// Sends the events written here among `events` to every other member that is a partner.
/// The labels of what an operation's member sends the others: its events and documents.
pub(crate) fn labels(origin: &str, regime: Regime) -> Labels {
    Labels::full(Category::JointOperations, origin, share_purpose(regime))
}

pub(crate) async fn share(state: &AppState, op: &Operation, events: &[OpEvent]) {
    let Some(fed) = state.federation.get() else { return };
    let link = &fed.link;
    let me = link.config().agency.clone();
    let partners = link.recipients(&MessageType::new(OPERATION).expect("a valid type"));
    let recipients: Vec<AgencyId> = op.others(&me).into_iter().filter(|a| partners.contains(a)).collect();
    let mine: Vec<OpEvent> = events.iter().filter(|e| e.stamp.agency == me).cloned().collect();
    if recipients.is_empty() || mine.is_empty() {
        return;
    }
    let labels = labels(me.as_str(), link.config().regime);
    let messages = mine.chunks(MAX_EVENTS).map(|chunk| OperationMessage { events: chunk.to_vec() });
    super::send_events(link, OPERATION, STREAM, &format!("operation:{}", op.id), &labels, &recipients, messages).await;
}

/// Checks what a partner sent and stores it.
pub(crate) async fn received(state: &AppState, r: &Received) -> Result<(), NotApplied> {
    let events = check(state, r).map_err(NotApplied::Invalid)?;
    for e in &events {
        state.incidents.observe(&e.stamp).map_err(NotApplied::Invalid)?;
    }
    crate::operations::apply_partner_events(state, events).await.map_err(NotApplied::Store)
}

fn check(state: &AppState, r: &Received) -> Result<Vec<OpEvent>, String> {
    match r.labels.as_ref() {
        Some(l) if l.category == Category::JointOperations && l.origin == r.sender.as_str() => {}
        other => return Err(format!("operation events labelled {other:?}")),
    }
    let m: OperationMessage = serde_json::from_slice(&r.payload).map_err(|e| e.to_string())?;
    if m.events.is_empty() || m.events.len() > MAX_EVENTS {
        return Err(format!("{} events in one message (1 to {MAX_EVENTS})", m.events.len()));
    }
    let me = &state.federation.get().ok_or("no federation")?.link.config().agency;
    for e in &m.events {
        e.check().map_err(|err| format!("operation {}: {err}", e.operation))?;
        if e.stamp.agency != r.sender {
            return Err(format!("{} sent an event {} wrote: members send only their own", r.sender, e.stamp.agency));
        }
        if let OpChange::Opened { members, .. } = &e.change
            && !members.contains(me)
        {
            return Err(format!("operation {} does not name this agency a member", e.operation));
        }
    }
    Ok(m.events)
}
