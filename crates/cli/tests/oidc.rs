//! People sign in through their agency's identity provider: a real OpenID Connect provider
//! (panva's oidc-provider under Node.js, `crates/oidc/tests/idp`), a real node.

#[path = "../../oidc/tests/util/mod.rs"]
mod idp;
mod util;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use util::{TestNode, bearer_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_through_the_identity_provider_and_its_tokens_are_checked() {
    let provider = idp::Idp::start();
    let section = format!(
        "\n[[access.oidc]]\nname = \"agency-idp\"\nissuer = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
         audience = \"{}\"\nredirect_url = \"{}\"\nscopes = [\"openid\", \"profile\", \"email\", \"limes\"]\nleeway_seconds = 0\n",
        provider.issuer,
        idp::CLIENT_ID,
        idp::CLIENT_SECRET,
        idp::AUDIENCE,
        idp::REDIRECT_URI
    );
    let node = TestNode::start_edited(|config| format!("{config}{section}"));
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // The node discovers the provider in the background.
    let start = Instant::now();
    let login = loop {
        let r = anonymous.get(node.at("/api/v1/auth/oidc/agency-idp/login")).send().await.unwrap();
        if r.status() == StatusCode::SEE_OTHER {
            break r.headers()["location"].to_str().unwrap().to_owned();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "provider not discovered: {}", r.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(login.starts_with(&provider.issuer), "{login}");

    // Alice signs in at the provider; the callback gives her a limes session with her roles.
    let callback = idp::browser_login(&login, "alice").await;
    let url = format!(
        "/api/v1/auth/oidc/agency-idp/callback?code={}&state={}&iss={}",
        callback.code,
        callback.state,
        callback.iss.clone().unwrap_or_default()
    );
    let r = anonymous.get(node.at(&url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let session: Value = r.json().await.unwrap();
    assert_eq!(session["user"], "agency-idp:alice");
    assert_eq!(session["roles"], serde_json::json!(["operator", "analyst"]));
    let alice = bearer_client(session["token"].as_str().unwrap());
    let r = alice
        .get(node.at("/api/v1/reads?plate=B77ACC"))
        .header("limes-purpose", "investigation")
        .header("limes-legal-basis", "RO Law 363/2018 art. 5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "an analyst searches");
    assert_eq!(alice.get(node.at("/api/v1/users")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    // The same answer again: the login was spent.
    let r = anonymous.get(node.at(&url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The provider's access tokens are bearer credentials, checked on every request.
    let token = provider.client_credentials("urn:limes:node").await;
    let me: Value = bearer_client(&token).get(node.at("/api/v1/auth/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["id"], format!("agency-idp:{}", idp::CLIENT_ID));
    assert_eq!(me["agency"], "ro-igpf");
    // It names no limes role: signed in, allowed nothing.
    let r = bearer_client(&token).get(node.at("/api/v1/cameras")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for (what, bad) in [
        ("a flipped signature", idp::flip_signature(&token)),
        ("another audience", provider.client_credentials("urn:limes:other").await),
    ] {
        let r = bearer_client(&bad).get(node.at("/api/v1/auth/me")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
    let short = provider.client_credentials("urn:limes:node:short").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = bearer_client(&short).get(node.at("/api/v1/auth/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "expired");
    assert!(r.text().await.unwrap().contains("expired"));
}
