//! The path of a plate read: parse → validate → normalise → match → store
//! durably → acknowledge → push alerts.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use limes_hotlist::ConfidenceCalibration;
use limes_model::{Camera, CameraId, MatchKind, PlateRead};
use limes_store::{NewAlert, NewRead, WriteBatch};

use crate::auth::Collector;
use crate::wire::{IngestReport, ReadIn, Rejected};
use crate::{AlertEvent, ApiError, AppState, read_lock};

/// Reads that passed every check, ready to write, and those that did not.
struct Prepared {
    batch: WriteBatch,
    rejected: Vec<Rejected>,
    /// Hits on the hotlists of running joint operations (`operations`).
    operation_hits: Vec<crate::operations::NewHit>,
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
    let mut p = Prepared { batch: WriteBatch::default(), rejected: Vec::new(), operation_hits: Vec::new() };
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
    if crate::operations::matching(state) {
        let ops = read_lock(&state.operation_hotlist);
        let cameras = read_lock(&state.cameras);
        for (read, normalized) in &checked {
            for hit in ops.index.match_read(normalized, now) {
                if ops.index.get(hit.entry_id).is_none_or(|e| !e.same_world(read)) {
                    continue;
                }
                if let Some((operation, plate)) = ops.owner(hit.entry_id) {
                    p.operation_hits.push(crate::operations::NewHit {
                        operation: operation.clone(),
                        plate: plate.clone(),
                        camera: read.camera.clone(),
                        time: read.time,
                        position: read.position.or_else(|| cameras.get(&read.camera).and_then(|c| c.position)),
                        kind: hit.kind,
                    });
                }
            }
        }
    }
    let hotlist = read_lock(&state.hotlist);
    // Match every read first, without the calibrations' lock: the hits of read `i` are
    // `hits[ends[i - 1]..ends[i]]`.
    let (mut hits, mut ends, mut one) = (Vec::new(), Vec::with_capacity(checked.len()), Vec::new());
    for (_, normalized) in &checked {
        hotlist.match_read_into(normalized, now, &mut one);
        hits.extend_from_slice(&one);
        ends.push(hits.len());
    }
    // Then judge each read against its camera's confidences so far and count it in, in
    // batch order, under one lock for the batch (taken only when the rule is on).
    let policy = &state.options.match_policy;
    {
        let mut calibrations = (policy.confirm_min_camera_quantile > 0.0).then(|| lock(&state.calibrations));
        let mut start = 0;
        for ((read, _), &end) in checked.iter().zip(&ends) {
            let confidence = read.plate.text.confidence;
            let camera = match (&mut calibrations, confidence) {
                (Some(map), Some(_)) => Some(calibration(map, &read.camera)),
                _ => None,
            };
            policy.apply(confidence, camera.as_deref(), read.vehicle.as_ref(), &hotlist, &mut hits[start..end]);
            // A drill's reads say nothing about how sure the camera usually is.
            if let (Some(camera), Some(c), false) = (camera, confidence, read.exercise) {
                camera.observe(c);
            }
            start = end;
        }
    }
    // A partner's entry is used while the agreement with its owner allows it (`federation::hotlist`).
    let partner_entries = read_lock(&state.partner_entries);
    let usable = |id: u64| {
        partner_entries.is_empty()
            || partner_entries.get(&id).is_none_or(|o| crate::federation::hotlist::may_use(state, o))
    };
    let mut start = 0;
    for ((read, normalized), end) in checked.into_iter().zip(ends) {
        let slot = p.batch.reads.len();
        for hit in hits[start..end].iter().filter(|h| usable(h.entry_id)) {
            // A drill never mixes with real data: an exercise read hits only exercise
            // entries, a real read only real ones.
            if let Some(entry) = hotlist.get(hit.entry_id).filter(|e| e.same_world(&read)) {
                p.batch.alerts.push(NewAlert::demoted(slot, &entry, hit.kind, hit.distance, hit.demoted));
            }
        }
        start = end;
        p.batch.reads.push(NewRead::new(read, normalized.text, normalized.country, normalized.valid, now));
    }
    p
}

/// The calibration of `camera`, new if the camera has given no read with a confidence yet.
fn calibration<'a>(
    map: &'a mut HashMap<CameraId, ConfidenceCalibration>,
    camera: &CameraId,
) -> &'a mut ConfidenceCalibration {
    // Two lookups, so that the id is cloned only on the camera's first read.
    if !map.contains_key(camera) {
        map.insert(camera.clone(), ConfidenceCalibration::new());
    }
    map.get_mut(camera).expect("inserted above")
}

/// Takes a mutex, recovering from a panic in another holder (a calibration is a set of
/// counters: any state it was left in is usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
    let Prepared { batch, rejected, operation_hits } = prepared;
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
            let _ = state.alerts.send(AlertEvent {
                id: alert.id,
                plate: alert.plate.as_str().into(),
                json: json.into(),
                origin: None,
            });
        }
    }
    if let Some(fed) = state.federation.get() {
        fed.outbound.share(&committed.alerts).await;
    }
    if !operation_hits.is_empty() {
        crate::operations::record_hits(state, operation_hits).await;
    }
    state.audit_collected(by, &committed.read_ids, "reads", committed.alerts.len()).await?;
    report.accepted = committed.read_ids.len();
    report.alerts = committed.alerts.len();
    report.ids = committed.read_ids;
    Ok(report)
}
