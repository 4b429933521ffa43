//! Live video shared with a partner agency: a supervisor's grant that lets one partner watch
//! one camera, live, for a limited time, while an incident both agencies know of is declared.
//! The camera's node keeps the grant and relays the video only while it is in force; the
//! partner's node keeps a copy to show its people what they may watch. No I/O here: the rules
//! a grant obeys and when it is in force.
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use limes_model::live::{LiveGrant, NotInForce};
//! use limes_model::{AgencyId, CameraId};
//! let t0 = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
//! let grant = LiveGrant {
//!     id: "ro-igpf/1".into(),
//!     origin: AgencyId::new("ro-igpf").unwrap(),
//!     partner: AgencyId::new("ua-dpsu").unwrap(),
//!     camera: CameraId::new("siret-gate-2").unwrap(),
//!     camera_name: None,
//!     incident: "ro-igpf/4".into(),
//!     purpose: "public_security".into(),
//!     granted_by: "supervisor@ro-igpf".into(),
//!     granted: t0,
//!     until: t0 + TimeDelta::minutes(30),
//!     clear: false,
//!     revoked: None,
//! };
//! assert!(grant.check().is_ok());
//! assert!(grant.in_force(t0 + TimeDelta::minutes(29)).is_ok());
//! assert!(matches!(grant.in_force(t0 + TimeDelta::minutes(30)), Err(NotInForce::Expired { .. })));
//! ```

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{AgencyId, CameraId};

/// The longest a grant may run: a shift. Longer needs a new grant, by a supervisor again.
pub const MAX_GRANT: TimeDelta = TimeDelta::hours(12);

/// The longest text kept in a grant's free fields.
const MAX_TEXT: usize = 200;

/// One partner's permission to watch one camera live until a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveGrant {
    /// `origin/n`: the camera's agency and the grant's number there.
    pub id: String,
    /// The agency whose camera it is, which relays the video.
    pub origin: AgencyId,
    /// The agency allowed to watch.
    pub partner: AgencyId,
    pub camera: CameraId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_name: Option<String>,
    /// The incident (`origin/n`) declared for it: the reason the partner may watch.
    pub incident: String,
    /// What it is shared for, as the sharing agreement names purposes.
    pub purpose: String,
    /// The supervisor who granted it.
    pub granted_by: String,
    pub granted: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Shown in clear, faces and plates as the camera sends them: a supervisor's decision, for a
    /// case, where the agreement shares live video in clear. Otherwise (the default) the camera's
    /// node sends it anonymised.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clear: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
}

/// A grant withdrawn before its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    pub at: DateTime<Utc>,
    pub by: String,
}

/// Why a grant does not let the partner watch now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotInForce {
    #[error("the grant was revoked at {at} by {by}")]
    Revoked { at: DateTime<Utc>, by: String },
    #[error("the grant ended at {until}")]
    Expired { until: DateTime<Utc> },
    #[error("the grant starts at {from}")]
    NotYet { from: DateTime<Utc> },
}

