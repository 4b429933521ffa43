//! The provider's public keys (a JSON Web Key Set, RFC 7517), parsed once per fetch.
//!
//! Only what can verify a token signed by the provider is kept: RSA keys of 2048 to 8192 bits,
//! P-256 and P-384 keys, Ed25519 keys, each meant for signatures (`use` absent or `sig`,
//! `key_ops` absent or with `verify`). Symmetric (`oct`) keys are never kept: a node never accepts
//! a token that anyone holding a shared secret could have made. A key that cannot be read is
//! skipped, so one odd key of the provider does not stop the others.

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use crate::OidcError;
use crate::validate::Alg;

/// The most keys a key set may hold.
pub const MAX_KEYS: usize = 64;

/// base64url as key sets write it: without padding, padding tolerated.
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A provider's signing keys.
#[derive(Clone, Debug)]
pub struct Jwks {
    keys: Vec<Key>,
}

#[derive(Clone, Debug)]
pub(crate) struct Key {
    kid: Option<String>,
    alg: Option<String>,
    kind: KeyKind,
    pub(crate) decoding: DecodingKey,
}

/// What a key can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawKey {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    public_key_use: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

impl Jwks {
    /// Reads a key set document (`{"keys": [...]}`), keeping the keys that can verify signatures.
    ///
    /// Fails if the document is not a key set, holds more than [`MAX_KEYS`] keys or no usable key.
    pub fn from_json(document: &[u8]) -> Result<Jwks, OidcError> {
        let set: RawSet = serde_json::from_slice(document)
            .map_err(|error| OidcError::Jwks(format!("not a JSON Web Key Set: {error}")))?;
        if set.keys.len() > MAX_KEYS {
            return Err(OidcError::Jwks(format!("{} keys, more than {MAX_KEYS}", set.keys.len())));
        }
        let total = set.keys.len();
        let keys: Vec<Key> = set.keys.into_iter().filter_map(Key::read).collect();
        if keys.is_empty() {
            return Err(OidcError::Jwks(format!("none of its {total} keys can verify a signature")));
        }
        Ok(Jwks { keys })
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no usable key (never true for a set [`Jwks::from_json`] returned).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `kid`s of the usable keys, in the set's order (keys without one are left out).
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|key| key.kid.as_deref())
    }

    /// The keys a token signed with `alg` under `kid` may be verified with.
    pub(crate) fn candidates(&self, kid: Option<&str>, alg: Alg) -> Result<Vec<&Key>, OidcError> {
        match kid {
            Some(kid) => {
                let named: Vec<&Key> = self.keys.iter().filter(|key| key.kid.as_deref() == Some(kid)).collect();
                if named.is_empty() {
                    // A set may leave out `kid`s (RFC 7517 makes them optional): its keys
                    // without one that fit the algorithm may have made the token.
                    let unnamed: Vec<&Key> =
                        self.keys.iter().filter(|key| key.kid.is_none() && key.fits(alg)).collect();
                    if unnamed.is_empty() {
                        return Err(OidcError::UnknownKey { kid: Some(kid.to_owned()) });
                    }
                    return Ok(unnamed);
                }
                let fitting: Vec<&Key> = named.into_iter().filter(|key| key.fits(alg)).collect();
                if fitting.is_empty() {
                    return Err(OidcError::KeyMismatch { kid: kid.to_owned(), alg: alg.name().to_owned() });
                }
                Ok(fitting)
            }
            None => {
                let fitting: Vec<&Key> = self.keys.iter().filter(|key| key.fits(alg)).collect();
                if fitting.is_empty() {
                    return Err(OidcError::UnknownKey { kid: None });
                }
                Ok(fitting)
            }
        }
    }
}

impl Key {
    fn read(value: serde_json::Value) -> Option<Key> {
        let raw: RawKey = serde_json::from_value(value).ok()?;
        if raw.public_key_use.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        if raw.key_ops.as_ref().is_some_and(|ops| !ops.iter().any(|op| op == "verify")) {
            return None;
        }
        let component = |value: &Option<String>| KEY_BASE64.decode(value.as_deref()?).ok();
        let (kind, decoding) = match (raw.kty.as_str(), raw.crv.as_deref()) {
            ("RSA", _) => {
                let n = component(&raw.n)?;
                let e = component(&raw.e)?;
                let bits = significant_bits(&n);
                if !(2048..=8192).contains(&bits) || e.is_empty() || e.len() > 8 {
                    return None;
                }
                (KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
            }
            ("EC", Some(curve @ ("P-256" | "P-384"))) => {
                let (kind, size) = if curve == "P-256" { (KeyKind::P256, 32) } else { (KeyKind::P384, 48) };
                let x = component(&raw.x)?;
                let y = component(&raw.y)?;
                if x.len() != size || y.len() != size {
                    return None;
                }
                // The uncompressed point, as the verifier reads it.
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (kind, DecodingKey::from_ec_der(&point))
            }
            ("OKP", Some("Ed25519")) => {
                let x = component(&raw.x)?;
                if x.len() != 32 {
                    return None;
                }
                (KeyKind::Ed25519, DecodingKey::from_ed_der(&x))
            }
            _ => return None,
        };
        Some(Key { kid: raw.kid, alg: raw.alg, kind, decoding })
    }

    /// Whether this key may verify a signature made with `alg`: its type and curve fit, and its
    /// own `alg`, if it names one, is that one (`EdDSA` and `Ed25519` are the same for an
    /// Ed25519 key).
    fn fits(&self, alg: Alg) -> bool {
        if self.kind != alg.key_kind() {
            return false;
        }
        match self.alg.as_deref() {
            None => true,
            Some(named) => {
                named == alg.name() || (self.kind == KeyKind::Ed25519 && matches!(named, "EdDSA" | "Ed25519"))
            }
        }
    }
}

/// The bit length of a big-endian unsigned integer.
fn significant_bits(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        None => 0,
        Some(first) => (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize,
    }
}
