//! Incidents (floods, fires, chemical accidents, pursuits...) that agencies on both sides
//! manage together.
//!
//! An incident is the fold of its **events**: the origin raises it, names the agencies it
//! notifies, changes its status and severity and escalates; every agency notified adds notes
//! and attachments and acknowledges. Each event is stamped by its writer's hybrid logical
//! clock ([`crate::clock`]) and travels to the other agencies on its own, so every node holds
//! the same events whatever order they arrived in, and [`Incident::fold`] gives every node the
//! same incident and the same timeline. An event its writer had no right to write (a note from
//! an agency never notified, a status change by anyone but the origin) stays in the record but
//! changes nothing.
//!
//! A notified agency must acknowledge within a deadline set per severity ([`AckDeadlines`]);
//! past it, [`due_escalations`] says which agency's notification to escalate: the origin sends
//! the incident again and tells its supervisors, once per deadline missed, up to a limit.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};

use crate::area::Area;
use crate::clock::Stamp;

/// The longest title.
pub const MAX_TITLE: usize = 200;
/// The longest description or note.
pub const MAX_TEXT: usize = 10_000;
/// The most agencies one incident notifies.
pub const MAX_NOTIFIED: usize = 64;

code_list!(
    /// What happened.
    IncidentType {
        Flood = "flood",
        Fire = "fire",
        Chemical = "chemical",
        TrafficAccident = "traffic-accident",
        Pursuit = "pursuit",
        MissingPerson = "missing-person",
        BorderBreach = "border-breach",
        PublicOrder = "public-order",
        /// A border crossing closed (one of the Czech–Polish project's examples).
        CrossingClosed = "crossing-closed",
        Other = "other",
    }
);

code_list!(
    /// How serious it is; sets the acknowledgement deadline.
    Severity {
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
);

code_list!(
    /// Where the response stands.
    Status {
        Reported = "reported",
        Responding = "responding",
        Contained = "contained",
        Closed = "closed",
    }
);

/// An incident's id: the agency that raised it and its number there (`ro-isu/17`), the same
/// on every node.
pub type IncidentId = crate::SharedId;

/// A file attached to an incident (a photo, drone footage, a document), known by its digest;
/// the bytes travel beside the event. A picture travels only as its anonymised copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub name: String,
    pub media_type: String,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    pub bytes: u64,
    /// For a picture: the copy with faces and plates blurred, which is what partners receive
    /// (the picture as taken stays on the node that attached it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymised: Option<AnonymisedCopy>,
}

/// A picture's copy with faces and plate-shaped texts blurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnonymisedCopy {
    /// SHA-256 of the copy's bytes, lower-case hex.
    pub sha256: String,
    pub bytes: u64,
    /// What was found and blurred.
    pub faces: u32,
    pub plates: u32,
}

impl Attachment {
    /// The digests of the files it names: its own, and its anonymised copy's.
    pub fn digests(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.sha256.as_str()).chain(self.anonymised.as_ref().map(|c| c.sha256.as_str()))
    }
}

/// What an event does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Change {
    /// The origin raises the incident and notifies agencies.
    Raised {
        #[serde(rename = "type")]
        kind: IncidentType,
        severity: Severity,
        title: String,
        #[serde(default)]
        description: String,
        area: Area,
        notified: Vec<AgencyId>,
    },
    /// Free text from any agency involved.
    Note { text: String },
    /// The origin moves the response on.
    Status { status: Status },
    /// The origin re-assesses the severity (and so the acknowledgement deadline).
    Severity { severity: Severity },
    /// A notified agency has seen the notification.
    Acknowledged,
    /// A file, from any agency involved.
    Attached(Attachment),
    /// The origin notifies more agencies.
    Notified { agencies: Vec<AgencyId> },
    /// The origin escalates an agency's unacknowledged notification (sent again, supervisors
    /// told).
    Escalated { agency: AgencyId, attempt: u32 },
}

