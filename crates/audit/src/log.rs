//! The audit log on disk: the appender (one writer thread doing group commit), the checkpoint
//! signer inside it, readers for export and proofs, and erasure.
//!
//! Write procedure for each group (see design/audit.md):
//! 1. block for one job, then take every job already queued, up to `max_group` events;
//! 2. `BEGIN IMMEDIATE`; for each event: the next seq, the group's time, a fresh salt, the
//!    leaf; insert the record, the leaf and the complete subtrees the leaf completes;
//! 3. if the tree grew since the last checkpoint and one is due (every `checkpoint_interval`),
//!    sign the new tree head and insert it in the same transaction;
//! 4. `COMMIT`, which with `synchronous = FULL` fsyncs the WAL;
//! 5. only then answer each job.
//!
//! A ticker wakes the writer every 50 ms so that a checkpoint is signed on time when appends
//! stop; it holds no strong handle, so dropping the last [`AuditLog`] still stops the writer,
//! which then finishes the queued jobs and signs a last checkpoint.

use std::fs;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::{CheckpointSigner, SignedCheckpoint, VerifierKey};
use crate::merkle::{self, Frontier, Hash, NewNode};
use crate::record::{Action, Actor, AuditEvent, AuditRecord, Details, Object, Outcome, RecordText, Salt, to_ranges};
use crate::sql::{self, SqlTree};
use crate::{AuditError, export, schema, verify};

/// The audit database's file name inside the data directory.
pub const DB_FILE: &str = "audit.sqlite";
/// The checkpoint signing key's file name inside the data directory.
pub const KEY_FILE: &str = "audit.key";

/// How often the writer wakes up to see whether a checkpoint is due.
const TICK: Duration = Duration::from_millis(50);
/// Most records one erasure may remove.
const MAX_ERASE: usize = 100_000;

/// Settings of the audit log.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// The log's identity: the first line of its checkpoints and its key's name, a schema-less
    /// URL such as `limes.example/ro-igpf/node-1/audit`. Fixed when the log is created.
    pub origin: String,
    /// A new checkpoint is signed at least this often while the log grows.
    pub checkpoint_interval: Duration,
    /// Most events the writer puts into one transaction.
    pub max_group: usize,
    /// Jobs (appends, erasures) queued for the writer before submitters wait.
    pub queue: usize,
    /// Read-only connections kept for exports and proofs.
    pub readers: usize,
    /// When the WAL holds more frames than this, the writer checkpoints it between two groups.
    pub wal_frames_limit: i64,
}

impl AuditOptions {
    /// The defaults, for the log named `origin`.
    pub fn new(origin: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            checkpoint_interval: Duration::from_secs(1),
            max_group: 20_000,
            queue: 16_384,
            readers: 2,
            // 4,096 frames of 8 KiB pages: a 32 MiB WAL.
            wal_frames_limit: 4096,
        }
    }
}

/// An erasure: which records to remove, and who removes them and why (logged as an `Erase`
/// record that names the removed records by seq and nothing else of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub actor: Actor,
    pub role: String,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: Option<String>,
    /// The records to erase, by seq.
    pub seqs: Vec<u64>,
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    /// Records whose row and salt are gone now, in order.
    pub erased: Vec<u64>,
    /// Records that had been erased before.
    pub already_erased: Vec<u64>,
    /// The `Erase` record logging it; none when nothing was left to erase.
    pub record: Option<u64>,
}

/// The object of the records that log an erasure of audit records ([`AuditLog::erase`]);
/// `verify` reads their details to tell an erased record from a deleted one.
pub const ERASURE_OBJECT: &str = "audit:records";

/// Checks an event a caller appends: valid, and not posing as an erasure of audit records,
/// which only [`AuditLog::erase`] logs (a forged one could excuse deleted records).
fn appendable(e: &AuditEvent) -> Result<(), AuditError> {
    e.validate()?;
    if e.action == Action::Erase && e.object.as_str() == ERASURE_OBJECT {
        return Err(AuditError::Refused("erasures of audit records are logged by AuditLog::erase only".into()));
    }
    Ok(())
}

