//! `verify`: recomputes the log from what is stored and names every place where it breaks.
//!
//! One pass in seq order, inside one read transaction (a consistent snapshot, so it can run
//! while the node appends):
//! 1. the meta rows name the trusted key and its origin;
//! 2. erasure records are read first: every record missing later must be named by one of them
//!    (and an erasure names only records before it);
//! 3. for each leaf: its seq follows the previous one; its record, when kept, hashes with its
//!    salt to the stored leaf; the leaf goes into the tree, and every complete subtree it
//!    completes equals the stored node;
//! 4. at each checkpoint's size: its signature verifies under the trusted key, its root equals
//!    the recomputed root, its time does not go back, and a consistency proof built from the
//!    stored tree links it to the previous checkpoint;
//! 5. nothing is left over: no record, node or checkpoint beyond the leaves.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::checkpoint::{Checkpoint, SignedCheckpoint, VerifierKey};
use crate::merkle::{self, Frontier, Hash, NewNode};
use crate::record::RecordText;
use crate::sql::{self, SqlTree};
use crate::{AuditError, schema};

/// Where the log breaks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    /// A row of the `meta` table (`origin`, `key`).
    Meta(String),
    /// A record (its fields or salt), by seq.
    Record(u64),
    /// A leaf hash, by seq.
    Leaf(u64),
    /// A stored interior node: the complete subtree `(level, index)`.
    Node { level: u32, index: u64 },
    /// A signed checkpoint, by tree size.
    Checkpoint { size: u64 },
    /// A row of `nodes` whose level or index no node of a tree can have.
    NodeRow { level: i64, index: i64 },
}

impl Place {
    /// Order in the log: the last leaf the place depends on; a leaf before its record, both
    /// before the nodes and checkpoints above them.
    fn position(&self) -> (u64, u8) {
        match self {
            Place::Meta(_) => (0, 0),
            Place::Leaf(s) => (*s, 1),
            Place::Record(s) => (*s, 2),
            Place::Node { level, index } => (node_leaves(*level, *index).map_or(u64::MAX, |(_, last)| last), 3),
            Place::Checkpoint { size } => (size.saturating_sub(1), 4),
            Place::NodeRow { .. } => (u64::MAX, 5),
        }
    }
}

/// The first and last leaf under the complete subtree `(level, index)`, if it can exist.
fn node_leaves(level: u32, index: u64) -> Option<(u64, u64)> {
    let first = index.checked_mul(1u64.checked_shl(level)?)?;
    let last = first.checked_add((1u64 << level) - 1)?;
    Some((first, last))
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Meta(name) => write!(f, "meta {name}"),
            Place::Record(s) => write!(f, "record {s}"),
            Place::Leaf(s) => write!(f, "leaf {s}"),
            Place::Node { level, index } => match node_leaves(*level, *index) {
                Some((first, last)) => write!(f, "node {level}/{index} (leaves {first}–{last})"),
                None => write!(f, "node {level}/{index}"),
            },
            Place::Checkpoint { size } => write!(f, "checkpoint at size {size}"),
            Place::NodeRow { level, index } => write!(f, "nodes row {level}/{index}"),
        }
    }
}

/// One place where the log does not hold together, and what differs there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub place: Place,
    pub problem: String,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.problem)
    }
}

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub origin: String,
    /// Leaves in the log.
    pub size: u64,
    /// Records kept (readable).
    pub records: u64,
    /// Records erased (their leaves kept).
    pub erased: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The newest checkpoint.
    pub latest: Option<SignedCheckpoint>,
    /// Leaves appended after the newest checkpoint (not yet signed for).
    pub uncovered: u64,
}

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The database could not be read (missing, locked, not SQLite).
    #[error("reading the audit log: {0}")]
    Read(#[from] AuditError),
    /// The log does not hold together; the breaks are in log order, the first is where it
    /// breaks first.
    #[error("the audit log breaks at {}{}", .breaks[0], if *.total > 1 { format!(" ({} problems in all)", .total) } else { String::new() })]
    Broken { breaks: Vec<Break>, total: usize },
}

