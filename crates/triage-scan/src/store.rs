//! The two SQLite stores of media triage, both under one triage folder:
//!
//! - `hashsets.sqlite`: every imported hash set, by source ([`HashSets`]); exact lookups go
//!   through its indexes, so NSRL's tens of millions of rows are never loaded into memory.
//! - `<case>/case.sqlite`: one case's files — paths, sizes, times, hashes, PDQ of pictures and
//!   of video frames, what went wrong — and, once matched, each file's verdict ([`CaseStore`]).
//!
//! A case's folder holds everything triage writes for it: the store, spooled archive members
//! (`tmp/`, emptied as it goes) and the reports. Nothing is written outside it.

use std::path::{Path, PathBuf};

use limes_triage::known::{Category, KnownHash};
use limes_triage::pdq::Hash256;
use limes_triage::verdict::{Hit, Status, Verdict};
use rusqlite::{Connection, OptionalExtension, params};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

/// A case id names a folder: letters, digits, `.`, `_`, `-`, at most 64, not starting with `.`.
pub fn check_case_id(case: &str) -> Result<(), StoreError> {
    let ok = !case.is_empty()
        && case.len() <= 64
        && !case.starts_with('.')
        && case.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{case:?} is not a case id (letters, digits, '.', '_', '-'; at most 64; not starting with '.')"
        )))
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let db = Connection::open(path)?;
    db.busy_timeout(std::time::Duration::from_secs(30))?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(db)
}

// --- hash sets ---------------------------------------------------------------------------------

/// The imported hash sets.
#[derive(Debug)]
pub struct HashSets {
    db: Connection,
}

/// One imported source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub format: String,
    pub hashes: u64,
    pub imported: String,
}

