//! Drone and body-camera footage (migration 0018): what each uploaded file is and, once its
//! telemetry is attached, the track. The store keeps the track as the JSON the server gives
//! it (the fixes `limes-video` parsed) and does not read it; the summary columns serve lists.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::{Store, StoreError, from_us, to_us, write_transaction};

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Footage {
    pub sha256: String,
    pub camera: String,
    pub name: String,
    pub media_type: String,
    pub bytes: u64,
    /// When the recording started.
    pub start: DateTime<Utc>,
    /// The offset from UTC of the camera's clock, in seconds (from the `start` given).
    pub utc_offset_s: i32,
    pub uploaded: DateTime<Utc>,
    pub uploaded_by: String,
    /// The telemetry, once attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<FootageTelemetry>,
}

/// The telemetry of a file: where it came from and its track in a few numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FootageTelemetry {
    /// `gpx` or `srt`.
    pub format: String,
    pub name: String,
    pub attached: DateTime<Utc>,
    pub attached_by: String,
    pub fixes: u64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `[min_lat, min_lon, max_lat, max_lon]`.
    pub bbox: [f64; 4],
}

const COLUMNS: &str = "sha256, camera, name, media_type, bytes, start_us, utc_offset_s, uploaded_us, uploaded_by, \
     telemetry_format, telemetry_name, telemetry_us, telemetry_by, fixes, track_start_us, track_end_us, \
     min_lat, min_lon, max_lat, max_lon";

fn footage(r: &Row<'_>) -> rusqlite::Result<Footage> {
    let format: Option<String> = r.get(9)?;
    let telemetry = match format {
        None => None,
        Some(format) => Some(FootageTelemetry {
            format,
            name: r.get(10)?,
            attached: from_us(r.get(11)?),
            attached_by: r.get(12)?,
            fixes: r.get::<_, i64>(13)? as u64,
            start: from_us(r.get(14)?),
            end: from_us(r.get(15)?),
            bbox: [r.get(16)?, r.get(17)?, r.get(18)?, r.get(19)?],
        }),
    };
    Ok(Footage {
        sha256: r.get(0)?,
        camera: r.get(1)?,
        name: r.get(2)?,
        media_type: r.get(3)?,
        bytes: r.get::<_, i64>(4)? as u64,
        start: from_us(r.get(5)?),
        utc_offset_s: r.get(6)?,
        uploaded: from_us(r.get(7)?),
        uploaded_by: r.get(8)?,
        telemetry,
    })
}

impl Store {
    /// Keeps a file's row; `false` when a file with this digest is already kept (left as it
    /// is, telemetry and all).
    pub fn put_footage(&self, f: &Footage) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let n = tx.execute(
                "INSERT OR IGNORE INTO footage (sha256, camera, name, media_type, bytes, start_us, utc_offset_s, \
                 uploaded_us, uploaded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    f.sha256,
                    f.camera,
                    f.name,
                    f.media_type,
                    f.bytes as i64,
                    to_us(f.start),
                    f.utc_offset_s,
                    to_us(f.uploaded),
                    f.uploaded_by
                ],
            )?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    /// Attaches telemetry to a kept file, replacing any before; `false` when there is no
    /// such file.
    pub fn set_footage_telemetry(
        &self,
        sha256: &str,
        t: &FootageTelemetry,
        track_json: &str,
    ) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let n = tx.execute(
                "UPDATE footage SET telemetry_format = ?2, telemetry_name = ?3, telemetry_us = ?4, telemetry_by = ?5, \
                 fixes = ?6, track_start_us = ?7, track_end_us = ?8, min_lat = ?9, min_lon = ?10, max_lat = ?11, \
                 max_lon = ?12, track = ?13 WHERE sha256 = ?1",
                params![
                    sha256,
                    t.format,
                    t.name,
                    to_us(t.attached),
                    t.attached_by,
                    t.fixes as i64,
                    to_us(t.start),
                    to_us(t.end),
                    t.bbox[0],
                    t.bbox[1],
                    t.bbox[2],
                    t.bbox[3],
                    track_json
                ],
            )?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    /// One file's row.
    pub fn footage(&self, sha256: &str) -> Result<Option<Footage>, StoreError> {
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM footage WHERE sha256 = ?1"))?
                .query_row([sha256], footage)
                .optional()?)
        })
    }

    /// One file's track as it was stored, when it has telemetry.
    pub fn footage_track(&self, sha256: &str) -> Result<Option<String>, StoreError> {
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached("SELECT track FROM footage WHERE sha256 = ?1")?
                .query_row([sha256], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten())
        })
    }

    /// Files newest recording first, of one camera or all, at most `limit`.
    pub fn footage_list(&self, camera: Option<&str>, limit: usize) -> Result<Vec<Footage>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM footage WHERE ?1 IS NULL OR camera = ?1 ORDER BY start_us DESC, sha256 LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![camera, limit as i64], footage)?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn footage_is_kept_once_and_gains_its_telemetry() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::StoreOptions::default()).unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let f = Footage {
            sha256: "ab".repeat(32),
            camera: "ro-drone-1".into(),
            name: "DJI_0001.MP4".into(),
            media_type: "video/mp4".into(),
            bytes: 1234,
            start: t0,
            utc_offset_s: 7200,
            uploaded: t0,
            uploaded_by: "tester".into(),
            telemetry: None,
        };
        assert!(store.put_footage(&f).unwrap());
        assert!(!store.put_footage(&Footage { name: "again".into(), ..f.clone() }).unwrap());
        assert_eq!(store.footage(&f.sha256).unwrap(), Some(f.clone()));
        assert_eq!(store.footage_track(&f.sha256).unwrap(), None);
        let t = FootageTelemetry {
            format: "srt".into(),
            name: "DJI_0001.SRT".into(),
            attached: t0,
            attached_by: "tester".into(),
            fixes: 2,
            start: t0,
            end: t0 + chrono::TimeDelta::seconds(1),
            bbox: [1.0, 2.0, 3.0, 4.0],
        };
        assert!(store.set_footage_telemetry(&f.sha256, &t, "[]").unwrap());
        assert!(!store.set_footage_telemetry(&"cd".repeat(32), &t, "[]").unwrap());
        let with = Footage { telemetry: Some(t), ..f.clone() };
        assert_eq!(store.footage(&f.sha256).unwrap(), Some(with.clone()));
        assert_eq!(store.footage_track(&f.sha256).unwrap().as_deref(), Some("[]"));
        assert_eq!(store.footage_list(None, 10).unwrap(), vec![with.clone()]);
        assert_eq!(store.footage_list(Some("ro-drone-1"), 10).unwrap(), vec![with]);
        assert!(store.footage_list(Some("other"), 10).unwrap().is_empty());
    }
}
