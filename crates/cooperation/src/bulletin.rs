//! Intelligence bulletins: structured updates on criminal activity ("bilateral updates on the
//! latest criminal activities"), evaluated and handled under the EU's 4×4 codes.
//!
//! The 4×4 system (Europol Regulation Art. 29; the Council's Manual on Law Enforcement
//! Information Exchange) grades the **source** (A: no doubt of its reliability, B: reliable in
//! most instances, C: unreliable in most instances, X: cannot be assessed) and the
//! **information** (1: not in doubt, 2: known personally to the source, 3: not known personally
//! to the source but corroborated, 4: neither), and sets a **handling code**:
//!
//! - H0: only for preventing and combating crime;
//! - H1: not to be disclosed in judicial proceedings without the provider's permission;
//! - H2: not to be disseminated without the provider's permission (do not forward);
//! - H3: other restrictions, stated in words.
//!
//! [`may_open`] and [`may_forward`] enforce them; the agreement with the provider decides
//! besides (purposes, retention, onward transfer).

use std::fmt;

use chrono::{DateTime, Utc};
use limes_model::AgencyId;
use serde::{Deserialize, Serialize};

use crate::area::Area;

/// The longest title.
pub const MAX_TITLE: usize = 200;
/// The longest free text (summary, modus operandi, restrictions).
pub const MAX_TEXT: usize = 20_000;
/// The most vehicles one bulletin names.
pub const MAX_VEHICLES: usize = 200;
/// The most agencies on a distribution list.
pub const MAX_DISTRIBUTION: usize = 64;

/// How reliable the source is (4×4, first code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    A,
    B,
    C,
    X,
}

/// How accurate the information is (4×4, second code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Information {
    #[serde(rename = "1")]
    One,
    #[serde(rename = "2")]
    Two,
    #[serde(rename = "3")]
    Three,
    #[serde(rename = "4")]
    Four,
}

/// How the information may be handled (4×4 handling codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Handling {
    /// Only for preventing and combating crime.
    H0,
    /// Not to be disclosed in judicial proceedings without the provider's permission.
    H1,
    /// Not to be disseminated without the provider's permission.
    H2,
    /// Other restrictions, stated in `restrictions`.
    H3,
}

impl Handling {
    pub const ALL: [Handling; 4] = [Handling::H0, Handling::H1, Handling::H2, Handling::H3];

    pub fn id(self) -> &'static str {
        match self {
            Handling::H0 => "H0",
            Handling::H1 => "H1",
            Handling::H2 => "H2",
            Handling::H3 => "H3",
        }
    }
}

impl fmt::Display for Handling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A bulletin's id: the agency that issued it and its number there (`ro-igpr/12`).
pub type BulletinId = crate::SharedId;

/// A vehicle a bulletin names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vehicle {
    /// The plate, canonical; the recipient's pseudonym of it when `pseudonymised`.
    pub plate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Make, colour, role in the events ("lead car", "transport").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pseudonymised: bool,
}

/// A bulletin, as issued and as it travels (version 1 of the `bulletin` message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bulletin {
    pub id: BulletinId,
    pub title: String,
    /// What happened.
    pub summary: String,
    /// Where, in words ("A1 between Arad and Nădlac").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub place: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<Area>,
    /// When it happened (from, and until where it lasted).
    pub from: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub modus_operandi: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vehicles: Vec<Vehicle>,
    pub source: Source,
    pub information: Information,
    pub handling: Handling,
    /// The restrictions of an H3 bulletin, in words (required for H3).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub restrictions: String,
    /// The agencies it is issued to.
    pub distribution: Vec<AgencyId>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
    pub issued: DateTime<Utc>,
    /// The agency that passed it on, when it did not come from its issuer directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_by: Option<AgencyId>,
}