impl Erasure {
    fn event(&self, erased: &[u64]) -> AuditEvent {
        AuditEvent {
            actor: self.actor.clone(),
            role: self.role.clone(),
            action: Action::Erase,
            object: Object::new("audit", "records"),
            purpose: self.purpose.clone(),
            legal_basis: self.legal_basis.clone(),
            case_ref: self.case_ref.clone(),
            outcome: Outcome::Allowed,
            details: Details::new(&serde_json::json!({ "erased": to_ranges(erased) })),
        }
    }
}

type Reply<T> = oneshot::Sender<Result<T, AuditError>>;

enum Job {
    Append {
        events: Vec<AuditEvent>,
        reply: Reply<Range<u64>>,
    },
    Erase {
        erasure: Erasure,
        reply: Reply<Erased>,
    },
    /// Sign a checkpoint now if the tree grew since the last one.
    Checkpoint {
        reply: Reply<Option<SignedCheckpoint>>,
    },
    /// Wake up: sign a checkpoint if one is due.
    Tick,
}

impl Job {
    fn events(&self) -> usize {
        match self {
            Job::Append { events, .. } => events.len(),
            Job::Erase { .. } => 1,
            Job::Checkpoint { .. } | Job::Tick => 0,
        }
    }
}

/// An append on its way: resolves once the records are committed (fsynced), to their seqs.
/// Await it, or [`Pending::wait`] outside an async runtime.
#[derive(Debug)]
#[must_use = "an append is acknowledged only once its Pending resolves"]
pub struct Pending(oneshot::Receiver<Result<Range<u64>, AuditError>>);

impl Pending {
    /// Blocks until the records are durable. Not for async code: await the `Pending` instead.
    pub fn wait(self) -> Result<Range<u64>, AuditError> {
        self.0.blocking_recv().map_err(|_| AuditError::WriterGone)?
    }
}

impl std::future::Future for Pending {
    type Output = Result<Range<u64>, AuditError>;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|r| r.map_err(|_| AuditError::WriterGone)?)
    }
}

/// What readers learn from the writer.
#[derive(Debug, Default)]
struct Shared {
    /// Leaves committed.
    size: AtomicU64,
    latest: Mutex<Option<SignedCheckpoint>>,
}

/// A handle on the node's audit log; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    verifier: VerifierKey,
    /// The lowest level of stored nodes (see `sql::NODE_LEVEL`).
    node_level: u32,
    /// Taken when the last handle goes, which lets the writer finish and stop.
    tx: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
    readers: Mutex<Vec<Connection>>,
    /// Dropping this stops the WAL checkpointer thread.
    _wal_checkpointer: std::sync::mpsc::Sender<()>,
}

