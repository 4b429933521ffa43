//! Alerts: a hotlist hit on a read, persisted, then acknowledged by an operator.

use chrono::{DateTime, Utc};
use limes_model::{AgencyId, CameraId, Demotion, HotlistReason, MatchKind};
use limes_plate::PlateText;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::{Store, StoreError, corrupt, from_us, to_us};

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: i64,
    pub read_id: i64,
    pub entry_id: u64,
    pub kind: MatchKind,
    /// Why a hit whose text would confirm it is only possible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demoted: Option<Demotion>,
    /// Edit distance between the read and the entry (0 for exact and look-alike hits).
    pub distance: u8,
    /// The hotlisted plate.
    pub plate: PlateText,
    /// The text as the camera read it.
    pub read_text: String,
    pub camera: CameraId,
    /// When the camera saw the vehicle.
    pub time: DateTime<Utc>,
    /// When the node raised the alert.
    pub created: DateTime<Utc>,
    pub reason: HotlistReason,
    pub priority: u8,
    /// The agency that owns the hotlist entry.
    pub agency: AgencyId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<Ack>,
}

/// An operator's acknowledgement of an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ack {
    pub by: String,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub unacknowledged_only: bool,
    /// Only alerts with an id below this (paging newest first).
    pub before_id: Option<i64>,
    pub limit: usize,
}

const COLUMNS: &str = "id, read_id, entry_id, kind, distance, plate, read_text, camera, time_us, created_us,
                       reason, priority, agency, acked_by, acked_us, ack_note, demoted";

fn decode(row: &Row<'_>) -> rusqlite::Result<Result<Alert, StoreError>> {
    let kind: String = row.get(3)?;
    let plate: String = row.get(5)?;
    let camera: String = row.get(7)?;
    let reason: String = row.get(10)?;
    let agency: String = row.get(12)?;
    let acked_by: Option<String> = row.get(13)?;
    let acked_us: Option<i64> = row.get(14)?;
    let note: Option<String> = row.get(15)?;
    let demoted: Option<String> = row.get(16)?;
    let (id, read_id, entry_id, distance, time_us, created_us, priority): (i64, i64, i64, u8, i64, i64, u8) =
        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(4)?, row.get(8)?, row.get(9)?, row.get(11)?);
    Ok((|| {
        Ok(Alert {
            id,
            read_id,
            entry_id: entry_id as u64,
            kind: match kind.as_str() {
                "confirmed" => MatchKind::Confirmed,
                "possible" => MatchKind::Possible,
                other => return Err(corrupt("alerts", format!("kind {other:?}"))),
            },
            demoted: demoted
                .map(|d| Demotion::parse(&d).ok_or_else(|| corrupt("alerts", format!("demoted {d:?}"))))
                .transpose()?,
            distance,
            plate: PlateText::new(&plate).map_err(|e| corrupt("alerts", e))?,
            read_text: row.get::<_, String>(6).map_err(|e| corrupt("alerts", e))?,
            camera: CameraId::new(camera).map_err(|e| corrupt("alerts", e))?,
            time: from_us(time_us),
            created: from_us(created_us),
            reason: HotlistReason::parse(&reason).ok_or_else(|| corrupt("alerts", format!("reason {reason:?}")))?,
            priority,
            agency: AgencyId::new(agency).map_err(|e| corrupt("alerts", e))?,
            ack: match (acked_by, acked_us) {
                (Some(by), Some(at)) => Some(Ack { by, at: from_us(at), note }),
                _ => None,
            },
        })
    })())
}

impl Store {
    /// Alerts, newest first.
    pub fn alerts(&self, q: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        self.with_reader(|conn| {
            let sql = format!(
                "SELECT {COLUMNS} FROM alerts WHERE (?1 = 0 OR acked_us IS NULL) AND id < ?2 ORDER BY id DESC LIMIT ?3"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![q.unacknowledged_only, q.before_id.unwrap_or(i64::MAX), q.limit.clamp(1, 10_000) as i64],
                decode,
            )?;
            rows.map(|r| r?).collect()
        })
    }

    /// One alert.
    pub fn alert(&self, id: i64) -> Result<Alert, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM alerts WHERE id = ?1"))?;
            let mut rows = stmt.query_map([id], decode)?;
            rows.next().ok_or_else(|| StoreError::NotFound(format!("alert {id}")))??
        })
    }

    /// Up to `limit` alerts with ids above `after`, oldest first: what an outbound delivery
    /// has not handled yet. Ids only grow in commit order (one writer numbers them, above
    /// every id ever given), so nothing committed later can appear below `after`.
    pub fn alerts_after(&self, after: i64, limit: usize) -> Result<Vec<Alert>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM alerts WHERE id > ?1 ORDER BY id LIMIT ?2"))?;
            let rows = stmt.query_map(params![after, limit.clamp(1, 10_000) as i64], decode)?;
            rows.map(|r| r?).collect()
        })
    }

    /// The highest alert id given so far (0 before the first alert).
    pub fn newest_alert_id(&self) -> Result<i64, StoreError> {
        self.with_reader(|conn| {
            Ok(conn.query_row(
                "SELECT MAX(COALESCE((SELECT MAX(id) FROM alerts), 0),
                            COALESCE((SELECT id FROM id_floors WHERE name = 'alerts'), 0))",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// The id of the last alert the named webhook is done with, if it ever ran.
    pub fn webhook_cursor(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached("SELECT last_alert_id FROM webhook_cursors WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?)
        })
    }

    /// Records durably that the named webhook is done with every alert up to `last_alert_id`.
    pub fn set_webhook_cursor(&self, name: &str, last_alert_id: i64) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            conn.execute(
                "INSERT INTO webhook_cursors (name, last_alert_id, updated_us) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET last_alert_id = excluded.last_alert_id,
                                                  updated_us = excluded.updated_us",
                params![name, last_alert_id, to_us(Utc::now())],
            )?;
            Ok(())
        })
    }

    /// Acknowledges an alert; acknowledging twice keeps the first acknowledgement.
    pub fn acknowledge_alert(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Alert, StoreError> {
        let changed = self.with_admin(|conn| {
            Ok(conn.execute(
                "UPDATE alerts SET acked_by = ?2, acked_us = ?3, ack_note = ?4 WHERE id = ?1 AND acked_us IS NULL",
                params![id, by, to_us(at), note],
            )?)
        })?;
        let alert = self.alert(id)?;
        if changed == 0 && alert.ack.is_none() {
            return Err(StoreError::NotFound(format!("alert {id}")));
        }
        Ok(alert)
    }
}
