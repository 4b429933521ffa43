//! What agencies write together — incidents and joint operations — kept as the events every
//! agency involved wrote (one row per writer's stamp, so a message applied twice adds nothing),
//! and each incident or operation as its events fold, refolded in the transaction that adds an
//! event. [`Folded`] is what the two share.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use limes_cooperation::clock::Stamp;
use limes_cooperation::incident::{Entry, Event, Incident, IncidentId};
use limes_cooperation::operation::{OpEntryApplied, OpEvent, Operation};
use limes_model::AgencyId;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Store, StoreError, corrupt, to_us, write_transaction};

/// Which incidents or operations to list.
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    /// Closed ones too.
    pub closed: bool,
    /// Exercise ones only (`Some(true)`), real ones only (`Some(false)`), or both.
    pub exercise: Option<bool>,
    pub limit: usize,
}

/// One incident or operation and its timeline.
pub type WithTimeline<F> = (F, Vec<<F as Folded>::Entry>);

/// Something several agencies write together, kept as events and as their fold.
pub trait Folded: Serialize + DeserializeOwned + Sized {
    type Event: Serialize + DeserializeOwned;
    type Entry;
    /// Tables: the events (keyed by the thing's id in column `thing`), and the folds.
    const EVENTS: &'static str;
    const STATES: &'static str;
    fn id_of(e: &Self::Event) -> &IncidentId;
    fn stamp_of(e: &Self::Event) -> &Stamp;
    fn exercise_of(e: &Self::Event) -> bool;
    fn fold(events: &[Self::Event]) -> Option<(Self, Vec<Self::Entry>)>;
    fn id(&self) -> &IncidentId;
    fn closed(&self) -> bool;
    fn started(&self) -> DateTime<Utc>;
    fn updated(&self) -> &Stamp;
    fn delete_after(&self) -> Option<DateTime<Utc>>;
}

impl Folded for Incident {
    type Event = Event;
    type Entry = Entry;
    const EVENTS: &'static str = "incident_events";
    const STATES: &'static str = "incidents";
    fn id_of(e: &Event) -> &IncidentId {
        &e.incident
    }
    fn stamp_of(e: &Event) -> &Stamp {
        &e.stamp
    }
    fn exercise_of(e: &Event) -> bool {
        e.exercise
    }
    fn fold(events: &[Event]) -> Option<(Self, Vec<Entry>)> {
        Incident::fold(events)
    }
    fn id(&self) -> &IncidentId {
        &self.id
    }
    fn closed(&self) -> bool {
        self.status == limes_cooperation::incident::Status::Closed
    }
    fn started(&self) -> DateTime<Utc> {
        self.raised
    }
    fn updated(&self) -> &Stamp {
        &self.updated
    }
    fn delete_after(&self) -> Option<DateTime<Utc>> {
        None
    }
}

impl Folded for Operation {
    type Event = OpEvent;
    type Entry = OpEntryApplied;
    const EVENTS: &'static str = "operation_events";
    const STATES: &'static str = "operations";
    fn id_of(e: &OpEvent) -> &IncidentId {
        &e.operation
    }
    fn stamp_of(e: &OpEvent) -> &Stamp {
        &e.stamp
    }
    fn exercise_of(e: &OpEvent) -> bool {
        e.exercise
    }
    fn fold(events: &[OpEvent]) -> Option<(Self, Vec<OpEntryApplied>)> {
        Operation::fold(events)
    }
    fn id(&self) -> &IncidentId {
        &self.id
    }
    fn closed(&self) -> bool {
        self.closed.is_some()
    }
    fn started(&self) -> DateTime<Utc> {
        self.from
    }
    fn updated(&self) -> &Stamp {
        &self.updated
    }
    fn delete_after(&self) -> Option<DateTime<Utc>> {
        Operation::delete_after(self)
    }
}

fn events_in<F: Folded>(conn: &rusqlite::Connection, id: &str) -> Result<Vec<F::Event>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT event FROM {} WHERE thing = ?1", F::EVENTS))?;
    let texts = stmt.query_map([id], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    texts.iter().map(|t| serde_json::from_str(t).map_err(|e| corrupt(F::EVENTS, e))).collect()
}

