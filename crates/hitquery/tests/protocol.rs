//! The whole exchange between an asker and a partner, through the wire formats.

use std::time::Duration;

use limes_hitquery::rand_core::OsRng;
use limes_hitquery::{
    Answer, Decision, EvaluateError, PublishedSet, Query, QueryError, RateConfig, RateLimiter, Request, Response,
    ServerKey, SetBuilder, Window,
};
use limes_plate::grammar::{KNOWN, formats};
use limes_plate::{CountryCode, PlateText, normalize};
use proptest::prelude::*;
use serde_json::Value;

fn plate(s: &str) -> PlateText {
    normalize(s, None).unwrap().text
}

fn window() -> Window {
    Window::new(1_767_225_600, 1_767_830_400).unwrap()
}

/// The partner's side: a key and a set of `seen` plates, as the asker receives it.
fn partner(seed: u8, seen: &[PlateText]) -> (ServerKey, PublishedSet, Vec<limes_hitquery::Entered>) {
    let key = ServerKey::from_seed(&[seed; 32]);
    let mut builder = SetBuilder::new(&key, window());
    let entered = seen.iter().map(|p| builder.insert(&mut OsRng, p).unwrap()).collect();
    let set = PublishedSet::from_bytes(&builder.build().to_bytes()).unwrap();
    (key, set, entered)
}

/// One exchange through JSON text, as it crosses the border.
fn ask(key: &ServerKey, set: &PublishedSet, plates: &[PlateText]) -> Result<Vec<Answer>, QueryError> {
    let (query, request) = Query::new(&mut OsRng, set.key(), plates)?;
    let request = Request::from_json(request.to_json().as_bytes()).unwrap();
    let response = key.evaluate(&mut OsRng, &request).unwrap();
    query.finish(&Response::from_json(response.to_json().as_bytes()).unwrap(), set)
}

#[test]
fn hit_and_no_hit() {
    let seen = [plate("B 01 ABC"), plate("CJ 07 XYZ"), plate("AA 1234 BX")];
    let (key, set, entered) = partner(1, &seen);
    let answers = ask(&key, &set, &[plate("CJ 07 XYZ"), plate("B 02 ABC")]).unwrap();
    assert_eq!(answers[0], Answer { exact: Some(entered[1].exact), folded: vec![entered[1].folded] });
    assert_eq!(answers[1], Answer::default());
    assert!(answers[0].is_hit() && !answers[1].is_hit());
}

#[test]
fn a_lookalike_reading_hits_the_folded_form_only() {
    let (key, set, entered) = partner(2, &[plate("B0123")]);
    let answers = ask(&key, &set, &[plate("8O123"), plate("B0123")]).unwrap();
    assert_eq!(answers[0], Answer { exact: None, folded: vec![entered[0].folded] });
    assert_eq!(answers[1], Answer { exact: Some(entered[0].exact), folded: vec![entered[0].folded] });
}

#[test]
fn cyrillic_and_latin_readings_of_one_plate_are_the_same_plate() {
    // Ukrainian plate typed with Cyrillic letters by the asker, read in Latin by the partner's camera.
    let (key, set, entered) = partner(3, &[normalize("AA 1234 BX", Some(CountryCode::UA)).unwrap().text]);
    let asked = normalize("АА 1234 ВХ", Some(CountryCode::UA)).unwrap().text;
    let answers = ask(&key, &set, &[asked]).unwrap();
    assert_eq!(answers[0].exact, Some(entered[0].exact));
}

