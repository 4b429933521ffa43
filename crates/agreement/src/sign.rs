//! Both agencies sign the agreement; it is in force on a node only with both signatures.
//!
//! What is signed is the agreement's *content*, not its text: the document without its
//! signatures, serialised as JSON in the field order of [`Agreement`] (fixed by the type, so
//! the same content gives the same bytes whether it was read from TOML or JSON, reformatted
//! or commented), after a domain-separation line. The keys are the ones the parties' entries
//! name, which the node compares with the partners' trust anchors.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use limes_federation::AgencyKey;

use crate::document::{Agreement, Signature};

const DOMAIN: &[u8] = b"limes-agreement-v1 signature\n";

/// Why signatures do not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("{0} is not a party to the agreement")]
    NotAParty(String),
    #[error("the key given for {0} is not the key the agreement names for it")]
    WrongKey(String),
    #[error("{0} signed more than once")]
    Duplicate(String),
    #[error("the signature of {0} is not base64 of 64 bytes")]
    Malformed(String),
    #[error("the signature of {0} does not verify: the agreement was changed after it signed, or another key signed")]
    Invalid(String),
    #[error("not signed by {0}")]
    Missing(String),
}

/// The bytes each party signs.
pub fn signed_bytes(agreement: &Agreement) -> Vec<u8> {
    let mut body = agreement.clone();
    body.signatures.clear();
    let mut bytes = DOMAIN.to_vec();
    // Serialising plain structs, strings and dates cannot fail.
    bytes.extend(serde_json::to_vec(&body).unwrap_or_default());
    bytes
}

/// Adds (or replaces) `agency`'s signature made with `key`.
pub fn sign(agreement: &mut Agreement, agency: &str, key: &AgencyKey) -> Result<(), SignatureError> {
    let party = agreement.party(agency).ok_or_else(|| SignatureError::NotAParty(agency.to_owned()))?;
    if party.key != key.public() {
        return Err(SignatureError::WrongKey(agency.to_owned()));
    }
    let signature = BASE64.encode(key.sign(&signed_bytes(agreement)));
    agreement.signatures.retain(|s| s.agency != agency);
    agreement.signatures.push(Signature { agency: agency.to_owned(), signature });
    agreement.signatures.sort_by(|a, b| a.agency.cmp(&b.agency));
    Ok(())
}

/// Checks every signature present and that both parties signed. Returns the first problem.
pub fn verify(agreement: &Agreement) -> Result<(), SignatureError> {
    let bytes = signed_bytes(agreement);
    let mut seen = Vec::new();
    for s in &agreement.signatures {
        let party = agreement.party(&s.agency).ok_or_else(|| SignatureError::NotAParty(s.agency.clone()))?;
        if seen.contains(&&s.agency) {
            return Err(SignatureError::Duplicate(s.agency.clone()));
        }
        seen.push(&s.agency);
        let sig: [u8; 64] = BASE64
            .decode(&s.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SignatureError::Malformed(s.agency.clone()))?;
        if !party.key.verifies(&bytes, &sig) {
            return Err(SignatureError::Invalid(s.agency.clone()));
        }
    }
    for p in &agreement.parties {
        if !seen.contains(&&p.agency) {
            return Err(SignatureError::Missing(p.agency.clone()));
        }
    }
    Ok(())
}

/// Signs an agreement's text as `agency`, keeping its layout and comments (the signatures
/// already there stay, and this one is added or replaced). JSON comes back as JSON.
pub fn sign_text(text: &str, agency: &str, key: &AgencyKey) -> Result<String, crate::LoadError> {
    let mut agreement = Agreement::parse(text)?;
    sign(&mut agreement, agency, key)?;
    if text.trim_start().starts_with('{') {
        return Ok(serde_json::to_string_pretty(&agreement).unwrap_or_default() + "\n");
    }
    Ok(with_signatures(text, &agreement.signatures))
}

/// A TOML agreement's text with its `[[signature]]` tables replaced by `signatures`. The
/// signatures come last in every file limes writes; anything after the first one is dropped.
pub fn with_signatures(text: &str, signatures: &[Signature]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("[[signature]]") {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    let mut out = out.trim_end().to_owned() + "\n";
    for s in signatures {
        out.push_str(&format!("\n[[signature]]\nagency = \"{}\"\nsignature = \"{}\"\n", s.agency, s.signature));
    }
    out
}
