//! The partner's OPRF key, its public half, and the PRF on plates.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use limes_plate::PlateText;
use rand_core::{CryptoRng, RngCore};
use voprf::{Group, VoprfServer};

use crate::{Point, Suite};

/// The `info` of RFC 9497's DeriveKeyPair: ties a seed to this protocol and its version.
const KEY_INFO: &[u8] = b"limes-hitquery/v1 key";

/// Why a public key text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not `ristretto255:` followed by the base64 of 32 bytes that encode a
    /// ristretto255 point other than the identity.
    #[error("not an OPRF public key (expected ristretto255:<base64 of 32 bytes>): {0}")]
    BadPublic(&'static str),
}

/// The answering partner's OPRF key for one window of sightings.
///
/// Secret: whoever holds it can compute the tag of any plate and so test every plate against the
/// published set without asking. It is derived from a 32-byte seed (RFC 9497 DeriveKeyPair, with
/// a fixed `info`), and the seed is what the partner stores. A new seed per window
/// ([`ServerKey::generate`]) is the key rotation: tags of one window say nothing about another.
pub struct ServerKey {
    seed: [u8; 32],
    server: VoprfServer<Suite>,
    public: PublicKey,
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ServerKey").field(&self.public).finish()
    }
}

impl ServerKey {
    /// The key derived from a stored seed; the same seed always gives the same key.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        // DeriveKeyPair fails only when `info` is longer than a u16 length can say (it is a short
        // constant) or when 256 successive derived scalars are all zero (probability ~2^-2000).
        let server = VoprfServer::<Suite>::new_from_seed(seed, KEY_INFO)
            .expect("RFC 9497 DeriveKeyPair cannot fail for a 32-byte seed and a short info");
        let public = PublicKey::from_point(server.get_public_key());
        Self { seed: *seed, server, public }
    }

    /// A new key from a fresh random seed (store [`ServerKey::seed`] to keep it).
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_seed(&seed)
    }

    /// The seed to store; secret.
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }

    /// The public key, published in the set header so that askers verify every answer against it.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// The PRF tags of a plate, computed directly with the key: what the partner enters into its
    /// published set, and what an asker obtains obliviously.
    pub fn tags(&self, plate: &PlateText) -> PlateTags {
        PlateTags {
            exact: Tag::of_output(&self.prf(&crate::input::exact(plate))),
            folded: Tag::of_output(&self.prf(&crate::input::folded(plate))),
        }
    }

    pub(crate) fn server(&self) -> &VoprfServer<Suite> {
        &self.server
    }

    fn prf(&self, input: &[u8]) -> Vec<u8> {
        // Evaluation fails only for an empty input, one longer than u16::MAX bytes (ours are a
        // constant prefix and at most 12 plate characters), or one hashing to the identity point
        // (probability ~2^-252, not reachable by choosing inputs).
        self.server.evaluate(input).expect("PRF inputs are short, non-empty and never hash to the identity").to_vec()
    }
}

/// The answering partner's public OPRF key: a ristretto255 point, text form
/// `ristretto255:<base64 of 32 bytes>`.
///
/// Kept as its 32 bytes, checked to encode a point when made; the point itself is decoded again
/// when a proof is verified.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    bytes: [u8; 32],
}

