//! Joint operations on the node (`limes-cooperation::operation` holds the rules).
//!
//! Events are stamped by the node's hybrid clock (the one incidents use), stored and folded,
//! pushed on `GET /api/v1/operations/stream` and sent by `federation::operations` to every
//! other member. The node matches every read against the hotlists of the operations that are
//! running ([`OperationIndex`], rebuilt whenever one changes and as they start and end): a hit
//! is written into the operation as a `hit` event, so every member sees it on its stream — the
//! operation's alert. A closed operation stops matching at once; its data is deleted when the
//! agreed retention after the close has passed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use limes_cooperation::operation::{OpChange, OpEvent, Operation, OperationId};
use limes_hotlist::HotlistIndex;
use limes_model::{AgencyId, CameraId, GeoPoint, HotlistEntry, MatchKind};
use limes_store::IncidentQuery;

use crate::federation::blocking;
use crate::incidents::{IncidentError as OperationError, Live};
use crate::{AppState, read_lock, write_lock};

/// The hotlists of the running operations, as one index, and which operation each entry is.
#[derive(Debug, Default)]
pub struct OperationIndex {
    pub index: HotlistIndex,
    owners: HashMap<u64, (OperationId, String)>,
}

impl OperationIndex {
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// The operation and plate of an entry of the index.
    pub fn owner(&self, entry: u64) -> Option<&(OperationId, String)> {
        self.owners.get(&entry)
    }
}

/// A hit of a read on an operation's hotlist, found at ingest.
#[derive(Debug, Clone)]
pub struct NewHit {
    pub operation: OperationId,
    pub plate: String,
    pub camera: CameraId,
    pub time: DateTime<Utc>,
    pub position: Option<GeoPoint>,
    pub kind: MatchKind,
}

/// A new operation.
#[derive(Debug, Clone)]
pub struct NewOperation {
    pub name: String,
    pub description: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub members: Vec<AgencyId>,
    pub retention_days: u32,
    pub exercise: bool,
    pub by: String,
}

fn me(state: &AppState) -> Result<AgencyId, OperationError> {
    AgencyId::new(state.access.options.agency.as_str()).map_err(|e| OperationError::Failed(e.to_string()))
}

/// Rebuilds the index from the operations running now.
pub(crate) fn rebuild_index(state: &AppState) -> Result<(), limes_store::StoreError> {
    let now = Utc::now();
    let ops = state.store.list_folded::<Operation>(&IncidentQuery { closed: false, exercise: None, limit: 10_000 })?;
    let (mut entries, mut owners) = (Vec::new(), HashMap::new());
    for op in ops.iter().filter(|o| o.is_active(now)) {
        for (plate, e) in &op.hotlist {
            let Ok(text) = limes_plate::PlateText::new(plate) else { continue };
            let id = entries.len() as u64 + 1;
            entries.push(HotlistEntry {
                id,
                plate: text,
                country: e.country.as_deref().and_then(|c| limes_plate::CountryCode::parse(c).ok()),
                reason: e.reason,
                priority: 1,
                agency: e.added_by.clone(),
                expires: Some(op.until),
                fuzzy: false,
                vehicle: None,
                note: None,
                // An exercise operation's list is hit only by exercise reads.
                exercise: op.exercise,
            });
            owners.insert(id, (op.id.clone(), plate.clone()));
        }
    }
    *write_lock(&state.operation_hotlist) = OperationIndex { index: HotlistIndex::from_entries(entries), owners };
    Ok(())
}

/// Opens an operation here, with the members it names.
pub async fn open(state: &AppState, new: NewOperation) -> Result<Operation, OperationError> {
    let me = me(state)?;
    let mut event = OpEvent {
        operation: OperationId { origin: me.clone(), n: 0 },
        stamp: state.incidents.stamp(),
        exercise: new.exercise,
        by: Some(new.by),
        change: OpChange::Opened {
            name: new.name,
            description: new.description,
            from: new.from,
            until: new.until,
            members: new.members,
            retention_days: new.retention_days,
        },
    };
    event.check().map_err(OperationError::Invalid)?;
    let store = state.store.clone();
    let op = blocking(move || {
        store.create_folded::<Operation>(&me, Utc::now(), move |id| {
            event.operation = id;
            vec![event]
        })
    })
    .await
    .map_err(OperationError::Failed)?;
    changed(state, &op).await;
    let events = state.store.events_of::<Operation>(&op.id).map_err(|e| OperationError::Failed(e.to_string()))?;
    crate::federation::operations::share(state, &op, &events).await;
    Ok(op)
}

/// Writes `change` on operation `id` as this agency.
pub async fn write(
    state: &AppState,
    id: &OperationId,
    by: &str,
    change: OpChange,
) -> Result<Operation, OperationError> {
    let me = me(state)?;
    let mut events = state.store.events_of::<Operation>(id).map_err(|e| OperationError::Failed(e.to_string()))?;
    let Some((op, _)) = Operation::fold(&events) else { return Err(OperationError::NotFound(id.clone())) };
    if !op.members.contains(&me) {
        return Err(OperationError::NotFound(id.clone()));
    }
    let event = OpEvent {
        operation: id.clone(),
        stamp: state.incidents.stamp(),
        exercise: op.exercise,
        by: Some(by.to_owned()),
        change,
    };
    event.check().map_err(OperationError::Invalid)?;
    events.push(event.clone());
    match Operation::fold(&events) {
        Some((_, timeline)) if timeline.iter().any(|e| e.event == event && e.applied) => {}
        _ if op.closed.is_some() => return Err(OperationError::Conflict(format!("operation {id} is closed"))),
        _ => return Err(OperationError::Conflict(format!("this would not change operation {id}"))),
    }
    let store = state.store.clone();
    let stored = {
        let event = event.clone();
        blocking(move || store.add_events::<Operation>(&[event], Utc::now())).await.map_err(OperationError::Failed)?
    };
    let op = stored.into_iter().next().ok_or_else(|| OperationError::Failed("the event was not stored".into()))?;
    changed(state, &op).await;
    crate::federation::operations::share(state, &op, std::slice::from_ref(&event)).await;
    Ok(op)
}

