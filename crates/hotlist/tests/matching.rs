//! Live matching semantics, case by case. All plates are made up.

use chrono::{DateTime, Duration, TimeZone, Utc};
use limes_hotlist::{Hit, HotlistIndex};
use limes_model::{AgencyId, HotlistEntry, HotlistReason, MatchKind};
use limes_plate::{Candidate, CountryCode, Normalized, PlateText};

use MatchKind::{Confirmed, Possible};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 5, 4, 12, 0, 0).unwrap()
}

fn entry(id: u64, plate: &str, country: Option<CountryCode>) -> HotlistEntry {
    HotlistEntry {
        exercise: false,
        id,
        plate: PlateText::new(plate).unwrap(),
        country,
        reason: HotlistReason::Stolen,
        priority: 2,
        agency: AgencyId::new("xx-test").unwrap(),
        expires: None,
        fuzzy: false,
        note: None,
        vehicle: None,
    }
}

fn fuzzy(e: HotlistEntry) -> HotlistEntry {
    HotlistEntry { fuzzy: true, ..e }
}

fn expiring(e: HotlistEntry, at: DateTime<Utc>) -> HotlistEntry {
    HotlistEntry { expires: Some(at), ..e }
}

/// A read with a given country.
fn read(text: &str, country: CountryCode) -> Normalized {
    Normalized {
        text: PlateText::new(text).unwrap(),
        country: Some(country),
        valid: true,
        repaired: false,
        ambiguous: false,
        candidates: vec![],
    }
}

/// A read that came without a country, with the candidate countries' repairs.
fn read_unknown(text: &str, candidates: &[(CountryCode, &str)]) -> Normalized {
    Normalized {
        text: PlateText::new(text).unwrap(),
        country: None,
        valid: !candidates.is_empty(),
        repaired: false,
        ambiguous: false,
        candidates: candidates
            .iter()
            .map(|&(country, text)| Candidate { country, text: PlateText::new(text).unwrap(), score: 0.5 })
            .collect(),
    }
}

fn check(entries: Vec<HotlistEntry>, read: Normalized, expected: &[(u64, MatchKind, u8)]) {
    let index = HotlistIndex::from_entries(entries.clone());
    let hits: Vec<(u64, MatchKind, u8)> =
        index.match_read(&read, now()).iter().map(|h| (h.entry_id, h.kind, h.distance)).collect();
    assert_eq!(hits, expected, "bulk-built index, read {read:?}");
    // Inserting one by one must give the same index.
    let mut grown = HotlistIndex::new();
    for e in entries {
        grown.insert(e);
    }
    let again: Vec<(u64, MatchKind, u8)> =
        grown.match_read(&read, now()).iter().map(|h| (h.entry_id, h.kind, h.distance)).collect();
    assert_eq!(again, expected, "grown index, read {read:?}");
}

const RO: CountryCode = CountryCode::RO;
const UA: CountryCode = CountryCode::UA;
const MD: CountryCode = CountryCode::MD;

#[test]
fn confirmed_on_equal_text_and_country() {
    check(vec![entry(1, "B123XYZ", Some(RO))], read("B123XYZ", RO), &[(1, Confirmed, 0)]);
}

#[test]
fn confirmed_when_the_entry_has_no_country() {
    check(vec![entry(1, "B123XYZ", None)], read("B123XYZ", RO), &[(1, Confirmed, 0)]);
}

#[test]
fn possible_when_countries_differ() {
    check(vec![entry(1, "B123XYZ", Some(UA))], read("B123XYZ", RO), &[(1, Possible, 0)]);
}

#[test]
fn possible_on_lookalikes() {
    check(vec![entry(1, "B123XYZ", Some(RO))], read("8123XYZ", RO), &[(1, Possible, 1)]);
    check(vec![entry(1, "B123XYZ", Some(RO))], read("81Z3XYZ", RO), &[(1, Possible, 2)]);
    check(vec![entry(1, "SO12GIB", Some(UA))], read("5012618", RO), &[(1, Possible, 5)]);
    // Look-alike folding keeps the length: a deletion is not a look-alike.
    check(vec![entry(1, "B123XYZ", Some(RO))], read("B12XYZ", RO), &[]);
}

#[test]
fn unrelated_plates_do_not_hit() {
    check(vec![entry(1, "B123XYZ", Some(RO))], read("B123XYA", RO), &[]);
    check(vec![entry(1, "B123XYZ", Some(RO))], read("CJ07ABC", RO), &[]);
}

