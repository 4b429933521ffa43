//! Sharing agreements between agencies, as data (issue #6).
//!
//! What crosses a border is decided by a written agreement and the law. Here the agreement
//! is a document both agencies sign ([`document`]), naming each side's legal regime and, per
//! data [`Category`], how records cross ([`Mode`]: push, hit/no-hit, on request), what of
//! them is shown (plates pseudonymised, images blurred), the legal instrument and article,
//! the basis of a transfer to a third country, the channel's justification between EU police,
//! purposes, retention, onward transfer, handling code and validity.
//!
//! - [`coherence`]: refuses agreements that do not hold together (a third-country transfer
//!   without a basis, a derogation used for a systematic push, a purpose the sender's law
//!   does not know…).
//! - [`explain`]: the agreement in plain words (`limes agreement check FILE`).
//! - [`sign`]: both parties' Ed25519 signatures over the agreement's content.
//! - [`policy`]: the agreement compiled into Cedar rules, evaluated on every record at send,
//!   at receive and at access. What no rule permits is denied, so unknown categories never
//!   cross; the protocol's own messages ([`ProtocolMessage`]) are exempt by name.
//!
//! No I/O: the node (`limes-link`, `limes-server`) loads agreements from files, asks the
//! policy before it queues, when it receives and when someone reads, and logs the answers.
//!
//! ```
//! use limes_agreement::{Act, Category, ImageForm, Labels, PlateForm, Question, Shape};
//! let (agreement, policy) = limes_agreement::example::ro_ua();
//! let alert = Labels {
//!     category: Category::Alerts,
//!     origin: "ro-igpf".into(),
//!     purpose: "detection".into(),
//!     plates: PlateForm::Pseudonymised,
//!     images: ImageForm::None,
//!     shape: Shape::Full,
//!     request: None,
//!     onward: None,
//! };
//! let now = chrono::DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z").unwrap().to_utc();
//! let q = Question { act: Act::Send, from: "ro-igpf", to: "ua-dpsu", labels: &alert,
//!     approved_request: false, onward_permitted: false, age_days: 0, now };
//! assert!(policy.decide(&q).allowed);
//! // The same alert shared for a purpose the agreement does not name does not leave.
//! let other = Labels { purpose: "execution_of_penalties".into(), ..alert.clone() };
//! assert!(!policy.decide(&Question { labels: &other, ..q }).allowed);
//! assert!(agreement.flow("ro-igpf", "ua-dpsu", Category::Alerts).is_some());
//! ```

pub mod category;
pub mod coherence;
pub mod document;
pub mod example;
pub mod explain;
pub mod policy;
pub mod sign;

pub use category::{Category, ProtocolMessage, Subject, UnknownCategory};
pub use coherence::{Problem, Severity};
pub use document::{
    Agreement, Channel, ChannelException, DocumentError, Flow, ImageRule, Mode, Onward, Party, PlateRule, Regime,
    Transfer, TransferBasis, Witness,
};
pub use explain::explain;
pub use policy::{Act, Decision, ImageForm, Labels, PlateForm, PolicyError, Question, Shape, SharingPolicy};
pub use sign::SignatureError;

/// Why an agreement cannot be put in force.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("the agreement is incoherent:\n{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Incoherent(Vec<Problem>),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// Reads, checks and compiles an agreement that both parties signed.
pub fn load(text: &str) -> Result<(Agreement, SharingPolicy), LoadError> {
    let agreement = Agreement::parse(text)?;
    let problems = coherence::check(&agreement);
    if !coherence::is_coherent(&problems) {
        return Err(LoadError::Incoherent(problems.into_iter().filter(|p| p.severity == Severity::Error).collect()));
    }
    sign::verify(&agreement)?;
    let policy = SharingPolicy::compile(&agreement)?;
    Ok((agreement, policy))
}
