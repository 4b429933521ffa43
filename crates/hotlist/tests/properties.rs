//! Properties: the index answers exactly as the brute-force oracles do.
//!
//! Plates are drawn from a small alphabet full of look-alikes so that random sets
//! are dense with near matches; queries are plates of the set with injected
//! look-alikes, insertions, deletions and substitutions.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use limes_hotlist::{BruteForce, HotlistIndex, MaxEdits, Query, Wildcard, brute_force_search};
use limes_model::{AgencyId, HotlistEntry, HotlistReason, MatchKind};
use limes_plate::{Candidate, CountryCode, Normalized, PlateText, lookalike_key};
use proptest::prelude::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 5, 4, 12, 0, 0).unwrap()
}

const COUNTRIES: [Option<CountryCode>; 3] = [None, Some(CountryCode::RO), Some(CountryCode::UA)];

fn plate() -> impl Strategy<Value = String> {
    "[AB8O0S5]{1,12}"
}

fn entry_strategy() -> impl Strategy<Value = (String, usize, usize, bool)> {
    (plate(), 0..COUNTRIES.len(), 0..4usize, prop::bool::weighted(0.3))
}

fn make_entry(id: u64, (plate, country, expiry, fuzzy): (String, usize, usize, bool)) -> HotlistEntry {
    let expires = match expiry {
        0 => Some(now() - Duration::hours(1)),
        1 => Some(now()),
        2 => Some(now() + Duration::hours(1)),
        _ => None,
    };
    HotlistEntry {
        exercise: false,
        id,
        plate: PlateText::new(&plate).unwrap(),
        country: COUNTRIES[country],
        reason: HotlistReason::Wanted,
        priority: 3,
        agency: AgencyId::new(if id.is_multiple_of(2) { "ro-test" } else { "ua-test" }).unwrap(),
        expires,
        fuzzy,
        note: id.is_multiple_of(5).then(|| format!("note {id}")),
        vehicle: None,
    }
}

fn entries() -> impl Strategy<Value = Vec<HotlistEntry>> {
    prop::collection::vec(entry_strategy(), 0..40)
        .prop_map(|raw| raw.into_iter().enumerate().map(|(i, r)| make_entry(i as u64, r)).collect())
}

