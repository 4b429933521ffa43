//! The audit log on disk: append, reopen, verify; every stored byte flipped is found and named;
//! erasure keeps the log verifiable and leaves nothing readable; a crash loses nothing
//! acknowledged.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use limes_audit::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use limes_audit::{
    Action, Actor, AuditError, AuditEvent, AuditLog, AuditOptions, DB_FILE, Details, Erasure, ExportFilter, KEY_FILE,
    Object, Outcome, Place, VerifyError, read_verifier_key, verify,
};
use rusqlite::types::Value;

const ORIGIN: &str = "limes.test/ro-igpf/node-1/audit";

fn options() -> AuditOptions {
    AuditOptions::new(ORIGIN)
}

fn event(i: usize) -> AuditEvent {
    let actions = [Action::Consult, Action::Collect, Action::Disclose, Action::Transfer, Action::Combine];
    AuditEvent {
        actor: if i.is_multiple_of(3) {
            Actor::Integration(format!("cam-{i}"))
        } else {
            Actor::User(format!("user{}", i % 4))
        },
        role: "investigator".into(),
        action: actions[i % actions.len()],
        object: Object::plate(&format!("B{i:03}XYZ")),
        purpose: "investigation".into(),
        legal_basis: "RO Law 363/2018 art. 5".into(),
        case_ref: i.is_multiple_of(2).then(|| format!("2026/{i}")),
        outcome: if i % 7 == 6 { Outcome::Denied } else { Outcome::Allowed },
        details: Details::new(&serde_json::json!({ "i": i, "note": "ș and ü" })),
    }
}

fn erasure(seqs: Vec<u64>) -> Erasure {
    Erasure {
        actor: Actor::User("dpo".into()),
        role: "dpo".into(),
        purpose: "erasure".into(),
        legal_basis: "LED art. 16".into(),
        case_ref: Some("DPO-2026-3".into()),
        seqs,
    }
}

fn broken(result: Result<limes_audit::VerifyReport, VerifyError>) -> Vec<limes_audit::Break> {
    match result {
        Err(VerifyError::Broken { breaks, .. }) => breaks,
        Ok(r) => panic!("verified: {r:?}"),
        Err(e) => panic!("verify could not run: {e}"),
    }
}

#[test]
fn append_reopen_verify() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    // Several threads at once: seqs are unique and contiguous, each batch in order.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut seqs = Vec::new();
                for i in 0..25 {
                    if i % 5 == 0 {
                        let range =
                            log.submit((0..3).map(|k| event(t * 100 + i + k)).collect()).unwrap().wait().unwrap();
                        assert_eq!(range.end - range.start, 3);
                        seqs.extend(range);
                    } else {
                        seqs.push(log.append_blocking(event(t * 100 + i)).unwrap());
                    }
                }
                seqs
            })
        })
        .collect();
    let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort();
    assert_eq!(all, (0..(4 * (20 + 5 * 3)) as u64).collect::<Vec<_>>());
    let first = log.checkpoint_now().unwrap().unwrap();
    assert_eq!(first.checkpoint.size, 140);
    let key = log.verifier_key();
    log.close().unwrap();

    let log = AuditLog::open(dir.path(), options()).unwrap();
    assert_eq!(log.size(), 140);
    assert_eq!(log.latest_checkpoint(), Some(first.clone()));
    assert_eq!(log.append_blocking(event(1000)).unwrap(), 140);
    let second = log.checkpoint_now().unwrap().unwrap();
    assert_eq!(second.checkpoint.size, 141);
    assert!(second.time >= first.time);
    // The record reads back as logged.
    let r = log.record(140).unwrap().unwrap();
    assert_eq!(r.event, event(1000));
    assert_eq!(log.leaf(140).unwrap(), r.leaf(&salt_of(log.path(), 140)));
    drop(log);

    let report = verify(&dir.path().join(DB_FILE), &key).unwrap();
    assert_eq!((report.size, report.records, report.erased), (141, 141, 0));
    assert!(report.checkpoints >= 3, "{report:?}");
    assert_eq!(report.latest, Some(second));
    assert_eq!(report.uncovered, 0);
    assert_eq!(read_verifier_key(dir.path()).unwrap(), key);
}

