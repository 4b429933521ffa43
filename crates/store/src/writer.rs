//! The writer thread: group commit of read batches and detection batches.
//!
//! Procedure for each group (see `design/store.md`):
//! 1. block for one batch, then take every batch already queued, up to
//!    `max_group_rows` rows (reads and detections);
//! 2. `BEGIN IMMEDIATE`; each batch inside its own savepoint, so a batch that
//!    fails is rolled back alone and the others still commit;
//! 3. `COMMIT`, which with `synchronous = FULL` fsyncs the WAL;
//! 4. only then answer every batch's submitter.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use chrono::{DateTime, Utc};
use limes_model::{AgencyId, Demotion, HotlistEntry, HotlistReason, MatchKind, PlateRead};
use limes_plate::{CountryCode, PlateText, lookalike_key};
use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use crate::alerts::{Alert, PartnerAlert};
use crate::detections::DetectionBatch;
use crate::{StoreError, to_us};

/// A read ready to store: the reader's record and what normalisation made of it.
#[derive(Debug, Clone)]
pub struct NewRead {
    pub read: PlateRead,
    /// Canonical text (grammar-repaired when the country is known).
    pub plate: PlateText,
    pub country: Option<CountryCode>,
    pub valid: bool,
    pub received: DateTime<Utc>,
    body: String,
}

impl NewRead {
    /// Prepares a read for storage; serialises it here, on the caller's thread,
    /// so that the single writer thread does as little as possible.
    pub fn new(
        read: PlateRead,
        plate: PlateText,
        country: Option<CountryCode>,
        valid: bool,
        received: DateTime<Utc>,
    ) -> Self {
        let body = serde_json::to_string(&read).unwrap_or_default();
        Self { read, plate, country, valid, received, body }
    }
}

/// An alert to store with the read at `read_index` of the same batch.
#[derive(Debug, Clone)]
pub struct NewAlert {
    pub read_index: usize,
    pub entry_id: u64,
    pub entry_plate: PlateText,
    pub reason: HotlistReason,
    pub priority: u8,
    pub agency: AgencyId,
    pub kind: MatchKind,
    pub distance: u8,
    /// Why a hit the text would confirm is only possible.
    pub demoted: Option<Demotion>,
    /// The hit of an exercise read on an exercise entry.
    pub exercise: bool,
}

impl NewAlert {
    pub fn new(read_index: usize, entry: &HotlistEntry, kind: MatchKind, distance: u8) -> Self {
        Self::demoted(read_index, entry, kind, distance, None)
    }

    /// An alert for a hit, with the reason a matching rule made it only possible.
    pub fn demoted(
        read_index: usize,
        entry: &HotlistEntry,
        kind: MatchKind,
        distance: u8,
        demoted: Option<Demotion>,
    ) -> Self {
        Self {
            read_index,
            entry_id: entry.id,
            entry_plate: entry.plate.clone(),
            reason: entry.reason,
            priority: entry.priority,
            agency: entry.agency.clone(),
            kind,
            distance,
            demoted,
            exercise: entry.exercise,
        }
    }
}

/// Reads and the alerts they raised, written atomically.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub reads: Vec<NewRead>,
    pub alerts: Vec<NewAlert>,
}

/// What a committed batch became.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The stored id of each read, in batch order.
    pub read_ids: Vec<i64>,
    pub alerts: Vec<Alert>,
}

/// What a submitter hands the writer: a batch and where to send its outcome.
enum Job {
    Reads { batch: WriteBatch, reply: oneshot::Sender<Result<Committed, StoreError>> },
    Detections { batch: DetectionBatch, reply: oneshot::Sender<Result<Vec<i64>, StoreError>> },
    PartnerAlerts { alerts: Vec<PartnerAlert>, reply: oneshot::Sender<Result<Vec<Alert>, StoreError>> },
}

impl Job {
    /// Rows the job inserts (for the group's size limit).
    fn rows(&self) -> usize {
        match self {
            Self::Reads { batch, .. } => batch.reads.len(),
            Self::Detections { batch, .. } => batch.detections.len(),
            Self::PartnerAlerts { alerts, .. } => alerts.len(),
        }
    }

    /// Answers the submitter with the outcome of its batch.
    fn answer(self, outcome: Outcome) {
        match (self, outcome) {
            (Self::Reads { reply, .. }, Outcome::Reads(r)) => {
                let _ = reply.send(r);
            }
            (Self::Detections { reply, .. }, Outcome::Detections(r)) => {
                let _ = reply.send(r);
            }
            (Self::PartnerAlerts { reply, .. }, Outcome::PartnerAlerts(r)) => {
                let _ = reply.send(r);
            }
            (job, _) => job.fail(StoreError::Corrupt { table: "writer", detail: "outcome of another kind".into() }),
        }
    }

