//! Stored plate reads and their search: by plate (exact, look-alike, or any
//! predicate such as edit distance and wildcards), camera and time, paged.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use limes_model::{CameraId, PlateRead};
use limes_plate::{CountryCode, PlateKey, PlateText, lookalike_key};
use rusqlite::types::Value;
use serde::Serialize;

use crate::{ImageId, Store, StoreError, corrupt, from_us, to_us};

/// A read as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRead {
    pub id: i64,
    pub received: DateTime<Utc>,
    /// Canonical text.
    pub plate: PlateText,
    pub country: Option<CountryCode>,
    pub valid: bool,
    pub read: PlateRead,
}

/// A test on a stored read's canonical plate text.
pub type PlateMatcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// How to match the plate of stored reads.
#[derive(Clone)]
pub enum PlateFilter {
    /// The canonical text equals this one.
    Exact(PlateText),
    /// The look-alike-folded key equals this key.
    Lookalike(PlateKey),
    /// Any test on the canonical text (edit distance, wildcard); scans the
    /// camera/time range, so callers should bound it.
    Matches(PlateMatcher),
}

impl fmt::Debug for PlateFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(t) => f.debug_tuple("Exact").field(t).finish(),
            Self::Lookalike(k) => f.debug_tuple("Lookalike").field(k).finish(),
            Self::Matches(_) => f.write_str("Matches(..)"),
        }
    }
}

/// Where a page of results ordered newest first by (time, id) ended: the next page starts
/// after it. Reads and detections page the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PageCursor {
    pub time_us: i64,
    pub id: i64,
}

/// Where a page of reads ended.
pub type ReadCursor = PageCursor;

impl PageCursor {
    /// An opaque string form for URLs.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.time_us, self.id)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (t, i) = s.split_once('_')?;
        Some(Self { time_us: t.parse().ok()?, id: i.parse().ok()? })
    }
}

/// A search over stored reads, newest first.
#[derive(Debug, Clone, Default)]
pub struct ReadQuery {
    pub plate: Option<PlateFilter>,
    pub camera: Option<CameraId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after: Option<ReadCursor>,
    pub limit: usize,
    /// With a [`PlateFilter::Matches`] filter: the most rows examined before the
    /// page is returned incomplete (with a cursor to continue).
    pub max_scan: usize,
}

/// A search as SQL, with what must be checked in Rust.
struct Search {
    sql: String,
    args: Vec<Value>,
    matcher: Option<PlateMatcher>,
    limit: usize,
}

/// Which cameras' records a deletion touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraScope {
    All,
    /// Only these cameras (a country's, for its national limit).
    Only(Vec<String>),
    /// Every camera but these (those a national limit covers).
    AllBut(Vec<String>),
}

