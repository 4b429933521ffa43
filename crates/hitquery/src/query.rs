//! The three steps: the asker blinds, the partner evaluates, the asker verifies and looks up.

use std::fmt;

use limes_plate::PlateText;
use rand_core::{CryptoRng, RngCore};
use voprf::VoprfClient;

use crate::Suite;
use crate::key::{PlateTags, PublicKey, ServerKey, Tag};
use crate::set::{Answer, PublishedSet};
use crate::wire::{MAX_PLATES_PER_REQUEST, Request, Response};

/// Why the asker could not ask or could not use an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A query needs at least one plate.
    #[error("no plates to ask about")]
    NoPlates,
    /// More plates than [`MAX_PLATES_PER_REQUEST`].
    #[error("{count} plates, more than the {MAX_PLATES_PER_REQUEST} one request may ask about")]
    TooManyPlates { count: usize },
    /// The set to look up in is not under the key the query was blinded for.
    #[error("the set's key {set} is not the key {query} the query was made for")]
    KeyMismatch { query: PublicKey, set: PublicKey },
    /// The response holds another number of elements than the request.
    #[error("asked for {asked} evaluations, the response holds {got}")]
    CountMismatch { asked: usize, got: usize },
    /// The proof does not show that the response was computed with the set's key: the partner
    /// used another key (or tampered with the elements). The response is discarded.
    #[error("the partner's proof does not verify against the set's key")]
    Proof,
}

/// Why the partner refused to evaluate a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvaluateError {
    /// The request is for another key (another window, or another partner).
    #[error("the request is for key {asked}, not this key {ours}")]
    WrongKey { asked: PublicKey, ours: PublicKey },
}

/// An asker's query in flight: the blinds and inputs it needs to read the response. Secret to
/// the asker (it holds the plates); never sent.
pub struct Query {
    key: PublicKey,
    inputs: Vec<Vec<u8>>,
    clients: Vec<VoprfClient<Suite>>,
}

impl fmt::Debug for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query").field("key", &self.key).field("plates", &(self.inputs.len() / 2)).finish()
    }
}

impl Query {
    /// Blinds the exact and folded forms of each plate, with fresh random blinds, for the
    /// partner's key of the set the answer will be looked up in. Returns the query to keep and
    /// the request to send. The request holds two elements per plate, whatever the plates.
    pub fn new<R: RngCore + CryptoRng>(
        rng: &mut R,
        key: &PublicKey,
        plates: &[PlateText],
    ) -> Result<(Self, Request), QueryError> {
        if plates.is_empty() {
            return Err(QueryError::NoPlates);
        }
        if plates.len() > MAX_PLATES_PER_REQUEST {
            return Err(QueryError::TooManyPlates { count: plates.len() });
        }
        let inputs: Vec<Vec<u8>> =
            plates.iter().flat_map(|p| [crate::input::exact(p), crate::input::folded(p)]).collect();
        let (clients, elements) = inputs
            .iter()
            .map(|input| {
                // Blinding fails only for an empty input or one longer than u16::MAX bytes.
                let blinded = VoprfClient::<Suite>::blind(input, rng).expect("PRF inputs are short and non-empty");
                (blinded.state, blinded.message)
            })
            .unzip();
        Ok((Self { key: *key, inputs, clients }, Request { key: *key, elements }))
    }

    /// Verifies the partner's proof against the set's key, unblinds, and looks each plate up in
    /// the set: one [`Answer`] per plate, in the order asked.
    pub fn finish(self, response: &Response, set: &PublishedSet) -> Result<Vec<Answer>, QueryError> {
        if *set.key() != self.key {
            return Err(QueryError::KeyMismatch { query: self.key, set: *set.key() });
        }
        if response.elements.len() != self.clients.len() {
            return Err(QueryError::CountMismatch { asked: self.clients.len(), got: response.elements.len() });
        }
        let outputs = VoprfClient::<Suite>::batch_finalize(
            &self.inputs,
            &self.clients,
            &response.elements,
            &response.proof,
            self.key.point(),
        )
        .map_err(|_| QueryError::Proof)?;
        let tags: Vec<Tag> = outputs
            .map(|output| Tag::of_output(&output.expect("finalizing fails only for inputs blind already refused")))
            .collect();
        Ok(tags.chunks_exact(2).map(|pair| set.answer(&PlateTags { exact: pair[0], folded: pair[1] })).collect())
    }
}

impl ServerKey {
    /// The partner's step: evaluates every blinded element with this key and proves, in one
    /// batch proof, that it did. The partner learns nothing of the plates; the edge charges
    /// [`Request::len`] evaluations to the asker (see [`crate::RateLimiter`]) before calling this.
    pub fn evaluate<R: RngCore + CryptoRng>(&self, rng: &mut R, request: &Request) -> Result<Response, EvaluateError> {
        if request.key != self.public_key() {
            return Err(EvaluateError::WrongKey { asked: request.key, ours: self.public_key() });
        }
        // Fails only for more than u16::MAX elements; a request holds at most MAX_ELEMENTS.
        let evaluated = self
            .server()
            .batch_blind_evaluate(rng, &request.elements)
            .expect("a request holds at most MAX_ELEMENTS elements");
        Ok(Response { elements: evaluated.messages, proof: evaluated.proof })
    }
}
