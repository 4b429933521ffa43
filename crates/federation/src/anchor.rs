//! Trust anchors: what two agencies exchange out of band before their nodes talk.
//!
//! An anchor names the agency, its country and legal regime, where its node listens for
//! partners, its public signing key and its TLS certificate. It is signed with the key it
//! carries, which proves that whoever made it holds that key and binds the certificate to it.
//! It never carries a private key. A receiving agency compares the anchor's fingerprint with
//! the one the other agency reads out to it (phone, letter), then adds it as a partner.
//!
//! Format v2 adds the node's audit-log verifier key (`audit_key`, a C2SP signed-note verifier
//! key), signed with the rest, so that partners can check and witness the node's audit
//! checkpoints. v1 anchors (without it) are still read; they are signed under their own domain,
//! so no v1 signature passes for a v2 anchor or the other way round.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SubsecRound, Utc};
use limes_access::Regime;
use limes_model::AgencyId;
use limes_plate::CountryCode;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical::signed_bytes;
use crate::key::{AgencyKey, PublicKey};

/// The format this version writes.
pub const ANCHOR_FORMAT: &str = "limes-trust-anchor-v2";
/// The format before audit keys, still read.
pub const ANCHOR_FORMAT_V1: &str = "limes-trust-anchor-v1";

/// The longest audit key an anchor may carry (a verifier key is its name, 8 hex digits and 44
/// base64 characters).
const MAX_AUDIT_KEY: usize = 400;

/// Why an anchor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("unknown anchor format {0:?} (this node reads {ANCHOR_FORMAT} and {ANCHOR_FORMAT_V1})")]
    Format(String),
    #[error("the audit key {0:?} is not a signed-note verifier key (name+keyid+base64, at most 400 characters)")]
    AuditKey(String),
    #[error("a {ANCHOR_FORMAT_V1} anchor carries no audit key")]
    AuditKeyInV1,
    #[error("the node URL {0:?} is not an https:// URL with a host")]
    Url(String),
    #[error("the certificate is not one PEM certificate: {0}")]
    Certificate(String),
    #[error("the anchor's signature does not verify with the key it carries: it was altered, or not made by that key")]
    Signature,
    #[error("the signature is not base64 of 64 bytes")]
    SignatureEncoding,
    #[error("the agency name is empty or longer than 200 characters")]
    Name,
}

/// SHA-256 of a certificate's DER: how a node pins a partner's TLS certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// `sha256:` and 64 hex digits.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(71);
        s.push_str("sha256:");
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Hex in groups of four, for reading out over the phone.
    pub fn to_spoken(&self) -> String {
        let hex = &self.to_hex()["sha256:".len()..];
        hex.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap_or("")).collect::<Vec<_>>().join(" ")
    }

    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.trim().strip_prefix("sha256:")?;
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A trust anchor as written to and read from a file (TOML or JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustAnchor {
    pub format: String,
    pub agency: AgencyId,
    /// The agency's name, as people know it.
    pub name: String,
    pub country: CountryCode,
    /// The law the agency processes personal data under.
    pub regime: Regime,
    /// Where the agency's node listens for partners: `https://host:port`.
    pub url: String,
    pub signing_key: PublicKey,
    /// The node's TLS certificate (PEM); partners pin it.
    pub certificate: String,
    /// The verifier key of the node's audit log (`limes audit key`): partners check and
    /// cosign its checkpoints with it. None in v1 anchors and from nodes without an audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_key: Option<String>,
    pub issued_at: DateTime<Utc>,
    /// Base64 Ed25519 signature by `signing_key` over all the fields above.
    pub signature: String,
}

/// The fields of an anchor before it is signed.
#[derive(Debug, Clone)]
pub struct AnchorFields {
    pub agency: AgencyId,
    pub name: String,
    pub country: CountryCode,
    pub regime: Regime,
    pub url: String,
    pub certificate_pem: String,
    /// The node's audit-log verifier key, when it has an audit log.
    pub audit_key: Option<String>,
}

/// An anchor whose signature, URL and certificate have been checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedAnchor {
    pub anchor: TrustAnchor,
    pub certificate_der: Vec<u8>,
    pub fingerprint: Fingerprint,
}

