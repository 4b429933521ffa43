//! Live video across the border (issue #9): a supervisor lets one partner agency watch one of
//! this node's recorded cameras, live, until a time, during an incident both agencies know of.
//!
//! - [`grant`] checks the grant (the partner is one, receives `live-grant`, and the agreement
//!   shares live video with it for the incident's purpose; the camera is recorded here; the
//!   incident is open and involves the partner), keeps it and tells the partner's node with a
//!   signed `live-grant` message. [`revoke`] withdraws it and tells the partner again.
//! - [`Relay`] is the node's `limes_link::LiveSource`: when the partner's node asks for the
//!   camera over mutual TLS, it streams the camera's live MP4 while the grant is in force, and
//!   ends the stream at the grant's end, at its revocation or when its incident closes. The link
//!   audits each view with the partner's viewer; the partner's node audits its own person's.
//! - [`watch`] is the partner's side: its person's view, relayed from the camera's node.
//!
//! A grant is shown anonymised (`ImageForm::Blurred`) unless a supervisor who may unblur
//! (`clips.unblur`) grants it in clear for a declared case, where the agreement shares live
//! video in clear. The anonymised view is the camera's pictures with faces and plate-shaped
//! texts blurred (`routes::watch::live_anonymised`); if the anonymiser cannot run, nothing is
//! relayed.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use limes_agreement::{Category, ImageForm, Labels, PlateForm};
use limes_cooperation::SharedId;
use limes_cooperation::incident::Status;
use limes_link::live::{LiveAnswer, LiveRefusal, LiveSource, LiveVideo, VideoBytes};
use limes_model::live::{LiveGrant, MAX_GRANT};
use limes_model::{AgencyId, CameraId};
use tokio::sync::broadcast;

use crate::{ApiError, AppState};

/// The message type that carries a grant (and, sent again, its revocation) to its partner.
pub const LIVE_GRANT: &str = "live-grant";
/// Grants travel in one stream per partner, in the order they were made or changed.
const STREAM: &str = "live-grants";
/// How often a relayed stream checks that its incident is still open.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Grants changed here (made, revoked, received): each relayed stream looks at its own again.
#[derive(Debug)]
pub struct Changes(broadcast::Sender<String>);

impl Default for Changes {
    fn default() -> Self {
        Self(broadcast::channel(256).0)
    }
}

impl Changes {
    pub(crate) fn changed(&self, id: &str) {
        let _ = self.0.send(id.to_owned());
    }
}

/// What a grant is, for the sharing agreement: live video, anonymised or (`clear`) as the camera
/// sends it.
pub(crate) fn labels(origin: &str, purpose: &str, clear: bool) -> Labels {
    let images = if clear { ImageForm::Clear } else { ImageForm::Blurred };
    Labels { plates: PlateForm::None, images, ..Labels::full(Category::LiveVideo, origin, purpose) }
}

/// A grant asked for: the partner, the camera, the incident and how long.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    pub partner: AgencyId,
    pub camera: CameraId,
    pub incident: SharedId,
    /// How long it runs, from now: 1 second to 12 hours.
    pub seconds: u32,
    /// Shown in clear rather than anonymised (a supervisor who may unblur, for a case).
    #[serde(default)]
    pub clear: bool,
}

fn federation(state: &AppState) -> Result<&crate::Federation, ApiError> {
    state.federation.get().ok_or_else(|| ApiError::Unprocessable("this node has no partners (no [federation])".into()))
}

/// Whether `incident` is one this node knows, still open, and involves `partner`.
async fn incident_open_with(state: &AppState, incident: &SharedId, partner: &AgencyId) -> Result<(), String> {
    let store_ = state.store.clone();
    let id = incident.clone();
    let found = crate::federation::blocking(move || store_.incident(&id)).await?;
    let Some((i, _)) = found else { return Err(format!("no incident {incident} on this node")) };
    if i.status == Status::Closed {
        return Err(format!("incident {incident} is closed"));
    }
    if i.id.origin != *partner && !i.notified.contains_key(partner) {
        return Err(format!("incident {incident} does not involve {partner}"));
    }
    Ok(())
}

