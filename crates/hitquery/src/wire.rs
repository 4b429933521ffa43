//! The request an asker sends and the response a partner returns, as JSON.
//!
//! ```text
//! request:  {"version":1,"key":"ristretto255:<base64>","elements":["<base64 of 32 bytes>", …]}
//! response: {"version":1,"elements":["<base64 of 32 bytes>", …],"proof":"<base64 of 64 bytes>"}
//! ```
//!
//! Elements are ristretto255 points in their canonical 32-byte encoding (standard base64 with
//! padding, 44 characters); a request holds two per plate (exact, folded), at most
//! [`MAX_ELEMENTS`]. The response's elements are in the request's order and its proof is one
//! RFC 9497 batch DLEQ proof (two scalars) over all of them. Parsing refuses unknown fields,
//! other versions, texts longer than [`MAX_MESSAGE_BYTES`], non-canonical encodings and the
//! identity point, and names the element at fault.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use voprf::{BlindedElement, EvaluationElement, Proof};

use crate::Suite;
use crate::key::{KeyError, PublicKey};

/// The wire version this crate writes and reads.
pub const WIRE_VERSION: u32 = 1;
/// The most plates one request may ask about.
pub const MAX_PLATES_PER_REQUEST: usize = 16;
/// The most elements one request (and so one response) may hold: two per plate.
pub const MAX_ELEMENTS: usize = 2 * MAX_PLATES_PER_REQUEST;
/// The longest request or response text [`Request::from_json`] and [`Response::from_json`]
/// read; a full one is under 2 KiB.
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024;

const ELEMENT_BYTES: usize = 32;
const PROOF_BYTES: usize = 64;

/// Why a request or response was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The text is longer than [`MAX_MESSAGE_BYTES`].
    #[error("message is {len} bytes, more than {MAX_MESSAGE_BYTES}")]
    TooLarge { len: usize },
    /// Not JSON of the message's shape (missing or unknown fields, wrong types).
    #[error("bad message: {0}")]
    Json(String),
    /// A `version` other than [`WIRE_VERSION`].
    #[error("message version {0} is not supported (this reader knows version {WIRE_VERSION})")]
    UnsupportedVersion(u64),
    /// The request's `key` is not a public key.
    #[error("bad key: {0}")]
    BadKey(#[from] KeyError),
    /// A message without elements.
    #[error("no elements")]
    NoElements,
    /// More elements than [`MAX_ELEMENTS`].
    #[error("{count} elements, more than the {MAX_ELEMENTS} a message may hold")]
    TooManyElements { count: usize },
    /// An element that is not standard base64.
    #[error("element {index} is not base64")]
    Base64 { index: usize },
    /// An element that does not decode to 32 bytes.
    #[error("element {index} is {len} bytes, not {ELEMENT_BYTES}")]
    Length { index: usize, len: usize },
    /// An element that is not the canonical encoding of a ristretto255 point other than the
    /// identity.
    #[error("element {index} is not a canonical non-identity ristretto255 point")]
    NotAPoint { index: usize },
    /// The response's proof is not the base64 of two canonical non-zero scalars.
    #[error("bad proof: {0}")]
    BadProof(&'static str),
}

/// What an asker sends: blinded elements for the partner's key of one window.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "RawRequest", into = "RawRequest")]
pub struct Request {
    pub(crate) key: PublicKey,
    pub(crate) elements: Vec<BlindedElement<Suite>>,
}

/// What a partner returns: the evaluated elements and a proof that they were evaluated with the
/// key of the set.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "RawResponse", into = "RawResponse")]
pub struct Response {
    pub(crate) elements: Vec<EvaluationElement<Suite>>,
    pub(crate) proof: Proof<Suite>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request").field("key", &self.key).field("elements", &self.elements.len()).finish()
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response").field("elements", &self.elements.len()).finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    version: u64,
    key: String,
    elements: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResponse {
    version: u64,
    elements: Vec<String>,
    proof: String,
}

impl Request {
    /// The key the asker wants evaluations under (the key of the set it will look up in).
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The number of evaluations the request asks for: what a rate limiter charges.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Always false for a request that was built or parsed (it has at least one element).
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// The blinded elements' bytes, in order. They are uniformly random points, independent of
    /// the plates, for anyone without the asker's blinds.
    pub fn element_bytes(&self) -> Vec<[u8; 32]> {
        self.elements.iter().map(|e| to_array(&e.serialize())).collect()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a request serializes")
    }

    /// Reads a request, at most [`MAX_MESSAGE_BYTES`] of JSON.
    pub fn from_json(text: &[u8]) -> Result<Self, WireError> {
        parse::<RawRequest>(text)?.try_into()
    }
}

impl Response {
    /// The number of evaluated elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Always false for a response that was built or parsed.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a response serializes")
    }

    /// Reads a response, at most [`MAX_MESSAGE_BYTES`] of JSON.
    pub fn from_json(text: &[u8]) -> Result<Self, WireError> {
        parse::<RawResponse>(text)?.try_into()
    }
}

fn parse<T: serde::de::DeserializeOwned>(text: &[u8]) -> Result<T, WireError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge { len: text.len() });
    }
    serde_json::from_slice(text).map_err(|e| WireError::Json(e.to_string()))
}

