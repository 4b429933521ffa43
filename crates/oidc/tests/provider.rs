//! Against a real OpenID Connect provider: panva's `oidc-provider` under Node.js
//! (`tests/idp/idp.mjs`), one started per test on a free loopback port. `scripts/test` installs
//! Node.js and the provider's packages; without them these tests fail and say so.

mod util;

use std::time::Duration;

use limes_oidc::{OidcError, PendingLogin, Provider};
use serde_json::json;
use util::{AUDIENCE, CLIENT_ID, Idp, POST_CLIENT_ID, TestKey, b64, browser_login, decode_parts, flip_signature, now};

async fn discover(idp: &Idp) -> Provider {
    Provider::discover(idp.config(), reqwest::Client::new()).await.expect("discovery")
}

#[tokio::test]
async fn access_tokens_of_each_algorithm_are_accepted_with_their_claims() {
    let idp = Idp::start();
    let provider = discover(&idp).await;
    for (resource, alg) in
        [("urn:limes:node", "RS256"), ("urn:limes:node:es256", "ES256"), ("urn:limes:node:eddsa", "EdDSA")]
    {
        let token = idp.client_credentials(resource).await;
        let (header, _) = decode_parts(&token);
        assert_eq!(header["alg"], alg);
        assert_eq!(header["typ"], "at+jwt");
        let claims = provider.validate_bearer(&token).await.unwrap_or_else(|error| panic!("{resource}: {error}"));
        assert_eq!(claims.issuer, idp.issuer);
        assert_eq!(claims.subject, CLIENT_ID);
        assert!(claims.expires_at > now(), "{claims:?}");
        assert_eq!(claims.strings("roles"), ["integration"]);
        assert_eq!(claims.string("agency"), Some("ro-igpf"));
        assert_eq!(claims.string("client_id"), Some(CLIENT_ID));
        assert_eq!(claims.other["aud"], AUDIENCE);
        assert_eq!(claims.strings("scope"), ["read"]);
    }
    assert_eq!(provider.key_set_fetches(), 1, "the keys were cached");
}

#[tokio::test]
async fn a_flipped_signature_is_a_bad_signature() {
    let idp = Idp::start();
    let provider = discover(&idp).await;
    for resource in ["urn:limes:node", "urn:limes:node:es256", "urn:limes:node:eddsa"] {
        let token = idp.client_credentials(resource).await;
        assert_eq!(provider.validate_bearer(&flip_signature(&token)).await, Err(OidcError::BadSignature), "{resource}");
    }
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let idp = Idp::start();
    let provider = discover(&idp).await;
    let token = idp.client_credentials("urn:limes:other").await;
    assert_eq!(decode_parts(&token).1["aud"], "other-node");
    assert_eq!(provider.validate_bearer(&token).await, Err(OidcError::WrongAudience));
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let idp = Idp::start();
    let provider = discover(&idp).await;
    // Lives one second; the configuration allows no leeway.
    let token = idp.client_credentials("urn:limes:node:short").await;
    let exp = decode_parts(&token).1["exp"].as_i64().expect("exp");
    while now() <= exp {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    match provider.validate_bearer(&token).await {
        Err(OidcError::Expired { expired_at, .. }) => assert_eq!(expired_at, exp),
        other => panic!("expected Expired, got {other:?}"),
    }
}

#[tokio::test]
async fn hs256_and_alg_none_are_refused() {
    let idp = Idp::start();
    let provider = discover(&idp).await;
    let token = idp.client_credentials("urn:limes:node:hs256").await;
    assert_eq!(decode_parts(&token).0["alg"], "HS256");
    assert_eq!(provider.validate_bearer(&token).await, Err(OidcError::DisallowedAlgorithm("HS256".into())));

    // A genuine token with its header replaced by `alg: none` and its signature dropped.
    let genuine = idp.client_credentials("urn:limes:node").await;
    let payload = genuine.split('.').nth(1).expect("payload");
    let header = b64(json!({"alg": "none", "typ": "at+jwt"}).to_string());
    for unsigned in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
        let refusal = provider.validate_bearer(&unsigned).await.unwrap_err();
        assert!(matches!(refusal, OidcError::DisallowedAlgorithm(_) | OidcError::Malformed(_)), "{refusal:?}");
    }
    assert_eq!(
        provider.validate_bearer(&format!("{header}.{payload}.")).await,
        Err(OidcError::DisallowedAlgorithm("none".into()))
    );
}