#[test]
fn the_request_does_not_carry_the_plate() {
    let key = ServerKey::from_seed(&[4; 32]).public_key();
    let b0123 = plate("B0123");
    let (_, first) = Query::new(&mut OsRng, &key, std::slice::from_ref(&b0123)).unwrap();
    let (_, second) = Query::new(&mut OsRng, &key, std::slice::from_ref(&b0123)).unwrap();
    // Fresh blinds: the same plate asked twice gives unrelated elements.
    let (a, b) = (first.element_bytes(), second.element_bytes());
    assert_eq!(a.len(), 2);
    for x in &a {
        assert!(!b.contains(x));
    }
    assert_ne!(a[0], a[1]);
    // Neither the plate nor its PRF inputs appear in the bytes or in the JSON text.
    let json = first.to_json();
    for needle in [b"B0123".as_slice(), b"80123", &limes_hitquery::input::exact(&b0123)] {
        assert!(!json.as_bytes().windows(needle.len()).any(|w| w == needle));
        let flat: Vec<u8> = a.iter().flatten().copied().collect();
        assert!(!flat.windows(needle.len()).any(|w| w == needle));
    }
}

#[test]
fn requests_for_different_plates_have_the_same_shape() {
    let key = ServerKey::from_seed(&[4; 32]).public_key();
    let shape = |p: &str| {
        let (_, request) = Query::new(&mut OsRng, &key, &[plate(p)]).unwrap();
        let value: Value = serde_json::from_str(&request.to_json()).unwrap();
        let lengths: Vec<usize> =
            value["elements"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().len()).collect();
        (request.to_json().len(), lengths)
    };
    // A short plate, a long one, a look-alike-heavy one: one shape.
    let expected = shape("B1");
    assert_eq!(expected.1, vec![44, 44]);
    for p in ["AB12CDE", "CJ07XYZ", "8OIB80SZ", "M AB 1234"] {
        assert_eq!(shape(p), expected, "{p}");
    }
}

#[test]
fn a_response_under_another_key_is_refused_by_the_proof() {
    let (_, set, _) = partner(5, &[plate("B0123")]);
    let other = ServerKey::from_seed(&[6; 32]);
    let (query, request) = Query::new(&mut OsRng, set.key(), &[plate("B0123")]).unwrap();
    // A partner that answers this asker with another key (to tag it, or to hide a hit) has to
    // ignore the key the request names; here it rewrites it.
    let mut value: Value = serde_json::from_str(&request.to_json()).unwrap();
    value["key"] = Value::String(other.public_key().to_string());
    let rewritten = Request::from_json(value.to_string().as_bytes()).unwrap();
    let response = other.evaluate(&mut OsRng, &rewritten).unwrap();
    assert_eq!(query.finish(&response, &set), Err(QueryError::Proof));
}

#[test]
fn a_tampered_response_is_refused_by_the_proof() {
    let (key, set, _) = partner(5, &[plate("B0123")]);
    let (query, request) = Query::new(&mut OsRng, set.key(), &[plate("B0123"), plate("CJ07XYZ")]).unwrap();
    let response = key.evaluate(&mut OsRng, &request).unwrap();
    let mut value: Value = serde_json::from_str(&response.to_json()).unwrap();
    let elements = value["elements"].as_array_mut().unwrap();
    elements.swap(0, 2);
    let swapped = Response::from_json(value.to_string().as_bytes()).unwrap();
    assert_eq!(query.finish(&swapped, &set), Err(QueryError::Proof));
}

#[test]
fn a_response_with_another_count_is_refused() {
    let (key, set, _) = partner(5, &[plate("B0123")]);
    let (query, request) = Query::new(&mut OsRng, set.key(), &[plate("B0123")]).unwrap();
    let response = key.evaluate(&mut OsRng, &request).unwrap();
    let mut value: Value = serde_json::from_str(&response.to_json()).unwrap();
    value["elements"].as_array_mut().unwrap().pop();
    let short = Response::from_json(value.to_string().as_bytes()).unwrap();
    assert_eq!(query.finish(&short, &set), Err(QueryError::CountMismatch { asked: 2, got: 1 }));
}

