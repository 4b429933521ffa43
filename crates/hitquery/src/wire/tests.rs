use limes_plate::PlateText;
use proptest::prelude::*;
use rand_core::OsRng;
use serde_json::{Value, json};

use super::*;
use crate::{Query, ServerKey};

fn exchange() -> (ServerKey, Request, Response) {
    let key = ServerKey::from_seed(&[4; 32]);
    let plates = [PlateText::new("B0123").unwrap()];
    let (_, request) = Query::new(&mut OsRng, &key.public_key(), &plates).unwrap();
    let response = key.evaluate(&mut OsRng, &request).unwrap();
    (key, request, response)
}

fn request_json() -> Value {
    serde_json::from_str(&exchange().1.to_json()).unwrap()
}

fn response_json() -> Value {
    serde_json::from_str(&exchange().2.to_json()).unwrap()
}

/// Parses `value` as a request both ways (typed and through serde) and checks both refuse it.
fn request_error(value: &Value) -> WireError {
    let text = value.to_string();
    let typed = Request::from_json(text.as_bytes()).unwrap_err();
    assert!(serde_json::from_str::<Request>(&text).is_err(), "serde accepted {text}");
    typed
}

fn response_error(value: &Value) -> WireError {
    let text = value.to_string();
    let typed = Response::from_json(text.as_bytes()).unwrap_err();
    assert!(serde_json::from_str::<Response>(&text).is_err(), "serde accepted {text}");
    typed
}

fn b64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

#[test]
fn messages_round_trip() {
    let (key, request, response) = exchange();
    let text = request.to_json();
    let again = Request::from_json(text.as_bytes()).unwrap();
    assert_eq!((again.key(), again.len(), again.element_bytes()), (&key.public_key(), 2, request.element_bytes()));
    assert_eq!(serde_json::from_str::<Request>(&text).unwrap().element_bytes(), request.element_bytes());
    let text = response.to_json();
    let again = Response::from_json(text.as_bytes()).unwrap();
    assert_eq!(again.to_json(), text);
    assert_eq!(again.len(), 2);
    // The shape is what the module docs say.
    let value: Value = serde_json::from_str(&request.to_json()).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["elements"][0].as_str().unwrap().len(), 44);
    let value: Value = serde_json::from_str(&response.to_json()).unwrap();
    assert_eq!(value["proof"].as_str().unwrap().len(), 88);
}

#[test]
fn bad_requests_are_refused() {
    let good = request_json();
    let with = |field: &str, v: Value| {
        let mut r = good.clone();
        r[field] = v;
        r
    };
    let element = |i: usize, v: &str| {
        let mut r = good.clone();
        r["elements"][i] = json!(v);
        r
    };
    let valid = good["elements"][0].as_str().unwrap().to_owned();
    assert!(matches!(request_error(&json!("text")), WireError::Json(_)));
    assert!(matches!(request_error(&json!({})), WireError::Json(m) if m.contains("missing field")));
    assert!(matches!(request_error(&with("extra", json!(1))), WireError::Json(m) if m.contains("unknown field")));
    assert!(matches!(request_error(&with("elements", json!([1]))), WireError::Json(m) if m.contains("invalid type")));
    assert_eq!(request_error(&with("version", json!(2))), WireError::UnsupportedVersion(2));
    assert_eq!(
        request_error(&with("key", json!("ed25519:AAAA"))),
        WireError::BadKey(KeyError::BadPublic("no ristretto255: prefix"))
    );
    assert_eq!(request_error(&with("elements", json!([]))), WireError::NoElements);
    assert_eq!(
        request_error(&with("elements", json!(vec![valid.clone(); MAX_ELEMENTS + 1]))),
        WireError::TooManyElements { count: MAX_ELEMENTS + 1 }
    );
    assert!(
        Request::from_json(with("elements", json!(vec![valid.clone(); MAX_ELEMENTS])).to_string().as_bytes()).is_ok()
    );
    assert_eq!(request_error(&element(1, "not base64!")), WireError::Base64 { index: 1 });
    assert_eq!(request_error(&element(1, &valid[..43])), WireError::Base64 { index: 1 });
    assert_eq!(request_error(&element(0, &b64(&[1; 31]))), WireError::Length { index: 0, len: 31 });
    assert_eq!(request_error(&element(0, &b64(&[1; 33]))), WireError::Length { index: 0, len: 33 });
    assert_eq!(request_error(&element(0, "")), WireError::Length { index: 0, len: 0 });
    // A valid point followed by more bytes is not accepted as its prefix.
    let mut longer = BASE64.decode(&valid).unwrap();
    longer.push(0);
    assert_eq!(request_error(&element(0, &b64(&longer))), WireError::Length { index: 0, len: 33 });
    // The identity, field elements at or above p, a negative one, a valid point's non-canonical twin.
    for bytes in [[0u8; 32], [0xff; 32], [0x7f; 32]] {
        assert_eq!(request_error(&element(1, &b64(&bytes))), WireError::NotAPoint { index: 1 });
    }
    let mut one = [0u8; 32];
    one[0] = 1;
    assert_eq!(request_error(&element(1, &b64(&one))), WireError::NotAPoint { index: 1 });
    let mut high: [u8; 32] = BASE64.decode(&valid).unwrap().try_into().unwrap();
    high[31] |= 0x80;
    assert_eq!(request_error(&element(0, &b64(&high))), WireError::NotAPoint { index: 0 });
}

