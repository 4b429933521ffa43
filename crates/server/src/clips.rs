//! Clips (issues #9 and #11): cut from a camera's recording and signed with the agency's key,
//! kept by their SHA-256, and sent to partners under the agreements' `images` category,
//! anonymised unless a supervisor approved a request for them in clear.
//!
//! - [`export`]: `limes_recorder::clip::cut` over the store's index, the manifest signed
//!   (`limes_federation::clip`, the format `limes clip verify` checks), the MP4 kept durably
//!   (`files::keep`), the row in `clips`.
//! - [`send`] and [`deliver`]: one of this node's clips to a partner, where the agreement shares
//!   `images` with it for the caller's purpose, as a `clip` message carrying the signed manifest,
//!   and the MP4 over the link's resumable blob transfer. What goes is the clip's [`anonymised`]
//!   copy (faces and plates blurred, signed as a clip that names the one it was made from),
//!   except on an approved request where the agreement shares images in clear.
//! - [`received`]: a partner's `clip` message, kept when its manifest is the sender's, signed by
//!   the key the link holds for it; [`file`] checks the MP4 against that manifest each time it is
//!   served, so a partner's clip is shown only as its agency signed it.
//!
//! A partner's clip is never passed on: only clips this node cut are sent.

use chrono::{DateTime, Utc};
use limes_agreement::{Category, ImageForm, Labels, PlateForm};
use limes_federation::clip::{Anonymisation, BLURRED_FACES_AND_PLATES, ClipFacts, ClipManifest, key_fingerprint};
use limes_federation::{AgencyKey, MessageType};
use limes_model::{AgencyId, CameraId};
use limes_recorder::clip::{ClipError, ClipLimits};
use limes_store::{ClipSend, StoredClip};

use crate::{ApiError, AppState};

/// The message type of a clip sent to a partner.
pub const CLIP: &str = "clip";
/// Clips travel in one stream per partner.
const STREAM: &str = "clips";

/// What a clip is, for the agreement: images in clear (the recording as the camera made it) or
/// blurred (its anonymised copy).
pub(crate) fn labels(origin: &str, purpose: &str, images: ImageForm) -> Labels {
    Labels { plates: PlateForm::None, images, ..Labels::full(Category::Images, origin, purpose) }
}

/// Runs `f` with the agency's signing key: the link's, or the one `limes init` made beside the
/// store for a node without partners.
fn with_key<T>(state: &AppState, f: impl FnOnce(&AgencyKey) -> T) -> Result<T, ApiError> {
    if let Some(fed) = state.federation.get() {
        return Ok(f(&fed.link.identity().key));
    }
    let file = state.store.dir().join("federation").join("identity").join("agency.key");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        ApiError::Unprocessable(format!("signing a clip needs the agency's key ({}): {e}", file.display()))
    })?;
    let key =
        AgencyKey::parse_private_text(&text).map_err(|e| ApiError::Internal(format!("{}: {e}", file.display())))?;
    Ok(f(&key))
}

