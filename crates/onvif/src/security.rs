//! WS-Security UsernameToken with PasswordDigest, as ONVIF Core requires of every device:
//! `Base64(SHA-1(nonce + created + password))`, the nonce sent Base64-encoded beside the
//! creation time. The password itself never travels. The nonce and the time come in from the
//! caller (no clock or randomness here).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use sha1::{Digest, Sha1};

use crate::xml::escape;

/// `wsse:`, WS-Security's namespace.
pub const WSSE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// `wsu:`, WS-Security's utility namespace (`Created`).
pub const WSU: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// The `Type` of a digested password.
pub const PASSWORD_DIGEST: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
/// The `EncodingType` of the nonce.
pub const BASE64_BINARY: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// `Base64(SHA-1(nonce + created + password))`.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(nonce);
    sha.update(created.as_bytes());
    sha.update(password.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// The `wsse:Security` header for one request.
pub fn security_header(username: &str, password: &str, nonce: &[u8], created: DateTime<Utc>) -> String {
    let created = created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let digest = password_digest(nonce, &created, password);
    format!(
        r#"<wsse:Security s:mustUnderstand="1" xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken><wsse:Username>{}</wsse:Username><wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password><wsse:Nonce EncodingType="{BASE64_BINARY}">{}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"#,
        escape(username),
        STANDARD.encode(nonce),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, xml};

    #[test]
    fn digest_matches_the_username_token_profile() {
        // Computed independently of this function (Python's hashlib and base64): SHA-1 over
        // the 16 nonce bytes 0..16, "2024-03-01T10:00:00.000Z" and "secret", then Base64.
        let nonce: Vec<u8> = (0..16).collect();
        assert_eq!(password_digest(&nonce, "2024-03-01T10:00:00.000Z", "secret"), "ITh2at+KhMfIdTnJ+tFIphZIjU4=");
    }

    #[test]
    fn header_carries_user_nonce_and_time() {
        let created = DateTime::parse_from_rfc3339("2024-03-01T10:00:00Z").unwrap().with_timezone(&Utc);
        let header = security_header("a<b", "pw", b"0123456789abcdef", created);
        let doc = format!(r#"<s:E xmlns:s="{}">{header}</s:E>"#, crate::soap::SOAP12);
        let root = xml::parse(doc.as_bytes(), &Limits::default()).unwrap();
        let token = root.at(&["Security", "UsernameToken"]).unwrap();
        assert!(token.is(WSSE, "UsernameToken"));
        assert_eq!(token.text_at(&["Username"]), Some("a<b"));
        assert_eq!(token.text_at(&["Created"]), Some("2024-03-01T10:00:00.000Z"));
        assert_eq!(token.child("Password").unwrap().attr("Type"), Some(PASSWORD_DIGEST));
        let nonce = STANDARD.decode(token.text_at(&["Nonce"]).unwrap()).unwrap();
        assert_eq!(nonce, b"0123456789abcdef");
        let expected = password_digest(&nonce, "2024-03-01T10:00:00.000Z", "pw");
        assert_eq!(token.text_at(&["Password"]), Some(expected.as_str()));
    }
}
