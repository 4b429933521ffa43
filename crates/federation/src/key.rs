//! The agency's signing key (Ed25519) and its public half as partners hold it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not an agency key file: {0}")]
    BadPrivate(&'static str),
    #[error("not an Ed25519 public key (expected ed25519:<base64 of 32 bytes>): {0}")]
    BadPublic(&'static str),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

const PRIVATE_PREFIX: &str = "limes-agency-key-v1 ed25519:";

/// The key an agency signs every message and its trust anchor with. Secret: it lives in the
/// node's data folder, readable by the node only.
pub struct AgencyKey(SigningKey);

impl fmt::Debug for AgencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AgencyKey").field(&self.public()).finish()
    }
}

impl AgencyKey {
    /// A new key from the operating system's randomness.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }

    /// The key's 32-byte seed. Secret: for the other signer the agency's key serves as, the
    /// node's witness of partners' audit logs (`limes-link`), whose signed messages
    /// (`cosignature/v1\n…`) never begin as this crate's (a `limes-` domain).
    pub fn seed(&self) -> [u8; 32] {
        *self.0.as_bytes()
    }

    /// `limes-agency-key-v1 ed25519:<base64 seed>`: the key file's content.
    pub fn to_private_text(&self) -> String {
        format!("{PRIVATE_PREFIX}{}", BASE64.encode(self.0.as_bytes()))
    }

    pub fn parse_private_text(text: &str) -> Result<Self, KeyError> {
        let b64 = text.trim().strip_prefix(PRIVATE_PREFIX).ok_or(KeyError::BadPrivate("no key header"))?;
        let seed = BASE64.decode(b64).map_err(|_| KeyError::BadPrivate("the key is not base64"))?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| KeyError::BadPrivate("the key is not 32 bytes"))?;
        Ok(Self::from_seed(&seed))
    }
}

/// An agency's public signing key; text form `ed25519:<base64>`.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Whether `signature` is this key's signature of `message` (strict verification: no
    /// malleable or small-order signatures).
    pub fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(signature);
        self.0.verify_strict(message, &sig).is_ok()
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", BASE64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let b64 = s.trim().strip_prefix("ed25519:").ok_or(KeyError::BadPublic("no ed25519: prefix"))?;
        let bytes = BASE64.decode(b64).map_err(|_| KeyError::BadPublic("not base64"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadPublic("not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublic("not a curve point"))?;
        if key.is_weak() {
            return Err(KeyError::BadPublic("a weak (small-order) key"));
        }
        Ok(Self(key))
    }
}

impl TryFrom<String> for PublicKey {
    type Error = KeyError;
    fn try_from(s: String) -> Result<Self, KeyError> {
        s.parse()
    }
}

impl From<PublicKey> for String {
    fn from(k: PublicKey) -> String {
        k.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_texts_round_trip_and_sign() {
        let key = AgencyKey::from_seed(&[7; 32]);
        let again = AgencyKey::parse_private_text(&key.to_private_text()).unwrap();
        assert_eq!(again.public(), key.public());
        let public: PublicKey = key.public().to_string().parse().unwrap();
        let sig = key.sign(b"message");
        assert!(public.verifies(b"message", &sig));
        assert!(!public.verifies(b"messagE", &sig));
        let mut bad = sig;
        bad[3] ^= 1;
        assert!(!public.verifies(b"message", &bad));
    }

    #[test]
    fn bad_key_texts_are_refused() {
        assert!(AgencyKey::parse_private_text("ed25519:AAAA").is_err());
        assert!(AgencyKey::parse_private_text(&format!("{PRIVATE_PREFIX}!!!")).is_err());
        assert!(AgencyKey::parse_private_text(&format!("{PRIVATE_PREFIX}{}", BASE64.encode([1u8; 31]))).is_err());
        assert!("ed25519:".parse::<PublicKey>().is_err());
        assert!("rsa:AAAA".parse::<PublicKey>().is_err());
        // The identity point is a weak key: anything "verifies" under some weak keys.
        let identity =
            format!("ed25519:{}", BASE64.encode([1u8].iter().chain([0u8; 31].iter()).copied().collect::<Vec<_>>()));
        assert!(identity.parse::<PublicKey>().is_err());
    }
}