#[test]
fn keys_must_match_on_both_sides() {
    let (key, set, _) = partner(7, &[plate("B0123")]);
    let (_, old_set, _) = partner(8, &[plate("B0123")]);
    // The partner refuses a request for another window's key.
    let (_, request) = Query::new(&mut OsRng, old_set.key(), &[plate("B0123")]).unwrap();
    assert_eq!(
        key.evaluate(&mut OsRng, &request).unwrap_err(),
        EvaluateError::WrongKey { asked: *old_set.key(), ours: key.public_key() }
    );
    // The asker refuses to look a query up in a set under another key.
    let (query, request) = Query::new(&mut OsRng, set.key(), &[plate("B0123")]).unwrap();
    let response = key.evaluate(&mut OsRng, &request).unwrap();
    assert_eq!(
        query.finish(&response, &old_set),
        Err(QueryError::KeyMismatch { query: *set.key(), set: *old_set.key() })
    );
}

#[test]
fn queries_hold_one_to_sixteen_plates() {
    let key = ServerKey::from_seed(&[4; 32]).public_key();
    assert_eq!(Query::new(&mut OsRng, &key, &[]).unwrap_err(), QueryError::NoPlates);
    let many = vec![plate("B0123"); 17];
    assert_eq!(Query::new(&mut OsRng, &key, &many).unwrap_err(), QueryError::TooManyPlates { count: 17 });
    let (query, request) = Query::new(&mut OsRng, &key, &many[..16]).unwrap();
    assert_eq!(request.len(), 32);
    // Debug output names no plate.
    assert!(!format!("{query:?}{request:?}").contains("B0123"));
}

#[test]
fn the_limiter_bounds_what_an_agency_can_ask() {
    let (key, set, _) = partner(9, &[plate("B0123")]);
    let mut limiter = RateLimiter::new(RateConfig::new(8, 8, Duration::from_secs(86_400)).unwrap());
    let now = Duration::from_secs(1_767_300_000);
    let mut answered = 0;
    for _ in 0..10 {
        let (query, request) = Query::new(&mut OsRng, set.key(), &[plate("B0123")]).unwrap();
        match limiter.try_take(&"ro.igpf", request.len(), now) {
            Decision::Allowed { .. } => {
                let response = key.evaluate(&mut OsRng, &request).unwrap();
                assert!(query.finish(&response, &set).unwrap()[0].is_hit());
                answered += 1;
            }
            Decision::Refused { retry_after } => assert_eq!(retry_after, Duration::from_secs(86_400)),
            Decision::TooLarge => unreachable!("a one-plate request fits the bucket"),
        }
    }
    assert_eq!(answered, 4);
}

/// A valid plate of a known country, drawn by `picks`.
fn generated(country: usize, format: usize, picks: &[usize]) -> PlateText {
    let formats = formats(KNOWN[country % KNOWN.len()]);
    let mut i = 0;
    formats[format % formats.len()].generate(&mut |n| {
        i += 1;
        picks[i % picks.len()] % n.max(1)
    })
}

fn plates() -> impl Strategy<Value = PlateText> {
    (any::<usize>(), any::<usize>(), proptest::collection::vec(any::<usize>(), 1..12))
        .prop_map(|(c, f, picks)| generated(c, f, &picks))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn seen_plates_hit_and_unseen_ones_do_not(
        seen in proptest::collection::vec(plates(), 1..12),
        unseen in plates(),
    ) {
        let (key, set, entered) = partner(10, &seen);
        let mut asked = seen.clone();
        asked.push(unseen.clone());
        let answers = ask(&key, &set, &asked).unwrap();
        for (i, (p, answer)) in asked.iter().zip(&answers).enumerate() {
            let first = seen.iter().position(|s| s == p);
            prop_assert_eq!(answer.exact, first.map(|j| entered[j].exact), "plate {} ({})", i, p);
            // Every seen plate that folds alike is in the folded answer, and nothing else.
            let mut expected: Vec<_> = seen
                .iter()
                .zip(&entered)
                .filter(|(s, _)| limes_plate::lookalike_key(s) == limes_plate::lookalike_key(p))
                .map(|(_, e)| e.folded)
                .collect();
            expected.sort();
            expected.dedup();
            prop_assert_eq!(&answer.folded, &expected, "plate {} ({})", i, p);
        }
        // The oblivious result is the partner's own tag of the plate.
        prop_assert_eq!(answers.last().unwrap(), &set.answer(&key.tags(&unseen)));
    }
}
