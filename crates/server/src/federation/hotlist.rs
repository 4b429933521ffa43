//! Hotlists across the border (issue #6, item 2).
//!
//! **Sharing.** Where the agreement with a partner has a flow of `hotlist-entries` from this
//! agency, the node offers the partner its own entries (never a partner's: that would be an
//! onward transfer, nor a restricted plate's, nor an expired one), plate in clear — the
//! partner matches them against its reads. Which entries the agreement allows is asked per
//! purpose (an entry's purpose follows from its reason, as an alert's does), without logging
//! ([`limes_link::Link::decide_send`]); what is offered goes through [`limes_link::Link::send`],
//! which decides again and logs the transfer. A digest of each entry as sent is kept per
//! partner (`hotlist_shared`), so a change crosses once and a removal crosses for each entry
//! the partner holds that is gone, expired or no longer allowed. The sync runs when the
//! hotlist changes (`AppState::hotlist_changed`), when an agreement is added, and every
//! [`SYNC_EVERY`]; an entry still listed is sent again when half the partner's retention has
//! passed, so the partner's retention deletes only what the owner stopped sharing.
//!
//! **Receiving.** A partner's entries are kept in the hotlist beside the node's own (with
//! their origin in `hotlist_partner`) and matched against every read. A hit on one is used
//! only while the agreement with its owner allows it (purpose, retention, dates, revocation:
//! [`may_use`]); it raises an alert here and that alert goes to the entry's owner alone,
//! naming the owner's entry — so a hit alerts both sides, and no third agency learns what
//! the owner looks for. Retention deletes a partner's entries older than its agreement's
//! retention and sends it deletion receipts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use limes_agreement::{Category, Labels, PlateForm};
use limes_federation::MessageType;
use limes_link::{Link, LinkError, Outgoing, Received};
use limes_model::{AgencyId, HotlistEntry};
use limes_plate::PlateText;
use limes_store::{DeletedPartnerAlert, PartnerEntry, PartnerHotlistChange, SharedEntry};
use serde::{Deserialize, Serialize};

use crate::{AppState, read_lock, write_lock};

/// The message type of a change to a shared hotlist entry.
pub const HOTLIST_ENTRY: &str = "hotlist-entry";
/// The stream entries travel in (one per partner, in order: an update never overtakes the
/// entry's removal).
const HOTLIST_STREAM: &str = "hotlist";
/// The sync runs at least this often (an agreement coming into force by its dates, an entry
/// expiring).
pub const SYNC_EVERY: Duration = Duration::from_secs(30);
/// The longest note an entry may carry across.
const MAX_NOTE_CHARS: usize = 500;

/// A change to a shared entry as it travels (version 1 of the `hotlist-entry` message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum HotlistChange {
    /// The entry as its owner holds it now; `entry.id` is the owner's id.
    Upsert { entry: HotlistEntry },
    /// The owner no longer shares the entry with this id.
    Remove { entry_id: u64 },
}

/// The labels of an entry shared for `purpose`.
fn labels(me: &str, purpose: &str) -> Labels {
    Labels::full(Category::HotlistEntries, me, purpose)
}

fn digest(payload: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(payload).to_vec()
}

/// Offers partners the changes to this node's own entries, now and whenever they change.
pub(super) async fn share(state: AppState, link: Link) {
    loop {
        if let Err(e) = sync(&state, &link).await {
            tracing::error!(error = %e, "sharing hotlist entries with partners; will retry");
        }
        // Either wakes: a change, or the time for the periodic check.
        let _ = tokio::time::timeout(SYNC_EVERY, state.hotlist_changed.notified()).await;
    }
}

