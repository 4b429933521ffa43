//! Whether an agreement holds together before anyone relies on it: the parties, the legal
//! regimes, the transfer rules for third countries, the channel rule between EU police, and
//! each flow's fields. An agreement with errors is never loaded; warnings are shown.

use std::collections::HashSet;
use std::fmt;

use crate::category::Category;
use crate::document::{Agreement, ChannelException, Flow, ImageRule, Mode, Onward, PlateRule, Regime, TransferBasis};

/// Member states of the EU.
const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];
/// EEA and Schengen-associated states, where the GDPR (EEA) or the LED (Schengen acquis) apply.
const ASSOCIATED: [&str; 4] = ["IS", "LI", "NO", "CH"];

/// Third countries with an adequacy decision the Commission adopted under the LED (Art. 36).
/// Kept as a warning, not an error: a newer decision may exist that this list does not know.
const LED_ADEQUACY: [&str; 1] = ["GB"];
/// Third countries with an adequacy decision under the GDPR (Art. 45), some partial.
const GDPR_ADEQUACY: [&str; 15] =
    ["AD", "AR", "CA", "CH", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "GB", "UY", "US"];

/// The longest retention an agreement may set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth reading; the agreement can be used.
    Warning,
    /// The agreement is incoherent and is refused.
    Error,
}

/// One problem, with the flow it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub severity: Severity,
    /// The flow's index in the document, when the problem is one flow's.
    pub flow: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        match self.flow {
            Some(i) => write!(f, "{level}: flow {}: {}", i + 1, self.message),
            None => write!(f, "{level}: {}", self.message),
        }
    }
}

/// Whether the country is in the EU, or in the EEA or Schengen area.
pub fn in_eu_law(country: &str) -> bool {
    EU.contains(&country) || ASSOCIATED.contains(&country)
}

/// The purposes a regime allows (the node's own list, `limes_access::Regime::purposes`), or
/// none for a third country's (whose law limes does not model).
pub fn purposes_of(regime: Regime) -> &'static [&'static str] {
    match regime {
        Regime::Led => limes_access::Regime::Led.purposes(),
        Regime::Gdpr => limes_access::Regime::Gdpr.purposes(),
        Regime::ThirdCountry => &[],
    }
}

impl Category {
    /// Whether records of the category are personal data (the camera registry and
    /// new-substance notifications are not).
    pub fn personal(self) -> bool {
        !matches!(self, Category::Cameras | Category::SubstanceNotifications)
    }

    /// Whether a hit/no-hit query makes sense for the category: the question is an
    /// identifier (a plate, a hash, a device id).
    pub fn queryable(self) -> bool {
        matches!(
            self,
            Category::PlateReads | Category::HotlistEntries | Category::MediaHashes | Category::DeviceIdentifiers
        )
    }
}

/// Every problem of the agreement, errors first.
pub fn check(a: &Agreement) -> Vec<Problem> {
    let mut out = Checker(Vec::new());
    out.document(a);
    for (i, flow) in a.flows.iter().enumerate() {
        out.flow(a, i, flow);
    }
    let mut problems = out.0;
    problems.sort_by_key(|p| std::cmp::Reverse(p.severity));
    problems
}

/// Whether the agreement has no errors.
pub fn is_coherent(problems: &[Problem]) -> bool {
    problems.iter().all(|p| p.severity < Severity::Error)
}

struct Checker(Vec<Problem>);

fn valid_agency(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.:".contains(&b))
}

impl Checker {
    fn error(&mut self, flow: Option<usize>, message: impl Into<String>) {
        self.0.push(Problem { severity: Severity::Error, flow, message: message.into() });
    }

    fn warn(&mut self, flow: Option<usize>, message: impl Into<String>) {
        self.0.push(Problem { severity: Severity::Warning, flow, message: message.into() });
    }

