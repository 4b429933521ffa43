//! The path of a plate read: parse → validate → normalise → match → store
//! durably → acknowledge → push alerts.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use limes_model::{Camera, CameraId, MatchKind, PlateRead};
use limes_store::{NewAlert, NewRead, WriteBatch};

use crate::auth::Collector;
use crate::wire::{IngestReport, ReadIn, Rejected};
use crate::{AlertEvent, ApiError, AppState, read_lock};

/// Reads that passed every check, ready to write, and those that did not.
struct Prepared {
    batch: WriteBatch,
    rejected: Vec<Rejected>,
}

/// A record the ingest path takes: limes's own wire read, or a domain read an ingest source
/// (MQTT, a camera format) has already built, which need not go through the wire form.
pub trait IngestRecord: Send + 'static {
    /// The domain read; fails on what the record's form could not check (a malformed camera
    /// id or country code).
    fn into_read(self) -> Result<PlateRead, String>;
}

impl IngestRecord for ReadIn {
    fn into_read(self) -> Result<PlateRead, String> {
        self.into_domain()
    }
}

impl IngestRecord for PlateRead {
    fn into_read(self) -> Result<PlateRead, String> {
        Ok(self)
    }
}

fn check<T: IngestRecord>(
    cameras: &HashMap<CameraId, Camera>,
    raw: T,
    now: DateTime<Utc>,
) -> Result<(PlateRead, limes_plate::Normalized), String> {
    let read = raw.into_read()?;
    read.validate(now).map_err(|e| e.to_string())?;
    if !cameras.contains_key(&read.camera) {
        return Err(format!("unknown camera {:?}: register it first (POST /api/v1/cameras)", read.camera.as_str()));
    }
    let country = read.plate.country.as_ref().map(|c| c.value);
    let normalized = limes_plate::normalize(&read.plate.text.value, country).map_err(|e| format!("plate: {e}"))?;
    Ok((read, normalized))
}

fn prepare<T: IngestRecord>(state: &AppState, items: Vec<(usize, Result<T, String>)>, now: DateTime<Utc>) -> Prepared {
    let mut p = Prepared { batch: WriteBatch::default(), rejected: Vec::new() };
    let mut checked = Vec::with_capacity(items.len());
    {
        let cameras = read_lock(&state.cameras);
        for (index, item) in items {
            match item.and_then(|raw| check(&cameras, raw, now)) {
                Ok(ok) => checked.push(ok),
                Err(error) => p.rejected.push(Rejected { index, error }),
            }
        }
    }
    let hotlist = read_lock(&state.hotlist);
    let mut hits = Vec::new();
    for (read, normalized) in checked {
        let slot = p.batch.reads.len();
        hits.clear();
        hotlist.match_read_into(&normalized, now, &mut hits);
        state.options.match_policy.apply(read.plate.text.confidence, read.vehicle.as_ref(), &hotlist, &mut hits);
        for hit in &hits {
            if let Some(entry) = hotlist.get(hit.entry_id) {
                p.batch.alerts.push(NewAlert::demoted(slot, &entry, hit.kind, hit.distance, hit.demoted));
            }
        }
        p.batch.reads.push(NewRead::new(read, normalized.text, normalized.country, normalized.valid, now));
    }
    p
}

/// Validates, matches and durably stores a batch of reads (each with its index in the
/// caller's batch, or the reason it was already refused); returns once the accepted ones
/// are committed (fsynced), after pushing their alerts and logging the collection (one
/// audit record for the batch, by `by`).
pub async fn ingest_reads<T: IngestRecord>(
    state: &AppState,
    by: &Collector,
    items: Vec<(usize, Result<T, String>)>,
) -> Result<IngestReport, ApiError> {
    let now = Utc::now();
    let prepared = {
        let state = state.clone();
        // Normalising and matching a large batch is CPU work: keep it off the reactor.
        if items.len() > 64 {
            tokio::task::spawn_blocking(move || prepare(&state, items, now)).await?
        } else {
            prepare(&state, items, now)
        }
    };
    let Prepared { batch, rejected } = prepared;
    state.stats.reads_rejected.fetch_add(rejected.len() as u64, Ordering::Relaxed);
    let mut report = IngestReport { rejected, ..Default::default() };
    if batch.reads.is_empty() {
        return Ok(report);
    }
    let committed = state.store.write(batch).await?;
    state.stats.batches.fetch_add(1, Ordering::Relaxed);
    state.stats.reads_accepted.fetch_add(committed.read_ids.len() as u64, Ordering::Relaxed);
    for alert in &committed.alerts {
        let counter = match alert.kind {
            MatchKind::Confirmed => &state.stats.alerts_confirmed,
            MatchKind::Possible => &state.stats.alerts_possible,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Ok(json) = serde_json::to_string(alert) {
            // No subscriber is not an error: the alert is stored and listed.
            let _ = state.alerts.send(AlertEvent { id: alert.id, json: json.into() });
        }
    }
    state.audit_collected(by, &committed.read_ids, "reads", committed.alerts.len()).await?;
    report.accepted = committed.read_ids.len();
    report.alerts = committed.alerts.len();
    report.ids = committed.read_ids;
    Ok(report)
}
