use proptest::prelude::*;
use rand_core::OsRng;

use super::*;

fn plate(s: &str) -> PlateText {
    PlateText::new(s).unwrap()
}

fn window() -> Window {
    Window::new(1_767_225_600, 1_767_830_400).unwrap()
}

/// A set of `plates` under the key of seed 9, its bytes, and the header line's length.
fn sample(plates: &[&str]) -> (ServerKey, Vec<u8>, usize) {
    let key = ServerKey::from_seed(&[9; 32]);
    let mut builder = SetBuilder::new(&key, window());
    for p in plates {
        builder.insert(&mut OsRng, &plate(p)).unwrap();
    }
    let bytes = builder.build().to_bytes();
    let header = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    (key, bytes, header)
}

fn with_header(header: &str, body: &[u8]) -> Vec<u8> {
    [header.as_bytes(), b"\n", body].concat()
}

fn header(key: &PublicKey, plates: &str) -> String {
    format!(
        r#"{{"format":"limes-hitquery-set","version":1,"key":"{key}","window":{{"from":1,"until":2}},"plates":{plates}}}"#
    )
}

#[test]
fn a_set_round_trips_and_answers() {
    let key = ServerKey::from_seed(&[9; 32]);
    let mut builder = SetBuilder::new(&key, window());
    let b0123 = builder.insert(&mut OsRng, &plate("B0123")).unwrap();
    let b8o123 = builder.insert(&mut OsRng, &plate("8O123")).unwrap();
    let other = builder.insert(&mut OsRng, &plate("CJ07ABC")).unwrap();
    // Another sighting of a plate already in is the same entry.
    assert_eq!(builder.insert(&mut OsRng, &plate("B0123")).unwrap(), b0123);
    assert_eq!(builder.len(), 3);
    let set = builder.build();
    let again = PublishedSet::from_bytes(&set.to_bytes()).unwrap();
    assert_eq!(again, set);
    assert_eq!(again.digest(), set.digest());
    assert_eq!((again.key(), again.window(), again.plates()), (&key.public_key(), window(), 3));

    let answer = set.answer(&key.tags(&plate("B0123")));
    assert_eq!(answer.exact, Some(b0123.exact));
    let mut group = vec![b0123.folded, b8o123.folded];
    group.sort();
    assert_eq!(answer.folded, group);
    // A look-alike reading nobody saw as written: no exact hit, both look-alikes.
    let answer = set.answer(&key.tags(&plate("BO123")));
    assert_eq!((answer.exact, answer.folded), (None, group));
    let answer = set.answer(&key.tags(&plate("CJ07ABC")));
    assert_eq!(answer, Answer { exact: Some(other.exact), folded: vec![other.folded] });
    assert!(!set.answer(&key.tags(&plate("AB12CDE"))).is_hit());
    // Every reference is distinct.
    let mut refs = [b0123.exact, b0123.folded, b8o123.exact, b8o123.folded, other.exact, other.folded];
    refs.sort();
    assert!(refs.windows(2).all(|w| w[0] != w[1]));
}

#[test]
fn the_file_layout_is_pinned() {
    let (key, bytes, header_len) = sample(&["B0123", "CJ07ABC"]);
    let header = std::str::from_utf8(&bytes[..header_len]).unwrap();
    assert_eq!(
        header,
        format!(
            "{{\"format\":\"limes-hitquery-set\",\"version\":1,\"key\":\"{}\",\
             \"window\":{{\"from\":1767225600,\"until\":1767830400}},\"plates\":2}}\n",
            key.public_key()
        )
    );
    assert_eq!(bytes.len() - header_len, 4 * ENTRY_BYTES);
    // The first exact entry is the smaller of the two exact tags.
    let tags = [key.tags(&plate("B0123")).exact, key.tags(&plate("CJ07ABC")).exact];
    let first = tags.iter().min().unwrap();
    assert_eq!(&bytes[header_len..header_len + Tag::LEN], first.as_bytes());
}

