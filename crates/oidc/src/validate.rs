//! Token validation: a pure function of the key set, what is expected, the time and the token.
//!
//! The order is fixed: shape, header, key, signature, and only then the claims, so nothing in an
//! unauthenticated payload is read or reported. Keys come only from the provider's key set:
//! `jwk`, `jku`, `x5u` and `x5c` in a header are never followed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::jwks::{Jwks, KeyKind};
use crate::{Claims, OidcError};

/// The longest token looked at, in bytes.
pub const MAX_TOKEN_BYTES: usize = 32 * 1024;

/// What a token must be to be accepted.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// The provider's issuer identifier; the token's `iss` must equal it.
    pub issuer: &'a str,
    /// The audience the token's `aud` must hold: the node's for an access token, the client id
    /// for an ID token.
    pub audience: &'a str,
    /// The clock skew allowed for `exp`, `nbf` and `iat`, in seconds.
    pub leeway_seconds: u64,
    /// An access token or an ID token.
    pub kind: TokenKind<'a>,
}

/// The two kinds of token a node validates.
#[derive(Clone, Copy, Debug)]
pub enum TokenKind<'a> {
    /// An OAuth access token a caller presents as `Authorization: Bearer` (RFC 9068 profile:
    /// header `typ` absent, `JWT` or `at+jwt`).
    Access,
    /// The ID token of a browser login: `nonce` must be the login's, `iat` present, and `azp`, if
    /// present, the client (`audience`).
    Id {
        /// The nonce the login sent in its authorization request.
        nonce: &'a str,
    },
}

/// The signature algorithms accepted: asymmetric ones only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
    /// RFC 9864's fully specified name for EdDSA over Ed25519.
    Ed25519,
}

impl Alg {
    pub(crate) fn parse(name: &str) -> Option<Alg> {
        Some(match name {
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "PS256" => Alg::Ps256,
            "PS384" => Alg::Ps384,
            "PS512" => Alg::Ps512,
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "EdDSA" => Alg::EdDsa,
            "Ed25519" => Alg::Ed25519,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::EdDsa => "EdDSA",
            Alg::Ed25519 => "Ed25519",
        }
    }

    pub(crate) fn key_kind(self) -> KeyKind {
        match self {
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => KeyKind::Rsa,
            Alg::Es256 => KeyKind::P256,
            Alg::Es384 => KeyKind::P384,
            Alg::EdDsa | Alg::Ed25519 => KeyKind::Ed25519,
        }
    }

    fn verifier(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as A;
        match self {
            Alg::Rs256 => A::RS256,
            Alg::Rs384 => A::RS384,
            Alg::Rs512 => A::RS512,
            Alg::Ps256 => A::PS256,
            Alg::Ps384 => A::PS384,
            Alg::Ps512 => A::PS512,
            Alg::Es256 => A::ES256,
            Alg::Es384 => A::ES384,
            Alg::EdDsa | Alg::Ed25519 => A::EdDSA,
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    /// Extensions the token says must be understood: none are, so any refuses the token.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// Validates a compact JWS token against the provider's keys at time `now` (unix seconds) and
/// returns its claims.
///
/// No I/O and no clock: [`Provider`](crate::Provider) calls it with the keys it fetched and the
/// time it read.
pub fn validate_token(keys: &Jwks, expected: &Expected<'_>, now: i64, token: &str) -> Result<Claims, OidcError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(OidcError::Malformed("token: longer than 32 KiB"));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OidcError::Malformed("token: not three parts separated by dots"));
    };
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(OidcError::Malformed("token: an empty part"));
    }
    let header =
        URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| OidcError::Malformed("token: header is not base64url"))?;
    let header: Header =
        serde_json::from_slice(&header).map_err(|_| OidcError::Malformed("token: header is not a JOSE header"))?;
    let Some(alg) = Alg::parse(&header.alg) else {
        return Err(OidcError::DisallowedAlgorithm(shorten(&header.alg)));
    };
    if header.crit.is_some() {
        return Err(OidcError::Malformed("token: header has critical extensions"));
    }
    check_header_type(header.typ.as_deref(), expected.kind)?;
    if signature_b64.is_empty() {
        return Err(OidcError::BadSignature);
    }
    let signature =
        URL_SAFE_NO_PAD.decode(signature_b64).map_err(|_| OidcError::Malformed("token: signature is not base64url"))?;
    let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    let candidates = keys.candidates(header.kid.as_deref(), alg)?;
    let verified = candidates.iter().any(|key| {
        (DEFAULT_PROVIDER.verifier_factory)(&alg.verifier(), &key.decoding)
            .is_ok_and(|verifier| verifier.verify(signed, &signature).is_ok())
    });
    if !verified {
        return Err(OidcError::BadSignature);
    }

    // Authenticated from here on.
    let payload =
        URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| OidcError::Malformed("token: payload is not base64url"))?;
    let mut claims: Map<String, Value> =
        serde_json::from_slice(&payload).map_err(|_| OidcError::Malformed("token: payload is not a JSON object"))?;
    check_claims(&claims, expected, now)?;
    Ok(into_claims(&mut claims))
}

