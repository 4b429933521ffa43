//! Each recorded file of a case judged against the hash sets: exact hashes through the hash-set
//! store's indexes, PDQ (a picture's, or each second of a video's) through a
//! [`PdqCatalog`] over every known PDQ hash; then the case's pictures grouped into series of
//! near-duplicates.

use std::collections::BTreeMap;

use limes_triage::mih::Scratch;
use limes_triage::verdict::{self, PdqCatalog, Status, Verdict};

use crate::store::{CaseStore, HashSets, Kind, StoreError};

/// How many files ended in each status, and how many series of near-duplicates were found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matched {
    pub by_status: BTreeMap<&'static str, u64>,
    /// Series with more than one picture.
    pub series: u64,
}

/// Judges every file of the case (again: a new hash set changes verdicts) and stores the
/// verdicts and series.
pub fn match_case(case: &mut CaseStore, sets: &HashSets, radius: u32) -> Result<Matched, StoreError> {
    let files = case.files()?;
    let catalog = PdqCatalog::new(&sets.pdq_hashes()?, radius).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut scratch = Scratch::default();
    let mut verdicts = Vec::with_capacity(files.len());
    let mut matched = Matched::default();
    for f in &files {
        let r = &f.record;
        if matches!(r.kind, Kind::Link | Kind::Unreadable) && r.md5.is_none() {
            continue;
        }
        let exact = match (&r.md5, &r.sha1, &r.sha256) {
            (Some(md5), Some(sha1), Some(sha256)) => sets.exact(md5, sha1, sha256)?,
            _ => Vec::new(),
        };
        let mut hashes: Vec<_> = r.pdq.into_iter().collect();
        if let Some((_, quality)) = r.pdq {
            hashes.extend(r.turned.iter().map(|h| (*h, quality)));
        }
        hashes.extend(r.frames.iter().map(|(_, h, q)| (*h, *q)));
        let mut near = Vec::new();
        if !catalog.is_empty() {
            for (row, distance) in catalog.near(&hashes, &mut scratch) {
                near.push((sets.by_id(row)?, distance));
            }
        }
        let v = verdict::decide(&exact, &near);
        *matched.by_status.entry(v.status.name()).or_default() += 1;
        verdicts.push((f.id, v, None));
    }
    // Series: pictures only (a video's frames are one file already).
    let pictures: Vec<(u64, (limes_triage::pdq::Hash256, u8))> =
        files.iter().filter_map(|f| f.record.pdq.map(|p| (f.id, p))).collect();
    let hashes: Vec<_> = pictures.iter().map(|(_, p)| *p).collect();
    let groups = verdict::series(&hashes, radius).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut size: BTreeMap<usize, u64> = BTreeMap::new();
    for g in &groups {
        *size.entry(*g).or_default() += 1;
    }
    matched.series = size.values().filter(|&&n| n > 1).count() as u64;
    let series_of: BTreeMap<u64, u64> =
        pictures.iter().zip(&groups).filter(|(_, g)| size[g] > 1).map(|((id, _), g)| (*id, pictures[*g].0)).collect();
    for (id, _, series) in &mut verdicts {
        *series = series_of.get(id).copied();
    }
    case.set_verdicts(&verdicts)?;
    Ok(matched)
}

/// A verdict with its hit filled in from the hash sets (the case store keeps only the row).
pub fn resolve(sets: &HashSets, v: &Verdict) -> Result<Verdict, StoreError> {
    let mut v = v.clone();
    if let Some(hit) = &v.hit {
        v.hit = Some(sets.by_id(hit.known)?);
    }
    Ok(v)
}

/// Whether a status asks for a person's attention.
pub fn needs_review(s: Status) -> bool {
    matches!(s, Status::NearMatch | Status::Unknown)
}