/// One pass: for each partner the link carries entries to, what changed since the last.
pub(super) async fn sync(state: &AppState, link: &Link) -> Result<(), String> {
    let kind = MessageType::new(HOTLIST_ENTRY).expect("a valid type");
    let recipients = link.recipients(&kind);
    if recipients.is_empty() {
        return Ok(());
    }
    let me = link.config().agency.to_string();
    let regime = link.config().regime;
    let now = Utc::now();
    let store = state.store.clone();
    let all = super::blocking(move || store.hotlist()).await?;
    let own: Vec<HotlistEntry> = {
        let partners = read_lock(&state.partner_entries);
        all.into_iter()
            .filter(|e| !partners.contains_key(&e.id))
            .filter(|e| e.expires.is_none_or(|x| x > now))
            .filter(|e| !state.is_restricted(e.plate.as_str()))
            .collect()
    };
    for to in recipients {
        let Some(active) = link.agreement_with(&to) else { continue };
        let Some(flow) = active.agreement.flow(&me, to.as_str(), Category::HotlistEntries) else { continue };
        let refresh = chrono::Duration::days(i64::from((flow.retention_days / 2).max(1)));
        let partner = to.to_string();
        let store = state.store.clone();
        let held = super::blocking(move || store.hotlist_shared(&partner)).await?;
        // The agreement decides by purpose: ask once per purpose, not once per entry.
        let mut allowed: HashMap<&'static str, bool> = HashMap::new();
        let mut items = Vec::new();
        // What each item, in order, changes in `hotlist_shared` once queued.
        let mut planned: Vec<Planned> = Vec::new();
        let mut offered = HashSet::new();
        for e in &own {
            let purpose = super::share_purpose(regime, e.reason);
            let ok =
                *allowed.entry(purpose).or_insert_with(|| link.decide_send(&to, &labels(&me, purpose), now).allowed);
            if !ok {
                continue;
            }
            offered.insert(e.id);
            let payload = serde_json::to_vec(&HotlistChange::Upsert { entry: e.clone() }).map_err(|e| e.to_string())?;
            let d = digest(&payload);
            if held.get(&e.id).is_some_and(|h| h.digest == d && now - h.sent < refresh) {
                continue;
            }
            items.push(outgoing(&to, &kind, payload, labels(&me, purpose), e.id));
            planned.push(Planned::Sent(e.id, SharedEntry { digest: d, purpose: purpose.to_owned(), sent: now }));
        }
        for (id, h) in held.iter().filter(|(id, _)| !offered.contains(id)) {
            let payload = serde_json::to_vec(&HotlistChange::Remove { entry_id: *id }).map_err(|e| e.to_string())?;
            items.push(outgoing(&to, &kind, payload, labels(&me, &h.purpose), *id));
            planned.push(Planned::Removed(*id));
        }
        if items.is_empty() {
            continue;
        }
        let results = link.send(items).await.map_err(|e| e.to_string())?;
        let (mut sent, mut removed) = (Vec::new(), Vec::new());
        for (plan, result) in planned.into_iter().zip(results) {
            match result {
                Ok(_) => match plan {
                    Planned::Sent(id, shared) => sent.push((id, shared)),
                    Planned::Removed(id) => removed.push(id),
                },
                // Audited by the link; tried again at the next pass.
                Err(e @ LinkError::NotAgreed { .. }) => tracing::debug!(error = %e, "a hotlist change not shared"),
                Err(e) => tracing::warn!(partner = %to, error = %e, "a hotlist change was not queued; will retry"),
            }
        }
        if !sent.is_empty() || !removed.is_empty() {
            tracing::info!(partner = %to, entries = sent.len(), removals = removed.len(), "hotlist changes queued");
            let store = state.store.clone();
            let partner = to.to_string();
            super::blocking(move || store.record_hotlist_shared(&partner, &sent, &removed)).await?;
        }
    }
    Ok(())
}

/// One queued hotlist change, as `hotlist_shared` records it once the link took it.
enum Planned {
    Sent(u64, SharedEntry),
    Removed(u64),
}

fn outgoing(to: &AgencyId, kind: &MessageType, payload: Vec<u8>, labels: Labels, id: u64) -> Outgoing {
    Outgoing {
        partner: to.clone(),
        kind: kind.clone(),
        stream: HOTLIST_STREAM.into(),
        payload,
        about: Some(format!("hotlist:{id}")),
        labels: Some(labels),
        approved_request: false,
    }
}