#[test]
fn an_empty_set_round_trips() {
    let (_, bytes, header_len) = sample(&[]);
    assert_eq!(bytes.len(), header_len);
    let set = PublishedSet::from_bytes(&bytes).unwrap();
    assert_eq!(set.plates(), 0);
    assert!(!set.answer(&ServerKey::from_seed(&[9; 32]).tags(&plate("B0123"))).is_hit());
}

#[test]
fn padding_hides_the_count_but_not_the_plates() {
    let key = ServerKey::from_seed(&[9; 32]);
    let mut builder = SetBuilder::new(&key, window());
    let seen = builder.insert(&mut OsRng, &plate("B0123")).unwrap();
    builder.pad_to(&mut OsRng, 64).unwrap();
    assert_eq!(builder.len(), 64);
    // Padding to fewer than there are adds nothing.
    builder.pad_to(&mut OsRng, 10).unwrap();
    assert_eq!(builder.len(), 64);
    assert_eq!(builder.pad_to(&mut OsRng, MAX_PLATES + 1), Err(SetError::TooManyPlates { count: MAX_PLATES + 1 }));
    let set = PublishedSet::from_bytes(&builder.build().to_bytes()).unwrap();
    assert_eq!(set.plates(), 64);
    assert_eq!(set.answer(&key.tags(&plate("B0123"))), Answer { exact: Some(seen.exact), folded: vec![seen.folded] });
    assert!(!set.answer(&key.tags(&plate("B0124"))).is_hit());
}

#[test]
fn bad_headers_are_refused() {
    let key = ServerKey::from_seed(&[9; 32]).public_key();
    let check = |bytes: &[u8], expected: SetError| assert_eq!(PublishedSet::from_bytes(bytes), Err(expected));
    let bad = |bytes: &[u8], needle: &str| match PublishedSet::from_bytes(bytes) {
        Err(SetError::BadHeader(message)) => assert!(message.contains(needle), "{message:?} lacks {needle:?}"),
        other => panic!("expected a bad header with {needle:?}, got {other:?}"),
    };
    check(b"", SetError::NoHeader);
    check(&[b' '; MAX_HEADER_BYTES + 1], SetError::NoHeader);
    check(&[[b' '; MAX_HEADER_BYTES + 1].as_slice(), b"\n"].concat(), SetError::NoHeader);
    bad(b"\n", "EOF");
    bad(b"not json\n", "expected");
    bad(b"[1,2]\n", "");
    check(b"{\"format\":\"limes-bundle\",\"version\":1}\n", SetError::NotASet("limes-bundle".into()));
    // Another version is named as such, whatever else its header says.
    check(b"{\"format\":\"limes-hitquery-set\",\"version\":2,\"bloom\":true}\n", SetError::UnsupportedVersion(2));
    check(b"{\"format\":\"limes-hitquery-set\",\"version\":0}\n", SetError::UnsupportedVersion(0));
    bad(b"{\"format\":\"limes-hitquery-set\",\"version\":-1}\n", "invalid value");
    bad(b"{\"format\":\"limes-hitquery-set\",\"version\":1}\n", "missing field");
    let good = header(&key, "0");
    assert!(PublishedSet::from_bytes(&with_header(&good, b"")).is_ok());
    bad(&with_header(&good.replace("\"plates\":0", "\"plates\":0,\"extra\":1"), b""), "unknown field");
    bad(&with_header(&good.replace("\"from\":1", "\"from\":2"), b""), "empty");
    bad(&with_header(&good.replace("\"from\":1", "\"from\":1,\"to\":3"), b""), "unknown field");
    bad(&with_header(&good.replace("ristretto255:", "ristretto255:AA"), b""), "OPRF public key");
    bad(
        &with_header(&good.replace(&key.to_string(), "ristretto255:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), b""),
        "point",
    );
    bad(&with_header(&header(&key, "-1"), b""), "invalid value");
    bad(&with_header(&header(&key, "1.5"), b""), "invalid type");
}

#[test]
fn oversized_counts_are_refused_before_allocating() {
    let key = ServerKey::from_seed(&[9; 32]).public_key();
    for count in [MAX_PLATES + 1, 1 << 40, u64::MAX] {
        assert_eq!(
            PublishedSet::from_bytes(&with_header(&header(&key, &count.to_string()), &[0; 64])),
            Err(SetError::TooManyPlates { count })
        );
    }
    // A count the body does not hold.
    assert_eq!(
        PublishedSet::from_bytes(&with_header(&header(&key, &MAX_PLATES.to_string()), &[0; 64])),
        Err(SetError::Truncated { expected: MAX_PLATES * 64, actual: 64 })
    );
}

#[test]
fn truncated_and_trailing_bodies_are_refused() {
    let (_, bytes, header_len) = sample(&["B0123", "CJ07ABC", "AB12CDE"]);
    let body = (bytes.len() - header_len) as u64;
    for cut in [1, 16, 32, 64, 100] {
        assert_eq!(
            PublishedSet::from_bytes(&bytes[..bytes.len() - cut]),
            Err(SetError::Truncated { expected: body, actual: body - cut as u64 })
        );
    }
    assert_eq!(PublishedSet::from_bytes(&bytes[..header_len]), Err(SetError::Truncated { expected: body, actual: 0 }));
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 32]);
    assert_eq!(PublishedSet::from_bytes(&longer), Err(SetError::TrailingBytes { extra: 32 }));
    longer.push(b'\n');
    assert_eq!(PublishedSet::from_bytes(&longer), Err(SetError::TrailingBytes { extra: 33 }));
}