impl From<rusqlite::Error> for VerifyError {
    fn from(e: rusqlite::Error) -> Self {
        VerifyError::Read(AuditError::Db(e))
    }
}

/// Most breaks kept; the count goes on.
const MAX_BREAKS: usize = 1000;

#[derive(Default)]
struct Breaks {
    list: Vec<Break>,
    total: usize,
}

impl Breaks {
    fn push(&mut self, place: Place, problem: impl Into<String>) {
        self.total += 1;
        if self.list.len() < MAX_BREAKS {
            self.list.push(Break { place, problem: problem.into() });
        }
    }
}

/// Verifies the audit database at `path` against the trusted checkpoint key `key` (the one
/// partners hold; [`crate::read_verifier_key`] reads the node's own).
pub fn verify(path: &Path, key: &VerifierKey) -> Result<VerifyReport, VerifyError> {
    if !path.is_file() {
        return Err(AuditError::NotFound(format!("{} does not exist", path.display())).into());
    }
    let conn = sql::open_ro(path)?;
    if schema::version(&conn)? == 0 {
        return Err(AuditError::NotFound(format!("{} is not an audit log", path.display())).into());
    }
    // One snapshot for the whole pass.
    conn.execute_batch("BEGIN")?;
    let mut breaks = Breaks::default();
    let result = check(&conn, key, &mut breaks);
    let _ = conn.execute_batch("COMMIT");
    let report = result?;
    if breaks.total > 0 {
        let mut list = breaks.list;
        list.sort_by_key(|b| b.place.position());
        return Err(VerifyError::Broken { breaks: list, total: breaks.total });
    }
    Ok(report)
}