impl PublicKey {
    fn from_point(point: Point) -> Self {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&Suite::serialize_elem(point));
        Self { bytes }
    }

    /// Accepts the 32-byte canonical encoding of a ristretto255 point other than the identity.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        Suite::deserialize_elem(bytes)
            .map_err(|_| KeyError::BadPublic("not the canonical encoding of a non-identity point"))?;
        Ok(Self { bytes: *bytes })
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    pub(crate) fn point(&self) -> Point {
        Suite::deserialize_elem(&self.bytes).expect("the bytes were checked to encode a point when the key was made")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ristretto255:{}", BASE64.encode(self.bytes))
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
        let b64 = s.strip_prefix("ristretto255:").ok_or(KeyError::BadPublic("no ristretto255: prefix"))?;
        let bytes = BASE64.decode(b64).map_err(|_| KeyError::BadPublic("not base64"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadPublic("not 32 bytes"))?;
        Self::from_bytes(&bytes)
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A PRF value as the published set keeps it: the first [`Tag::LEN`] bytes of the 64-byte
/// RFC 9497 output.
///
/// 128 bits suffice: nobody without the key can compute tags, so the only collisions that matter
/// are accidental ones, and with 2^24 entries a lookup hits a wrong entry with probability
/// below 2^-104.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(pub(crate) [u8; Tag::LEN]);

impl Tag {
    /// Bytes kept of each PRF output.
    pub const LEN: usize = 16;

    pub(crate) fn of_output(output: &[u8]) -> Self {
        let mut tag = [0u8; Self::LEN];
        tag.copy_from_slice(&output[..Self::LEN]);
        Self(tag)
    }

    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", BASE64.encode(self.0))
    }
}

/// The two tags of one plate: of its exact text and of its look-alike-folded text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlateTags {
    /// The tag of `exact\0<plate>`.
    pub exact: Tag,
    /// The tag of `folded\0<look-alike key of the plate>`.
    pub folded: Tag,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_key_and_tags() {
        let a = ServerKey::from_seed(&[7; 32]);
        let b = ServerKey::from_seed(&[7; 32]);
        let c = ServerKey::from_seed(&[8; 32]);
        let plate = PlateText::new("B123ABC").unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert_eq!(a.tags(&plate), b.tags(&plate));
        assert_ne!(a.public_key(), c.public_key());
        assert_ne!(a.tags(&plate), c.tags(&plate));
        assert_eq!(a.seed(), &[7; 32]);
        // The secret never shows in debug output.
        assert!(!format!("{a:?}").contains("[7, 7"));
    }

    #[test]
    fn exact_and_folded_tags_differ_even_when_the_texts_are_equal() {
        // "80123" is its own look-alike key: the domain separation alone keeps the tags apart.
        let key = ServerKey::from_seed(&[1; 32]);
        let tags = key.tags(&PlateText::new("80123").unwrap());
        assert_ne!(tags.exact, tags.folded);
    }

    #[test]
    fn public_key_text_round_trips() {
        let key = ServerKey::from_seed(&[3; 32]).public_key();
        let text = key.to_string();
        assert!(text.starts_with("ristretto255:"));
        assert_eq!(text.parse::<PublicKey>().unwrap(), key);
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), key);
    }

    #[test]
    fn bad_public_key_texts_are_refused() {
        let check = |text: &str, why: &str| {
            assert_eq!(
                text.parse::<PublicKey>(),
                Err(KeyError::BadPublic(match why {
                    "prefix" => "no ristretto255: prefix",
                    "base64" => "not base64",
                    "length" => "not 32 bytes",
                    _ => "not the canonical encoding of a non-identity point",
                })),
                "{text}"
            );
        };
        check("", "prefix");
        check("ed25519:AAAA", "prefix");
        check("ristretto255:!!!", "base64");
        check(&format!("ristretto255:{}", BASE64.encode([1u8; 31])), "length");
        check(&format!("ristretto255:{}", BASE64.encode([1u8; 33])), "length");
        // The identity, a negative field element and one at or above p.
        check(&format!("ristretto255:{}", BASE64.encode([0u8; 32])), "point");
        let mut one = [0u8; 32];
        one[0] = 1;
        check(&format!("ristretto255:{}", BASE64.encode(one)), "point");
        check(&format!("ristretto255:{}", BASE64.encode([0xffu8; 32])), "point");
        let mut high = *ServerKey::from_seed(&[3; 32]).public_key().as_bytes();
        high[31] |= 0x80;
        check(&format!("ristretto255:{}", BASE64.encode(high)), "point");
    }
}
