//! Patrol units: who is out there, where, and doing what; which unit to send to an alert or
//! an incident; what a partner agency sees of it.
//!
//! A [`Unit`] is a vehicle, boat, aircraft or officers on foot with its crew (a count and the
//! crew's role labels, never names: who is on a shift is the agency's own business), its
//! [`UnitStatus`] and, once dispatched, the [`Target`] it is assigned to. Units report
//! [`Position`]s; [`judge`] takes a unit's report in time order against the latest position
//! stored (WGS84, not ahead of the node's clock, never older than what the unit already
//! reported). [`suggest`] ranks the available units with a fresh position by their distance
//! to a point, with an estimated time of arrival. A partner needs a unit's route, not every
//! GPS fix: [`thin`] keeps at most one position per interval (and none while the unit does
//! not move) for sharing, and [`simplify`] draws a route with fewer vertices (Douglas–Peucker).
//!
//! ```
//! use chrono::{Duration, Utc};
//! use limes_cooperation::patrol::*;
//! use limes_model::GeoPoint;
//!
//! let now = Utc::now();
//! let unit = |code: &str, status| Unit {
//!     id: format!("ro-igpf/{code}").parse().unwrap(),
//!     callsign: format!("Siret {code}"),
//!     kind: UnitKind::Car,
//!     vehicle: String::new(),
//!     crew: Crew { size: 2, roles: vec![CrewRole::Driver, CrewRole::Commander] },
//!     status,
//!     assignment: None,
//!     covert: false,
//! };
//! let (near, far, busy) = (unit("11", UnitStatus::Available), unit("12", UnitStatus::Available), unit("13", UnitStatus::Busy));
//! let at = |lat: f64| Position::at(now - Duration::seconds(30), lat, 26.07);
//! let (p1, p2, p3) = (at(47.95), at(47.90), at(47.951));
//! let crossing = GeoPoint::new(47.96, 26.07).unwrap();
//! let ranked = suggest([(&far, Some(&p2)), (&near, Some(&p1)), (&busy, Some(&p3))], crossing, now, &SuggestOptions::default());
//! assert_eq!(ranked.iter().map(|s| s.unit.to_string()).collect::<Vec<_>>(), ["ro-igpf/11", "ro-igpf/12"]);
//! assert!((ranked[0].distance_m - 1_112.0).abs() < 5.0);
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use limes_model::{AgencyId, GeoPoint};
use serde::{Deserialize, Serialize};

use crate::incident::IncidentId;

/// The longest callsign.
pub const MAX_CALLSIGN: usize = 40;
/// The longest vehicle description.
pub const MAX_VEHICLE: usize = 100;
/// The longest note on an assignment.
pub const MAX_NOTE: usize = 1_000;
/// The largest crew (a patrol boat or a helicopter's is far smaller; a bus of riot police is
/// not one unit).
pub const MAX_CREW: u8 = 60;
/// How far ahead of the node's clock a position may be, in seconds. A fix carries GNSS
/// time; a device whose clock runs further ahead is broken, and its positions would outrank
/// every true one that follows.
pub const MAX_AHEAD_S: i64 = 60;
/// The fastest a unit may report moving, km/h (a fixed-wing aircraft's cruise).
pub const MAX_SPEED_KMH: f32 = 1_000.0;
/// The largest accuracy radius a position may give, metres.
pub const MAX_ACCURACY_M: f32 = 100_000.0;
/// The longest unit code (the part after the agency).
pub const MAX_CODE: usize = 32;

code_list!(
    /// What a unit moves in.
    UnitKind {
        Car = "car",
        Van = "van",
        Motorbike = "motorbike",
        Bicycle = "bicycle",
        Foot = "foot",
        Mounted = "mounted",
        Dog = "dog",
        Boat = "boat",
        Helicopter = "helicopter",
        Aircraft = "aircraft",
        Drone = "drone",
        Other = "other",
    }
);

