//! Requests for full data (issue #6, item 4).
//!
//! A hit/no-hit answer gives the asker a reference, a pseudonymised alert a pseudonym; neither
//! says who the vehicle is. To learn more, an investigator files a **request** with the owner:
//! the reference, the purpose, the legal basis, the case and why, urgent or not. Its deadline is
//! Directive (EU) 2023/977's (Art. 5(1)): eight hours when urgent, seven days otherwise. The
//! request crosses as a `data-request` protocol message. The owner stores it and checks it
//! against the agreement (a flow of that category to the asker, in `on-request` or `hit-no-hit`
//! mode, for the purpose named); a request the agreement does not cover is refused at once. An
//! urgent one is approved automatically where the flow says so; otherwise a supervisor of the
//! owner decides (`requests.decide`). The decision crosses back (`request-decision`), and on
//! approval the owner releases the data — the reads behind the reference — as a `released`
//! message labelled with the category and the request, which the agreement decides on like any
//! data; it carries the agreement's conditions (purposes, retention, onward transfer, handling
//! code). Both sides keep the request, its status and deadline; the asker opens the released
//! data only for a purpose the conditions name, within their retention.
//!
//! A request for **a clip** (category `images`) names a camera of the owner and a span instead
//! of a reference — what a released read or a partner's incident points at. The supervisor's
//! approval cuts the clip first (a span with nothing recorded cannot be approved, only refused),
//! then the clip crosses as a `clip` message labelled with the request, its file over the
//! resumable transfer, and the `released` message names it beside the conditions.

use chrono::{DateTime, Duration, Utc};
use limes_agreement::{Category, ImageForm, Labels, Mode, PlateForm};
use limes_federation::{MessageId, MessageType};
use limes_link::{Link, Outgoing, Received};
use limes_model::{AgencyId, CameraId, GeoPoint};
use limes_plate::CountryCode;
use limes_store::{DataRequest, Direction};
use serde::{Deserialize, Serialize};

use crate::AppState;

/// A request for data (protocol message).
pub const DATA_REQUEST: &str = "data-request";
/// The owner's decision on a request (protocol message).
pub const REQUEST_DECISION: &str = "request-decision";
/// The data released in answer to an approved request.
pub const RELEASED: &str = "released";
/// Requests, decisions and released data travel in one stream per partner, in order.
const REQUEST_STREAM: &str = "requests";
/// Directive (EU) 2023/977, Art. 5(1)(a): urgent requests for directly accessible information.
pub const URGENT_DEADLINE: Duration = Duration::hours(8);
/// Art. 5(1)(c): all other requests.
pub const DEADLINE: Duration = Duration::days(7);
/// The longest free text of a request (justification, reason, case, legal basis).
const MAX_TEXT: usize = 2000;
/// The most reads one release carries.
const MAX_RELEASED: usize = 10_000;

/// The span of one camera's recording a request for a clip names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipSpan {
    pub camera: CameraId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl ClipSpan {
    fn check(&self) -> Result<(), String> {
        if self.to <= self.from {
            return Err(format!("the clip's span ends ({}) before it starts ({})", self.to, self.from));
        }
        let max = limes_recorder::clip::ClipLimits::default().max_span;
        if self.to - self.from > max {
            return Err(format!("a clip is at most {} minutes long", max.num_minutes()));
        }
        Ok(())
    }

    fn stored(&self) -> limes_store::RequestedClip {
        limes_store::RequestedClip { camera: self.camera.to_string(), from: self.from, to: self.to }
    }
}

/// A request as it travels (version 1 of `data-request`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestMessage {
    pub id: String,
    pub category: Category,
    pub reference: String,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    pub justification: String,
    pub urgent: bool,
    pub asked_at: DateTime<Utc>,
    /// For a request for a clip (category `images`, empty reference): the camera and span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<ClipSpan>,
    /// Asked in an exercise: only the exercise's reads are released.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
}

/// A decision as it travels (version 1 of `request-decision`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionMessage {
    pub id: String,
    /// `approved` or `refused`.
    pub status: String,
    /// Who decided: a role, or `automatic`.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// The conditions released data comes under: the owner's agreement, as it stood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    pub agreement: String,
    pub instrument: String,
    pub article: String,
    pub purposes: Vec<String>,
    pub retention_days: u32,
    pub onward_transfer: limes_agreement::Onward,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handling_code: Option<String>,
}

