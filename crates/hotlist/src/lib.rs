//! Hotlist matching operators can trust.
//!
//! This crate holds the hotlist in memory and answers two kinds of questions; it
//! does no I/O (hotlist files are parsed by the server, which converts them to
//! [`HotlistEntry`](limes_model::HotlistEntry) records).
//!
//! * [`HotlistIndex::match_read`] is the live path: for each normalised read, the
//!   entries whose plate equals the grammar-repaired text ([`MatchKind::Confirmed`]
//!   when the countries agree), whose look-alike fold (O/0/D/Q, I/1, B/8, S/5, Z/2,
//!   G/6) equals the read's, or which are flagged `fuzzy` and lie within one edit
//!   ([`MatchKind::Possible`]). A read costs one hash probe per distinct text.
//! * [`HotlistIndex::search`] serves investigators: exact, look-alike,
//!   edit-distance (≤ 1 or 2, with full recall by Pass-Join partitioning) and
//!   [`Wildcard`] queries such as `B*12?ABC`.
//! * [`brute_force_search`] and [`BruteForce`] define what `search` must return,
//!   by testing every entry; tests and the recall benchmark compare against them.
//! * [`levenshtein_within`], [`EditMatcher`] and [`Wildcard::matches`] are the
//!   text predicates, for reuse on stored reads.
//! * [`MatchPolicy`] turns confirmed hits into possible ones when the reader was
//!   unsure or saw another vehicle; [`ConfidenceCalibration`] keeps one camera's
//!   recent confidences so that "unsure" can be judged against that camera's own
//!   scale.
//!
//! # Design
//!
//! * Entries live in slots (`u32`) of 56 bytes: the plate and its look-alike fold
//!   packed base-37 into `u64`s, the id, expiry, country, reason, priority and
//!   flag; agencies are interned and the rare notes kept in a side map. Full
//!   [`HotlistEntry`](limes_model::HotlistEntry) records are rebuilt on demand.
//! * Two hash tables hold only slot numbers: by id, and by fold. Entries with the
//!   same fold are chained through their slots, so one probe serves both the
//!   exact and the look-alike match of a read.
//! * Fuzzy-flagged entries also sit in a deletion-neighbourhood table behind a
//!   1 MiB counting filter; a read probes its one-character deletions.
//! * The edit-distance index is Pass-Join: each distinct plate cut into 2 and into
//!   3 segments, posted by segment. The `segments` module proves that a query
//!   probing its multi-match-aware substrings cannot miss a plate within 1 or 2
//!   edits; every candidate is then verified exactly (Myers/Hyyrö bit-parallel).
//! * At ten million entries the index takes about 1.2 GiB
//!   ([`HotlistIndex::memory_bytes`]).
//!
//! Invariants: nothing here does I/O or reads a clock (callers pass `now`); an
//! expired entry never hits; an entry hits a read at most once; results are
//! sorted, so they do not depend on insertion order or hash seeds.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use limes_hotlist::{HotlistIndex, Query, MaxEdits, Wildcard};
//! use limes_model::{AgencyId, HotlistEntry, HotlistReason, MatchKind};
//! use limes_plate::{normalize, CountryCode, PlateText};
//!
//! let entry = HotlistEntry {
//!     id: 1,
//!     plate: PlateText::new("B123XYZ").unwrap(),
//!     country: Some(CountryCode::RO),
//!     reason: HotlistReason::Stolen,
//!     priority: 1,
//!     agency: AgencyId::new("ro-test").unwrap(),
//!     expires: None,
//!     fuzzy: false,
//!     note: None,
//!     vehicle: None,
//!     exercise: false,
//! };
//! let index = HotlistIndex::from_entries(vec![entry]);
//! let now = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
//!
//! let read = normalize("b 123 xyz", Some(CountryCode::RO)).unwrap();
//! let hits = index.match_read(&read, now);
//! assert_eq!((hits[0].entry_id, hits[0].kind), (1, MatchKind::Confirmed));
//!
//! // The same text, read as a Moldovan plate: an operator must look.
//! let read = normalize("B123XYZ", Some(CountryCode::MD)).unwrap();
//! assert_eq!(index.match_read(&read, now)[0].kind, MatchKind::Possible);
//!
//! // Read with 8 for B and no country: Romania's grammar would repair it to the entry,
//! // but the country was only guessed, so an operator must look.
//! let read = normalize("8123XYZ", None).unwrap();
//! assert_eq!(index.match_read(&read, now)[0].kind, MatchKind::Possible);
//!
//! let near = Query::EditDistance { plate: PlateText::new("B12XYZ").unwrap(), max: MaxEdits::One };
//! assert_eq!(index.search(&near, now, 10)[0].entry_id, 1);
//! let pattern = Query::Wildcard(Wildcard::parse("B*XY?").unwrap());
//! assert_eq!(index.search(&pattern, now, 10).len(), 1);
//! ```

mod calibration;
mod distance;
mod fuzzy;
mod index;
mod key;
mod policy;
mod query;
mod segments;
mod wildcard;

pub use calibration::ConfidenceCalibration;
pub use distance::{EditMatcher, levenshtein_within};
pub use index::{Hit, HotlistIndex};
pub use limes_model::MatchKind;
pub use policy::MatchPolicy;
pub use query::{BadMaxEdits, BruteForce, MaxEdits, Query, SearchHit, brute_force_search};
pub use wildcard::{Wildcard, WildcardError};