    fn document(&mut self, a: &Agreement) {
        if a.id.trim().is_empty() || a.id.len() > 128 {
            self.error(None, "the agreement needs an id (1 to 128 characters)");
        }
        if a.title.trim().is_empty() {
            self.error(None, "the agreement needs a title");
        }
        if a.valid_from > a.valid_until {
            self.error(None, format!("valid_from {} is after valid_until {}", a.valid_from, a.valid_until));
        }
        if a.parties.len() != 2 {
            self.error(None, format!("an agreement has exactly two parties, not {}", a.parties.len()));
        }
        if a.parties.len() == 2 && a.parties[0].agency == a.parties[1].agency {
            self.error(None, "the two parties are the same agency");
        }
        if a.parties.len() == 2 && a.parties[0].key == a.parties[1].key {
            self.error(None, "the two parties name the same signing key");
        }
        for p in &a.parties {
            if !valid_agency(&p.agency) {
                self.error(None, format!("agency id {:?} must be 1 to 64 of a-z 0-9 - _ . :", p.agency));
            }
            if p.name.trim().is_empty() || p.law.trim().is_empty() {
                self.error(None, format!("{}: name and law must not be empty", p.agency));
            }
            let c = p.country.as_str();
            if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
                self.error(None, format!("{}: country {c:?} is not an ISO 3166 alpha-2 code", p.agency));
                continue;
            }
            match (p.regime, in_eu_law(c)) {
                (Regime::Led | Regime::Gdpr, false) => self.error(
                    None,
                    format!(
                        "{} is in {c}, outside the EU, EEA and Schengen area, so it cannot work under {}; \
                         its regime is third-country",
                        p.agency,
                        p.regime.words()
                    ),
                ),
                (Regime::ThirdCountry, true) => self.error(
                    None,
                    format!("{} is in {c}, where EU data-protection law applies; it is not a third country", p.agency),
                ),
                _ => {}
            }
        }
        if a.parties.len() == 2 && a.parties.iter().all(|p| p.regime == Regime::ThirdCountry) {
            self.error(None, "neither party works under EU law; limes agreements need at least one EU party");
        }
        if a.flows.is_empty() {
            self.warn(None, "the agreement has no flows: nothing crosses");
        }
        let mut seen = HashSet::new();
        for (i, f) in a.flows.iter().enumerate() {
            if !seen.insert((&f.from, &f.to, f.category)) {
                self.error(Some(i), format!("a second flow of {} from {} to {}", f.category, f.from, f.to));
            }
        }
        // A shared hotlist is matched by the receiver; its hits go back to the owner as alerts.
        for (i, f) in a.flows.iter().enumerate() {
            if f.category == Category::HotlistEntries
                && f.mode == Mode::Push
                && !a.flows.iter().any(|b| b.category == Category::Alerts && b.from == f.to && b.to == f.from)
            {
                self.warn(
                    Some(i),
                    format!(
                        "{}'s hotlist entries are matched by {}, but no flow of alerts goes back: \
                         {} will not learn of the hits on its own entries",
                        f.from, f.to, f.from
                    ),
                );
            }
        }
        for w in &a.witnesses {
            if w.name.trim().is_empty() || w.key.trim().is_empty() {
                self.error(None, "every witness needs a name and a key");
            }
        }
    }

    fn flow(&mut self, a: &Agreement, i: usize, f: &Flow) {
        let at = Some(i);
        let (Some(from), Some(to)) = (a.party(&f.from), a.party(&f.to)) else {
            self.error(at, format!("from {:?} and to {:?} must both be parties to the agreement", f.from, f.to));
            return;
        };
        if f.from == f.to {
            self.error(at, "a flow goes from one party to the other");
            return;
        }
        let c = f.category;
        if f.instrument.trim().is_empty() || f.article.trim().is_empty() {
            self.error(at, "the legal instrument and its article must be named");
        }
        // Purposes: checked against the law the data is processed under when it leaves: the
        // sender's, or for data from a third country the EU receiver's.
        let law = if from.regime == Regime::ThirdCountry { to.regime } else { from.regime };
        if f.purposes.is_empty() {
            self.error(at, "a flow needs at least one purpose");
        }
        for p in &f.purposes {
            if !purposes_of(law).contains(&p.as_str()) {
                self.error(
                    at,
                    format!("purpose {p:?} is not one of {} ({})", law.words(), purposes_of(law).join(", ")),
                );
            }
        }
        if f.retention_days == 0 || f.retention_days > MAX_RETENTION_DAYS {
            self.error(at, format!("retention_days must be 1 to {MAX_RETENTION_DAYS}"));
        }
        match (f.valid_from, f.valid_until) {
            (Some(s), Some(e)) if s > e => self.error(at, "the flow's valid_from is after its valid_until"),
            _ => {}
        }
        if f.valid_from.is_some_and(|d| d > a.valid_until) || f.valid_until.is_some_and(|d| d < a.valid_from) {
            self.warn(at, "the flow's dates lie outside the agreement's: it never applies");
        }
        if let Some(h) = &f.handling_code
            && (h.trim().is_empty() || h.len() > 16)
        {
            self.error(at, "a handling code is 1 to 16 characters");
        }
        // Modes.
        if f.mode == Mode::HitNoHit && !c.queryable() {
            self.error(
                at,
                format!("{} cannot be asked hit/no-hit; only plate reads, hotlist entries, media hashes and device identifiers can", c.words()),
            );
        }
        if f.urgent_requests_approved_automatically && f.mode == Mode::Push {
            self.warn(at, "urgent requests are approved automatically, but the flow is push: there are no requests");
        }
        if c == Category::HotlistEntries && f.mode == Mode::Push && f.plates == PlateRule::Pseudonymised {
            self.error(
                at,
                "pushed hotlist entries are matched against the receiver's reads, which needs the plates in clear; \
                 share them hit/no-hit instead",
            );
        }
        if matches!(c, Category::Images | Category::LiveVideo) && f.images == ImageRule::None {
            self.error(at, format!("a flow of {} with images = \"none\" lets nothing cross", c.words()));
        }
        // Third countries (LED Chapter V, GDPR Chapter V).
        let third = to.regime == Regime::ThirdCountry && from.regime != Regime::ThirdCountry;
        match (&f.transfer, third) {
            (None, true) if c.personal() => self.error(
                at,
                format!(
                    "{} is a third country: a transfer of {} needs a basis (adequacy, appropriate safeguards or a derogation)",
                    to.agency,
                    c.words()
                ),
            ),
            (Some(_), false) => self.error(at, format!("a transfer basis is for receivers in third countries; {} is not", to.agency)),
            (Some(t), true) => {
                let (article, words) = match (from.regime, t.basis) {
                    (Regime::Gdpr, TransferBasis::Adequacy) => ("45", "GDPR Art. 45"),
                    (Regime::Gdpr, TransferBasis::AppropriateSafeguards) => ("46", "GDPR Art. 46"),
                    (Regime::Gdpr, TransferBasis::Derogation) => ("49", "GDPR Art. 49"),
                    (_, TransferBasis::Adequacy) => ("36", "LED Art. 36"),
                    (_, TransferBasis::AppropriateSafeguards) => ("37", "LED Art. 37"),
                    (_, TransferBasis::Derogation) => ("38", "LED Art. 38"),
                };
                if !t.article.split(|ch: char| !ch.is_ascii_digit()).any(|n| n == article) {
                    self.error(at, format!("the transfer basis is in {words}, but its article reads {:?}", t.article));
                }
                if t.reference.trim().len() < 3 {
                    self.error(at, "the transfer basis must say where it is documented (reference)");
                }
                if t.basis == TransferBasis::Derogation && f.mode == Mode::Push {
                    self.error(
                        at,
                        format!("a derogation ({words}) covers a specific case, never a systematic push of {}", c.words()),
                    );
                }
                let known = if from.regime == Regime::Gdpr { &GDPR_ADEQUACY[..] } else { &LED_ADEQUACY[..] };
                if t.basis == TransferBasis::Adequacy && !known.contains(&to.country.as_str()) {
                    self.warn(
                        at,
                        format!("limes knows no adequacy decision for {} under {words}; check the reference", to.country),
                    );
                }
                if f.onward_transfer == Onward::Allowed {
                    self.error(
                        at,
                        "data transferred to a third country may go further only with the sender's authorisation \
                         (LED Art. 35(1)(e)): onward_transfer must be \"forbidden\" or \"with-consent\"",
                    );
                }
            }
            (None, _) => {}
        }
        // Directive (EU) 2023/977: SIENA is the default channel between EU police.
        let eu_police = from.regime == Regime::Led && to.regime == Regime::Led;
        match &f.channel {
            None if eu_police && c.personal() => self.error(
                at,
                format!(
                    "{} between EU police goes by SIENA unless an exception of Directive (EU) 2023/977 Art. 13 applies: \
                     name it in channel",
                    c.words()
                ),
            ),
            Some(_) if !eu_police || !c.personal() => {
                self.warn(at, "a channel justification is only needed for personal data between EU police")
            }
            Some(ch) => {
                if ch.justification.trim().len() < 10 {
                    self.error(at, "the channel's justification must say why in words");
                }
                if ch.exception == ChannelException::ThirdCountry {
                    self.error(at, "the third-country exception needs a third country in the exchange; both parties are EU police");
                }
            }
            None => {}
        }
    }
}