/// One read released.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasedRead {
    pub plate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<CountryCode>,
    pub camera: CameraId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_position: Option<GeoPoint>,
    pub time: DateTime<Utc>,
}

/// A clip released: it crosses as a `clip` message labelled with the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasedClip {
    pub sha256: String,
    pub camera: CameraId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// What an approved request releases (version 1 of `released`): the reads behind a reference,
/// or the clip asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Released {
    pub request: String,
    pub conditions: Conditions,
    #[serde(default)]
    pub reads: Vec<ReleasedRead>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<ReleasedClip>,
}

/// Why a request cannot be made or decided.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Failed(String),
}

fn text(name: &str, value: &str, required: bool) -> Result<(), String> {
    if required && value.trim().is_empty() {
        return Err(format!("{name} must not be empty"));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(format!("{name} is longer than {MAX_TEXT} characters"));
    }
    Ok(())
}

/// The owner's references: a hit/no-hit reference (32 hex digits) or a plate pseudonym (12 of
/// A–Z, 2–7).
fn valid_reference(r: &str) -> bool {
    (r.len() == 32 && r.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        || (r.len() == 12 && r.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)))
}

impl RequestMessage {
    /// Checks what an asker sent.
    pub fn check(&self) -> Result<(), String> {
        if MessageId::parse(&self.id).is_none() {
            return Err(format!("request id {:?} is not 32 hex digits", self.id.chars().take(64).collect::<String>()));
        }
        match (self.category, &self.clip) {
            (Category::Images, Some(span)) => {
                if self.exercise {
                    return Err("an exercise asks for no clips: recordings are real".into());
                }
                if !self.reference.is_empty() {
                    return Err("a request for a clip names a camera and a span, not a reference".into());
                }
                span.check()?;
            }
            (Category::Images, None) => return Err("a request for images names the camera and span of a clip".into()),
            (_, Some(_)) => return Err(format!("a request for {} names no clip", self.category.words())),
            (_, None) if !valid_reference(&self.reference) => {
                return Err("the reference is neither a hit/no-hit reference nor a pseudonym".into());
            }
            (_, None) => {}
        }
        text("purpose", &self.purpose, true)?;
        text("legal_basis", &self.legal_basis, true)?;
        text("case_ref", &self.case_ref, true)?;
        text("justification", &self.justification, true)?;
        Ok(())
    }
}

impl RequestMessage {
    /// The request as either side keeps it, pending from `at` with the deadline that follows.
    fn pending(&self, direction: Direction, partner: &str, asked_by: String, at: DateTime<Utc>) -> DataRequest {
        DataRequest {
            exercise: self.exercise,
            direction,
            partner: partner.to_owned(),
            id: self.id.clone(),
            category: self.category.id().into(),
            reference: self.reference.clone(),
            clip: self.clip.as_ref().map(ClipSpan::stored),
            purpose: self.purpose.clone(),
            legal_basis: self.legal_basis.clone(),
            case_ref: self.case_ref.clone(),
            justification: self.justification.clone(),
            urgent: self.urgent,
            asked_by,
            created: at,
            deadline: deadline(self.urgent, at),
            status: "pending".into(),
            decided_by: None,
            decided: None,
            reason: None,
            released: None,
            released_at: None,
        }
    }
}

/// The deadline of a request made at `at`.
pub fn deadline(urgent: bool, at: DateTime<Utc>) -> DateTime<Utc> {
    at + if urgent { URGENT_DEADLINE } else { DEADLINE }
}

