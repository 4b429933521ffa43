//! SQLite plumbing shared by the writer, the readers and verification: connection settings,
//! the tree read from its tables, and stored rows decoded into records.

use std::path::Path;

use chrono::DateTime;
use rusqlite::{Connection, OpenFlags, Row};

use crate::merkle::{Hash, NodeReader, node_hash};
use crate::record::{Action, Actor, AuditEvent, AuditRecord, Details, Object, Outcome};
use crate::{AuditError, schema};

/// The lowest level of complete subtree a new log keeps in `nodes`; lower ones are hashed from
/// the (at most 8) leaves under them when a proof needs them. Keeping every level (1) cost a
/// sixth of append throughput and a fifth more bytes per record; keeping none made every
/// proof hash leaves by the thousand (design/audit.md has the measurements). A log records
/// its level in `meta` (`node_level`) when it is created and keeps it.
pub(crate) const NODE_LEVEL: u32 = 4;

/// The `node_level` a log recorded, if it is one.
pub(crate) fn node_level(conn: &Connection) -> Result<Option<u32>, AuditError> {
    use rusqlite::OptionalExtension;
    let text: Option<String> =
        conn.query_row("SELECT value FROM meta WHERE name = 'node_level'", [], |r| r.get(0)).optional()?;
    Ok(text.and_then(|t| t.parse().ok()).filter(|l| (1..=63).contains(l)))
}

fn configure(conn: &Connection) -> Result<(), AuditError> {
    // As the reads store: 8 KiB pages, WAL so readers run beside the writer, FULL so a commit
    // returns only once the log is fsynced, which is when an append is acknowledged.
    conn.pragma_update(None, "page_size", 8192)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

/// A connection that writes (the writer, the WAL checkpointer, migrations).
pub(crate) fn open_rw(path: &Path) -> Result<Connection, AuditError> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "cache_size", -32_768)?; // 32 MiB
    // WAL checkpoints run on their own thread (see `log.rs`), never inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "journal_size_limit", 64i64 << 20)?;
    // Erasure must not leave the erased record readable in free pages.
    conn.pragma_update(None, "secure_delete", true)?;
    Ok(conn)
}

/// A read-only connection (export, proofs, verification).
pub(crate) fn open_ro(path: &Path) -> Result<Connection, AuditError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let found = schema::version(&conn)?;
    if found > schema::latest() {
        return Err(AuditError::TooNew { found, supported: schema::latest() });
    }
    Ok(conn)
}

/// The tree as stored: leaves in `leaves`, complete subtrees of level ≥ `node_level` in `nodes`.
#[derive(Debug)]
pub(crate) struct SqlTree<'c> {
    pub conn: &'c Connection,
    pub node_level: u32,
}

impl NodeReader for SqlTree<'_> {
    type Error = AuditError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, AuditError> {
        if level == 0 {
            return leaf(self.conn, index);
        }
        if level < self.node_level {
            let (lo, hi) = (index << level, (index + 1) << level);
            let mut stmt =
                self.conn.prepare_cached("SELECT seq, hash FROM leaves WHERE seq >= ?1 AND seq < ?2 ORDER BY seq")?;
            let mut level_hashes = Vec::with_capacity(1 << level);
            let mut rows = stmt.query([lo as i64, hi as i64])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                level_hashes
                    .push(stored_hash(row.get_ref(1)?.as_blob_or_null().ok().flatten(), || format!("leaf {seq}"))?);
            }
            if level_hashes.len() as u64 != hi - lo {
                return Err(AuditError::Corrupt(format!("leaves {lo}..{hi} are not all there")));
            }
            while level_hashes.len() > 1 {
                level_hashes = level_hashes.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
            }
            return Ok(level_hashes[0]);
        }
        let mut stmt = self.conn.prepare_cached("SELECT hash FROM nodes WHERE level = ?1 AND idx = ?2")?;
        let mut rows = stmt.query([i64::from(level), index as i64])?;
        match rows.next()? {
            Some(row) => {
                stored_hash(row.get_ref(0)?.as_blob_or_null().ok().flatten(), || format!("node {level}/{index}"))
            }
            None => Err(AuditError::Corrupt(format!("node {level}/{index} is missing"))),
        }
    }
}

fn leaf(conn: &Connection, seq: u64) -> Result<Hash, AuditError> {
    let mut stmt = conn.prepare_cached("SELECT hash FROM leaves WHERE seq = ?1")?;
    let mut rows = stmt.query([seq as i64])?;
    match rows.next()? {
        Some(row) => stored_hash(row.get_ref(0)?.as_blob_or_null().ok().flatten(), || format!("leaf {seq}")),
        None => Err(AuditError::Corrupt(format!("leaf {seq} is missing"))),
    }
}

fn stored_hash(blob: Option<&[u8]>, what: impl Fn() -> String) -> Result<Hash, AuditError> {
    blob.and_then(Hash::from_slice).ok_or_else(|| AuditError::Corrupt(format!("{} is not a 32-byte hash", what())))
}

/// Leaves in the log: one more than the highest leaf's seq.
pub(crate) fn log_size(conn: &Connection) -> Result<u64, AuditError> {
    let size: i64 = conn.query_row("SELECT COALESCE(MAX(seq) + 1, 0) FROM leaves", [], |r| r.get(0))?;
    Ok(size as u64)
}

/// The columns [`record_from_row`] reads, in its order.
pub(crate) const RECORD_COLUMNS: &str =
    "seq, time_us, actor, role, action, object, purpose, legal_basis, case_ref, outcome, details";

/// Decodes a row selected with [`RECORD_COLUMNS`].
pub(crate) fn record_from_row(row: &Row<'_>) -> Result<AuditRecord, AuditError> {
    let seq: i64 = row.get(0)?;
    let bad = |field: &str, value: &str| AuditError::Corrupt(format!("record {seq}: {field} {value:?}"));
    let time_us: i64 = row.get(1)?;
    let actor: String = row.get(2)?;
    let action: String = row.get(4)?;
    let outcome: String = row.get(9)?;
    let details: String = row.get(10)?;
    Ok(AuditRecord {
        seq: seq as u64,
        time: DateTime::from_timestamp_micros(time_us).ok_or_else(|| bad("time", &time_us.to_string()))?,
        event: AuditEvent {
            actor: Actor::parse(&actor).ok_or_else(|| bad("actor", &actor))?,
            role: row.get(3)?,
            action: Action::parse(&action).ok_or_else(|| bad("action", &action))?,
            object: Object::from_text(row.get::<_, String>(5)?),
            purpose: row.get(6)?,
            legal_basis: row.get(7)?,
            case_ref: row.get(8)?,
            outcome: Outcome::parse(&outcome).ok_or_else(|| bad("outcome", &outcome))?,
            details: Details::parse(details.clone()).map_err(|_| bad("details", &details))?,
        },
    })
}
