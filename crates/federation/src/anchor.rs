//! Trust anchors: what two agencies exchange out of band before their nodes talk.
//!
//! An anchor names the agency, its country and legal regime, where its node listens for
//! partners, its public signing key and its TLS certificate. It is signed with the key it
//! carries, which proves that whoever made it holds that key and binds the certificate to it.
//! It never carries a private key. A receiving agency compares the anchor's fingerprint with
//! the one the other agency reads out to it (phone, letter), then adds it as a partner.

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

/// The one format this version writes and reads.
pub const ANCHOR_FORMAT: &str = "limes-trust-anchor-v1";

/// Why an anchor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    #[error("unknown anchor format {0:?} (this node reads {ANCHOR_FORMAT})")]
    Format(String),
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
            issued_at: now.trunc_subsecs(0),
            signature: String::new(),
        };
        anchor.check_fields()?;
        anchor.signature = BASE64.encode(key.sign(&anchor.signed_bytes()));
        Ok(anchor)
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let regime = serde_json::to_string(&self.regime).unwrap_or_default();
        signed_bytes(
            ANCHOR_FORMAT,
            &[
                self.agency.as_str().as_bytes(),
                self.name.as_bytes(),
                self.country.to_string().as_bytes(),
                regime.as_bytes(),
                self.url.as_bytes(),
                self.signing_key.as_bytes(),
                self.certificate.trim().as_bytes(),
                &self.issued_at.timestamp().to_be_bytes(),
            ],
        )
    }

    fn check_fields(&self) -> Result<Vec<u8>, AnchorError> {
        if self.format != ANCHOR_FORMAT {
            return Err(AnchorError::Format(self.format.clone()));
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
        }
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
