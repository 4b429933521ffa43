//! The node's durable store: cameras, plate reads, hotlist entries, alerts, the images of
//! reads, the cursors of outbound webhooks, and face, person and vehicle detections.
//!
//! The default engine is SQLite in WAL mode with `synchronous = FULL`, so a
//! commit returns only after the write-ahead log is fsynced. All writes of
//! reads go through one writer thread that practises *group commit*: it takes
//! every batch waiting in its queue, writes them in one transaction, commits
//! (one fsync), and only then answers each batch's submitter. The HTTP layer
//! acknowledges a batch after that answer, so an acknowledged read survives a
//! crash (see `design/store.md`).
//!
//! Reads of the store use a small pool of read-only connections; WAL lets them
//! run beside the writer.
//!
//! Images (plate crops, overviews) are files named by the SHA-256 of their bytes under
//! `images/`, one per content however many reads use it, with their metadata in SQLite; a
//! file goes when the last read using it is deleted ([`ValidImage`], [`Store::put_image`]).
//! Alert ids only grow and are never given twice, so an outbound delivery can keep its place
//! as the id of the last alert it handled ([`Store::alerts_after`], [`Store::webhook_cursor`]).
//!
//! Incidents are kept as the events every agency involved wrote, each incident folded again
//! (`limes-cooperation`) in the transaction that adds an event ([`Store::add_incident_events`]).
//!
//! Patrol units (this agency's and partners'), their positions and assignments are rows of
//! their own ([`Store::add_positions`] judges a unit's report in time order, in the
//! transaction that keeps it; [`Store::unshared_positions`] is where sharing resumes).
//!
//! Detections (a face, person or vehicle a camera's analytics saw, with estimated age range
//! and gender, never identity) go through the same writer and group commits as reads
//! ([`Store::write_detections`]) and are searched by camera, zone, kind, time, age and gender
//! ([`Store::search_detections`]).
//!
//! Recorded video is indexed here (`limes-recorder` writes the segment files under
//! `recordings/`): one row per closed segment with its codec parameters and frame index
//! ([`Store::add_recording`], [`Store::recordings`]; design/recording.md).
//!
//! ```
//! # fn main() -> Result<(), limes_store::StoreError> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = limes_store::Store::open(dir.path(), limes_store::StoreOptions::default())?;
//! assert_eq!(store.cameras()?.len(), 0);
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags};

mod accounts;
mod alerts;
mod analysis;
mod bulletins;
mod cameras;
mod clips;
mod detections;
mod footage;
mod hotlist;
mod images;
mod incidents;
mod live_grants;
mod partner_hotlist;
mod patrols;
mod reads;
mod recordings;
mod requests;
mod schema;
mod writer;

pub use accounts::{SessionRow, TokenRow, UserRow};
pub use alerts::{Ack, Alert, AlertOrigin, AlertQuery, DeletedPartnerAlert, PartnerAlert};
pub use analysis::{EventDecision, SceneEventRow, TrafficCount};
pub use bulletins::{BulletinBox, BulletinCopy, BulletinRead, StoredBulletin};
pub use clips::{ClipSend, StoredClip};
pub use detections::{DetectionBatch, DetectionCursor, DetectionPage, DetectionQuery, NewDetection, StoredDetection};
pub use footage::{Footage, FootageTelemetry};
pub use hotlist::HotlistUpdate;
pub use images::{
    IMAGES_DIR, ImageError, ImageFormat, ImageId, ImageInfo, ImageLimits, ImageMeta, PutImage, ReadImage, SweepReport,
    ValidImage,
};
pub use incidents::{Folded, IncidentQuery};
pub use live_grants::GrantSide;
pub use partner_hotlist::{AppliedPartnerHotlist, PartnerEntry, PartnerHotlistChange, SharedEntry};
pub use patrols::{AppliedPatrol, AssignmentQuery, UnitChange, UnitRow, Unshared};
pub use reads::{CameraScope, PageCursor, PlateFilter, PlateMatcher, ReadCursor, ReadPage, ReadQuery, StoredRead};
pub use recordings::{RECORDINGS_DIR, Recording};
pub use requests::{DataRequest, Decision, Direction, RequestedClip};
pub use schema::apply_migrations;
pub use writer::{Committed, NewAlert, NewRead, WriteBatch};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database engine failed (disk full, corruption, I/O error).
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A stored row could not be decoded; the database was changed outside limes.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    /// The database was written by a newer limes.
    #[error("database schema version {found} is newer than this limes supports ({supported})")]
    TooNew { found: i64, supported: i64 },
    /// The writer thread has stopped (after a fatal error or at shutdown).
    #[error("the store's writer has stopped")]
    WriterGone,
    /// Creating the data directory failed.
    #[error("data directory {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A write the store refuses whole, as its caller should never have asked it.
    #[error("refused: {0}")]
    Refused(String),
    /// Writing, reading or removing a file of the store (an image) failed.
    #[error("file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
}

