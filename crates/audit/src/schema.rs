//! Versioned migrations of the audit database, as in `limes-store`: one SQL file per version
//! (`migrations/NNNN_name.sql`, the version is the file's number), each applied in its own
//! transaction, the version kept in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::AuditError;

/// The migrations by version, in increasing order (gaps allowed).
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_initial.sql"))];

/// The newest schema version this build knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

pub(crate) fn version(conn: &Connection) -> Result<i64, AuditError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the schema to the newest version, from any older one.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), AuditError> {
    migrate_to(conn, latest())
}

/// Applies the migrations numbered above the database's version, up to `target`.
pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> Result<(), AuditError> {
    let found = version(conn)?;
    let supported = latest();
    if found > supported {
        return Err(AuditError::TooNew { found, supported });
    }
    for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found && *v <= target) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", *v)?;
        tx.commit()?;
        tracing::info!(version = v, "migrated audit schema");
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
        assert!(want.iter().any(|(_, name, _)| name == "leaves"));
        let starts = std::iter::once(0).chain(MIGRATIONS.iter().map(|(v, _)| *v).filter(|v| *v < latest()));
        for start in starts {
            let mut conn = Connection::open_in_memory().unwrap();
            migrate_to(&mut conn, start).unwrap();
            assert_eq!(version(&conn).unwrap(), start);
            migrate(&mut conn).unwrap();
            assert_eq!(schema_of(&conn), want, "upgrade from version {start}");
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
                (number, std::fs::read_to_string(dir.join(&name)).unwrap())
            })
            .collect();
        files.sort();
        let listed: Vec<(i64, String)> = MIGRATIONS.iter().map(|(v, sql)| (*v, sql.to_string())).collect();
        assert_eq!(listed, files, "schema::MIGRATIONS and the files in migrations/ differ");
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0), "versions must increase");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(migrate(&mut conn), Err(AuditError::TooNew { found: 99, .. })));
    }
}