impl AuditLog {
    /// Opens (creating if needed) the audit log in `dir`: `audit.sqlite` and the checkpoint
    /// key `audit.key` (created with the log, mode 0600; never replaced).
    pub fn open(dir: &Path, options: AuditOptions) -> Result<Self, AuditError> {
        fs::create_dir_all(dir).map_err(|source| AuditError::File { path: dir.to_owned(), source })?;
        let path = dir.join(DB_FILE);
        let mut conn = sql::open_rw(&path)?;
        schema::migrate(&mut conn)?;
        let signer = load_or_create_key(dir, &options.origin, &conn)?;
        let node_level = check_meta(&mut conn, &signer)?;

        let size = sql::log_size(&conn)?;
        let frontier = Frontier::load(&SqlTree { conn: &conn, node_level }, size)?;
        let last: Option<(i64, Vec<u8>, i64, Vec<u8>)> = conn
            .query_row("SELECT size, root, time, signature FROM checkpoints ORDER BY size DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let latest = match last {
            Some((size, root, time, signature)) => {
                let root =
                    Hash::from_slice(&root).ok_or_else(|| AuditError::Corrupt(format!("checkpoint {size}: root")))?;
                let signature = signature
                    .try_into()
                    .map_err(|_| AuditError::Corrupt(format!("checkpoint {size}: signature length")))?;
                let checkpoint = crate::Checkpoint { origin: signer.name().to_owned(), size: size as u64, root };
                Some(SignedCheckpoint { checkpoint, time: time as u64, signature })
            }
            None => None,
        };
        let last_time_us: i64 = conn.query_row("SELECT COALESCE(MAX(time_us), 0) FROM records", [], |r| r.get(0))?;
        let shared = Arc::new(Shared { size: AtomicU64::new(size), latest: Mutex::new(latest.clone()) });

        // Bounded: when the disk cannot keep up, submitters wait instead of the queue growing.
        let (tx, rx) = mpsc::channel::<Job>(options.queue.max(1));
        let wal_frames = Arc::new(AtomicI64::new(0));
        let frames = wal_frames.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
            frames.store(i64::from(pages), Ordering::Relaxed);
            Ok(())
        }))?;
        let verifier = signer.verifier();
        let state = State {
            frontier,
            last_time_us: last_time_us.max(latest.as_ref().map_or(0, |c| c.time as i64 * 1_000_000)),
            checkpointed: latest.as_ref().map_or(0, |c| c.checkpoint.size),
            checkpoint_time: latest.as_ref().map_or(0, |c| c.time),
            // A log that grew after its last checkpoint (a crash) gets one at once.
            last_checkpoint_at: Instant::now().checked_sub(options.checkpoint_interval).unwrap_or_else(Instant::now),
            salts: SaltBuffer::default(),
            scratch: Vec::with_capacity(1024),
            node_level,
        };
        let writer = Writer {
            conn,
            signer,
            state,
            interval: options.checkpoint_interval,
            max_group: options.max_group.max(1),
            shared: shared.clone(),
            wal_frames,
            wal_limit: options.wal_frames_limit,
        };
        let writer = std::thread::Builder::new()
            .name("limes-audit-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| AuditError::File { path: "audit writer thread".into(), source })?;
        start_ticker(tx.downgrade())?;
        let readers = (0..options.readers.max(1)).map(|_| sql::open_ro(&path)).collect::<Result<Vec<_>, _>>()?;
        let wal_checkpointer = start_wal_checkpointer(sql::open_rw(&path)?);
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                verifier,
                node_level,
                tx: Some(tx),
                writer: Some(writer),
                shared,
                readers: Mutex::new(readers),
                _wal_checkpointer: wal_checkpointer,
            }),
        })
    }

    fn sender(&self) -> Result<&mpsc::Sender<Job>, AuditError> {
        self.inner.tx.as_ref().ok_or(AuditError::WriterGone)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The key the log's checkpoints verify with (give it to partners).
    pub fn verifier_key(&self) -> VerifierKey {
        self.inner.verifier.clone()
    }

    /// Records committed.
    pub fn size(&self) -> u64 {
        self.inner.shared.size.load(Ordering::Acquire)
    }

    /// The newest signed checkpoint.
    pub fn latest_checkpoint(&self) -> Option<SignedCheckpoint> {
        self.inner.shared.latest.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Queues events for the writer, blocking only while the queue is full; they are logged in
    /// order, with consecutive seqs. Not for async code: use [`AuditLog::append`] there.
    pub fn submit(&self, events: Vec<AuditEvent>) -> Result<Pending, AuditError> {
        for e in &events {
            appendable(e)?;
        }
        let (reply, rx) = oneshot::channel();
        self.sender()?.blocking_send(Job::Append { events, reply }).map_err(|_| AuditError::WriterGone)?;
        Ok(Pending(rx))
    }

    /// Logs one event; resolves to its seq once it is durable.
    pub async fn append(&self, event: AuditEvent) -> Result<u64, AuditError> {
        Ok(self.append_all(vec![event]).await?.start)
    }

    /// Logs events in order; resolves to their seqs once they are durable.
    pub async fn append_all(&self, events: Vec<AuditEvent>) -> Result<Range<u64>, AuditError> {
        for e in &events {
            appendable(e)?;
        }
        let (reply, rx) = oneshot::channel();
        self.sender()?.send(Job::Append { events, reply }).await.map_err(|_| AuditError::WriterGone)?;
        Pending(rx).await
    }

    /// The blocking twin of [`AuditLog::append`], for callers outside an async runtime.
    pub fn append_blocking(&self, event: AuditEvent) -> Result<u64, AuditError> {
        Ok(self.submit(vec![event])?.wait()?.start)
    }

    /// Erases records: deletes their rows and salts, keeps their leaves, and logs an `Erase`
    /// record naming them. Erasure records themselves are kept (they name seqs only).
    pub async fn erase(&self, erasure: Erasure) -> Result<Erased, AuditError> {
        erasure.event(&erasure.seqs).validate()?;
        let (reply, rx) = oneshot::channel();
        self.sender()?.send(Job::Erase { erasure, reply }).await.map_err(|_| AuditError::WriterGone)?;
        rx.await.map_err(|_| AuditError::WriterGone)?
    }

    /// The blocking twin of [`AuditLog::erase`].
    pub fn erase_blocking(&self, erasure: Erasure) -> Result<Erased, AuditError> {
        erasure.event(&erasure.seqs).validate()?;
        let (reply, rx) = oneshot::channel();
        self.sender()?.blocking_send(Job::Erase { erasure, reply }).map_err(|_| AuditError::WriterGone)?;
        rx.blocking_recv().map_err(|_| AuditError::WriterGone)?
    }

    /// Signs a checkpoint now if the log grew since the last one (blocking); returns the
    /// newest checkpoint.
    pub fn checkpoint_now(&self) -> Result<Option<SignedCheckpoint>, AuditError> {
        let (reply, rx) = oneshot::channel();
        self.sender()?.blocking_send(Job::Checkpoint { reply }).map_err(|_| AuditError::WriterGone)?;
        rx.blocking_recv().map_err(|_| AuditError::WriterGone)?
    }

    /// Signs a last checkpoint and lets go of this handle. When the last handle goes (closed
    /// or dropped), the writer finishes the queued jobs, signs a last checkpoint and stops, and
    /// the drop waits for it. Nothing acknowledged is lost either way.
    pub fn close(self) -> Result<(), AuditError> {
        self.checkpoint_now().map(|_| ())
    }

    /// Runs `f` on a read-only connection from the pool.
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T, AuditError>) -> Result<T, AuditError> {
        let conn = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => sql::open_ro(&self.inner.path)?,
        };
        let out = f(&conn);
        self.inner.readers.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
        out
    }

    /// The object of the newest readable record of `action` whose object starts with
    /// `prefix` (`reads:` finds the last batch of reads collected).
    pub fn last_object(&self, action: Action, prefix: &str) -> Result<Option<String>, AuditError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT object FROM records WHERE action = ?1 AND substr(object, 1, length(?2)) = ?2 \
                 ORDER BY seq DESC LIMIT 1",
            )?;
            let mut rows = stmt.query(rusqlite::params![action.as_str(), prefix])?;
            match rows.next()? {
                Some(row) => Ok(Some(row.get(0)?)),
                None => Ok(None),
            }
        })
    }

    /// The record `seq`, unless it was erased.
    pub fn record(&self, seq: u64) -> Result<Option<AuditRecord>, AuditError> {
        self.with_reader(|conn| {
            let sql = format!("SELECT {} FROM records WHERE seq = ?1", sql::RECORD_COLUMNS);
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query([seq as i64])?;
            match rows.next()? {
                Some(row) => Ok(Some(sql::record_from_row(row)?)),
                None => Ok(None),
            }
        })
    }

    /// The leaf hash of record `seq`.
    pub fn leaf(&self, seq: u64) -> Result<Hash, AuditError> {
        self.check_size(seq + 1)?;
        self.with_reader(|conn| merkle::NodeReader::node(&SqlTree { conn, node_level: self.inner.node_level }, 0, seq))
    }

    fn check_size(&self, size: u64) -> Result<(), AuditError> {
        let have = self.size();
        if size > have {
            return Err(AuditError::NotFound(format!("the log has {have} records, not {size}")));
        }
        Ok(())
    }

    /// The inclusion proof of record `seq` in the tree of `size` records (a checkpoint's size).
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(size)?;
        self.with_reader(|conn| {
            merkle::inclusion_proof(&SqlTree { conn, node_level: self.inner.node_level }, seq, size)
                .map_err(proof_error)
        })
    }

    /// The consistency proof between the trees of `old` and `new` records (two checkpoints).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(new)?;
        self.with_reader(|conn| {
            merkle::consistency_proof(&SqlTree { conn, node_level: self.inner.node_level }, old, new)
                .map_err(proof_error)
        })
    }

    /// Writes the records `filter` selects as JSON lines; returns how many.
    pub fn export(&self, filter: &export::ExportFilter, out: &mut dyn Write) -> Result<u64, AuditError> {
        self.with_reader(|conn| export::export_from(conn, filter, out))
    }

    /// Verifies the whole log against its own key (see [`verify()`](crate::verify())).
    pub fn verify(&self) -> Result<verify::VerifyReport, verify::VerifyError> {
        verify::verify(&self.inner.path, &self.inner.verifier)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the audit writer thread panicked");
        }
    }
}