/// Why a bulletin was refused, or an act on one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BulletinError {
    #[error("{field} is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{field} contains control characters")]
    Control { field: &'static str },
    #[error("a bulletin names at most {MAX_VEHICLES} vehicles and {MAX_DISTRIBUTION} agencies")]
    TooMany,
    #[error("an H3 bulletin states its restrictions")]
    NoRestrictions,
    #[error("it ends ({until}) before it starts ({from})")]
    Backwards { from: DateTime<Utc>, until: DateTime<Utc> },
    #[error("handling code H2: not to be disseminated without the permission of {0}")]
    DoNotForward(AgencyId),
    #[error("handling code H0: only for preventing and combating crime, not for {0:?}")]
    NotForCrime(String),
    #[error("handling code H1: not for judicial proceedings without the permission of {0}")]
    NotForCourt(AgencyId),
}

fn text(field: &'static str, s: &str, max: usize, multiline: bool) -> Result<(), BulletinError> {
    match crate::text_problem(s, max, multiline) {
        Some(crate::TextProblem::TooLong) => Err(BulletinError::TooLong { field, max }),
        Some(crate::TextProblem::Control) => Err(BulletinError::Control { field }),
        None => Ok(()),
    }
}

impl Bulletin {
    /// Checks lengths, characters, the H3 restrictions and the time range.
    pub fn check(&self) -> Result<(), BulletinError> {
        if self.title.trim().is_empty() {
            return Err(BulletinError::Empty("title"));
        }
        if self.summary.trim().is_empty() {
            return Err(BulletinError::Empty("summary"));
        }
        text("title", &self.title, MAX_TITLE, false)?;
        text("summary", &self.summary, MAX_TEXT, true)?;
        text("place", &self.place, MAX_TITLE, false)?;
        text("modus_operandi", &self.modus_operandi, MAX_TEXT, true)?;
        text("restrictions", &self.restrictions, MAX_TEXT, true)?;
        if self.vehicles.len() > MAX_VEHICLES || self.distribution.len() > MAX_DISTRIBUTION {
            return Err(BulletinError::TooMany);
        }
        for v in &self.vehicles {
            if v.plate.trim().is_empty() {
                return Err(BulletinError::Empty("plate"));
            }
            text("plate", &v.plate, 32, false)?;
            text("vehicle description", &v.description, MAX_TITLE, false)?;
        }
        if self.handling == Handling::H3 && self.restrictions.trim().is_empty() {
            return Err(BulletinError::NoRestrictions);
        }
        if let Some(until) = self.until
            && until < self.from
        {
            return Err(BulletinError::Backwards { from: self.from, until });
        }
        Ok(())
    }

    /// The same bulletin with each plate replaced by `pseudonym(plate)`, as a recipient whose
    /// agreement wants plates pseudonymised gets it.
    pub fn pseudonymised(&self, pseudonym: impl Fn(&str) -> String) -> Bulletin {
        let mut b = self.clone();
        for v in &mut b.vehicles {
            if !v.pseudonymised {
                v.plate = pseudonym(&v.plate);
                v.pseudonymised = true;
            }
        }
        b
    }
}

/// The purposes of "preventing and combating crime" (H0), of the Law Enforcement Directive's.
pub const CRIME_PURPOSES: [&str; 5] =
    ["prevention", "investigation", "detection", "prosecution", "execution_of_penalties"];

/// Whether a bulletin may be opened for `purpose` here. The issuer opens its own for any
/// purpose; others only within the handling code: H0 for the crime purposes alone, H1 not for
/// `prosecution` (judicial proceedings) without the issuer's permission.
pub fn may_open(b: &Bulletin, me: &AgencyId, purpose: &str) -> Result<(), BulletinError> {
    if &b.id.origin == me {
        return Ok(());
    }
    match b.handling {
        Handling::H0 if !CRIME_PURPOSES.contains(&purpose) => Err(BulletinError::NotForCrime(purpose.to_owned())),
        Handling::H1 if purpose == "prosecution" => Err(BulletinError::NotForCourt(b.id.origin.clone())),
        _ => Ok(()),
    }
}

