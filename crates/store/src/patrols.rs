//! Patrol units, their positions and assignments (migration 0013): this agency's units as
//! registered and reported, and the units partners shared, as they shared them.

use chrono::{DateTime, SubsecRound, Utc};
use limes_cooperation::patrol::{Assignment, PatrolError, Position, Unit, UnitId, Verdict, judge};
use limes_model::AgencyId;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::{Store, StoreError, corrupt, from_us, to_us, write_transaction};

/// A unit as stored, with its latest position.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    pub unit: Unit,
    /// A partner's unit, as it shared it.
    pub partner: bool,
    /// When it last changed (status, assignment, details).
    pub updated: DateTime<Utc>,
    pub latest: Option<Position>,
}

/// What became of a change to a unit.
#[derive(Debug, Clone, PartialEq)]
pub enum UnitChange<E> {
    /// No unit of this agency has that id.
    NotFound,
    /// The change was refused; nothing was written.
    Refused(E),
    /// It would change nothing; nothing was written.
    Unchanged(Unit),
    Changed(Unit),
}

/// Which assignments to list.
#[derive(Debug, Clone, Default)]
pub struct AssignmentQuery {
    pub unit: Option<UnitId>,
    /// A target's key (`Target::key`).
    pub target: Option<String>,
    pub limit: usize,
}

/// What a partner's patrol message changed here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppliedPatrol {
    /// Units added or changed, each with when its agency changed it.
    pub units: Vec<(Unit, DateTime<Utc>)>,
    /// Positions not held before.
    pub positions: Vec<(UnitId, Position)>,
    /// Assignments not held before.
    pub assignments: Vec<Assignment>,
}

/// One of this agency's shareable units and what it reported since the sharing task last
/// looked.
#[derive(Debug, Clone, PartialEq)]
pub struct Unshared {
    pub unit: Unit,
    /// When the unit last changed.
    pub updated: DateTime<Utc>,
    /// The last position sent to partners.
    pub shared: Option<Position>,
    /// Positions after the last look, oldest first.
    pub positions: Vec<Position>,
}

fn decode_unit(text: &str) -> Result<Unit, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("patrol_units", e))
}

fn encode<T: serde::Serialize>(table: &'static str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| corrupt(table, e))
}

const POSITION_COLUMNS: &str = "time_us, lat, lon, speed_kmh, heading, accuracy_m";

fn position_of(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Position> {
    Ok(Position {
        time: from_us(r.get(at)?),
        lat: r.get(at + 1)?,
        lon: r.get(at + 2)?,
        speed_kmh: r.get::<_, Option<f64>>(at + 3)?.map(|v| v as f32),
        heading: r.get::<_, Option<f64>>(at + 4)?.map(|v| v as f32),
        accuracy_m: r.get::<_, Option<f64>>(at + 5)?.map(|v| v as f32),
    })
}

fn latest_of(conn: &Connection, unit: &str) -> Result<Option<Position>, StoreError> {
    let sql = format!("SELECT {POSITION_COLUMNS} FROM patrol_positions WHERE unit = ?1 ORDER BY time_us DESC LIMIT 1");
    Ok(conn.prepare_cached(&sql)?.query_row([unit], |r| position_of(r, 0)).optional()?)
}

fn unit_row(conn: &Connection, id: &str) -> Result<Option<(Unit, bool, i64)>, StoreError> {
    let row: Option<(String, bool, i64)> = conn
        .prepare_cached("SELECT unit, partner, updated_us FROM patrol_units WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(text, partner, updated)| Ok((decode_unit(&text)?, partner, updated))).transpose()
}

fn insert_position(tx: &Transaction<'_>, unit: &str, p: &Position, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO patrol_positions
             (unit, time_us, lat, lon, speed_kmh, heading, accuracy_m, received_us)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            unit,
            to_us(p.time),
            p.lat,
            p.lon,
            p.speed_kmh.map(f64::from),
            p.heading.map(f64::from),
            p.accuracy_m.map(f64::from),
            to_us(now)
        ])?;
    Ok(n == 1)
}

