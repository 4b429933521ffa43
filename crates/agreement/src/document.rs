//! The agreement document: what two agencies wrote down and signed.
//!
//! One TOML (or JSON) document per pair of agencies. `docs/agreements.md` explains each field
//! with examples for CZ–PL (police, and towns), RO–UA and RO–RS; `limes agreement check FILE`
//! says in plain words what the document lets flow, or why it is incoherent.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use limes_federation::PublicKey;
use serde::{Deserialize, Serialize};

use crate::category::Category;

/// The format line every agreement starts with.
pub const FORMAT: &str = "limes-agreement-v1";

/// The largest agreement document read (a real one is a few kilobytes).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Why a document is not an agreement at all (as opposed to an incoherent one, which
/// [`crate::coherence`] reports).
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("the document is {0} bytes; an agreement is at most {MAX_DOCUMENT_BYTES}")]
    TooLarge(usize),
    #[error("not a valid agreement (TOML): {0}")]
    Toml(String),
    #[error("not a valid agreement (JSON): {0}")]
    Json(String),
    #[error("format is {0:?}; this limes reads {FORMAT:?}")]
    Format(String),
}

/// A sharing agreement between two agencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// Always [`FORMAT`].
    pub format: String,
    /// The agreement's reference, e.g. `RO-UA/ANPR/2026-01`.
    pub id: String,
    pub title: String,
    /// First day in force (UTC).
    pub valid_from: NaiveDate,
    /// Last day in force (UTC), included.
    pub valid_until: NaiveDate,
    /// Exactly two parties.
    #[serde(rename = "party")]
    pub parties: Vec<Party>,
    /// What flows, one direction and one category at a time.
    #[serde(rename = "flow", default)]
    pub flows: Vec<Flow>,
    /// Independent witnesses of both parties' audit logs (e.g. a data-protection authority's
    /// node), besides the parties themselves.
    #[serde(rename = "witness", default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<Witness>,
    /// The parties' signatures over everything above ([`crate::sign`]).
    #[serde(rename = "signature", default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Signature>,
}

/// One of the two agencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// The agency id its trust anchor names, e.g. `ro-igpf`.
    pub agency: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub regime: Regime,
    /// The national law the agency processes under (e.g. the act transposing the LED).
    pub law: String,
    /// The agency's signing key, as its trust anchor gives it (`ed25519:…`).
    pub key: PublicKey,
}

/// The data-protection law a party works under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regime {
    /// Police or border police of an EU (or Schengen-associated) state: Directive (EU) 2016/680.
    Led,
    /// A town, rescue service or other public body of an EU/EEA state: Regulation (EU) 2016/679.
    Gdpr,
    /// An authority of a third country (e.g. Ukraine, Serbia): transfers to it follow LED
    /// Chapter V or GDPR Chapter V.
    ThirdCountry,
}

impl Regime {
    pub fn id(self) -> &'static str {
        match self {
            Regime::Led => "led",
            Regime::Gdpr => "gdpr",
            Regime::ThirdCountry => "third-country",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Regime::Led => "the Law Enforcement Directive (EU) 2016/680",
            Regime::Gdpr => "the GDPR (EU) 2016/679",
            Regime::ThirdCountry => "its national law (a third country)",
        }
    }
}

/// How records of a category cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Sent as they arise.
    Push,
    /// Only whether the asker's question has a match (Prüm-style), through the oblivious PRF;
    /// full records only on an approved request.
    HitNoHit,
    /// Only in answer to an approved request.
    OnRequest,
}

/// What may be shown of a plate in records that cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlateRule {
    /// Plates only as pseudonyms (a keyed hash the receiver cannot reverse; the sender can
    /// resolve it for an approved request).
    #[default]
    Pseudonymised,
    /// Plates in clear.
    Clear,
}

/// What may be shown of images in records that cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageRule {
    /// No images.
    None,
    /// Images with faces and plates blurred (the default).
    #[default]
    Blurred,
    /// Images as recorded.
    Clear,
}

/// What the receiver may do with the data beyond its own use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Onward {
    /// Never passed on (the default).
    #[default]
    Forbidden,
    /// Passed on only with the sender's prior consent for the case (LED Art. 35(1)(e)).
    WithConsent,
    /// Passed on to the receiver's own partners under their agreements.
    Allowed,
}

/// The basis of a transfer to a third country.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    pub basis: TransferBasis,
    /// The article relied on, e.g. `LED Art. 37(1)(a)`.
    pub article: String,
    /// Where the basis is documented (the decision, the instrument's clauses, the DPO's
    /// assessment), which LED Art. 37(3) and 38(2) require.
    pub reference: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransferBasis {
    /// An adequacy decision of the Commission (LED Art. 36, GDPR Art. 45).
    Adequacy,
    /// Appropriate safeguards in a binding instrument or assessed by the controller (LED
    /// Art. 37, GDPR Art. 46).
    AppropriateSafeguards,
    /// A derogation for a specific situation (LED Art. 38, GDPR Art. 49): case by case only.
    Derogation,
}

/// Why this exchange between EU police does not use SIENA, the channel Directive (EU)
/// 2023/977 makes the default (Art. 13).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub exception: ChannelException,
    /// The justification in words.
    pub justification: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelException {
    /// The exchange also involves a third country or an international organisation.
    ThirdCountry,
    /// The urgency of the request requires another channel for the time being.
    Urgency,
    /// SIENA is unavailable because of a technical or operational incident.
    TechnicalIncident,
    /// A bilateral instrument lays down this channel (e.g. a police cooperation centre's own
    /// system for automatic data), documented in the justification.
    Bilateral,
}