code_list!(
    /// What a unit is doing.
    UnitStatus {
        /// On duty, free to be sent.
        Available = "available",
        /// Dispatched, on its way.
        EnRoute = "en-route",
        /// Arrived where it was sent.
        OnScene = "on-scene",
        /// On duty, occupied with something else (a check, a report, an arrest).
        Busy = "busy",
        /// Off shift.
        OffDuty = "off-duty",
        /// Cannot be sent (breakdown, refuelling, maintenance).
        OutOfService = "out-of-service",
    }
);

code_list!(
    /// What a crew member does in the unit; a label, never a name.
    CrewRole {
        Commander = "commander",
        Driver = "driver",
        Officer = "officer",
        Pilot = "pilot",
        Observer = "observer",
        DogHandler = "dog-handler",
        Medic = "medic",
        Interpreter = "interpreter",
        /// An officer of a partner agency on a joint patrol.
        Liaison = "liaison",
        Other = "other",
    }
);

impl UnitStatus {
    /// Whether the unit is on duty, so that it can be sent somewhere.
    pub fn on_duty(self) -> bool {
        !matches!(self, UnitStatus::OffDuty | UnitStatus::OutOfService)
    }

    /// Whether a unit that takes this status is done with its assignment.
    pub fn ends_assignment(self) -> bool {
        matches!(self, UnitStatus::Available | UnitStatus::OffDuty | UnitStatus::OutOfService)
    }
}

impl UnitKind {
    /// The average speed a dispatcher plans with, km/h: through traffic and terrain, not the
    /// top speed.
    pub fn planning_speed_kmh(self) -> f64 {
        match self {
            UnitKind::Car => 60.0,
            UnitKind::Van => 50.0,
            UnitKind::Motorbike => 60.0,
            UnitKind::Bicycle => 15.0,
            UnitKind::Foot | UnitKind::Dog => 5.0,
            UnitKind::Mounted => 10.0,
            UnitKind::Boat => 30.0,
            UnitKind::Helicopter => 200.0,
            UnitKind::Aircraft => 300.0,
            UnitKind::Drone => 50.0,
            UnitKind::Other => 30.0,
        }
    }

    /// How much longer than the straight line the way there is: roads and paths wind,
    /// aircraft fly straight.
    pub fn detour(self) -> f64 {
        match self {
            UnitKind::Helicopter | UnitKind::Aircraft | UnitKind::Drone => 1.0,
            _ => 1.3,
        }
    }
}

/// Why a unit, a position or an assignment was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatrolError {
    /// A unit id that is not `AGENCY/CODE`, or a code with other characters.
    #[error("{0}")]
    Id(String),
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{field} contains control characters")]
    Control { field: &'static str },
    /// A crew too large, or with more role labels than members.
    #[error("a crew of {size} with {roles} role labels: at most {MAX_CREW} members and one label each")]
    Crew { size: u8, roles: usize },
    /// Latitude or longitude outside WGS84, or not finite.
    #[error("position ({lat}, {lon}) is not a WGS84 latitude/longitude")]
    Wgs84 { lat: f64, lon: f64 },
    #[error("position time {time} is {ahead_s} s ahead of this node's clock (at most {MAX_AHEAD_S} s allowed)")]
    Future { time: DateTime<Utc>, ahead_s: i64 },
    #[error("position time {0} is before 2000-01-01")]
    Ancient(DateTime<Utc>),
    /// Older than the latest position the unit already reported.
    #[error("position time {time} is older than the unit's latest position ({latest}): a unit reports in time order")]
    Older { time: DateTime<Utc>, latest: DateTime<Utc> },
    #[error("speed {0} km/h is not in 0..={MAX_SPEED_KMH}")]
    Speed(f32),
    #[error("heading {0} is not in 0..360 degrees")]
    Heading(f32),
    #[error("accuracy {0} m is not in 0..={MAX_ACCURACY_M}")]
    Accuracy(f32),
    /// Only a unit on duty can be sent somewhere.
    #[error("unit {unit} is {status}: only a unit on duty can be assigned")]
    NotOnDuty { unit: UnitId, status: UnitStatus },
}

fn text(field: &'static str, s: &str, max: usize, multiline: bool) -> Result<(), PatrolError> {
    match crate::text_problem(s, max, multiline) {
        Some(crate::TextProblem::TooLong) => Err(PatrolError::TooLong { field, max }),
        Some(crate::TextProblem::Control) => Err(PatrolError::Control { field }),
        None => Ok(()),
    }
}

