//! Alerts: a hotlist hit on a read, persisted, then acknowledged by an operator.

use chrono::{DateTime, Utc};
use limes_model::{AgencyId, CameraId, Demotion, GeoPoint, HotlistReason, MatchKind};
use limes_plate::{CountryCode, PlateText};
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::{Store, StoreError, corrupt, from_us, to_us};

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    pub id: i64,
    /// The read that raised it; none for an alert a partner sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_id: Option<i64>,
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
    /// Where an alert a partner agency raised came from (none for this node's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<AlertOrigin>,
    /// Raised by an exercise read on an exercise entry (`limes exercise run`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
}

/// The partner agency that raised an alert and sent it here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertOrigin {
    pub agency: AgencyId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
    /// The alert's id on the partner's node.
    pub alert_id: i64,
    /// The message it came in.
    pub message: String,
    /// Where the partner's camera stands, when the partner said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera_position: Option<GeoPoint>,
    /// The alert's `plate` is the partner's pseudonym of the plate (the agreement shares
    /// alerts with plates pseudonymised): the same plate always gives the same pseudonym from
    /// that partner, and only the partner can resolve it, on an approved request.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pseudonymised: bool,
}

/// An alert a partner sent that was deleted: what its deletion receipt names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedPartnerAlert {
    pub id: i64,
    /// The agency that sent it.
    pub agency: String,
    /// The message it came in.
    pub message: String,
}

/// An alert a partner sent, to store (`Store::write_partner_alerts`).
#[derive(Debug, Clone)]
pub struct PartnerAlert {
    pub origin: AlertOrigin,
    pub entry_id: u64,
    pub kind: MatchKind,
    pub demoted: Option<Demotion>,
    pub distance: u8,
    pub plate: PlateText,
    pub read_text: String,
    pub camera: CameraId,
    pub time: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub reason: HotlistReason,
    pub priority: u8,
    pub agency: AgencyId,
    pub exercise: bool,
}

