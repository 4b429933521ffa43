//! Export of readable records, as JSON lines, for a data protection officer: by period, actor,
//! object (a plate) or text mentioned anywhere in a record.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use rusqlite::types::Value;

use crate::sql::{self, RECORD_COLUMNS};
use crate::{AuditError, log::DB_FILE};

/// Which records to export; every field given must match. Erased records are never exported
/// (nothing readable is left of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportFilter {
    /// Records logged at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Records logged before this time.
    pub to: Option<DateTime<Utc>>,
    /// The actor, as `user:ana`; a bare id (`ana`) matches a user, an integration or a node
    /// component of that id.
    pub actor: Option<String>,
    /// Text the object contains (`B123ABC` finds `plate:B123ABC`).
    pub object_contains: Option<String>,
    /// Text the object or the details contain (a plate searched for, shown or sent).
    pub mentions: Option<String>,
}

/// Writes the records of the audit log in `data_dir` that `filter` selects, in log order, one
/// JSON object per line; returns how many. Opens the database read-only, so it can run beside
/// a serving node.
pub fn export(data_dir: &Path, filter: &ExportFilter, out: &mut dyn Write) -> Result<u64, AuditError> {
    let path = data_dir.join(DB_FILE);
    if !path.is_file() {
        return Err(AuditError::NotFound(format!("{} does not exist", path.display())));
    }
    export_from(&sql::open_ro(&path)?, filter, out)
}

pub(crate) fn export_from(conn: &Connection, filter: &ExportFilter, out: &mut dyn Write) -> Result<u64, AuditError> {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    // Each clause names its parameters `{1}`, `{2}`… relative to the values it adds.
    let mut bind = |clause: &str, added: Vec<Value>| {
        let mut clause = clause.to_owned();
        for (i, value) in added.into_iter().enumerate() {
            values.push(value);
            clause = clause.replace(&format!("{{{}}}", i + 1), &format!("?{}", values.len()));
        }
        clauses.push(clause);
    };
    if let Some(from) = filter.from {
        bind("time_us >= {1}", vec![Value::Integer(from.timestamp_micros())]);
    }
    if let Some(to) = filter.to {
        bind("time_us < {1}", vec![Value::Integer(to.timestamp_micros())]);
    }
    if let Some(actor) = &filter.actor {
        if actor.contains(':') {
            bind("actor = {1}", vec![Value::Text(actor.clone())]);
        } else {
            // The kinds are fixed (`Actor::to_text`): an equality per kind keeps this exact.
            let kinds = ["user", "integration", "node"].map(|kind| Value::Text(format!("{kind}:{actor}")));
            bind("actor IN ({1}, {2}, {3})", kinds.to_vec());
        }
    }
    if let Some(text) = &filter.object_contains {
        bind("instr(object, {1}) > 0", vec![Value::Text(text.clone())]);
    }
    if let Some(text) = &filter.mentions {
        bind("(instr(object, {1}) > 0 OR instr(details, {1}) > 0)", vec![Value::Text(text.clone())]);
    }
    let filter_sql = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    let query = format!("SELECT {RECORD_COLUMNS} FROM records {filter_sql} ORDER BY seq");
    let mut stmt = conn.prepare(&query)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
    let mut n = 0u64;
    let io = |source| AuditError::File { path: "export output".into(), source };
    while let Some(row) = rows.next()? {
        let record = sql::record_from_row(row)?;
        serde_json::to_writer(&mut *out, &record).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
        n += 1;
    }
    out.flush().map_err(io)?;
    Ok(n)
}
