//! Versioned migrations: one SQL file per version step, applied in order inside
//! one transaction each, the version kept in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::StoreError;

/// The migrations, in order; index `i` takes the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_plate_segments.sql"),
    include_str!("../migrations/0003_vehicle_checks.sql"),
];

/// Reads per segment of the plate index is `1 << SEGMENT_BITS` (see migration 0002).
pub(crate) const SEGMENT_BITS: u32 = 18;

pub(crate) fn version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the schema to the newest version, from any older one.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, MIGRATIONS.len() as i64)
}

pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> Result<(), StoreError> {
    let found = version(conn)?;
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(StoreError::TooNew { found, supported });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().take(target as usize).skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "migrated store schema");
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
        for start in 0..MIGRATIONS.len() as i64 {
            let mut conn = Connection::open_in_memory().unwrap();
            migrate_to(&mut conn, start).unwrap();
            assert_eq!(version(&conn).unwrap(), start);
            migrate(&mut conn).unwrap();
            assert_eq!(schema_of(&conn), want, "upgrade from version {start}");
            assert_eq!(version(&conn).unwrap(), MIGRATIONS.len() as i64);
        }
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