fn link(state: &AppState) -> Result<Link, RequestError> {
    state
        .federation
        .get()
        .map(|f| f.link.clone())
        .ok_or_else(|| RequestError::NotFound("this node has no [federation] section: it has no partners".into()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, limes_store::StoreError> + Send + 'static,
) -> Result<T, RequestError> {
    super::blocking(f).await.map_err(RequestError::Failed)
}

fn protocol(to: &AgencyId, kind: &str, payload: Vec<u8>, about: String) -> Outgoing {
    Outgoing {
        partner: to.clone(),
        kind: MessageType::new(kind).expect("a valid type"),
        stream: REQUEST_STREAM.into(),
        payload,
        about: Some(about),
        labels: None,
        approved_request: false,
    }
}

async fn send_one(link: &Link, item: Outgoing) -> Result<(), RequestError> {
    let mut results = link.send(vec![item]).await.map_err(|e| RequestError::Failed(e.to_string()))?;
    match results.pop() {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(RequestError::Failed(e.to_string())),
        None => Err(RequestError::Failed("the link queued nothing".into())),
    }
}

/// The flow of the agreement in force with `partner` under which `owner` may release
/// `category` to `asker` for `purpose` on request (mode `on-request` or `hit-no-hit`), or
/// why there is none: what the asker checks before it asks, and the owner when it is asked.
fn requestable(
    link: &Link,
    partner: &AgencyId,
    owner: &str,
    asker: &str,
    category: Category,
    purpose: &str,
) -> Result<limes_agreement::Flow, String> {
    let active =
        link.agreement_with(partner).ok_or_else(|| format!("there is no sharing agreement with {partner} in force"))?;
    let flow = active.agreement.flow(owner, asker, category).ok_or_else(|| {
        format!("the agreement with {partner} shares no {} from {owner} with {asker}", category.words())
    })?;
    if flow.mode == Mode::Push {
        return Err(format!(
            "{} come pushed under the agreement with {partner}: there is nothing to request",
            category.words()
        ));
    }
    if !flow.purposes.iter().any(|p| p == purpose) {
        return Err(format!(
            "the agreement shares {} for {}, not {purpose}",
            category.words(),
            flow.purposes.join(", ")
        ));
    }
    Ok(flow.clone())
}

/// What an investigator asks (`POST /api/v1/requests`).
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub partner: AgencyId,
    pub category: Category,
    /// A hit/no-hit reference or a pseudonym; empty for a clip.
    pub reference: String,
    /// The clip asked for (category `images`).
    pub clip: Option<ClipSpan>,
    pub urgent: bool,
    pub justification: String,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    pub asked_by: String,
    pub exercise: bool,
}

/// Files a request with the partner: checked against the agreement with it (the partner's data
/// of that category must be available on request or behind hit/no-hit), stored, and sent.
pub async fn make(state: &AppState, r: NewRequest) -> Result<DataRequest, RequestError> {
    let link = link(state)?;
    let me = link.config().agency.to_string();
    requestable(&link, &r.partner, r.partner.as_str(), &me, r.category, &r.purpose).map_err(RequestError::Invalid)?;
    if !matches!(r.category, Category::PlateReads | Category::Images) {
        return Err(RequestError::Invalid(format!("requests for {} are not supported yet", r.category.words())));
    }
    let now = Utc::now();
    let msg = RequestMessage {
        id: MessageId::random().map_err(|e| RequestError::Failed(e.to_string()))?.to_string(),
        category: r.category,
        reference: r.reference,
        purpose: r.purpose,
        legal_basis: r.legal_basis,
        case_ref: r.case_ref,
        justification: r.justification,
        urgent: r.urgent,
        asked_at: now,
        clip: r.clip,
        exercise: r.exercise,
    };
    msg.check().map_err(RequestError::Invalid)?;
    let row = msg.pending(Direction::Out, r.partner.as_str(), r.asked_by, now);
    let store = state.store.clone();
    let stored = row.clone();
    blocking(move || store.insert_request(&stored)).await?;
    let payload = serde_json::to_vec(&msg).map_err(|e| RequestError::Failed(e.to_string()))?;
    send_one(&link, protocol(&r.partner, DATA_REQUEST, payload, format!("request:{}", msg.id))).await?;
    tracing::info!(partner = %r.partner, request = %msg.id, urgent = msg.urgent, "data request sent");
    Ok(row)
}

/// A supervisor's (or the agreement's automatic) decision on a partner's request: recorded
/// (the first decision stands), sent back, and on approval the data released.
pub async fn decide(
    state: &AppState,
    partner: &AgencyId,
    id: &str,
    approve: bool,
    by: &str,
    reason: Option<String>,
) -> Result<DataRequest, RequestError> {
    let link = link(state)?;
    let status = if approve { "approved" } else { "refused" };
    // A clip is cut before the approval is recorded: a span with nothing recorded cannot be
    // approved (only refused), and the approval stands only once there is something to release.
    let mut clip = None;
    if approve {
        let (store, p, i) = (state.store.clone(), partner.to_string(), id.to_owned());
        let asked = blocking(move || store.request(Direction::In, &p, &i))
            .await?
            .ok_or_else(|| RequestError::NotFound(format!("no request {id} from {partner}")))?;
        if let (Some(span), "pending") = (&asked.clip, asked.status.as_str()) {
            clip = Some(cut(state, span, by).await?);
        }
    }
    let now = Utc::now();
    let (store, p, i, b, r) = (state.store.clone(), partner.to_string(), id.to_owned(), by.to_owned(), reason.clone());
    let decided = blocking(move || {
        let d = limes_store::Decision { status, by: &b, reason: r.as_deref(), at: now };
        store.decide_request(Direction::In, &p, &i, &d)
    })
    .await?;
    let current = {
        let (store, p, i) = (state.store.clone(), partner.to_string(), id.to_owned());
        blocking(move || store.request(Direction::In, &p, &i)).await?
    }
    .ok_or_else(|| RequestError::NotFound(format!("no request {id} from {partner}")))?;
    if !decided {
        return Err(RequestError::Conflict(format!("request {id} is {} already", current.status)));
    }
    let decision = DecisionMessage { id: id.to_owned(), status: status.into(), by: by.to_owned(), reason, at: now };
    let payload = serde_json::to_vec(&decision).map_err(|e| RequestError::Failed(e.to_string()))?;
    send_one(&link, protocol(partner, REQUEST_DECISION, payload, format!("request:{id}"))).await?;
    tracing::info!(%partner, request = %id, status, by, "decision on a partner's request");
    if approve {
        release(state, &link, &current, clip.as_ref()).await?;
    }
    let (store, p, i) = (state.store.clone(), partner.to_string(), id.to_owned());
    blocking(move || store.request(Direction::In, &p, &i))
        .await?
        .ok_or_else(|| RequestError::NotFound(format!("no request {id} from {partner}")))
}

/// Cuts the clip a request asks for from this node's recording of the camera.
async fn cut(
    state: &AppState,
    span: &limes_store::RequestedClip,
    by: &str,
) -> Result<limes_store::StoredClip, RequestError> {
    let camera = CameraId::new(&span.camera).map_err(|e| RequestError::Invalid(e.to_string()))?;
    match crate::clips::export(state, camera, span.from, span.to, by).await {
        Ok((clip, _)) => Ok(clip),
        Err(crate::ApiError::NotFound(m) | crate::ApiError::BadRequest(m) | crate::ApiError::Unprocessable(m)) => {
            Err(RequestError::Invalid(format!("{m}: there is no clip to release; refuse the request instead")))
        }
        Err(e) => Err(RequestError::Failed(e.to_string())),
    }
}

/// Releases what an approved request asks for with the agreement's conditions: the reads
/// behind its reference, or the clip cut for it.
async fn release(
    state: &AppState,
    link: &Link,
    r: &DataRequest,
    clip: Option<&limes_store::StoredClip>,
) -> Result<(), RequestError> {
    let me = link.config().agency.to_string();
    let partner = AgencyId::new(r.partner.as_str()).map_err(|e| RequestError::Failed(e.to_string()))?;
    let active = link
        .agreement_with(&partner)
        .ok_or_else(|| RequestError::Invalid(format!("the agreement with {partner} is no longer in force")))?;
    let category: Category =
        r.category.parse().map_err(|e: limes_agreement::UnknownCategory| RequestError::Failed(e.to_string()))?;
    let flow = active
        .agreement
        .flow(&me, partner.as_str(), category)
        .ok_or_else(|| RequestError::Invalid(format!("the agreement no longer shares {}", category.words())))?;
    let conditions = Conditions {
        agreement: active.agreement.id.clone(),
        instrument: flow.instrument.clone(),
        article: flow.article.clone(),
        purposes: flow.purposes.clone(),
        retention_days: flow.retention_days,
        onward_transfer: flow.onward_transfer,
        handling_code: flow.handling_code.clone(),
    };
    let (labels, reads, clip) = match category {
        Category::PlateReads => {
            let labels = Labels { request: Some(r.id.clone()), ..Labels::full(category, me, r.purpose.as_str()) };
            (labels, released_reads(state, link, &partner, r, flow.retention_days).await?, None)
        }
        Category::Images => {
            let clip = clip.ok_or_else(|| RequestError::Failed(format!("no clip was cut for request {}", r.id)))?;
            let sent =
                crate::clips::deliver(state, clip, &partner, &r.purpose, Some(&r.id), &format!("request:{}", r.id))
                    .await
                    .map_err(|e| RequestError::Failed(format!("sending the clip: {e}")))?;
            let images = if sent.anonymised { ImageForm::Blurred } else { ImageForm::Clear };
            let labels = Labels { request: Some(r.id.clone()), ..crate::clips::labels(&me, &r.purpose, images) };
            let released = ReleasedClip {
                sha256: sent.clip,
                camera: CameraId::new(&clip.camera).map_err(|e| RequestError::Failed(e.to_string()))?,
                from: clip.from,
                to: clip.to,
            };
            (labels, Vec::new(), Some(released))
        }
        other => return Err(RequestError::Invalid(format!("releasing {} is not supported", other.words()))),
    };
    let released = Released { request: r.id.clone(), conditions, reads, clip };
    let payload = serde_json::to_vec(&released).map_err(|e| RequestError::Failed(e.to_string()))?;
    let item = Outgoing {
        partner: partner.clone(),
        kind: MessageType::new(RELEASED).expect("a valid type"),
        stream: REQUEST_STREAM.into(),
        payload: payload.clone(),
        about: Some(format!("request:{}", r.id)),
        labels: Some(labels),
        approved_request: true,
    };
    send_one(link, item).await?;
    let (store, p, i) = (state.store.clone(), r.partner.clone(), r.id.clone());
    let text = String::from_utf8(payload).unwrap_or_default();
    blocking(move || store.release_request(Direction::In, &p, &i, &text, Utc::now())).await?;
    tracing::info!(
        %partner,
        request = %r.id,
        reads = released.reads.len(),
        clip = released.clip.as_ref().map(|c| c.sha256.as_str()),
        "data released on an approved request"
    );
    Ok(())
}

/// The reads behind a plate-reads request's reference, as released.
async fn released_reads(
    state: &AppState,
    link: &Link,
    partner: &AgencyId,
    r: &DataRequest,
    retention_days: u32,
) -> Result<Vec<ReleasedRead>, RequestError> {
    let ids = reads_behind(state, link, partner, &r.reference, retention_days, r.exercise).await?;
    let store = state.store.clone();
    let reads =
        blocking(move || ids.iter().take(MAX_RELEASED).map(|id| store.read(*id)).collect::<Result<Vec<_>, _>>())
            .await?;
    let cameras = crate::read_lock(&state.cameras);
    Ok(reads
        .into_iter()
        // An exercise request releases only the exercise's reads, a real one only real
        // reads, whatever the reference stands for.
        .filter(|s| s.read.exercise == r.exercise && !state.is_restricted(s.plate.as_str()))
        .map(|s| ReleasedRead {
            plate: s.plate.as_str().to_owned(),
            country: s.country,
            camera_position: cameras.get(&s.read.camera).and_then(|c| c.position),
            camera: s.read.camera,
            time: s.read.time,
        })
        .collect())
}

/// The read ids a reference stands for: a hit/no-hit reference (the link keeps what it
/// published) or a pseudonym this node gave `partner` for a plate it saw within `days`.
async fn reads_behind(
    state: &AppState,
    link: &Link,
    partner: &AgencyId,
    reference: &str,
    days: u32,
    exercise: bool,
) -> Result<Vec<i64>, RequestError> {
    if reference.len() == 32 {
        let r: limes_hitquery::Reference =
            reference.parse().map_err(|_| RequestError::Invalid("the reference is not valid".into()))?;
        let link = link.clone();
        let resolved = tokio::task::spawn_blocking(move || link.resolve_reference(&r))
            .await
            .map_err(|e| RequestError::Failed(e.to_string()))?
            .map_err(|e| RequestError::Failed(e.to_string()))?;
        return resolved
            .map(|r| r.reads)
            .ok_or_else(|| RequestError::NotFound("the reference is unknown here or expired".into()));
    }
    let secret = link.identity().key.to_private_text();
    let now = Utc::now();
    let store = state.store.clone();
    let seen = blocking(move || store.plates_seen(now - Duration::days(i64::from(days)), now, exercise)).await?;
    seen.into_iter()
        .find(|(plate, _)| super::pseudonym(secret.as_bytes(), partner.as_str(), plate.as_str()) == reference)
        .map(|(_, reads)| reads)
        .ok_or_else(|| RequestError::NotFound("no plate seen here within the retention has that pseudonym".into()))
}

/// Applies a request a partner sent: stored, checked against the agreement, refused at once
/// when it is not covered, approved at once when urgent and the agreement says so.
pub(super) async fn received_request(state: &AppState, r: &Received) -> Result<(), String> {
    let msg: RequestMessage = serde_json::from_slice(&r.payload).map_err(|e| e.to_string())?;
    msg.check()?;
    let link = state.federation.get().map(|f| f.link.clone()).ok_or("no federation")?;
    let me = link.config().agency.to_string();
    let now = Utc::now();
    // What the agreement says about it.
    let verdict = requestable(&link, &r.sender, &me, r.sender.as_str(), msg.category, &msg.purpose)
        .map(|f| msg.urgent && f.urgent_requests_approved_automatically);
    // The deadline runs from when the request arrived.
    let row = msg.pending(Direction::In, r.sender.as_str(), r.sender.to_string(), now);
    let store = state.store.clone();
    let new = super::blocking(move || store.insert_request(&row)).await?;
    if !new {
        return Ok(()); // applied before a restart
    }
    tracing::info!(partner = %r.sender, request = %msg.id, urgent = msg.urgent, "a partner's data request arrived");
    let outcome = match verdict {
        Err(reason) => decide(state, &r.sender, &msg.id, false, "automatic", Some(reason)).await,
        Ok(true) => {
            let why = "urgent, and the agreement approves urgent requests automatically".to_owned();
            decide(state, &r.sender, &msg.id, true, "automatic", Some(why)).await
        }
        Ok(false) => return Ok(()), // a supervisor decides
    };
    outcome.map(|_| ()).map_err(|e| e.to_string())
}

/// Applies the owner's decision on a request this node made.
pub(super) async fn received_decision(state: &AppState, r: &Received) -> Result<(), String> {
    let d: DecisionMessage = serde_json::from_slice(&r.payload).map_err(|e| e.to_string())?;
    if !matches!(d.status.as_str(), "approved" | "refused") {
        return Err(format!("status {:?} is not approved or refused", d.status.chars().take(32).collect::<String>()));
    }
    text("by", &d.by, true)?;
    text("reason", d.reason.as_deref().unwrap_or(""), false)?;
    let store = state.store.clone();
    let partner = r.sender.to_string();
    let applied = super::blocking(move || {
        let decision = limes_store::Decision { status: &d.status, by: &d.by, reason: d.reason.as_deref(), at: d.at };
        store.decide_request(Direction::Out, &partner, &d.id, &decision)
    })
    .await?;
    if !applied {
        tracing::debug!(partner = %r.sender, "a decision on a request that is not pending here (applied before)");
    }
    Ok(())
}

/// Stores data released for a request this node made to that partner.
pub(super) async fn received_release(state: &AppState, r: &Received) -> Result<(), String> {
    let released: Released = serde_json::from_slice(&r.payload).map_err(|e| e.to_string())?;
    let labelled = r.labels.as_ref().is_some_and(|l| {
        l.request.as_deref() == Some(released.request.as_str())
            && match (l.category, &released.clip) {
                (Category::Images, Some(c)) => {
                    l.images == ImageForm::Clear && released.reads.is_empty() && crate::files::is_sha256(&c.sha256)
                }
                (_, None) => l.plates == PlateForm::Clear,
                (_, Some(_)) => false,
            }
    });
    if !labelled {
        return Err(format!("released data does not match its labels {:?}", r.labels));
    }
    if released.reads.len() > MAX_RELEASED {
        return Err(format!("more than {MAX_RELEASED} reads"));
    }
    for read in &released.reads {
        limes_plate::PlateText::new(&read.plate).map_err(|e| format!("plate {:?}: {e}", read.plate))?;
    }
    let store = state.store.clone();
    let (partner, id) = (r.sender.to_string(), released.request.clone());
    let text = String::from_utf8_lossy(&r.payload).into_owned();
    let stored =
        super::blocking(move || store.release_request(Direction::Out, &partner, &id, &text, Utc::now())).await?;
    if !stored {
        return Err(format!("no open request {} to {} here", released.request, r.sender));
    }
    tracing::info!(
        partner = %r.sender,
        request = %released.request,
        reads = released.reads.len(),
        clip = released.clip.as_ref().map(|c| c.sha256.as_str()),
        "data released to us"
    );
    Ok(())
}

/// Whether the released data of `r` may be opened now for `purpose`: the agreement with the
/// owner (the flow's purposes and retention, counted from the release).
pub(crate) fn may_open(state: &AppState, r: &DataRequest, purpose: &str) -> bool {
    let Some(at) = r.released_at else { return false };
    let Ok(category) = r.category.parse::<Category>() else { return false };
    let labels = Labels { request: Some(r.id.clone()), ..Labels::full(category, r.partner.as_str(), purpose) };
    super::may_use_now(state, &labels, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> RequestMessage {
        RequestMessage {
            exercise: false,
            id: "0123456789abcdef0123456789abcdef".into(),
            category: Category::PlateReads,
            reference: "fedcba9876543210fedcba9876543210".into(),
            purpose: "investigation".into(),
            legal_basis: "Law 218/2002 art. 31".into(),
            case_ref: "RO-2026-117".into(),
            justification: "the car used in a robbery in Suceava".into(),
            urgent: false,
            asked_at: Utc::now(),
            clip: None,
        }
    }

    fn clip_request() -> RequestMessage {
        let from = Utc::now() - Duration::minutes(10);
        RequestMessage {
            category: Category::Images,
            reference: String::new(),
            clip: Some(ClipSpan {
                camera: CameraId::new("ro-siret-1").unwrap(),
                from,
                to: from + Duration::minutes(2),
            }),
            ..request()
        }
    }

    #[test]
    fn deadlines_follow_directive_2023_977() {
        let t = Utc::now();
        assert_eq!(deadline(true, t) - t, Duration::hours(8));
        assert_eq!(deadline(false, t) - t, Duration::days(7));
    }

    #[test]
    fn hostile_requests_are_refused_with_the_reason() {
        assert_eq!(request().check(), Ok(()));
        let pseudonym = RequestMessage { reference: "ABCDEFGHIJ23".into(), ..request() };
        assert_eq!(pseudonym.check(), Ok(()));
        let cases: Vec<(RequestMessage, &str)> = vec![
            (RequestMessage { id: "../../etc/passwd".into(), ..request() }, "is not 32 hex digits"),
            (RequestMessage { reference: "B123ABC".into(), ..request() }, "neither a hit/no-hit reference"),
            (RequestMessage { reference: "FEDCBA9876543210FEDCBA9876543210".into(), ..request() }, "neither"),
            (RequestMessage { reference: "abcdefghij01".into(), ..request() }, "neither"),
            (RequestMessage { purpose: " ".into(), ..request() }, "purpose must not be empty"),
            (RequestMessage { case_ref: String::new(), ..request() }, "case_ref must not be empty"),
            (RequestMessage { justification: "x".repeat(MAX_TEXT + 1), ..request() }, "longer than"),
            (RequestMessage { category: Category::Images, ..request() }, "names the camera and span"),
            (RequestMessage { clip: clip_request().clip, ..request() }, "names no clip"),
            (RequestMessage { reference: "ABCDEFGHIJ23".into(), ..clip_request() }, "not a reference"),
            (RequestMessage { exercise: true, ..clip_request() }, "recordings are real"),
        ];
        assert_eq!(clip_request().check(), Ok(()));
        let with_length = |minutes: i64| {
            let mut r = clip_request();
            let span = r.clip.as_mut().unwrap();
            span.to = span.from + Duration::minutes(minutes);
            r.check()
        };
        assert!(with_length(61).unwrap_err().contains("at most 60 minutes"));
        assert!(with_length(0).unwrap_err().contains("before it starts"));
        for (r, needle) in cases {
            let e = r.check().unwrap_err();
            assert!(e.contains(needle), "{r:?}: {e}");
        }
        // And on the wire: unknown fields, unknown categories, wrong types.
        let mut v = serde_json::to_value(request()).unwrap();
        v["extra"] = true.into();
        assert!(serde_json::from_value::<RequestMessage>(v).unwrap_err().to_string().contains("unknown field"));
        let mut v = serde_json::to_value(request()).unwrap();
        v["category"] = "bank-accounts".into();
        assert!(serde_json::from_value::<RequestMessage>(v).is_err());
        let mut v = serde_json::to_value(request()).unwrap();
        v["urgent"] = "yes".into();
        assert!(serde_json::from_value::<RequestMessage>(v).is_err());
    }
}