/// One injected error, at a position taken modulo the text's length.
#[derive(Debug, Clone)]
enum Edit {
    Lookalike(usize),
    Insert(usize, char),
    Delete(usize),
    Substitute(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop::sample::select(vec!['A', 'B', '8', 'O', '0', 'S', '5', 'Z']);
    prop_oneof![
        (0..12usize).prop_map(Edit::Lookalike),
        (0..13usize, c.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        (0..12usize).prop_map(Edit::Delete),
        (0..12usize, c).prop_map(|(i, c)| Edit::Substitute(i, c)),
    ]
}

fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut t: Vec<char> = text.chars().collect();
    for e in edits {
        match *e {
            Edit::Lookalike(i) => {
                let i = i % t.len();
                t[i] = match t[i] {
                    'O' => '0',
                    '0' => 'O',
                    'B' => '8',
                    '8' => 'B',
                    'S' => '5',
                    '5' => 'S',
                    'Z' => '2',
                    c => c,
                };
            }
            Edit::Insert(i, c) if t.len() < 12 => t.insert(i % (t.len() + 1), c),
            Edit::Delete(i) if t.len() > 1 => {
                t.remove(i % t.len());
            }
            Edit::Substitute(i, c) => {
                let i = i % t.len();
                t[i] = c;
            }
            _ => {}
        }
    }
    t.into_iter().collect()
}

/// A query text: a mutated plate of the set, or a fresh one.
fn query_text(entries: &[HotlistEntry], pick: usize, fresh: &str, edits: &[Edit]) -> String {
    let base =
        if entries.is_empty() || pick.is_multiple_of(4) { fresh } else { entries[pick % entries.len()].plate.as_str() };
    mutate(base, edits)
}

/// A wildcard made from a text by turning some characters into `?` and some runs into `*`.
fn wildcard_from(text: &str, holes: &[(usize, bool)]) -> String {
    let mut t: Vec<String> = text.chars().map(String::from).collect();
    for &(i, star) in holes {
        let i = i % t.len();
        t[i] = if star { "*".into() } else { "?".into() };
    }
    t.concat()
}

fn check_search(
    entries: &[HotlistEntry],
    index: &HotlistIndex,
    query: &Query,
    limit: usize,
) -> Result<(), TestCaseError> {
    let got = index.search(query, now(), limit);
    let expected = brute_force_search(entries, query, now(), limit);
    prop_assert_eq!(got, expected, "query {:?}", query);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn edit_distance_search_equals_brute_force(
        entries in entries(),
        pick in 0..1000usize,
        fresh in plate(),
        edits in prop::collection::vec(edit(), 0..3),
        two in any::<bool>(),
        limit in prop_oneof![Just(usize::MAX), 1..10usize],
    ) {
        let index = HotlistIndex::from_entries(entries.clone());
        let text = query_text(&entries, pick, &fresh, &edits);
        let plate = PlateText::new(&text).unwrap();
        let max = if two { MaxEdits::Two } else { MaxEdits::One };
        check_search(&entries, &index, &Query::EditDistance { plate: plate.clone(), max }, limit)?;
        check_search(&entries, &index, &Query::Exact(plate.clone()), limit)?;
        check_search(&entries, &index, &Query::Lookalike(plate), limit)?;
    }

    #[test]
    fn wildcard_search_equals_brute_force(
        entries in entries(),
        pick in 0..1000usize,
        fresh in plate(),
        edits in prop::collection::vec(edit(), 0..2),
        holes in prop::collection::vec((0..12usize, any::<bool>()), 0..4),
        limit in prop_oneof![Just(usize::MAX), 1..10usize],
    ) {
        let index = HotlistIndex::from_entries(entries.clone());
        let text = query_text(&entries, pick, &fresh, &edits);
        if let Ok(pattern) = Wildcard::parse(&wildcard_from(&text, &holes)) {
            check_search(&entries, &index, &Query::Wildcard(pattern), limit)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// The batched oracle of the recall benchmark answers as one query at a time.
    #[test]
    fn batched_oracle_equals_single_queries(
        entries in entries(),
        texts in prop::collection::vec((plate(), 0..4usize), 1..40),
    ) {
        let queries: Vec<Query> = texts
            .into_iter()
            .map(|(t, mode)| {
                let plate = PlateText::new(&t).unwrap();
                match mode {
                    0 => Query::Exact(plate),
                    1 => Query::Lookalike(plate),
                    2 => Query::EditDistance { plate, max: MaxEdits::Two },
                    _ => match Wildcard::parse(&wildcard_from(&t, &[(1, true)])) {
                        Ok(pattern) => Query::Wildcard(pattern),
                        Err(_) => Query::Exact(plate),
                    },
                }
            })
            .collect();
        let oracle = BruteForce::new(&entries);
        let batched = oracle.search_many(&queries, now(), 5);
        for (q, got) in queries.iter().zip(batched) {
            prop_assert_eq!(got, brute_force_search(&entries, q, now(), 5));
        }
    }
}

/// What `match_read` must return, by the rules applied to each entry in turn.
fn reference_hits(entries: &[HotlistEntry], read: &Normalized, now: DateTime<Utc>) -> Vec<(u64, MatchKind, u8)> {
    // (text, whose entries an equal text confirms: Some(None) any entry, Some(Some(c))
    // entries of c or of no country, None: none — a candidate country's repair only
    // ever gives a possible hit)
    let mut forms: Vec<(&PlateText, Option<Option<CountryCode>>)> = vec![(&read.text, Some(read.country))];
    forms.extend(read.candidates.iter().map(|c| (&c.text, None)));
    let mut hits = Vec::new();
    for e in entries {
        if e.expires.is_some_and(|t| t <= now) {
            continue;
        }
        let best = forms
            .iter()
            .filter_map(|&(text, confirms)| {
                let d = levenshtein(text.as_bytes(), e.plate.as_bytes()) as u8;
                if *text == e.plate {
                    let agree = match confirms {
                        None => false,
                        Some(c) => c.is_none() || e.country.is_none() || c == e.country,
                    };
                    Some(if agree { (MatchKind::Confirmed, 0) } else { (MatchKind::Possible, 0) })
                } else if lookalike_key(text) == lookalike_key(&e.plate) || (e.fuzzy && d <= 1) {
                    Some((MatchKind::Possible, d))
                } else {
                    None
                }
            })
            .min();
        if let Some((kind, d)) = best {
            hits.push((e.id, kind, d));
        }
    }
    hits.sort_by_key(|&(id, kind, d)| (kind, d, id));
    hits
}

fn levenshtein(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn read_strategy() -> impl Strategy<Value = Normalized> {
    (plate(), 0..COUNTRIES.len(), prop::collection::vec((1..COUNTRIES.len(), plate()), 0..3))
        // As `normalize` makes them: a country, or candidates.
        .prop_map(|(text, country, candidates)| Normalized {
            text: PlateText::new(&text).unwrap(),
            country: COUNTRIES[country],
            valid: true,
            repaired: false,
            ambiguous: false,
            candidates: if country != 0 {
                vec![]
            } else {
                candidates
                    .into_iter()
                    .map(|(c, t)| Candidate {
                        country: COUNTRIES[c].unwrap(),
                        text: PlateText::new(&t).unwrap(),
                        score: 0.5,
                    })
                    .collect()
            },
        })
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u64, (String, usize, usize, bool)),
    Remove(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..16u64, entry_strategy()).prop_map(|(id, e)| Op::Insert(id, e)),
        1 => (0..16u64).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn match_read_follows_the_rules(entries in entries(), reads in prop::collection::vec(read_strategy(), 1..4)) {
        let index = HotlistIndex::from_entries(entries.clone());
        for read in &reads {
            let got: Vec<_> = index.match_read(read, now()).iter().map(|h| (h.entry_id, h.kind, h.distance)).collect();
            prop_assert_eq!(got, reference_hits(&entries, read, now()), "read {:?}", read);
        }
    }

    #[test]
    fn read_with_injected_errors_matches_like_the_rules(
        entries in entries(),
        pick in 0..1000usize,
        edits in prop::collection::vec(edit(), 0..2),
        country in 0..COUNTRIES.len(),
    ) {
        let index = HotlistIndex::from_entries(entries.clone());
        let text = query_text(&entries, pick, "A0B8", &edits);
        let read = Normalized {
            text: PlateText::new(&text).unwrap(),
            country: COUNTRIES[country],
            valid: true,
            repaired: false,
            ambiguous: false,
            candidates: vec![],
        };
        let got: Vec<_> = index.match_read(&read, now()).iter().map(|h| (h.entry_id, h.kind, h.distance)).collect();
        prop_assert_eq!(got, reference_hits(&entries, &read, now()));
    }

    #[test]
    fn inserts_and_removes_keep_the_index_consistent(
        initial in entries(),
        ops in prop::collection::vec(op(), 0..60),
        reads in prop::collection::vec(read_strategy(), 1..3),
        queries in prop::collection::vec((plate(), any::<bool>()), 1..3),
    ) {
        let mut index = HotlistIndex::from_entries(initial.clone());
        let mut model: BTreeMap<u64, HotlistEntry> = initial.into_iter().map(|e| (e.id, e)).collect();
        for op in ops {
            match op {
                Op::Insert(id, raw) => {
                    let e = make_entry(id, raw);
                    prop_assert_eq!(index.insert(e.clone()), model.insert(id, e));
                }
                Op::Remove(id) => prop_assert_eq!(index.remove(id), model.remove(&id)),
            }
        }
        prop_assert_eq!(index.len(), model.len());
        for id in 0..45 {
            prop_assert_eq!(index.get(id), model.get(&id).cloned());
        }
        let mut all: Vec<HotlistEntry> = index.iter().collect();
        all.sort_by_key(|e| e.id);
        let entries: Vec<HotlistEntry> = model.into_values().collect();
        prop_assert_eq!(&all, &entries);
        for read in &reads {
            let got: Vec<_> = index.match_read(read, now()).iter().map(|h| (h.entry_id, h.kind, h.distance)).collect();
            prop_assert_eq!(got, reference_hits(&entries, read, now()));
        }
        for (text, two) in queries {
            let plate = PlateText::new(&text).unwrap();
            let max = if two { MaxEdits::Two } else { MaxEdits::One };
            check_search(&entries, &index, &Query::EditDistance { plate, max }, usize::MAX)?;
            for holes in [&[(1, true)][..], &[(0, false), (4, true)], &[(text.len() - 1, true)]] {
                if let Ok(pattern) = Wildcard::parse(&wildcard_from(&text, holes)) {
                    check_search(&entries, &index, &Query::Wildcard(pattern), usize::MAX)?;
                }
            }
        }
    }
}

#[test]
fn many_removals_compact_and_stay_exact() {
    // Enough removals to compact the edit-distance index more than once, and
    // enough plates sharing segments that queries verify candidates in parallel.
    let entries: Vec<HotlistEntry> = (0..60_000u64)
        .map(|i| make_entry(i, (format!("AB{:05}", i % 50_000), (i % 3) as usize, 3, i % 7 == 0)))
        .collect();
    let mut index = HotlistIndex::from_entries(entries.clone());
    let mut kept = Vec::new();
    for e in entries {
        if e.id % 3 == 0 {
            kept.push(e);
        } else {
            assert!(index.remove(e.id).is_some());
        }
    }
    for q in ["AB00003", "AB1234", "AB099990", "8B00300"] {
        for max in [MaxEdits::One, MaxEdits::Two] {
            let query = Query::EditDistance { plate: PlateText::new(q).unwrap(), max };
            assert_eq!(index.search(&query, now(), usize::MAX), brute_force_search(&kept, &query, now(), usize::MAX));
        }
    }
    let pattern = Query::Wildcard(Wildcard::parse("AB*9?").unwrap());
    assert_eq!(index.search(&pattern, now(), usize::MAX), brute_force_search(&kept, &pattern, now(), usize::MAX));
}

#[test]
fn batched_oracle_spans_blocks() {
    // More entries than one scan block of the batched oracle.
    let entries: Vec<HotlistEntry> =
        (0..40_000u64).map(|i| make_entry(i, (format!("B{:05}S", i * 7 % 40_000), 1, 3, false))).collect();
    let queries: Vec<Query> = ["B00007S", "B3999OS", "B12345", "8O0O14S"]
        .iter()
        .flat_map(|t| {
            let plate = PlateText::new(t).unwrap();
            [
                Query::EditDistance { plate: plate.clone(), max: MaxEdits::One },
                Query::EditDistance { plate: plate.clone(), max: MaxEdits::Two },
                Query::Lookalike(plate),
            ]
        })
        .collect();
    let oracle = BruteForce::new(&entries);
    let batched = oracle.search_many(&queries, now(), usize::MAX);
    let index = HotlistIndex::from_entries(entries.clone());
    assert!(batched.iter().map(Vec::len).sum::<usize>() > 20);
    for (q, got) in queries.iter().zip(batched) {
        assert_eq!(got, oracle.search(q, now(), usize::MAX), "{q:?}");
        assert_eq!(got, index.search(q, now(), usize::MAX), "{q:?}");
    }
}
