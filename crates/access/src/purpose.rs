//! Why data is processed: a purpose the node's legal regime allows, the provision relied on,
//! and the case served.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The law a node's agency processes personal data under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    /// Directive (EU) 2016/680, for police and border police.
    #[default]
    Led,
    /// Regulation (EU) 2016/679, for towns and rescue services.
    Gdpr,
}

impl Regime {
    /// The purposes the regime allows, by id.
    ///
    /// - LED Art. 1(1): prevention, investigation, detection or prosecution of criminal
    ///   offences, execution of criminal penalties, safeguarding against threats to public
    ///   security.
    /// - GDPR Art. 6(1)(c)–(e): a legal obligation, vital interests, a task in the public
    ///   interest.
    /// - Both: `audit` (verifying the lawfulness of processing, LED Art. 25(2), GDPR Art. 39)
    ///   and `data_subject_request` (answering a person's request, LED Art. 14–16, GDPR
    ///   Art. 15–17).
    pub fn purposes(self) -> &'static [&'static str] {
        match self {
            Regime::Led => &[
                "prevention",
                "investigation",
                "detection",
                "prosecution",
                "execution_of_penalties",
                "public_security",
                "audit",
                "data_subject_request",
            ],
            Regime::Gdpr => &["legal_obligation", "vital_interests", "public_task", "audit", "data_subject_request"],
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Led => "led",
            Regime::Gdpr => "gdpr",
        }
    }
}

/// Why a purpose is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPurpose {
    /// The purpose is not one the regime allows.
    #[error("purpose {given:?} is not allowed under the {regime}; allowed: {allowed}")]
    NotAllowed { given: String, regime: &'static str, allowed: String },
    /// No legal basis was given, or it is too short to name a provision.
    #[error("a legal basis naming the provision relied on is required (3 to 200 characters)")]
    LegalBasis,
    /// The case reference has characters a file number does not have, or is too long.
    #[error("case reference {0:?} must be 1 to 64 letters, digits, spaces or / . _ : -")]
    CaseRef(String),
}

/// A declared purpose, legal basis and optional case: what an access to personal data
/// carries, and what its audit record keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purpose {
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: Option<String>,
}

impl Purpose {
    /// Checks a declaration against `regime`. Empty case references count as none.
    pub fn parse(
        regime: Regime,
        purpose: &str,
        legal_basis: &str,
        case_ref: Option<&str>,
    ) -> Result<Self, InvalidPurpose> {
        let purpose = purpose.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        if !regime.purposes().contains(&purpose.as_str()) {
            return Err(InvalidPurpose::NotAllowed {
                given: purpose,
                regime: match regime {
                    Regime::Led => "Law Enforcement Directive",
                    Regime::Gdpr => "GDPR",
                },
                allowed: regime.purposes().join(", "),
            });
        }
        let legal_basis = legal_basis.trim();
        let chars = legal_basis.chars().count();
        if !(3..=200).contains(&chars) || legal_basis.chars().any(char::is_control) {
            return Err(InvalidPurpose::LegalBasis);
        }
        let case_ref = match case_ref.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(case_reference(c)?),
        };
        Ok(Self { purpose, legal_basis: legal_basis.to_owned(), case_ref })
    }
}

/// Checks a case or file number (`2026/117`, `KRPA-1234/2026`): 1 to 64 letters, digits,
/// spaces or `/ . _ : -`, trimmed. Purposes and the cases an account is assigned to use it.
pub fn case_reference(c: &str) -> Result<String, InvalidPurpose> {
    let c = c.trim();
    let ok = !c.is_empty() && c.len() <= 64 && c.chars().all(|ch| ch.is_alphanumeric() || " /._:-".contains(ch));
    if ok { Ok(c.to_owned()) } else { Err(InvalidPurpose::CaseRef(c.chars().take(80).collect())) }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.purpose, self.legal_basis)?;
        if let Some(c) = &self.case_ref {
            write!(f, " case {c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_follow_the_regime() {
        let led =
            Purpose::parse(Regime::Led, "Investigation", " CZ Act 273/2008 s. 79 ", Some(" KRPA-1234/2026 ")).unwrap();
        assert_eq!(led.purpose, "investigation");
        assert_eq!(led.legal_basis, "CZ Act 273/2008 s. 79");
        assert_eq!(led.case_ref.as_deref(), Some("KRPA-1234/2026"));
        assert!(matches!(
            Purpose::parse(Regime::Gdpr, "investigation", "art. 6(1)(e)", None),
            Err(InvalidPurpose::NotAllowed { .. })
        ));
        assert!(
            Purpose::parse(Regime::Gdpr, "vital-interests", "GDPR art. 6(1)(d)", Some("")).unwrap().case_ref.is_none()
        );
        assert!(Purpose::parse(Regime::Led, "curiosity", "none", None).is_err());
    }

    #[test]
    fn hostile_declarations_are_refused() {
        assert_eq!(Purpose::parse(Regime::Led, "detection", "", None), Err(InvalidPurpose::LegalBasis));
        assert_eq!(Purpose::parse(Regime::Led, "detection", "ok\u{0}no", None), Err(InvalidPurpose::LegalBasis));
        assert_eq!(Purpose::parse(Regime::Led, "detection", &"x".repeat(201), None), Err(InvalidPurpose::LegalBasis));
        assert!(matches!(
            Purpose::parse(Regime::Led, "detection", "law", Some("1'; DROP TABLE reads")),
            Err(InvalidPurpose::CaseRef(_))
        ));
        assert!(matches!(
            Purpose::parse(Regime::Led, "detection", "law", Some(&"9".repeat(65))),
            Err(InvalidPurpose::CaseRef(_))
        ));
    }
}