/// Makes a grant (a supervisor's act, authorised by the caller) and tells the partner.
pub async fn grant(state: &AppState, by: &str, new: NewGrant, now: DateTime<Utc>) -> Result<LiveGrant, ApiError> {
    let fed = federation(state)?;
    let link = &fed.link;
    let me = link.config().agency.clone();
    if !link.partners().iter().any(|p| p.agency == new.partner && p.revoked.is_none()) {
        return Err(ApiError::Unprocessable(format!("{} is not a partner of this node", new.partner)));
    }
    let kind = limes_federation::MessageType::new(LIVE_GRANT).expect("a valid type");
    if !link.recipients(&kind).contains(&new.partner) {
        return Err(ApiError::Unprocessable(format!(
            "the partner entry of {} does not send it {LIVE_GRANT} messages (limes partners add … --send {LIVE_GRANT})",
            new.partner
        )));
    }
    if state.video.feed(&new.camera).is_none() {
        return Err(ApiError::NotFound(format!("camera {} is not recorded by this node", new.camera)));
    }
    incident_open_with(state, &new.incident, &new.partner).await.map_err(ApiError::Unprocessable)?;
    let seconds = i64::from(new.seconds);
    if seconds < 1 || TimeDelta::seconds(seconds) > MAX_GRANT {
        return Err(ApiError::Unprocessable(format!(
            "seconds: a grant runs 1 second to {} hours",
            MAX_GRANT.num_hours()
        )));
    }
    let purpose = crate::federation::incidents::share_purpose(link.config().regime);
    let decision = link.decide_send(&new.partner, &labels(me.as_str(), purpose, new.clear), now);
    if !decision.allowed {
        let form = if new.clear { "in clear" } else { "anonymised" };
        return Err(ApiError::Forbidden(format!(
            "the agreement with {} does not share live video {form}: {}",
            new.partner, decision.reason
        )));
    }
    let camera_name = crate::read_lock(&state.cameras).get(&new.camera).and_then(|c| c.name.clone());
    let grant = LiveGrant {
        // Numbered by the store when it is kept.
        id: format!("{me}/1"),
        origin: me,
        partner: new.partner,
        camera: new.camera,
        camera_name,
        incident: new.incident.to_string(),
        purpose: purpose.to_owned(),
        granted_by: by.to_owned(),
        granted: now,
        until: now + TimeDelta::seconds(seconds),
        clear: new.clear,
        revoked: None,
    };
    grant.check().map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let store_ = state.store.clone();
    let kept = crate::federation::blocking_api(move || store_.add_live_grant(&grant)).await?;
    state.live_grants.changed(&kept.id);
    if let Err(e) = tell(link, &kept).await {
        // The partner cannot learn of it: it is withdrawn at once rather than left half made.
        let (store_, id) = (state.store.clone(), kept.id.clone());
        let _ =
            crate::federation::blocking_api(move || store_.revoke_live_grant(&id, "limes: not delivered", now)).await;
        state.live_grants.changed(&kept.id);
        return Err(ApiError::Unavailable(format!("the grant could not be sent to {}: {e}", kept.partner)));
    }
    Ok(kept)
}

/// Revokes one of this node's grants now and tells the partner; the grant as kept.
pub async fn revoke(state: &AppState, id: &str, by: &str, now: DateTime<Utc>) -> Result<LiveGrant, ApiError> {
    let fed = federation(state)?;
    let me = fed.link.config().agency.clone();
    let (store_, id_) = (state.store.clone(), id.to_owned());
    let found = crate::federation::blocking_api(move || store_.live_grant(&id_)).await?;
    let Some(found) = found else { return Err(ApiError::NotFound(format!("no grant {id}"))) };
    if found.origin != me {
        return Err(ApiError::Unprocessable(format!(
            "grant {id} is {}'s: only the camera's agency revokes it",
            found.origin
        )));
    }
    let (store_, id_, by_) = (state.store.clone(), id.to_owned(), by.to_owned());
    let kept = crate::federation::blocking_api(move || store_.revoke_live_grant(&id_, &by_, now))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no grant {id}")))?;
    state.live_grants.changed(&kept.id);
    if let Err(e) = tell(&fed.link, &kept).await {
        // Revoked here all the same: this node relays nothing under it any more.
        tracing::warn!(grant = %kept.id, error = %e, "the revocation was not queued for the partner");
    }
    Ok(kept)
}