#[tokio::test]
async fn tokens_signed_by_a_foreign_key_are_refused_and_refetching_is_rate_limited() {
    let idp = Idp::start();
    let provider = discover(&idp).await;
    let genuine = idp.client_credentials("urn:limes:node:es256").await;
    let (_, claims) = decode_parts(&genuine);
    let intruder = TestKey::p256();

    // The provider's own kid, another key: the signature does not verify.
    let forged = intruder.sign(&json!({"alg": "ES256", "typ": "at+jwt", "kid": "ec-1"}), &claims);
    assert_eq!(provider.validate_bearer(&forged).await, Err(OidcError::BadSignature));

    // An unknown kid: right after discovery the key set is not fetched again.
    let unknown = intruder.sign(&json!({"alg": "ES256", "typ": "at+jwt", "kid": "intruder"}), &claims);
    assert_eq!(provider.validate_bearer(&unknown).await, Err(OidcError::UnknownKey { kid: Some("intruder".into()) }));
    assert_eq!(provider.key_set_fetches(), 1);

    // Without the rate limit, an unknown kid fetches the set again once per token.
    let eager = discover(&idp).await.with_min_refetch_interval(Duration::ZERO);
    assert_eq!(eager.validate_bearer(&unknown).await, Err(OidcError::UnknownKey { kid: Some("intruder".into()) }));
    assert_eq!(eager.key_set_fetches(), 2);
    assert!(eager.validate_bearer(&genuine).await.is_ok());
    assert_eq!(eager.key_set_fetches(), 2, "a known kid fetches nothing");
}

#[tokio::test]
async fn rotated_keys_are_fetched_when_a_token_names_one() {
    let first = Idp::start();
    let port = first.port;
    let provider = discover(&first).await.with_min_refetch_interval(Duration::ZERO);
    let old = first.client_credentials("urn:limes:node").await;
    assert!(provider.validate_bearer(&old).await.is_ok());
    drop(first);

    // The same issuer restarted with new keys (`rsa-2`…).
    let second = (0..50)
        .find_map(|_| {
            Idp::try_start(port, 2).or_else(|| {
                std::thread::sleep(Duration::from_millis(100));
                None
            })
        })
        .expect("the port again");
    let new = second.client_credentials("urn:limes:node").await;
    assert_eq!(decode_parts(&new).0["kid"], "rsa-2");
    let claims = provider.validate_bearer(&new).await.expect("the new key");
    assert_eq!(claims.subject, CLIENT_ID);
    assert_eq!(provider.key_set_fetches(), 2);
    // The old key is gone from the provider's set, and so from the node's.
    assert_eq!(provider.validate_bearer(&old).await, Err(OidcError::UnknownKey { kid: Some("rsa-1".into()) }));
}

#[tokio::test]
async fn browser_login_returns_the_person_and_the_agency_claims() {
    let idp = Idp::start();
    let provider = discover(&idp).await;
    let (url, pending) = provider.begin_login().expect("login begins");
    assert!(url.starts_with(&format!("{}/auth?", idp.issuer)), "{url}");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let callback = browser_login(&url, "alice").await;
    assert_eq!(callback.state, pending.state());
    assert_eq!(callback.iss.as_deref(), Some(provider.issuer()));
    let claims = provider.complete_login(pending, &callback.code, &callback.state).await.expect("login completes");
    assert_eq!(claims.issuer, idp.issuer);
    assert_eq!(claims.subject, "alice");
    assert_eq!(claims.preferred_username.as_deref(), Some("alice"));
    assert_eq!(claims.name.as_deref(), Some("Alice Popescu"));
    assert_eq!(claims.email.as_deref(), Some("alice@igpf.example"));
    assert_eq!(claims.strings("roles"), ["analyst", "operator"]);
    assert_eq!(claims.string("agency"), Some("ro-igpf"));
    assert_eq!(claims.string("clearance"), Some("restricted"));
    assert_eq!(claims.other["aud"], CLIENT_ID);
    assert!(claims.expires_at > now());
}

#[tokio::test]
async fn browser_login_with_client_secret_post() {
    let idp = Idp::start();
    let mut config = idp.config();
    config.client_id = POST_CLIENT_ID.to_owned();
    let provider = Provider::discover(config, reqwest::Client::new()).await.expect("discovery");
    let (url, pending) = provider.begin_login().expect("login begins");
    let callback = browser_login(&url, "bob").await;
    let claims = provider.complete_login(pending, &callback.code, &callback.state).await.expect("login completes");
    assert_eq!(claims.subject, "bob");
    assert_eq!(claims.string("agency"), Some("ua-dpsu"));
    assert_eq!(claims.other["aud"], POST_CLIENT_ID);
}