fn check(conn: &Connection, key: &VerifierKey, breaks: &mut Breaks) -> Result<VerifyReport, VerifyError> {
    let meta = |name: &str| -> rusqlite::Result<Option<String>> {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0)).optional()
    };
    let origin = meta("origin")?.unwrap_or_default();
    if origin != key.name() {
        breaks.push(Place::Meta("origin".into()), format!("{origin:?} is not the trusted key's name {:?}", key.name()));
    }
    let stored_key = meta("key")?.unwrap_or_default();
    if stored_key != key.to_string() {
        breaks.push(Place::Meta("key".into()), format!("the log names key {stored_key:?}, not the trusted {key}"));
    }
    let node_level = match sql::node_level(conn)? {
        Some(level) => level,
        None => {
            breaks.push(Place::Meta("node_level".into()), "is missing or not a level from 1 to 63");
            sql::NODE_LEVEL
        }
    };
    let erasures = erasures(conn, breaks)?;

    let mut pass = Pass {
        conn,
        key,
        node_level,
        frontier: Frontier::new(),
        nodes: StoredNodes::new(conn),
        previous: None,
        unbacked: Vec::new(),
        checkpoints: 0,
        latest: None,
    };
    let mut leaves_stmt = conn.prepare("SELECT seq, hash FROM leaves ORDER BY seq")?;
    let mut leaves = leaves_stmt.query([])?;
    let mut records_stmt = conn.prepare(
        "SELECT seq, time_us, actor, role, action, object, purpose, legal_basis, case_ref, outcome, details, salt
         FROM records ORDER BY seq",
    )?;
    let mut records = records_stmt.query([])?;
    let mut next_record = read_record(records.next()?);
    let mut checkpoints_stmt = conn.prepare("SELECT size, root, time, signature FROM checkpoints ORDER BY size")?;
    let mut checkpoints = checkpoints_stmt.query([])?;
    let mut next_checkpoint = read_checkpoint(checkpoints.next()?);
    let (mut kept, mut erased) = (0u64, 0u64);
    let mut expected = 0u64;
    let mut scratch = Vec::with_capacity(1024);

    // A checkpoint of the empty tree, if any, comes before the first leaf.
    while let Some(cp) = next_checkpoint.take_if(|cp| cp.size <= pass.frontier.size()) {
        pass.checkpoint(cp, breaks)?;
        next_checkpoint = read_checkpoint(checkpoints.next()?);
    }
    while let Some(row) = leaves.next()? {
        let seq: i64 = row.get(0)?;
        let seq = seq as u64;
        if seq > expected {
            breaks.push(Place::Leaf(expected), format!("leaves {expected}–{} are missing", seq - 1));
        }
        expected = seq + 1;
        let leaf = match row.get_ref(1)? {
            ValueRef::Blob(b) if b.len() == 32 => Hash::from_slice(b).expect("32 bytes"),
            other => {
                breaks.push(Place::Leaf(seq), format!("is {}, not a 32-byte hash", describe(other)));
                Hash([0; 32])
            }
        };
        // Records without a leaf, then this leaf's record.
        while let Some(r) = next_record.take_if(|r| r.seq() < seq) {
            breaks.push(Place::Record(r.seq()), "has no leaf");
            next_record = read_record(records.next()?);
        }
        match next_record.take_if(|r| r.seq() == seq) {
            Some(r) => {
                kept += 1;
                match r {
                    Ok(r) => {
                        if let Err(problem) = r.check(&leaf, &mut scratch) {
                            pass.unbacked.push(seq);
                            breaks.push(Place::Record(seq), problem);
                        }
                    }
                    Err((_, problem)) => {
                        pass.unbacked.push(seq);
                        breaks.push(Place::Record(seq), problem);
                    }
                }
                next_record = read_record(records.next()?);
            }
            None => {
                pass.unbacked.push(seq);
                match erasures.range(..=seq).next_back() {
                    Some((_, &(last, _))) if last >= seq => erased += 1,
                    _ => breaks.push(Place::Record(seq), "is missing, and no erasure record names it"),
                }
            }
        }
        pass.push(leaf, breaks)?;
        while let Some(cp) = next_checkpoint.take_if(|cp| cp.size <= pass.frontier.size()) {
            pass.checkpoint(cp, breaks)?;
            next_checkpoint = read_checkpoint(checkpoints.next()?);
        }
    }
    let size = pass.frontier.size();
    while let Some(r) = next_record.take() {
        breaks.push(Place::Record(r.seq()), format!("has no leaf (the log has {size} leaves)"));
        next_record = read_record(records.next()?);
    }
    while let Some(cp) = next_checkpoint.take() {
        breaks.push(
            Place::Checkpoint { size: cp.size },
            format!("covers {} leaves but the log has {size}: leaves were cut off its end", cp.size),
        );
        next_checkpoint = read_checkpoint(checkpoints.next()?);
    }
    let mut extra = conn.prepare(
        "SELECT level, idx FROM nodes WHERE level < ?1 OR level > 62 OR idx < 0 OR idx >= (?2 >> level)
         ORDER BY level, idx LIMIT 100",
    )?;
    let mut rows = extra.query([i64::from(node_level), size as i64])?;
    while let Some(row) = rows.next()? {
        let (level, index): (i64, i64) = (row.get(0)?, row.get(1)?);
        let place = match (u32::try_from(level), u64::try_from(index)) {
            (Ok(level), Ok(index)) => Place::Node { level, index },
            _ => Place::NodeRow { level, index },
        };
        breaks.push(place, format!("is not a node of the tree of {size} leaves"));
    }
    let uncovered = size - pass.latest.as_ref().map_or(0, |c| c.checkpoint.size.min(size));
    Ok(VerifyReport {
        origin,
        size,
        records: kept,
        erased,
        checkpoints: pass.checkpoints,
        latest: pass.latest,
        uncovered,
    })
}

