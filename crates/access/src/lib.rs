//! Who may do what on a limes node, and why (issue #4). Plain types and functions, no I/O:
//! the server authenticates a caller, builds a [`Principal`], and asks the [`Policy`] whether
//! that principal may perform an [`Operation`] on a [`Resource`] for a declared
//! [`Purpose`]; it logs the answer in the audit log either way.
//!
//! - [`Role`]: operator, analyst, investigator, supervisor, data-protection officer,
//!   administrator; an API token instead holds a fixed **scope** of operations and a fixed
//!   purpose ([`TokenGrant`]).
//! - [`Operation`]: every act the HTTP API offers, with whether it touches personal data and
//!   so needs a purpose, a legal basis and (for some roles) a case.
//! - [`Purpose`]: why data is processed, checked against the node's legal regime (the Law
//!   Enforcement Directive for police, the GDPR for towns and rescue services).
//! - [`Policy`]: the rules, written in [Cedar](https://www.cedarpolicy.com) and evaluated by
//!   the `cedar-policy` engine, the same engine the sharing agreements will use. Role rules,
//!   attribute rules (agency, case assignment, clearance) and token scopes are all policy
//!   text ([`DEFAULT_POLICY`]), which a node may replace; the schema ([`SCHEMA`]) is fixed
//!   and every policy is validated against it before the node starts.
//! - [`password`]: argon2id hashes; [`totp`]: RFC 6238 second factor with replay refusal;
//!   [`secret`]: session and API-token secrets (random bytes in, hashed for storage).
//!
//! ```
//! use limes_access::{Operation, Policy, Principal, Purpose, Regime, Resource, Role};
//! let policy = Policy::default_policy().unwrap();
//! let ana = Principal::user("ana", "ro-igpf", "RO").with_roles([Role::Analyst]);
//! let why = Purpose::parse(Regime::Led, "investigation", "RO Law 363/2018 art. 5", Some("2026/117")).unwrap();
//! let decision = policy.decide(&ana, Operation::ReadsSearch, &Resource::node("ro-igpf", "RO"), Some(&why));
//! assert!(decision.allowed(), "{decision:?}");
//! // An analyst manages no cameras.
//! let cam = Resource::camera("cam-1", "ro-igpf", "RO");
//! assert!(!policy.decide(&ana, Operation::CamerasManage, &cam, None).allowed());
//! ```

mod operation;
pub mod password;
mod policy;
mod principal;
mod purpose;
pub mod secret;
pub mod totp;

pub use operation::{Operation, Processing};
pub use policy::{DEFAULT_POLICY, Decision, Policy, PolicyError, Resource, SCHEMA};
pub use principal::{InvalidPrincipal, Principal, PrincipalKind, Role, TokenGrant};
pub use purpose::{InvalidPurpose, Purpose, Regime, case_reference};