/// Writes a unit's row. A new unit shares all it reports; one that stops being covert, only
/// what it reports from `now` on.
fn write_unit(tx: &Transaction<'_>, unit: &Unit, partner: bool, now: DateTime<Utc>) -> Result<(), StoreError> {
    let id = unit.id.to_string();
    let was_covert: Option<bool> = tx
        .prepare_cached("SELECT covert FROM patrol_units WHERE id = ?1")?
        .query_row([&id], |r| r.get(0))
        .optional()?;
    let opened = was_covert.is_none_or(|c| c && !unit.covert);
    tx.prepare_cached(
        "INSERT INTO patrol_units (id, agency, partner, covert, status, unit, updated_us, checked_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)
         ON CONFLICT (id) DO UPDATE SET covert = excluded.covert, status = excluded.status,
             unit = excluded.unit, updated_us = excluded.updated_us,
             shared = CASE WHEN ?8 THEN NULL ELSE shared END,
             checked_us = CASE WHEN ?8 THEN ?7 ELSE checked_us END",
    )?
    .execute(params![
        id,
        unit.id.agency.as_str(),
        partner,
        unit.covert,
        unit.status.id(),
        encode("patrol_units", unit)?,
        to_us(now),
        opened
    ])?;
    Ok(())
}

/// The rows of units whose id starts with `agency/`: ids sort by agency, and `0` follows `/`.
fn agency_range(agency: &str) -> (String, String) {
    (format!("{agency}/"), format!("{agency}0"))
}