/// Tuning of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most rows (reads and detections) the writer puts into one transaction.
    pub max_group_rows: usize,
    /// Read-only connections kept for queries.
    pub readers: usize,
    /// When the WAL holds more frames (pages) than this, the writer checkpoints it between
    /// two groups, so that sustained ingest cannot grow it without bound.
    pub wal_frames_limit: i64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        // 8,192 frames of 8 KiB pages: a 64 MiB WAL.
        Self { max_group_rows: 50_000, readers: 4, wal_frames_limit: 8192 }
    }
}

/// A handle on the node's store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// Image files, named by their content's SHA-256 (see `images.rs`).
    images_dir: PathBuf,
    /// Serialise writing, unlinking and sweeping of image files, by image id.
    image_locks: Box<[Mutex<()>]>,
    readers: Mutex<Vec<Connection>>,
    /// For rarely written tables (cameras, hotlist, alert acks); the read writer has its own.
    admin: Mutex<Connection>,
    writer: writer::WriterHandle,
    /// Dropping this stops the checkpointer thread.
    _checkpointer: std::sync::mpsc::Sender<()>,
}

/// The database file's name inside the data directory.
pub const DB_FILE: &str = "limes.db";

impl Store {
    /// Opens (creating if needed) the store in `dir` and migrates it to the current schema.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: dir.to_owned(), source })?;
        let images_dir = dir.join(images::IMAGES_DIR);
        if !images_dir.is_dir() {
            std::fs::create_dir(&images_dir).map_err(|source| StoreError::Dir { path: images_dir.clone(), source })?;
            images::fsync_dir(dir)?;
        }
        let path = dir.join(DB_FILE);
        let mut admin = open_rw(&path)?;
        schema::migrate(&mut admin)?;
        let writer = writer::WriterHandle::start(open_rw(&path)?, &options)?;
        let readers = (0..options.readers.max(1)).map(|_| open_ro(&path)).collect::<Result<Vec<_>, _>>()?;
        let checkpointer = start_checkpointer(open_rw(&path)?);
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                images_dir,
                image_locks: (0..images::LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
                readers: Mutex::new(readers),
                admin: Mutex::new(admin),
                writer,
                _checkpointer: checkpointer,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The store's folder (the database file, `images/`, and files the node keeps beside).
    pub fn dir(&self) -> &Path {
        self.inner.path.parent().unwrap_or(Path::new("."))
    }

    /// Runs `f` on a read-only connection from the pool.
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => open_ro(&self.inner.path)?,
        };
        let out = f(&conn);
        self.inner.readers.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
        out
    }

    /// Runs `f` on the connection for rarely written tables.
    fn with_admin<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.inner.admin.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
    }
}

/// Begins a transaction that writes. `IMMEDIATE` takes the write lock at `BEGIN`, waiting
/// (busy timeout) while another connection writes. A deferred transaction that reads first
/// would hold a snapshot, and if another connection committed before its first write,
/// SQLite would refuse the upgrade at once (`SQLITE_BUSY_SNAPSHOT`, no waiting): with the
/// writer committing groups all the time, every transaction that writes must begin this way.
pub(crate) fn write_transaction(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    // Larger pages mean fewer page writes per indexed row; it only takes effect when the
    // database is created, before WAL mode is set.
    conn.pragma_update(None, "page_size", 8192)?;
    // WAL lets readers run beside the writer; FULL makes every commit fsync the log,
    // which is what lets the API acknowledge a batch only once it is durable.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

fn open_rw(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    conn.pragma_update(None, "cache_size", -65_536)?; // 64 MiB
    // Checkpoints (copying the WAL back into the database and fsyncing it) would otherwise
    // run inside whichever commit crosses the threshold, stalling ingest: the
    // checkpointer thread does them instead.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // After the log restarts, keep its file at most this large (bytes).
    conn.pragma_update(None, "journal_size_limit", 128i64 << 20)?;
    Ok(conn)
}

/// Checkpoints the WAL four times a second on a connection of its own, in PASSIVE mode so
/// it never waits for or blocks the writer (which bounds the WAL, see `writer.rs`); stops
/// when the returned sender is dropped.
fn start_checkpointer(conn: Connection) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("limes-store-checkpoint".into()).spawn(move || {
        let period = std::time::Duration::from_millis(250);
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(period) {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the WAL checkpointer");
    }
    tx
}

fn open_ro(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// Microseconds since the epoch, as stored.
pub fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The inverse of [`to_us`].
pub fn from_us(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table, detail: detail.to_string() }
}
