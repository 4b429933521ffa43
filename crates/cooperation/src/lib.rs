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
//!
//! The node (`limes-server`) stores the events, sends each to the agencies involved under the
//! sharing agreements, and folds them for the API and the page; `limes-store` keeps them.
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

pub mod area;
pub mod bulletin;
pub mod clock;
pub mod exercise;
pub mod incident;
pub mod operation;
