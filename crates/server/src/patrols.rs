//! Patrol units on the node (issue #8, item 2; `limes-cooperation::patrol` holds the rules).
//!
//! This agency's units are registered over the API and report positions and status over
//! HTTP or MQTT ([`report`]: judged in time order and stored in one transaction, collection
//! logged per batch). An operator assigns a unit to an alert or an incident ([`assign`]: the
//! unit is en route, the assignment kept in the same transaction). Every change is pushed on
//! the live stream (`GET /api/v1/patrols/stream`) and handed to `federation::patrols`, which
//! sends units and assignments at once and positions, thinned, every
//! [`PatrolOptions::share_every`], to the partners whose agreements allow it — never a covert
//! unit. What partners share comes back through [`apply_partner`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use limes_cooperation::patrol::{
    Assignment, PatrolError, Position, Target, Thinning, Unit, UnitId, UnitStatus, Verdict,
};
use limes_model::AgencyId;
use limes_store::{AppliedPatrol, UnitChange};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::federation::blocking;
use crate::{AppState, Collector};

/// How patrols run on this node (`[patrols]`).
#[derive(Debug, Clone)]
pub struct PatrolOptions {
    /// Positions go to partners at most once per unit per this interval (by the positions'
    /// own times), and the sharing task runs this often.
    pub share_every: std::time::Duration,
    /// A unit that moved less than this many metres since the last position shared...
    pub share_min_distance_m: f64,
    /// ...is shared again only after this long.
    pub share_heartbeat: std::time::Duration,
    /// Positions and assignments are kept this many days (a partner's at most as long as its
    /// agreement says).
    pub positions_days: u32,
    /// A position older than this says too little about where a unit is now: the unit is not
    /// suggested.
    pub fresh_within: std::time::Duration,
    /// The most positions one request or message may carry.
    pub max_positions: usize,
}

impl Default for PatrolOptions {
    fn default() -> Self {
        Self {
            share_every: std::time::Duration::from_secs(15),
            share_min_distance_m: 25.0,
            share_heartbeat: std::time::Duration::from_secs(300),
            positions_days: 30,
            fresh_within: std::time::Duration::from_secs(600),
            max_positions: 1000,
        }
    }
}

impl PatrolOptions {
    pub fn thinning(&self) -> Thinning {
        let d = |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        Thinning {
            min_interval: d(self.share_every),
            min_distance_m: self.share_min_distance_m,
            heartbeat: d(self.share_heartbeat),
        }
    }
}

/// The patrols' live stream.
#[derive(Debug)]
pub struct Hub {
    pub live: broadcast::Sender<Live>,
}

impl Default for Hub {
    fn default() -> Self {
        Self { live: broadcast::channel(4096).0 }
    }
}

/// A change on the live stream: whose unit it is and since when the data is held (what the
/// agreement with a partner rules on), the SSE event's name and its JSON.
#[derive(Debug, Clone)]
pub struct Live {
    pub agency: AgencyId,
    pub since: DateTime<Utc>,
    pub event: &'static str,
    pub json: Arc<str>,
}

/// A unit as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub unit: Unit,
    /// A partner's unit, as it shared it.
    pub partner: bool,
    pub updated: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl From<limes_store::UnitRow> for Shown {
    fn from(r: limes_store::UnitRow) -> Self {
        Self { unit: r.unit, partner: r.partner, updated: r.updated, position: r.latest }
    }
}

/// A position on the live stream.
#[derive(Debug, Serialize)]
struct PushedPosition<'a> {
    unit: &'a UnitId,
    #[serde(flatten)]
    position: &'a Position,
}

/// Why a patrol act failed.
#[derive(Debug, thiserror::Error)]
pub enum PatrolFailure {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Failed(String),
}

impl From<PatrolError> for PatrolFailure {
    fn from(e: PatrolError) -> Self {
        PatrolFailure::Invalid(e.to_string())
    }
}

/// Why a report of positions could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unreadable {
    /// Not JSON.
    #[error("{0}")]
    Json(String),
    /// JSON, but not positions (or too many).
    #[error("{0}")]
    Invalid(String),
}

