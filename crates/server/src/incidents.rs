//! Incidents on the node: raised here or by partners, written to by every agency involved,
//! escalated when a partner does not acknowledge in time (`limes-cooperation` holds the rules).
//!
//! Every event written here is stamped by the node's hybrid logical clock, stored (the store
//! folds the incident again in the same transaction), pushed on the live stream
//! (`GET /api/v1/incidents/stream`) and handed to `federation::incidents`, which sends it to
//! each other agency involved under the sharing agreement with it. What partners send comes
//! back through [`apply_partner_events`].
//!
//! Escalation runs on the origin's node: every `check_every`, each open incident raised here
//! is checked against the acknowledgement deadlines; for each partner past its deadline the
//! node writes an `escalated` event, sends that partner the whole incident again, and pushes
//! the escalation to its own supervisors on the live stream.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use limes_cooperation::area::Area;
use limes_cooperation::clock::{Clock, Stamp};
use limes_cooperation::incident::{
    AckDeadlines, Change, Entry, Event, Incident, IncidentId, IncidentType, Severity, due_escalations,
};
use limes_model::AgencyId;
use limes_store::IncidentQuery;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::AppState;
use crate::federation::blocking;

/// How incidents run on this node.
#[derive(Debug, Clone)]
pub struct IncidentOptions {
    pub deadlines: AckDeadlines,
    /// How often the origin checks acknowledgement deadlines.
    pub check_every: std::time::Duration,
}

impl Default for IncidentOptions {
    fn default() -> Self {
        Self { deadlines: AckDeadlines::default(), check_every: std::time::Duration::from_secs(5) }
    }
}

/// The node's incident clock and live stream.
#[derive(Debug)]
pub struct Hub {
    clock: Mutex<Clock>,
    /// Each change, serialised once ([`Pushed`]), fanned out to every subscriber.
    pub live: broadcast::Sender<Live>,
    /// Each joint operation as it changed (`operations`), the same way.
    pub operations: broadcast::Sender<Live>,
}

/// A change on the live stream: the incident's origin and when it was raised (what the
/// agreement with a partner origin rules on) and the [`Pushed`] JSON.
#[derive(Debug, Clone)]
pub struct Live {
    pub origin: AgencyId,
    pub raised: DateTime<Utc>,
    pub json: Arc<str>,
}

impl Hub {
    pub(crate) fn new(agency: &str, latest: Option<Stamp>) -> Self {
        let agency = AgencyId::new(agency).unwrap_or_else(|_| AgencyId::new("local").expect("a valid id"));
        let mut clock = Clock::new(agency);
        if let Some(s) = latest {
            clock.restore(&s);
        }
        Self { clock: Mutex::new(clock), live: broadcast::channel(4096).0, operations: broadcast::channel(4096).0 }
    }

    pub(crate) fn stamp(&self) -> Stamp {
        self.clock.lock().unwrap_or_else(|e| e.into_inner()).stamp(Utc::now())
    }

    pub(crate) fn observe(&self, s: &Stamp) -> Result<(), String> {
        self.clock.lock().unwrap_or_else(|e| e.into_inner()).observe(s, Utc::now()).map_err(|e| e.to_string())
    }
}

/// What the live stream carries: an incident as it now is, and for the origin's supervisors
/// the agencies whose notification was just escalated.
#[derive(Debug, Serialize)]
pub struct Pushed<'a> {
    pub incident: &'a Incident,
    /// When the agency that must acknowledge next has to (the earliest open deadline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_deadline: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub escalated: &'a [AgencyId],
}

/// An incident as the API shows it: with each notified agency's deadline.
#[derive(Debug, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub incident: Incident,
    pub deadlines: std::collections::BTreeMap<AgencyId, DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<Entry>>,
}

impl Shown {
    pub fn new(state: &AppState, incident: Incident, timeline: Option<Vec<Entry>>) -> Self {
        let d = &state.options.incidents.deadlines;
        let deadlines = incident
            .notified
            .iter()
            .filter(|(_, n)| n.acknowledged.is_none())
            .map(|(a, n)| (a.clone(), d.deadline(incident.severity, n)))
            .collect();
        Self { incident, deadlines, timeline }
    }
}

/// Why an incident could not be written.
#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("{0}")]
    Invalid(String),
    #[error("incident {0} not found")]
    NotFound(IncidentId),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Failed(String),
}