fn salt_of(db: &Path, seq: u64) -> [u8; 32] {
    let conn = rusqlite::Connection::open(db).unwrap();
    let salt: Vec<u8> = conn.query_row("SELECT salt FROM records WHERE seq = ?1", [seq as i64], |r| r.get(0)).unwrap();
    salt.try_into().unwrap()
}

#[test]
fn proofs_from_the_store_verify() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    let mut checkpoints = Vec::new();
    let mut n = 0;
    for batch in [1usize, 2, 5, 8, 13, 21, 34] {
        log.submit((n..n + batch).map(event).collect()).unwrap().wait().unwrap();
        n += batch;
        checkpoints.push(log.checkpoint_now().unwrap().unwrap());
    }
    for (i, old) in checkpoints.iter().enumerate() {
        for new in &checkpoints[i..] {
            let (a, b) = (old.checkpoint.size, new.checkpoint.size);
            let proof = log.consistency_proof(a, b).unwrap();
            verify_consistency(a, b, &old.checkpoint.root, &new.checkpoint.root, &proof).unwrap();
        }
    }
    let latest = checkpoints.last().unwrap();
    for seq in 0..latest.checkpoint.size {
        let proof = log.inclusion_proof(seq, latest.checkpoint.size).unwrap();
        let leaf = log.leaf(seq).unwrap();
        verify_inclusion(seq, latest.checkpoint.size, &leaf, &proof, &latest.checkpoint.root).unwrap();
    }
    assert!(matches!(log.inclusion_proof(0, n as u64 + 1), Err(AuditError::NotFound(_))));
    // A note partners can check with the key alone.
    let note = log.verifier_key().note(latest);
    assert_eq!(log.verifier_key().open_note(&note).unwrap(), *latest);
    assert_ne!(latest.checkpoint.root, leaf_hash(b""));
}

/// A small log with a kept record beside an erased one, several checkpoints, and an erasure.
fn small_log(dir: &Path) -> limes_audit::VerifierKey {
    let log = AuditLog::open(dir, options()).unwrap();
    for i in 0..3 {
        log.append_blocking(event(i)).unwrap();
    }
    log.checkpoint_now().unwrap();
    for i in 3..5 {
        log.append_blocking(event(i)).unwrap();
    }
    log.checkpoint_now().unwrap();
    let erased = log.erase_blocking(erasure(vec![2])).unwrap();
    assert_eq!(erased.record, Some(5));
    log.checkpoint_now().unwrap();
    log.append_blocking(event(6)).unwrap();
    log.checkpoint_now().unwrap();
    // Past 16 leaves, so that the tree has a stored node (level 4).
    log.submit((7..17).map(event).collect()).unwrap().wait().unwrap();
    log.checkpoint_now().unwrap();
    let key = log.verifier_key();
    log.close().unwrap();
    let report = verify(&dir.join(DB_FILE), &key).unwrap();
    assert_eq!((report.size, report.records, report.erased), (17, 16, 1));
    // The first append after a quiet spell is signed for at once (size 1), then the ones asked
    // for (3, 5, 6, 7, 17), and any the writer signed because a second passed in between.
    assert!(report.checkpoints >= 6, "{report:?}");
    key
}

/// A row of the log's tables, by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Record(i64),
    Leaf(i64),
    Node(i64, i64),
    Checkpoint(i64),
}

