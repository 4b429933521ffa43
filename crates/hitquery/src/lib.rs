//! Hit/no-hit on a partner's plate sightings that does not reveal the question.
//!
//! An investigator asks a partner agency across the border whether it saw a plate. The partner
//! must not learn which plate was asked about, and the asker must learn only whether that plate
//! (or a look-alike reading of it) was seen, not the partner's other sightings. A keyed hash
//! shared with the asker fails the second goal: plates are few enough (tens of millions per
//! country) to hash them all. So the tags are values of an oblivious PRF (RFC 9497,
//! ristretto255-SHA512, through the `voprf` crate) whose key only the partner holds; the asker
//! gets the PRF of its own plate without showing it, one rate-limited evaluation at a time.
//! The threat model is in `design/hit-no-hit.md`.
//!
//! The flow, one window of sightings (say the last seven days):
//!
//! 1. The partner holds a [`ServerKey`] for the window (a stored 32-byte seed; a new one per
//!    window) and publishes a [`PublishedSet`]: for each distinct plate it saw, the tag of the
//!    plate's exact text and the tag of its look-alike-folded text ([`limes_plate::lookalike_key`]:
//!    O/0, B/8, I/1, …; Cyrillic look-alikes are already Latin in a [`PlateText`](limes_plate::PlateText)), each with a
//!    random [`Reference`] it can later resolve for a full-data request. The set's header holds
//!    the window's public key. See [`set`] for the file format and [`input`] for exactly what
//!    is hashed (the country is not).
//! 2. The asker blinds both forms of its plate: [`Query::new`] gives the query to keep and a
//!    [`Request`] to send (two random-looking points per plate; [`wire`] has the JSON).
//! 3. The partner's edge charges the asking agency [`Request::len`] evaluations in its
//!    [`RateLimiter`], audits, and calls [`ServerKey::evaluate`]: evaluated points and one proof.
//! 4. The asker's [`Query::finish`] checks the proof against the key in the set, unblinds,
//!    and looks the tags up in the set: an [`Answer`] per plate, the exact reference if the plate
//!    was seen and the references of every look-alike plate seen.
//!
//! **Why VOPRF mode.** In plain OPRF mode the partner could evaluate each request, or each
//! element of a batch, with a different key and put entries under several keys into its set:
//! the reference a hit yields, and so the full-data request that names it, would tell the
//! partner which query, session or batch position it came from. It could also answer one asker
//! with a random key and turn all its questions into misses without it showing. In VOPRF mode
//! every response carries a proof that it was computed with the key in the set's header, and
//! [`Query::finish`] refuses it otherwise, so an evaluation depends only on the plate. A set is
//! the same bytes for every asker it is sent to; askers that compare set
//! [digests](PublishedSet::digest) detect a partner handing out per-asker sets.
//!
//! ```
//! use limes_hitquery::rand_core::OsRng;
//! use limes_hitquery::{PublishedSet, Query, Request, Response, ServerKey, SetBuilder, Window};
//! use limes_plate::{CountryCode, normalize};
//!
//! // The partner: a key for the window, and the plates it saw.
//! let key = ServerKey::generate(&mut OsRng);
//! let window = Window::new(1_767_225_600, 1_767_830_400).unwrap();
//! let mut builder = SetBuilder::new(&key, window);
//! let seen = builder.insert(&mut OsRng, &normalize("B 01 ABC", Some(CountryCode::RO)).unwrap().text).unwrap();
//! builder.insert(&mut OsRng, &normalize("CJ 99 XYZ", Some(CountryCode::RO)).unwrap().text).unwrap();
//! let published = builder.build().to_bytes(); // sent to every partner
//!
//! // The asker: a plate that was seen, the same plate as a camera misread it (8 for B), and one
//! // that was not seen.
//! let set = PublishedSet::from_bytes(&published).unwrap();
//! let plates = ["B 01 ABC", "8 01 ABC", "AB 12 CDE"].map(|p| normalize(p, None).unwrap().text);
//! let (query, request) = Query::new(&mut OsRng, set.key(), &plates).unwrap();
//! let request = request.to_json();
//!
//! // The partner evaluates blind (after its rate limiter said yes).
//! let response = key.evaluate(&mut OsRng, &Request::from_json(request.as_bytes()).unwrap()).unwrap();
//! let response = response.to_json();
//!
//! // The asker verifies, unblinds and looks up.
//! let answers = query.finish(&Response::from_json(response.as_bytes()).unwrap(), &set).unwrap();
//! assert_eq!(answers[0].exact, Some(seen.exact));
//! assert_eq!(answers[0].folded, vec![seen.folded]);
//! assert_eq!(answers[1].exact, None); // "801ABC" was not seen as written,
//! assert_eq!(answers[1].folded, vec![seen.folded]); // but a look-alike of it was
//! assert!(!answers[2].is_hit());
//! ```

pub mod input;
mod key;
mod limit;
mod query;
pub mod set;
pub mod wire;

pub use key::{KeyError, PlateTags, PublicKey, ServerKey, Tag};
pub use limit::{Decision, RateConfig, RateConfigError, RateLimiter};
pub use query::{EvaluateError, Query, QueryError};
pub use set::{Answer, Entered, PublishedSet, Reference, SetBuilder, SetError, Window};
pub use wire::{Request, Response, WireError};

/// The `rand_core` (0.6) whose traits the randomness parameters take; `rand_core::OsRng` is the
/// operating system's generator.
pub use rand_core;

/// The RFC 9497 cipher suite: ristretto255 with SHA-512.
type Suite = voprf::Ristretto255;
/// A point of the suite's group.
type Point = <Suite as voprf::Group>::Elem;