/// One direction and one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// The agency that sends (owns the data).
    pub from: String,
    /// The agency that receives.
    pub to: String,
    pub category: Category,
    pub mode: Mode,
    #[serde(default)]
    pub plates: PlateRule,
    #[serde(default)]
    pub images: ImageRule,
    /// The legal instrument, e.g. `Treaty CZ–PL on police cooperation (2015)`.
    pub instrument: String,
    /// Its article for this exchange.
    pub article: String,
    /// Required when the receiver is in a third country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<Transfer>,
    /// Required for personal data between EU police (Directive (EU) 2023/977).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// The purposes the receiver may use the data for (ids of the sender's regime, e.g.
    /// `investigation`, `public_task`).
    pub purposes: Vec<String>,
    /// How long the receiver keeps each record, counted from its arrival.
    pub retention_days: u32,
    #[serde(default)]
    pub onward_transfer: Onward,
    /// The handling code released data carries (e.g. an EU 4×4 code such as `H2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handling_code: Option<String>,
    /// Requests for full data (modes `hit-no-hit` and `on-request`) marked urgent are approved
    /// without waiting for a supervisor (a threat to life, a pursuit in progress).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub urgent_requests_approved_automatically: bool,
    /// A narrower validity than the agreement's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
}

/// An independent witness of both parties' audit logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witness {
    pub name: String,
    /// The witness's cosigning key (a signed-note verifier key).
    pub key: String,
}

/// A party's signature over the agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub agency: String,
    /// Ed25519 over [`crate::sign::signed_bytes`], base64.
    pub signature: String,
}

/// The first instant of `day` (UTC).
pub fn start_of(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The first instant after `day` (UTC).
pub fn end_of(day: NaiveDate) -> DateTime<Utc> {
    start_of(day.succ_opt().unwrap_or(day))
}

impl Agreement {
    /// Reads a TOML document. TOML dates (`valid_from = 2026-01-01`) and quoted ones are both
    /// accepted.
    pub fn from_toml(text: &str) -> Result<Self, DocumentError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(DocumentError::TooLarge(text.len()));
        }
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| DocumentError::Toml(e.to_string()))?;
        dates_as_strings(&mut table);
        let agreement: Agreement =
            toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| DocumentError::Toml(e.to_string()))?;
        agreement.checked_format()
    }

    pub fn from_json(text: &str) -> Result<Self, DocumentError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(DocumentError::TooLarge(text.len()));
        }
        let agreement: Agreement = serde_json::from_str(text).map_err(|e| DocumentError::Json(e.to_string()))?;
        agreement.checked_format()
    }

    /// Reads TOML, or JSON when the text starts with `{`.
    pub fn parse(text: &str) -> Result<Self, DocumentError> {
        if text.trim_start().starts_with('{') { Self::from_json(text) } else { Self::from_toml(text) }
    }

    fn checked_format(self) -> Result<Self, DocumentError> {
        if self.format != FORMAT {
            return Err(DocumentError::Format(self.format.chars().take(64).collect()));
        }
        Ok(self)
    }

    pub fn to_toml(&self) -> String {
        // Every field is a string, number, bool, date string, table or array of those.
        toml::to_string(self).unwrap_or_default()
    }

    pub fn party(&self, agency: &str) -> Option<&Party> {
        self.parties.iter().find(|p| p.agency == agency)
    }

    /// The other party, seen from `agency`.
    pub fn other(&self, agency: &str) -> Option<&Party> {
        self.party(agency)?;
        self.parties.iter().find(|p| p.agency != agency)
    }

    /// The flow for one direction and category, if the agreement has one.
    pub fn flow(&self, from: &str, to: &str, category: Category) -> Option<&Flow> {
        self.flows.iter().find(|f| f.from == from && f.to == to && f.category == category)
    }

    /// Whether the agreement is in force at `now` (its own dates only).
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        start_of(self.valid_from) <= now && now < end_of(self.valid_until)
    }

    /// Whether data of `category` that `from` sent to `to` may be passed on by `to` to
    /// another partner: allowed, or with the origin's consent for the case.
    pub fn onward_permitted(&self, from: &str, to: &str, category: Category, consent: bool) -> bool {
        match self.flow(from, to, category).map(|f| f.onward_transfer) {
            Some(Onward::Allowed) => true,
            Some(Onward::WithConsent) => consent,
            Some(Onward::Forbidden) | None => false,
        }
    }
}

impl Flow {
    /// The first instant and the first instant after the flow's validity, within the
    /// agreement's.
    pub fn window(&self, agreement: &Agreement) -> (DateTime<Utc>, DateTime<Utc>) {
        let from = self.valid_from.map_or(agreement.valid_from, |d| d.max(agreement.valid_from));
        let until = self.valid_until.map_or(agreement.valid_until, |d| d.min(agreement.valid_until));
        (start_of(from), end_of(until))
    }
}

/// TOML dates become `YYYY-MM-DD` strings, which chrono's serde reads.
fn dates_as_strings(table: &mut toml::Table) {
    fn walk(value: &mut toml::Value) {
        match value {
            toml::Value::Datetime(d) => *value = toml::Value::String(d.to_string()),
            toml::Value::Array(items) => items.iter_mut().for_each(walk),
            toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| walk(v)),
            _ => {}
        }
    }
    table.iter_mut().for_each(|(_, v)| walk(v));
}