impl Row {
    fn table(self) -> &'static str {
        match self {
            Row::Record(_) => "records",
            Row::Leaf(_) => "leaves",
            Row::Node(..) => "nodes",
            Row::Checkpoint(_) => "checkpoints",
        }
    }

    fn filter(self) -> (String, Vec<i64>) {
        match self {
            Row::Record(s) | Row::Leaf(s) => ("seq = ?2".into(), vec![s]),
            Row::Node(l, i) => ("level = ?2 AND idx = ?3".into(), vec![l, i]),
            Row::Checkpoint(s) => ("size = ?2".into(), vec![s]),
        }
    }

    /// The row's key once `column` holds `value`.
    fn moved(self, column: &str, value: &Value) -> Row {
        let Value::Integer(v) = *value else { return self };
        match (self, column) {
            (Row::Record(_), "seq") => Row::Record(v),
            (Row::Leaf(_), "seq") => Row::Leaf(v),
            (Row::Node(_, i), "level") => Row::Node(v, i),
            (Row::Node(l, _), "idx") => Row::Node(l, v),
            (Row::Checkpoint(_), "size") => Row::Checkpoint(v),
            _ => self,
        }
    }

    /// Whether a break at `place` names this row (a leaf is also named by the node above it).
    fn named_by(self, place: &Place) -> bool {
        match (self, place) {
            (Row::Record(s), Place::Record(p)) => s == *p as i64,
            (Row::Leaf(s), Place::Record(p) | Place::Leaf(p)) => s == *p as i64,
            (Row::Leaf(s), Place::Node { level, index }) => {
                (index << level) as i64 <= s && s < ((index + 1) << level) as i64
            }
            (Row::Leaf(s), Place::Checkpoint { size }) => *size as i64 > s,
            (Row::Node(l, i), Place::Node { level, index }) => (l, i) == (i64::from(*level), *index as i64),
            (Row::Node(l, i), Place::NodeRow { level, index }) => (l, i) == (*level, *index),
            (Row::Checkpoint(s), Place::Checkpoint { size }) => s == *size as i64,
            _ => false,
        }
    }
}

const COLUMNS: [(&str, &[&str]); 4] = [
    (
        "records",
        &[
            "seq",
            "time_us",
            "actor",
            "role",
            "action",
            "object",
            "purpose",
            "legal_basis",
            "case_ref",
            "outcome",
            "details",
            "salt",
        ],
    ),
    ("leaves", &["seq", "hash"]),
    ("nodes", &["level", "idx", "hash"]),
    ("checkpoints", &["size", "root", "time", "signature"]),
];

/// Every value stored in the log's tables, with its row and column.
fn stored_values(conn: &rusqlite::Connection) -> Vec<(Row, &'static str, Value)> {
    let mut out = Vec::new();
    for (table, columns) in COLUMNS {
        let key = match table {
            "nodes" => "level, idx",
            "checkpoints" => "size, 0",
            _ => "seq, 0",
        };
        for column in columns {
            let mut stmt = conn.prepare(&format!("SELECT {key}, {column} FROM {table}")).unwrap();
            let rows: Vec<(i64, i64, Value)> =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
            for (a, b, v) in rows {
                let row = match table {
                    "records" => Row::Record(a),
                    "leaves" => Row::Leaf(a),
                    "nodes" => Row::Node(a, b),
                    _ => Row::Checkpoint(a),
                };
                out.push((row, *column, v));
            }
        }
    }
    out
}

/// Stores `value` in `column` of `row`; false when that would collide with another row's key
/// (not a flip of the stored log: skipped).
fn set_value(conn: &rusqlite::Connection, row: Row, column: &str, value: &Value) -> bool {
    let (filter, keys) = row.filter();
    // A flip that breaks UTF-8 is still stored as TEXT, as a damaged disk would leave it.
    let set = if matches!(value, Value::Blob(_)) && row.table() == "records" && !["salt"].contains(&column) {
        "CAST(?1 AS TEXT)"
    } else {
        "?1"
    };
    let sql = format!("UPDATE {} SET {column} = {set} WHERE {filter}", row.table());
    let mut params: Vec<Value> = vec![value.clone()];
    params.extend(keys.into_iter().map(Value::Integer));
    match conn.execute(&sql, rusqlite::params_from_iter(params)) {
        Ok(1) => true,
        Ok(n) => panic!("{sql} changed {n} rows"),
        Err(_) => false,
    }
}

/// The value with each of its bytes flipped in turn.
fn flips(value: &Value) -> Vec<Value> {
    match value {
        Value::Integer(n) => (0..8).map(|i| Value::Integer(n ^ (1 << (8 * i)))).collect(),
        Value::Text(t) => (0..t.len())
            .map(|i| {
                let mut b = t.clone().into_bytes();
                b[i] ^= 1;
                match String::from_utf8(b) {
                    Ok(s) => Value::Text(s),
                    Err(e) => Value::Blob(e.into_bytes()),
                }
            })
            .collect(),
        Value::Blob(b) => (0..b.len())
            .map(|i| {
                let mut b = b.clone();
                b[i] ^= 1;
                Value::Blob(b)
            })
            .collect(),
        Value::Null | Value::Real(_) => vec![],
    }
}