/// A unit's code within its agency (`BV-12`, `SIRET.K9`): 1 to 32 letters, digits and
/// `- _ . :`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitCode(String);

impl UnitCode {
    pub fn new(s: impl Into<String>) -> Result<Self, PatrolError> {
        let s = s.into();
        if s.is_empty() {
            return Err(PatrolError::Id("unit code is empty".into()));
        }
        if s.len() > MAX_CODE {
            return Err(PatrolError::Id(format!("unit code {s:?} is longer than {MAX_CODE} characters")));
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) {
            return Err(PatrolError::Id(format!("unit code {s:?} may hold only letters, digits and - _ . :")));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A unit's id: its agency and its code there (`ro-igpf/BV-12`), the same on every node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitId {
    pub agency: AgencyId,
    pub code: UnitCode,
}

impl UnitId {
    pub fn new(agency: &str, code: &str) -> Result<Self, PatrolError> {
        let agency = AgencyId::new(agency).map_err(|e| PatrolError::Id(e.to_string()))?;
        Ok(Self { agency, code: UnitCode::new(code)? })
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.agency, self.code.0)
    }
}

impl FromStr for UnitId {
    type Err = PatrolError;
    fn from_str(s: &str) -> Result<Self, PatrolError> {
        let (agency, code) =
            s.split_once('/').ok_or_else(|| PatrolError::Id(format!("unit id {s:?} is not AGENCY/CODE")))?;
        UnitId::new(agency, code)
    }
}

impl Serialize for UnitId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UnitId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Who is in a unit: how many, and what they do. Never who: names of officers on a shift are
/// not shared, stored or shown here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crew {
    pub size: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<CrewRole>,
}

/// An alert, by the agency that raised it and its id there (the same alert on every node
/// that holds it: a partner's alert is kept with its origin's id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRef {
    pub agency: AgencyId,
    pub id: i64,
}

/// Where a unit is sent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Target {
    /// A hotlist alert (`{"alert": {"agency": "ro-igpf", "id": 17}}`).
    Alert(AlertRef),
    /// An incident (`{"incident": "pl-psp/3"}`).
    Incident(IncidentId),
}

impl Target {
    /// The agency whose alert or incident it is.
    pub fn agency(&self) -> &AgencyId {
        match self {
            Target::Alert(a) => &a.agency,
            Target::Incident(i) => &i.origin,
        }
    }

    /// A text key, the same on every node (`alert:ro-igpf:17`, `incident:pl-psp/3`).
    pub fn key(&self) -> String {
        match self {
            Target::Alert(a) => format!("alert:{}:{}", a.agency, a.id),
            Target::Incident(i) => format!("incident:{i}"),
        }
    }
}

/// A patrol unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub id: UnitId,
    /// What the radio calls it.
    pub callsign: String,
    pub kind: UnitKind,
    /// The vehicle, in a few words (make, colour, markings).
    #[serde(default)]
    pub vehicle: String,
    pub crew: Crew,
    pub status: UnitStatus,
    /// What it was sent to, until it is available again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Target>,
    /// A covert unit: never shared with any partner, whatever the agreements say.
    #[serde(default)]
    pub covert: bool,
}

impl Unit {
    /// Checks what the types cannot: lengths, characters, the crew.
    pub fn check(&self) -> Result<(), PatrolError> {
        if self.callsign.trim().is_empty() {
            return Err(PatrolError::Empty("callsign"));
        }
        text("callsign", &self.callsign, MAX_CALLSIGN, false)?;
        text("vehicle", &self.vehicle, MAX_VEHICLE, false)?;
        if self.crew.size > MAX_CREW || self.crew.roles.len() > usize::from(self.crew.size) {
            return Err(PatrolError::Crew { size: self.crew.size, roles: self.crew.roles.len() });
        }
        Ok(())
    }