fn check_version(version: u64) -> Result<(), WireError> {
    if version == u64::from(WIRE_VERSION) { Ok(()) } else { Err(WireError::UnsupportedVersion(version)) }
}

fn decode_elements<T>(texts: &[String], deserialize: impl Fn(&[u8]) -> voprf::Result<T>) -> Result<Vec<T>, WireError> {
    if texts.is_empty() {
        return Err(WireError::NoElements);
    }
    if texts.len() > MAX_ELEMENTS {
        return Err(WireError::TooManyElements { count: texts.len() });
    }
    texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let bytes = BASE64.decode(text).map_err(|_| WireError::Base64 { index })?;
            // voprf reads the first 32 bytes of a longer slice: the length is checked here.
            if bytes.len() != ELEMENT_BYTES {
                return Err(WireError::Length { index, len: bytes.len() });
            }
            deserialize(&bytes).map_err(|_| WireError::NotAPoint { index })
        })
        .collect()
}

fn encode(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

fn to_array(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(bytes);
    out
}

impl TryFrom<RawRequest> for Request {
    type Error = WireError;
    fn try_from(raw: RawRequest) -> Result<Self, WireError> {
        check_version(raw.version)?;
        let key = raw.key.parse()?;
        let elements = decode_elements(&raw.elements, BlindedElement::<Suite>::deserialize)?;
        Ok(Self { key, elements })
    }
}

impl From<Request> for RawRequest {
    fn from(r: Request) -> Self {
        Self {
            version: WIRE_VERSION.into(),
            key: r.key.to_string(),
            elements: r.elements.iter().map(|e| encode(&e.serialize())).collect(),
        }
    }
}

impl TryFrom<RawResponse> for Response {
    type Error = WireError;
    fn try_from(raw: RawResponse) -> Result<Self, WireError> {
        check_version(raw.version)?;
        let elements = decode_elements(&raw.elements, EvaluationElement::<Suite>::deserialize)?;
        let proof = BASE64.decode(&raw.proof).map_err(|_| WireError::BadProof("not base64"))?;
        if proof.len() != PROOF_BYTES {
            return Err(WireError::BadProof("not 64 bytes"));
        }
        let proof =
            Proof::<Suite>::deserialize(&proof).map_err(|_| WireError::BadProof("not two canonical scalars"))?;
        Ok(Self { elements, proof })
    }
}

impl From<Response> for RawResponse {
    fn from(r: Response) -> Self {
        Self {
            version: WIRE_VERSION.into(),
            elements: r.elements.iter().map(|e| encode(&e.serialize())).collect(),
            proof: encode(&r.proof.serialize()),
        }
    }
}

#[cfg(test)]
mod tests;