/// The `i`th entry of a body (exact entries first) as a mutable slice.
fn entry(bytes: &mut [u8], header_len: usize, i: usize) -> &mut [u8] {
    &mut bytes[header_len + i * ENTRY_BYTES..header_len + (i + 1) * ENTRY_BYTES]
}

#[test]
fn duplicate_and_unsorted_entries_are_refused() {
    let (_, bytes, h) = sample(&["B0123", "CJ07ABC", "AB12CDE"]);
    let from = |mutate: &dyn Fn(&mut Vec<u8>)| {
        let mut b = bytes.clone();
        mutate(&mut b);
        PublishedSet::from_bytes(&b)
    };
    // Exact entries 0..3, folded entries 3..6.
    let copy = |b: &mut Vec<u8>, src: usize, dst: usize| {
        let e = entry(b, h, src).to_vec();
        entry(b, h, dst).copy_from_slice(&e);
    };
    let swap = |b: &mut Vec<u8>, i: usize, j: usize| {
        let (x, y) = (entry(b, h, i).to_vec(), entry(b, h, j).to_vec());
        entry(b, h, i).copy_from_slice(&y);
        entry(b, h, j).copy_from_slice(&x);
    };
    assert_eq!(from(&|b| copy(b, 0, 1)), Err(SetError::Duplicate { table: Table::Exact, index: 1 }));
    assert_eq!(from(&|b| swap(b, 1, 2)), Err(SetError::Unsorted { table: Table::Exact, index: 2 }));
    assert_eq!(from(&|b| copy(b, 4, 5)), Err(SetError::Duplicate { table: Table::Folded, index: 2 }));
    assert_eq!(from(&|b| swap(b, 3, 4)), Err(SetError::Unsorted { table: Table::Folded, index: 1 }));
    // The same exact tag with another reference is still a duplicate.
    assert_eq!(
        from(&|b| {
            let tag = entry(b, h, 0)[..Tag::LEN].to_vec();
            entry(b, h, 1)[..Tag::LEN].copy_from_slice(&tag);
        }),
        Err(SetError::Duplicate { table: Table::Exact, index: 1 })
    );
    // A reference of an exact entry reused by a folded one.
    let reference = Reference(entry(&mut bytes.clone(), h, 0)[Tag::LEN..].try_into().unwrap());
    assert_eq!(
        from(&|b| entry(b, h, 3)[Tag::LEN..].copy_from_slice(reference.as_bytes())),
        Err(SetError::DuplicateReference(reference))
    );
}