    /// Takes `status`; a unit that becomes available or goes off duty is done with its
    /// assignment. Whether anything changed.
    pub fn set_status(&mut self, status: UnitStatus) -> bool {
        let before = (self.status, self.assignment.clone());
        self.status = status;
        if status.ends_assignment() {
            self.assignment = None;
        }
        before != (self.status, self.assignment.clone())
    }

    /// Sends the unit to `target`: it is en route. A unit off duty or out of service cannot
    /// be sent; one already on its way somewhere can be diverted.
    pub fn assign(&mut self, target: Target) -> Result<(), PatrolError> {
        if !self.status.on_duty() {
            return Err(PatrolError::NotOnDuty { unit: self.id.clone(), status: self.status });
        }
        self.status = UnitStatus::EnRoute;
        self.assignment = Some(target);
        Ok(())
    }
}

/// Where a unit was, when (a GNSS fix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub time: DateTime<Utc>,
    pub lat: f64,
    pub lon: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f32>,
    /// Degrees clockwise from true north.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<f32>,
    /// The radius the fix is good to, metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f32>,
}

impl Position {
    /// A position with a time and a place only.
    pub fn at(time: DateTime<Utc>, lat: f64, lon: f64) -> Self {
        Self { time, lat, lon, speed_kmh: None, heading: None, accuracy_m: None }
    }

    /// The place (check it first: an unchecked position may be outside WGS84).
    pub fn point(&self) -> GeoPoint {
        GeoPoint { lat: self.lat, lon: self.lon }
    }

    /// Checks the position on its own: WGS84, a time neither ahead of `now` by more than
    /// [`MAX_AHEAD_S`] nor before 2000, speed, heading and accuracy in range.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), PatrolError> {
        GeoPoint::new(self.lat, self.lon).map_err(|_| PatrolError::Wgs84 { lat: self.lat, lon: self.lon })?;
        let ahead_s = (self.time - now).num_seconds();
        if ahead_s > MAX_AHEAD_S {
            return Err(PatrolError::Future { time: self.time, ahead_s });
        }
        if self.time.timestamp() < 946_684_800 {
            return Err(PatrolError::Ancient(self.time));
        }
        if let Some(v) = self.speed_kmh
            && !(0.0..=MAX_SPEED_KMH).contains(&v)
        {
            return Err(PatrolError::Speed(v));
        }
        if let Some(h) = self.heading
            && !(0.0..360.0).contains(&h)
        {
            return Err(PatrolError::Heading(h));
        }
        if let Some(a) = self.accuracy_m
            && !(0.0..=MAX_ACCURACY_M).contains(&a)
        {
            return Err(PatrolError::Accuracy(a));
        }
        Ok(())
    }
}

/// What becomes of one reported position.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Kept.
    Accepted,
    /// The unit reported a position at this time already (a device sending again what it
    /// is not sure was received): nothing to keep, nothing wrong.
    Duplicate,
    Refused(PatrolError),
}

/// Judges a unit's reported positions, in time order, against `latest` (the time of the
/// latest position stored for the unit): each is checked on its own ([`Position::check`])
/// and must be later than every position taken before it. The verdicts are in the order of
/// `positions`; a report need not be sorted.
pub fn judge(latest: Option<DateTime<Utc>>, positions: &[Position], now: DateTime<Utc>) -> Vec<Verdict> {
    let mut order: Vec<usize> = (0..positions.len()).collect();
    order.sort_by_key(|&i| positions[i].time);
    let mut verdicts = vec![Verdict::Duplicate; positions.len()];
    let mut latest = latest;
    for i in order {
        let p = &positions[i];
        verdicts[i] = match (p.check(now), latest) {
            (Err(e), _) => Verdict::Refused(e),
            (Ok(()), Some(l)) if p.time < l => Verdict::Refused(PatrolError::Older { time: p.time, latest: l }),
            (Ok(()), Some(l)) if p.time == l => Verdict::Duplicate,
            (Ok(()), _) => {
                latest = Some(p.time);
                Verdict::Accepted
            }
        };
    }
    verdicts
}

/// A unit sent somewhere: by whom, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub unit: UnitId,
    pub target: Target,
    /// Who sent it (an account name at the unit's agency).
    pub by: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Sent to an exercise's alert or incident (`limes exercise run`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
}