fn insert_events<F: Folded>(
    tx: &Transaction<'_>,
    events: &[F::Event],
    now: DateTime<Utc>,
) -> Result<BTreeSet<String>, StoreError> {
    let mut touched = BTreeSet::new();
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT OR IGNORE INTO {} (thing, ms, n, agency, exercise, event, received_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        F::EVENTS
    ))?;
    for e in events {
        let id = F::id_of(e).to_string();
        let s = F::stamp_of(e);
        let json = serde_json::to_string(e).map_err(|e| corrupt(F::EVENTS, e))?;
        if stmt.execute(params![id, s.ms, s.n, s.agency.as_str(), F::exercise_of(e), json, to_us(now)])? == 1 {
            touched.insert(id);
        }
    }
    Ok(touched)
}

fn refold<F: Folded>(tx: &Transaction<'_>, touched: &BTreeSet<String>) -> Result<Vec<F>, StoreError> {
    let mut changed = Vec::new();
    for id in touched {
        let events = events_in::<F>(tx, id)?;
        let Some((thing, _)) = F::fold(&events) else { continue };
        let state = serde_json::to_string(&thing).map_err(|e| corrupt(F::STATES, e))?;
        tx.prepare_cached(&format!(
            "INSERT INTO {} (id, origin, number, exercise, status, raised_us, updated_ms, delete_after_us, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_ms = excluded.updated_ms,
                                            delete_after_us = excluded.delete_after_us, state = excluded.state",
            F::STATES
        ))?
        .execute(params![
            id,
            thing.id().origin.as_str(),
            thing.id().n as i64,
            F::exercise_of(&events[0]),
            if thing.closed() { "closed" } else { "open" },
            to_us(thing.started()),
            thing.updated().ms,
            thing.delete_after().map(to_us),
            state
        ])?;
        changed.push(thing);
    }
    Ok(changed)
}