/// A new incident.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub kind: IncidentType,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub area: Area,
    pub notified: Vec<AgencyId>,
    pub exercise: bool,
    pub by: String,
}

fn me(state: &AppState) -> Result<AgencyId, IncidentError> {
    AgencyId::new(state.access.options.agency.as_str()).map_err(|e| IncidentError::Failed(e.to_string()))
}

/// Raises an incident here and notifies the agencies it names.
pub async fn raise(state: &AppState, new: NewIncident) -> Result<Incident, IncidentError> {
    let me = me(state)?;
    let mut notified = new.notified.clone();
    notified.sort();
    notified.dedup();
    notified.retain(|a| *a != me);
    let mut event = Event {
        // Numbered by the store, in the transaction that keeps it.
        incident: IncidentId { origin: me.clone(), n: 0 },
        stamp: state.incidents.stamp(),
        exercise: new.exercise,
        by: Some(new.by),
        change: Change::Raised {
            kind: new.kind,
            severity: new.severity,
            title: new.title,
            description: new.description,
            area: new.area,
            notified,
        },
    };
    event.check().map_err(|e| IncidentError::Invalid(e.to_string()))?;
    let make = move |id: IncidentId| {
        event.incident = id;
        vec![event]
    };
    let store = state.store.clone();
    let incident =
        blocking(move || store.raise_incident(&me, Utc::now(), make)).await.map_err(IncidentError::Failed)?;
    let events = state.store.incident_events(&incident.id).map_err(|e| IncidentError::Failed(e.to_string()))?;
    push(state, &incident, &[]);
    crate::federation::incidents::share(state, &incident, &events, None).await;
    Ok(incident)
}

/// Writes `change` on incident `id` as this agency.
pub async fn write(
    state: &AppState,
    id: &IncidentId,
    by: &str,
    change: Change,
) -> Result<(Incident, Event), IncidentError> {
    let me = me(state)?;
    let store = state.store.clone();
    let current = {
        let id = id.clone();
        blocking(move || store.incident(&id)).await.map_err(IncidentError::Failed)?
    };
    let Some((incident, _)) = current else { return Err(IncidentError::NotFound(id.clone())) };
    if incident.id.origin != me && !incident.notified.contains_key(&me) {
        return Err(IncidentError::NotFound(id.clone()));
    }
    let event = Event {
        incident: id.clone(),
        stamp: state.incidents.stamp(),
        exercise: incident.exercise,
        by: Some(by.to_owned()),
        change,
    };
    event.check().map_err(|e| IncidentError::Invalid(e.to_string()))?;
    // What would not change the incident is refused rather than stored and sent: an
    // acknowledgement given already, an escalation out of turn.
    let mut events = state.store.incident_events(id).map_err(|e| IncidentError::Failed(e.to_string()))?;
    events.push(event.clone());
    match Incident::fold(&events) {
        Some((_, timeline)) if timeline.iter().any(|e| e.event == event && e.applied) => {}
        _ => return Err(IncidentError::Conflict(format!("this would not change incident {id}"))),
    }
    let store = state.store.clone();
    let changed = {
        let event = event.clone();
        blocking(move || store.add_incident_events(&[event], Utc::now())).await.map_err(IncidentError::Failed)?
    };
    let incident =
        changed.into_iter().next().ok_or_else(|| IncidentError::Failed("the event was not stored".into()))?;
    let escalated: Vec<AgencyId> = match &event.change {
        Change::Escalated { agency, .. } => vec![agency.clone()],
        _ => vec![],
    };
    push(state, &incident, &escalated);
    crate::federation::incidents::share(state, &incident, std::slice::from_ref(&event), None).await;
    Ok((incident, event))
}

/// Stores what a partner wrote (checked by `federation::incidents`, the clock moved past it)
/// and pushes what changed.
pub(crate) async fn apply_partner_events(state: &AppState, events: Vec<Event>) -> Result<(), String> {
    let store = state.store.clone();
    let changed = blocking(move || store.add_incident_events(&events, Utc::now())).await?;
    for i in &changed {
        push(state, i, &[]);
    }
    Ok(())
}

