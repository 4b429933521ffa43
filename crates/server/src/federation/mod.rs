//! What this node shares with partner agencies over `limes-link`, and what it does with what
//! they send.
//!
//! A partner entry lists the message types the link carries to and from it (today `alert`);
//! the sharing agreement with the partner (`limes-agreement`) decides, record by record, what
//! actually crosses. An alert raised here is labelled (category `alerts`, this agency as
//! origin, the purpose its hotlist reason implies, plate in clear, no image) and offered, in
//! the order alerts are raised, to every partner whose entry lists it (never one about a
//! restricted plate); the link queues it only where the agreement allows it, and logs the
//! refusals. An alert a partner sends has passed the agreement at the partners' port; it is
//! stored with its origin, numbered with this node's alerts, and pushed on the live stream.
//! It is not passed on (webhooks and MQTT skip it): onward transfer is the partner's to allow.
//!
//! For hit/no-hit queries the node hands the link, every `[federation.hitquery]
//! publish_every_seconds`, the distinct plates of the reads in the window (restricted plates
//! left out) while some partner's agreement lets it ask; `routes/queries.rs` asks partners.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use limes_access::Regime;
use limes_agreement::{Category, Labels, PlateForm};
use limes_federation::{DeletionReason, MessageId, MessageType};
use limes_link::{Link, LinkError, Outgoing, Received, Sighting};
use limes_model::{AgencyId, CameraId, Demotion, GeoPoint, HotlistReason, MatchKind};
use limes_plate::{CountryCode, PlateText};
use limes_store::{Alert, AlertOrigin, DeletedPartnerAlert, PartnerAlert};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{AlertEvent, AppState};

pub mod bulletins;
pub mod hotlist;
pub mod incidents;
pub mod operations;
pub mod patrols;
pub mod requests;

/// The message type of an alert.
pub const ALERT: &str = "alert";
/// The stream alerts travel in (one per partner, in the order they were raised).
const ALERT_STREAM: &str = "alerts";

/// An alert as it travels to a partner (version 1 of the `alert` message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedAlert {
    /// The alert's id on the sending node.
    pub alert_id: i64,
    pub kind: MatchKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demoted: Option<Demotion>,
    pub distance: u8,
    /// The hotlisted plate, canonical.
    pub plate: String,
    /// The text as the camera read it.
    pub read_text: String,
    pub camera: CameraId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_position: Option<GeoPoint>,
    /// The country the sending node's agency is in.
    pub country: CountryCode,
    pub time: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub reason: HotlistReason,
    pub priority: u8,
    /// The agency that owns the hotlist entry.
    pub agency: AgencyId,
    /// `plate` is this node's pseudonym of the plate for the recipient, and `read_text` is
    /// empty: the agreement shares alerts with plates pseudonymised.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pseudonymised: bool,
    /// The recipient's own hotlist entry that was hit, when the entry is one the recipient
    /// shared (`hotlist`): its id on the recipient's node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_entry: Option<u64>,
    /// Raised in an exercise (`limes exercise run`): the recipient keeps the mark.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
}

/// The pseudonym of `plate` for `partner`: twelve characters of a keyed hash (A–Z, 2–7), the
/// same each time for that partner and plate, unrelated between partners, and computable only
/// with this agency's signing key — so the partner can tell sightings of one vehicle apart
/// from another's without learning the plate, and this node can find the plate again for an
/// approved request by computing the pseudonyms of its own plates.
pub fn pseudonym(secret: &[u8], partner: &str, plate: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [b"limes plate pseudonym v1".as_slice(), secret, partner.as_bytes(), plate.as_bytes()] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part);
    }
    let digest = h.finalize();
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    // 12 × 5 bits of the digest.
    let bits = u64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
    (0..12).map(|i| ALPHABET[((bits >> (59 - 5 * i)) & 31) as usize] as char).collect()
}

