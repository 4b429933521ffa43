//! Joint operations: a time-boxed workspace the participating agencies share — members, an
//! operation hotlist whose hits alert every participant, a shared timeline, tasks and
//! documents — closed by its origin, after which the agreed retention runs.
//!
//! Like an incident, an operation is the fold of its events ([`OpEvent`]), each stamped by its
//! writer's hybrid logical clock and sent by its writer to every other member; every node
//! folds the same events into the same operation. The origin opens, extends and closes it and
//! decides its members; every member adds notes, tasks, documents, hotlist entries and the hits
//! its cameras make on them. Nothing is applied after the close.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use limes_model::{AgencyId, GeoPoint, HotlistReason};
use serde::{Deserialize, Serialize};

use crate::clock::Stamp;
use crate::incident::Attachment;

/// An operation's id: the agency that opened it and its number there (`pl-policja/3`).
pub type OperationId = crate::SharedId;

/// The longest name, task title or note.
pub const MAX_NAME: usize = 200;
pub const MAX_TEXT: usize = 10_000;
/// The most members, and the most entries on an operation's hotlist.
pub const MAX_MEMBERS: usize = 32;
pub const MAX_ENTRIES: usize = 10_000;
/// The longest an operation may run (it is extended if it must run on).
pub const MAX_DURATION_DAYS: i64 = 366;

/// What an operation event does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case", deny_unknown_fields)]
pub enum OpChange {
    /// The origin opens the operation.
    Opened {
        name: String,
        #[serde(default)]
        description: String,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        members: Vec<AgencyId>,
        /// Days the operation's data is kept after it closes, as the members agreed.
        retention_days: u32,
    },
    /// The origin moves the end.
    Extended {
        until: DateTime<Utc>,
    },
    Note {
        text: String,
    },
    /// A task, named by its writer (`task` unique within the operation).
    Task {
        task: String,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee: Option<AgencyId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<DateTime<Utc>>,
    },
    TaskDone {
        task: String,
    },
    Document(Attachment),
    /// A vehicle on the operation's hotlist (canonical plate).
    Entry {
        plate: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        country: Option<String>,
        reason: HotlistReason,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
    },
    EntryRemoved {
        plate: String,
    },
    /// A member's camera read a vehicle on the operation's hotlist.
    Hit {
        plate: String,
        camera: String,
        time: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<GeoPoint>,
        /// `confirmed` or `possible`.
        kind: String,
    },
    /// The origin closes the operation: its hotlist stops matching, its retention starts.
    Closed,
}

/// One event of an operation's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpEvent {
    pub operation: OperationId,
    pub stamp: Stamp,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(flatten)]
    pub change: OpChange,
}

fn text(field: &str, s: &str, max: usize, multiline: bool) -> Result<(), String> {
    match crate::text_problem(s, max, multiline) {
        Some(crate::TextProblem::TooLong) => Err(format!("{field} is longer than {max} characters")),
        Some(crate::TextProblem::Control) => Err(format!("{field} contains control characters")),
        None => Ok(()),
    }
}

fn nonempty(field: &str, s: &str, max: usize) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err(format!("{field} is empty"));
    }
    text(field, s, max, false)
}

impl OpEvent {
    /// Checks what the event carries on its own, and that origin-only changes come from the
    /// origin.
    pub fn check(&self) -> Result<(), String> {
        let from_origin = self.stamp.agency == self.operation.origin;
        let origin_only = |what: &str| {
            if from_origin { Ok(()) } else { Err(format!("only the agency that opened {} may {what}", self.operation)) }
        };
        if let Some(by) = &self.by {
            text("by", by, 64, false)?;
        }
        match &self.change {
            OpChange::Opened { name, description, from, until, members, .. } => {
                origin_only("open it")?;
                nonempty("name", name, MAX_NAME)?;
                text("description", description, MAX_TEXT, true)?;
                if until <= from {
                    return Err(format!("it ends ({until}) before it starts ({from})"));
                }
                if *until - *from > Duration::days(MAX_DURATION_DAYS) {
                    return Err(format!("an operation runs at most {MAX_DURATION_DAYS} days; extend it later"));
                }
                if members.len() > MAX_MEMBERS {
                    return Err(format!("at most {MAX_MEMBERS} members"));
                }
            }
            OpChange::Extended { .. } => origin_only("extend it")?,
            OpChange::Closed => origin_only("close it")?,
            OpChange::Note { text: t } => {
                nonempty("note", t, MAX_TEXT)?;
                text("note", t, MAX_TEXT, true)?;
            }
            OpChange::Task { task, title, .. } => {
                nonempty("task", task, 64)?;
                nonempty("title", title, MAX_NAME)?;
            }
            OpChange::TaskDone { task } => nonempty("task", task, 64)?,
            OpChange::Document(a) => {
                nonempty("document name", &a.name, 255)?;
                for d in a.digests() {
                    if d.len() != 64 || !d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                        return Err(format!("document digest {d:?} is not 64 lower-case hex digits"));
                    }
                }
            }
            OpChange::Entry { plate, note, .. } => {
                nonempty("plate", plate, 32)?;
                text("note", note, MAX_NAME, false)?;
            }
            OpChange::EntryRemoved { plate } => nonempty("plate", plate, 32)?,
            OpChange::Hit { plate, camera, kind, .. } => {
                nonempty("plate", plate, 32)?;
                nonempty("camera", camera, 64)?;
                if !matches!(kind.as_str(), "confirmed" | "possible") {
                    return Err(format!("hit kind {kind:?} is not confirmed or possible"));
                }
            }
        }
        Ok(())
    }
}