impl Assignment {
    pub fn check(&self) -> Result<(), PatrolError> {
        text("by", &self.by, 64, false)?;
        text("note", &self.note, MAX_NOTE, true)
    }
}

/// How [`suggest`] chooses.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestOptions {
    /// A position older than this says too little about where a unit is now.
    pub fresh_within: Duration,
    /// The most units suggested.
    pub limit: usize,
    /// Units further away than this (metres) are not suggested.
    pub max_distance_m: Option<f64>,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        Self { fresh_within: Duration::minutes(10), limit: 10, max_distance_m: None }
    }
}

/// A unit [`suggest`] proposes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub unit: UnitId,
    pub callsign: String,
    pub kind: UnitKind,
    /// Straight-line (great-circle) distance, metres.
    pub distance_m: f64,
    /// The speed the estimate assumes ([`UnitKind::planning_speed_kmh`]).
    pub speed_kmh: f64,
    /// Estimated time of arrival, seconds: the distance, longer by the kind's
    /// [`UnitKind::detour`], at that speed.
    pub eta_s: u64,
    /// The position it is ranked by, and its age in seconds.
    pub position: Position,
    pub age_s: i64,
}

/// The units to send to `target`, nearest first: those available with a position fresher
/// than [`SuggestOptions::fresh_within`], each with its distance and an estimated time of
/// arrival. Ties are broken by unit id, so every call ranks alike.
pub fn suggest<'a>(
    units: impl IntoIterator<Item = (&'a Unit, Option<&'a Position>)>,
    target: GeoPoint,
    now: DateTime<Utc>,
    options: &SuggestOptions,
) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = units
        .into_iter()
        .filter(|(u, _)| u.status == UnitStatus::Available)
        .filter_map(|(u, p)| {
            let p = p?;
            let age = now - p.time;
            if age > options.fresh_within || GeoPoint::new(p.lat, p.lon).is_err() {
                return None;
            }
            let distance_m = p.point().distance_m(&target);
            if options.max_distance_m.is_some_and(|max| distance_m > max) {
                return None;
            }
            let speed_kmh = u.kind.planning_speed_kmh();
            let eta_s = (distance_m * u.kind.detour() / (speed_kmh / 3.6)).ceil() as u64;
            Some(Suggestion {
                unit: u.id.clone(),
                callsign: u.callsign.clone(),
                kind: u.kind,
                distance_m,
                speed_kmh,
                eta_s,
                position: p.clone(),
                age_s: age.num_seconds().max(0),
            })
        })
        .collect();
    out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then_with(|| a.unit.cmp(&b.unit)));
    out.truncate(options.limit);
    out
}

/// How a unit's positions are thinned before they are shared.
#[derive(Debug, Clone, PartialEq)]
pub struct Thinning {
    /// At most one position per this interval (by the positions' own times).
    pub min_interval: Duration,
    /// A unit that moved less than this (metres) since the last position kept...
    pub min_distance_m: f64,
    /// ...is kept again only after this long, so a partner sees that it is still there.
    pub heartbeat: Duration,
}

/// The positions of `track` worth sharing after `last` (the last one shared, if any): in time
/// order, each at least [`Thinning::min_interval`] after the one kept before it, and either
/// [`Thinning::min_distance_m`] away from it or [`Thinning::heartbeat`] after it. Positions
/// at or before `last` are left out.
pub fn thin(last: Option<&Position>, track: &[Position], t: &Thinning) -> Vec<Position> {
    let mut sorted: Vec<&Position> = track.iter().collect();
    sorted.sort_by_key(|p| p.time);
    let mut kept: Vec<Position> = Vec::new();
    let mut previous = last.cloned();
    for p in sorted {
        if last.is_some_and(|l| p.time <= l.time) {
            continue;
        }
        let keep = match &previous {
            None => true,
            Some(q) => {
                let gap = p.time - q.time;
                gap >= t.min_interval && (gap >= t.heartbeat || p.point().distance_m(&q.point()) >= t.min_distance_m)
            }
        };
        if keep {
            kept.push(p.clone());
            previous = Some(p.clone());
        }
    }
    kept
}

