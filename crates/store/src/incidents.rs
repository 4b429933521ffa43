//! Incidents: the events every agency involved wrote, and each incident as they fold.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use limes_cooperation::clock::Stamp;
use limes_cooperation::incident::{Entry, Event, Incident, IncidentId};
use limes_model::AgencyId;
use rusqlite::{OptionalExtension, Transaction, params};

use crate::{Store, StoreError, corrupt, to_us, write_transaction};

/// Which incidents to list.
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    /// Closed ones too.
    pub closed: bool,
    /// Exercise incidents only (`Some(true)`), real ones only (`Some(false)`), or both.
    pub exercise: Option<bool>,
    pub limit: usize,
}

fn decode_event(text: &str) -> Result<Event, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("incident_events", e))
}

fn events_of(tx: &Transaction<'_>, id: &str) -> Result<Vec<Event>, StoreError> {
    let mut stmt = tx.prepare_cached("SELECT event FROM incident_events WHERE incident = ?1")?;
    let texts = stmt.query_map([id], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
    texts.iter().map(|t| decode_event(t)).collect()
}

impl Store {
    /// Adds events (any incidents, any writers); an event already here (the same writer's
    /// stamp) is left as it is. Each incident touched is folded again in the same transaction.
    /// Returns the incidents that changed, as they now are (an event that raises nothing yet,
    /// such as a partner's note that arrived before the incident itself, returns none).
    pub fn add_incident_events(&self, events: &[Event], now: DateTime<Utc>) -> Result<Vec<Incident>, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let touched = insert_events(&tx, events, now)?;
            let changed = refold(&tx, &touched)?;
            tx.commit()?;
            Ok(changed)
        })
    }

    /// Raises an incident of `origin`: numbers it (one more than the last of `origin`'s), and
    /// stores the events `make` writes for that id, in one transaction.
    pub fn raise_incident(
        &self,
        origin: &AgencyId,
        now: DateTime<Utc>,
        make: impl FnOnce(IncidentId) -> Vec<Event>,
    ) -> Result<Incident, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let last: Option<i64> =
                tx.query_row("SELECT max(number) FROM incidents WHERE origin = ?1", [origin.as_str()], |r| r.get(0))?;
            let id = IncidentId { origin: origin.clone(), n: last.unwrap_or(0) as u64 + 1 };
            let events = make(id.clone());
            let touched = insert_events(&tx, &events, now)?;
            let changed = refold(&tx, &touched)?;
            let incident = changed
                .into_iter()
                .find(|i| i.id == id)
                .ok_or_else(|| StoreError::NotFound(format!("incident {id}: the events given do not raise it")))?;
            tx.commit()?;
            Ok(incident)
        })
    }

    /// One incident, and its timeline in causal order.
    pub fn incident(&self, id: &IncidentId) -> Result<Option<(Incident, Vec<Entry>)>, StoreError> {
        let events = self.incident_events(id)?;
        Ok(Incident::fold(&events))
    }

    /// The events of one incident, as stored (raised or not).
    pub fn incident_events(&self, id: &IncidentId) -> Result<Vec<Event>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached("SELECT event FROM incident_events WHERE incident = ?1")?;
            let texts = stmt.query_map([id.to_string()], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            texts.iter().map(|t| decode_event(t)).collect()
        })
    }

    /// Incidents, the most recently changed first.
    pub fn incidents(&self, q: &IncidentQuery) -> Result<Vec<Incident>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT state FROM incidents
                 WHERE (?1 OR status != 'closed') AND (?2 IS NULL OR exercise = ?2)
                 ORDER BY updated_ms DESC, id LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![q.closed, q.exercise, q.limit.clamp(1, 10_000) as i64], |r| r.get::<_, String>(0))?;
            let texts = rows.collect::<Result<Vec<_>, _>>()?;
            texts.iter().map(|t| serde_json::from_str(t).map_err(|e| corrupt("incidents", e))).collect()
        })
    }

    /// The latest stamp of any event stored: where a node's clock resumes after a restart.
    pub fn latest_incident_stamp(&self) -> Result<Option<Stamp>, StoreError> {
        self.with_reader(|conn| {
            let text: Option<String> = conn
                .query_row("SELECT event FROM incident_events ORDER BY ms DESC, n DESC LIMIT 1", [], |r| r.get(0))
                .optional()?;
            text.map(|t| decode_event(&t).map(|e| e.stamp)).transpose()
        })
    }
}

fn insert_events(tx: &Transaction<'_>, events: &[Event], now: DateTime<Utc>) -> Result<BTreeSet<String>, StoreError> {
    let mut touched = BTreeSet::new();
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO incident_events (incident, ms, n, agency, exercise, event, received_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for e in events {
        let id = e.incident.to_string();
        let json = serde_json::to_string(e).map_err(|e| corrupt("incident_events", e))?;
        let n =
            stmt.execute(params![id, e.stamp.ms, e.stamp.n, e.stamp.agency.as_str(), e.exercise, json, to_us(now)])?;
        if n == 1 {
            touched.insert(id);
        }
    }
    Ok(touched)
}

fn refold(tx: &Transaction<'_>, touched: &BTreeSet<String>) -> Result<Vec<Incident>, StoreError> {
    let mut changed = Vec::new();
    for id in touched {
        let events = events_of(tx, id)?;
        let Some((incident, _)) = Incident::fold(&events) else { continue };
        let state = serde_json::to_string(&incident).map_err(|e| corrupt("incidents", e))?;
        tx.prepare_cached(
            "INSERT INTO incidents (id, origin, number, exercise, status, raised_us, updated_ms, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_ms = excluded.updated_ms,
                                            state = excluded.state",
        )?
        .execute(params![
            id,
            incident.id.origin.as_str(),
            incident.id.n as i64,
            incident.exercise,
            incident.status.id(),
            to_us(incident.raised),
            incident.updated.ms,
            state
        ])?;
        changed.push(incident);
    }
    Ok(changed)
}