impl HashSets {
    /// The store under `dir`, created if new, to import into.
    pub fn open(dir: &Path) -> Result<HashSets, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Connection::open(dir.join("hashsets.sqlite"))?;
        db.busy_timeout(std::time::Duration::from_secs(30))?;
        // A rollback journal, not WAL: a reader opening it read-only then writes nothing.
        db.pragma_update(None, "journal_mode", "DELETE")?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS sources(name TEXT PRIMARY KEY, format TEXT NOT NULL, hashes INTEGER NOT NULL,
                 imported TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')));
             CREATE TABLE IF NOT EXISTS known(id INTEGER PRIMARY KEY, source TEXT NOT NULL, md5 BLOB, sha1 BLOB,
                 sha256 BLOB, pdq BLOB, category TEXT NOT NULL, name TEXT);
             CREATE INDEX IF NOT EXISTS known_md5 ON known(md5) WHERE md5 IS NOT NULL;
             CREATE INDEX IF NOT EXISTS known_sha1 ON known(sha1) WHERE sha1 IS NOT NULL;
             CREATE INDEX IF NOT EXISTS known_sha256 ON known(sha256) WHERE sha256 IS NOT NULL;
             CREATE INDEX IF NOT EXISTS known_source ON known(source);",
        )?;
        Ok(HashSets { db })
    }

    /// Replaces `source`'s hashes with `hashes` (a new release of a set replaces the old), all
    /// in one transaction: a failed import leaves the previous one as it was.
    pub fn import(
        &mut self,
        source: &str,
        format: &str,
        hashes: impl IntoIterator<Item = KnownHash>,
    ) -> Result<u64, StoreError> {
        if source.trim().is_empty() {
            return Err(StoreError::Invalid("a source needs a name".into()));
        }
        let tx = self.db.transaction()?;
        tx.execute("DELETE FROM known WHERE source = ?1", [source])?;
        let mut n = 0u64;
        {
            let mut insert = tx.prepare(
                "INSERT INTO known(source, md5, sha1, sha256, pdq, category, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for h in hashes {
                insert.execute(params![
                    source,
                    h.md5.as_ref().map(|b| &b[..]),
                    h.sha1.as_ref().map(|b| &b[..]),
                    h.sha256.as_ref().map(|b| &b[..]),
                    h.pdq.map(|p| p.to_bytes().to_vec()),
                    h.category().to_string(),
                    h.name,
                ])?;
                n += 1;
            }
        }
        tx.execute(
            "INSERT INTO sources(name, format, hashes) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET format = excluded.format, hashes = excluded.hashes,
                 imported = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
            params![source, format, n as i64],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// NSRL RDS 3 (a SQLite database with a `FILE` table of `sha256`, `sha1`, `md5`,
    /// `file_name`, …), read row by row: every row is known software. A row whose hashes are not
    /// hex stops the import with its row number, and nothing of it is kept.
    pub fn import_nsrl_rds3(&mut self, source: &str, rds: &Path) -> Result<u64, StoreError> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let rds_db = Connection::open_with_flags(rds, flags)?;
        let has_file: Option<String> = rds_db
            .query_row("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'FILE'", [], |r| r.get(0))
            .optional()
            .map_err(|e| StoreError::Invalid(format!("{}: not an NSRL RDS 3 database ({e})", rds.display())))?;
        if has_file.is_none() {
            return Err(StoreError::Invalid(format!(
                "{}: not an NSRL RDS 3 database (it has no FILE table)",
                rds.display()
            )));
        }
        let mut stmt = rds_db.prepare("SELECT sha256, sha1, md5, file_name FROM FILE")?;
        let mut rows = stmt.query([])?;
        let mut hashes = Vec::new();
        let mut row_no = 0u64;
        let bad = |row_no: u64, col: &str, e: String| {
            StoreError::Invalid(format!("{}: FILE row {row_no}, {col}: {e}", rds.display()))
        };
        while let Some(row) = rows.next()? {
            row_no += 1;
            let text = |i: usize| -> Result<String, StoreError> {
                match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
                    rusqlite::types::ValueRef::Null => Ok(String::new()),
                    other => Err(StoreError::Invalid(format!("{other:?} is not text"))),
                }
            };
            use limes_triage::known::parse_hex;
            let known = KnownHash {
                sha256: parse_hex(&text(0)?).map_err(|e| bad(row_no, "sha256", e))?,
                sha1: parse_hex(&text(1)?).map_err(|e| bad(row_no, "sha1", e))?,
                md5: parse_hex(&text(2)?).map_err(|e| bad(row_no, "md5", e))?,
                pdq: None,
                category: Some(Category { scheme: limes_triage::known::Scheme::Nsrl, code: String::new() }),
                name: Some(text(3)?).filter(|n| !n.is_empty()),
            };
            hashes.push(known);
        }
        self.import(source, "nsrl-rds3", hashes)
    }

    /// The store under `dir` to match against, opened read-only (a triage writes nothing outside
    /// its case's folder); an empty one in memory if nothing was ever imported.
    pub fn open_read(dir: &Path) -> Result<HashSets, StoreError> {
        let path = dir.join("hashsets.sqlite");
        if !path.exists() {
            let db = Connection::open_in_memory()?;
            db.execute_batch(
                "CREATE TABLE sources(name TEXT PRIMARY KEY, format TEXT NOT NULL, hashes INTEGER NOT NULL, imported TEXT NOT NULL);
                 CREATE TABLE known(id INTEGER PRIMARY KEY, source TEXT NOT NULL, md5 BLOB, sha1 BLOB, sha256 BLOB, pdq BLOB,
                     category TEXT NOT NULL, name TEXT);",
            )?;
            return Ok(HashSets { db });
        }
        let db = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        db.busy_timeout(std::time::Duration::from_secs(30))?;
        Ok(HashSets { db })
    }

    pub fn sources(&self) -> Result<Vec<Source>, StoreError> {
        let mut stmt = self.db.prepare("SELECT name, format, hashes, imported FROM sources ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(Source { name: r.get(0)?, format: r.get(1)?, hashes: r.get::<_, i64>(2)? as u64, imported: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every known hash with an exact hash equal to one of the file's.
    pub fn exact(&self, md5: &[u8], sha1: &[u8], sha256: &[u8]) -> Result<Vec<Hit>, StoreError> {
        let mut stmt = self.db.prepare_cached(
            "SELECT id, source, category FROM known WHERE md5 = ?1
             UNION SELECT id, source, category FROM known WHERE sha1 = ?2
             UNION SELECT id, source, category FROM known WHERE sha256 = ?3",
        )?;
        let rows = stmt.query_map(params![md5, sha1, sha256], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })?;
        let mut hits = Vec::new();
        for row in rows {
            let (id, source, category) = row?;
            hits.push(self.hit(id, source, &category)?);
        }
        Ok(hits)
    }

    fn hit(&self, id: i64, source: String, category: &str) -> Result<Hit, StoreError> {
        let category = Category::parse(category).map_err(StoreError::Invalid)?;
        Ok(Hit { known: id as u64, source, category })
    }

    /// The hit of one known row (for a PDQ match found in memory).
    pub fn by_id(&self, id: u64) -> Result<Hit, StoreError> {
        let (source, category): (String, String) = self
            .db
            .prepare_cached("SELECT source, category FROM known WHERE id = ?1")?
            .query_row([id as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        self.hit(id as i64, source, &category)
    }

    /// Every known PDQ hash with its row.
    pub fn pdq_hashes(&self) -> Result<Vec<(u64, Hash256)>, StoreError> {
        let mut stmt = self.db.prepare("SELECT id, pdq FROM known WHERE pdq IS NOT NULL")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, bytes) = row?;
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| StoreError::Invalid(format!("known row {id}: a PDQ hash is not 32 bytes")))?;
            out.push((id as u64, Hash256::from_bytes(bytes)));
        }
        Ok(out)
    }
}