#[test]
fn a_folded_tag_may_repeat_with_other_references() {
    let (key, bytes, _) = sample(&["B0123", "8O123", "BO123", "80I23"]);
    let set = PublishedSet::from_bytes(&bytes).unwrap();
    let answer = set.answer(&key.tags(&plate("8O123")));
    assert_eq!(answer.folded.len(), 4);
    assert!(answer.exact.is_some());
}

#[test]
fn references_read_and_print_as_hex() {
    let r = Reference::from_bytes([0xab; 16]);
    assert_eq!(r.to_string(), "ab".repeat(16));
    assert_eq!(r.to_string().parse::<Reference>(), Ok(r));
    assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", "ab".repeat(16)));
    assert_eq!(serde_json::from_str::<Reference>(&format!("\"{}\"", "ab".repeat(16))).unwrap(), r);
    for bad in ["", "ab", &"AB".repeat(16), &"ab".repeat(17), &"zz".repeat(16), &format!("{}é", "a".repeat(30))] {
        assert_eq!(bad.parse::<Reference>(), Err(ReferenceError), "{bad}");
    }
}

#[test]
fn a_rebuilt_set_keeps_the_references_it_was_given() {
    let key = ServerKey::from_seed(&[9; 32]);
    let mut first = SetBuilder::new(&key, window());
    let seen = first.insert(&mut OsRng, &plate("B0123")).unwrap();
    let gone = first.insert(&mut OsRng, &plate("CJ07ABC")).unwrap();
    let first = first.build();

    // The next build: one plate left the window, one came, the one that stayed keeps its
    // references.
    let mut again = SetBuilder::new(&key, window());
    let tags = key.tags(&plate("B0123"));
    assert_eq!(again.insert_known(&plate("B0123"), tags, seen).unwrap(), seen);
    // Entering it again changes nothing, whatever references come with it.
    assert_eq!(again.insert_known(&plate("B0123"), tags, gone).unwrap(), seen);
    let new = again.insert(&mut OsRng, &plate("AB12CDE")).unwrap();
    again.pad_to(&mut OsRng, 8).unwrap();
    let again = PublishedSet::from_bytes(&again.build().to_bytes()).unwrap();
    assert_eq!(again.answer(&tags), first.answer(&tags));
    assert_eq!(again.answer(&key.tags(&plate("AB12CDE"))).exact, Some(new.exact));
    assert!(!again.answer(&key.tags(&plate("CJ07ABC"))).is_hit());

    // A reference already in the set is refused, in either table.
    let other = key.tags(&plate("CJ07ABC"));
    let reuse = |exact, folded| Entered { exact, folded };
    let mut b = SetBuilder::new(&key, window());
    b.insert_known(&plate("B0123"), tags, seen).unwrap();
    let fresh = Reference::random(&mut OsRng);
    for bad in [reuse(seen.exact, fresh), reuse(fresh, seen.folded), reuse(seen.folded, fresh), reuse(fresh, fresh)] {
        assert!(
            matches!(b.insert_known(&plate("CJ07ABC"), other, bad), Err(SetError::DuplicateReference(_))),
            "{bad:?}"
        );
    }
    assert_eq!(b.len(), 1);
}

#[test]
fn windows_must_not_be_empty() {
    assert_eq!(Window::new(5, 5), Err(SetError::EmptyWindow { from: 5, until: 5 }));
    assert_eq!(Window::new(6, 5), Err(SetError::EmptyWindow { from: 6, until: 5 }));
    assert!(serde_json::from_str::<Window>(r#"{"from":6,"until":5}"#).is_err());
    let w = Window::new(-5, 5).unwrap();
    assert_eq!((w.from(), w.until()), (-5, 5));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_are_read_or_refused_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = PublishedSet::from_bytes(&bytes);
    }

    #[test]
    fn any_mutation_of_a_set_is_read_or_refused(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (_, mut bytes, _) = sample(&["B0123", "CJ07ABC", "AB12CDE"]);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(set) = PublishedSet::from_bytes(&bytes) {
            // Whatever reads writes back to bytes that read the same.
            prop_assert_eq!(PublishedSet::from_bytes(&set.to_bytes()).unwrap(), set);
        }
    }
}