    /// Answers the submitter with an error.
    fn fail(self, e: StoreError) {
        match self {
            Self::Reads { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Self::Detections { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Self::PartnerAlerts { reply, .. } => {
                let _ = reply.send(Err(e));
            }
        }
    }
}

/// What one job of a group became.
enum Outcome {
    Reads(Result<Committed, StoreError>),
    Detections(Result<Vec<i64>, StoreError>),
    PartnerAlerts(Result<Vec<Alert>, StoreError>),
}

#[derive(Debug)]
pub(crate) struct WriterHandle {
    tx: mpsc::SyncSender<Job>,
}

impl WriterHandle {
    pub(crate) fn start(mut conn: Connection, options: &crate::StoreOptions) -> Result<Self, StoreError> {
        let (max_group_rows, wal_limit) = (options.max_group_rows, options.wal_frames_limit);
        // SQLite tells after every commit how many frames the WAL holds.
        let wal_frames = Arc::new(AtomicI64::new(0));
        let frames = wal_frames.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
            frames.store(i64::from(pages), Ordering::Relaxed);
            Ok(())
        }))?;
        // Bounded: when the disk cannot keep up, submitters wait (backpressure)
        // instead of the queue growing without limit.
        let (tx, rx) = mpsc::sync_channel::<Job>(1024);
        thread::Builder::new()
            .name("limes-store-writer".into())
            .spawn(move || run(conn, rx, max_group_rows, wal_limit, wal_frames))
            .map_err(|e| StoreError::Dir { path: "writer thread".into(), source: e })?;
        Ok(Self { tx })
    }
}

impl crate::Store {
    /// Writes a batch durably; resolves once it is committed and fsynced.
    pub async fn write(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Reads { batch, reply }).await?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// The blocking twin of [`Store::write`], for callers outside an async runtime.
    pub fn write_blocking(&self, batch: WriteBatch) -> Result<Committed, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.inner.writer.tx.send(Job::Reads { batch, reply }).map_err(|_| StoreError::WriterGone)?;
        rx.blocking_recv().map_err(|_| StoreError::WriterGone)?
    }

    /// Stores alerts partner agencies sent, numbered with this node's alerts, durably; resolves
    /// with the ones stored, skipping any whose message was stored before (a message takes
    /// effect once).
    pub async fn write_partner_alerts(&self, alerts: Vec<PartnerAlert>) -> Result<Vec<Alert>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::PartnerAlerts { alerts, reply }).await?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Writes detections durably, in the same group commits as reads; resolves with their
    /// ids, in batch order, once they are committed and fsynced. All or none are stored.
    pub async fn write_detections(&self, batch: DetectionBatch) -> Result<Vec<i64>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Detections { batch, reply }).await?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// The blocking twin of [`Store::write_detections`].
    pub fn write_detections_blocking(&self, batch: DetectionBatch) -> Result<Vec<i64>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.inner.writer.tx.send(Job::Detections { batch, reply }).map_err(|_| StoreError::WriterGone)?;
        rx.blocking_recv().map_err(|_| StoreError::WriterGone)?
    }

    /// Queues a job for the writer.
    async fn submit(&self, job: Job) -> Result<(), StoreError> {
        let tx = self.inner.writer.tx.clone();
        // `send` blocks only while the queue is full; keep that off the async executor.
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Full(job)) => tokio::task::spawn_blocking(move || tx.send(job))
                .await
                .map_err(|_| StoreError::WriterGone)?
                .map_err(|_| StoreError::WriterGone),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(StoreError::WriterGone),
        }
    }
}