// --- a case ------------------------------------------------------------------------------------

/// What a file is, as the scan saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Picture,
    Video,
    Archive,
    Other,
    /// A symbolic link: recorded with its target, never followed.
    Link,
    /// Nothing could be read (the note says why).
    Unreadable,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Picture => "picture",
            Kind::Video => "video",
            Kind::Archive => "archive",
            Kind::Other => "other",
            Kind::Link => "link",
            Kind::Unreadable => "unreadable",
        }
    }
}

/// One file of the evidence, as the scan records it.
#[derive(Clone, Debug, PartialEq)]
pub struct FileRecord {
    /// The path as found: on disk, or `archive!/member` (nested: `a.zip!/b.tar!/c.jpg`).
    pub path: String,
    pub size: u64,
    /// Last modification, seconds since 1970 (the file system's, or the archive entry's).
    pub modified: Option<i64>,
    pub kind: Kind,
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
    pub pdq: Option<(Hash256, u8)>,
    /// The PDQ hashes of the picture turned and mirrored (rotated 90°, 180°, 270°, flipped
    /// top to bottom, left to right, about either diagonal), so that a known picture is found
    /// however it was turned.
    pub turned: Vec<Hash256>,
    /// What the picture's metadata says of its camera, time, place and thumbnail.
    pub leads: Option<limes_triage::leads::Leads>,
    /// A video's frames, one a second: (second, hash, quality).
    pub frames: Vec<(u32, Hash256, u8)>,
    /// What went wrong or was noticed (a damaged picture, a path that climbs out of its archive).
    pub note: Option<String>,
}

impl FileRecord {
    pub fn new(path: String, kind: Kind) -> FileRecord {
        FileRecord {
            path,
            size: 0,
            modified: None,
            kind,
            md5: None,
            sha1: None,
            sha256: None,
            pdq: None,
            turned: Vec::new(),
            leads: None,
            frames: Vec::new(),
            note: None,
        }
    }

    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        self.note = Some(match self.note.take() {
            Some(old) => format!("{old}; {text}"),
            None => text,
        });
    }
}

/// A file of a case with its verdict, as the reports read it.
#[derive(Clone, Debug)]
pub struct CaseFile {
    pub id: u64,
    pub record: FileRecord,
    pub verdict: Option<Verdict>,
    /// The first file of the series of near-duplicates this one is in, if it has company.
    pub series: Option<u64>,
    /// The faces in the picture, once counted (unknown pictures only).
    pub faces: Option<u32>,
    /// The category a reviewer gave it, and who.
    pub review: Option<(Category, String)>,
}

/// One case's store.
#[derive(Debug)]
pub struct CaseStore {
    db: Connection,
    dir: PathBuf,
}