fn proof_error(e: merkle::ProofError<AuditError>) -> AuditError {
    match e {
        merkle::ProofError::OutOfRange(m) => AuditError::NotFound(m),
        merkle::ProofError::Read(e) => e,
    }
}

/// The verifier key of the log in `dir`, from its key file: what `limes audit verify` checks
/// against when no partner-held key is given.
pub fn read_verifier_key(dir: &Path) -> Result<VerifierKey, AuditError> {
    let path = dir.join(KEY_FILE);
    let text = fs::read_to_string(&path).map_err(|source| AuditError::File { path, source })?;
    Ok(CheckpointSigner::parse_private_text(&text)?.verifier())
}

/// Reads the key file, or creates it with a new log. A missing key for a log that has
/// entries is an error: a new key would orphan every earlier checkpoint.
fn load_or_create_key(dir: &Path, origin: &str, conn: &Connection) -> Result<CheckpointSigner, AuditError> {
    let path = dir.join(KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let signer = CheckpointSigner::parse_private_text(&text)?;
            if signer.name() != origin {
                return Err(AuditError::OriginChanged {
                    stored: signer.name().to_owned(),
                    configured: origin.to_owned(),
                });
            }
            Ok(signer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keyed: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM meta WHERE name = 'key') OR EXISTS (SELECT 1 FROM leaves)",
                [],
                |r| r.get(0),
            )?;
            if keyed {
                return Err(AuditError::KeyMissing { path });
            }
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| AuditError::Random(e.to_string()))?;
            let signer = CheckpointSigner::from_seed(origin, &seed)?;
            write_secret_file(dir, &path, signer.to_private_text().as_bytes())?;
            tracing::info!(key = %signer.verifier(), "created the audit checkpoint key");
            Ok(signer)
        }
        Err(source) => Err(AuditError::File { path, source }),
    }
}