impl Store {
    /// Adds events (any incidents or operations, any writers); one already here (the same
    /// writer's stamp) is left as it is. Each one touched is folded again in the same
    /// transaction. Returns those that changed, as they now are (an event of something not
    /// raised here yet, such as a partner's note that arrived before the incident, returns
    /// none).
    pub fn add_events<F: Folded>(&self, events: &[F::Event], now: DateTime<Utc>) -> Result<Vec<F>, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let touched = insert_events::<F>(&tx, events, now)?;
            let changed = refold::<F>(&tx, &touched)?;
            tx.commit()?;
            Ok(changed)
        })
    }

    /// Creates an incident or operation of `origin`: numbers it (one more than the last of
    /// `origin`'s), and stores the events `make` writes for that id, in one transaction.
    pub fn create_folded<F: Folded>(
        &self,
        origin: &AgencyId,
        now: DateTime<Utc>,
        make: impl FnOnce(IncidentId) -> Vec<F::Event>,
    ) -> Result<F, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let last: Option<i64> = tx.query_row(
                &format!("SELECT max(number) FROM {} WHERE origin = ?1", F::STATES),
                [origin.as_str()],
                |r| r.get(0),
            )?;
            let id = IncidentId { origin: origin.clone(), n: last.unwrap_or(0) as u64 + 1 };
            let events = make(id.clone());
            let touched = insert_events::<F>(&tx, &events, now)?;
            let made = refold::<F>(&tx, &touched)?.into_iter().find(|i| i.id() == &id);
            let made = made.ok_or_else(|| StoreError::NotFound(format!("{id}: the events given do not create it")))?;
            tx.commit()?;
            Ok(made)
        })
    }

    /// The events of one incident or operation, as stored.
    pub fn events_of<F: Folded>(&self, id: &IncidentId) -> Result<Vec<F::Event>, StoreError> {
        self.with_reader(|conn| events_in::<F>(conn, &id.to_string()))
    }

    /// One incident or operation, and its timeline in causal order.
    pub fn folded<F: Folded>(&self, id: &IncidentId) -> Result<Option<WithTimeline<F>>, StoreError> {
        Ok(F::fold(&self.events_of::<F>(id)?))
    }

    /// Incidents or operations, the most recently changed first.
    pub fn list_folded<F: Folded>(&self, q: &IncidentQuery) -> Result<Vec<F>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT state FROM {} WHERE (?1 OR status != 'closed') AND (?2 IS NULL OR exercise = ?2)
                 ORDER BY updated_ms DESC, id LIMIT ?3",
                F::STATES
            ))?;
            let rows = stmt
                .query_map(params![q.closed, q.exercise, q.limit.clamp(1, 10_000) as i64], |r| r.get::<_, String>(0))?;
            let texts = rows.collect::<Result<Vec<_>, _>>()?;
            texts.iter().map(|t| serde_json::from_str(t).map_err(|e| corrupt(F::STATES, e))).collect()
        })
    }

    /// Calls `each` with every incident or operation stored, closed ones too, without a limit
    /// (for what must see them all, e.g. which files are still named).
    pub fn each_folded<F: Folded>(&self, mut each: impl FnMut(F)) -> Result<(), StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT state FROM {}", F::STATES))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let text: String = row.get(0)?;
                each(serde_json::from_str(&text).map_err(|e| corrupt(F::STATES, e))?);
            }
            Ok(())
        })
    }

    /// Deletes what is past its retention (`delete_after` before `now`): its events and its
    /// fold. Returns the ids deleted.
    pub fn delete_expired<F: Folded>(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let ids: Vec<String> = tx
                .prepare_cached(&format!("SELECT id FROM {} WHERE delete_after_us <= ?1", F::STATES))?
                .query_map([to_us(now)], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in &ids {
                tx.execute(&format!("DELETE FROM {} WHERE thing = ?1", F::EVENTS), [id])?;
                tx.execute(&format!("DELETE FROM {} WHERE id = ?1", F::STATES), [id])?;
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    /// The latest stamp of any incident or operation event stored: where a node's clock
    /// resumes after a restart.
    pub fn latest_stamp(&self) -> Result<Option<Stamp>, StoreError> {
        self.with_reader(|conn| {
            let mut latest: Option<Stamp> = None;
            for table in [Incident::EVENTS, Operation::EVENTS] {
                let text: Option<String> = conn
                    .query_row(&format!("SELECT event FROM {table} ORDER BY ms DESC, n DESC LIMIT 1"), [], |r| r.get(0))
                    .optional()?;
                if let Some(t) = text {
                    let v: serde_json::Value = serde_json::from_str(&t).map_err(|e| corrupt(table, e))?;
                    let s: Stamp = serde_json::from_value(v["stamp"].clone()).map_err(|e| corrupt(table, e))?;
                    if latest.as_ref().is_none_or(|l| (s.ms, s.n) > (l.ms, l.n)) {
                        latest = Some(s);
                    }
                }
            }
            Ok(latest)
        })
    }

    // Incidents by name, for readers of the store.

    pub fn add_incident_events(&self, events: &[Event], now: DateTime<Utc>) -> Result<Vec<Incident>, StoreError> {
        self.add_events::<Incident>(events, now)
    }

    pub fn raise_incident(
        &self,
        origin: &AgencyId,
        now: DateTime<Utc>,
        make: impl FnOnce(IncidentId) -> Vec<Event>,
    ) -> Result<Incident, StoreError> {
        self.create_folded::<Incident>(origin, now, make)
    }

    pub fn incident(&self, id: &IncidentId) -> Result<Option<(Incident, Vec<Entry>)>, StoreError> {
        self.folded::<Incident>(id)
    }

    pub fn incident_events(&self, id: &IncidentId) -> Result<Vec<Event>, StoreError> {
        self.events_of::<Incident>(id)
    }

    pub fn incidents(&self, q: &IncidentQuery) -> Result<Vec<Incident>, StoreError> {
        self.list_folded::<Incident>(q)
    }
}