/// The records each erasure record names, as `first → (last, erasure seq)`.
fn erasures(conn: &Connection, breaks: &mut Breaks) -> Result<BTreeMap<u64, (u64, u64)>, VerifyError> {
    let mut out = BTreeMap::new();
    // Other erase records log data erased elsewhere (reads, by retention or a subject's
    // request); only the log's own erasures excuse missing records.
    let mut stmt =
        conn.prepare("SELECT seq, details FROM records WHERE action = 'erase' AND object = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([crate::log::ERASURE_OBJECT])?;
    while let Some(row) = rows.next()? {
        let seq = row.get::<_, i64>(0)? as u64;
        let ranges = match row.get_ref(1)? {
            ValueRef::Text(t) => serde_json::from_slice::<serde_json::Value>(t)
                .ok()
                .and_then(|v| serde_json::from_value::<Vec<[u64; 2]>>(v.get("erased")?.clone()).ok()),
            _ => None,
        };
        let Some(ranges) = ranges else {
            breaks.push(Place::Record(seq), "is an erasure whose details do not list the erased records");
            continue;
        };
        for [first, last] in ranges {
            if first > last || last >= seq {
                breaks.push(Place::Record(seq), format!("erases records {first}–{last}, not all before it"));
            }
            // What it names before itself still counts, so the break stays at this record.
            if first <= last && first < seq {
                out.insert(first, (last.min(seq - 1), seq));
            }
        }
    }
    Ok(out)
}

/// A stored record's columns, as bytes, before any interpretation.
struct RawRecord {
    seq: u64,
    time_us: i64,
    /// actor, role, action, object, purpose, legal_basis, outcome, details.
    text: [Vec<u8>; 8],
    case_ref: Option<Vec<u8>>,
    salt: Vec<u8>,
}

const TEXT_FIELDS: [&str; 8] = ["actor", "role", "action", "object", "purpose", "legal_basis", "outcome", "details"];

type RecordRead = Result<RawRecord, (u64, String)>;

trait Seq {
    fn seq(&self) -> u64;
}

impl Seq for RecordRead {
    fn seq(&self) -> u64 {
        match self {
            Ok(r) => r.seq,
            Err((seq, _)) => *seq,
        }
    }
}

fn describe(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => format!("the integer {i}"),
        ValueRef::Real(r) => format!("the number {r}"),
        ValueRef::Text(t) => format!("{} bytes of text", t.len()),
        ValueRef::Blob(b) => format!("{} bytes", b.len()),
    }
}

fn read_record(row: Option<&rusqlite::Row<'_>>) -> Option<RecordRead> {
    let row = row?;
    let seq = match row.get_ref(0) {
        Ok(ValueRef::Integer(s)) => s as u64,
        _ => return Some(Err((u64::MAX, "has no integer seq".into()))),
    };
    let read = || -> Result<RawRecord, String> {
        let time_us = match row.get_ref(1).map_err(|e| e.to_string())? {
            ValueRef::Integer(t) => t,
            other => return Err(format!("time is {}", describe(other))),
        };
        let mut text: [Vec<u8>; 8] = Default::default();
        // Columns 2..=7 then 9, 10 (case_ref is 8).
        for (slot, (column, name)) in text.iter_mut().zip([2, 3, 4, 5, 6, 7, 9, 10].into_iter().zip(TEXT_FIELDS)) {
            match row.get_ref(column).map_err(|e| e.to_string())? {
                ValueRef::Text(t) => *slot = t.to_vec(),
                other => return Err(format!("{name} is {}", describe(other))),
            }
        }
        let case_ref = match row.get_ref(8).map_err(|e| e.to_string())? {
            ValueRef::Null => None,
            ValueRef::Text(t) => Some(t.to_vec()),
            other => return Err(format!("case_ref is {}", describe(other))),
        };
        let salt = match row.get_ref(11).map_err(|e| e.to_string())? {
            ValueRef::Blob(b) => b.to_vec(),
            other => return Err(format!("salt is {}", describe(other))),
        };
        Ok(RawRecord { seq, time_us, text, case_ref, salt })
    };
    Some(read().map_err(|problem| (seq, problem)))
}