#[test]
fn read_without_country() {
    // The read's own text equal: confirmed, whatever the entry's country.
    check(vec![entry(1, "B123XYZ", Some(RO))], read_unknown("B123XYZ", &[]), &[(1, Confirmed, 0)]);
    check(vec![entry(1, "B123XYZ", Some(UA))], read_unknown("B123XYZ", &[(RO, "B123XYZ")]), &[(1, Confirmed, 0)]);
    // A candidate's repair equal, even for the entry's country: only possible (the
    // country was guessed, then the text repaired by the guess).
    check(
        vec![entry(1, "B123XYZ", Some(RO))],
        read_unknown("8123XYZ", &[(MD, "8123XYZ"), (RO, "B123XYZ")]),
        &[(1, Possible, 0)],
    );
    // ... or for an entry without country.
    check(vec![entry(1, "B123XYZ", None)], read_unknown("8123XYZ", &[(RO, "B123XYZ")]), &[(1, Possible, 0)]);
    // A candidate's repair equal, but for another country: possible.
    check(vec![entry(1, "B123XYZ", Some(UA))], read_unknown("8123XYZ", &[(RO, "B123XYZ")]), &[(1, Possible, 0)]);
    // Only a look-alike of a candidate's repair.
    check(vec![entry(1, "B1Z3XYZ", Some(RO))], read_unknown("8I23XYZ", &[(RO, "B123XYZ")]), &[(1, Possible, 1)]);
}

#[test]
fn expired_entries_never_hit() {
    let at_now = expiring(entry(1, "B123XYZ", Some(RO)), now());
    check(vec![at_now], read("B123XYZ", RO), &[]);
    let past = fuzzy(expiring(entry(1, "B123XYZ", Some(RO)), now() - Duration::days(1)));
    check(vec![past], read("B123XY", RO), &[]);
    let later = expiring(entry(1, "B123XYZ", Some(RO)), now() + Duration::seconds(1));
    check(vec![later], read("B123XYZ", RO), &[(1, Confirmed, 0)]);
}

#[test]
fn fuzzy_entries_hit_within_one_edit() {
    let flagged = || fuzzy(entry(1, "B123XYZ", Some(RO)));
    check(vec![flagged()], read("B123XY", RO), &[(1, Possible, 1)]);
    check(vec![flagged()], read("B1234XYZ", RO), &[(1, Possible, 1)]);
    check(vec![flagged()], read("B124XYZ", RO), &[(1, Possible, 1)]);
    check(vec![flagged()], read("B124XYA", RO), &[]);
    // Not flagged: no edit-distance hit.
    check(vec![entry(1, "B123XYZ", Some(RO))], read("B124XYZ", RO), &[]);
    // A fuzzy entry that matches exactly hits once, confirmed.
    check(vec![flagged()], read("B123XYZ", RO), &[(1, Confirmed, 0)]);
    // The fuzzy distance counts for a candidate's repair too.
    check(vec![flagged()], read_unknown("CJ07ABC", &[(RO, "B123XY")]), &[(1, Possible, 1)]);
}

#[test]
fn hits_are_sorted_strongest_first() {
    let entries = vec![
        entry(4, "8123XYZ", Some(RO)),
        entry(3, "B123XYZ", Some(UA)),
        entry(2, "B123XYZ", None),
        entry(1, "B123XYZ", Some(RO)),
        fuzzy(entry(5, "B123XY", Some(RO))),
        entry(6, "B123XY", Some(RO)),
    ];
    check(
        entries,
        read("B123XYZ", RO),
        &[(1, Confirmed, 0), (2, Confirmed, 0), (3, Possible, 0), (4, Possible, 1), (5, Possible, 1)],
    );
}

#[test]
fn removed_and_replaced_entries() {
    let mut index = HotlistIndex::from_entries(vec![entry(1, "B123XYZ", Some(RO)), fuzzy(entry(2, "B123XYA", None))]);
    let b123 = read("B123XYZ", RO);
    assert_eq!(index.match_read(&b123, now()).len(), 2);

    let removed = index.remove(1).unwrap();
    assert_eq!(removed, entry(1, "B123XYZ", Some(RO)));
    assert_eq!(index.match_read(&b123, now()), vec![Hit { entry_id: 2, kind: Possible, distance: 1, demoted: None }]);
    assert_eq!(index.remove(1), None);

    let old = index.insert(entry(2, "CJ07ABC", Some(RO)));
    assert_eq!(old, Some(fuzzy(entry(2, "B123XYA", None))));
    assert_eq!(index.match_read(&b123, now()), vec![]);
    assert_eq!(index.match_read(&read("CJ07ABC", RO), now()).len(), 1);
    assert_eq!(index.len(), 1);
    assert_eq!(index.get(2), Some(entry(2, "CJ07ABC", Some(RO))));
}

#[test]
fn entries_round_trip() {
    let mut e = entry(7, "AB12CDE", Some(MD));
    e.note = Some("seen near the crossing".into());
    e.expires = Some(now());
    e.fuzzy = true;
    e.reason = HotlistReason::MissingPerson;
    e.priority = 1;
    let index = HotlistIndex::from_entries(vec![entry(7, "ZZ1", None), e.clone(), entry(8, "Q1", None)]);
    // Of two entries with one id, the last wins.
    assert_eq!(index.len(), 2);
    assert_eq!(index.get(7), Some(e));
    assert!(index.memory_bytes() > 0);
}