/// Writes `bytes` to `path` durably and readable by the owner only: a temporary file, fsync,
/// rename, fsync of the directory.
fn write_secret_file(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    let tmp = path.with_extension("tmp");
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| AuditError::File { path, source }
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).and_then(|()| file.write_all(b"\n")).and_then(|()| file.sync_all()).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    Ok(())
}

/// Records the log's origin, key and node level at creation; afterwards, refuses another
/// origin or key, and returns the level the log keeps.
fn check_meta(conn: &mut Connection, signer: &CheckpointSigner) -> Result<u32, AuditError> {
    let key = signer.verifier().to_string();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let get = |name: &str| -> rusqlite::Result<Option<String>> {
        tx.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0)).optional()
    };
    match get("origin")? {
        Some(stored) if stored != signer.name() => {
            return Err(AuditError::OriginChanged { stored, configured: signer.name().to_owned() });
        }
        Some(_) => {}
        None => {
            tx.execute("INSERT INTO meta (name, value) VALUES ('origin', ?1)", [signer.name()])?;
        }
    }
    match get("key")? {
        Some(stored) if stored != key => return Err(AuditError::KeyChanged { stored, found: key }),
        Some(_) => {}
        None => {
            tx.execute("INSERT INTO meta (name, value) VALUES ('key', ?1)", [&key])?;
        }
    }
    let level = match get("node_level")? {
        Some(_) => sql::node_level(&tx)?.ok_or_else(|| AuditError::Corrupt("meta node_level is not a level".into()))?,
        None => {
            tx.execute("INSERT INTO meta (name, value) VALUES ('node_level', ?1)", [sql::NODE_LEVEL.to_string()])?;
            sql::NODE_LEVEL
        }
    };
    tx.commit()?;
    Ok(level)
}

