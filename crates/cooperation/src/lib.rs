//! The cooperation workflows around the camera data, as plain types and functions without
//! I/O: what agencies on both sides of a border write together and how their writings merge.
//!
//! - [`clock`]: hybrid logical clocks, the order of a timeline several agencies write.
//! - [`area`]: where something is (a point or a GeoJSON polygon), checked.
//! - [`incident`]: incidents as the fold of their events; acknowledgement deadlines and
//!   escalation.
//! - [`bulletin`]: intelligence bulletins under the EU 4×4 evaluation and handling codes.
//! - [`operation`]: joint operations (members, an operation hotlist, tasks, documents, hits)
//!   as the fold of their events, closed with the agreed retention.
//! - [`exercise`]: exercise scenarios (TOML), checked before `limes exercise run` plays them.
//! - [`patrol`]: patrol units, their positions and status, assignments to alerts and
//!   incidents, the units to suggest for a place, and routes thinned for sharing.
//!
//! The node (`limes-server`) stores the events, sends each to the agencies involved under the
//! sharing agreements, and folds them for the API and the page; `limes-store` keeps them.
//! Units' positions, statuses and assignments go to partners the same way, as the agreements
//! allow, thinned, and never for a covert unit.
//!
//! ```
//! use chrono::Utc;
//! use limes_cooperation::{clock::Clock, incident::*, area::Area};
//! use limes_model::{AgencyId, GeoPoint};
//!
//! let ro = AgencyId::new("ro-isu").unwrap();
//! let ua = AgencyId::new("ua-dsns").unwrap();
//! let (mut ro_clock, mut ua_clock) = (Clock::new(ro.clone()), Clock::new(ua.clone()));
//! let id = IncidentId { origin: ro.clone(), n: 1 };
//! let raised = Event {
//!     incident: id.clone(),
//!     stamp: ro_clock.stamp(Utc::now()),
//!     exercise: false,
//!     by: None,
//!     change: Change::Raised {
//!         kind: IncidentType::Flood,
//!         severity: Severity::High,
//!         title: "Danube above alert level at Isaccea".into(),
//!         description: String::new(),
//!         area: Area::point(GeoPoint::new(45.27, 28.46).unwrap()),
//!         notified: vec![ua.clone()],
//!     },
//! };
//! ua_clock.observe(&raised.stamp, Utc::now()).unwrap();
//! let ack = Event { stamp: ua_clock.stamp(Utc::now()), change: Change::Acknowledged, ..raised.clone() };
//! let (incident, timeline) = Incident::fold(&[ack, raised]).unwrap();
//! assert!(incident.notified[&ua].acknowledged.is_some());
//! assert_eq!(timeline.len(), 2);
//! ```

/// A closed list of codes (an incident's type, a unit's status): an enum whose values the API,
/// the store and the page's translations know by a kebab-case id, with `ALL` to list them.
macro_rules! code_list {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $id:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name { $($(#[$vdoc])* $variant,)* }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant,)*];

            /// The code the API, the store and the page's translations use.
            pub fn id(self) -> &'static str {
                match self { $($name::$variant => $id,)* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.id())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL.iter().copied().find(|v| v.id() == s).ok_or_else(|| {
                    let known: Vec<&str> = $name::ALL.iter().map(|v| v.id()).collect();
                    format!("unknown {} {s:?} (one of {})", $crate::spaced(stringify!($name)), known.join(", "))
                })
            }
        }
    };
}

pub mod area;
pub mod bulletin;
pub mod clock;
pub mod exercise;
pub mod incident;
pub mod operation;
pub mod patrol;

/// `UnitStatus` as words: `unit status` (what a refused code is called in its error).
#[doc(hidden)]
pub fn spaced(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The id of what an agency creates and shares (an incident, a bulletin, a joint operation):
/// the agency and its number there, `ro-isu/17`, the same on every node that holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedId {
    pub origin: limes_model::AgencyId,
    pub n: u64,
}

impl std::fmt::Display for SharedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.origin, self.n)
    }
}

impl std::str::FromStr for SharedId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (origin, n) = s.rsplit_once('/').ok_or_else(|| format!("id {s:?} is not AGENCY/NUMBER"))?;
        let origin = limes_model::AgencyId::new(origin).map_err(|e| e.to_string())?;
        let n = n.parse().map_err(|_| format!("id {s:?}: {n:?} is not a number"))?;
        Ok(SharedId { origin, n })
    }
}

impl serde::Serialize for SharedId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SharedId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What is wrong with a free-text field, if anything: longer than `max` characters, or a
/// control character (line breaks and tabs allowed where `multiline`). The one check every
/// module's texts go through; each names the field in its own error.
pub(crate) fn text_problem(s: &str, max: usize, multiline: bool) -> Option<TextProblem> {
    if s.chars().count() > max {
        return Some(TextProblem::TooLong);
    }
    s.chars().any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'))).then_some(TextProblem::Control)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextProblem {
    TooLong,
    Control,
}