impl SharedAlert {
    fn from_alert(a: &Alert, position: Option<GeoPoint>, country: CountryCode) -> Self {
        Self {
            alert_id: a.id,
            kind: a.kind,
            demoted: a.demoted,
            distance: a.distance,
            plate: a.plate.as_str().to_owned(),
            read_text: a.read_text.clone(),
            camera: a.camera.clone(),
            camera_position: position,
            country,
            time: a.time,
            created: a.created,
            reason: a.reason,
            priority: a.priority,
            agency: a.agency.clone(),
            pseudonymised: false,
            owner_entry: None,
            exercise: a.exercise,
        }
    }

    /// The same alert with its plate replaced by the pseudonym for `partner`.
    fn pseudonymised(&self, secret: &[u8], partner: &str) -> Self {
        Self {
            plate: pseudonym(secret, partner, &self.plate),
            read_text: String::new(),
            pseudonymised: true,
            ..self.clone()
        }
    }

    /// Checks what a partner sent and makes it an alert to store.
    fn into_partner_alert(self, from: &Received, me: &AgencyId) -> Result<PartnerAlert, String> {
        let plate = PlateText::new(&self.plate).map_err(|e| format!("plate {:?}: {e}", self.plate))?;
        if self.read_text.chars().count() > 64 {
            return Err("read_text is longer than 64 characters".into());
        }
        if self.pseudonymised && !self.read_text.is_empty() {
            return Err("a pseudonymised alert carries no read text".into());
        }
        if self.distance > 8 || self.priority > 9 {
            return Err(format!("distance {} or priority {} out of range", self.distance, self.priority));
        }
        // A hit on an entry this node shared names the entry; only this agency's entries.
        let entry_id = match self.owner_entry {
            Some(id) if &self.agency == me => id,
            Some(id) => return Err(format!("entry {id} is named as {}'s, not this agency's", self.agency)),
            None => 0,
        };
        Ok(PartnerAlert {
            exercise: self.exercise,
            origin: AlertOrigin {
                agency: from.sender.clone(),
                country: Some(self.country),
                alert_id: self.alert_id,
                message: from.id.to_string(),
                camera_position: self.camera_position,
                pseudonymised: self.pseudonymised,
            },
            entry_id,
            kind: self.kind,
            demoted: self.demoted,
            distance: self.distance,
            plate,
            read_text: self.read_text,
            camera: self.camera,
            time: self.time,
            created: self.created,
            reason: self.reason,
            priority: self.priority,
            agency: self.agency,
        })
    }
}

/// The agreement allowed what the labels say; a payload that shows more than its labels (a
/// plate in clear labelled pseudonymised) is a sender's bug or worse, and is not used.
fn matches_labels(a: &SharedAlert, labels: Option<&Labels>) -> Result<(), String> {
    let expected = if a.pseudonymised { PlateForm::Pseudonymised } else { PlateForm::Clear };
    match labels {
        Some(l) if l.category == Category::Alerts && l.plates == expected => Ok(()),
        other => Err(format!("an alert with plates {expected:?} does not match its labels {other:?}")),
    }
}

/// The purpose an alert is shared for, from why its plate is on the hotlist: what the
/// agreement's purposes for alerts are checked against.
pub fn share_purpose(regime: Regime, reason: HotlistReason) -> &'static str {
    match (regime, reason) {
        (Regime::Gdpr, _) => "public_task",
        (Regime::Led, HotlistReason::Stolen) => "detection",
        (Regime::Led, HotlistReason::Wanted) => "prosecution",
        (Regime::Led, HotlistReason::MissingPerson) => "public_security",
        (Regime::Led, HotlistReason::Suspect) => "investigation",
        (Regime::Led, HotlistReason::Other) => "prevention",
    }
}

/// Whether a partner's alert may be shown now to someone who declared `purpose`: the
/// agreement with the agency it came from decides (its purposes for alerts, its retention,
/// counted from when the partner raised the alert). The node's own alerts are not the
/// agreement's to rule on.
pub(crate) fn may_access(
    state: &AppState,
    purpose: &str,
    origin: Option<(&str, bool)>,
    created: DateTime<Utc>,
) -> bool {
    let Some((origin, pseudonymised)) = origin else { return true };
    let plates = if pseudonymised { PlateForm::Pseudonymised } else { PlateForm::Clear };
    let labels = Labels { plates, ..Labels::full(Category::Alerts, origin, purpose) };
    may_use_now(state, &labels, created)
}

