//! Investigative queries, their hits, and the brute-force oracle that defines them.

use chrono::{DateTime, Utc};
use limes_model::HotlistEntry;
use limes_plate::{CountryCode, PlateText, lookalike_key};
use rayon::prelude::*;

use crate::distance::{EditMatcher, levenshtein_within};
use crate::key::{pack, symbols, unpack};
use crate::wildcard::Wildcard;

/// The most edits an edit-distance query allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MaxEdits {
    One = 1,
    Two = 2,
}

impl MaxEdits {
    pub fn get(self) -> u8 {
        self as u8
    }
}

/// An edit bound other than 1 or 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("edit distance {0} is not supported: use 1 or 2 (0 is an exact query)")]
pub struct BadMaxEdits(pub u8);

impl TryFrom<u8> for MaxEdits {
    type Error = BadMaxEdits;
    fn try_from(k: u8) -> Result<Self, BadMaxEdits> {
        match k {
            1 => Ok(Self::One),
            2 => Ok(Self::Two),
            _ => Err(BadMaxEdits(k)),
        }
    }
}

/// What an investigator looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Entries whose plate is exactly this text.
    Exact(PlateText),
    /// Entries whose plate folds to the same look-alike key (O/0/D/Q, I/1, B/8, S/5, Z/2, G/6).
    Lookalike(PlateText),
    /// Entries whose plate is within `max` insertions, deletions and substitutions.
    EditDistance { plate: PlateText, max: MaxEdits },
    /// Entries whose plate matches the pattern.
    Wildcard(Wildcard),
}

/// One entry an investigative query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub entry_id: u64,
    pub plate: PlateText,
    pub country: Option<CountryCode>,
    /// The Levenshtein distance of the entry's plate to the query's plate; 0 for a
    /// wildcard query.
    pub distance: u8,
}

/// The order of search results: closest first, then by plate (shorter first, then
/// byte-wise), then by entry id.
pub(crate) fn hit_order(hit: &SearchHit) -> (u8, u64, u64) {
    (hit.distance, pack(hit.plate.as_bytes()), hit.entry_id)
}

/// Whether an entry has expired at `now`.
pub(crate) fn expired(expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires.is_some_and(|t| t <= now)
}

/// A plate's signature: its set of symbols (bits 1..=36, see `key::symbols`) and
/// its length (bits 48 and up).
pub(crate) fn signature(plate: &[u8]) -> u64 {
    symbols(plate) | (plate.len() as u64) << 48
}

const SYMBOLS: u64 = (1 << 48) - 1;

/// Whether `x` has at most `k` bits set: clearing the lowest set bit `k` times
/// leaves nothing. Cheaper than a population count without the `popcnt` instruction.
#[inline]
fn at_most_bits(mut x: u64, k: u32) -> bool {
    for _ in 0..k {
        x &= x.wrapping_sub(1);
    }
    x == 0
}

/// A query prepared for testing one plate after another.
pub(crate) struct Prepared<'q> {
    kind: Kind<'q>,
    /// The query plate's signature, or the pattern's literal symbols.
    signature: u64,
}