impl Store {
    /// Registers one of this agency's units, or changes it. Returns it as it was before.
    pub fn put_unit(&self, unit: &Unit, now: DateTime<Utc>) -> Result<Option<Unit>, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let before = unit_row(&tx, &unit.id.to_string())?;
            if before.as_ref().is_some_and(|(_, partner, _)| *partner) {
                return Err(StoreError::NotFound(format!("unit {} of this agency", unit.id)));
            }
            write_unit(&tx, unit, false, now)?;
            tx.commit()?;
            Ok(before.map(|(u, _, _)| u))
        })
    }

    /// Changes one of this agency's units with `f` (which says whether it changed anything),
    /// in one transaction; `assignment` is kept with it when the change is made.
    pub fn change_unit<E>(
        &self,
        id: &UnitId,
        now: DateTime<Utc>,
        assignment: Option<&Assignment>,
        f: impl FnOnce(&mut Unit) -> Result<bool, E>,
    ) -> Result<UnitChange<E>, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let Some((mut unit, false, _)) = unit_row(&tx, &id.to_string())? else {
                return Ok(UnitChange::NotFound);
            };
            match f(&mut unit) {
                Err(e) => return Ok(UnitChange::Refused(e)),
                Ok(false) => return Ok(UnitChange::Unchanged(unit)),
                Ok(true) => {}
            }
            write_unit(&tx, &unit, false, now)?;
            if let Some(a) = assignment {
                insert_assignment(&tx, a, false)?;
            }
            tx.commit()?;
            Ok(UnitChange::Changed(unit))
        })
    }

    /// One unit (this agency's or a partner's) with its latest position.
    pub fn unit(&self, id: &UnitId) -> Result<Option<UnitRow>, StoreError> {
        self.with_reader(|conn| {
            let id = id.to_string();
            let Some((unit, partner, updated)) = unit_row(conn, &id)? else { return Ok(None) };
            Ok(Some(UnitRow { unit, partner, updated: from_us(updated), latest: latest_of(conn, &id)? }))
        })
    }

    /// Every unit, each with its latest position: this agency's, partners', or both.
    pub fn units(&self, partner: Option<bool>) -> Result<Vec<UnitRow>, StoreError> {
        self.with_reader(|conn| {
            let sql = format!(
                "SELECT u.unit, u.partner, u.updated_us, p.{} FROM patrol_units u
                 LEFT JOIN patrol_positions p ON p.unit = u.id
                     AND p.time_us = (SELECT max(time_us) FROM patrol_positions WHERE unit = u.id)
                 WHERE ?1 IS NULL OR u.partner = ?1 ORDER BY u.id",
                POSITION_COLUMNS.replace(", ", ", p.")
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([partner], |r| {
                let latest = match r.get::<_, Option<i64>>(3)? {
                    Some(_) => Some(position_of(r, 3)?),
                    None => None,
                };
                Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, i64>(2)?, latest))
            })?;
            rows.map(|row| {
                let (text, partner, updated, latest) = row?;
                Ok(UnitRow { unit: decode_unit(&text)?, partner, updated: from_us(updated), latest })
            })
            .collect()
        })
    }

    /// Stores what this agency's units reported, in one transaction: per unit, each
    /// position judged ([`judge`]) against the latest stored, to the microsecond (as stored);
    /// one whose time is stored already is a duplicate, however old (a tracker sending a
    /// batch again). A unit not registered here (or a partner's) has every position refused.
    pub fn add_positions(
        &self,
        reports: &[(UnitId, Vec<Position>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Vec<Verdict>>, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let mut out = Vec::with_capacity(reports.len());
            for (id, positions) in reports {
                let key = id.to_string();
                let own: Option<bool> = tx
                    .prepare_cached("SELECT partner FROM patrol_units WHERE id = ?1")?
                    .query_row([&key], |r| r.get::<_, bool>(0))
                    .optional()?
                    .map(|partner| !partner);
                if own != Some(true) {
                    let e =
                        PatrolError::Id(format!("unknown unit {id}: register it first (POST /api/v1/patrols/units)"));
                    out.push(vec![Verdict::Refused(e); positions.len()]);
                    continue;
                }
                let positions: Vec<Position> =
                    positions.iter().map(|p| Position { time: p.time.trunc_subsecs(6), ..p.clone() }).collect();
                let latest = latest_of(&tx, &key)?.map(|p| p.time);
                let mut verdicts = judge(latest, &positions, now);
                let mut held = tx.prepare_cached("SELECT 1 FROM patrol_positions WHERE unit = ?1 AND time_us = ?2")?;
                for (p, v) in positions.iter().zip(verdicts.iter_mut()) {
                    if matches!(v, Verdict::Refused(PatrolError::Older { .. }))
                        && held.exists(params![key, to_us(p.time)])?
                    {
                        *v = Verdict::Duplicate;
                    }
                }
                drop(held);
                for (p, v) in positions.iter().zip(&verdicts) {
                    if *v == Verdict::Accepted {
                        insert_position(&tx, &key, p, now)?;
                    }
                }
                out.push(verdicts);
            }
            tx.commit()?;
            Ok(out)
        })
    }

    /// A unit's positions from `from` until `until`, oldest first, at most `limit`.
    pub fn route(
        &self,
        id: &UnitId,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Position>, StoreError> {
        self.with_reader(|conn| {
            let sql = format!(
                "SELECT {POSITION_COLUMNS} FROM patrol_positions
                 WHERE unit = ?1 AND time_us >= ?2 AND time_us <= ?3 ORDER BY time_us LIMIT ?4"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![id.to_string(), to_us(from), to_us(until), limit.clamp(1, 1_000_000) as i64],
                |r| position_of(r, 0),
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Assignments, newest first.
    pub fn assignments(&self, q: &AssignmentQuery) -> Result<Vec<Assignment>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT assignment FROM patrol_assignments
                 WHERE (?1 IS NULL OR unit = ?1) AND (?2 IS NULL OR target = ?2)
                 ORDER BY at_us DESC, id DESC LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                params![q.unit.as_ref().map(|u| u.to_string()), q.target, q.limit.clamp(1, 10_000) as i64],
                |r| r.get::<_, String>(0),
            )?;
            let texts = rows.collect::<Result<Vec<_>, _>>()?;
            texts.iter().map(|t| serde_json::from_str(t).map_err(|e| corrupt("patrol_assignments", e))).collect()
        })
    }

    /// Stores what partner `sender` shared, in one transaction (the caller checked that it is
    /// about its own units only): each unit with when its agency changed it, kept only when
    /// newer than the state held (messages of one unit may be written in one order and
    /// queued in the other). Returns what is new.
    pub fn apply_partner_patrol(
        &self,
        sender: &AgencyId,
        units: &[(Unit, DateTime<Utc>)],
        positions: &[(UnitId, Position)],
        assignments: &[Assignment],
        now: DateTime<Utc>,
    ) -> Result<AppliedPatrol, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let mut applied = AppliedPatrol::default();
            for (u, changed) in units.iter().filter(|(u, _)| u.id.agency == *sender) {
                match unit_row(&tx, &u.id.to_string())? {
                    Some((_, false, _)) => continue,
                    Some((_, true, held)) if held >= to_us(*changed) => continue,
                    _ => {}
                }
                write_unit(&tx, u, true, *changed)?;
                applied.units.push((u.clone(), *changed));
            }
            for (id, p) in positions.iter().filter(|(id, _)| id.agency == *sender) {
                if insert_position(&tx, &id.to_string(), p, now)? {
                    applied.positions.push((id.clone(), p.clone()));
                }
            }
            for a in assignments.iter().filter(|a| a.unit.agency == *sender) {
                if insert_assignment(&tx, a, true)? {
                    applied.assignments.push(a.clone());
                }
            }
            tx.commit()?;
            Ok(applied)
        })
    }

    /// This agency's units that may be shared (not covert), each with the positions it
    /// reported since the sharing task last looked (at most `limit` per unit).
    pub fn unshared_positions(&self, limit: usize) -> Result<Vec<Unshared>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, unit, shared, checked_us, updated_us FROM patrol_units
                 WHERE partner = 0 AND covert = 0 ORDER BY id",
            )?;
            type Row = (String, String, Option<String>, i64, i64);
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<Result<Vec<Row>, _>>()?;
            let sql = format!(
                "SELECT {POSITION_COLUMNS} FROM patrol_positions WHERE unit = ?1 AND time_us > ?2
                 ORDER BY time_us LIMIT ?3"
            );
            let mut positions = conn.prepare_cached(&sql)?;
            let mut out = Vec::with_capacity(rows.len());
            for (id, unit, shared, checked, updated) in rows {
                let shared =
                    shared.map(|s| serde_json::from_str(&s).map_err(|e| corrupt("patrol_units", e))).transpose()?;
                let new = positions
                    .query_map(params![id, checked, limit.max(1) as i64], |r| position_of(r, 0))?
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(Unshared { unit: decode_unit(&unit)?, updated: from_us(updated), shared, positions: new });
            }
            Ok(out)
        })
    }

    /// Moves the sharing task on: per unit, the last position sent (if it sent one) and the
    /// time up to which it looked.
    pub fn mark_shared(&self, marks: &[(UnitId, Option<Position>, DateTime<Utc>)]) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            for (id, shared, checked) in marks {
                let shared = shared.as_ref().map(|p| encode("patrol_units", p)).transpose()?;
                tx.prepare_cached(
                    "UPDATE patrol_units SET shared = coalesce(?2, shared), checked_us = max(checked_us, ?3)
                     WHERE id = ?1 AND covert = 0",
                )?
                .execute(params![id.to_string(), shared, to_us(*checked)])?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Deletes the positions and assignments older than `before` of `agency`'s units (of
    /// every unit without one), and with `units` the agency's units too (a partner no
    /// agreement lets this node keep anything of). Returns how many rows went.
    pub fn delete_patrol_data(
        &self,
        agency: Option<&str>,
        before: DateTime<Utc>,
        units: bool,
    ) -> Result<u64, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let (low, high) = agency.map(agency_range).unzip();
            let mut n = tx.execute(
                "DELETE FROM patrol_positions
                 WHERE time_us < ?3 AND (?1 IS NULL OR (unit >= ?1 AND unit < ?2))",
                params![low, high, to_us(before)],
            )?;
            n += tx.execute(
                "DELETE FROM patrol_assignments WHERE at_us < ?3 AND (?1 IS NULL OR (unit >= ?1 AND unit < ?2))",
                params![low, high, to_us(before)],
            )?;
            if let (true, Some(agency)) = (units, agency) {
                n += tx.execute("DELETE FROM patrol_units WHERE agency = ?1 AND partner = 1", [agency])?;
            }
            tx.commit()?;
            Ok(n as u64)
        })
    }
}

fn insert_assignment(tx: &Transaction<'_>, a: &Assignment, partner: bool) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO patrol_assignments (unit, target, at_us, partner, assignment)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![a.unit.to_string(), a.target.key(), to_us(a.at), partner, encode("patrol_assignments", a)?])?;
    Ok(n == 1)
}