/// Whether data labelled `labels`, which arrived from `labels.origin` at `since`, may be used
/// here now: the agreement with the origin, its retention counted from `since`. Nothing
/// without a federation.
pub(crate) fn may_use_now(state: &AppState, labels: &Labels, since: DateTime<Utc>) -> bool {
    may_use_now_from(state, &labels.origin, labels, since)
}

/// The same for data `from` sent (passing on `labels.origin`'s): the agreement with `from`.
pub(crate) fn may_use_now_from(state: &AppState, from: &str, labels: &Labels, since: DateTime<Utc>) -> bool {
    let Some(fed) = state.federation.get() else { return false };
    let now = Utc::now();
    let age = u32::try_from((now - since).num_days().max(0)).unwrap_or(u32::MAX);
    fed.link.decide_access(from, labels, age, now).allowed
}

/// Why a partner's message was not applied.
#[derive(Debug)]
pub(crate) enum NotApplied {
    /// It is not valid (or its stamps are too far ahead): dropped, with a warning.
    Invalid(String),
    /// The store failed: tried again.
    Store(String),
}

/// Logs what was not applied; `false` when the message must be tried again (the store
/// failed), `true` when it is done with (applied, or dropped as invalid).
fn applied(result: Result<(), NotApplied>, r: &Received) -> bool {
    match result {
        Ok(()) => true,
        Err(NotApplied::Invalid(e)) => {
            tracing::warn!(partner = %r.sender, message = %r.id, kind = %r.kind, error = %e, "a partner's message is not valid; dropped");
            true
        }
        Err(NotApplied::Store(e)) => {
            tracing::error!(kind = %r.kind, error = %e, "storing what a partner sent; will retry");
            false
        }
    }
}

/// Sends each of `messages` (JSON) to each of `recipients` as `kind` in `stream`, labelled
/// `labels`; what the agreement refuses is logged (and audited by the link), nothing else.
pub(crate) async fn send_events<M: Serialize>(
    link: &Link,
    kind: &str,
    stream: &str,
    about: &str,
    labels: &Labels,
    recipients: &[AgencyId],
    messages: impl IntoIterator<Item = M>,
) {
    let kind = MessageType::new(kind).expect("a valid type");
    let mut items = Vec::new();
    for m in messages {
        let Ok(payload) = serde_json::to_vec(&m) else { continue };
        for to in recipients {
            items.push(Outgoing {
                partner: to.clone(),
                kind: kind.clone(),
                stream: stream.into(),
                payload: payload.clone(),
                about: Some(about.to_owned()),
                labels: Some(labels.clone()),
                approved_request: false,
            });
        }
    }
    match link.send(items).await {
        Ok(results) => {
            for e in results.into_iter().filter_map(Result::err) {
                match e {
                    LinkError::NotAgreed { .. } => {
                        tracing::warn!(%about, error = %e, "the agreement does not share this")
                    }
                    e => tracing::error!(%about, error = %e, "a message was not queued"),
                }
            }
        }
        Err(e) => tracing::error!(%about, error = %e, "messages were not queued"),
    }
}

/// Runs a store call off the reactor for a handler: a failure is an internal error.
pub(crate) async fn blocking_api<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, limes_store::StoreError> + Send + 'static,
) -> Result<T, crate::ApiError> {
    blocking(f).await.map_err(crate::ApiError::Internal)
}

/// Runs a store call off the reactor; a failure (or a panic) comes back as its text.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, limes_store::StoreError> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())
}

