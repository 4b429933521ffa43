//! Who acts: people with roles, integrations with a scope.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Operation, Purpose};

/// What a person does on the node. Roles add up; none implies another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Watches live alerts and acts on them.
    Operator,
    /// Searches reads and detections.
    Analyst,
    /// Works cases: searches under an assigned case, puts vehicles on the hotlist.
    Investigator,
    /// Approves requests, sees everything the team sees.
    Supervisor,
    /// The data-protection officer: the audit log, retention, data subjects' requests.
    Dpo,
    /// Accounts, tokens and cameras; no personal data.
    Administrator,
    /// The specialised unit that reviews seized media in child-abuse investigations (victim
    /// identification): the only role that opens the triage review, and one that opens nothing
    /// else.
    VictimIdentification,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Operator,
        Role::Analyst,
        Role::Investigator,
        Role::Supervisor,
        Role::Dpo,
        Role::Administrator,
        Role::VictimIdentification,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Analyst => "analyst",
            Role::Investigator => "investigator",
            Role::Supervisor => "supervisor",
            Role::Dpo => "dpo",
            Role::Administrator => "administrator",
            Role::VictimIdentification => "victim_identification",
        }
    }

    /// Parses a role name; `data_protection_officer` and `admin` are accepted too, since
    /// identity providers spell roles their own way.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        match s.as_str() {
            "data_protection_officer" => Some(Role::Dpo),
            "admin" => Some(Role::Administrator),
            "victim_id" => Some(Role::VictimIdentification),
            _ => Self::ALL.into_iter().find(|r| r.as_str() == s),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a principal authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A local account (password, maybe TOTP) or a person signed in through OpenID Connect.
    User,
    /// An API token of an integration.
    Token(TokenGrant),
}

/// What an API token may do: a fixed scope of operations, and the purpose and legal basis
/// its calls serve (an integration cannot declare a new one per call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub scope: BTreeSet<Operation>,
    pub purpose: Option<Purpose>,
}

/// Why a principal cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPrincipal {
    /// A token may not hold this operation (accounts, audit, data subjects' rights).
    #[error("an API token cannot be granted {0}: it needs a person")]
    NotGrantable(Operation),
    /// An empty scope grants nothing.
    #[error("an API token needs at least one operation in its scope")]
    EmptyScope,
    /// A scope operation that consults data needs the token's purpose.
    #[error("{0} needs a purpose and legal basis: give the token one")]
    PurposeMissing(Operation),
}

/// Someone acting on the node, as the policy sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name, `oidc:<issuer>#<subject>`, or the token's id.
    pub id: String,
    pub kind: PrincipalKind,
    /// The agency the principal belongs to (`ro-igpf`).
    pub agency: String,
    /// ISO 3166 alpha-2 of the agency.
    pub country: String,
    pub roles: BTreeSet<Role>,
    /// Cases the principal is assigned to.
    pub cases: BTreeSet<String>,
    /// Security clearance, compared with a resource's sensitivity (0 = none).
    pub clearance: i64,
}

impl Principal {
    /// A person with no roles yet.
    pub fn user(id: impl Into<String>, agency: impl Into<String>, country: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: PrincipalKind::User,
            agency: agency.into(),
            country: country.into(),
            roles: BTreeSet::new(),
            cases: BTreeSet::new(),
            clearance: 0,
        }
    }

    /// An integration holding `grant`, checked: no operation a token may not hold, a
    /// purpose when the scope consults data.
    pub fn token(
        id: impl Into<String>,
        agency: impl Into<String>,
        country: impl Into<String>,
        grant: TokenGrant,
    ) -> Result<Self, InvalidPrincipal> {
        if grant.scope.is_empty() {
            return Err(InvalidPrincipal::EmptyScope);
        }
        if let Some(op) = grant.scope.iter().find(|op| !op.grantable_to_token()) {
            return Err(InvalidPrincipal::NotGrantable(*op));
        }
        if grant.purpose.is_none()
            && let Some(op) = grant.scope.iter().find(|op| op.needs_purpose())
        {
            return Err(InvalidPrincipal::PurposeMissing(*op));
        }
        Ok(Self {
            id: id.into(),
            kind: PrincipalKind::Token(grant),
            agency: agency.into(),
            country: country.into(),
            roles: BTreeSet::new(),
            cases: BTreeSet::new(),
            clearance: 0,
        })
    }

    pub fn with_roles(mut self, roles: impl IntoIterator<Item = Role>) -> Self {
        self.roles.extend(roles);
        self
    }

    pub fn with_cases(mut self, cases: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.cases.extend(cases.into_iter().map(Into::into));
        self
    }

    pub fn with_clearance(mut self, clearance: i64) -> Self {
        self.clearance = clearance;
        self
    }

    /// The token's grant, for a token.
    pub fn grant(&self) -> Option<&TokenGrant> {
        match &self.kind {
            PrincipalKind::Token(g) => Some(g),
            PrincipalKind::User => None,
        }
    }

    /// The roles as one comma-separated word for the audit log (`integration` for a token).
    pub fn role_text(&self) -> String {
        match self.kind {
            PrincipalKind::Token(_) => "integration".to_owned(),
            PrincipalKind::User if self.roles.is_empty() => "none".to_owned(),
            PrincipalKind::User => self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Regime;

    #[test]
    fn role_names_round_trip_with_aliases() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse(" Data-Protection-Officer "), Some(Role::Dpo));
        assert_eq!(Role::parse("admin"), Some(Role::Administrator));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn tokens_refuse_what_needs_a_person() {
        let grant = |ops: &[Operation], purpose| TokenGrant { scope: ops.iter().copied().collect(), purpose };
        let t = |g| Principal::token("t1", "ro-igpf", "RO", g);
        assert_eq!(t(grant(&[], None)), Err(InvalidPrincipal::EmptyScope));
        assert_eq!(
            t(grant(&[Operation::ReadsIngest, Operation::UsersManage], None)),
            Err(InvalidPrincipal::NotGrantable(Operation::UsersManage))
        );
        assert_eq!(
            t(grant(&[Operation::ReadsSearch], None)),
            Err(InvalidPrincipal::PurposeMissing(Operation::ReadsSearch))
        );
        let why = Purpose::parse(Regime::Led, "detection", "RO Law 363/2018", None).unwrap();
        let ok = t(grant(&[Operation::ReadsIngest, Operation::ReadsSearch], Some(why))).unwrap();
        assert_eq!(ok.role_text(), "integration");
    }
}