#[test]
fn every_flipped_byte_breaks_verification_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let key = small_log(dir.path());
    let db = dir.path().join(DB_FILE);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut tried = std::collections::BTreeMap::<&str, usize>::new();
    for (row, column, value) in stored_values(&conn) {
        // Every byte of the first seven records (one erased, one an erasure); the other
        // records are the same fields again, their leaves are all flipped below.
        if matches!(row, Row::Record(s) if s >= 7) {
            continue;
        }
        for flipped in flips(&value) {
            if !set_value(&conn, row, column, &flipped) {
                continue;
            }
            let moved = row.moved(column, &flipped);
            let breaks = broken(verify(&db, &key));
            let first = &breaks[0];
            assert!(
                breaks.iter().any(|b| row.named_by(&b.place) || moved.named_by(&b.place)),
                "{row:?} {column}: flipped, but no break names it; first: {first}"
            );
            // The first break in log order is the flipped row, except when the erasure
            // record's action, object or details is altered: then the record it erased (2) is
            // first found unaccounted for.
            let erasure_altered = row == Row::Record(5) && matches!(column, "action" | "details" | "object");
            assert!(
                row.named_by(&first.place)
                    || moved.named_by(&first.place)
                    || erasure_altered && first.place == Place::Record(2),
                "{row:?} {column}: the first break is {first}"
            );
            assert!(set_value(&conn, moved, column, &value), "restoring {row:?} {column}");
            *tried.entry(row.table()).or_default() += 1;
        }
    }
    // Everything restored: the log verifies again.
    verify(&db, &key).unwrap();
    assert_eq!(tried.len(), 4, "{tried:?}");
    assert!(tried.values().sum::<usize>() > 1500, "{tried:?}");

    // The leaf of the erased record (seq 2): no record to compare with, the node above names it.
    let stored: Vec<u8> = conn.query_row("SELECT hash FROM leaves WHERE seq = 2", [], |r| r.get(0)).unwrap();
    let mut flipped = stored.clone();
    flipped[0] ^= 0x80;
    conn.execute("UPDATE leaves SET hash = ?1 WHERE seq = 2", [&flipped]).unwrap();
    let breaks = broken(verify(&db, &key));
    assert_eq!(breaks[0].place, Place::Checkpoint { size: 3 }, "{}", breaks[0]);
    assert!(breaks[0].problem.contains("leaves 2 have no record"), "{}", breaks[0]);
    assert!(breaks.iter().any(|b| b.place == Place::Node { level: 4, index: 0 }));
    assert!(breaks.iter().any(|b| b.place == Place::Checkpoint { size: 5 }));
    conn.execute("UPDATE leaves SET hash = ?1 WHERE seq = 2", [&stored]).unwrap();

    // The meta rows: the origin and key the log names must be the trusted ones.
    for name in ["origin", "key", "node_level"] {
        let stored: String = conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0)).unwrap();
        conn.execute("UPDATE meta SET value = ?1 WHERE name = ?2", [format!("{stored}x"), name.to_owned()]).unwrap();
        assert_eq!(broken(verify(&db, &key))[0].place, Place::Meta(name.into()));
        conn.execute("UPDATE meta SET value = ?1 WHERE name = ?2", [stored, name.to_owned()]).unwrap();
    }
    verify(&db, &key).unwrap();
}

#[test]
fn removed_rows_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = small_log(dir.path());
    let db = dir.path().join(DB_FILE);
    let conn = rusqlite::Connection::open(&db).unwrap();
    // Each change on a copy of the log.
    let check = |sql: &str, want: Place| {
        let copy = dir.path().join("copy.sqlite");
        let _ = std::fs::remove_file(&copy);
        conn.execute("VACUUM INTO ?1", [copy.to_str().unwrap()]).unwrap();
        rusqlite::Connection::open(&copy).unwrap().execute_batch(sql).unwrap();
        let breaks = broken(verify(&copy, &key));
        assert!(breaks.iter().any(|b| b.place == want), "{sql}: {:?}", breaks);
        assert_eq!(breaks[0].place, want, "{sql}: first break {}", breaks[0]);
    };
    // A record deleted without an erasure.
    check("DELETE FROM records WHERE seq = 3", Place::Record(3));
    // The newest leaf cut off: the last checkpoint covers more than the log.
    check("DELETE FROM leaves WHERE seq = 16; DELETE FROM records WHERE seq = 16", Place::Checkpoint { size: 17 });
    // A leaf in the middle.
    check("DELETE FROM leaves WHERE seq = 4", Place::Leaf(4));
    // A stored node.
    check("DELETE FROM nodes WHERE level = 4 AND idx = 0", Place::Node { level: 4, index: 0 });
    // An erasure's record deleted: the record it erased is then unaccounted for.
    check("DELETE FROM records WHERE seq = 5", Place::Record(2));
    // The erasure rewritten to name a later record.
    check("UPDATE records SET details = '{\"erased\":[[2,6]]}' WHERE seq = 5", Place::Record(5));
    verify(&db, &key).unwrap();
}

