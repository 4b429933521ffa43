//! Patrol units across the border (issue #8, item 2).
//!
//! A `patrol` message carries units of the sending agency (as they are now: status, current
//! assignment), their positions and their assignments, labelled with the category
//! `patrol-positions`, the sender as origin and the purpose its regime gives patrols; the
//! agreement with each partner decides, as for any data. A unit's change (a status, an
//! assignment) goes at once; positions go every `[patrols] share_every_seconds`, thinned
//! (`limes_cooperation::patrol::thin`: at most one per unit per interval, none while it does
//! not move but a heartbeat), each message naming the units whose positions it carries. A
//! covert unit is never in any message. An agency sends only its own units: a partner's unit
//! is never relayed, and what a partner sends about another agency's units is refused.
//!
//! The periodic pass asks the agreement first ([`Link::decide_send`], not logged); a refusal
//! goes through [`Link::send`], and so into the audit log, when the answer turns to no —
//! once, not every interval.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use limes_agreement::{Category, Labels};
use limes_cooperation::patrol::{Assignment, Position, Unit, UnitId, thin};
use limes_federation::MessageType;
use limes_link::{Link, LinkError, Outgoing, Received};
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};

use crate::AppState;

/// The message type of patrol units, positions and assignments.
pub const PATROL: &str = "patrol";
/// Patrol messages travel in one stream per partner, in the order they were written.
const STREAM: &str = "patrols";
/// The most positions one message carries.
const MAX_POSITIONS: usize = 1000;
/// The most units or assignments one message carries.
const MAX_UNITS: usize = 1000;
/// The most positions per unit one sharing pass reads from the store.
const PASS_LIMIT: usize = 10_000;

/// What a `patrol` message carries (version 1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatrolMessage {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<SharedUnit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub positions: Vec<SharedPosition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignments: Vec<Assignment>,
}

/// A unit as it is, and when its agency changed it last (a partner keeps the newest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedUnit {
    pub unit: Unit,
    pub updated: DateTime<Utc>,
}

/// One unit's position as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedPosition {
    pub unit: UnitId,
    pub position: Position,
}

fn labels(link: &Link) -> Labels {
    let purpose = super::incidents::share_purpose(link.config().regime);
    Labels::full(Category::PatrolPositions, link.config().agency.as_str(), purpose)
}

fn outgoing(link: &Link, to: &AgencyId, message: &PatrolMessage, about: String) -> Option<Outgoing> {
    let payload = serde_json::to_vec(message).ok()?;
    Some(Outgoing {
        partner: to.clone(),
        kind: MessageType::new(PATROL).expect("a valid type"),
        stream: STREAM.into(),
        payload,
        about: Some(about),
        labels: Some(labels(link)),
        approved_request: false,
    })
}

