//! The camera registry.

use chrono::Utc;
use limes_model::{AgencyId, Camera, CameraId, CameraKind, GeoPoint};
use limes_plate::CountryCode;
use rusqlite::{OptionalExtension, Row, params};

use crate::{Store, StoreError, corrupt, to_us};

fn decode(row: &Row<'_>) -> rusqlite::Result<Result<Camera, StoreError>> {
    let id: String = row.get(0)?;
    let agency: String = row.get(1)?;
    let kind: String = row.get(2)?;
    let lat: Option<f64> = row.get(3)?;
    let lon: Option<f64> = row.get(4)?;
    let country: String = row.get(8)?;
    let (heading, road, lane, name) = (row.get(5)?, row.get(6)?, row.get(7)?, row.get(9)?);
    Ok((|| {
        Ok(Camera {
            id: CameraId::new(id).map_err(|e| corrupt("cameras", e))?,
            agency: AgencyId::new(agency).map_err(|e| corrupt("cameras", e))?,
            kind: CameraKind::parse(&kind).ok_or_else(|| corrupt("cameras", format!("kind {kind:?}")))?,
            position: match (lat, lon) {
                (Some(lat), Some(lon)) => Some(GeoPoint::new(lat, lon).map_err(|e| corrupt("cameras", e))?),
                _ => None,
            },
            heading,
            road,
            lane,
            country: CountryCode::parse(&country).map_err(|e| corrupt("cameras", e))?,
            name,
        })
    })())
}

const COLUMNS: &str = "id, agency, kind, lat, lon, heading, road, lane, country, name";

impl Store {
    /// Every camera, by id.
    pub fn cameras(&self) -> Result<Vec<Camera>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM cameras ORDER BY id"))?;
            let rows = stmt.query_map([], decode)?;
            rows.map(|r| r?).collect()
        })
    }

    /// One camera.
    pub fn camera(&self, id: &CameraId) -> Result<Option<Camera>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM cameras WHERE id = ?1"))?;
            stmt.query_row([id.as_str()], decode).optional()?.transpose()
        })
    }

    /// Creates or replaces cameras, all or none; returns how many were new.
    pub fn upsert_cameras(&self, cameras: &[Camera]) -> Result<usize, StoreError> {
        let now = to_us(Utc::now());
        self.with_admin(|conn| {
            let tx = crate::write_transaction(conn)?;
            let mut created = 0;
            {
                let mut exists = tx.prepare_cached("SELECT 1 FROM cameras WHERE id = ?1")?;
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO cameras (id, agency, kind, lat, lon, heading, road, lane, country, name, updated_us)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT (id) DO UPDATE SET agency = excluded.agency, kind = excluded.kind,
                       lat = excluded.lat, lon = excluded.lon, heading = excluded.heading, road = excluded.road,
                       lane = excluded.lane, country = excluded.country, name = excluded.name,
                       updated_us = excluded.updated_us",
                )?;
                for c in cameras {
                    if !exists.exists([c.id.as_str()])? {
                        created += 1;
                    }
                    stmt.execute(params![
                        c.id.as_str(),
                        c.agency.as_str(),
                        c.kind.as_str(),
                        c.position.map(|p| p.lat),
                        c.position.map(|p| p.lon),
                        c.heading,
                        c.road,
                        c.lane,
                        c.country.as_str(),
                        c.name,
                        now,
                    ])?;
                }
            }
            tx.commit()?;
            Ok(created)
        })
    }

    /// Deletes a camera; its reads stay (they are evidence with their own retention).
    pub fn delete_camera(&self, id: &CameraId) -> Result<bool, StoreError> {
        self.with_admin(|conn| Ok(conn.execute("DELETE FROM cameras WHERE id = ?1", [id.as_str()])? > 0))
    }
}