/// Why a grant is not a valid one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("a grant ends after it is made ({granted} to {until})")]
    Empty { granted: DateTime<Utc>, until: DateTime<Utc> },
    #[error("a grant runs at most {} hours; this one runs {} minutes", MAX_GRANT.num_hours(), .0.num_minutes())]
    TooLong(TimeDelta),
    #[error("an agency does not grant itself its own camera")]
    ToItself,
    #[error("{field} {value:?} is not an id of the form agency/n (a grant's agency: the camera's)")]
    BadId { field: &'static str, value: String },
    #[error("{field} is empty or longer than {MAX_TEXT} characters, or holds control characters")]
    BadText { field: &'static str },
    #[error("the revocation at {at} comes before the grant at {granted}")]
    RevokedBefore { at: DateTime<Utc>, granted: DateTime<Utc> },
}

impl LiveGrant {
    /// Checks what the type cannot hold by itself: the grant's id is the camera's agency's, the
    /// incident's is an incident id (either agency may have raised it), it runs forward and at
    /// most [`MAX_GRANT`], its texts are short.
    pub fn check(&self) -> Result<(), GrantError> {
        if self.partner == self.origin {
            return Err(GrantError::ToItself);
        }
        if !is_numbered(&self.id, Some(self.origin.as_str())) {
            return Err(GrantError::BadId { field: "id", value: self.id.clone() });
        }
        if !is_numbered(&self.incident, None) {
            return Err(GrantError::BadId { field: "incident", value: self.incident.clone() });
        }
        if self.until <= self.granted {
            return Err(GrantError::Empty { granted: self.granted, until: self.until });
        }
        if self.until - self.granted > MAX_GRANT {
            return Err(GrantError::TooLong(self.until - self.granted));
        }
        let texts = [("purpose", Some(&self.purpose)), ("granted_by", Some(&self.granted_by))];
        let named = [("camera_name", self.camera_name.as_ref())];
        let revoked = [("revoked.by", self.revoked.as_ref().map(|r| &r.by))];
        for (field, value) in texts.into_iter().chain(named).chain(revoked) {
            if let Some(v) = value
                && (v.trim().is_empty() || v.chars().count() > MAX_TEXT || v.chars().any(char::is_control))
            {
                return Err(GrantError::BadText { field });
            }
        }
        if let Some(r) = &self.revoked
            && r.at < self.granted
        {
            return Err(GrantError::RevokedBefore { at: r.at, granted: self.granted });
        }
        Ok(())
    }

    /// Whether the partner may watch at `now`.
    pub fn in_force(&self, now: DateTime<Utc>) -> Result<(), NotInForce> {
        if let Some(r) = &self.revoked
            && r.at <= now
        {
            return Err(NotInForce::Revoked { at: r.at, by: r.by.clone() });
        }
        if now < self.granted {
            return Err(NotInForce::NotYet { from: self.granted });
        }
        if now >= self.until {
            return Err(NotInForce::Expired { until: self.until });
        }
        Ok(())
    }

    /// When watching ends: the grant's end, or its revocation if sooner.
    pub fn ends(&self) -> DateTime<Utc> {
        self.revoked.as_ref().map_or(self.until, |r| r.at.min(self.until))
    }

    /// What a later copy of the same grant (`newer`, as the camera's agency sent it) may change:
    /// it may be revoked, end sooner or stop being shown in clear, never be widened or reopened.
    /// The grant to keep.
    pub fn update(&self, newer: &LiveGrant) -> LiveGrant {
        LiveGrant {
            until: self.until.min(newer.until),
            clear: self.clear && newer.clear,
            revoked: self.revoked.clone().or_else(|| newer.revoked.clone()),
            ..self.clone()
        }
    }
}

/// `agency/n` with `n` a positive number (and the agency `origin`, when given).
fn is_numbered(id: &str, origin: Option<&str>) -> bool {
    let Some((agency, n)) = id.split_once('/') else { return false };
    origin.is_none_or(|o| o == agency)
        && AgencyId::new(agency).is_ok()
        && !n.is_empty()
        && n.len() <= 18
        && n.bytes().all(|b| b.is_ascii_digit())
        && !n.starts_with('0')
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn grant() -> LiveGrant {
        let t0 = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        LiveGrant {
            id: "ro-igpf/7".into(),
            origin: AgencyId::new("ro-igpf").unwrap(),
            partner: AgencyId::new("ua-dpsu").unwrap(),
            camera: CameraId::new("siret-gate-2").unwrap(),
            camera_name: Some("Siret, lane 2".into()),
            incident: "ro-igpf/12".into(),
            purpose: "public_security".into(),
            granted_by: "sup@ro-igpf".into(),
            granted: t0,
            until: t0 + TimeDelta::minutes(45),
            clear: false,
            revoked: None,
        }
    }

    #[test]
    fn a_grant_is_in_force_from_its_start_until_its_end_or_revocation() {
        let g = grant();
        let t0 = g.granted;
        assert_eq!(g.in_force(t0 - TimeDelta::seconds(1)), Err(NotInForce::NotYet { from: t0 }));
        assert_eq!(g.in_force(t0), Ok(()));
        assert_eq!(g.in_force(g.until - TimeDelta::milliseconds(1)), Ok(()));
        assert_eq!(g.in_force(g.until), Err(NotInForce::Expired { until: g.until }));
        assert_eq!(g.ends(), g.until);
        let at = t0 + TimeDelta::minutes(10);
        let revoked = LiveGrant { revoked: Some(Revocation { at, by: "sup2@ro-igpf".into() }), ..g.clone() };
        assert_eq!(revoked.in_force(at - TimeDelta::seconds(1)), Ok(()));
        assert!(matches!(revoked.in_force(at), Err(NotInForce::Revoked { .. })));
        assert_eq!(revoked.ends(), at);
    }

    #[test]
    fn a_grant_is_refused_when_it_widens_the_rules() {
        assert_eq!(grant().check(), Ok(()));
        let g = grant();
        let cases: Vec<(LiveGrant, &str)> = vec![
            (LiveGrant { partner: g.origin.clone(), ..g.clone() }, "itself"),
            (LiveGrant { until: g.granted, ..g.clone() }, "ends after"),
            (LiveGrant { until: g.granted + MAX_GRANT + TimeDelta::seconds(1), ..g.clone() }, "at most 12 hours"),
            (LiveGrant { id: "ua-dpsu/7".into(), ..g.clone() }, "id \"ua-dpsu/7\""),
            (LiveGrant { id: "ro-igpf/07".into(), ..g.clone() }, "of the form"),
            (LiveGrant { id: "ro-igpf/".into(), ..g.clone() }, "of the form"),
            (LiveGrant { incident: "ro-igpf/x".into(), ..g.clone() }, "incident"),
            (LiveGrant { incident: "no slash".into(), ..g.clone() }, "incident"),
            (LiveGrant { purpose: " ".into(), ..g.clone() }, "purpose"),
            (LiveGrant { granted_by: "a\u{7}b".into(), ..g.clone() }, "granted_by"),
            (LiveGrant { camera_name: Some("x".repeat(201)), ..g.clone() }, "camera_name"),
            (
                LiveGrant {
                    revoked: Some(Revocation { at: g.granted - TimeDelta::seconds(1), by: "s".into() }),
                    ..g.clone()
                },
                "comes before",
            ),
        ];
        for (bad, says) in cases {
            let e = bad.check().expect_err(says).to_string();
            assert!(e.contains(says), "{e:?} should say {says:?}");
        }
        assert_eq!(LiveGrant { until: g.granted + MAX_GRANT, ..g.clone() }.check(), Ok(()));
        assert_eq!(LiveGrant { incident: "ua-dpsu/3".into(), ..g.clone() }.check(), Ok(()), "the partner's incident");
    }

    #[test]
    fn a_later_copy_only_narrows_a_grant() {
        let g = grant();
        let by = |s: &str| Some(Revocation { at: g.granted + TimeDelta::minutes(5), by: s.into() });
        let longer = LiveGrant { until: g.until + TimeDelta::hours(1), ..g.clone() };
        assert_eq!(g.update(&longer).until, g.until, "never widened");
        let shorter = LiveGrant { until: g.until - TimeDelta::minutes(30), ..g.clone() };
        assert_eq!(g.update(&shorter).until, shorter.until);
        let revoked = LiveGrant { revoked: by("a"), ..g.clone() };
        assert_eq!(g.update(&revoked).revoked, by("a"));
        assert_eq!(revoked.update(&g).revoked, by("a"), "never reopened");
        assert_eq!(
            revoked.update(&LiveGrant { revoked: by("b"), ..g.clone() }).revoked,
            by("a"),
            "the first revocation stays"
        );
        let other =
            LiveGrant { camera: CameraId::new("other").unwrap(), partner: AgencyId::new("x").unwrap(), ..g.clone() };
        let kept = g.update(&other);
        assert_eq!((kept.camera, kept.partner), (g.camera.clone(), g.partner.clone()), "what it grants stays");
        let clear = LiveGrant { clear: true, ..g.clone() };
        assert!(!g.update(&clear).clear, "never made clear afterwards");
        assert!(!clear.update(&g).clear, "made anonymised again");
        assert!(clear.update(&clear).clear);
    }

    #[test]
    fn a_grant_is_anonymised_unless_it_says_clear() {
        let g = grant();
        let json = serde_json::to_value(&g).unwrap();
        assert!(json.get("clear").is_none(), "an anonymised grant reads as grants always did: {json}");
        let back: LiveGrant = serde_json::from_value(json).unwrap();
        assert!(!back.clear);
        let clear = serde_json::to_value(LiveGrant { clear: true, ..g }).unwrap();
        assert_eq!(clear["clear"], true);
        assert!(serde_json::from_value::<LiveGrant>(clear).unwrap().clear);
    }
}
