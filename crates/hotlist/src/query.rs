//! Investigative queries, their hits, and the brute-force oracle that defines them.

use chrono::{DateTime, Utc};
use limes_model::HotlistEntry;
use limes_plate::{CountryCode, PlateText, lookalike_key};
use rayon::prelude::*;

use crate::distance::{EditMatcher, levenshtein_within};
use crate::key::{pack, symbols};
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

/// A query prepared for testing one plate after another.
pub(crate) enum Prepared<'q> {
    Exact(&'q [u8]),
    Lookalike { fold: Vec<u8>, plate: &'q [u8] },
    Edit { matcher: EditMatcher, len: usize, symbols: u64, k: u8 },
    Wildcard { pattern: &'q Wildcard, required: u64 },
}

impl<'q> Prepared<'q> {
    pub(crate) fn new(query: &'q Query) -> Self {
        match query {
            Query::Exact(plate) => Self::Exact(plate.as_bytes()),
            Query::Lookalike(plate) => {
                Self::Lookalike { fold: lookalike_key(plate).as_bytes().to_vec(), plate: plate.as_bytes() }
            }
            Query::EditDistance { plate, max } => Self::Edit {
                matcher: EditMatcher::new(plate.as_bytes(), max.get()),
                len: plate.len(),
                symbols: symbols(plate.as_bytes()),
                k: max.get(),
            },
            Query::Wildcard(w) => {
                Self::Wildcard { pattern: w, required: symbols(&w.literal_bytes().collect::<Vec<_>>()) }
            }
        }
    }

    /// The distance of `plate` to the query if it matches.
    ///
    /// Edit queries first apply two exact necessary conditions, so they stay exact:
    /// the lengths differ by at most `k`, and at most `k` distinct symbols of the
    /// plate are missing from the query (and vice versa). Every plate position
    /// holding a symbol the query lacks must be an inserted or substituted
    /// character of some optimal alignment, each of the at most `k` edits creates
    /// at most one such position, and so at most `k` distinct such symbols exist.
    pub(crate) fn test(&self, plate: &[u8], plate_symbols: u64) -> Option<u8> {
        match self {
            Self::Exact(q) => (*q == plate).then_some(0),
            Self::Lookalike { fold, plate: q } => {
                let same =
                    fold.len() == plate.len() && fold.iter().zip(plate).all(|(f, &b)| *f == crate::key::fold_byte(b));
                // Folding maps character to character, so the distance is at most
                // the length, and at most 12.
                if same { levenshtein_within(q, plate, u8::MAX) } else { None }
            }
            Self::Edit { matcher, len, symbols, k } => {
                let k32 = u32::from(*k);
                if plate.len().abs_diff(*len) > usize::from(*k)
                    || (plate_symbols & !symbols).count_ones() > k32
                    || (symbols & !plate_symbols).count_ones() > k32
                {
                    return None;
                }
                matcher.within(plate)
            }
            // A plate lacking a literal of the pattern cannot match it.
            Self::Wildcard { pattern, required } => {
                (required & !plate_symbols == 0 && pattern.matches(plate)).then_some(0)
            }
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

/// The brute-force oracle with each entry's length and symbol set computed once,
/// for many queries over many entries (the recall benchmark's 10M × 10,000).
#[derive(Debug)]
pub struct BruteForce<'a> {
    entries: &'a [HotlistEntry],
    /// Per entry: its symbol set.
    symbols: Vec<u64>,
}

impl<'a> BruteForce<'a> {
    /// How many entries one query scans before the next query of its batch reuses
    /// the same symbol sets from the cache.
    const BLOCK: usize = 1 << 14;

    pub fn new(entries: &'a [HotlistEntry]) -> Self {
        let symbols = entries.par_iter().map(|e| symbols(e.plate.as_bytes())).collect();
        Self { entries, symbols }
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
        for (entry, &plate_symbols) in self.entries[range.clone()].iter().zip(&self.symbols[range]) {
            if let Some(distance) = query.test(entry.plate.as_bytes(), plate_symbols)
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
