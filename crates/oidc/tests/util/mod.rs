//! What the integration tests share: keys of their own to sign tokens with (aws-lc-rs), and the
//! real OpenID Connect provider (`tests/idp/idp.mjs`, panva's oidc-provider under Node.js).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use limes_oidc::OidcConfig;
use serde_json::{Value, json};

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64
}

/// A signing key the tests hold.
pub enum TestKey {
    Ed25519(Ed25519KeyPair),
    P256(EcdsaKeyPair),
    Rsa(aws_lc_rs::rsa::KeyPair),
}

impl TestKey {
    pub fn ed25519() -> TestKey {
        TestKey::Ed25519(Ed25519KeyPair::generate().expect("ed25519 key"))
    }

    pub fn p256() -> TestKey {
        TestKey::P256(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("p-256 key"))
    }

    pub fn rsa() -> TestKey {
        TestKey::Rsa(aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa key"))
    }

    /// The public key as a JWK with `kid`.
    pub fn jwk(&self, kid: &str) -> Value {
        match self {
            TestKey::Ed25519(key) => json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig",
                "x": b64(key.public_key().as_ref()),
            }),
            TestKey::P256(key) => {
                let point = key.public_key().as_ref();
                json!({
                    "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                })
            }
            TestKey::Rsa(key) => {
                let components = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public_key());
                json!({
                    "kty": "RSA", "kid": kid, "use": "sig",
                    "n": b64(&components.n), "e": b64(&components.e),
                })
            }
        }
    }

    /// The RSA public key's modulus (for the HS256 confusion attack).
    pub fn rsa_modulus(&self) -> Vec<u8> {
        match self {
            TestKey::Rsa(key) => aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public_key()).n,
            _ => panic!("not an RSA key"),
        }
    }

    /// Signs `header.payload` (both already base64url) and returns the compact token. RSA keys sign
    /// with PS256 when the header says so, else RS256.
    pub fn sign_parts(&self, header_b64: &str, payload_b64: &str) -> String {
        let message = format!("{header_b64}.{payload_b64}");
        let signature = self.sign_bytes(message.as_bytes(), header_b64);
        format!("{message}.{}", b64(signature))
    }

    fn sign_bytes(&self, message: &[u8], header_b64: &str) -> Vec<u8> {
        match self {
            TestKey::Ed25519(key) => key.sign(message).as_ref().to_vec(),
            TestKey::P256(key) => key.sign(&SystemRandom::new(), message).expect("ecdsa signature").as_ref().to_vec(),
            TestKey::Rsa(key) => {
                let header: Value = serde_json::from_slice(&unb64(header_b64)).unwrap_or_default();
                let padding: &'static dyn aws_lc_rs::signature::RsaEncoding =
                    if header["alg"] == "PS256" { &RSA_PSS_SHA256 } else { &RSA_PKCS1_SHA256 };
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(padding, &SystemRandom::new(), message, &mut signature).expect("rsa signature");
                signature
            }
        }
    }

    /// Signs a header and payload given as JSON.
    pub fn sign(&self, header: &Value, payload: &Value) -> String {
        self.sign_parts(&b64(header.to_string()), &b64(payload.to_string()))
    }
}

/// A JSON Web Key Set document of public keys.
pub fn jwks(keys: &[Value]) -> Vec<u8> {
    json!({ "keys": keys }).to_string().into_bytes()
}

/// Flips one bit in the middle of the token's signature, keeping it valid base64url.
pub fn flip_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("three parts");
    let mut bytes = unb64(signature);
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    format!("{signed}.{}", b64(bytes))
}

/// The token's header and payload, decoded.
pub fn decode_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let header = serde_json::from_slice(&unb64(parts.next().expect("header"))).expect("json");
    let payload = serde_json::from_slice(&unb64(parts.next().expect("payload"))).expect("json");
    (header, payload)
}