/// Tells each partner whose alerts were deleted here which ones: signed deletion receipts,
/// queued like any message (they reach a partner that is down once it is back).
pub(crate) async fn send_deletion_receipts(state: &AppState, deleted: &[DeletedPartnerAlert], reason: DeletionReason) {
    let Some(fed) = state.federation.get() else { return };
    let mut by_origin: std::collections::BTreeMap<&str, Vec<MessageId>> = Default::default();
    for d in deleted {
        if let Some(id) = MessageId::parse(&d.message) {
            by_origin.entry(d.agency.as_str()).or_default().push(id);
        }
    }
    for (origin, messages) in by_origin {
        let Ok(origin) = AgencyId::new(origin) else { continue };
        let n = messages.len();
        match fed.link.send_deletion_receipt(&origin, messages, reason).await {
            Ok(()) => tracing::info!(partner = %origin, messages = n, ?reason, "deletion receipt queued"),
            // A partner removed since: nobody to tell.
            Err(e) => tracing::warn!(partner = %origin, error = %e, "no deletion receipt could be queued"),
        }
    }
}

/// Alerts on their way to partners, in the order they were raised.
#[derive(Debug, Clone)]
pub struct Outbound(mpsc::Sender<Vec<Alert>>);

impl Outbound {
    /// Queues alerts for partners. Waits when the link is this far behind (backpressure on
    /// ingest, rather than memory without bound or alerts dropped).
    pub(crate) async fn share(&self, alerts: &[Alert]) {
        let own: Vec<Alert> = alerts.iter().filter(|a| a.origin.is_none()).cloned().collect();
        if !own.is_empty() && self.0.send(own).await.is_err() {
            tracing::error!("the federation forwarder stopped; alerts are not shared");
        }
    }
}

/// Starts the tasks that share this node's alerts with `link` and apply what partners send.
/// Returns the handle ingest queues alerts on.
pub fn start(state: &AppState, link: Link) -> Outbound {
    let (tx, rx) = mpsc::channel::<Vec<Alert>>(1024);
    tokio::spawn(forward(state.clone(), link.clone(), rx));
    tokio::spawn(publish_sightings(state.clone(), link.clone()));
    tokio::spawn(hotlist::share(state.clone(), link.clone()));
    tokio::spawn(patrols::share(state.clone(), link.clone()));
    crate::live_grants::serve(state, &link);
    tokio::spawn(apply(state.clone(), link));
    Outbound(tx)
}

/// Hands the link the plates seen in its hit/no-hit window now and then, while some partner's
/// agreement lets it ask about them. A restricted plate is left out: its data is shown to no
/// one, and a hit is data about it.
async fn publish_sightings(state: AppState, link: Link) {
    let every = link.config().hitquery.publish_every.max(std::time::Duration::from_secs(1));
    loop {
        if link.answers_hit_queries() {
            let now = Utc::now();
            let (from, until) = link.sighting_window(now);
            let store = state.store.clone();
            // Real sightings only: a drill's reads never answer a partner's query.
            match tokio::task::spawn_blocking(move || store.plates_seen(from, until, false)).await {
                Ok(Ok(plates)) => {
                    let sightings = plates
                        .into_iter()
                        .filter(|(plate, _)| !state.is_restricted(plate.as_str()))
                        .map(|(plate, reads)| Sighting { plate, reads })
                        .collect();
                    if let Err(e) = link.publish_sightings(sightings, now).await {
                        tracing::error!(error = %e, "publishing the hit/no-hit set; will retry");
                    }
                }
                Ok(Err(e)) => tracing::error!(error = %e, "reading the window's plates; will retry"),
                Err(_) => return,
            }
        }
        tokio::time::sleep(every).await;
    }
}