/// Wakes the writer every [`TICK`] while any [`AuditLog`] handle lives.
fn start_ticker(tx: mpsc::WeakSender<Job>) -> Result<(), AuditError> {
    std::thread::Builder::new()
        .name("limes-audit-ticker".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                let Some(tx) = tx.upgrade() else { return };
                // A full queue means the writer is busy and signs as it commits.
                let _ = tx.try_send(Job::Tick);
            }
        })
        .map(|_| ())
        .map_err(|source| AuditError::File { path: "audit ticker thread".into(), source })
}

/// Copies the WAL into the database four times a second, PASSIVE so it never waits for or
/// blocks the writer (the reads store does the same; see design/store.md).
fn start_wal_checkpointer(conn: Connection) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new().name("limes-audit-wal".into()).spawn(move || {
        let period = Duration::from_millis(250);
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(period) {
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "audit WAL checkpoint failed; will retry");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the audit WAL checkpointer");
    }
    tx
}

/// Random salts, drawn from the operating system a few thousand at a time.
#[derive(Default)]
struct SaltBuffer {
    bytes: Vec<u8>,
    used: usize,
}

impl SaltBuffer {
    fn next(&mut self) -> Result<Salt, AuditError> {
        if self.used + 32 > self.bytes.len() {
            self.bytes.resize(32 * 2048, 0);
            getrandom::fill(&mut self.bytes).map_err(|e| AuditError::Random(e.to_string()))?;
            self.used = 0;
        }
        let salt: Salt = self.bytes[self.used..self.used + 32].try_into().expect("32 bytes");
        // A salt is used once: wipe it from the buffer.
        self.bytes[self.used..self.used + 32].fill(0);
        self.used += 32;
        Ok(salt)
    }
}

/// The writer's view of the log; restored from a copy when a group fails to commit.
struct State {
    frontier: Frontier,
    last_time_us: i64,
    /// Size and time of the newest checkpoint.
    checkpointed: u64,
    checkpoint_time: u64,
    last_checkpoint_at: Instant,
    salts: SaltBuffer,
    scratch: Vec<u8>,
    /// Nodes of this level and above are stored.
    node_level: u32,
}

struct Writer {
    conn: Connection,
    signer: CheckpointSigner,
    state: State,
    interval: Duration,
    max_group: usize,
    shared: Arc<Shared>,
    wal_frames: Arc<AtomicI64>,
    wal_limit: i64,
}