pub const CLIENT_ID: &str = "limes-node-test";
pub const POST_CLIENT_ID: &str = "limes-node-post";
pub const CLIENT_SECRET: &str = "limes-test-secret";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/limes/oidc/callback";
pub const AUDIENCE: &str = "limes-node";

/// The test identity provider, a `node idp.mjs` process; killed when dropped (and it exits by
/// itself when the test process dies, as its standard input closes).
pub struct Idp {
    child: Child,
    pub issuer: String,
    pub port: u16,
}

/// The provider's folder, found from this crate or from a sibling crate whose tests include
/// this module (`crates/cli/tests/oidc.rs` does).
fn idp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../oidc/tests/idp")
}

/// Why a provider did not start.
enum Launch {
    PortTaken,
    /// Still running, nothing said on either output.
    Silent(String),
    Failed(String),
}

impl Idp {
    /// Starts a provider on a free port.
    pub fn start() -> Idp {
        for _ in 0..5 {
            let port = free_port();
            if let Some(idp) = Idp::try_start(port, 1) {
                return idp;
            }
        }
        panic!("the test identity provider found no free port in 5 tries");
    }

    /// Starts a provider on `port` with the keys of `generation` (`rsa-GENERATION`…); `None` if
    /// the port is taken. A provider that stays silent past the liveness bound (seen twice in CI,
    /// with nothing on either output) is killed and started once more, saying so.
    pub fn try_start(port: u16, generation: u32) -> Option<Idp> {
        for attempt in 1..=2 {
            match Idp::launch(port, generation) {
                Ok(idp) => return Some(idp),
                Err(Launch::PortTaken) => return None,
                Err(Launch::Silent(why)) if attempt == 1 => eprintln!("{why}; starting it once more"),
                Err(Launch::Silent(why) | Launch::Failed(why)) => panic!("{why}"),
            }
        }
        unreachable!("the second attempt returns or panics")
    }