#[test]
fn oversized_messages_are_refused_before_parsing() {
    let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
    assert_eq!(Request::from_json(&big).unwrap_err(), WireError::TooLarge { len: MAX_MESSAGE_BYTES + 1 });
    assert_eq!(Response::from_json(&big).unwrap_err(), WireError::TooLarge { len: MAX_MESSAGE_BYTES + 1 });
    // A full request fits with room to spare.
    let key = ServerKey::from_seed(&[4; 32]);
    let plates = vec![PlateText::new("AB123CD").unwrap(); crate::wire::MAX_PLATES_PER_REQUEST];
    let (_, request) = Query::new(&mut OsRng, &key.public_key(), &plates).unwrap();
    assert!(request.to_json().len() < 2048);
    assert!(key.evaluate(&mut OsRng, &request).unwrap().to_json().len() < 2048);
}

#[test]
fn bad_responses_are_refused() {
    let good = response_json();
    let with = |field: &str, v: Value| {
        let mut r = good.clone();
        r[field] = v;
        r
    };
    assert!(matches!(response_error(&with("extra", json!(null))), WireError::Json(m) if m.contains("unknown field")));
    assert_eq!(response_error(&with("version", json!(7))), WireError::UnsupportedVersion(7));
    assert_eq!(response_error(&with("elements", json!([]))), WireError::NoElements);
    assert_eq!(response_error(&with("elements", json!(["%%%"]))), WireError::Base64 { index: 0 });
    assert_eq!(response_error(&with("elements", json!([b64(&[0; 32])]))), WireError::NotAPoint { index: 0 });
    assert_eq!(response_error(&with("proof", json!("%%%"))), WireError::BadProof("not base64"));
    assert_eq!(response_error(&with("proof", json!(b64(&[1; 63])))), WireError::BadProof("not 64 bytes"));
    assert_eq!(response_error(&with("proof", json!(b64(&[1; 65])))), WireError::BadProof("not 64 bytes"));
    // Scalars at or above the group order, and zero.
    assert_eq!(
        response_error(&with("proof", json!(b64(&[0xff; 64])))),
        WireError::BadProof("not two canonical scalars")
    );
    assert_eq!(response_error(&with("proof", json!(b64(&[0; 64])))), WireError::BadProof("not two canonical scalars"));
}

proptest! {
    #[test]
    fn any_text_is_read_or_refused_without_panicking(text in ".{0,300}") {
        let _ = Request::from_json(text.as_bytes());
        let _ = Response::from_json(text.as_bytes());
    }

    #[test]
    fn any_element_bytes_are_read_or_refused_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut r = request_json();
        r["elements"][0] = json!(b64(&bytes));
        let _ = Request::from_json(r.to_string().as_bytes());
    }
}
