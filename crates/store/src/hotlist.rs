//! Hotlist entries, persisted; the matching index is rebuilt from them at start.

use chrono::Utc;
use limes_model::{AgencyId, HotlistEntry, HotlistReason};
use limes_plate::{CountryCode, PlateText};
use rusqlite::{Row, params};

use crate::{Store, StoreError, corrupt, from_us, to_us};

fn decode(row: &Row<'_>) -> rusqlite::Result<Result<HotlistEntry, StoreError>> {
    let id: i64 = row.get(0)?;
    let plate: String = row.get(1)?;
    let country: Option<String> = row.get(2)?;
    let reason: String = row.get(3)?;
    let priority: u8 = row.get(4)?;
    let agency: String = row.get(5)?;
    let expires: Option<i64> = row.get(6)?;
    let fuzzy: bool = row.get(7)?;
    let note: Option<String> = row.get(8)?;
    let vehicle: Option<String> = row.get(9)?;
    let exercise: bool = row.get(10)?;
    Ok((|| {
        Ok(HotlistEntry {
            id: id as u64,
            plate: PlateText::new(&plate).map_err(|e| corrupt("hotlist", e))?,
            country: country.map(|c| CountryCode::parse(&c)).transpose().map_err(|e| corrupt("hotlist", e))?,
            reason: HotlistReason::parse(&reason).ok_or_else(|| corrupt("hotlist", format!("reason {reason:?}")))?,
            priority,
            agency: AgencyId::new(agency).map_err(|e| corrupt("hotlist", e))?,
            expires: expires.map(from_us),
            fuzzy,
            note,
            vehicle: vehicle
                .map(|v| serde_json::from_str(&v))
                .transpose()
                .map_err(|e| corrupt("hotlist", format!("vehicle: {e}")))?,
            exercise,
        })
    })())
}

impl Store {
    /// Every hotlist entry, by id.
    pub fn hotlist(&self) -> Result<Vec<HotlistEntry>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, plate, country, reason, priority, agency, expires_us, fuzzy, note, vehicle, exercise FROM hotlist ORDER BY id",
            )?;
            let rows = stmt.query_map([], decode)?;
            rows.map(|r| r?).collect()
        })
    }

    /// Up to `limit` entries with ids above `after`, by id.
    pub fn hotlist_page(&self, after: u64, limit: usize) -> Result<Vec<HotlistEntry>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, plate, country, reason, priority, agency, expires_us, fuzzy, note, vehicle, exercise FROM hotlist
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(rusqlite::params![after as i64, limit.min(100_000) as i64], decode)?;
            rows.map(|r| r?).collect()
        })
    }

    /// The next free hotlist id.
    pub fn next_hotlist_id(&self) -> Result<u64, StoreError> {
        self.with_reader(|conn| {
            Ok(conn.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM hotlist", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    /// Creates or replaces entries (by id), all or none.
    pub fn upsert_hotlist(&self, entries: &[HotlistEntry]) -> Result<(), StoreError> {
        let now = to_us(Utc::now());
        self.with_admin(|conn| {
            let tx = crate::write_transaction(conn)?;
            for e in entries {
                upsert_in(&tx, e, now)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Adds new entries, all or none, giving them the next free ids in order (in the same
    /// transaction, so an import and a partner's entries arriving at once never take one id).
    pub fn insert_hotlist(&self, entries: &mut [HotlistEntry]) -> Result<(), StoreError> {
        let now = to_us(Utc::now());
        self.with_admin(|conn| {
            let tx = crate::write_transaction(conn)?;
            let first: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM hotlist", [], |r| r.get(0))?;
            for (id, e) in (first as u64..).zip(entries.iter_mut()) {
                e.id = id;
                upsert_in(&tx, e, now)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Changes one of this node's own entries in place (by id): everything but its id, as
    /// `entry` has it. A partner's entry is never changed here — only its owner changes it,
    /// and the change arrives through the link.
    pub fn update_hotlist_entry(&self, entry: &HotlistEntry) -> Result<HotlistUpdate, StoreError> {
        let now = to_us(Utc::now());
        let vehicle = entry.vehicle.as_ref().map(|v| serde_json::to_string(v).expect("a VehicleInfo serialises"));
        self.with_admin(|conn| {
            let tx = crate::write_transaction(conn)?;
            let id = entry.id as i64;
            let partners: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM hotlist_partner WHERE id = ?1)", [id], |r| r.get(0))?;
            if partners {
                return Ok(HotlistUpdate::PartnersEntry);
            }
            let changed = tx.execute(
                "UPDATE hotlist SET plate = ?2, country = ?3, reason = ?4, priority = ?5, agency = ?6,
                                    expires_us = ?7, fuzzy = ?8, note = ?9, vehicle = ?10, updated_us = ?11,
                                    exercise = ?12
                 WHERE id = ?1",
                params![
                    id,
                    entry.plate.as_str(),
                    entry.country.as_ref().map(CountryCode::as_str),
                    entry.reason.as_str(),
                    entry.priority,
                    entry.agency.as_str(),
                    entry.expires.map(to_us),
                    entry.fuzzy,
                    entry.note,
                    vehicle,
                    now,
                    entry.exercise,
                ],
            )?;
            tx.commit()?;
            Ok(if changed == 0 { HotlistUpdate::NotFound } else { HotlistUpdate::Updated })
        })
    }

    /// Deletes an entry.
    pub fn delete_hotlist_entry(&self, id: u64) -> Result<bool, StoreError> {
        self.with_admin(|conn| Ok(conn.execute("DELETE FROM hotlist WHERE id = ?1", [id as i64])? > 0))
    }
}

/// What [`Store::update_hotlist_entry`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotlistUpdate {
    /// The entry is as given now.
    Updated,
    /// No entry has that id.
    NotFound,
    /// The entry is one a partner shared: left as it was.
    PartnersEntry,
}

/// Creates or replaces one entry (by id) in `tx`.
pub(crate) fn upsert_in(tx: &rusqlite::Transaction<'_>, e: &HotlistEntry, now_us: i64) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR REPLACE INTO hotlist (id, plate, country, reason, priority, agency, expires_us, fuzzy,
                                         note, vehicle, updated_us, exercise)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let vehicle = e.vehicle.as_ref().map(|v| serde_json::to_string(v).expect("a VehicleInfo serialises"));
    stmt.execute(params![
        e.id as i64,
        e.plate.as_str(),
        e.country.as_ref().map(CountryCode::as_str),
        e.reason.as_str(),
        e.priority,
        e.agency.as_str(),
        e.expires.map(to_us),
        e.fuzzy,
        e.note,
        vehicle,
        now_us,
        e.exercise,
    ])?;
    Ok(())
}