#[test]
fn a_log_keeps_the_node_level_it_was_created_with() {
    let dir = tempfile::tempdir().unwrap();
    AuditLog::open(dir.path(), options()).unwrap().close().unwrap();
    // As if an older build had created it keeping every level.
    let db = dir.path().join(DB_FILE);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE meta SET value = '1' WHERE name = 'node_level'", [])
        .unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    log.submit((0..40).map(event).collect()).unwrap().wait().unwrap();
    let checkpoint = log.checkpoint_now().unwrap().unwrap();
    let proof = log.inclusion_proof(33, 40).unwrap();
    verify_inclusion(33, 40, &log.leaf(33).unwrap(), &proof, &checkpoint.checkpoint.root).unwrap();
    let key = log.verifier_key();
    drop(log);
    let nodes: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM nodes WHERE level = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(nodes, 20);
    verify(&db, &key).unwrap();
}

#[test]
fn another_key_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    small_log(dir.path());
    let other = limes_audit::CheckpointSigner::from_seed(ORIGIN, &[1; 32]).unwrap().verifier();
    let breaks = broken(verify(&dir.path().join(DB_FILE), &other));
    assert_eq!(breaks[0].place, Place::Meta("key".into()));
    assert!(breaks.iter().any(|b| b.place == Place::Checkpoint { size: 3 }));
}

#[test]
fn erasure_keeps_the_log_verifiable_and_leaves_nothing_readable() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    for i in 0..10 {
        let mut e = event(i);
        if i == 4 || i == 7 {
            e.object = Object::plate(&format!("ERASEME{i}"));
        }
        log.append_blocking(e).unwrap();
    }
    log.checkpoint_now().unwrap();
    let erased = log.erase_blocking(erasure(vec![7, 4, 4])).unwrap();
    assert_eq!(erased.erased, vec![4, 7]);
    assert_eq!(erased.record, Some(10));
    assert!(log.record(4).unwrap().is_none());
    assert!(log.record(7).unwrap().is_none());
    // The erasure is logged, naming the records and nothing of them.
    let r = log.record(10).unwrap().unwrap();
    assert_eq!(r.event.action, Action::Erase);
    assert_eq!(r.event.actor, Actor::User("dpo".into()));
    assert_eq!(r.event.details.value(), serde_json::json!({"erased": [[4, 4], [7, 7]]}));
    // Again: nothing left to erase, nothing logged.
    let again = log.erase_blocking(erasure(vec![4])).unwrap();
    assert_eq!((again.erased.len(), again.already_erased, again.record), (0, vec![4], None));
    // Erasure records are kept; records beyond the log do not exist.
    assert!(matches!(log.erase_blocking(erasure(vec![10])), Err(AuditError::Refused(_))));
    assert!(matches!(log.erase_blocking(erasure(vec![3, 99])), Err(AuditError::NotFound(_))));
    assert!(log.record(3).unwrap().is_some(), "a refused erasure erases nothing");
    log.checkpoint_now().unwrap();

    let report = log.verify().unwrap();
    assert_eq!((report.size, report.records, report.erased), (11, 9, 2));
    // An old checkpoint still proves the erased record's leaf.
    let leaf = log.leaf(4).unwrap();
    let proof = log.inclusion_proof(4, 10).unwrap();
    let conn = rusqlite::Connection::open(log.path()).unwrap();
    let root: Vec<u8> = conn.query_row("SELECT root FROM checkpoints WHERE size = 10", [], |r| r.get(0)).unwrap();
    verify_inclusion(4, 10, &leaf, &proof, &limes_audit::Hash::from_slice(&root).unwrap()).unwrap();
    drop(conn);
    // Export by plate finds nothing of it.
    let mut out = Vec::new();
    let filter = ExportFilter { mentions: Some("ERASEME".into()), ..Default::default() };
    assert_eq!(log.export(&filter, &mut out).unwrap(), 0);
    log.close().unwrap();
    // Nor does any byte of the database files.
    for name in [DB_FILE.to_owned(), format!("{DB_FILE}-wal")] {
        let Ok(bytes) = std::fs::read(dir.path().join(&name)) else { continue };
        for needle in [b"ERASEME4".as_slice(), b"ERASEME7"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{name} still holds {needle:?}");
        }
    }
}