fn check_header_type(typ: Option<&str>, kind: TokenKind<'_>) -> Result<(), OidcError> {
    let Some(typ) = typ else { return Ok(()) };
    let typ_lower = typ.to_ascii_lowercase();
    let accepted = match kind {
        TokenKind::Access => matches!(typ_lower.as_str(), "jwt" | "at+jwt" | "application/at+jwt"),
        TokenKind::Id { .. } => typ_lower == "jwt",
    };
    if accepted { Ok(()) } else { Err(OidcError::WrongTokenType(format!("header typ {:?}", shorten(typ)))) }
}

fn check_claims(claims: &Map<String, Value>, expected: &Expected<'_>, now: i64) -> Result<(), OidcError> {
    let leeway = i64::try_from(expected.leeway_seconds).unwrap_or(i64::MAX);

    match claims.get("iss") {
        None => return Err(OidcError::MissingClaim("iss")),
        Some(Value::String(iss)) if iss == expected.issuer => {}
        Some(Value::String(iss)) => {
            return Err(OidcError::WrongIssuer { expected: expected.issuer.to_owned(), found: shorten(iss) });
        }
        Some(_) => return Err(OidcError::InvalidClaim("iss")),
    }

    let audiences = audiences(claims)?;
    if !audiences.contains(&expected.audience) {
        return Err(OidcError::WrongAudience);
    }

    match claims.get("sub") {
        None => return Err(OidcError::MissingClaim("sub")),
        Some(Value::String(sub)) if !sub.is_empty() && sub.len() <= 255 => {}
        Some(_) => return Err(OidcError::InvalidClaim("sub")),
    }

    let Some(expires_at) = numeric_date(claims, "exp")? else {
        return Err(OidcError::MissingClaim("exp"));
    };
    if now >= expires_at.saturating_add(leeway) {
        return Err(OidcError::Expired { expired_at: expires_at, now });
    }
    if let Some(not_before) = numeric_date(claims, "nbf")?
        && now.saturating_add(leeway) < not_before
    {
        return Err(OidcError::NotYetValid);
    }
    let issued_at = numeric_date(claims, "iat")?;
    if issued_at.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(OidcError::NotYetValid);
    }

    // Keycloak marks its tokens in a `typ` claim.
    let keycloak_type = claims.get("typ").and_then(Value::as_str);
    match expected.kind {
        TokenKind::Access => {
            if let Some(typ) = keycloak_type
                && ["id", "refresh", "offline", "logout"].contains(&typ.to_ascii_lowercase().as_str())
            {
                return Err(OidcError::WrongTokenType(format!("typ claim {:?}", shorten(typ))));
            }
        }
        TokenKind::Id { nonce } => {
            if let Some(typ) = keycloak_type
                && !typ.eq_ignore_ascii_case("id")
            {
                return Err(OidcError::WrongTokenType(format!("typ claim {:?}", shorten(typ))));
            }
            if issued_at.is_none() {
                return Err(OidcError::MissingClaim("iat"));
            }
            match claims.get("azp") {
                None if audiences.len() > 1 => return Err(OidcError::MissingClaim("azp")),
                None => {}
                Some(Value::String(azp)) if azp == expected.audience => {}
                Some(Value::String(_)) => return Err(OidcError::WrongAudience),
                Some(_) => return Err(OidcError::InvalidClaim("azp")),
            }
            match claims.get("nonce") {
                Some(Value::String(found)) if constant_time_eq(found, nonce) => {}
                _ => return Err(OidcError::NonceMismatch),
            }
        }
    }
    Ok(())
}

/// `aud`: one string or a non-empty array of strings.
fn audiences(claims: &Map<String, Value>) -> Result<Vec<&str>, OidcError> {
    match claims.get("aud") {
        None => Err(OidcError::MissingClaim("aud")),
        Some(Value::String(aud)) => Ok(vec![aud.as_str()]),
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().map(|item| item.as_str().ok_or(OidcError::InvalidClaim("aud"))).collect()
        }
        Some(_) => Err(OidcError::InvalidClaim("aud")),
    }
}

/// A NumericDate (RFC 7519): seconds since the epoch, maybe with a fraction (dropped).
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(number)) => {
            if let Some(seconds) = number.as_i64() {
                return Ok(Some(seconds));
            }
            match number.as_f64() {
                Some(seconds) if seconds.is_finite() && seconds.abs() < 1e15 => {
                    // In range, so the cast is exact after flooring.
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(Some(seconds.floor() as i64))
                }
                _ => Err(OidcError::InvalidClaim(name)),
            }
        }
        Some(_) => Err(OidcError::InvalidClaim(name)),
    }
}

/// Moves the claims with fields of their own out of the map; the rest stays in `other`.
fn into_claims(claims: &mut Map<String, Value>) -> Claims {
    let mut string = |name: &str| match claims.get(name) {
        Some(Value::String(_)) => match claims.remove(name) {
            Some(Value::String(value)) => Some(value),
            _ => None,
        },
        _ => None,
    };
    // check_claims made sure of these three.
    let issuer = string("iss").unwrap_or_default();
    let subject = string("sub").unwrap_or_default();
    let preferred_username = string("preferred_username");
    let name = string("name");
    let email = string("email");
    let expires_at = numeric_date(claims, "exp").ok().flatten().unwrap_or_default();
    claims.remove("exp");
    Claims { issuer, subject, expires_at, preferred_username, name, email, other: std::mem::take(claims) }
}

pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// An untrusted string as an error message may show it: at most 64 characters.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