/// Queues the grant, as it is now, for its partner.
async fn tell(link: &limes_link::Link, grant: &LiveGrant) -> Result<(), limes_link::LinkError> {
    let item = limes_link::Outgoing {
        partner: grant.partner.clone(),
        kind: limes_federation::MessageType::new(LIVE_GRANT).expect("a valid type"),
        stream: STREAM.into(),
        payload: serde_json::to_vec(grant).expect("a grant serialises"),
        about: Some(format!("live-grant:{}", grant.id)),
        labels: Some(labels(grant.origin.as_str(), &grant.purpose, grant.clear)),
        approved_request: false,
    };
    link.send(vec![item]).await?.into_iter().next().unwrap_or(Err(limes_link::LinkError::Stopped)).map(|_| ())
}

/// Checks a grant a partner sent and keeps it (a later copy only narrows it).
pub(crate) async fn received(state: &AppState, r: &limes_link::Received) -> Result<(), crate::federation::NotApplied> {
    use crate::federation::NotApplied;
    match r.labels.as_ref() {
        Some(l) if l.category == Category::LiveVideo && l.origin == r.sender.as_str() => {}
        other => return Err(NotApplied::Invalid(format!("a live grant labelled {other:?}"))),
    }
    let g: LiveGrant = serde_json::from_slice(&r.payload).map_err(|e| NotApplied::Invalid(e.to_string()))?;
    g.check().map_err(|e| NotApplied::Invalid(e.to_string()))?;
    let me = state.federation.get().map(|f| f.link.config().agency.clone());
    if g.origin != r.sender || Some(&g.partner) != me.as_ref() {
        return Err(NotApplied::Invalid(format!(
            "{} sent grant {} of {} to {}: a grant comes from its camera's agency to this one",
            r.sender, g.id, g.origin, g.partner
        )));
    }
    let store_ = state.store.clone();
    let kept = crate::federation::blocking(move || store_.keep_live_grant(&g)).await.map_err(NotApplied::Store)?;
    state.live_grants.changed(&kept.id);
    Ok(())
}