/// What one job of a committed group gets back.
enum Done {
    Appended(Range<u64>),
    Erased(Result<Erased, AuditError>),
    Nothing,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            if self.wal_frames.load(Ordering::Relaxed) > self.wal_limit {
                match self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    Ok(()) => self.wal_frames.store(0, Ordering::Relaxed),
                    Err(e) => tracing::warn!(error = %e, "audit WAL checkpoint in the writer failed"),
                }
            }
            let mut events = first.events();
            let mut group = vec![first];
            while events < self.max_group {
                match rx.try_recv() {
                    Ok(job) => {
                        events += job.events();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.write_group(group);
        }
        // Every handle is gone and the queue is drained: cover what was appended.
        if self.state.frontier.size() > self.state.checkpointed {
            let (reply, _rx) = oneshot::channel();
            self.write_group(vec![Job::Checkpoint { reply }]);
        }
    }

    fn write_group(&mut self, group: Vec<Job>) {
        let force = group.iter().any(|j| matches!(j, Job::Checkpoint { .. }));
        let writes = group.iter().any(|j| j.events() > 0);
        let grown = self.state.frontier.size() > self.state.checkpointed;
        let due = grown && (force || self.state.last_checkpoint_at.elapsed() + TICK >= self.interval);
        if !writes && !due {
            self.reply(group, Ok(Vec::new()));
            return;
        }
        let saved = (self.state.frontier.clone(), self.state.last_time_us);
        let result = write_group(&mut self.conn, &mut self.state, &self.signer, &group, force, self.interval);
        match &result {
            Ok((done, signed)) => {
                if done.iter().any(|d| matches!(d, Done::Erased(Ok(e)) if !e.erased.is_empty())) {
                    self.truncate_wal();
                }
                self.shared.size.store(self.state.frontier.size(), Ordering::Release);
                if let Some(signed) = signed {
                    self.state.checkpointed = signed.checkpoint.size;
                    self.state.checkpoint_time = signed.time;
                    self.state.last_checkpoint_at = Instant::now();
                    *self.shared.latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(signed.clone());
                }
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = group.len(), "audit group commit failed");
                (self.state.frontier, self.state.last_time_us) = saved;
            }
        }
        self.reply(group, result.map(|(done, _)| done));
    }

    /// After an erasure, the WAL still holds the pages that held the records: copy it into the
    /// database (where `secure_delete` zeroed them) and truncate it. Best effort, and brief: a
    /// long reader (an export) would otherwise hold the writer for the whole busy timeout.
    fn truncate_wal(&mut self) {
        let _ = self.conn.busy_timeout(Duration::from_millis(200));
        match self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)) {
            Ok(0) => self.wal_frames.store(0, Ordering::Relaxed),
            Ok(_) => {
                tracing::info!("the audit WAL could not be truncated after an erasure (readers); it will be reused")
            }
            Err(e) => tracing::warn!(error = %e, "truncating the audit WAL after an erasure failed"),
        }
        let _ = self.conn.busy_timeout(Duration::from_secs(10));
    }

    fn reply(&self, group: Vec<Job>, result: Result<Vec<Done>, AuditError>) {
        let latest = || self.shared.latest.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match result {
            Ok(done) => {
                let mut done = done.into_iter();
                for job in group {
                    let d = done.next().unwrap_or(Done::Nothing);
                    match (job, d) {
                        (Job::Append { reply, .. }, Done::Appended(seqs)) => {
                            let _ = reply.send(Ok(seqs));
                        }
                        (Job::Erase { reply, .. }, Done::Erased(r)) => {
                            let _ = reply.send(r);
                        }
                        (Job::Checkpoint { reply }, _) => {
                            let _ = reply.send(Ok(latest()));
                        }
                        (Job::Append { reply, .. }, _) => {
                            let _ = reply.send(Err(AuditError::WriterGone));
                        }
                        (Job::Erase { reply, .. }, _) => {
                            let _ = reply.send(Err(AuditError::WriterGone));
                        }
                        (Job::Tick, _) => {}
                    }
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let fail = || AuditError::Corrupt(format!("the group commit failed: {msg}"));
                for job in group {
                    match job {
                        Job::Append { reply, .. } => {
                            let _ = reply.send(Err(fail()));
                        }
                        Job::Erase { reply, .. } => {
                            let _ = reply.send(Err(fail()));
                        }
                        Job::Checkpoint { reply } => {
                            let _ = reply.send(Err(fail()));
                        }
                        Job::Tick => {}
                    }
                }
            }
        }
    }
}

type GroupResult = Result<(Vec<Done>, Option<SignedCheckpoint>), AuditError>;