/// Whether `me` may pass a bulletin on to other agencies (the agreement with the issuer
/// decides besides). The issuer may always add recipients; anyone else never an H2 bulletin.
pub fn may_forward(b: &Bulletin, me: &AgencyId) -> Result<(), BulletinError> {
    if &b.id.origin != me && b.handling == Handling::H2 {
        return Err(BulletinError::DoNotForward(b.id.origin.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(s: &str) -> AgencyId {
        AgencyId::new(s).unwrap()
    }

    fn bulletin(handling: Handling) -> Bulletin {
        Bulletin {
            id: BulletinId { origin: agency("ro-igpr"), n: 3 },
            title: "Catalytic converter thefts along the DN6".into(),
            summary: "Four thefts from parked lorries in two nights.".into(),
            place: "DN6 between Timișoara and Moravița".into(),
            area: None,
            from: "2026-11-18T22:00:00Z".parse().unwrap(),
            until: Some("2026-11-20T04:00:00Z".parse().unwrap()),
            modus_operandi: "Two men, battery angle grinder, under five minutes".into(),
            vehicles: vec![Vehicle {
                plate: "TM07XYZ".into(),
                country: Some("RO".into()),
                description: "white Ford Transit".into(),
                pseudonymised: false,
            }],
            source: Source::B,
            information: Information::Two,
            handling,
            restrictions: String::new(),
            distribution: vec![agency("rs-mup")],
            exercise: false,
            issued: "2026-11-20T08:00:00Z".parse().unwrap(),
            forwarded_by: None,
        }
    }

    #[test]
    fn handling_codes_are_enforced_for_everyone_but_the_issuer() {
        let (issuer, partner) = (agency("ro-igpr"), agency("rs-mup"));
        let h2 = bulletin(Handling::H2);
        assert_eq!(may_forward(&h2, &partner), Err(BulletinError::DoNotForward(issuer.clone())));
        assert_eq!(may_forward(&h2, &issuer), Ok(()));
        assert_eq!(may_forward(&bulletin(Handling::H0), &partner), Ok(()));

        let h0 = bulletin(Handling::H0);
        assert_eq!(may_open(&h0, &partner, "investigation"), Ok(()));
        assert!(matches!(may_open(&h0, &partner, "public_task"), Err(BulletinError::NotForCrime(_))));
        let h1 = bulletin(Handling::H1);
        assert_eq!(may_open(&h1, &partner, "prosecution"), Err(BulletinError::NotForCourt(issuer.clone())));
        assert_eq!(may_open(&h1, &partner, "investigation"), Ok(()));
        assert_eq!(may_open(&h1, &issuer, "prosecution"), Ok(()));
    }

    #[test]
    fn bad_bulletins_are_refused_with_a_reason() {
        let mut h3 = bulletin(Handling::H3);
        assert_eq!(h3.check(), Err(BulletinError::NoRestrictions));
        h3.restrictions = "Not to be shown to the vehicle's insurer.".into();
        assert_eq!(h3.check(), Ok(()));
        let mut b = bulletin(Handling::H0);
        b.until = Some("2026-11-17T00:00:00Z".parse().unwrap());
        assert!(matches!(b.check(), Err(BulletinError::Backwards { .. })));
        let mut b = bulletin(Handling::H0);
        b.title = "a\u{1b}[31m".into();
        assert_eq!(b.check(), Err(BulletinError::Control { field: "title" }));
        let mut b = bulletin(Handling::H0);
        b.vehicles = vec![b.vehicles[0].clone(); MAX_VEHICLES + 1];
        assert_eq!(b.check(), Err(BulletinError::TooMany));
        // On the wire: codes outside the 4×4 system are refused by the parser.
        let json = serde_json::to_value(bulletin(Handling::H0)).unwrap();
        for (field, value) in
            [("source", "D"), ("information", "5"), ("handling", "H4"), ("id", "ro-igpr"), ("issued", "yesterday")]
        {
            let mut bad = json.clone();
            bad[field] = value.into();
            assert!(serde_json::from_value::<Bulletin>(bad).is_err(), "{field}");
        }
    }

    #[test]
    fn pseudonymising_replaces_every_plate_once() {
        let b = bulletin(Handling::H0).pseudonymised(|p| format!("P-{}", p.len()));
        assert_eq!(b.vehicles[0].plate, "P-7");
        assert!(b.vehicles[0].pseudonymised);
        assert_eq!(b.pseudonymised(|_| "again".into()).vehicles[0].plate, "P-7");
    }
}