async fn forward(state: AppState, link: Link, mut rx: mpsc::Receiver<Vec<Alert>>) {
    let kind = MessageType::new(ALERT).expect("a valid type");
    let country = state.access.options.country.parse::<CountryCode>().ok();
    while let Some(mut alerts) = rx.recv().await {
        // Take what else is waiting: one transaction for many alerts.
        while alerts.len() < 1000 {
            match rx.try_recv() {
                Ok(more) => alerts.extend(more),
                Err(_) => break,
            }
        }
        let recipients = link.recipients(&kind);
        if recipients.is_empty() {
            continue;
        }
        // Per partner, whether its agreement wants plates pseudonymised.
        let me = link.config().agency.to_string();
        let recipients: Vec<(AgencyId, bool)> = recipients
            .into_iter()
            .map(|to| {
                let pseudonymise = link
                    .agreement_with(&to)
                    .and_then(|a| a.agreement.flow(&me, to.as_str(), Category::Alerts).map(|f| f.plates))
                    == Some(limes_agreement::PlateRule::Pseudonymised);
                (to, pseudonymise)
            })
            .collect();
        let secret = link.identity().key.to_private_text();
        let mut items = Vec::with_capacity(alerts.len() * recipients.len());
        {
            let cameras = crate::read_lock(&state.cameras);
            let partner_entries = crate::read_lock(&state.partner_entries);
            for a in alerts.iter().filter(|a| !state.is_restricted(a.plate.as_str())) {
                let camera = cameras.get(&a.camera);
                let position = camera.and_then(|c| c.position);
                let Some(country) = camera.map(|c| c.country).or(country) else { continue };
                // A hit on a partner's entry goes to that partner alone (no other agency
                // learns what it looks for), naming its entry; an entry removed meanwhile is
                // known by the agency the alert names.
                let owner: Option<(&str, Option<u64>)> = match partner_entries.get(&a.entry_id) {
                    Some(o) => Some((o.partner.as_str(), Some(o.partner_id))),
                    None if a.agency.as_str() != me && recipients.iter().any(|(to, _)| to == &a.agency) => {
                        Some((a.agency.as_str(), None))
                    }
                    None => None,
                };
                let mut shared = SharedAlert::from_alert(a, position, country);
                shared.owner_entry = owner.and_then(|(_, id)| id);
                let Ok(clear) = serde_json::to_vec(&shared) else { continue };
                let labels = Labels::full(Category::Alerts, me.as_str(), share_purpose(link.config().regime, a.reason));
                for (to, pseudonymise) in &recipients {
                    if owner.is_some_and(|(partner, _)| partner != to.as_str()) {
                        continue;
                    }
                    let (payload, plates) = if *pseudonymise {
                        let p = shared.pseudonymised(secret.as_bytes(), to.as_str());
                        (serde_json::to_vec(&p).unwrap_or_default(), PlateForm::Pseudonymised)
                    } else {
                        (clear.clone(), PlateForm::Clear)
                    };
                    items.push(Outgoing {
                        partner: to.clone(),
                        kind: kind.clone(),
                        stream: ALERT_STREAM.into(),
                        payload,
                        about: Some(format!("alert:{}", a.id)),
                        labels: Some(Labels { plates, ..labels.clone() }),
                        approved_request: false,
                    });
                }
            }
        }
        match link.send(items).await {
            Ok(results) => {
                for e in results.into_iter().filter_map(Result::err) {
                    match e {
                        // Audited by the link; the agreement decides, nothing failed.
                        LinkError::NotAgreed { .. } => {
                            tracing::debug!(error = %e, "an alert the agreement does not share")
                        }
                        e => tracing::error!(error = %e, "an alert was not queued for a partner"),
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "alerts were not queued for partners"),
        }
    }
}

/// Applies what partners sent, once each: store, then push on the live stream, then mark.
async fn apply(state: AppState, link: Link) {
    loop {
        let received = match link.received(500).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "reading the federation inbox");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut alerts = Vec::new();
        let mut entries: std::collections::BTreeMap<AgencyId, Vec<_>> = Default::default();
        let mut retry = false;
        for r in &received {
            match r.kind.as_str() {
                ALERT => match serde_json::from_slice::<SharedAlert>(&r.payload)
                    .map_err(|e| e.to_string())
                    .and_then(|a| matches_labels(&a, r.labels.as_ref()).map(|()| a))
                    .and_then(|a| a.into_partner_alert(r, &link.config().agency))
                {
                    Ok(a) => alerts.push(a),
                    Err(e) => {
                        tracing::warn!(partner = %r.sender, message = %r.id, error = %e, "a partner's alert is not valid; dropped")
                    }
                },
                requests::DATA_REQUEST | requests::REQUEST_DECISION | requests::RELEASED => {
                    let result = match r.kind.as_str() {
                        requests::DATA_REQUEST => requests::received_request(&state, r).await,
                        requests::REQUEST_DECISION => requests::received_decision(&state, r).await,
                        _ => requests::received_release(&state, r).await,
                    };
                    if let Err(e) = result {
                        tracing::warn!(partner = %r.sender, message = %r.id, kind = %r.kind, error = %e, "a request message was not applied; dropped")
                    }
                }
                bulletins::BULLETIN | bulletins::RECEIPT => {
                    let result = if r.kind == bulletins::BULLETIN {
                        bulletins::received(&state, r).await
                    } else {
                        bulletins::received_receipt(&state, r).await
                    };
                    if let Err(e) = result {
                        tracing::warn!(partner = %r.sender, message = %r.id, kind = %r.kind, error = %e, "a bulletin message was not applied; dropped")
                    }
                }
                operations::OPERATION => {
                    if !applied(operations::received(&state, r).await, r) {
                        retry = true;
                        break;
                    }
                }
                incidents::INCIDENT => {
                    if !applied(incidents::received(&state, r).await, r) {
                        retry = true;
                        break;
                    }
                }
                patrols::PATROL => {
                    if !applied(patrols::received(&state, r).await, r) {
                        retry = true;
                        break;
                    }
                }
                crate::clips::CLIP => {
                    if !applied(crate::clips::received(&state, r).await, r) {
                        retry = true;
                        break;
                    }
                }
                crate::live_grants::LIVE_GRANT => {
                    if !applied(crate::live_grants::received(&state, r).await, r) {
                        retry = true;
                        break;
                    }
                }
                hotlist::HOTLIST_ENTRY => match hotlist::check(r) {
                    Ok(change) => entries.entry(r.sender.clone()).or_default().push(change),
                    Err(e) => {
                        tracing::warn!(partner = %r.sender, message = %r.id, error = %e, "a partner's hotlist entry is not valid; dropped")
                    }
                },
                other => {
                    tracing::warn!(partner = %r.sender, message = %r.id, kind = other, "no handler for this message type; dropped")
                }
            }
        }
        if retry {
            // Whatever was applied before the failure is applied again: every store keeps
            // one row per message or per event.
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        if !entries.is_empty()
            && let Err(e) = hotlist::apply(&state, entries).await
        {
            tracing::error!(error = %e, "storing partners' hotlist entries; will retry");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        }
        if !alerts.is_empty() {
            match state.store.write_partner_alerts(alerts).await {
                Ok(stored) => publish(&state, &stored),
                Err(e) => {
                    tracing::error!(error = %e, "storing partners' alerts; will retry");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        if let Err(e) = link.applied(&received).await {
            // Applied again after a restart: the store keeps one alert per message.
            tracing::error!(error = %e, "marking received messages applied");
        }
    }
}

fn publish(state: &AppState, stored: &[Alert]) {
    for a in stored {
        state.stats.partner_alerts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(json) = serde_json::to_string(a) {
            let origin: Option<(Arc<str>, bool)> =
                a.origin.as_ref().map(|o| (o.agency.as_str().into(), o.pseudonymised));
            let _ =
                state.alerts.send(AlertEvent { id: a.id, plate: a.plate.as_str().into(), json: json.into(), origin });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pseudonym;

    #[test]
    fn pseudonyms_are_stable_per_partner_and_unrelated_between_partners() {
        let secret = b"an agency's signing key, as text";
        let p = pseudonym(secret, "rs-mup", "B123ABC");
        assert_eq!(p, pseudonym(secret, "rs-mup", "B123ABC"), "the same plate, the same pseudonym");
        assert_eq!(p.len(), 12);
        assert!(p.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "{p}");
        assert_ne!(p, pseudonym(secret, "ua-dpsu", "B123ABC"), "another partner, another pseudonym");
        assert_ne!(p, pseudonym(secret, "rs-mup", "B123ABD"), "another plate, another pseudonym");
        assert_ne!(p, pseudonym(b"another agency's key", "rs-mup", "B123ABC"), "only the key's holder computes it");
        // Length-prefixed parts: moving a character between fields changes the pseudonym.
        assert_ne!(pseudonym(secret, "rs-mupB", "123ABC"), p);
    }
}