/// One entry of an incident's timeline. (Unknown fields are refused by [`Change`]: serde's
/// `flatten` hands it every field `Event` does not name.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub incident: IncidentId,
    pub stamp: Stamp,
    /// Part of an exercise (`limes exercise run`), never real.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
    /// Who wrote it at the writing agency (an account name), for the timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(flatten)]
    pub change: Change,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IncidentError {
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{field} contains control characters")]
    Control { field: &'static str },
    #[error("an incident notifies at most {MAX_NOTIFIED} agencies")]
    TooMany,
    #[error("only the agency that raised {incident} may {what}")]
    NotOrigin { incident: IncidentId, what: &'static str },
    #[error("attachment digest {0:?} is not 64 lower-case hex digits")]
    Digest(String),
}

fn text(field: &'static str, s: &str, max: usize, multiline: bool) -> Result<(), IncidentError> {
    match crate::text_problem(s, max, multiline) {
        Some(crate::TextProblem::TooLong) => Err(IncidentError::TooLong { field, max }),
        Some(crate::TextProblem::Control) => Err(IncidentError::Control { field }),
        None => Ok(()),
    }
}

impl Event {
    /// Checks what the event carries, on its own: lengths, characters, digests, and that what
    /// only the origin may write is written by the origin. Whether a notified agency may write
    /// depends on the other events and is [`Incident::fold`]'s to judge.
    pub fn check(&self) -> Result<(), IncidentError> {
        let from_origin = self.stamp.agency == self.incident.origin;
        let origin_only = |what| {
            if from_origin { Ok(()) } else { Err(IncidentError::NotOrigin { incident: self.incident.clone(), what }) }
        };
        if let Some(by) = &self.by {
            text("by", by, 64, false)?;
        }
        match &self.change {
            Change::Raised { title, description, notified, .. } => {
                origin_only("raise it")?;
                if title.trim().is_empty() {
                    return Err(IncidentError::Empty("title"));
                }
                text("title", title, MAX_TITLE, false)?;
                text("description", description, MAX_TEXT, true)?;
                if notified.len() > MAX_NOTIFIED {
                    return Err(IncidentError::TooMany);
                }
            }
            Change::Note { text: t } => {
                if t.trim().is_empty() {
                    return Err(IncidentError::Empty("note"));
                }
                text("note", t, MAX_TEXT, true)?;
            }
            Change::Status { .. } => origin_only("change its status")?,
            Change::Severity { .. } => origin_only("change its severity")?,
            Change::Notified { agencies } => {
                origin_only("notify agencies")?;
                if agencies.len() > MAX_NOTIFIED {
                    return Err(IncidentError::TooMany);
                }
            }
            Change::Escalated { .. } => origin_only("escalate")?,
            Change::Acknowledged => {}
            Change::Attached(a) => {
                if a.name.trim().is_empty() {
                    return Err(IncidentError::Empty("attachment name"));
                }
                text("attachment name", &a.name, 255, false)?;
                text("media type", &a.media_type, 127, false)?;
                for d in a.digests() {
                    if d.len() != 64 || !d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                        return Err(IncidentError::Digest(d.to_owned()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// An agency notified of an incident, and where its acknowledgement stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// When it was notified (the deadline counts from here).
    pub since: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<DateTime<Utc>>,
    /// How many times its notification was escalated.
    pub escalations: u32,
}

/// An incident as its events leave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    #[serde(rename = "type")]
    pub kind: IncidentType,
    pub severity: Severity,
    pub status: Status,
    pub title: String,
    pub description: String,
    pub area: Area,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
    pub raised: DateTime<Utc>,
    /// The stamp of the last event that changed it.
    pub updated: Stamp,
    pub notified: BTreeMap<AgencyId, Notice>,
    pub attachments: Vec<Attachment>,
    pub notes: usize,
}

/// A timeline entry: the event, and whether it changed anything (an event its writer had no
/// right to write is shown as such).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub event: Event,
    pub applied: bool,
}

impl Incident {
    /// The incident its events make, and its timeline in causal order; `None` until the event
    /// that raises it is among them.
    pub fn fold(events: &[Event]) -> Option<(Incident, Vec<Entry>)> {
        let sorted = crate::clock::causal_order(events, |e| &e.stamp);
        let mut incident: Option<Incident> = None;
        let mut timeline = Vec::with_capacity(sorted.len());
        for e in sorted {
            let applied = match &mut incident {
                None => match &e.change {
                    Change::Raised { kind, severity, title, description, area, notified }
                        if e.stamp.agency == e.incident.origin =>
                    {
                        let since = e.stamp.time();
                        let notified = notified
                            .iter()
                            .filter(|a| **a != e.incident.origin)
                            .map(|a| (a.clone(), Notice { since, acknowledged: None, escalations: 0 }))
                            .collect();
                        incident = Some(Incident {
                            id: e.incident.clone(),
                            kind: *kind,
                            severity: *severity,
                            status: Status::Reported,
                            title: title.clone(),
                            description: description.clone(),
                            area: area.clone(),
                            exercise: e.exercise,
                            raised: since,
                            updated: e.stamp.clone(),
                            notified,
                            attachments: vec![],
                            notes: 0,
                        });
                        true
                    }
                    _ => false,
                },
                Some(i) => i.apply(e),
            };
            timeline.push(Entry { event: e.clone(), applied });
        }
        incident.map(|i| (i, timeline))
    }

    fn apply(&mut self, e: &Event) -> bool {
        let by = &e.stamp.agency;
        let origin = *by == self.id.origin;
        let involved = origin || self.notified.contains_key(by);
        if e.exercise != self.exercise || !involved || e.incident != self.id {
            return false;
        }
        let applied = match &e.change {
            Change::Raised { .. } => false,
            Change::Note { .. } => {
                self.notes += 1;
                true
            }
            Change::Attached(a) => {
                self.attachments.push(a.clone());
                true
            }
            Change::Acknowledged => match self.notified.get_mut(by) {
                Some(n) if n.acknowledged.is_none() => {
                    n.acknowledged = Some(e.stamp.time());
                    true
                }
                _ => false,
            },
            _ if !origin => false,
            Change::Status { status } => {
                self.status = *status;
                true
            }
            Change::Severity { severity } => {
                self.severity = *severity;
                true
            }
            Change::Notified { agencies } => {
                let since = e.stamp.time();
                let mut added = false;
                for a in agencies.iter().filter(|a| **a != self.id.origin) {
                    if self.notified.len() >= MAX_NOTIFIED {
                        break;
                    }
                    if !self.notified.contains_key(a) {
                        self.notified.insert(a.clone(), Notice { since, acknowledged: None, escalations: 0 });
                        added = true;
                    }
                }
                added
            }
            Change::Escalated { agency, attempt } => match self.notified.get_mut(agency) {
                Some(n) if n.acknowledged.is_none() && *attempt == n.escalations + 1 => {
                    n.escalations = *attempt;
                    true
                }
                _ => false,
            },
        };
        if applied {
            self.updated = e.stamp.clone();
        }
        applied
    }

    /// Every agency involved but `me`: where an event written at `me` goes.
    pub fn others(&self, me: &AgencyId) -> Vec<AgencyId> {
        std::iter::once(&self.id.origin).chain(self.notified.keys()).filter(|a| *a != me).cloned().collect()
    }
}

/// How long a notified agency has to acknowledge, by severity, and how many times an
/// unacknowledged notification is escalated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckDeadlines {
    pub low: Duration,
    pub medium: Duration,
    pub high: Duration,
    pub critical: Duration,
    pub max_escalations: u32,
}

impl Default for AckDeadlines {
    /// Minutes for what threatens life now, hours for what can wait: the acknowledgement says
    /// a person at the partner's centre has seen it, not that the response has started.
    fn default() -> Self {
        Self {
            low: Duration::hours(4),
            medium: Duration::hours(1),
            high: Duration::minutes(15),
            critical: Duration::minutes(5),
            max_escalations: 3,
        }
    }
}

impl AckDeadlines {
    pub fn for_severity(&self, s: Severity) -> Duration {
        match s {
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }

    /// When `notice` must be acknowledged by (its next deadline once escalated).
    pub fn deadline(&self, severity: Severity, notice: &Notice) -> DateTime<Utc> {
        notice.since + self.for_severity(severity) * (notice.escalations as i32 + 1)
    }
}

/// The escalations due at `now` on an open incident: each agency whose deadline passed without
/// an acknowledgement, with the attempt's number (one per deadline missed, up to the limit).
pub fn due_escalations(incident: &Incident, policy: &AckDeadlines, now: DateTime<Utc>) -> Vec<(AgencyId, u32)> {
    if incident.status == Status::Closed {
        return vec![];
    }
    incident
        .notified
        .iter()
        .filter(|(_, n)| n.acknowledged.is_none() && n.escalations < policy.max_escalations)
        .filter(|(_, n)| now >= policy.deadline(incident.severity, n))
        .map(|(a, n)| (a.clone(), n.escalations + 1))
        .collect()
}