impl TrustAnchor {
    /// Signs `fields` with `key`, at `now` (whole seconds).
    pub fn sign(fields: AnchorFields, key: &AgencyKey, now: DateTime<Utc>) -> Result<TrustAnchor, AnchorError> {
        let mut anchor = TrustAnchor {
            format: ANCHOR_FORMAT.to_owned(),
            agency: fields.agency,
            name: fields.name,
            country: fields.country,
            regime: fields.regime,
            url: fields.url,
            signing_key: key.public(),
            certificate: fields.certificate_pem,
            audit_key: fields.audit_key,
            issued_at: now.trunc_subsecs(0),
            signature: String::new(),
        };
        anchor.check_fields()?;
        anchor.signature = BASE64.encode(key.sign(&anchor.signed_bytes()));
        Ok(anchor)
    }

    /// The signed fields under the anchor's own format as the domain: v2 adds the audit key
    /// (empty when the node has none) as a ninth field.
    fn signed_bytes(&self) -> Vec<u8> {
        let regime = serde_json::to_string(&self.regime).unwrap_or_default();
        let issued = self.issued_at.timestamp().to_be_bytes();
        let country = self.country.to_string();
        let mut fields: Vec<&[u8]> = vec![
            self.agency.as_str().as_bytes(),
            self.name.as_bytes(),
            country.as_bytes(),
            regime.as_bytes(),
            self.url.as_bytes(),
            self.signing_key.as_bytes(),
            self.certificate.trim().as_bytes(),
            &issued,
        ];
        if self.format == ANCHOR_FORMAT {
            fields.push(self.audit_key.as_deref().unwrap_or("").as_bytes());
        }
        signed_bytes(&self.format, &fields)
    }