fn push(state: &AppState, incident: &Incident, escalated: &[AgencyId]) {
    let d = &state.options.incidents.deadlines;
    let next_deadline =
        incident.notified.values().filter(|n| n.acknowledged.is_none()).map(|n| d.deadline(incident.severity, n)).min();
    if let Ok(json) = serde_json::to_string(&Pushed { incident, next_deadline, escalated }) {
        let live = Live { origin: incident.id.origin.clone(), raised: incident.raised, json: json.into() };
        let _ = state.incidents.live.send(live);
    }
}

/// Escalates, every `check_every`, what partners did not acknowledge in time; and keeps the
/// joint operations' hotlist and retention (`operations::housekeeping`).
pub async fn escalate(state: AppState) {
    let every = state.options.incidents.check_every.max(std::time::Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = escalate_once(&state).await {
            tracing::error!(error = %e, "checking acknowledgement deadlines; will retry");
        }
        crate::operations::housekeeping(&state).await;
    }
}

async fn escalate_once(state: &AppState) -> Result<(), IncidentError> {
    let me = me(state)?;
    let store = state.store.clone();
    let open = blocking(move || store.incidents(&IncidentQuery { closed: false, exercise: None, limit: 10_000 }))
        .await
        .map_err(IncidentError::Failed)?;
    let now = Utc::now();
    for incident in open.iter().filter(|i| i.id.origin == me) {
        for (agency, attempt) in due_escalations(incident, &state.options.incidents.deadlines, now) {
            let change = Change::Escalated { agency: agency.clone(), attempt };
            match write(state, &incident.id, "limes", change).await {
                Ok((incident, _)) => {
                    tracing::warn!(incident = %incident.id, partner = %agency, attempt, "not acknowledged in time: escalated");
                    // The partner gets the whole incident again (what it may have missed).
                    let events =
                        state.store.incident_events(&incident.id).map_err(|e| IncidentError::Failed(e.to_string()))?;
                    let mine: Vec<Event> = events.into_iter().filter(|e| e.stamp.agency == me).collect();
                    crate::federation::incidents::share(state, &incident, &mine, Some(&agency)).await;
                }
                Err(e) => tracing::error!(incident = %incident.id, partner = %agency, error = %e, "escalating"),
            }
        }
    }
    Ok(())
}

/// Keeps `bytes` as a file of incident `id` (named `name`, of `media_type`), writes the
/// `attached` event, and sends the file to each partner the event may go to (`files::send`):
/// a picture as its anonymised copy (`files::for_partners`), which the event names beside it.
pub async fn attach(
    state: &AppState,
    id: &IncidentId,
    by: &str,
    name: String,
    media_type: String,
    bytes: bytes::Bytes,
) -> Result<Incident, IncidentError> {
    if bytes.is_empty() {
        return Err(IncidentError::Invalid("the attachment is empty".into()));
    }
    // A picture crosses only anonymised; one that does not decode is refused before anything is kept.
    let (attachment, shared) =
        crate::files::shared_file(state, name, media_type, &bytes).await.map_err(IncidentError::Invalid)?;
    let sha256 = attachment.sha256.clone();
    // Checked before the file is written: a refused name leaves nothing behind.
    let probe = Event {
        incident: id.clone(),
        stamp: Stamp { ms: 0, n: 0, agency: id.origin.clone() },
        exercise: false,
        by: None,
        change: Change::Attached(attachment.clone()),
    };
    probe.check().map_err(|e| IncidentError::Invalid(e.to_string()))?;
    let (_, path) = crate::files::keep(state, bytes)
        .await
        .map_err(|e| IncidentError::Failed(format!("writing the attachment: {e}")))?;
    let what = format!("attachment {sha256} of incident {id}");
    let to_send = crate::files::keep_for_partners(state, shared, path, &what)
        .await
        .map_err(|e| IncidentError::Failed(format!("writing the attachment's anonymised copy: {e}")))?;
    let (incident, _) = write(state, id, by, Change::Attached(attachment)).await?;
    if let (Some(fed), Some(path)) = (state.federation.get(), to_send) {
        let me = fed.link.config().agency.clone();
        let labels = crate::federation::incidents::labels(
            me.as_str(),
            crate::federation::incidents::share_purpose(fed.link.config().regime),
        );
        let partners = fed.link.recipients(
            &limes_federation::MessageType::new(crate::federation::incidents::INCIDENT).expect("a valid type"),
        );
        let to = incident.others(&me).into_iter().filter(|a| partners.contains(a)).collect();
        crate::files::send(state, &path, to, &labels, &what);
    }
    Ok(incident)
}
