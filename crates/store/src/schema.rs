//! Versioned migrations: one SQL file per version step, applied in order inside
//! one transaction each, the version kept in `PRAGMA user_version`.
//!
//! A migration's version is the number its file name starts with (`0004_images.sql` is
//! version 4), not its place in the list: numbers only have to increase, so branches that
//! add migrations side by side can reserve their numbers and leave gaps until they merge.
//! A database is at the version of the last migration applied to it; opening it applies
//! every migration with a higher number, in order.

use rusqlite::Connection;

use crate::StoreError;

/// The migrations by version, in increasing order (gaps allowed).
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_plate_segments.sql")),
    (3, include_str!("../migrations/0003_vehicle_checks.sql")),
    (4, include_str!("../migrations/0004_images.sql")),
    (5, include_str!("../migrations/0005_detections.sql")),
    (6, include_str!("../migrations/0006_accounts.sql")),
    (7, include_str!("../migrations/0007_restrictions.sql")),
    (8, include_str!("../migrations/0008_partner_alerts.sql")),
    (9, include_str!("../migrations/0009_pseudonymised_alerts.sql")),
    (10, include_str!("../migrations/0010_partner_hotlist.sql")),
    (11, include_str!("../migrations/0011_requests.sql")),
    (12, include_str!("../migrations/0012_incidents.sql")),
    (13, include_str!("../migrations/0013_patrols.sql")),
    (14, include_str!("../migrations/0014_bulletins.sql")),
    (15, include_str!("../migrations/0015_operations.sql")),
    (16, include_str!("../migrations/0016_exercise_marks.sql")),
    (17, include_str!("../migrations/0017_recordings.sql")),
    (18, include_str!("../migrations/0018_footage.sql")),
    (19, include_str!("../migrations/0019_live_grants.sql")),
    (20, include_str!("../migrations/0020_clips.sql")),
    (21, include_str!("../migrations/0021_clip_requests.sql")),
    (22, include_str!("../migrations/0022_own_analysis.sql")),
    (23, include_str!("../migrations/0023_anonymised_clips.sql")),
    (24, include_str!("../migrations/0024_face_counts.sql")),
];

/// The newest schema version this build knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Reads per segment of the plate index is `1 << SEGMENT_BITS` (see migration 0002).
pub(crate) const SEGMENT_BITS: u32 = 18;

pub(crate) fn version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the schema to the newest version, from any older one.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, latest())
}

/// Applies the migrations numbered above the database's version, up to `target`.
pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> Result<(), StoreError> {
    apply_migrations(conn, MIGRATIONS, target, "store")
}

/// Applies `migrations` (by version, increasing, gaps allowed) numbered above the database's
/// `user_version`, up to `target`, each in its own transaction; refuses a database newer than
/// the last one. Other SQLite files of a node (the federation links') use it with their own
/// lists.
pub fn apply_migrations(
    conn: &mut Connection,
    migrations: &[(i64, &str)],
    target: i64,
    name: &str,
) -> Result<(), StoreError> {
    let found = version(conn)?;
    let supported = migrations.last().map_or(0, |(v, _)| *v);
    if found > supported {
        return Err(StoreError::TooNew { found, supported });
    }
    for (v, sql) in migrations.iter().filter(|(v, _)| *v > found && *v <= target) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", *v)?;
        tx.commit()?;
        tracing::info!(version = v, schema = name, "migrated schema");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn.prepare("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn upgraded_schema_equals_fresh_from_every_version() {
        let mut fresh = Connection::open_in_memory().unwrap();
        migrate(&mut fresh).unwrap();
        let want = schema_of(&fresh);
        assert!(want.iter().any(|(_, name, _)| name == "reads"));
        let starts = std::iter::once(0).chain(MIGRATIONS.iter().map(|(v, _)| *v).filter(|v| *v < latest()));
        for start in starts {
            let mut conn = Connection::open_in_memory().unwrap();
            migrate_to(&mut conn, start).unwrap();
            assert_eq!(version(&conn).unwrap(), start);
            migrate(&mut conn).unwrap();
            assert_eq!(schema_of(&conn), want, "upgrade from version {start}");
            assert_eq!(version(&conn).unwrap(), latest());
        }
    }

    #[test]
    fn every_migration_file_is_listed_under_its_number_in_increasing_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(i64, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .map(|name| {
                let number = name.split('_').next().unwrap().parse().unwrap_or_else(|_| panic!("{name}: no number"));
                let text = std::fs::read_to_string(dir.join(&name)).unwrap();
                (number, text)
            })
            .collect();
        files.sort();
        let listed: Vec<(i64, String)> = MIGRATIONS.iter().map(|(v, sql)| (*v, sql.to_string())).collect();
        assert_eq!(listed, files, "schema::MIGRATIONS and the files in migrations/ differ");
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0), "versions must increase");
    }

    #[test]
    fn version_2_carries_version_1_reads_into_their_segments() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 1).unwrap();
        conn.execute_batch(
            "INSERT INTO reads (id, camera, time_us, received_us, plate, plate_key, lookalike_key, valid, body)
             VALUES (5, 'a', 0, 0, 'B1', 1, 1, 1, '{}'), (300000, 'a', 0, 0, 'B1', 1, 1, 1, '{}');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let segs: Vec<(i64, i64)> = conn
            .prepare("SELECT id, seg FROM reads ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(segs, vec![(5, 0), (300_000, 1)]);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::TooNew { found: 99, .. })));
    }
}