impl RawRecord {
    /// Recomputes the leaf from the stored fields and salt.
    fn check(&self, leaf: &Hash, scratch: &mut Vec<u8>) -> Result<(), String> {
        if self.salt.len() != 32 {
            return Err(format!("its salt is {} bytes, not 32", self.salt.len()));
        }
        let mut fields = [""; 8];
        for ((slot, bytes), name) in fields.iter_mut().zip(&self.text).zip(TEXT_FIELDS) {
            *slot = std::str::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8"))?;
        }
        let case_ref = match &self.case_ref {
            Some(c) => Some(std::str::from_utf8(c).map_err(|_| "case_ref is not UTF-8".to_owned())?),
            None => None,
        };
        let [actor, role, action, object, purpose, legal_basis, outcome, details] = fields;
        let text = RecordText {
            seq: self.seq,
            time_us: self.time_us,
            actor,
            role,
            action,
            object,
            purpose,
            legal_basis,
            case_ref,
            outcome,
            details,
        };
        let computed = text.leaf(&self.salt, scratch);
        if computed != *leaf {
            return Err(format!(
                "its fields and salt hash to {computed}, but its leaf is {leaf}: the record, its salt or its leaf was altered"
            ));
        }
        Ok(())
    }
}

struct RawCheckpoint {
    size: u64,
    root: Result<Hash, String>,
    time: Result<u64, String>,
    signature: Result<[u8; 64], String>,
}

fn read_checkpoint(row: Option<&rusqlite::Row<'_>>) -> Option<RawCheckpoint> {
    let row = row?;
    let size = match row.get_ref(0) {
        Ok(ValueRef::Integer(s)) => s as u64,
        _ => u64::MAX,
    };
    let root = match row.get_ref(1) {
        Ok(ValueRef::Blob(b)) if b.len() == 32 => Ok(Hash::from_slice(b).expect("32 bytes")),
        Ok(other) => Err(format!("its root is {}, not a 32-byte hash", describe(other))),
        Err(e) => Err(e.to_string()),
    };
    let time = match row.get_ref(2) {
        Ok(ValueRef::Integer(t)) if t >= 0 => Ok(t as u64),
        Ok(other) => Err(format!("its time is {}", describe(other))),
        Err(e) => Err(e.to_string()),
    };
    let signature = match row.get_ref(3) {
        Ok(ValueRef::Blob(b)) if b.len() == 64 => Ok(b.try_into().expect("64 bytes")),
        Ok(other) => Err(format!("its signature is {}, not 64 bytes", describe(other))),
        Err(e) => Err(e.to_string()),
    };
    Some(RawCheckpoint { size, root, time, signature })
}

/// The tree being rebuilt and the checkpoints seen so far.
struct Pass<'c> {
    conn: &'c Connection,
    key: &'c VerifierKey,
    /// Nodes of this level and above are stored.
    node_level: u32,
    frontier: Frontier,
    nodes: StoredNodes<'c>,
    /// The previous checkpoint whose signature verified: size, root, time.
    previous: Option<(u64, Hash, u64)>,
    /// Leaves since the previous checkpoint that no kept record vouches for (erased, or
    /// not matching their record): where a root that differs most likely changed.
    unbacked: Vec<u64>,
    checkpoints: u64,
    latest: Option<SignedCheckpoint>,
}