impl CameraScope {
    /// An `AND camera …` condition and its arguments.
    pub(crate) fn sql(&self) -> (String, Vec<Value>) {
        let list = |ids: &[String]| {
            let marks = vec!["?"; ids.len()].join(", ");
            (marks, ids.iter().map(|i| Value::Text(i.clone())).collect::<Vec<_>>())
        };
        match self {
            CameraScope::All => (String::new(), Vec::new()),
            CameraScope::Only(ids) if ids.is_empty() => ("AND 0".into(), Vec::new()),
            CameraScope::Only(ids) => {
                let (marks, args) = list(ids);
                (format!("AND camera IN ({marks})"), args)
            }
            CameraScope::AllBut(ids) if ids.is_empty() => (String::new(), Vec::new()),
            CameraScope::AllBut(ids) => {
                let (marks, args) = list(ids);
                (format!("AND camera NOT IN ({marks})"), args)
            }
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, Serialize)]
pub struct ReadPage {
    pub reads: Vec<StoredRead>,
    /// Set when more results may follow.
    pub next: Option<ReadCursor>,
}

fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredRead, StoreError>> {
    let id: i64 = row.get(0)?;
    let received: i64 = row.get(1)?;
    let plate: String = row.get(2)?;
    let country: Option<String> = row.get(3)?;
    let valid: bool = row.get(4)?;
    let body: String = row.get(5)?;
    Ok((|| {
        Ok(StoredRead {
            id,
            received: from_us(received),
            plate: PlateText::new(&plate).map_err(|e| corrupt("reads", e))?,
            country: country.map(|c| CountryCode::parse(&c)).transpose().map_err(|e| corrupt("reads", e))?,
            valid,
            read: serde_json::from_str(&body).map_err(|e| corrupt("reads", e))?,
        })
    })())
}

impl Store {
    /// Searches stored reads, newest first.
    pub fn search_reads(&self, q: &ReadQuery) -> Result<ReadPage, StoreError> {
        let Search { sql, args, matcher, limit } = self.search_sql(q)?;
        let max_scan = if q.max_scan == 0 { 1_000_000 } else { q.max_scan };
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
            let mut reads: Vec<StoredRead> = Vec::new();
            let mut scanned = 0usize;
            let mut last_kept = None;
            while let Some(row) = rows.next()? {
                scanned += 1;
                let here = ReadCursor { time_us: row.get(6)?, id: row.get(0)? };
                let keep = match &matcher {
                    Some(m) => m(&row.get::<_, String>(2)?),
                    None => true,
                };
                if keep {
                    if reads.len() == limit {
                        return Ok(ReadPage { reads, next: last_kept });
                    }
                    reads.push(decode(row)??);
                    last_kept = Some(here);
                }
                if matcher.is_some() && scanned >= max_scan {
                    // Scanned enough for one request: hand back a cursor to go on from here.
                    return Ok(ReadPage { reads, next: Some(here) });
                }
            }
            Ok(ReadPage { reads, next: None })
        })
    }

    /// How SQLite will run a search (`EXPLAIN QUERY PLAN`), one line per step: for
    /// operators and for the tests that keep plate search on the plate index. A plate
    /// search first finds the range of ids; its plan comes first.
    pub fn search_plan(&self, q: &ReadQuery) -> Result<Vec<String>, StoreError> {
        let Search { sql, args, .. } = self.search_sql(q)?;
        self.with_reader(|conn| {
            let mut plan = Vec::new();
            let plate = matches!(q.plate, Some(PlateFilter::Exact(_) | PlateFilter::Lookalike(_)));
            for (sql, args) in
                [(Self::ID_RANGE, &[][..]), (sql.as_str(), &args[..])].into_iter().skip(usize::from(!plate))
            {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, String>(3))?;
                plan.extend(rows.collect::<Result<Vec<_>, _>>()?);
            }
            Ok(plan)
        })
    }

    fn search_sql(&self, q: &ReadQuery) -> Result<Search, StoreError> {
        let limit = q.limit.clamp(1, 10_000);
        let mut sql = String::from("SELECT id, received_us, plate, country, valid, body, time_us FROM reads");
        if matches!(q.plate, Some(PlateFilter::Exact(_) | PlateFilter::Lookalike(_))) {
            // Without this, SQLite may walk the time index newest first to avoid sorting and
            // test every read on the way; a plate's reads are few, so finding them first and
            // sorting them is the fast way.
            sql.push_str(" INDEXED BY reads_by_plate");
        }
        let mut conds: Vec<&str> = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        let mut matcher = None;
        // The plate index is keyed by segment first (migration 0002): probe every segment.
        const BY_PLATE: &str = "seg IN (SELECT value FROM json_each(?)) AND lookalike_key = ?";
        match &q.plate {
            Some(PlateFilter::Exact(text)) => {
                // Through the look-alike index, then the exact key.
                conds.push(BY_PLATE);
                conds.push("plate_key = ?");
                args.push(Value::Text(self.segments()?));
                args.push(Value::Integer(lookalike_key(text).key().0 as i64));
                args.push(Value::Integer(text.key().0 as i64));
            }
            Some(PlateFilter::Lookalike(k)) => {
                conds.push(BY_PLATE);
                args.push(Value::Text(self.segments()?));
                args.push(Value::Integer(k.0 as i64));
            }
            Some(PlateFilter::Matches(f)) => matcher = Some(f.clone()),
            None => {}
        }
        if let Some(c) = &q.camera {
            conds.push("camera = ?");
            args.push(Value::Text(c.as_str().to_owned()));
        }
        if let Some(t) = q.from {
            conds.push("time_us >= ?");
            args.push(Value::Integer(to_us(t)));
        }
        if let Some(t) = q.to {
            conds.push("time_us < ?");
            args.push(Value::Integer(to_us(t)));
        }
        if let Some(c) = q.after {
            conds.push("(time_us, id) < (?, ?)");
            args.push(Value::Integer(c.time_us));
            args.push(Value::Integer(c.id));
        }
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(" ORDER BY time_us DESC, id DESC");
        if matcher.is_none() {
            sql.push_str(&format!(" LIMIT {}", limit + 1));
        }
        Ok(Search { sql, args, matcher, limit })
    }

    /// The SQL that finds the range of read ids. Two subqueries: SQLite answers a lone MIN
    /// or MAX from the rowid's end, but scans the whole table for both in one (measured:
    /// 267 ms a plate search at 6M reads, against 0.4 ms).
    const ID_RANGE: &'static str = "SELECT (SELECT MIN(id) FROM reads), (SELECT MAX(id) FROM reads)";

    /// The segments of the plate index that hold reads, as a JSON array.
    fn segments(&self) -> Result<String, StoreError> {
        let (min, max): (Option<i64>, Option<i64>) =
            self.with_reader(|conn| Ok(conn.query_row(Self::ID_RANGE, [], |r| Ok((r.get(0)?, r.get(1)?)))?))?;
        let bits = crate::schema::SEGMENT_BITS;
        let segments: Vec<String> = match (min, max) {
            (Some(a), Some(b)) => ((a >> bits)..=(b >> bits)).map(|s| s.to_string()).collect(),
            _ => Vec::new(),
        };
        Ok(format!("[{}]", segments.join(",")))
    }

    /// One read by id.
    pub fn read(&self, id: i64) -> Result<StoredRead, StoreError> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id, received_us, plate, country, valid, body FROM reads WHERE id = ?1")?;
            let mut rows = stmt.query_map([id], decode)?;
            rows.next().ok_or_else(|| StoreError::NotFound(format!("read {id}")))??
        })
    }

    /// How many reads are stored.
    pub fn count_reads(&self) -> Result<u64, StoreError> {
        self.with_reader(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM reads", [], |r| r.get::<_, i64>(0))? as u64))
    }

    /// Deletes reads (and their alerts and image references) seen before `cutoff`, in small
    /// transactions so ingest is never blocked for long; images no read refers to any more
    /// go too, rows first, then files. Returns how many reads were deleted.
    pub fn delete_reads_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.delete_reads_before_in(cutoff, &CameraScope::All)
    }

    /// Deletes the reads of the cameras in `scope` taken before `cutoff`, as
    /// [`Store::delete_reads_before`] does: a national retention limit applies to the reads of
    /// one country's cameras.
    pub fn delete_reads_before_in(&self, cutoff: DateTime<Utc>, scope: &CameraScope) -> Result<u64, StoreError> {
        let (filter, mut args) = scope.sql();
        let sql = format!("SELECT id FROM reads WHERE time_us < ? {filter} ORDER BY time_us LIMIT ?");
        args.insert(0, Value::Integer(to_us(cutoff)));
        args.push(Value::Integer(DELETE_CHUNK as i64));
        let mut total = 0u64;
        loop {
            if total > 0 {
                pause_between_chunks();
            }
            let (n, orphans) = self.with_admin(|conn| {
                let tx = crate::write_transaction(conn)?;
                let ids: Vec<i64> = tx
                    .prepare_cached(&sql)?
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let deleted = delete_reads_in(&tx, &ids)?;
                tx.commit()?;
                Ok(deleted)
            })?;
            self.remove_unreferenced_files(&orphans);
            total += n;
            if n < DELETE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }

    /// The distinct plates of the reads taken from `from` until before `to`, each with the ids of
    /// those reads (ascending), in plate order: the sightings a hit/no-hit set is built from.
    /// Only exercise reads when `exercise`, only real ones otherwise: a drill's sightings never
    /// answer a real query, nor a real sighting a drill's. Walks the time index and reads only
    /// the plate of each read, not its body.
    pub fn plates_seen(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        exercise: bool,
    ) -> Result<Vec<(PlateText, Vec<i64>)>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT plate, id FROM reads INDEXED BY reads_by_time
                  WHERE time_us >= ?1 AND time_us < ?2 AND exercise = ?3
                  ORDER BY plate, id",
            )?;
            let mut rows = stmt.query(rusqlite::params![to_us(from), to_us(to), exercise])?;
            let mut out: Vec<(PlateText, Vec<i64>)> = Vec::new();
            while let Some(row) = rows.next()? {
                let (plate, id): (String, i64) = (row.get(0)?, row.get(1)?);
                match out.last_mut() {
                    Some((last, ids)) if last.as_str() == plate => ids.push(id),
                    _ => out.push((PlateText::new(&plate).map_err(|e| corrupt("reads", e))?, vec![id])),
                }
            }
            Ok(out)
        })
    }

    /// The highest read id stored and how many reads have ids above `after` (0 and 0 without
    /// reads).
    pub fn reads_above(&self, after: i64) -> Result<(i64, u64), StoreError> {
        self.with_reader(|conn| {
            let max: Option<i64> = conn.query_row("SELECT MAX(id) FROM reads", [], |r| r.get(0))?;
            let n: i64 = conn.query_row("SELECT COUNT(*) FROM reads WHERE id > ?1", [after], |r| r.get(0))?;
            Ok((max.unwrap_or(0), n.max(0) as u64))
        })
    }

    /// Deletes reads by id, as [`Store::delete_reads_before`] does; ids that do not exist
    /// are skipped. Returns how many reads were deleted.
    pub fn delete_reads(&self, ids: &[i64]) -> Result<u64, StoreError> {
        let mut total = 0;
        for (i, chunk) in ids.chunks(DELETE_CHUNK).enumerate() {
            if i > 0 {
                pause_between_chunks();
            }
            let (n, orphans) = self.with_admin(|conn| {
                let tx = crate::write_transaction(conn)?;
                let deleted = delete_reads_in(&tx, chunk)?;
                tx.commit()?;
                Ok(deleted)
            })?;
            self.remove_unreferenced_files(&orphans);
            total += n;
        }
        Ok(total)
    }
}