enum Kind<'q> {
    Exact(&'q [u8]),
    Lookalike { fold: Vec<u8>, plate: &'q [u8] },
    Edit { matcher: EditMatcher, k: u32 },
    Wildcard(&'q Wildcard),
}

impl<'q> Prepared<'q> {
    pub(crate) fn new(query: &'q Query) -> Self {
        match query {
            Query::Exact(plate) => Self { kind: Kind::Exact(plate.as_bytes()), signature: signature(plate.as_bytes()) },
            Query::Lookalike(plate) => Self {
                kind: Kind::Lookalike { fold: lookalike_key(plate).as_bytes().to_vec(), plate: plate.as_bytes() },
                signature: signature(plate.as_bytes()),
            },
            Query::EditDistance { plate, max } => Self {
                kind: Kind::Edit { matcher: EditMatcher::new(plate.as_bytes(), max.get()), k: max.get().into() },
                signature: signature(plate.as_bytes()),
            },
            Query::Wildcard(w) => Self {
                kind: Kind::Wildcard(w),
                signature: symbols(&w.literal_bytes().collect::<Vec<_>>()) | (w.min_len() as u64) << 48,
            },
        }
    }

    /// A necessary condition for a plate with this signature to match, cheap enough
    /// to apply to every entry of a scan.
    ///
    /// * Exact: the same symbols and length.
    /// * Look-alike: the same length (folding maps character to character).
    /// * Edit distance `k`: the lengths differ by at most `k`, and at most `k`
    ///   distinct symbols of the plate are missing from the query (and vice versa).
    ///   Every plate position holding a symbol the query lacks is an inserted or
    ///   substituted character in any alignment, each of the at most `k` edits
    ///   makes at most one such position, so there are at most `k` such symbols.
    /// * Wildcard: the plate holds every literal of the pattern and is long enough.
    #[inline]
    pub(crate) fn may_match(&self, plate_signature: u64) -> bool {
        let (symbols, len) = (plate_signature & SYMBOLS, plate_signature >> 48);
        let (query_symbols, query_len) = (self.signature & SYMBOLS, self.signature >> 48);
        match &self.kind {
            Kind::Exact(_) => plate_signature == self.signature,
            Kind::Lookalike { .. } => len == query_len,
            Kind::Edit { k, .. } => {
                len.abs_diff(query_len) <= u64::from(*k)
                    && at_most_bits(symbols & !query_symbols, *k)
                    && at_most_bits(query_symbols & !symbols, *k)
            }
            Kind::Wildcard(_) => query_symbols & !symbols == 0 && len >= query_len,
        }
    }

    /// The distance of `plate` to the query if it matches.
    pub(crate) fn test(&self, plate: &[u8]) -> Option<u8> {
        match &self.kind {
            Kind::Exact(q) => (*q == plate).then_some(0),
            Kind::Lookalike { fold, plate: q } => {
                let same =
                    fold.len() == plate.len() && fold.iter().zip(plate).all(|(f, &b)| *f == crate::key::fold_byte(b));
                // Folding maps character to character, so the distance is at most 12.
                if same { levenshtein_within(q, plate, u8::MAX) } else { None }
            }
            Kind::Edit { matcher, .. } => matcher.within(plate),
            Kind::Wildcard(w) => w.matches(plate).then_some(0),
        }
    }
}

/// Sorts hits into result order and keeps the first `limit`.
pub(crate) fn finish(mut hits: Vec<SearchHit>, limit: usize) -> Vec<SearchHit> {
    hits.sort_unstable_by_key(hit_order);
    hits.truncate(limit);
    hits
}

/// The hits of `query` among `entries` by testing every entry: the definition
/// [`HotlistIndex::search`](crate::HotlistIndex::search) must agree with.
///
/// Entries should have distinct ids, as in an index.
pub fn brute_force_search(entries: &[HotlistEntry], query: &Query, now: DateTime<Utc>, limit: usize) -> Vec<SearchHit> {
    BruteForce::new(entries).search(query, now, limit)
}

/// The brute-force oracle with each entry's plate signature (symbol set and
/// length) computed once, for many queries over many entries (the recall
/// benchmark's 10M × 10,000). A scan reads the 8-byte signatures and touches an
/// entry only when its signature meets a necessary condition for a match, so the
/// scan stays exact: the same symbols and length for an exact query, the same
/// length for a look-alike, every literal for a wildcard, and for `k` edits,
/// lengths within `k` and at most `k` distinct symbols of either plate missing
/// from the other (each such symbol needs an edit of its own).
#[derive(Debug)]
pub struct BruteForce<'a> {
    entries: &'a [HotlistEntry],
    signatures: Vec<u64>,
    /// The packed plates, so that testing a plate does not chase a pointer.
    keys: Vec<u64>,
}

impl<'a> BruteForce<'a> {
    /// How many entries one query scans before the next query of its batch reuses
    /// the same symbol sets from the cache.
    const BLOCK: usize = 1 << 14;

    pub fn new(entries: &'a [HotlistEntry]) -> Self {
        let signatures = entries.par_iter().map(|e| signature(e.plate.as_bytes())).collect();
        let keys = entries.par_iter().map(|e| pack(e.plate.as_bytes())).collect();
        Self { entries, signatures, keys }
    }

    /// The hits of one query.
    pub fn search(&self, query: &Query, now: DateTime<Utc>, limit: usize) -> Vec<SearchHit> {
        let prepared = Prepared::new(query);
        let hits = self.scan(&prepared, 0..self.entries.len(), now, Vec::new());
        finish(hits, limit)
    }

    /// The hits of each query, scanning the entries block by block for a batch of
    /// queries at a time, batches in parallel.
    pub fn search_many(&self, queries: &[Query], now: DateTime<Utc>, limit: usize) -> Vec<Vec<SearchHit>> {
        queries
            .par_chunks(32)
            .flat_map_iter(|batch| {
                let prepared: Vec<Prepared> = batch.iter().map(Prepared::new).collect();
                let mut hits: Vec<Vec<SearchHit>> = vec![Vec::new(); batch.len()];
                let mut start = 0;
                while start < self.entries.len() {
                    let end = (start + Self::BLOCK).min(self.entries.len());
                    for (p, h) in prepared.iter().zip(hits.iter_mut()) {
                        *h = self.scan(p, start..end, now, std::mem::take(h));
                    }
                    start = end;
                }
                hits.into_iter().map(move |h| finish(h, limit))
            })
            .collect()
    }

    fn scan(
        &self,
        query: &Prepared,
        range: std::ops::Range<usize>,
        now: DateTime<Utc>,
        mut hits: Vec<SearchHit>,
    ) -> Vec<SearchHit> {
        for (i, &plate_signature) in self.signatures[range.clone()].iter().enumerate() {
            if !query.may_match(plate_signature) {
                continue;
            }
            let i = range.start + i;
            if let Some(distance) = query.test(unpack(self.keys[i]).as_bytes())
                && let entry = &self.entries[i]
                && !expired(entry.expires, now)
            {
                hits.push(SearchHit {
                    entry_id: entry.id,
                    plate: entry.plate.clone(),
                    country: entry.country,
                    distance,
                });
            }
        }
        hits
    }
}