/// One transaction: every job of the group, then a checkpoint when one is due.
fn write_group(
    conn: &mut Connection,
    state: &mut State,
    signer: &CheckpointSigner,
    group: &[Job],
    force: bool,
    interval: Duration,
) -> GroupResult {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // One time for the group, never before the previous group's: seq order is time order.
    let now = Utc::now();
    let time_us = now.timestamp_micros().max(state.last_time_us);
    state.last_time_us = time_us;
    let mut done = Vec::with_capacity(group.len());
    for job in group {
        match job {
            Job::Append { events, .. } => {
                let first = state.frontier.size();
                for event in events {
                    append_one(&tx, state, event, time_us)?;
                }
                done.push(Done::Appended(first..state.frontier.size()));
            }
            Job::Erase { erasure, .. } => done.push(Done::Erased(erase(&tx, state, erasure, time_us)?)),
            Job::Checkpoint { .. } | Job::Tick => done.push(Done::Nothing),
        }
    }
    let size = state.frontier.size();
    let grown = size > state.checkpointed;
    let signed = if grown && (force || state.last_checkpoint_at.elapsed() + TICK >= interval) {
        let time = (now.timestamp().max(0) as u64).max(state.checkpoint_time);
        let signed = signer.sign(size, state.frontier.root(), time);
        tx.prepare_cached("INSERT INTO checkpoints (size, root, time, signature) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![size as i64, &signed.checkpoint.root.0[..], time as i64, &signed.signature[..]])?;
        Some(signed)
    } else {
        None
    };
    tx.commit()?;
    Ok((done, signed))
}

/// Inserts one record, its leaf and the subtrees it completes; returns its seq.
fn append_one(tx: &Connection, state: &mut State, event: &AuditEvent, time_us: i64) -> Result<u64, AuditError> {
    let seq = state.frontier.size();
    let salt = state.salts.next()?;
    let actor = event.actor.to_text();
    let text = RecordText {
        seq,
        time_us,
        actor: &actor,
        role: &event.role,
        action: event.action.as_str(),
        object: event.object.as_str(),
        purpose: &event.purpose,
        legal_basis: &event.legal_basis,
        case_ref: event.case_ref.as_deref(),
        outcome: event.outcome.as_str(),
        details: event.details.as_str(),
    };
    let leaf = text.leaf(&salt, &mut state.scratch);
    tx.prepare_cached(
        "INSERT INTO records (seq, time_us, actor, role, action, object, purpose, legal_basis, case_ref, outcome,
                              details, salt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        seq as i64,
        time_us,
        actor,
        text.role,
        text.action,
        text.object,
        text.purpose,
        text.legal_basis,
        text.case_ref,
        text.outcome,
        text.details,
        &salt[..],
    ])?;
    tx.prepare_cached("INSERT INTO leaves (seq, hash) VALUES (?1, ?2)")?.execute(params![seq as i64, &leaf.0[..]])?;
    let mut created: [Option<NewNode>; 64] = [None; 64];
    let mut n = 0;
    let node_level = state.node_level;
    state.frontier.push(leaf, |node| {
        if node.level >= node_level {
            created[n] = Some(node);
            n += 1;
        }
    });
    if n > 0 {
        let mut insert = tx.prepare_cached("INSERT INTO nodes (level, idx, hash) VALUES (?1, ?2, ?3)")?;
        for node in created.iter().flatten() {
            insert.execute(params![node.level, node.index as i64, &node.hash.0[..]])?;
        }
    }
    Ok(seq)
}

/// Erases records inside the group's transaction. The outer error fails the group (the
/// database failed); the inner one is this erasure's alone (checked before anything is written).
fn erase(
    tx: &Connection,
    state: &mut State,
    erasure: &Erasure,
    time_us: i64,
) -> Result<Result<Erased, AuditError>, AuditError> {
    let size = state.frontier.size();
    let mut seqs = erasure.seqs.clone();
    seqs.sort_unstable();
    seqs.dedup();
    if seqs.len() > MAX_ERASE {
        return Ok(Err(AuditError::Refused(format!("erase at most {MAX_ERASE} records at once, not {}", seqs.len()))));
    }
    if let Some(&beyond) = seqs.iter().find(|&&s| s >= size) {
        return Ok(Err(AuditError::NotFound(format!("record {beyond}: the log has {size} records"))));
    }
    let (mut erased, mut already) = (Vec::new(), Vec::new());
    {
        let mut action = tx.prepare_cached("SELECT action FROM records WHERE seq = ?1")?;
        for &s in &seqs {
            match action.query_row([s as i64], |r| r.get::<_, String>(0)).optional()? {
                None => already.push(s),
                Some(a) if a == Action::Erase.as_str() => {
                    return Ok(Err(AuditError::Refused(format!(
                        "record {s} logs an erasure; erasure records are kept so that every erased record stays accounted for"
                    ))));
                }
                Some(_) => erased.push(s),
            }
        }
    }
    if erased.is_empty() {
        return Ok(Ok(Erased { erased, already_erased: already, record: None }));
    }
    let event = erasure.event(&erased);
    if let Err(e) = event.validate() {
        return Ok(Err(e.into()));
    }
    {
        let mut delete = tx.prepare_cached("DELETE FROM records WHERE seq = ?1")?;
        for &s in &erased {
            delete.execute([s as i64])?;
        }
    }
    let record = append_one(tx, state, &event, time_us)?;
    Ok(Ok(Erased { erased, already_erased: already, record: Some(record) }))
}