/// Reads deleted per transaction.
const DELETE_CHUNK: usize = 10_000;

/// SQLite's busy handler polls (up to 100 ms apart): without a pause, chunk after chunk
/// could keep the write lock from the writer until its busy timeout.
pub(crate) fn pause_between_chunks() {
    std::thread::sleep(std::time::Duration::from_millis(100));
}

/// Deletes reads inside `tx`: their alerts and image references go with them (`ON DELETE
/// CASCADE`), then the rows of images no read refers to any more. Returns how many reads
/// were deleted and the images whose files the caller must unlink after the commit.
fn delete_reads_in(tx: &rusqlite::Transaction<'_>, ids: &[i64]) -> Result<(u64, Vec<ImageId>), StoreError> {
    if ids.is_empty() {
        return Ok((0, Vec::new()));
    }
    let ids = serde_json::to_string(ids).map_err(|e| corrupt("reads", e))?;
    // Keep the highest ids ever given, so that the writer never gives them again (0004).
    for table in ["reads", "alerts"] {
        tx.execute(
            &format!(
                "INSERT INTO id_floors (name, id) SELECT '{table}', high FROM (SELECT MAX(id) AS high FROM {table})
                 WHERE high IS NOT NULL
                 ON CONFLICT (name) DO UPDATE SET id = MAX(id, excluded.id)"
            ),
            [],
        )?;
    }
    let images: Vec<String> = tx
        .prepare_cached("SELECT DISTINCT sha256 FROM read_images WHERE read_id IN (SELECT value FROM json_each(?1))")?
        .query_map([&ids], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let deleted = tx.execute("DELETE FROM reads WHERE id IN (SELECT value FROM json_each(?1))", [&ids])? as u64;
    let mut orphans = Vec::new();
    if !images.is_empty() {
        let images = serde_json::to_string(&images).map_err(|e| corrupt("images", e))?;
        let mut stmt = tx.prepare_cached(
            "DELETE FROM images WHERE sha256 IN (SELECT value FROM json_each(?1))
               AND NOT EXISTS (SELECT 1 FROM read_images r WHERE r.sha256 = images.sha256)
             RETURNING sha256",
        )?;
        let rows = stmt.query_map([&images], |r| r.get::<_, String>(0))?;
        for sha in rows {
            let sha = sha?;
            orphans.push(ImageId::parse(&sha).ok_or_else(|| corrupt("images", format!("sha256 {sha:?}")))?);
        }
    }
    Ok((deleted, orphans))
}