/// Metres east and north of `origin` on a plane tangent there (equirectangular): good to a
/// fraction of a percent over the tens of kilometres a route spans.
fn local(origin: &Position, p: &Position) -> (f64, f64) {
    const R: f64 = 6_371_008.8;
    let dlon = (p.lon - origin.lon + 540.0).rem_euclid(360.0) - 180.0;
    let x = dlon.to_radians() * R * origin.lat.to_radians().cos();
    let y = (p.lat - origin.lat).to_radians() * R;
    (x, y)
}

/// How far `p` is from the segment `a`–`b`, metres.
pub fn offset_m(p: &Position, a: &Position, b: &Position) -> f64 {
    let (px, py) = local(a, p);
    let (bx, by) = local(a, b);
    let len2 = bx * bx + by * by;
    let t = if len2 == 0.0 { 0.0 } else { ((px * bx + py * by) / len2).clamp(0.0, 1.0) };
    ((px - t * bx).powi(2) + (py - t * by).powi(2)).sqrt()
}

/// A route with fewer vertices: Douglas–Peucker, keeping the first and last position and
/// every position further than `tolerance_m` from the line the kept ones draw (every
/// position when `tolerance_m` is 0).
///
/// Written here (thirty lines, iterative so a day's track cannot overflow the stack) rather
/// than taken from `geo`, whose one function would bring its boolean operations,
/// triangulation and spatial index crates with it.
pub fn simplify(track: &[Position], tolerance_m: f64) -> Vec<Position> {
    if track.len() < 3 || tolerance_m <= 0.0 {
        return track.to_vec();
    }
    let mut keep = vec![false; track.len()];
    keep[0] = true;
    keep[track.len() - 1] = true;
    let mut spans = vec![(0, track.len() - 1)];
    while let Some((first, last)) = spans.pop() {
        let farthest = (first + 1..last)
            .map(|i| (i, offset_m(&track[i], &track[first], &track[last])))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, d)) = farthest
            && d > tolerance_m
        {
            keep[i] = true;
            spans.push((first, i));
            spans.push((i, last));
        }
    }
    track.iter().zip(keep).filter(|(_, k)| *k).map(|(p, _)| p.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + s, 0).unwrap()
    }

    #[test]
    fn ids_and_codes_read_as_the_api_writes_them() {
        let id: UnitId = "ro-igpf/BV-12".parse().unwrap();
        assert_eq!((id.agency.as_str(), id.code.as_str()), ("ro-igpf", "BV-12"));
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""ro-igpf/BV-12""#);
        for bad in ["ro-igpf", "ro-igpf/", "/BV-12", "ro-igpf/BV 12", "ro-igpf/a/b", "ro igpf/x"] {
            assert!(bad.parse::<UnitId>().is_err(), "{bad}");
        }
        assert_eq!("en-route".parse::<UnitStatus>(), Ok(UnitStatus::EnRoute));
        let e = "parked".parse::<UnitStatus>().unwrap_err();
        assert!(e.starts_with("unknown unit status \"parked\" (one of available, en-route"), "{e}");
        let target: Target = serde_json::from_str(r#"{"incident": "pl-psp/3"}"#).unwrap();
        assert_eq!(target.key(), "incident:pl-psp/3");
        let alert: Target = serde_json::from_str(r#"{"alert": {"agency": "ro-igpf", "id": 17}}"#).unwrap();
        assert_eq!((alert.key(), alert.agency().as_str()), ("alert:ro-igpf:17".into(), "ro-igpf"));
    }

    #[test]
    fn positions_are_checked_on_their_own_and_in_time_order() {
        let now = t(1000);
        let ok = Position::at(t(990), 47.95, 26.07);
        assert_eq!(ok.check(now), Ok(()));
        for (p, want) in [
            (Position::at(t(990), 91.0, 26.0), "not a WGS84"),
            (Position::at(t(990), f64::NAN, 26.0), "not a WGS84"),
            (Position::at(t(1000 + MAX_AHEAD_S + 1), 47.0, 26.0), "ahead of this node's clock"),
            (Position::at(DateTime::from_timestamp(0, 0).unwrap(), 47.0, 26.0), "before 2000"),
            (Position { speed_kmh: Some(-1.0), ..ok.clone() }, "speed"),
            (Position { heading: Some(360.0), ..ok.clone() }, "heading"),
            (Position { accuracy_m: Some(f32::NAN), ..ok.clone() }, "accuracy"),
        ] {
            let e = p.check(now).unwrap_err().to_string();
            assert!(e.contains(want), "{p:?}: {e}");
        }
        // Sent unsorted, judged in time order; the same time again is a duplicate, an older
        // one than the stored latest is refused.
        let batch = [
            Position::at(t(995), 47.0, 26.0),
            Position::at(t(980), 47.0, 26.0),
            Position::at(t(990), 47.0, 26.0),
            Position::at(t(995), 47.1, 26.0),
            Position::at(t(960), 47.0, 26.0),
        ];
        let v = judge(Some(t(970)), &batch, now);
        assert_eq!(v[0], Verdict::Accepted);
        assert_eq!(v[1], Verdict::Accepted);
        assert_eq!(v[2], Verdict::Accepted);
        assert_eq!(v[3], Verdict::Duplicate);
        assert!(matches!(&v[4], Verdict::Refused(PatrolError::Older { .. })), "{:?}", v[4]);
    }

    #[test]
    fn units_are_checked_and_statuses_end_assignments() {
        let mut u = Unit {
            id: "hu-police/CS-1".parse().unwrap(),
            callsign: "Csongrád 1".into(),
            kind: UnitKind::Boat,
            vehicle: "RIB, grey".into(),
            crew: Crew { size: 2, roles: vec![CrewRole::Pilot] },
            status: UnitStatus::Available,
            assignment: None,
            covert: false,
        };
        assert_eq!(u.check(), Ok(()));
        let mut bad = u.clone();
        bad.crew.roles = vec![CrewRole::Pilot; 3];
        assert!(matches!(bad.check(), Err(PatrolError::Crew { .. })));
        bad = Unit { callsign: "  ".into(), ..u.clone() };
        assert_eq!(bad.check(), Err(PatrolError::Empty("callsign")));
        bad = Unit { vehicle: "RIB\u{7}".into(), ..u.clone() };
        assert_eq!(bad.check(), Err(PatrolError::Control { field: "vehicle" }));

        let incident = Target::Incident("rs-mup/4".parse().unwrap());
        u.assign(incident.clone()).unwrap();
        assert_eq!((u.status, u.assignment.as_ref()), (UnitStatus::EnRoute, Some(&incident)));
        assert!(u.set_status(UnitStatus::OnScene));
        assert_eq!(u.assignment.as_ref(), Some(&incident), "on scene, still on it");
        assert!(!u.set_status(UnitStatus::OnScene), "nothing changed");
        assert!(u.set_status(UnitStatus::Available));
        assert_eq!(u.assignment, None);
        u.set_status(UnitStatus::OffDuty);
        assert!(matches!(u.assign(incident), Err(PatrolError::NotOnDuty { .. })));
    }

    #[test]
    fn a_straight_track_simplifies_to_its_ends_and_a_corner_stays() {
        let straight: Vec<Position> = (0..50).map(|i| Position::at(t(i), 47.0 + i as f64 * 1e-3, 26.0)).collect();
        let s = simplify(&straight, 1.0);
        assert_eq!(s, vec![straight[0].clone(), straight[49].clone()]);
        let mut corner = straight[..25].to_vec();
        corner.extend((1..25).map(|i| Position::at(t(25 + i), 47.024, 26.0 + i as f64 * 1e-3)));
        let s = simplify(&corner, 5.0);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[1], corner[24]);
        // Across the antimeridian the track is a short hop, not a trip round the Earth.
        let hop =
            [Position::at(t(0), 0.0, 179.9995), Position::at(t(1), 0.0005, 180.0), Position::at(t(2), 0.0, -179.9995)];
        assert!(offset_m(&hop[1], &hop[0], &hop[2]) < 60.0);
    }
}