    fn launch(port: u16, generation: u32) -> Result<Idp, Launch> {
        let dir = idp_dir();
        assert!(
            dir.join("node_modules/oidc-provider/package.json").exists(),
            "the test identity provider is not installed in {}: run scripts/test, which runs \
             `npm ci` there (or run `npm ci` in that folder yourself)",
            dir.display()
        );
        let mut child = match Command::new("node")
            .arg("idp.mjs")
            .arg(port.to_string())
            .arg(generation.to_string())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "node is not installed, and the OIDC tests run a real identity provider under \
                 Node.js: run scripts/test, which installs nodejs and npm and the provider"
            ),
            Err(error) => panic!("cannot start node: {error}"),
        };
        let (lines, ready) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let collected = Arc::clone(&stderr_text);
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(read @ 1..) = stderr.read(&mut buffer) {
                if let Ok(mut text) = collected.lock() {
                    text.push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            }
        });
        // A liveness bound, not a speed check: the suite starts many providers at once on two
        // cores (each makes its keys), and one took longer than 30 s in CI.
        let started = Instant::now();
        let deadline = started + Duration::from_secs(120);
        let mut said = Vec::new();
        let ended = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match ready.recv_timeout(left) {
                Ok(line) => {
                    if let Some(issuer) = line.strip_prefix("listening on ") {
                        return Ok(Idp { child, issuer: issuer.trim().to_owned(), port });
                    }
                    said.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break "still running, silent",
                Err(mpsc::RecvTimeoutError::Disconnected) => break "its standard output closed",
            }
        };
        // What it was doing, for the failure's message (seen once in CI: silent for 120 s).
        let status = child.try_wait().ok().flatten().map(|s| s.to_string());
        let _ = child.kill();
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(50));
        let stderr = stderr_text.lock().map(|text| text.clone()).unwrap_or_default();
        if stderr.contains("EADDRINUSE") {
            return Err(Launch::PortTaken);
        }
        let why = format!(
            "the test identity provider did not start on port {port} within {:?} ({ended}; exit status \
             {status:?}); its standard output: {said:?}; its standard error:\n{stderr}",
            started.elapsed()
        );
        let silent = status.is_none() && said.is_empty() && stderr.trim().is_empty();
        Err(if silent { Launch::Silent(why) } else { Launch::Failed(why) })
    }

    /// An OidcConfig for this provider: the basic-auth client, audience `limes-node`, no leeway.
    pub fn config(&self) -> OidcConfig {
        let mut config = OidcConfig::new("test-idp", &self.issuer, CLIENT_ID);
        config.client_secret = Some(CLIENT_SECRET.to_owned());
        config.audience = Some(AUDIENCE.to_owned());
        config.redirect_url = Some(REDIRECT_URI.to_owned());
        config.scopes = ["openid", "profile", "email", "limes"].map(str::to_owned).to_vec();
        config.leeway_seconds = 0;
        config
    }

    /// An access token for the integration client from the token endpoint (client credentials)
    /// for `resource` (`urn:limes:node`, `urn:limes:other`…).
    pub async fn client_credentials(&self, resource: &str) -> String {
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials"), ("resource", resource), ("scope", "read")])
            .send()
            .await
            .expect("token endpoint reachable");
        let status = response.status();
        let body = response.bytes().await.expect("token response");
        let body: Value = serde_json::from_slice(&body).expect("token response is JSON");
        assert!(status.is_success(), "token endpoint: {status} {body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

/// What the provider redirected the browser back with.
#[derive(Debug)]
pub struct Callback {
    pub code: String,
    pub state: String,
    pub iss: Option<String>,
}

/// Plays the browser: follows the provider's redirects with a cookie store, signs in as `login`
/// on the login page, grants on the consent page, and stops at the redirect to the node's
/// callback.
pub async fn browser_login(authorization_url: &str, login: &str) -> Callback {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser client");
    let mut response = browser.get(authorization_url).send().await.expect("authorization endpoint reachable");
    let mut pages = Vec::new();
    for _ in 0..16 {
        let here = response.url().clone();
        if response.status().is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .expect("a redirect has a Location");
            let next = here.join(location).expect("Location is a URL");
            if next.as_str().starts_with(REDIRECT_URI) {
                let get =
                    |name: &str| next.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
                if let Some(error) = get("error") {
                    panic!("the provider refused the login: {error} {:?}", get("error_description"));
                }
                return Callback {
                    code: get("code").expect("code"),
                    state: get("state").expect("state"),
                    iss: get("iss"),
                };
            }
            response = browser.get(next).send().await.expect("redirect target");
            continue;
        }
        let status = response.status();
        let html = response.text().await.expect("page");
        assert!(status.is_success(), "{here}: {status}\n{html}");
        let action = html_attribute(&html, "<form", "action").expect("a form on the page");
        let prompt = html_attribute(&html, "name=\"prompt\"", "value").expect("a prompt");
        pages.push(prompt.clone());
        let form: Vec<(&str, &str)> = match prompt.as_str() {
            "login" => vec![("prompt", "login"), ("login", login), ("password", "any password")],
            "consent" => vec![("prompt", "consent")],
            other => panic!("unexpected prompt {other:?}"),
        };
        let target = here.join(&action).expect("form action is a URL");
        response = browser.post(target).form(&form).send().await.expect("form post");
    }
    panic!("no callback after 16 steps (pages: {pages:?})");
}

/// The value of `attribute` in the first tag at or after `marker`.
fn html_attribute(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let start = html.find(marker)?;
    let tag_end = start + html[start..].find('>')?;
    let tag = &html[start..tag_end];
    let needle = format!("{attribute}=\"");
    let value_start = tag.find(&needle)? + needle.len();
    let value_end = value_start + tag[value_start..].find('"')?;
    Some(tag[value_start..value_end].replace("&amp;", "&").replace("&#x2F;", "/"))
}