/// Checks one change a partner sent: what its labels say, and an entry fit to match.
pub(super) fn check(r: &Received) -> Result<PartnerHotlistChange, String> {
    match r.labels.as_ref() {
        Some(l) if l.category == Category::HotlistEntries && l.plates == PlateForm::Clear => {}
        other => return Err(format!("a hotlist entry does not match its labels {other:?}")),
    }
    let purpose = r.labels.as_ref().map(|l| l.purpose.clone()).unwrap_or_default();
    match serde_json::from_slice::<HotlistChange>(&r.payload).map_err(|e| e.to_string())? {
        HotlistChange::Remove { entry_id } => Ok(PartnerHotlistChange::Remove { partner_id: entry_id }),
        HotlistChange::Upsert { entry } => {
            // The plate as the owner's node canonicalised it; checked again here.
            PlateText::new(entry.plate.as_str()).map_err(|e| format!("plate {:?}: {e}", entry.plate.as_str()))?;
            if !(1..=5).contains(&entry.priority) {
                return Err(format!("priority {} is not in 1..=5", entry.priority));
            }
            if entry.note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
                return Err(format!("the note is longer than {MAX_NOTE_CHARS} characters"));
            }
            Ok(PartnerHotlistChange::Upsert { entry: Box::new(entry), message: r.id.to_string(), purpose })
        }
    }
}

/// Applies partners' changes (checked) to the store, then to the index and the origins.
pub(super) async fn apply(
    state: &AppState,
    changes: BTreeMap<AgencyId, Vec<PartnerHotlistChange>>,
) -> Result<(), String> {
    for (partner, changes) in changes {
        let store = state.store.clone();
        let p = partner.to_string();
        let applied = super::blocking(move || store.apply_partner_hotlist(&p, changes, Utc::now())).await?;
        let (upserted, removed) = (applied.upserted.len(), applied.removed.len());
        {
            let mut index = write_lock(&state.hotlist);
            let mut origins = write_lock(&state.partner_entries);
            for id in &applied.removed {
                index.remove(*id);
                origins.remove(id);
            }
            for (entry, origin) in applied.upserted {
                index.remove(entry.id);
                index.insert(entry);
                origins.insert(origin.id, origin);
            }
        }
        tracing::info!(%partner, upserted, removed, "a partner's hotlist entries applied");
    }
    Ok(())
}

/// Whether a hit on the partner's entry `origin` may be used now: the agreement with its
/// owner, for the purpose it was shared for, counted from when it arrived.
pub(crate) fn may_use(state: &AppState, origin: &PartnerEntry) -> bool {
    super::may_use_now(state, &labels(&origin.partner, &origin.purpose), origin.received)
}

/// Forgets entries deleted from the store (by an operator or an erasure): out of the index
/// and the origins. Returns the partners' among them, for deletion receipts; wakes the sync
/// when some were the node's own.
pub(crate) fn forget(state: &AppState, ids: &[u64]) -> Vec<DeletedPartnerAlert> {
    let mut theirs = Vec::new();
    {
        let mut index = write_lock(&state.hotlist);
        let mut origins = write_lock(&state.partner_entries);
        for id in ids {
            index.remove(*id);
            if let Some(o) = origins.remove(id) {
                theirs.push(DeletedPartnerAlert { id: *id as i64, agency: o.partner, message: o.message });
            }
        }
    }
    if theirs.len() < ids.len() {
        state.hotlist_changed.notify_one();
    }
    theirs
}