/// Keeps `bytes` as a document of operation `id` (named `name`, of `media_type`), writes the
/// `document` event and sends the file to every other member the event may go to.
pub async fn add_document(
    state: &AppState,
    id: &OperationId,
    by: &str,
    name: String,
    media_type: String,
    bytes: bytes::Bytes,
) -> Result<Operation, OperationError> {
    if bytes.is_empty() {
        return Err(OperationError::Invalid("the document is empty".into()));
    }
    // A picture crosses only anonymised; one that does not decode is refused before anything is kept.
    let (document, shared) =
        crate::files::shared_file(state, name, media_type, &bytes).await.map_err(OperationError::Invalid)?;
    let sha256 = document.sha256.clone();
    // Checked before the file is written: a refused name leaves nothing behind.
    let probe = OpEvent {
        operation: id.clone(),
        stamp: state.incidents.stamp(),
        exercise: false,
        by: None,
        change: OpChange::Document(document.clone()),
    };
    probe.check().map_err(OperationError::Invalid)?;
    let (_, path) = crate::files::keep(state, bytes)
        .await
        .map_err(|e| OperationError::Failed(format!("writing the document: {e}")))?;
    let what = format!("document {sha256} of operation {id}");
    let to_send = crate::files::keep_for_partners(state, shared, path, &what)
        .await
        .map_err(|e| OperationError::Failed(format!("writing the document's anonymised copy: {e}")))?;
    let op = write(state, id, by, OpChange::Document(document)).await?;
    if let (Some(fed), Some(path)) = (state.federation.get(), to_send) {
        let me = fed.link.config().agency.clone();
        let partners = fed.link.recipients(
            &limes_federation::MessageType::new(crate::federation::operations::OPERATION).expect("a valid type"),
        );
        let to = op.others(&me).into_iter().filter(|a| partners.contains(a)).collect();
        let labels = crate::federation::operations::labels(me.as_str(), fed.link.config().regime);
        crate::files::send(state, &path, to, &labels, &what);
    }
    Ok(op)
}

/// Stores what a partner wrote (checked by `federation::operations`).
pub(crate) async fn apply_partner_events(state: &AppState, events: Vec<OpEvent>) -> Result<(), String> {
    let store = state.store.clone();
    let changed_ops = blocking(move || store.add_events::<Operation>(&events, Utc::now())).await?;
    for op in &changed_ops {
        changed(state, op).await;
    }
    Ok(())
}

/// Writes the hits ingest found into their operations (each member then sees them).
pub(crate) async fn record_hits(state: &AppState, hits: Vec<NewHit>) {
    for h in hits {
        let change = OpChange::Hit {
            plate: h.plate,
            camera: h.camera.to_string(),
            time: h.time,
            position: h.position,
            kind: match h.kind {
                MatchKind::Confirmed => "confirmed".into(),
                MatchKind::Possible => "possible".into(),
            },
        };
        if let Err(e) = write(state, &h.operation, "limes", change).await {
            tracing::error!(operation = %h.operation, error = %e, "recording an operation hit");
        }
    }
}

/// After a change: the index (entries added or removed, the operation closed) and the stream.
async fn changed(state: &AppState, op: &Operation) {
    let s = state.clone();
    if let Err(e) = blocking(move || rebuild_index(&s)).await {
        tracing::error!(error = %e, "rebuilding the operations' hotlist");
    }
    if let Ok(json) = serde_json::to_string(op) {
        let live = Live { origin: op.id.origin.clone(), raised: op.from, json: json.into() };
        let _ = state.incidents.operations.send(live);
    }
}

/// Now and then: operations that started or ended since (the index), and those past their
/// retention after closing (deleted).
pub(crate) async fn housekeeping(state: &AppState) {
    let s = state.clone();
    match blocking(move || {
        let deleted = s.store.delete_expired::<Operation>(Utc::now())?;
        rebuild_index(&s)?;
        Ok(deleted)
    })
    .await
    {
        Ok(deleted) => {
            for id in deleted {
                tracing::info!(operation = %id, "the operation's retention after its close has passed: deleted");
            }
        }
        Err(e) => tracing::error!(error = %e, "operations' housekeeping; will retry"),
    }
    // The files of what was deleted go too, unless another incident or operation names them.
    let s = state.clone();
    match blocking(move || {
        let mut named = std::collections::HashSet::new();
        s.store.each_folded(|op: Operation| {
            named.extend(op.documents.iter().flat_map(|d| d.digests().map(str::to_owned)))
        })?;
        s.store.each_folded(|i: limes_cooperation::incident::Incident| {
            named.extend(i.attachments.iter().flat_map(|a| a.digests().map(str::to_owned)))
        })?;
        // Clips are kept beside them, named by the same digests.
        named.extend(s.store.clip_digests()?);
        // And the pictures the node's own analysis raised events on.
        named.extend(s.store.scene_event_frames()?);
        Ok(crate::files::sweep(&s, &named, FILE_GRACE))
    })
    .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, "removed the files no incident or operation names any more"),
        Err(e) => tracing::error!(error = %e, "sweeping the files of deleted items; will retry"),
    }
}

/// How old a file no item names must be before it is swept: an upload writes its file before
/// its event.
const FILE_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Whether the node matches reads against any operation's hotlist now.
pub(crate) fn matching(state: &AppState) -> bool {
    !read_lock(&state.operation_hotlist).is_empty()
}