fn run(
    mut conn: Connection,
    rx: mpsc::Receiver<Job>,
    max_group_rows: usize,
    wal_limit: i64,
    wal_frames: Arc<AtomicI64>,
) {
    while let Ok(first) = rx.recv() {
        // Under sustained ingest the background checkpointer never sees a moment without
        // new frames, so the WAL would only grow. Here no frames are being added: a PASSIVE
        // checkpoint copies the frames the background one has not yet copied, and the next
        // transaction starts the log again from its beginning.
        if wal_frames.load(Ordering::Relaxed) > wal_limit {
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                Ok(_) => wal_frames.store(0, Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint in the writer failed"),
            }
        }
        let mut rows = first.rows();
        let mut group = vec![first];
        while rows < max_group_rows {
            match rx.try_recv() {
                Ok(job) => {
                    rows += job.rows();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        let results = write_group(&mut conn, &group);
        match results {
            Ok(results) => {
                for (job, result) in group.into_iter().zip(results) {
                    job.answer(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batches = group.len(), "group commit failed");
                let msg = e.to_string();
                for job in group {
                    job.fail(StoreError::Corrupt { table: "reads", detail: msg.clone() });
                }
            }
        }
    }
}

/// The next free read and alert ids: above every stored row and above the highest id
/// retention ever deleted (`id_floors`), so that no id is given twice.
const NEXT_IDS: &str = "SELECT
    MAX(COALESCE((SELECT MAX(id) FROM reads), 0), COALESCE((SELECT id FROM id_floors WHERE name = 'reads'), 0)) + 1,
    MAX(COALESCE((SELECT MAX(id) FROM alerts), 0), COALESCE((SELECT id FROM id_floors WHERE name = 'alerts'), 0)) + 1";

fn write_group(conn: &mut Connection, group: &[Job]) -> Result<Vec<Outcome>, StoreError> {
    // The write lock from BEGIN: the next ids are read first (see `write_transaction`).
    let mut tx = crate::write_transaction(conn)?;
    // This thread is the only writer of reads and alerts: it numbers them itself, so that each
    // read can carry its plate-index segment (id >> SEGMENT_BITS) as it is inserted, and alert
    // ids only ever grow (webhook cursors rely on it).
    let (mut next_id, mut next_alert_id): (i64, i64) = tx.query_row(NEXT_IDS, [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        let mut sp = tx.savepoint()?;
        let (ok, outcome) = match job {
            Job::Reads { batch, .. } => match write_batch(&sp, batch, next_id, next_alert_id) {
                Ok(c) => {
                    next_id += c.read_ids.len() as i64;
                    next_alert_id += c.alerts.len() as i64;
                    (true, Outcome::Reads(Ok(c)))
                }
                Err(e) => (false, Outcome::Reads(Err(e))),
            },
            Job::Detections { batch, .. } => match crate::detections::insert(&sp, batch) {
                Ok(ids) => (true, Outcome::Detections(Ok(ids))),
                Err(e) => (false, Outcome::Detections(Err(e))),
            },
            Job::PartnerAlerts { alerts, .. } => match crate::alerts::insert_partner_alerts(&sp, alerts, next_alert_id)
            {
                Ok(stored) => {
                    next_alert_id += stored.len() as i64;
                    (true, Outcome::PartnerAlerts(Ok(stored)))
                }
                Err(e) => (false, Outcome::PartnerAlerts(Err(e))),
            },
        };
        if ok {
            sp.commit()?;
        } else {
            sp.rollback()?;
            drop(sp);
        }
        results.push(outcome);
    }
    tx.commit()?;
    Ok(results)
}

fn write_batch(
    conn: &Connection,
    batch: &WriteBatch,
    first_id: i64,
    first_alert_id: i64,
) -> Result<Committed, StoreError> {
    let mut insert_read = conn.prepare_cached(
        "INSERT INTO reads (id, seg, camera, time_us, received_us, plate, plate_key, lookalike_key, country, valid,
                            body, exercise)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let mut read_ids = Vec::with_capacity(batch.reads.len());
    for (id, r) in (first_id..).zip(&batch.reads) {
        insert_read.execute(params![
            id,
            id >> crate::schema::SEGMENT_BITS,
            r.read.camera.as_str(),
            to_us(r.read.time),
            to_us(r.received),
            r.plate.as_str(),
            r.plate.key().0 as i64,
            lookalike_key(&r.plate).key().0 as i64,
            r.country.as_ref().map(CountryCode::as_str),
            r.valid,
            r.body,
            r.read.exercise,
        ])?;
        read_ids.push(id);
    }
    let mut alerts = Vec::with_capacity(batch.alerts.len());
    if !batch.alerts.is_empty() {
        let mut insert_alert = conn.prepare_cached(
            "INSERT INTO alerts (id, read_id, entry_id, kind, distance, plate, read_text, camera, time_us,
                                 created_us, reason, priority, agency, demoted, exercise)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?;
        for (id, a) in (first_alert_id..).zip(&batch.alerts) {
            let r = batch.reads.get(a.read_index).ok_or_else(|| StoreError::NotFound("alert's read".into()))?;
            if a.exercise != r.read.exercise {
                // The matcher keeps drills apart; a batch that does not is refused whole.
                return Err(StoreError::Refused(
                    "an alert would join an exercise record and a real one (entry and read differ)".into(),
                ));
            }
            let created = r.received;
            insert_alert.execute(params![
                id,
                read_ids[a.read_index],
                a.entry_id as i64,
                a.kind.as_str(),
                a.distance,
                a.entry_plate.as_str(),
                r.read.plate.text.value,
                r.read.camera.as_str(),
                to_us(r.read.time),
                to_us(created),
                a.reason.as_str(),
                a.priority,
                a.agency.as_str(),
                a.demoted.as_ref().map(Demotion::as_str),
                r.read.exercise,
            ])?;
            alerts.push(Alert {
                id,
                read_id: Some(read_ids[a.read_index]),
                entry_id: a.entry_id,
                kind: a.kind,
                demoted: a.demoted,
                distance: a.distance,
                plate: a.entry_plate.clone(),
                read_text: r.read.plate.text.value.clone(),
                camera: r.read.camera.clone(),
                time: r.read.time,
                created,
                reason: a.reason,
                priority: a.priority,
                agency: a.agency.clone(),
                ack: None,
                origin: None,
                exercise: r.read.exercise,
            });
        }
    }
    Ok(Committed { read_ids, alerts })
}
