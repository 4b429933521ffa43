//! The pure validator against tokens the tests sign themselves: what passes, what each check
//! refuses, and hostile input. No network, no clock (a fixed `NOW`).

mod util;

use limes_oidc::{Claims, Expected, Jwks, MAX_TOKEN_BYTES, OidcError, TokenKind, validate_token};
use serde_json::{Value, json};
use util::{TestKey, b64, flip_signature, jwks};

const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "https://id.igpf.example/realms/limes";
const AUDIENCE: &str = "limes-node";
const CLIENT: &str = "limes-node-siret";
const NONCE: &str = "n-0S6_WzA2Mj";

/// Keys the tests sign with, and the set the validator trusts (the same public keys).
struct Fixture {
    ed: TestKey,
    ec: TestKey,
    rsa: TestKey,
    keys: Jwks,
}

impl Fixture {
    fn new() -> Fixture {
        let ed = TestKey::ed25519();
        let ec = TestKey::p256();
        let rsa = TestKey::rsa();
        let keys = Jwks::from_json(&jwks(&[ed.jwk("ed"), ec.jwk("ec"), rsa.jwk("rsa")])).expect("key set");
        Fixture { ed, ec, rsa, keys }
    }

    fn access(&self, token: &str) -> Result<Claims, OidcError> {
        validate_token(&self.keys, &access(), NOW, token)
    }

    fn id(&self, token: &str) -> Result<Claims, OidcError> {
        validate_token(&self.keys, &id(), NOW, token)
    }
}

fn access() -> Expected<'static> {
    Expected { issuer: ISSUER, audience: AUDIENCE, leeway_seconds: 60, kind: TokenKind::Access }
}

fn id() -> Expected<'static> {
    Expected { issuer: ISSUER, audience: CLIENT, leeway_seconds: 60, kind: TokenKind::Id { nonce: NONCE } }
}

fn access_claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": NOW - 10, "exp": NOW + 300,
        "preferred_username": "alice", "name": "Alice Popescu", "email": "alice@igpf.example",
        "roles": ["analyst", "operator"], "agency": "ro-igpf", "clearance": "restricted",
    })
}