/// One position or an array of them, as posted or published, at most `max`.
pub fn parse_positions(text: &str, max: usize) -> Result<Vec<Position>, Unreadable> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Unreadable::Json(format!("positions are not valid JSON: {e}")))?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    if items.is_empty() {
        return Err(Unreadable::Invalid("no position given".into()));
    }
    if items.len() > max {
        return Err(Unreadable::Invalid(format!(
            "{} positions in one report: at most {max} ([patrols] max_positions); send the rest in another",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| serde_json::from_value(v).map_err(|e| Unreadable::Invalid(format!("position {i}: {e}"))))
        .collect()
}

pub(crate) fn me(state: &AppState) -> Result<AgencyId, PatrolFailure> {
    AgencyId::new(state.access.options.agency.as_str()).map_err(|e| PatrolFailure::Failed(e.to_string()))
}

fn push<T: Serialize>(state: &AppState, agency: &AgencyId, since: DateTime<Utc>, event: &'static str, value: &T) {
    if let Ok(json) = serde_json::to_string(value) {
        let _ = state.patrols.live.send(Live { agency: agency.clone(), since, event, json: json.into() });
    }
}

fn push_unit(state: &AppState, unit: &Unit, partner: bool, updated: DateTime<Utc>) {
    let shown = Shown { unit: unit.clone(), partner, updated, position: None };
    push(state, &unit.id.agency, updated, "unit", &shown);
}

/// Registers one of this agency's units or changes it (its status and assignment are kept
/// unless `status` is given). Returns it, and whether it is new.
pub async fn register(
    state: &AppState,
    mut unit: Unit,
    status: Option<UnitStatus>,
) -> Result<(Unit, bool), PatrolFailure> {
    if unit.id.agency != me(state)? {
        return Err(PatrolFailure::Invalid(format!(
            "unit {} is {}'s: a node registers its own agency's units only",
            unit.id, unit.id.agency
        )));
    }
    unit.check()?;
    let store = state.store.clone();
    let existing = {
        let id = unit.id.clone();
        blocking(move || store.unit(&id)).await.map_err(PatrolFailure::Failed)?
    };
    match existing {
        Some(row) => {
            unit.assignment = row.unit.assignment;
            unit.status = row.unit.status;
        }
        None => unit.assignment = None,
    }
    if let Some(s) = status {
        unit.set_status(s);
    }
    let store = state.store.clone();
    let now = Utc::now();
    let before = {
        let unit = unit.clone();
        blocking(move || store.put_unit(&unit, now)).await.map_err(PatrolFailure::Failed)?
    };
    push_unit(state, &unit, false, now);
    crate::federation::patrols::send_changes(state, &[(unit.clone(), now)], &[]).await;
    Ok((unit, before.is_none()))
}

/// Stores what this agency's units reported (each unit's positions judged in time order)
/// and logs the collection once for the batch. The verdicts are in the order given.
pub async fn report(
    state: &AppState,
    by: &Collector,
    reports: Vec<(UnitId, Vec<Position>)>,
) -> Result<Vec<Vec<Verdict>>, PatrolFailure> {
    let store = state.store.clone();
    let (verdicts, reports) = {
        let now = Utc::now();
        blocking(move || store.add_positions(&reports, now).map(|v| (v, reports)))
            .await
            .map_err(PatrolFailure::Failed)?
    };
    let mut accepted = 0;
    for ((unit, positions), verdicts) in reports.iter().zip(&verdicts) {
        for (p, v) in positions.iter().zip(verdicts) {
            if *v == Verdict::Accepted {
                accepted += 1;
                push(state, &unit.agency, p.time, "position", &PushedPosition { unit, position: p });
            }
        }
    }
    if accepted > 0 {
        let purpose = &by.purpose;
        let event = limes_audit::AuditEvent {
            actor: by.actor.clone(),
            role: by.role.clone(),
            action: limes_audit::Action::Collect,
            object: limes_audit::Object::new("patrol-positions", accepted),
            purpose: purpose.purpose.clone(),
            legal_basis: purpose.legal_basis.clone(),
            case_ref: purpose.case_ref.clone(),
            outcome: limes_audit::Outcome::Allowed,
            details: limes_audit::Details::new(&serde_json::json!({
                "units": reports.iter().map(|(u, _)| u.to_string()).collect::<Vec<_>>(),
                "count": accepted,
            })),
        };
        // Stored already: a failure to log is logged, never an answer that loses the batch.
        if let Err(e) = state.audit(event).await {
            tracing::error!(error = %e, "could not log collected patrol positions");
        }
    }
    Ok(verdicts)
}

/// Sets the status of one of this agency's units (409 when it already has it).
pub async fn set_status(state: &AppState, id: &UnitId, status: UnitStatus) -> Result<Unit, PatrolFailure> {
    let store = state.store.clone();
    let now = Utc::now();
    let changed = {
        let id = id.clone();
        blocking(move || store.change_unit(&id, now, None, |u| Ok::<_, PatrolError>(u.set_status(status))))
            .await
            .map_err(PatrolFailure::Failed)?
    };
    let unit = match changed {
        UnitChange::NotFound => return Err(PatrolFailure::NotFound(format!("no unit {id} of this agency"))),
        UnitChange::Refused(e) => return Err(e.into()),
        UnitChange::Unchanged(u) => {
            return Err(PatrolFailure::Conflict(format!("unit {} is {} already", u.id, u.status)));
        }
        UnitChange::Changed(u) => u,
    };
    push_unit(state, &unit, false, now);
    crate::federation::patrols::send_changes(state, &[(unit.clone(), now)], &[]).await;
    Ok(unit)
}

/// Sends one of this agency's units to `target` (which the caller found here).
pub async fn assign(
    state: &AppState,
    id: &UnitId,
    target: Target,
    by: &str,
    note: String,
    exercise: bool,
) -> Result<(Unit, Assignment), PatrolFailure> {
    let me = me(state)?;
    if id.agency != me {
        return Err(PatrolFailure::Invalid(format!(
            "unit {id} is {}'s: only its own agency dispatches it (ask its operations centre)",
            id.agency
        )));
    }
    let a = Assignment { unit: id.clone(), target: target.clone(), by: by.to_owned(), at: Utc::now(), note, exercise };
    a.check()?;
    let store = state.store.clone();
    let changed = {
        let (id, a) = (id.clone(), a.clone());
        blocking(move || store.change_unit(&id, a.at, Some(&a), |u| u.assign(target).map(|()| true)))
            .await
            .map_err(PatrolFailure::Failed)?
    };
    let unit = match changed {
        UnitChange::NotFound => return Err(PatrolFailure::NotFound(format!("no unit {id} of this agency"))),
        UnitChange::Refused(e) => return Err(e.into()),
        UnitChange::Unchanged(u) | UnitChange::Changed(u) => u,
    };
    push_unit(state, &unit, false, a.at);
    push(state, &me, a.at, "assignment", &a);
    crate::federation::patrols::send_changes(state, &[(unit.clone(), a.at)], std::slice::from_ref(&a)).await;
    Ok((unit, a))
}

/// Stores what partner `sender` shared (checked by `federation::patrols`) and pushes what is
/// new.
pub(crate) async fn apply_partner(
    state: &AppState,
    sender: AgencyId,
    units: Vec<(Unit, DateTime<Utc>)>,
    positions: Vec<(UnitId, Position)>,
    assignments: Vec<Assignment>,
) -> Result<(), String> {
    let store = state.store.clone();
    let applied: AppliedPatrol =
        blocking(move || store.apply_partner_patrol(&sender, &units, &positions, &assignments, Utc::now())).await?;
    for (u, updated) in &applied.units {
        push_unit(state, u, true, *updated);
    }
    for (unit, p) in &applied.positions {
        push(state, &unit.agency, p.time, "position", &PushedPosition { unit, position: p });
    }
    for a in &applied.assignments {
        push(state, &a.unit.agency, a.at, "assignment", a);
    }
    Ok(())
}

/// Deletes positions and assignments past their retention: this node's
/// `[patrols] positions_days` for all, a partner's at most as long as the agreement with it
/// says (everything of a partner no agreement lets this node keep). Returns how many rows
/// went.
pub(crate) async fn retention(state: &AppState) -> u64 {
    let now = Utc::now();
    let days = i64::from(state.options.patrols.positions_days);
    let mut rules: Vec<(Option<String>, DateTime<Utc>, bool)> = vec![(None, now - chrono::Duration::days(days), false)];
    if let Some(fed) = state.federation.get() {
        let me = fed.link.config().agency.to_string();
        let store = state.store.clone();
        let held = blocking(move || store.units(Some(true))).await.unwrap_or_default();
        let mut agencies: Vec<AgencyId> = held.into_iter().map(|r| r.unit.id.agency).collect();
        agencies.extend(fed.link.partners().into_iter().map(|p| p.agency));
        agencies.sort();
        agencies.dedup();
        for agency in agencies {
            let flow = fed.link.agreement_with(&agency).and_then(|a| {
                a.agreement
                    .flow(agency.as_str(), &me, limes_agreement::Category::PatrolPositions)
                    .map(|f| i64::from(f.retention_days))
            });
            match flow {
                Some(d) if d < days => rules.push((Some(agency.to_string()), now - chrono::Duration::days(d), false)),
                Some(_) => {}
                None => rules.push((Some(agency.to_string()), now, true)),
            }
        }
    }
    let mut deleted = 0;
    for (agency, before, units) in rules {
        let store = state.store.clone();
        let who = agency.clone();
        match blocking(move || store.delete_patrol_data(who.as_deref(), before, units)).await {
            Ok(n) => deleted += n,
            Err(e) => tracing::error!(agency = ?agency, error = %e, "retention of patrol positions failed; will retry"),
        }
    }
    deleted
}