/// A vehicle on the operation's hotlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub reason: HotlistReason,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    pub added_by: AgencyId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub task: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<AgencyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DateTime<Utc>>,
    pub by: AgencyId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpHit {
    pub plate: String,
    pub camera: String,
    pub time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<GeoPoint>,
    pub kind: String,
    /// The member whose camera read it.
    pub agency: AgencyId,
}

/// An operation as its events leave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub id: OperationId,
    pub name: String,
    pub description: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Every member, the origin first.
    pub members: Vec<AgencyId>,
    pub retention_days: u32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<DateTime<Utc>>,
    pub hotlist: BTreeMap<String, OpEntry>,
    pub tasks: Vec<Task>,
    pub documents: Vec<Attachment>,
    pub hits: Vec<OpHit>,
    pub notes: usize,
    pub updated: Stamp,
}

/// A timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpEntryApplied {
    #[serde(flatten)]
    pub event: OpEvent,
    pub applied: bool,
}

impl Operation {
    /// The operation its events make, and its timeline in causal order; `None` until it is
    /// opened.
    pub fn fold(events: &[OpEvent]) -> Option<(Operation, Vec<OpEntryApplied>)> {
        let sorted = crate::clock::causal_order(events, |e| &e.stamp);
        let mut op: Option<Operation> = None;
        let mut timeline = Vec::with_capacity(sorted.len());
        for e in sorted {
            let applied = match &mut op {
                None => match &e.change {
                    OpChange::Opened { name, description, from, until, members, retention_days }
                        if e.stamp.agency == e.operation.origin =>
                    {
                        let mut all = vec![e.operation.origin.clone()];
                        for m in members.iter().take(MAX_MEMBERS) {
                            if !all.contains(m) {
                                all.push(m.clone());
                            }
                        }
                        op = Some(Operation {
                            id: e.operation.clone(),
                            name: name.clone(),
                            description: description.clone(),
                            from: *from,
                            until: *until,
                            members: all,
                            retention_days: *retention_days,
                            exercise: e.exercise,
                            closed: None,
                            hotlist: BTreeMap::new(),
                            tasks: vec![],
                            documents: vec![],
                            hits: vec![],
                            notes: 0,
                            updated: e.stamp.clone(),
                        });
                        true
                    }
                    _ => false,
                },
                Some(o) => o.apply(e),
            };
            timeline.push(OpEntryApplied { event: e.clone(), applied });
        }
        op.map(|o| (o, timeline))
    }

    fn apply(&mut self, e: &OpEvent) -> bool {
        let by = &e.stamp.agency;
        let origin = *by == self.id.origin;
        if self.closed.is_some() || e.exercise != self.exercise || !self.members.contains(by) || e.operation != self.id
        {
            return false;
        }
        let applied = match &e.change {
            OpChange::Opened { .. } => false,
            OpChange::Extended { until } if origin && *until > self.from => {
                self.until = *until;
                true
            }
            OpChange::Closed if origin => {
                self.closed = Some(e.stamp.time());
                true
            }
            OpChange::Extended { .. } | OpChange::Closed => false,
            OpChange::Note { .. } => {
                self.notes += 1;
                true
            }
            OpChange::Task { task, title, assignee, due } => {
                if self.tasks.iter().any(|t| &t.task == task) {
                    false
                } else {
                    self.tasks.push(Task {
                        task: task.clone(),
                        title: title.clone(),
                        assignee: assignee.clone(),
                        due: *due,
                        by: by.clone(),
                        done: None,
                    });
                    true
                }
            }
            OpChange::TaskDone { task } => match self.tasks.iter_mut().find(|t| &t.task == task) {
                Some(t) if t.done.is_none() => {
                    t.done = Some(e.stamp.time());
                    true
                }
                _ => false,
            },
            OpChange::Document(a) => {
                self.documents.push(a.clone());
                true
            }
            OpChange::Entry { plate, country, reason, note } => {
                if self.hotlist.len() >= MAX_ENTRIES && !self.hotlist.contains_key(plate) {
                    false
                } else {
                    let entry =
                        OpEntry { country: country.clone(), reason: *reason, note: note.clone(), added_by: by.clone() };
                    self.hotlist.insert(plate.clone(), entry);
                    true
                }
            }
            OpChange::EntryRemoved { plate } => self.hotlist.remove(plate).is_some(),
            OpChange::Hit { plate, camera, time, position, kind } => {
                self.hits.push(OpHit {
                    plate: plate.clone(),
                    camera: camera.clone(),
                    time: *time,
                    position: *position,
                    kind: kind.clone(),
                    agency: by.clone(),
                });
                true
            }
        };
        if applied {
            self.updated = e.stamp.clone();
        }
        applied
    }

    /// Whether its hotlist matches at `now`: between its start and end, not closed.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.closed.is_none() && self.from <= now && now < self.until
    }

    /// When its data is to be deleted: the agreed retention after the close.
    pub fn delete_after(&self) -> Option<DateTime<Utc>> {
        self.closed.map(|c| c + Duration::days(i64::from(self.retention_days)))
    }

    /// Every member but `me`: where an event written at `me` goes.
    pub fn others(&self, me: &AgencyId) -> Vec<AgencyId> {
        self.members.iter().filter(|a| *a != me).cloned().collect()
    }
}