#[tokio::test]
async fn a_wrong_state_is_refused_without_spending_the_code() {
    let idp = Idp::start();
    let provider = discover(&idp).await;
    let (url, pending) = provider.begin_login().expect("login begins");
    let callback = browser_login(&url, "alice").await;
    let (_, other) = provider.begin_login().expect("a second login");
    for state in ["", "wrong", other.state(), &callback.state[1..]] {
        assert_eq!(
            provider.complete_login(pending.clone(), &callback.code, state).await,
            Err(OidcError::StateMismatch),
            "{state:?}"
        );
    }
    // The callback of this login with the pending login of another.
    assert_eq!(provider.complete_login(other, &callback.code, &callback.state).await, Err(OidcError::StateMismatch));
    let claims = provider
        .complete_login(pending.clone(), &callback.code, &callback.state)
        .await
        .expect("the code is still good");
    assert_eq!(claims.subject, "alice");
    // Used once, a code is spent.
    match provider.complete_login(pending, &callback.code, &callback.state).await {
        Err(OidcError::CodeRefused { error, .. }) => assert_eq!(error, "invalid_grant"),
        other => panic!("expected CodeRefused, got {other:?}"),
    }
}

/// A pending login as the server might store it, with one field changed.
fn tampered(pending: &PendingLogin, field: &str, value: &str) -> PendingLogin {
    let mut stored = serde_json::to_value(pending).expect("serialisable");
    stored[field] = json!(value);
    serde_json::from_value(stored).expect("still a pending login")
}

#[tokio::test]
async fn the_nonce_and_the_pkce_verifier_are_checked() {
    let idp = Idp::start();
    let provider = discover(&idp).await;

    // Another nonce than the one sent: the ID token does not carry it.
    let (url, pending) = provider.begin_login().expect("login begins");
    let callback = browser_login(&url, "alice").await;
    assert_eq!(
        provider.complete_login(tampered(&pending, "nonce", "another-nonce"), &callback.code, &callback.state).await,
        Err(OidcError::NonceMismatch)
    );

    // Another PKCE verifier than the one whose challenge was sent: the provider refuses the code.
    let (url, pending) = provider.begin_login().expect("login begins");
    let callback = browser_login(&url, "alice").await;
    match provider
        .complete_login(
            tampered(&pending, "pkce_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            &callback.code,
            &callback.state,
        )
        .await
    {
        Err(OidcError::CodeRefused { error, .. }) => assert_eq!(error, "invalid_grant"),
        other => panic!("expected CodeRefused, got {other:?}"),
    }

    // A login begun too long ago.
    let (url, pending) = provider.begin_login().expect("login begins");
    let callback = browser_login(&url, "alice").await;
    let mut stored = serde_json::to_value(&pending).expect("serialisable");
    stored["started_at"] = json!(now() - 601);
    let old: PendingLogin = serde_json::from_value(stored).expect("pending");
    assert_eq!(provider.complete_login(old, &callback.code, &callback.state).await, Err(OidcError::LoginExpired));
}

#[tokio::test]
async fn discovery_checks_the_issuer_and_reports_an_absent_provider() {
    let idp = Idp::start();
    let mut config = idp.config();
    config.issuer = format!("{}/", idp.issuer);
    match Provider::discover(config, reqwest::Client::new()).await {
        Err(error @ OidcError::Discovery(_)) => {
            assert!(error.to_string().contains("calls itself"), "{error}");
            assert!(!error.is_rejection());
        }
        other => panic!("expected a discovery error, got {other:?}"),
    }

    let mut config = idp.config();
    config.issuer = format!("http://127.0.0.1:{}", idp.port);
    drop(idp);
    match Provider::discover(config, reqwest::Client::new()).await {
        Err(OidcError::Discovery(reason)) => assert!(reason.contains("127.0.0.1"), "{reason}"),
        other => panic!("expected a discovery error, got {other:?}"),
    }

    let mut config = limes_oidc::OidcConfig::new("plain", "http://id.example", "node");
    config.client_secret = Some("s".into());
    assert!(matches!(Provider::discover(config, reqwest::Client::new()).await, Err(OidcError::Config(_))));
}

#[tokio::test]
async fn a_node_without_redirect_url_takes_bearer_tokens_only() {
    let idp = Idp::start();
    let mut config = idp.config();
    config.redirect_url = None;
    let provider = Provider::discover(config, reqwest::Client::new()).await.expect("discovery");
    assert!(matches!(provider.begin_login(), Err(OidcError::Config(_))));
    let token = idp.client_credentials("urn:limes:node").await;
    assert!(provider.validate_bearer(&token).await.is_ok());
    assert!(matches!(provider.validate_bearer("not a token").await, Err(OidcError::Malformed(_))));
}