/// Deletes the partners' entries older than their agreements' retention for hotlist entries;
/// returns what went, for the deletion receipts.
pub(crate) async fn retention(state: &AppState, now: DateTime<Utc>) -> Vec<DeletedPartnerAlert> {
    let Some(fed) = state.federation.get() else { return vec![] };
    let me = fed.link.config().agency.to_string();
    let partners: HashSet<String> = read_lock(&state.partner_entries).values().map(|o| o.partner.clone()).collect();
    let mut deleted = Vec::new();
    for partner in partners {
        let Ok(agency) = AgencyId::new(partner.as_str()) else { continue };
        // No agreement in force (revoked, expired): nothing of the partner's may be kept.
        let cutoff = fed.link.agreement_with(&agency).and_then(|a| {
            a.agreement
                .flow(&partner, &me, Category::HotlistEntries)
                .map(|flow| now - chrono::Duration::days(i64::from(flow.retention_days)))
        });
        let store = state.store.clone();
        let p = partner.clone();
        match tokio::task::spawn_blocking(move || store.delete_partner_hotlist(&p, cutoff)).await {
            Ok(Ok(d)) => deleted.extend(d),
            Ok(Err(e)) => tracing::error!(%partner, error = %e, "retention of a partner's hotlist failed; will retry"),
            Err(e) => tracing::error!(%partner, error = %e, "retention of a partner's hotlist panicked"),
        }
    }
    let ids: Vec<u64> = deleted.iter().map(|d| d.id as u64).collect();
    forget(state, &ids);
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(payload: &[u8], labels: Option<Labels>) -> Received {
        Received {
            row: 1,
            id: limes_federation::MessageId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            sender: AgencyId::new("ro-igpf").unwrap(),
            kind: HOTLIST_ENTRY.into(),
            stream: HOTLIST_STREAM.into(),
            seq: 1,
            created: Utc::now(),
            received: Utc::now(),
            payload: payload.to_vec(),
            labels,
        }
    }

    fn entry() -> serde_json::Value {
        serde_json::json!({"op": "upsert", "entry": {"id": 7, "plate": "SV10FED", "country": "RO", "reason": "stolen",
            "priority": 2, "agency": "ro-igpf", "fuzzy": false}})
    }

    #[test]
    fn a_good_entry_and_a_removal_pass() {
        let l = Some(labels("ro-igpf", "detection"));
        match check(&received(entry().to_string().as_bytes(), l.clone())).unwrap() {
            PartnerHotlistChange::Upsert { entry, message, purpose } => {
                assert_eq!((entry.id, entry.plate.as_str(), purpose.as_str()), (7, "SV10FED", "detection"));
                assert_eq!(message, "0123456789abcdef0123456789abcdef");
            }
            other => panic!("{other:?}"),
        }
        let removal = br#"{"op": "remove", "entry_id": 7}"#;
        assert!(matches!(check(&received(removal, l)).unwrap(), PartnerHotlistChange::Remove { partner_id: 7 }));
    }

    #[test]
    fn hostile_entries_are_refused_with_the_reason() {
        let l = Some(labels("ro-igpf", "detection"));
        let with = |path: &str, value: serde_json::Value| {
            let mut e = entry();
            e["entry"][path] = value;
            e.to_string().into_bytes()
        };
        let long_note = "x".repeat(MAX_NOTE_CHARS + 1);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "EOF"),
            (b"\xff\xfe".to_vec(), "expected value"),
            (b"[]".to_vec(), "missing field `op`"),
            (br#"{"op": "drop_table"}"#.to_vec(), "unknown variant"),
            (br#"{"op": "remove", "entry_id": -1}"#.to_vec(), "invalid value"),
            (br#"{"op": "remove", "entry_id": 1, "extra": true}"#.to_vec(), "unknown field"),
            (with("plate", "SV 10 FED; DROP".into()), "plate"),
            (with("plate", "".into()), "plate"),
            (with("priority", 9.into()), "priority 9"),
            (with("priority", 0.into()), "priority 0"),
            (with("reason", "revenge".into()), "unknown variant"),
            (with("agency", "RO IGPF!".into()), "agency"),
            (with("note", long_note.into()), "note is longer"),
        ];
        let mut wrong = Vec::new();
        for (payload, needle) in cases {
            match check(&received(&payload, l.clone())) {
                Err(e) if e.contains(needle) => {}
                other => wrong.push(format!("{:?} gave {other:?}, not {needle:?}", String::from_utf8_lossy(&payload))),
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        // Labels that do not say hotlist entries in clear: refused before the payload is read.
        let mut pseudonymised = labels("ro-igpf", "detection");
        pseudonymised.plates = PlateForm::Pseudonymised;
        let mut alert = labels("ro-igpf", "detection");
        alert.category = Category::Alerts;
        for l in [None, Some(pseudonymised), Some(alert)] {
            let e = check(&received(entry().to_string().as_bytes(), l)).unwrap_err();
            assert!(e.contains("does not match its labels"), "{e}");
        }
    }
}