    fn check_fields(&self) -> Result<Vec<u8>, AnchorError> {
        match self.format.as_str() {
            ANCHOR_FORMAT => {}
            ANCHOR_FORMAT_V1 if self.audit_key.is_some() => return Err(AnchorError::AuditKeyInV1),
            ANCHOR_FORMAT_V1 => {}
            _ => return Err(AnchorError::Format(self.format.chars().take(80).collect())),
        }
        if let Some(key) = &self.audit_key {
            // The form only: `limes-link` reads the key itself (limes-audit's `VerifierKey`).
            let parts: Vec<&str> = key.splitn(3, '+').collect();
            let well_formed = key.len() <= MAX_AUDIT_KEY
                && !key.chars().any(|c| c.is_whitespace() || c.is_control())
                && parts.len() == 3
                && !parts[0].is_empty()
                && parts[1].len() == 8
                && parts[1].bytes().all(|b| b.is_ascii_hexdigit())
                && !parts[2].is_empty();
            if !well_formed {
                return Err(AnchorError::AuditKey(key.chars().take(80).collect()));
            }
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            return Err(AnchorError::Name);
        }
        let host = self.url.strip_prefix("https://").map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
        if host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace)) {
            return Err(AnchorError::Url(self.url.clone()));
        }
        let mut certs = CertificateDer::pem_slice_iter(self.certificate.as_bytes());
        let der = match certs.next() {
            Some(Ok(der)) => der.as_ref().to_vec(),
            Some(Err(e)) => return Err(AnchorError::Certificate(e.to_string())),
            None => return Err(AnchorError::Certificate("no CERTIFICATE block".into())),
        };
        if certs.next().is_some() {
            return Err(AnchorError::Certificate("more than one certificate".into()));
        }
        Ok(der)
    }

    /// Checks the format, URL, certificate and the signature.
    pub fn verify(self) -> Result<VerifiedAnchor, AnchorError> {
        let der = self.check_fields()?;
        let sig = BASE64.decode(self.signature.trim()).map_err(|_| AnchorError::SignatureEncoding)?;
        let sig: [u8; 64] = sig.try_into().map_err(|_| AnchorError::SignatureEncoding)?;
        if !self.signing_key.verifies(&self.signed_bytes(), &sig) {
            return Err(AnchorError::Signature);
        }
        Ok(VerifiedAnchor { fingerprint: Fingerprint::of_der(&der), certificate_der: der, anchor: self })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A syntactically valid PEM block; anchors do not parse the X.509 inside (the TLS layer
    // does), they pin its bytes.
    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2VydA==\n-----END CERTIFICATE-----\n";

    fn fields() -> AnchorFields {
        AnchorFields {
            agency: AgencyId::new("ro-igpf").unwrap(),
            name: "Poliția de Frontieră Română".into(),
            country: CountryCode::RO,
            regime: Regime::Led,
            url: "https://10.1.0.2:8443".into(),
            certificate_pem: PEM.into(),
            audit_key: Some(AUDIT_KEY.into()),
        }
    }

    const AUDIT_KEY: &str = "limes/ro-igpf/audit+1a2b3c4d+BNt2NbWLCsOrIIZwzDvzShmLQ+mzVlnnL3GMCOtzJvEH";

    #[test]
    fn the_audit_key_is_signed_and_v1_anchors_are_still_read() {
        let key = AgencyKey::from_seed(&[1; 32]);
        let anchor = TrustAnchor::sign(fields(), &key, Utc::now()).unwrap();
        assert_eq!(anchor.format, ANCHOR_FORMAT);
        anchor.clone().verify().unwrap();
        let mut a = anchor.clone();
        a.audit_key = Some(AUDIT_KEY.replace("ro-igpf", "ro-other"));
        assert_eq!(a.verify().unwrap_err(), AnchorError::Signature);
        let mut a = anchor.clone();
        a.audit_key = None;
        assert_eq!(a.verify().unwrap_err(), AnchorError::Signature, "dropping the audit key breaks the signature");
        // A v2 signature does not pass for v1, even without the audit key.
        let mut a = anchor.clone();
        (a.format, a.audit_key) = (ANCHOR_FORMAT_V1.into(), None);
        assert_eq!(a.verify().unwrap_err(), AnchorError::Signature);
        // A v1 anchor as older nodes wrote it.
        let mut v1 = anchor.clone();
        (v1.format, v1.audit_key) = (ANCHOR_FORMAT_V1.into(), None);
        v1.signature = BASE64.encode(key.sign(&v1.signed_bytes()));
        v1.clone().verify().unwrap();
        let mut a = v1;
        a.audit_key = Some(AUDIT_KEY.into());
        assert_eq!(a.verify().unwrap_err(), AnchorError::AuditKeyInV1);
        // A malformed key is refused before signing.
        for bad in ["", "name", "a+b+c", "limes/x+zzzzzzzz+AAAA", "with space+1a2b3c4d+AAAA"] {
            let f = AnchorFields { audit_key: Some(bad.into()), ..fields() };
            assert!(matches!(TrustAnchor::sign(f, &key, Utc::now()), Err(AnchorError::AuditKey(_))), "{bad}");
        }
        let f = AnchorFields { audit_key: Some(format!("{}+1a2b3c4d+AAAA", "n".repeat(400))), ..fields() };
        assert!(matches!(TrustAnchor::sign(f, &key, Utc::now()), Err(AnchorError::AuditKey(_))));
    }

    #[test]
    fn a_signed_anchor_verifies_and_any_change_breaks_it() {
        let key = AgencyKey::from_seed(&[1; 32]);
        let anchor = TrustAnchor::sign(fields(), &key, Utc::now()).unwrap();
        let v = anchor.clone().verify().unwrap();
        assert_eq!(v.fingerprint, Fingerprint::of_der(&v.certificate_der));
        let mut a = anchor.clone();
        a.url = "https://evil.example:8443".into();
        assert_eq!(a.verify().unwrap_err(), AnchorError::Signature);
        let mut a = anchor.clone();
        a.regime = Regime::Gdpr;
        assert_eq!(a.verify().unwrap_err(), AnchorError::Signature);
        let mut a = anchor.clone();
        a.signing_key = AgencyKey::from_seed(&[2; 32]).public();
        assert_eq!(a.verify().unwrap_err(), AnchorError::Signature);
        let mut a = anchor;
        a.signature = "AAAA".into();
        assert_eq!(a.verify().unwrap_err(), AnchorError::SignatureEncoding);
    }

    #[test]
    fn bad_fields_are_refused_before_signing() {
        let key = AgencyKey::from_seed(&[1; 32]);
        let mut f = fields();
        f.url = "http://10.1.0.2:8443".into();
        assert!(matches!(TrustAnchor::sign(f, &key, Utc::now()), Err(AnchorError::Url(_))));
        let mut f = fields();
        f.certificate_pem = "not pem".into();
        assert!(matches!(TrustAnchor::sign(f, &key, Utc::now()), Err(AnchorError::Certificate(_))));
        let mut f = fields();
        f.certificate_pem = format!("{PEM}{PEM}");
        assert!(matches!(TrustAnchor::sign(f, &key, Utc::now()), Err(AnchorError::Certificate(_))));
        let mut f = fields();
        f.name = " ".into();
        assert!(matches!(TrustAnchor::sign(f, &key, Utc::now()), Err(AnchorError::Name)));
    }

    #[test]
    fn fingerprints_round_trip() {
        let f = Fingerprint::of_der(b"cert");
        assert_eq!(Fingerprint::parse(&f.to_hex()), Some(f));
        assert_eq!(f.to_spoken().split(' ').count(), 16);
        assert_eq!(Fingerprint::parse("sha256:zz"), None);
        assert_eq!(Fingerprint::parse(&f.to_hex()[..70]), None);
    }
}