/// Inserts partners' alerts from `first_id` on, skipping messages stored before; the writer
/// thread calls it inside its transaction.
pub(crate) fn insert_partner_alerts(
    conn: &rusqlite::Connection,
    alerts: &[PartnerAlert],
    first_id: i64,
) -> Result<Vec<Alert>, StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO alerts (id, read_id, entry_id, kind, distance, plate, read_text, camera, time_us, created_us,
                             reason, priority, agency, demoted, origin_agency, origin_country, origin_alert_id,
                             origin_message, camera_lat, camera_lon, origin_pseudonymised, exercise)
         VALUES (?1, NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)
         ON CONFLICT (origin_message) DO NOTHING",
    )?;
    let mut stored = Vec::with_capacity(alerts.len());
    let mut id = first_id;
    for a in alerts {
        let o = &a.origin;
        let n = insert.execute(params![
            id,
            a.entry_id as i64,
            a.kind.as_str(),
            a.distance,
            a.plate.as_str(),
            a.read_text,
            a.camera.as_str(),
            to_us(a.time),
            to_us(a.created),
            a.reason.as_str(),
            a.priority,
            a.agency.as_str(),
            a.demoted.as_ref().map(Demotion::as_str),
            o.agency.as_str(),
            o.country.as_ref().map(CountryCode::as_str),
            o.alert_id,
            o.message,
            o.camera_position.map(|p| p.lat),
            o.camera_position.map(|p| p.lon),
            o.pseudonymised,
            a.exercise,
        ])?;
        if n == 1 {
            stored.push(Alert {
                id,
                read_id: None,
                entry_id: a.entry_id,
                kind: a.kind,
                demoted: a.demoted,
                distance: a.distance,
                plate: a.plate.clone(),
                read_text: a.read_text.clone(),
                camera: a.camera.clone(),
                time: a.time,
                created: a.created,
                reason: a.reason,
                priority: a.priority,
                agency: a.agency.clone(),
                ack: None,
                origin: Some(a.origin.clone()),
                exercise: a.exercise,
            });
            id += 1;
        }
    }
    Ok(stored)
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
                       reason, priority, agency, acked_by, acked_us, ack_note, demoted, origin_agency,
                       origin_country, origin_alert_id, origin_message, camera_lat, camera_lon,
                       origin_pseudonymised, exercise";

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
    let origin_agency: Option<String> = row.get(17)?;
    let origin_country: Option<String> = row.get(18)?;
    let origin_alert_id: Option<i64> = row.get(19)?;
    let origin_message: Option<String> = row.get(20)?;
    let position: (Option<f64>, Option<f64>) = (row.get(21)?, row.get(22)?);
    let pseudonymised: bool = row.get(23)?;
    let exercise: bool = row.get(24)?;
    let (id, read_id, entry_id, distance, time_us, created_us, priority): (i64, Option<i64>, i64, u8, i64, i64, u8) =
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
            origin: match origin_agency {
                None => None,
                Some(agency) => Some(AlertOrigin {
                    agency: AgencyId::new(agency).map_err(|e| corrupt("alerts", e))?,
                    country: origin_country.and_then(|c| CountryCode::parse(&c).ok()),
                    alert_id: origin_alert_id.unwrap_or_default(),
                    message: origin_message.unwrap_or_default(),
                    camera_position: match position {
                        (Some(lat), Some(lon)) => GeoPoint::new(lat, lon).ok(),
                        _ => None,
                    },
                    pseudonymised,
                }),
            },
            exercise,
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

    /// Deletes the alerts partners sent that were raised before `cutoff`; returns what was
    /// deleted, for the deletion receipts.
    pub fn delete_partner_alerts_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<DeletedPartnerAlert>, StoreError> {
        self.delete_partner_alerts_where("created_us < ?1", vec![Value::Integer(to_us(cutoff))])
    }

    /// Deletes the alerts `agency` sent that were raised before `cutoff` (its agreement's
    /// retention).
    pub fn delete_partner_alerts_from_before(
        &self,
        agency: &str,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<DeletedPartnerAlert>, StoreError> {
        self.delete_partner_alerts_where(
            "origin_agency = ?1 AND created_us < ?2",
            vec![Value::Text(agency.to_owned()), Value::Integer(to_us(cutoff))],
        )
    }

    /// Deletes the alerts partners sent about `plate` (canonical).
    pub fn delete_partner_alerts_for_plate(&self, plate: &str) -> Result<Vec<DeletedPartnerAlert>, StoreError> {
        self.delete_partner_alerts_where("plate = ?1", vec![Value::Text(plate.to_owned())])
    }

    /// Deletes one alert a partner sent, if it exists.
    pub fn delete_partner_alert(&self, id: i64) -> Result<Option<DeletedPartnerAlert>, StoreError> {
        Ok(self.delete_partner_alerts_where("id = ?1", vec![Value::Integer(id)])?.pop())
    }

    fn delete_partner_alerts_where(
        &self,
        filter: &str,
        args: Vec<Value>,
    ) -> Result<Vec<DeletedPartnerAlert>, StoreError> {
        self.with_admin(|conn| {
            let tx = crate::write_transaction(conn)?;
            // Keep the highest alert id ever given, so that the writer never gives it again.
            tx.execute(
                "INSERT INTO id_floors (name, id) SELECT 'alerts', high FROM (SELECT MAX(id) AS high FROM alerts)
                 WHERE high IS NOT NULL
                 ON CONFLICT (name) DO UPDATE SET id = MAX(id, excluded.id)",
                [],
            )?;
            let deleted = {
                let mut stmt = tx.prepare(&format!(
                    "DELETE FROM alerts WHERE origin_agency IS NOT NULL AND {filter}
                     RETURNING id, origin_agency, origin_message"
                ))?;
                let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
                    Ok(DeletedPartnerAlert { id: r.get(0)?, agency: r.get(1)?, message: r.get(2)? })
                })?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            tx.commit()?;
            Ok(deleted)
        })
    }

    /// The alerts partners sent about `plate` (canonical), newest first.
    pub fn partner_alerts_for_plate(&self, plate: &str) -> Result<Vec<Alert>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM alerts WHERE plate = ?1 AND origin_agency IS NOT NULL ORDER BY id DESC LIMIT 10000"
            ))?;
            let rows = stmt.query_map([plate], decode)?;
            rows.map(|r| r?).collect()
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