impl Pass<'_> {
    fn push(&mut self, leaf: Hash, breaks: &mut Breaks) -> Result<(), VerifyError> {
        let mut created: Vec<NewNode> = Vec::new();
        self.frontier.push(leaf, |n| created.push(n));
        for node in created.into_iter().filter(|n| n.level >= self.node_level) {
            let place = Place::Node { level: node.level, index: node.index };
            match self.nodes.get(node.level, node.index)? {
                None => breaks.push(place, "is missing"),
                Some(Err(problem)) => breaks.push(place, problem),
                Some(Ok(stored)) if stored != node.hash => {
                    breaks.push(place, format!("the leaves below give {}, but {stored} is stored", node.hash))
                }
                Some(Ok(_)) => {}
            }
        }
        Ok(())
    }

    fn checkpoint(&mut self, cp: RawCheckpoint, breaks: &mut Breaks) -> Result<(), VerifyError> {
        let place = Place::Checkpoint { size: cp.size };
        self.checkpoints += 1;
        let (root, time, signature) = match (cp.root, cp.time, cp.signature) {
            (Ok(r), Ok(t), Ok(s)) => (r, t, s),
            (r, t, s) => {
                for problem in [r.err(), t.err(), s.err()].into_iter().flatten() {
                    breaks.push(place.clone(), problem);
                }
                return Ok(());
            }
        };
        let tree_root = self.frontier.root();
        if cp.size != self.frontier.size() {
            breaks.push(
                place.clone(),
                format!("is not at a leaf boundary of the rebuilt tree ({})", self.frontier.size()),
            );
        } else if root != tree_root {
            let mut problem = format!("its root is {root}, but the leaves give {tree_root}");
            if !self.unbacked.is_empty() {
                let list: Vec<String> = self.unbacked.iter().take(20).map(u64::to_string).collect();
                problem += &format!(
                    "; since the previous checkpoint, leaves {} have no record to check them against",
                    list.join(", ")
                );
            }
            breaks.push(place.clone(), problem);
        }
        self.unbacked.clear();
        let signed = SignedCheckpoint {
            checkpoint: Checkpoint { origin: self.key.name().to_owned(), size: cp.size, root },
            time,
            signature,
        };
        if self.key.verify(&signed).is_err() {
            breaks.push(
                place,
                "its signature does not verify under the trusted key: its size, root or time was altered, or another key signed it",
            );
            return Ok(());
        }
        if let Some((old, old_root, old_time)) = self.previous {
            if time < old_time {
                breaks
                    .push(place.clone(), format!("signed at {time}, before the checkpoint at size {old} ({old_time})"));
            }
            let proof =
                merkle::consistency_proof(&SqlTree { conn: self.conn, node_level: self.node_level }, old, cp.size);
            match proof {
                Ok(proof) => {
                    if let Err(e) = merkle::verify_consistency(old, cp.size, &old_root, &root, &proof) {
                        breaks.push(place.clone(), format!("is not consistent with the checkpoint at size {old}: {e}"));
                    }
                }
                Err(e) => breaks.push(place.clone(), format!("no consistency proof from size {old}: {e}")),
            }
        }
        self.previous = Some((cp.size, root, time));
        self.latest = Some(signed);
        Ok(())
    }
}

/// A stored node's index and hash (or what is wrong with the hash).
type StoredNode = (u64, Result<Hash, String>);

/// The stored nodes, read level by level in index order, a chunk at a time.
struct StoredNodes<'c> {
    conn: &'c Connection,
    /// Per level: rows read ahead, and whether the level has no more.
    levels: Vec<(VecDeque<StoredNode>, bool)>,
}

impl<'c> StoredNodes<'c> {
    fn new(conn: &'c Connection) -> Self {
        Self { conn, levels: Vec::new() }
    }

    /// The stored node `(level, index)`; levels must be asked in increasing index order.
    fn get(&mut self, level: u32, index: u64) -> Result<Option<Result<Hash, String>>, VerifyError> {
        let l = level as usize;
        while self.levels.len() <= l {
            self.levels.push((VecDeque::new(), false));
        }
        let (buffer, exhausted) = &mut self.levels[l];
        while buffer.front().is_some_and(|(i, _)| *i < index) {
            buffer.pop_front();
        }
        if buffer.is_empty() && !*exhausted {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT idx, hash FROM nodes WHERE level = ?1 AND idx >= ?2 ORDER BY idx LIMIT 4096")?;
            let mut rows = stmt.query([i64::from(level), index as i64])?;
            let mut n = 0;
            while let Some(row) = rows.next()? {
                n += 1;
                let idx = row.get::<_, i64>(0)? as u64;
                let hash = match row.get_ref(1)? {
                    ValueRef::Blob(b) if b.len() == 32 => Ok(Hash::from_slice(b).expect("32 bytes")),
                    other => Err(format!("is {}, not a 32-byte hash", describe(other))),
                };
                buffer.push_back((idx, hash));
            }
            *exhausted = n < 4096;
        }
        match buffer.front() {
            Some((i, _)) if *i == index => Ok(buffer.pop_front().map(|(_, h)| h)),
            _ => Ok(None),
        }
    }
}