async fn send(link: &Link, items: Vec<Outgoing>) {
    if items.is_empty() {
        return;
    }
    match link.send(items).await {
        Ok(results) => {
            for e in results.into_iter().filter_map(Result::err) {
                match e {
                    // Audited by the link: the agreement decides, nothing failed.
                    LinkError::NotAgreed { .. } => {
                        tracing::info!(error = %e, "the agreement does not share this patrol data")
                    }
                    e => tracing::error!(error = %e, "patrol data was not queued for a partner"),
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "patrol data was not queued for partners"),
    }
}

/// Sends changed units of this agency and new assignments to every partner the link carries
/// `patrol` to, now (the agreement decides, and the link logs its refusals). Covert units,
/// and their assignments, are left out.
pub(crate) async fn send_changes(state: &AppState, units: &[(Unit, DateTime<Utc>)], assignments: &[Assignment]) {
    let Some(fed) = state.federation.get() else { return };
    let link = &fed.link;
    let me = link.config().agency.clone();
    let units: Vec<SharedUnit> = units
        .iter()
        .filter(|(u, _)| !u.covert && u.id.agency == me)
        .map(|(unit, updated)| SharedUnit { unit: unit.clone(), updated: *updated })
        .collect();
    let assignments: Vec<Assignment> =
        assignments.iter().filter(|a| units.iter().any(|u| u.unit.id == a.unit)).cloned().collect();
    if units.is_empty() {
        return;
    }
    let about = match assignments.first() {
        Some(a) => format!("patrol:assignment:{}:{}", a.unit, a.target.key()),
        None => format!("patrol:unit:{}", units[0].unit.id),
    };
    let message = PatrolMessage { units, positions: vec![], assignments };
    let items = link
        .recipients(&MessageType::new(PATROL).expect("a valid type"))
        .iter()
        .filter_map(|to| outgoing(link, to, &message, about.clone()))
        .collect();
    send(link, items).await;
}

/// Shares this agency's units' positions, thinned, every `[patrols] share_every_seconds`.
pub(super) async fn share(state: AppState, link: Link) {
    let every = state.options.patrols.share_every.max(std::time::Duration::from_millis(100));
    // Per partner, whether the agreement refused the last pass.
    let mut refused: HashMap<AgencyId, bool> = HashMap::new();
    loop {
        if let Err(e) = share_once(&state, &link, &mut refused).await {
            tracing::error!(error = %e, "sharing patrol positions; will retry");
        }
        tokio::time::sleep(every).await;
    }
}

async fn share_once(state: &AppState, link: &Link, refused: &mut HashMap<AgencyId, bool>) -> Result<(), String> {
    let store = state.store.clone();
    let unshared = super::blocking(move || store.unshared_positions(PASS_LIMIT)).await?;
    let thinning = state.options.patrols.thinning();
    let mut units = Vec::new();
    let mut positions = Vec::new();
    let mut marks = Vec::new();
    for u in unshared.into_iter().filter(|u| !u.positions.is_empty()) {
        let kept = thin(u.shared.as_ref(), &u.positions, &thinning);
        let checked = u.positions.last().map(|p| p.time).unwrap_or_else(Utc::now);
        marks.push((u.unit.id.clone(), kept.last().cloned(), checked));
        if !kept.is_empty() {
            positions.extend(kept.into_iter().map(|position| SharedPosition { unit: u.unit.id.clone(), position }));
            units.push(SharedUnit { unit: u.unit, updated: u.updated });
        }
    }
    if !positions.is_empty() {
        let kind = MessageType::new(PATROL).expect("a valid type");
        let labels = labels(link);
        let now = Utc::now();
        let mut items = Vec::new();
        for to in link.recipients(&kind) {
            let allowed = link.decide_send(&to, &labels, now).allowed;
            let was_refused = refused.insert(to.clone(), !allowed);
            if !allowed && was_refused == Some(true) {
                continue;
            }
            for chunk in positions.chunks(MAX_POSITIONS) {
                let named: Vec<SharedUnit> =
                    units.iter().filter(|u| chunk.iter().any(|p| p.unit == u.unit.id)).cloned().collect();
                let message = PatrolMessage { units: named, positions: chunk.to_vec(), assignments: vec![] };
                items.extend(outgoing(link, &to, &message, format!("patrol:positions:{}", chunk.len())));
            }
        }
        send(link, items).await;
    }
    if !marks.is_empty() {
        let store = state.store.clone();
        super::blocking(move || store.mark_shared(&marks)).await?;
    }
    Ok(())
}

pub(crate) use super::NotApplied;

/// Checks what a partner sent and stores it.
pub(crate) async fn received(state: &AppState, r: &Received) -> Result<(), NotApplied> {
    let m = check(r).map_err(NotApplied::Invalid)?;
    let positions = m.positions.into_iter().map(|p| (p.unit, p.position)).collect();
    let units = m.units.into_iter().map(|u| (u.unit, u.updated)).collect();
    crate::patrols::apply_partner(state, r.sender.clone(), units, positions, m.assignments)
        .await
        .map_err(NotApplied::Store)
}

fn check(r: &Received) -> Result<PatrolMessage, String> {
    match r.labels.as_ref() {
        Some(l) if l.category == Category::PatrolPositions && l.origin == r.sender.as_str() => {}
        other => return Err(format!("patrol data labelled {other:?}")),
    }
    let m: PatrolMessage = serde_json::from_slice(&r.payload).map_err(|e| e.to_string())?;
    if m.units.len() > MAX_UNITS || m.assignments.len() > MAX_UNITS || m.positions.len() > MAX_POSITIONS {
        return Err(format!(
            "{} units, {} positions, {} assignments in one message (at most {MAX_UNITS}, {MAX_POSITIONS}, {MAX_UNITS})",
            m.units.len(),
            m.positions.len(),
            m.assignments.len()
        ));
    }
    let theirs = |id: &UnitId| {
        if id.agency == r.sender {
            Ok(())
        } else {
            Err(format!("{} sent data of unit {id}: agencies send only their own units", r.sender))
        }
    };
    let now = Utc::now();
    for SharedUnit { unit: u, updated } in &m.units {
        theirs(&u.id)?;
        if (*updated - now).num_seconds() > limes_cooperation::patrol::MAX_AHEAD_S {
            return Err(format!("unit {}: changed at {updated}, ahead of this node's clock", u.id));
        }
        u.check().map_err(|e| format!("unit {}: {e}", u.id))?;
        if u.covert {
            return Err(format!("unit {} is marked covert: it should never have been sent", u.id));
        }
    }
    for p in &m.positions {
        theirs(&p.unit)?;
        p.position.check(now).map_err(|e| format!("unit {}: {e}", p.unit))?;
    }
    for a in &m.assignments {
        theirs(&a.unit)?;
        a.check().map_err(|e| format!("assignment of {}: {e}", a.unit))?;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use limes_cooperation::patrol::{Crew, UnitKind, UnitStatus};

    fn received(sender: &str, message: &PatrolMessage, category: Category) -> Received {
        Received {
            row: 1,
            id: limes_federation::MessageId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            sender: AgencyId::new(sender).unwrap(),
            kind: PATROL.into(),
            stream: STREAM.into(),
            seq: 1,
            created: Utc::now(),
            received: Utc::now(),
            payload: serde_json::to_vec(message).unwrap(),
            labels: Some(Labels::full(category, sender, "public_security")),
        }
    }

    fn unit(id: &str) -> Unit {
        Unit {
            id: id.parse().unwrap(),
            callsign: "Vatin 2".into(),
            kind: UnitKind::Car,
            vehicle: String::new(),
            crew: Crew { size: 2, roles: vec![] },
            status: UnitStatus::EnRoute,
            assignment: None,
            covert: false,
        }
    }

    #[test]
    fn a_partner_sends_only_its_own_open_units_valid_and_labelled() {
        let ok = PatrolMessage {
            units: vec![SharedUnit { unit: unit("rs-mup/VT-2"), updated: Utc::now() }],
            positions: vec![SharedPosition {
                unit: "rs-mup/VT-2".parse().unwrap(),
                position: Position::at(Utc::now(), 45.2, 21.1),
            }],
            assignments: vec![],
        };
        assert!(check(&received("rs-mup", &ok, Category::PatrolPositions)).is_ok());
        let e = check(&received("rs-mup", &ok, Category::Incidents)).unwrap_err();
        assert!(e.contains("labelled"), "{e}");
        let e = check(&received("ro-igpf", &ok, Category::PatrolPositions)).unwrap_err();
        assert!(e.contains("only their own units"), "{e}");
        let covert = PatrolMessage {
            units: vec![SharedUnit { unit: Unit { covert: true, ..unit("rs-mup/VT-2") }, updated: Utc::now() }],
            ..ok.clone()
        };
        assert!(check(&received("rs-mup", &covert, Category::PatrolPositions)).unwrap_err().contains("covert"));
        let mut far = ok.clone();
        far.positions[0].position.time = Utc::now() + chrono::Duration::hours(1);
        assert!(check(&received("rs-mup", &far, Category::PatrolPositions)).unwrap_err().contains("ahead"));
        let mut off_earth = ok;
        off_earth.positions[0].position.lat = 123.0;
        assert!(check(&received("rs-mup", &off_earth, Category::PatrolPositions)).unwrap_err().contains("WGS84"));
    }
}