/// Data erased outside the log (reads, by retention or a data subject's request) is logged as
/// an `Erase` of its own object: it excuses no missing record, and verifies. Only
/// `AuditLog::erase` may log an erasure of audit records.
#[test]
fn data_erasures_are_not_audit_erasures_and_cannot_be_forged() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    for i in 0..4 {
        log.append_blocking(event(i)).unwrap();
    }
    let mut data_erasure = event(4);
    data_erasure.action = Action::Erase;
    data_erasure.details = Details::new(&serde_json::json!({ "reads": 12 }));
    log.append_blocking(data_erasure).unwrap();
    let mut forged = event(5);
    forged.action = Action::Erase;
    forged.object = Object::from_text(limes_audit::ERASURE_OBJECT);
    forged.details = Details::new(&serde_json::json!({ "erased": [[1, 2]] }));
    assert!(matches!(log.append_blocking(forged), Err(AuditError::Refused(_))));
    log.checkpoint_now().unwrap();
    assert_eq!(log.verify().unwrap().records, 5);
    // Deleting a row is still found, whatever data erasure came after it.
    let conn = rusqlite::Connection::open(log.path()).unwrap();
    conn.execute("DELETE FROM records WHERE seq = 1", []).unwrap();
    drop(conn);
    assert!(!broken(log.verify()).is_empty());
}

#[test]
fn export_selects_by_period_actor_and_plate() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    for i in 0..6 {
        log.append_blocking(event(i)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(5));
    let middle = chrono::Utc::now();
    for i in 6..12 {
        log.append_blocking(event(i)).unwrap();
    }
    let lines = |filter: ExportFilter| -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let n = limes_audit::export(dir.path(), &filter, &mut out).unwrap();
        let lines: Vec<serde_json::Value> =
            String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len() as u64, n);
        lines
    };
    let seqs = |v: Vec<serde_json::Value>| v.iter().map(|r| r["seq"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(seqs(lines(ExportFilter::default())), (0..12).collect::<Vec<_>>());
    assert_eq!(seqs(lines(ExportFilter { from: Some(middle), ..Default::default() })), (6..12).collect::<Vec<_>>());
    assert_eq!(seqs(lines(ExportFilter { to: Some(middle), ..Default::default() })), (0..6).collect::<Vec<_>>());
    assert_eq!(seqs(lines(ExportFilter { actor: Some("user:user1".into()), ..Default::default() })), vec![1, 5]);
    assert_eq!(seqs(lines(ExportFilter { actor: Some("cam-9".into()), ..Default::default() })), vec![9]);
    let by_plate = lines(ExportFilter { object_contains: Some("B007".into()), ..Default::default() });
    assert_eq!(seqs(by_plate.clone()), vec![7]);
    let r = &by_plate[0];
    assert_eq!(r["object"], "plate:B007XYZ");
    assert_eq!(r["action"], "disclose");
    assert_eq!(r["details"]["note"], "ș and ü");
    assert!(r["time"].as_str().unwrap().contains('T'));
    assert_eq!(seqs(lines(ExportFilter { mentions: Some("\"i\":11".into()), ..Default::default() })), vec![11]);
    assert!(matches!(
        limes_audit::export(&dir.path().join("nowhere"), &ExportFilter::default(), &mut Vec::new()),
        Err(AuditError::NotFound(_))
    ));
}

#[test]
fn checkpoints_are_signed_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options();
    options.checkpoint_interval = Duration::from_millis(200);
    let log = AuditLog::open(dir.path(), options).unwrap();
    let started = Instant::now();
    // Appends for a while: the writer signs as it goes, one checkpoint per interval.
    while started.elapsed() < Duration::from_millis(700) {
        log.append_blocking(event(1)).unwrap();
    }
    let size = log.size();
    // And the last appends get theirs when the appends stop.
    while log.latest_checkpoint().map(|c| c.checkpoint.size) != Some(size) {
        assert!(started.elapsed() < Duration::from_secs(30), "no checkpoint of the last appends");
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = log.verify().unwrap();
    assert!(report.checkpoints >= 2, "{report:?}");
    assert_eq!(report.uncovered, 0);
}

#[test]
fn open_refuses_another_origin_and_a_lost_key() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    log.append_blocking(event(0)).unwrap();
    log.close().unwrap();
    let err = AuditLog::open(dir.path(), AuditOptions::new("limes.test/other")).unwrap_err();
    assert!(matches!(err, AuditError::OriginChanged { .. }), "{err}");
    std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
    let err = AuditLog::open(dir.path(), options()).unwrap_err();
    assert!(matches!(err, AuditError::KeyMissing { .. }), "{err}");
    assert!(!dir.path().join(KEY_FILE).exists(), "no new key is made for an existing log");
}