fn id_claims() -> Value {
    json!({
        "iss": ISSUER, "sub": "alice", "aud": CLIENT, "iat": NOW - 10, "exp": NOW + 300,
        "nonce": NONCE, "name": "Alice Popescu",
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().expect("object") {
        if value.is_null() {
            claims.as_object_mut().expect("object").remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "kid": kid, "typ": "at+jwt"})
}

#[track_caller]
fn refused(result: Result<Claims, OidcError>, expected: OidcError) {
    match result {
        Err(error) => assert_eq!(error, expected),
        Ok(claims) => panic!("accepted, expected {expected:?}: {claims:?}"),
    }
}

#[track_caller]
fn malformed(result: Result<Claims, OidcError>) {
    match result {
        Err(OidcError::Malformed(_)) => {}
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn each_key_type_signs_an_accepted_token_with_its_claims() {
    let f = Fixture::new();
    for (key, alg, kid) in [
        (&f.ed, "EdDSA", "ed"),
        (&f.ed, "Ed25519", "ed"),
        (&f.ec, "ES256", "ec"),
        (&f.rsa, "RS256", "rsa"),
        (&f.rsa, "PS256", "rsa"),
    ] {
        let token = key.sign(&header(alg, kid), &access_claims());
        let claims = f.access(&token).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims.issuer, ISSUER);
        assert_eq!(claims.subject, "alice");
        assert_eq!(claims.expires_at, NOW + 300);
        assert_eq!(claims.preferred_username.as_deref(), Some("alice"));
        assert_eq!(claims.name.as_deref(), Some("Alice Popescu"));
        assert_eq!(claims.email.as_deref(), Some("alice@igpf.example"));
        assert_eq!(claims.strings("roles"), ["analyst", "operator"]);
        assert_eq!(claims.string("agency"), Some("ro-igpf"));
        assert_eq!(claims.string("clearance"), Some("restricted"));
        for moved in ["iss", "sub", "exp", "name", "email", "preferred_username"] {
            assert!(!claims.other.contains_key(moved), "{moved} left in other");
        }
        assert_eq!(claims.other["aud"], AUDIENCE);
    }
}

#[test]
fn a_token_without_kid_is_tried_with_the_keys_that_fit_its_algorithm() {
    let f = Fixture::new();
    let token = f.ec.sign(&json!({"alg": "ES256"}), &access_claims());
    assert!(f.access(&token).is_ok());
    let foreign = TestKey::p256().sign(&json!({"alg": "ES256"}), &access_claims());
    refused(f.access(&foreign), OidcError::BadSignature);
    let only_ed = Jwks::from_json(&jwks(&[f.ed.jwk("ed")])).expect("keys");
    refused(validate_token(&only_ed, &access(), NOW, &token), OidcError::UnknownKey { kid: None });
}

#[test]
fn keys_without_kid_serve_tokens_that_name_one() {
    let ec = TestKey::p256();
    let mut jwk = ec.jwk("unused");
    jwk.as_object_mut().expect("object").remove("kid");
    let keys = Jwks::from_json(&jwks(&[jwk])).expect("keys");
    let token = ec.sign(&header("ES256", "2024-rotation"), &access_claims());
    assert!(validate_token(&keys, &access(), NOW, &token).is_ok());
    let foreign = TestKey::p256().sign(&header("ES256", "2024-rotation"), &access_claims());
    refused(validate_token(&keys, &access(), NOW, &foreign), OidcError::BadSignature);
    let ed_token = TestKey::ed25519().sign(&header("EdDSA", "x"), &access_claims());
    refused(validate_token(&keys, &access(), NOW, &ed_token), OidcError::UnknownKey { kid: Some("x".into()) });
}

#[test]
fn every_flipped_character_is_refused() {
    let f = Fixture::new();
    let token = f.ec.sign(&header("ES256", "ec"), &access_claims());
    assert!(f.access(&token).is_ok());
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    for position in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        let original = bytes[position];
        bytes[position] = alphabet[(alphabet.iter().position(|&c| c == original).unwrap() + 1) % alphabet.len()];
        let altered = String::from_utf8(bytes).expect("ascii");
        assert!(f.access(&altered).is_err(), "changing character {position} of {token} was accepted");
    }
    refused(f.access(&flip_signature(&token)), OidcError::BadSignature);
}

#[test]
fn a_foreign_key_under_a_known_kid_is_a_bad_signature() {
    let f = Fixture::new();
    let forged = TestKey::p256().sign(&header("ES256", "ec"), &access_claims());
    refused(f.access(&forged), OidcError::BadSignature);
    let unknown = TestKey::p256().sign(&header("ES256", "intruder"), &access_claims());
    refused(f.access(&unknown), OidcError::UnknownKey { kid: Some("intruder".into()) });
}

#[test]
fn a_key_embedded_in_the_header_is_never_used() {
    let f = Fixture::new();
    let intruder = TestKey::p256();
    let mut head =
        json!({"alg": "ES256", "typ": "at+jwt", "jwk": intruder.jwk("x"), "jku": "https://evil.example/jwks"});
    refused(f.access(&intruder.sign(&head, &access_claims())), OidcError::BadSignature);
    head["kid"] = json!("x");
    refused(f.access(&intruder.sign(&head, &access_claims())), OidcError::UnknownKey { kid: Some("x".into()) });
}

#[test]
fn algorithms_outside_the_allow_list_are_refused() {
    let f = Fixture::new();
    let payload = b64(access_claims().to_string());
    // alg none, with and without a signature.
    for alg in ["none", "None", "NONE"] {
        let head = b64(json!({"alg": alg, "typ": "at+jwt"}).to_string());
        refused(f.access(&format!("{head}.{payload}.")), OidcError::DisallowedAlgorithm(alg.into()));
        refused(f.access(&format!("{head}.{payload}.c2ln")), OidcError::DisallowedAlgorithm(alg.into()));
    }
    // HS256 keyed with the RSA public key: the classic confusion attack.
    let head = b64(json!({"alg": "HS256", "kid": "rsa"}).to_string());
    let message = format!("{head}.{payload}");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &f.rsa.rsa_modulus());
    let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
    refused(f.access(&format!("{message}.{}", b64(tag.as_ref()))), OidcError::DisallowedAlgorithm("HS256".into()));
    for alg in ["HS384", "HS512", "ES512", "RS1", "ES256K", ""] {
        let token = f.ec.sign(&header(alg, "ec"), &access_claims());
        refused(f.access(&token), OidcError::DisallowedAlgorithm(alg.into()));
    }
}

#[test]
fn an_algorithm_that_does_not_fit_the_named_key_is_refused() {
    let f = Fixture::new();
    let token = f.ec.sign(&header("RS256", "ec"), &access_claims());
    refused(f.access(&token), OidcError::KeyMismatch { kid: "ec".into(), alg: "RS256".into() });
    // The P-256 key says ES256 in its own `alg`; ES384 does not fit it either.
    let token = f.ec.sign(&header("ES384", "ec"), &access_claims());
    assert!(matches!(f.access(&token), Err(OidcError::KeyMismatch { .. })));
}

#[test]
fn issuer_audience_and_subject() {
    let f = Fixture::new();
    let sign = |claims: Value| f.ec.sign(&header("ES256", "ec"), &claims);
    refused(
        f.access(&sign(with(access_claims(), json!({"iss": "https://evil.example"})))),
        OidcError::WrongIssuer { expected: ISSUER.into(), found: "https://evil.example".into() },
    );
    refused(
        f.access(&sign(with(access_claims(), json!({"iss": format!("{ISSUER}/")})))),
        OidcError::WrongIssuer { expected: ISSUER.into(), found: format!("{ISSUER}/") },
    );
    refused(f.access(&sign(with(access_claims(), json!({"iss": null})))), OidcError::MissingClaim("iss"));
    refused(f.access(&sign(with(access_claims(), json!({"iss": 7})))), OidcError::InvalidClaim("iss"));
    refused(f.access(&sign(with(access_claims(), json!({"aud": "other-node"})))), OidcError::WrongAudience);
    refused(f.access(&sign(with(access_claims(), json!({"aud": ["a", "b"]})))), OidcError::WrongAudience);
    assert!(f.access(&sign(with(access_claims(), json!({"aud": ["a", AUDIENCE]})))).is_ok());
    refused(f.access(&sign(with(access_claims(), json!({"aud": null})))), OidcError::MissingClaim("aud"));
    for bad in [json!([]), json!([AUDIENCE, 3]), json!({"aud": AUDIENCE}), json!(true)] {
        refused(f.access(&sign(with(access_claims(), json!({"aud": bad})))), OidcError::InvalidClaim("aud"));
    }
    refused(f.access(&sign(with(access_claims(), json!({"sub": null})))), OidcError::MissingClaim("sub"));
    for bad in [json!(""), json!(42), json!("x".repeat(256))] {
        refused(f.access(&sign(with(access_claims(), json!({"sub": bad})))), OidcError::InvalidClaim("sub"));
    }
}

#[test]
fn times_with_the_leeway() {
    let f = Fixture::new();
    let sign = |changes: Value| f.ec.sign(&header("ES256", "ec"), &with(access_claims(), changes));
    // exp is the first instant the token is no longer valid; 60 s of leeway.
    assert!(f.access(&sign(json!({"exp": NOW - 59}))).is_ok());
    refused(f.access(&sign(json!({"exp": NOW - 60}))), OidcError::Expired { expired_at: NOW - 60, now: NOW });
    let strict = Expected { leeway_seconds: 0, ..access() };
    assert!(validate_token(&f.keys, &strict, NOW, &sign(json!({"exp": NOW + 1}))).is_ok());
    refused(
        validate_token(&f.keys, &strict, NOW, &sign(json!({"exp": NOW}))),
        OidcError::Expired { expired_at: NOW, now: NOW },
    );
    refused(f.access(&sign(json!({"exp": null}))), OidcError::MissingClaim("exp"));
    for bad in [json!("1800000300"), json!(null), json!(1e300), json!(-1e300), json!([1])] {
        let token = f.ec.sign(&header("ES256", "ec"), &{
            let mut claims = access_claims();
            claims["exp"] = bad.clone();
            claims
        });
        refused(f.access(&token), OidcError::InvalidClaim("exp"));
    }
    // A fractional NumericDate is read to the second.
    let claims = f.access(&sign(json!({"exp": (NOW + 100) as f64 + 0.75}))).expect("fractional exp");
    assert_eq!(claims.expires_at, NOW + 100);
    // Extreme values do not overflow.
    refused(f.access(&sign(json!({"exp": i64::MIN}))), OidcError::Expired { expired_at: i64::MIN, now: NOW });
    assert!(f.access(&sign(json!({"exp": i64::MAX}))).is_ok());
    assert!(f.access(&sign(json!({"exp": u64::MAX}))).is_err());

    assert!(f.access(&sign(json!({"nbf": NOW + 60}))).is_ok());
    refused(f.access(&sign(json!({"nbf": NOW + 61}))), OidcError::NotYetValid);
    refused(f.access(&sign(json!({"nbf": "soon"}))), OidcError::InvalidClaim("nbf"));
    assert!(f.access(&sign(json!({"iat": NOW + 60}))).is_ok());
    refused(f.access(&sign(json!({"iat": NOW + 61}))), OidcError::NotYetValid);
}

#[test]
fn access_and_id_tokens_are_not_interchangeable() {
    let f = Fixture::new();
    let id_token = f.rsa.sign(&json!({"alg": "RS256", "kid": "rsa"}), &id_claims());
    assert!(f.id(&id_token).is_ok());
    let as_access = f.rsa.sign(&header("RS256", "rsa"), &with(id_claims(), json!({})));
    refused(f.id(&as_access), OidcError::WrongTokenType("header typ \"at+jwt\"".into()));
    for typ in ["JWT", "jwt", "at+jwt", "application/at+jwt", "AT+JWT"] {
        let token = f.ec.sign(&json!({"alg": "ES256", "kid": "ec", "typ": typ}), &access_claims());
        assert!(f.access(&token).is_ok(), "typ {typ}");
    }
    for typ in ["logout+jwt", "secevent+jwt", "dpop+jwt", "id_token+jwt"] {
        let token = f.ec.sign(&json!({"alg": "ES256", "kid": "ec", "typ": typ}), &access_claims());
        assert!(matches!(f.access(&token), Err(OidcError::WrongTokenType(_))), "typ {typ}");
    }
    // Keycloak's typ claim.
    for typ in ["ID", "Refresh", "Logout"] {
        let token =
            f.ec.sign(&json!({"alg": "ES256", "kid": "ec", "typ": "JWT"}), &with(access_claims(), json!({"typ": typ})));
        assert!(matches!(f.access(&token), Err(OidcError::WrongTokenType(_))));
    }
    let bearer_typed =
        f.rsa.sign(&json!({"alg": "RS256", "kid": "rsa", "typ": "JWT"}), &with(id_claims(), json!({"typ": "Bearer"})));
    assert!(matches!(f.id(&bearer_typed), Err(OidcError::WrongTokenType(_))));
}

#[test]
fn id_token_checks() {
    let f = Fixture::new();
    let sign = |changes: Value| f.ed.sign(&json!({"alg": "EdDSA", "kid": "ed"}), &with(id_claims(), changes));
    let claims = f.id(&sign(json!({}))).expect("a good ID token");
    assert_eq!(claims.subject, "alice");
    assert_eq!(claims.other["nonce"], NONCE);
    refused(f.id(&sign(json!({"nonce": "other"}))), OidcError::NonceMismatch);
    refused(f.id(&sign(json!({"nonce": null}))), OidcError::NonceMismatch);
    refused(f.id(&sign(json!({"nonce": 1}))), OidcError::NonceMismatch);
    refused(f.id(&sign(json!({"iat": null}))), OidcError::MissingClaim("iat"));
    refused(f.id(&sign(json!({"aud": AUDIENCE}))), OidcError::WrongAudience);
    refused(f.id(&sign(json!({"aud": [CLIENT, "another-client"]}))), OidcError::MissingClaim("azp"));
    assert!(f.id(&sign(json!({"aud": [CLIENT, "another-client"], "azp": CLIENT}))).is_ok());
    refused(f.id(&sign(json!({"azp": "another-client"}))), OidcError::WrongAudience);
    refused(f.id(&sign(json!({"azp": ["x"]}))), OidcError::InvalidClaim("azp"));
}

#[test]
fn hostile_shapes_are_malformed_not_panics() {
    let f = Fixture::new();
    let good = f.ec.sign(&header("ES256", "ec"), &access_claims());
    let (head, rest) = good.split_once('.').expect("dots");
    let (payload, signature) = rest.split_once('.').expect("dots");
    let cases: Vec<String> = vec![
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        "a".into(),
        "a.b".into(),
        "a.b.c.d".into(),
        format!("{good}."),
        format!(".{good}"),
        format!("{head}.{payload}.{signature}.{signature}"),
        format!("{head}..{signature}"),
        format!(".{payload}.{signature}"),
        "garbage".into(),
        "\0\0\0.\0.\0".into(),
        "ümlaut.ü.ü".into(),
        format!("{head}=.{payload}.{signature}"),
        format!("!!!!.{payload}.{signature}"),
        format!("{head}.{payload}.{signature}="),
        format!("{head}.{payload}.***"),
        format!("{}.{payload}.{signature}", b64("not json")),
        format!("{}.{payload}.{signature}", b64("[1,2,3]")),
        format!("{}.{payload}.{signature}", b64("{\"alg\": 256}")),
        format!("{}.{payload}.{signature}", b64("{\"kid\": \"ec\"}")),
        format!("{}.{payload}.{signature}", b64("{\"alg\": \"ES256\", \"crit\": [\"b64\"], \"b64\": false}")),
        format!("{}.{payload}.{signature}", b64("{\"alg\": \"ES256\", \"kid\": 5}")),
        format!("{} {good}", "Bearer"),
    ];
    for case in &cases {
        let result = f.access(case);
        assert!(matches!(result, Err(OidcError::Malformed(_))), "{case:?}: {result:?}");
    }
}

#[test]
fn huge_tokens_are_refused_before_decoding() {
    let f = Fixture::new();
    let padding = "A".repeat(MAX_TOKEN_BYTES);
    malformed(f.access(&format!("{padding}.{padding}.{padding}")));
    malformed(f.access(&".".repeat(10 * MAX_TOKEN_BYTES)));
    // A large but allowed token (many roles) passes.
    let roles: Vec<String> = (0..600).map(|i| format!("role-{i}")).collect();
    let token = f.ec.sign(&header("ES256", "ec"), &with(access_claims(), json!({"roles": roles})));
    assert!(token.len() < MAX_TOKEN_BYTES, "{}", token.len());
    assert_eq!(f.access(&token).expect("big token").strings("roles").len(), 600);
}

#[test]
fn json_nesting_bombs_do_not_overflow_the_stack() {
    let f = Fixture::new();
    // Unsigned: the header is parsed before any key is looked at.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let head = b64(&deep);
    malformed(f.access(&format!("{head}.{}.c2ln", b64("{}"))));
    // Nested as deep as the size limit allows, in a header member nobody reads: skipped
    // without recursion, and the token fails at its signature.
    let depth = MAX_TOKEN_BYTES * 3 / 4 / 2 - 40;
    let deep_member = format!("{{\"alg\":\"ES256\",\"x\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
    let token = format!("{}.{}.c2ln", b64(&deep_member), b64("{}"));
    assert!(token.len() <= MAX_TOKEN_BYTES);
    refused(f.access(&token), OidcError::BadSignature);
    // Signed by a trusted key, so it reaches the payload parser.
    let payload = format!("{{\"iss\":\"{ISSUER}\",\"deep\":{}0{}}}", "{\"a\":".repeat(2000), "}".repeat(2000));
    let token = f.ec.sign_parts(&b64(header("ES256", "ec").to_string()), &b64(&payload));
    malformed(f.access(&token));
    // A payload that is JSON but not an object.
    for payload in ["[]", "null", "\"claims\"", "42"] {
        let token = f.ec.sign_parts(&b64(header("ES256", "ec").to_string()), &b64(payload));
        malformed(f.access(&token));
    }
}

#[test]
fn key_sets_keep_only_usable_signing_keys() {
    let ed = TestKey::ed25519();
    let ec = TestKey::p256();
    let rsa = TestKey::rsa();
    let mut padded = ec.jwk("padded");
    padded["x"] = json!(format!("{}=", padded["x"].as_str().expect("x")));
    let set = jwks(&[
        ed.jwk("ed"),
        ec.jwk("ec"),
        rsa.jwk("rsa"),
        padded,
        with(ec.jwk("enc"), json!({"use": "enc"})),
        with(ec.jwk("ops"), json!({"key_ops": ["encrypt"]})),
        with(ec.jwk("ops-ok"), json!({"key_ops": ["verify"]})),
        json!({"kty": "oct", "kid": "shared", "k": b64("secret")}),
        with(ec.jwk("short-x"), json!({"x": b64([1; 31])})),
        with(ec.jwk("bad-b64"), json!({"y": "***"})),
        with(ec.jwk("p521"), json!({"crv": "P-521"})),
        with(ed.jwk("x448"), json!({"crv": "X25519"})),
        with(rsa.jwk("small"), json!({"n": b64([0xff; 128])})),
        with(rsa.jwk("no-e"), json!({"e": null})),
        json!({"kty": "AKP", "kid": "ml-dsa", "pub": "AAAA"}),
        json!({"kid": "no-kty"}),
        json!("not an object"),
        json!({"kty": "EC", "kid": 5, "crv": "P-256", "x": "", "y": ""}),
    ]);
    let keys = Jwks::from_json(&set).expect("usable keys");
    assert_eq!(keys.key_ids().collect::<Vec<_>>(), ["ed", "ec", "rsa", "padded", "ops-ok"]);
    assert_eq!(keys.len(), 5);
}

#[test]
fn key_sets_that_cannot_serve_are_errors() {
    for document in [
        b"".as_slice(),
        b"not json",
        b"[]",
        b"{}",
        b"{\"keys\": {}}",
        b"{\"keys\": []}",
        b"{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2VjcmV0\"}]}",
    ] {
        assert!(matches!(Jwks::from_json(document), Err(OidcError::Jwks(_))), "{}", String::from_utf8_lossy(document));
    }
    let ec = TestKey::p256();
    let many: Vec<Value> = (0..65).map(|i| ec.jwk(&format!("k{i}"))).collect();
    assert!(matches!(Jwks::from_json(&jwks(&many)), Err(OidcError::Jwks(_))));
    let nested = format!("{{\"keys\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(Jwks::from_json(nested.as_bytes()), Err(OidcError::Jwks(_))));
}

#[test]
fn rejections_and_provider_failures_are_told_apart() {
    assert!(OidcError::BadSignature.is_rejection());
    assert!(OidcError::StateMismatch.is_rejection());
    assert!(OidcError::CodeRefused { error: "invalid_grant".into(), description: None }.is_rejection());
    assert!(!OidcError::Discovery("down".into()).is_rejection());
    assert!(!OidcError::Jwks("down".into()).is_rejection());
    assert!(!OidcError::TokenEndpoint("down".into()).is_rejection());
    assert!(!OidcError::Config("bad".into()).is_rejection());
}