impl CaseStore {
    /// The store of `case` under `root`, created if new.
    pub fn open(root: &Path, case: &str) -> Result<CaseStore, StoreError> {
        check_case_id(case)?;
        let dir = root.join(case);
        std::fs::create_dir_all(&dir)?;
        let db = open(&dir.join("case.sqlite"))?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS files(id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
                 modified INTEGER, kind TEXT NOT NULL, md5 BLOB, sha1 BLOB, sha256 BLOB, pdq BLOB, quality INTEGER,
                 turned BLOB, leads TEXT, faces INTEGER, reviewed TEXT, reviewed_by TEXT, reviewed_at TEXT, note TEXT, status TEXT, known INTEGER, distance INTEGER, series INTEGER);
             CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS frames(file INTEGER NOT NULL, second INTEGER NOT NULL, pdq BLOB NOT NULL,
                 quality INTEGER NOT NULL, PRIMARY KEY(file, second));",
        )?;
        Ok(CaseStore { db, dir })
    }

    /// The case's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The paths already recorded, for a scan that resumes.
    pub fn recorded(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut stmt = self.db.prepare("SELECT path FROM files")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records files in one transaction. A path already recorded is left as it was (a resumed
    /// scan that reads an archive again).
    pub fn record(&mut self, files: &[FileRecord]) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO files(path, size, modified, kind, md5, sha1, sha256, pdq, quality, turned, leads, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT(path) DO NOTHING",
            )?;
            let mut frame =
                tx.prepare_cached("INSERT OR REPLACE INTO frames(file, second, pdq, quality) VALUES (?1, ?2, ?3, ?4)")?;
            for f in files {
                let changed = insert.execute(params![
                    f.path,
                    f.size as i64,
                    f.modified,
                    f.kind.name(),
                    f.md5.as_ref().map(|b| &b[..]),
                    f.sha1.as_ref().map(|b| &b[..]),
                    f.sha256.as_ref().map(|b| &b[..]),
                    f.pdq.map(|(h, _)| h.to_bytes().to_vec()),
                    f.pdq.map(|(_, q)| q),
                    (!f.turned.is_empty()).then(|| f.turned.iter().flat_map(|h| h.to_bytes()).collect::<Vec<u8>>()),
                    f.leads.as_ref().and_then(|l| serde_json::to_string(l).ok()),
                    f.note,
                ])?;
                if changed == 1 {
                    let id = tx.last_insert_rowid();
                    for (second, hash, quality) in &f.frames {
                        frame.execute(params![id, second, hash.to_bytes().to_vec(), quality])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every file with its verdict, in the order recorded.
    pub fn files(&self) -> Result<Vec<CaseFile>, StoreError> {
        let mut frames: std::collections::HashMap<u64, Vec<(u32, Hash256, u8)>> = std::collections::HashMap::new();
        {
            let mut stmt = self.db.prepare("SELECT file, second, pdq, quality FROM frames ORDER BY file, second")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, u8>(3)?))
            })?;
            for row in rows {
                let (file, second, pdq, quality) = row?;
                frames.entry(file as u64).or_default().push((second, hash_of(&pdq)?, quality));
            }
        }
        let mut stmt = self.db.prepare(
            "SELECT id, path, size, modified, kind, md5, sha1, sha256, pdq, quality, note, status, known, distance, series, turned, leads, faces, reviewed, reviewed_by
             FROM files ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id = r.get::<_, i64>(0)? as u64;
            let kind: String = r.get(4)?;
            let kind = [Kind::Picture, Kind::Video, Kind::Archive, Kind::Other, Kind::Link, Kind::Unreadable]
                .into_iter()
                .find(|k| k.name() == kind)
                .ok_or_else(|| StoreError::Invalid(format!("file {id}: kind {kind:?}")))?;
            let pdq = match (r.get::<_, Option<Vec<u8>>>(8)?, r.get::<_, Option<u8>>(9)?) {
                (Some(h), Some(q)) => Some((hash_of(&h)?, q)),
                _ => None,
            };
            let record = FileRecord {
                path: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                modified: r.get(3)?,
                kind,
                md5: fixed(r.get(5)?),
                sha1: fixed(r.get(6)?),
                sha256: fixed(r.get(7)?),
                pdq,
                turned: r
                    .get::<_, Option<Vec<u8>>>(15)?
                    .unwrap_or_default()
                    .chunks(32)
                    .map(hash_of)
                    .collect::<Result<_, _>>()?,
                leads: match r.get::<_, Option<String>>(16)? {
                    Some(json) => Some(
                        serde_json::from_str(&json)
                            .map_err(|e| StoreError::Invalid(format!("file {id}: leads: {e}")))?,
                    ),
                    None => None,
                },
                frames: frames.remove(&id).unwrap_or_default(),
                note: r.get(10)?,
            };
            let status: Option<String> = r.get(11)?;
            let known: Option<i64> = r.get(12)?;
            let verdict = status.and_then(|s| Status::from_name(&s)).map(|status| Verdict {
                status,
                // The hit is filled in by whoever has the hash sets (`Matched::hit`).
                hit: known.map(|k| Hit { known: k as u64, source: String::new(), category: Category::uncategorised() }),
                distance: r.get::<_, Option<u32>>(13).ok().flatten(),
            });
            let review = match (r.get::<_, Option<String>>(18)?, r.get::<_, Option<String>>(19)?) {
                (Some(c), by) => Some((Category::parse(&c).map_err(StoreError::Invalid)?, by.unwrap_or_default())),
                _ => None,
            };
            out.push(CaseFile {
                id,
                record,
                verdict,
                series: r.get::<_, Option<i64>>(14)?.map(|s| s as u64),
                faces: r.get(17)?,
                review,
            });
        }
        Ok(out)
    }

    /// Stores each file's verdict and series (`(file id, verdict, series)`).
    pub fn set_verdicts(&mut self, verdicts: &[(u64, Verdict, Option<u64>)]) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        {
            let mut update = tx
                .prepare_cached("UPDATE files SET status = ?2, known = ?3, distance = ?4, series = ?5 WHERE id = ?1")?;
            for (id, v, series) in verdicts {
                update.execute(params![
                    *id as i64,
                    v.status.name(),
                    v.hit.as_ref().map(|h| h.known as i64),
                    v.distance,
                    series.map(|s| s as i64)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl CaseStore {
    /// Whom to contact about the case (a unit and how to reach it), as its owner gave it.
    pub fn owner(&self) -> Result<String, StoreError> {
        Ok(self
            .db
            .query_row("SELECT value FROM meta WHERE key = 'owner'", [], |r| r.get(0))
            .optional()?
            .unwrap_or_default())
    }

    /// Sets the case's owner; an empty one leaves it as it was.
    pub fn set_owner(&mut self, owner: &str) -> Result<(), StoreError> {
        if !owner.trim().is_empty() {
            self.db.execute("INSERT INTO meta(key, value) VALUES ('owner', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [owner.trim()])?;
        }
        Ok(())
    }

    /// Stores faces counted (`(file id, faces)`).
    pub fn set_faces(&mut self, faces: &[(u64, u32)]) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        {
            let mut update = tx.prepare_cached("UPDATE files SET faces = ?2 WHERE id = ?1")?;
            for (id, n) in faces {
                update.execute(params![*id as i64, n])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a reviewer's category for a file; `false` if the case has no such file.
    pub fn set_review(&mut self, id: u64, category: &Category, by: &str) -> Result<bool, StoreError> {
        let n = self.db.execute(
            "UPDATE files SET reviewed = ?2, reviewed_by = ?3, reviewed_at = strftime('%Y-%m-%dT%H:%M:%SZ','now') WHERE id = ?1",
            params![id as i64, category.to_string(), by],
        )?;
        Ok(n == 1)
    }

    /// Adds to a file's note.
    pub fn add_note(&mut self, id: u64, note: &str) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE files SET note = CASE WHEN note IS NULL THEN ?2 ELSE note || '; ' || ?2 END WHERE id = ?1",
            params![id as i64, note],
        )?;
        Ok(())
    }
}

fn hash_of(bytes: &[u8]) -> Result<Hash256, StoreError> {
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|_| StoreError::Invalid("a stored PDQ hash is not 32 bytes".into()))?;
    Ok(Hash256::from_bytes(bytes))
}

fn fixed<const N: usize>(bytes: Option<Vec<u8>>) -> Option<[u8; N]> {
    bytes.and_then(|b| b.try_into().ok())
}