#[test]
fn invalid_events_are_refused_before_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    let mut e = event(0);
    e.purpose.clear();
    assert!(matches!(log.append_blocking(e), Err(AuditError::Invalid(_))));
    assert_eq!(log.size(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_appends_from_many_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..20 {
                    seqs.push(log.append(event(t * 20 + i)).await.unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut seqs = BTreeSet::new();
    for t in tasks {
        seqs.extend(t.await.unwrap());
    }
    assert_eq!(seqs, (0..1280).collect());
    let erased = log.erase(erasure(vec![5])).await.unwrap();
    assert_eq!(erased.record, Some(1280));
    let log2 = log.clone();
    tokio::task::spawn_blocking(move || log2.checkpoint_now()).await.unwrap().unwrap();
    assert_eq!(log.verify().unwrap().erased, 1);
    tokio::task::spawn_blocking(move || drop(log)).await.unwrap();
}

#[test]
fn dropped_without_close_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    let key = log.verifier_key();
    for i in 0..50 {
        log.append_blocking(event(i)).unwrap();
    }
    drop(log);
    let log = AuditLog::open(dir.path(), options()).unwrap();
    assert_eq!(log.size(), 50);
    for seq in 0..50 {
        assert_eq!(log.record(seq).unwrap().unwrap().event, event(seq as usize));
    }
    drop(log);
    verify(&dir.path().join(DB_FILE), &key).unwrap();
}

/// Set in the child process of the crash test: the directory it appends to.
const CRASH_CHILD: &str = "LIMES_AUDIT_CRASH_CHILD_DIR";

/// The child appends until it is killed, printing each acknowledged seq; the parent kills it
/// with SIGKILL after a while, reopens the log and finds every acknowledged record.
#[test]
fn acknowledged_appends_survive_kill_9() {
    if let Ok(dir) = std::env::var(CRASH_CHILD) {
        let log = AuditLog::open(Path::new(&dir), options()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0.. {
                        let seq = log.append_blocking(event(t * 1_000_000 + i)).unwrap();
                        println!("ack {seq} {}", t * 1_000_000 + i);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        unreachable!("the child is killed");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "acknowledged_appends_survive_kill_9", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("ack ") {
            let (seq, i) = rest.split_once(' ').unwrap();
            acked.push((seq.parse::<u64>().unwrap(), i.parse::<usize>().unwrap()));
            if acked.len() >= 1500 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no last checkpoint
    child.wait().unwrap();
    let log = AuditLog::open(dir.path(), options()).unwrap();
    assert!(log.size() >= 1500);
    for (seq, i) in acked {
        assert_eq!(log.record(seq).unwrap().expect("acknowledged record lost").event, event(i));
    }
    // The leaves appended after the last checkpoint are covered once the log reopens.
    log.checkpoint_now().unwrap();
    let report = log.verify().unwrap();
    assert_eq!(report.uncovered, 0);
    assert_eq!(report.size, log.size());
}