/// Ends `body` when the grant ends: its time, its revocation, its incident's close, or the
/// agreement no longer sharing live video (checked every [`CHECK_EVERY`] and whenever a grant
/// changes here). `still` says whether the grant, read again, is still in force.
fn until_ended<F, Fut>(body: VideoBytes, grant: &LiveGrant, changes: &Changes, still: F) -> VideoBytes
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let ends = grant.ends();
    let id = grant.id.clone();
    let mut rx = changes.0.subscribe();
    let ended = async move {
        let left = (ends - Utc::now()).to_std().unwrap_or_default();
        let deadline = tokio::time::sleep(left);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.tick().await;
        loop {
            tokio::select! {
                () = &mut deadline => break,
                _ = tick.tick() => if !still().await { break },
                changed = rx.recv() => match changed {
                    Ok(c) if c != id => {}
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => if !still().await { break },
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
    };
    Box::pin(body.take_until(Box::pin(ended)))
}

/// The node's answer to partners' live views.
#[derive(Debug, Clone)]
pub struct Relay(pub AppState);

impl Relay {
    async fn in_force(state: &AppState, partner: &AgencyId, camera: &CameraId) -> Result<LiveGrant, String> {
        let fed = state.federation.get().ok_or("no federation")?;
        let me = fed.link.config().agency.clone();
        let now = Utc::now();
        let (store_, p, c) = (state.store.clone(), partner.clone(), camera.clone());
        let found =
            crate::federation::blocking(move || store_.live_grant_in_force(me.as_str(), p.as_str(), c.as_str(), now))
                .await?;
        let grant = found.ok_or_else(|| format!("no grant in force lets {partner} watch camera {camera}"))?;
        let incident: SharedId = grant.incident.parse()?;
        incident_open_with(state, &incident, partner).await?;
        let d = fed.link.decide_send(partner, &labels(grant.origin.as_str(), &grant.purpose, grant.clear), now);
        if !d.allowed {
            return Err(format!("the agreement does not share live video with {partner}: {}", d.reason));
        }
        Ok(grant)
    }
}

impl LiveSource for Relay {
    fn open(&self, partner: AgencyId, camera: String, viewer: String) -> LiveAnswer {
        let state = self.0.clone();
        Box::pin(async move {
            let camera = CameraId::new(camera).map_err(|e| LiveRefusal::NotGranted(e.to_string()))?;
            let grant = Relay::in_force(&state, &partner, &camera).await.map_err(LiveRefusal::NotGranted)?;
            let video = if grant.clear {
                crate::routes::watch::live_video(&state, &camera).await
            } else {
                crate::routes::watch::live_anonymised(&state, &camera).await
            };
            let video = video.map_err(|e| match e {
                ApiError::NotFound(e) => LiveRefusal::NotGranted(e),
                e => LiveRefusal::Unavailable(e.to_string()),
            })?;
            let clear = grant.clear;
            tracing::info!(grant = %grant.id, %partner, %viewer, %camera, clear, "relaying live video to a partner");
            let still = {
                let (state, partner, camera, id) = (state.clone(), partner.clone(), camera.clone(), grant.id.clone());
                move || {
                    let (state, partner, camera, id) = (state.clone(), partner.clone(), camera.clone(), id.clone());
                    async move { Relay::in_force(&state, &partner, &camera).await.is_ok_and(|g| g.id == id) }
                }
            };
            let body = until_ended(video.body, &grant, &state.live_grants, still);
            Ok(LiveVideo {
                content_type: format!("video/mp4; codecs=\"{}\"", video.codecs),
                start: Some(video.start.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
                grant: grant.id,
                body,
            })
        })
    }
}

/// The partner's side: its person watches a camera a partner granted this agency, relayed
/// from the camera's node over mutual TLS. The stream ends at the grant's end here too.
pub async fn watch(state: &AppState, id: &str, viewer: &str) -> Result<LiveVideo, ApiError> {
    let fed = federation(state)?;
    let me = fed.link.config().agency.clone();
    let (store_, id_) = (state.store.clone(), id.to_owned());
    let grant = crate::federation::blocking_api(move || store_.live_grant(&id_))
        .await?
        .filter(|g| g.partner == me)
        .ok_or_else(|| ApiError::NotFound(format!("no grant {id} to this agency")))?;
    let now = Utc::now();
    grant.in_force(now).map_err(|e| ApiError::Forbidden(format!("grant {id}: {e}")))?;
    let d = fed.link.decide_access(
        grant.origin.as_str(),
        &labels(grant.origin.as_str(), &grant.purpose, grant.clear),
        0,
        now,
    );
    if !d.allowed {
        return Err(ApiError::Forbidden(format!(
            "the agreement with {} does not allow it: {}",
            grant.origin, d.reason
        )));
    }
    let video = fed.link.watch_live(&grant.origin, grant.camera.as_str(), viewer).await.map_err(|e| match e {
        limes_link::LinkError::PartnerRefused { status: 403, error, partner, .. } => {
            ApiError::Forbidden(format!("{partner} refused: {error}"))
        }
        e => ApiError::Unavailable(e.to_string()),
    })?;
    let still = {
        let (state, id) = (state.clone(), grant.id.clone());
        move || {
            let (state, id) = (state.clone(), id.clone());
            async move {
                let store_ = state.store.clone();
                crate::federation::blocking(move || store_.live_grant(&id))
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|g| g.in_force(Utc::now()).is_ok())
            }
        }
    };
    let body = until_ended(video.body, &grant, &state.live_grants, still);
    Ok(LiveVideo { body, ..video })
}

/// Starts answering partners' live views with this node's grants.
pub(crate) fn serve(state: &AppState, link: &limes_link::Link) {
    link.serve_live(Arc::new(Relay(state.clone())));
}
