//! Bearer secrets: session tokens and API tokens. The node generates the random bytes; this
//! module gives them their form and the digest that is stored instead of them. Secrets are
//! 256 random bits, so a plain SHA-256 digest is enough to store them (a slow hash protects
//! guessable secrets such as passwords, which these are not).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Random bytes in a secret.
pub const SECRET_BYTES: usize = 32;

const SESSION_PREFIX: &str = "lms_s_";
const TOKEN_PREFIX: &str = "lms_t_";

/// A bearer credential, told apart by its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A login session: the whole token is the secret.
    Session(&'a str),
    /// An API token: `lms_t_<id>.<secret>`; the id names it in the audit log.
    Token { id: &'a str, secret: &'a str },
    /// Anything with three dot-separated parts: a JSON Web Token from an identity provider.
    Jwt(&'a str),
}

/// Tells what kind of credential a bearer value is; `None` for what none can be.
pub fn classify(bearer: &str) -> Option<Credential<'_>> {
    let bearer = bearer.trim();
    if bearer.is_empty() || bearer.len() > 16 * 1024 {
        return None;
    }
    if let Some(rest) = bearer.strip_prefix(TOKEN_PREFIX) {
        let (id, secret) = rest.split_once('.')?;
        let ok =
            |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        return (ok(id, 12) && ok(secret, 43)).then_some(Credential::Token { id, secret });
    }
    if bearer.starts_with(SESSION_PREFIX) {
        return (bearer.len() == SESSION_PREFIX.len() + 43).then_some(Credential::Session(bearer));
    }
    (bearer.split('.').count() == 3).then_some(Credential::Jwt(bearer))
}

/// A session token from random bytes.
pub fn session_token(random: &[u8; SECRET_BYTES]) -> String {
    format!("{SESSION_PREFIX}{}", URL_SAFE_NO_PAD.encode(random))
}

/// An API token's id and full bearer value from random bytes (`id_random` gives the id).
pub fn api_token(id_random: &[u8; 9], random: &[u8; SECRET_BYTES]) -> (String, String) {
    let id = URL_SAFE_NO_PAD.encode(id_random);
    let token = format!("{TOKEN_PREFIX}{id}.{}", URL_SAFE_NO_PAD.encode(random));
    (id, token)
}

/// What is stored for a secret: its SHA-256, hex.
pub fn digest(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_told_apart() {
        let s = session_token(&[3; 32]);
        assert_eq!(classify(&s), Some(Credential::Session(&s)));
        let (id, t) = api_token(&[1; 9], &[2; 32]);
        assert_eq!(id.len(), 12);
        match classify(&t) {
            Some(Credential::Token { id: got, secret }) => {
                assert_eq!(got, id);
                assert_eq!(secret.len(), 43);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(classify("a.b.c"), Some(Credential::Jwt("a.b.c")));
        assert_ne!(digest(&s), digest(&t));
        assert_eq!(digest("abc").len(), 64);
    }

    #[test]
    fn hostile_bearers_are_nothing() {
        for bad in [
            "",
            "   ",
            "lms_s_short",
            "lms_t_abc",
            "lms_t_abc.def",
            "lms_t_../etc/pas.swd",
            "Basic abc",
            "a.b",
            "a.b.c.d",
        ] {
            assert_eq!(classify(bad), None, "{bad:?}");
        }
        assert_eq!(classify(&"a.".repeat(10_000)), None);
    }
}
