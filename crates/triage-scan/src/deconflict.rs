//! Deconfliction between the cases of this triage folder (the node's units): after a case is
//! judged, its fingerprints are compared with every other case's, and where they overlap a
//! notice goes to both — who owns the other case and what the overlap is, in counts. Notices
//! are kept in `DIR/notices.sqlite`, beside the cases, and each case's report shows its own.

use std::path::Path;

use limes_triage::deconflict::{Fingerprints, Overlap, overlap};
use limes_triage::verdict::Status;
use rusqlite::{Connection, params};

use crate::store::{CaseStore, Kind, StoreError};

/// A notice to a case: another case overlaps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The other case and whom to contact about it.
    pub case: String,
    pub owner: String,
    pub overlap: Overlap,
    pub at: String,
}

/// What a case brings to deconfliction: its files no hash set knows, its camera serials, its
/// unknown pictures.
pub fn fingerprints(case: &CaseStore) -> Result<Fingerprints, StoreError> {
    let mut f = Fingerprints::default();
    for file in case.files()? {
        let r = &file.record;
        if let Some(serial) = r.leads.as_ref().and_then(|l| l.serial.clone()) {
            f.devices.insert(serial);
        }
        let status = file.verdict.as_ref().map(|v| v.status);
        if !matches!(r.kind, Kind::Picture | Kind::Video)
            || !matches!(status, Some(Status::Unknown | Status::NearMatch))
        {
            continue;
        }
        if let Some(sha1) = r.sha1 {
            f.files.insert(sha1);
            if let (Some((pdq, quality)), Some(Status::Unknown)) = (r.pdq, status) {
                f.pictures.push((sha1, pdq, quality));
            }
        }
    }
    Ok(f)
}

fn notices_db(dir: &Path) -> Result<Connection, StoreError> {
    let db = Connection::open(dir.join("notices.sqlite"))?;
    db.busy_timeout(std::time::Duration::from_secs(30))?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS notices(to_case TEXT NOT NULL, about_case TEXT NOT NULL, about_owner TEXT NOT NULL,
             files INTEGER NOT NULL, devices INTEGER NOT NULL, pictures INTEGER NOT NULL,
             at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')), PRIMARY KEY(to_case, about_case));",
    )?;
    Ok(db)
}

/// Compares `case` (named `id`, owned by `owner`) with every other case under `dir`, and files
/// a notice to both sides of each overlap. Returns the notices to `case`.
pub fn deconflict(
    dir: &Path,
    id: &str,
    case: &mut CaseStore,
    owner: &str,
    radius: u32,
) -> Result<Vec<Notice>, StoreError> {
    case.set_owner(owner)?;
    let mine = fingerprints(case)?;
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Some(other) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if other == id || !entry.path().join("case.sqlite").is_file() || crate::store::check_case_id(&other).is_err() {
            continue;
        }
        let theirs_store = CaseStore::open(dir, &other)?;
        let theirs = fingerprints(&theirs_store)?;
        let to_me = overlap(&mine, &theirs, radius).map_err(|e| StoreError::Invalid(e.to_string()))?;
        if to_me.is_empty() {
            continue;
        }
        let to_them = overlap(&theirs, &mine, radius).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let db = notices_db(dir)?;
        let file = |to: &str, about: &str, about_owner: &str, o: &Overlap| -> Result<(), StoreError> {
            db.execute(
                "INSERT INTO notices(to_case, about_case, about_owner, files, devices, pictures) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(to_case, about_case) DO UPDATE SET about_owner = excluded.about_owner, files = excluded.files,
                     devices = excluded.devices, pictures = excluded.pictures, at = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
                params![to, about, about_owner, o.files as i64, o.devices as i64, o.pictures as i64],
            )?;
            Ok(())
        };
        file(id, &other, &theirs_store.owner()?, &to_me)?;
        file(&other, id, owner, &to_them)?;
    }
    notices_for(dir, id)
}

/// The notices filed to case `id`.
pub fn notices_for(dir: &Path, id: &str) -> Result<Vec<Notice>, StoreError> {
    if !dir.join("notices.sqlite").is_file() {
        return Ok(Vec::new());
    }
    let db = notices_db(dir)?;
    let mut stmt = db.prepare("SELECT about_case, about_owner, files, devices, pictures, at FROM notices WHERE to_case = ?1 ORDER BY about_case")?;
    let rows = stmt.query_map([id], |r| {
        Ok(Notice {
            case: r.get(0)?,
            owner: r.get(1)?,
            overlap: Overlap {
                files: r.get::<_, i64>(2)? as u64,
                devices: r.get::<_, i64>(3)? as u64,
                pictures: r.get::<_, i64>(4)? as u64,
            },
            at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