/// `camera`'s recording from the key frame at or before `from` to `to`, as one MP4 (not kept):
/// what a clip is cut from and what the node's own analysis decodes. A span that is empty or too
/// long is 400, one with nothing recorded 404, one the camera's parameters change in or too
/// large 422.
pub(crate) async fn cut(
    state: &AppState,
    camera: &CameraId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<limes_recorder::clip::Clip, ApiError> {
    let (store, cam) = (state.store.clone(), camera.clone());
    tokio::task::spawn_blocking(move || {
        limes_recorder::clip::cut(&store, &store.recordings_dir(), &cam, from, to, &ClipLimits::default())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| match e {
        ClipError::Empty { .. } | ClipError::TooLong { .. } => ApiError::BadRequest(e.to_string()),
        ClipError::NothingRecorded { .. } => ApiError::NotFound(e.to_string()),
        ClipError::ParametersChange { .. } | ClipError::TooLarge { .. } => ApiError::Unprocessable(e.to_string()),
        e => ApiError::Internal(e.to_string()),
    })
}

/// Cuts `camera` from `from` to `to` (the clip starts at the key frame at or before `from`),
/// signs it as `by` and keeps it.
pub async fn export(
    state: &AppState,
    camera: CameraId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    by: &str,
) -> Result<(StoredClip, ClipManifest), ApiError> {
    let agency = AgencyId::new(state.access.options.agency.clone()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let clip = cut(state, &camera, from, to).await?;
    let now = Utc::now();
    let facts = ClipFacts {
        camera: camera.clone(),
        agency: agency.clone(),
        from,
        to,
        first_frame: clip.first_frame,
        last_frame: clip.last_frame,
        codec: clip.parameters.rfc6381.clone(),
        frames: clip.frames,
        exported_at: now,
        exported_by: by.to_owned(),
        anonymised: None,
    };
    let manifest = with_key(state, |key| ClipManifest::sign(facts, &clip.mp4, key))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let bytes = clip.mp4.len() as u64;
    let (sha256, _) = crate::files::keep(state, clip.mp4.into())
        .await
        .map_err(|e| ApiError::Internal(format!("keeping the clip: {e}")))?;
    let row = StoredClip {
        sha256,
        origin: agency.to_string(),
        camera: camera.to_string(),
        from,
        to,
        bytes,
        made: now,
        made_by: by.to_owned(),
        received_from: None,
        received: None,
        message: None,
        purpose: None,
        manifest: manifest.to_json(),
        anonymised_from: None,
    };
    let (store, kept) = (state.store.clone(), row.clone());
    if !crate::federation::blocking_api(move || store.put_clip(&kept)).await? {
        // The same bytes were cut before (the same span of the same recording): that clip stays.
        let (store, sha) = (state.store.clone(), row.sha256.clone());
        let old = crate::federation::blocking_api(move || store.clip(&sha))
            .await?
            .ok_or_else(|| ApiError::Internal("clip vanished".into()))?;
        let manifest = ClipManifest::parse(old.manifest.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok((old, manifest));
    }
    Ok((row, manifest))
}

/// Sends this node's clip `sha256` to `partner` for `purpose`: its anonymised copy, since no
/// request asked for it.
pub async fn send(
    state: &AppState,
    sha256: &str,
    partner: &AgencyId,
    purpose: &str,
    by: &str,
) -> Result<Delivered, ApiError> {
    let (store, sha) = (state.store.clone(), sha256.to_owned());
    let clip = crate::federation::blocking_api(move || store.clip(&sha))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no clip {sha256}")))?;
    deliver(state, &clip, partner, purpose, None, by).await
}

/// What went to a partner: the sending, and the clip that went (the one asked for, or its
/// anonymised copy).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivered {
    #[serde(flatten)]
    pub send: ClipSend,
    /// The digest of the clip that went.
    pub clip: String,
    /// Whether it went as an anonymised copy (faces and plates blurred).
    pub anonymised: bool,
}

/// Sends this node's `clip` to `partner` for `purpose` (on an approved `request`, labelled with
/// it), and records where it went.
///
/// Footage crosses anonymised by default: faces and plates blurred in every frame, as a copy
/// signed as a clip of its own that names the clip it was made from (`anonymised`). It crosses as
/// recorded only on a request a supervisor approved, where the agreement shares images in clear.
/// The agreement is asked before anything is blurred; if the anonymiser fails, nothing is sent.
pub(crate) async fn deliver(
    state: &AppState,
    clip: &StoredClip,
    partner: &AgencyId,
    purpose: &str,
    request: Option<&str>,
    by: &str,
) -> Result<Delivered, ApiError> {
    let fed = state.federation.get().ok_or_else(|| ApiError::Unprocessable("this node has no partners".into()))?;
    let link = &fed.link;
    let me = link.config().agency.clone();
    if clip.origin != me.as_str() {
        return Err(ApiError::Unprocessable(format!(
            "clip {} is {}'s: a partner's clip is not passed on",
            clip.sha256, clip.origin
        )));
    }
    let kind = MessageType::new(CLIP).expect("a valid type");
    if !link.recipients(&kind).contains(partner) {
        return Err(ApiError::Unprocessable(format!(
            "{partner} is not a partner whose entry sends it {CLIP} messages"
        )));
    }
    let now = Utc::now();
    let labelled = |images| Labels { request: request.map(str::to_owned), ..labels(me.as_str(), purpose, images) };
    // In clear only on an approved request the agreement lets images cross in clear for; a copy
    // made before is never sent in clear.
    let clear = request.is_some()
        && clip.anonymised_from.is_none()
        && link.decide_send(partner, &labelled(ImageForm::Clear), now).allowed;
    let labels = labelled(if clear { ImageForm::Clear } else { ImageForm::Blurred });
    let d = link.decide_send(partner, &labels, now);
    if !d.allowed {
        return Err(ApiError::Forbidden(format!(
            "the agreement with {partner} does not share this clip: {}",
            d.reason
        )));
    }
    let going = if clear { clip.clone() } else { anonymised(state, clip, by).await?.0 };
    let sha256 = going.sha256.as_str();
    let path = crate::files::path(state, sha256)
        .ok_or_else(|| ApiError::Internal(format!("the file of clip {sha256} is missing")))?;
    // The file first, in the background (resumed after each break); the message names it, and
    // the partner serves the clip once both are there.
    crate::files::send(state, &path, vec![partner.clone()], &labels, &format!("clip:{sha256}"));
    let item = limes_link::Outgoing {
        partner: partner.clone(),
        kind,
        stream: STREAM.into(),
        payload: going.manifest.clone().into_bytes(),
        about: Some(format!("clip:{sha256}")),
        approved_request: labels.request.is_some(),
        labels: Some(labels),
    };
    link.send(vec![item])
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .into_iter()
        .next()
        .unwrap_or(Err(limes_link::LinkError::Stopped))
        .map_err(|e| match e {
            limes_link::LinkError::NotAgreed { reason, .. } => ApiError::Forbidden(reason),
            e => ApiError::Unavailable(e.to_string()),
        })?;
    let send =
        ClipSend { partner: partner.to_string(), sent: now, sent_by: by.to_owned(), purpose: purpose.to_owned() };
    // Noted on the clip asked for and, when its copy went, on the copy.
    let (store, kept) = (state.store.clone(), send.clone());
    let noted: Vec<String> = [clip.sha256.clone(), going.sha256.clone()]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    crate::federation::blocking_api(move || noted.iter().try_for_each(|sha| store.add_clip_send(sha, &kept))).await?;
    Ok(Delivered { send, clip: going.sha256.clone(), anonymised: going.anonymised_from.is_some() })
}

/// The anonymised copy of this node's `clip`: faces and plate-shaped texts blurred in every
/// frame (`analysis::Hub::anonymise`), signed as a clip of its own whose manifest says what was
/// blurred and names `clip`, kept beside it. Made at the first sharing and reused after; `true`
/// with the copy when this call made it. The anonymiser's failure is an error (503): footage is
/// never sent unblurred for want of it.
pub(crate) async fn anonymised(state: &AppState, clip: &StoredClip, by: &str) -> Result<(StoredClip, bool), ApiError> {
    if clip.anonymised_from.is_some() {
        return Ok((clip.clone(), false));
    }
    let (store, sha) = (state.store.clone(), clip.sha256.clone());
    if let Some(copy) = crate::federation::blocking_api(move || store.anonymised_copy(&sha)).await? {
        return Ok((copy, false));
    }
    let source = crate::files::path(state, &clip.sha256)
        .ok_or_else(|| ApiError::Internal(format!("the file of clip {} is missing", clip.sha256)))?;
    let work = tempfile::tempdir_in(state.store.dir())
        .map_err(|e| ApiError::Internal(format!("a folder to anonymise the clip in: {e}")))?;
    let output = work.path().join("anonymised.mp4");
    let (hub, out) = (state.analysis.clone(), output.clone());
    let started = std::time::Instant::now();
    let report = tokio::task::spawn_blocking(move || hub.anonymise(&source, &out))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(format!("{e}; nothing was sent")))?;
    let mp4 = tokio::fs::read(&output).await.map_err(|e| ApiError::Internal(format!("the anonymised clip: {e}")))?;
    let source_manifest =
        ClipManifest::parse(clip.manifest.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = Utc::now();
    let facts = ClipFacts {
        camera: source_manifest.camera,
        agency: source_manifest.agency,
        from: source_manifest.from,
        to: source_manifest.to,
        first_frame: source_manifest.first_frame,
        last_frame: source_manifest.last_frame,
        codec: report.codec.clone(),
        frames: report.frames,
        exported_at: now,
        exported_by: by.to_owned(),
        anonymised: Some(Anonymisation {
            source_sha256: clip.sha256.clone(),
            blurred: BLURRED_FACES_AND_PLATES.to_owned(),
            faces: report.faces,
            plates: report.plates,
        }),
    };
    let manifest =
        with_key(state, |key| ClipManifest::sign(facts, &mp4, key))?.map_err(|e| ApiError::Internal(e.to_string()))?;
    let bytes = mp4.len() as u64;
    let (sha256, _) = crate::files::keep(state, mp4.into())
        .await
        .map_err(|e| ApiError::Internal(format!("keeping the clip: {e}")))?;
    tracing::info!(
        clip = %clip.sha256,
        copy = %sha256,
        frames = report.frames,
        faces = report.faces,
        plates = report.plates,
        seconds = started.elapsed().as_secs_f64(),
        "clip anonymised"
    );
    let row = StoredClip {
        sha256,
        made: now,
        made_by: by.to_owned(),
        bytes,
        manifest: manifest.to_json(),
        anonymised_from: Some(clip.sha256.clone()),
        ..clip.clone()
    };
    let (store, kept) = (state.store.clone(), row.clone());
    crate::federation::blocking_api(move || store.put_clip(&kept)).await?;
    Ok((row, true))
}

/// A partner's `clip` message: kept when the manifest is the sender's, signed with its key.
pub(crate) async fn received(state: &AppState, r: &limes_link::Received) -> Result<(), crate::federation::NotApplied> {
    use crate::federation::NotApplied;
    match r.labels.as_ref() {
        Some(l) if l.category == Category::Images && l.origin == r.sender.as_str() => {}
        other => return Err(NotApplied::Invalid(format!("a clip labelled {other:?}"))),
    }
    let m = ClipManifest::parse(&r.payload).map_err(|e| NotApplied::Invalid(e.to_string()))?;
    if m.agency != r.sender {
        return Err(NotApplied::Invalid(format!("{} sent a clip {} signed", r.sender, m.agency)));
    }
    let key = partner_key(state, &r.sender).ok_or_else(|| NotApplied::Invalid(format!("no key of {}", r.sender)))?;
    if m.key_fingerprint != key_fingerprint(&key) {
        return Err(NotApplied::Invalid(format!(
            "{}'s clip is signed by {}, not its agency key",
            r.sender, m.key_fingerprint
        )));
    }
    let row = StoredClip {
        sha256: m.sha256.clone(),
        origin: m.agency.to_string(),
        camera: m.camera.to_string(),
        from: m.from,
        to: m.to,
        bytes: m.bytes,
        made: m.exported_at,
        made_by: m.exported_by.clone(),
        received_from: Some(r.sender.to_string()),
        received: Some(Utc::now()),
        message: Some(r.id.to_string()),
        purpose: r.labels.as_ref().map(|l| l.purpose.clone()),
        manifest: String::from_utf8_lossy(&r.payload).into_owned(),
        anonymised_from: None,
    };
    let store = state.store.clone();
    crate::federation::blocking(move || store.put_clip(&row)).await.map_err(NotApplied::Store)?;
    Ok(())
}

/// The signing key the link holds for `partner`.
fn partner_key(state: &AppState, partner: &AgencyId) -> Option<limes_federation::PublicKey> {
    let fed = state.federation.get()?;
    fed.link.partners().into_iter().find(|p| &p.agency == partner).and_then(|p| p.signing_key.parse().ok())
}

/// A clip's MP4, checked against its signed manifest (a partner's against the partner's key):
/// `Ok(None)` while a partner's file has not arrived.
pub async fn file(state: &AppState, clip: &StoredClip) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(path) = crate::files::path(state, &clip.sha256) else { return Ok(None) };
    let bytes = tokio::fs::read(&path).await.map_err(|e| ApiError::Internal(format!("{}: {e}", path.display())))?;
    let manifest = ClipManifest::parse(clip.manifest.as_bytes()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let trusted = match &clip.received_from {
        Some(p) => {
            let p = AgencyId::new(p.clone()).map_err(|e| ApiError::Internal(e.to_string()))?;
            Some(
                partner_key(state, &p)
                    .ok_or_else(|| ApiError::Conflict(format!("{p} is no longer a partner: its clip is not shown")))?,
            )
        }
        None => Some(with_key(state, AgencyKey::public)?),
    };
    manifest
        .verify(&bytes, trusted.as_ref())
        .map_err(|e| ApiError::Conflict(format!("clip {} does not match its signed manifest: {e}", clip.sha256)))?;
    Ok(Some(bytes))
}

/// Deletes partners' clips past their agreement's retention (the `images` flow from the partner
/// to this agency; without one, `default_days`), their files with them, and tells each partner
/// with a deletion receipt. Gives how many went.
pub(crate) async fn retention(state: &AppState, now: DateTime<Utc>, default_days: u32) -> usize {
    let Some(fed) = state.federation.get() else { return 0 };
    let me = fed.link.config().agency.to_string();
    let store = state.store.clone();
    let senders = match crate::federation::blocking(move || store.clip_senders()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "retention of partners' clips; will retry");
            return 0;
        }
    };
    let mut deleted = Vec::new();
    for origin in senders {
        let days = AgencyId::new(origin.clone())
            .ok()
            .and_then(|a| fed.link.agreement_with(&a))
            .and_then(|active| active.agreement.flow(&origin, &me, Category::Images).map(|f| f.retention_days))
            .unwrap_or(default_days);
        let cutoff = now - chrono::Duration::days(i64::from(days));
        let store = state.store.clone();
        match crate::federation::blocking(move || store.delete_received_clips_from_before(&origin, cutoff)).await {
            Ok(gone) => deleted.extend(gone),
            Err(e) => tracing::error!(error = %e, "retention of partners' clips; will retry"),
        }
    }
    for c in &deleted {
        if let Some(path) = crate::files::path(state, &c.sha256)
            && let Err(e) = std::fs::remove_file(&path)
        {
            tracing::error!(file = %path.display(), error = %e, "removing a partner's clip past its retention");
        }
    }
    let receipts: Vec<limes_store::DeletedPartnerAlert> = deleted
        .iter()
        .filter_map(|c| {
            Some(limes_store::DeletedPartnerAlert {
                id: 0,
                agency: c.received_from.clone()?,
                message: c.message.clone()?,
            })
        })
        .collect();
    crate::federation::send_deletion_receipts(state, &receipts, limes_federation::DeletionReason::Retention).await;
    deleted.len()
}
