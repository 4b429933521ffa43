//! The signature of a delivery: `X-Limes-Signature: sha256=<hex HMAC-SHA256(secret,
//! timestamp + "." + body)>`, with the timestamp (Unix seconds) in `X-Limes-Timestamp`.

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-limes-signature";
/// The header carrying the time of signing, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-limes-timestamp";
/// The header carrying the delivery's id: the alert's id, the same on every retry.
pub const DELIVERY_HEADER: &str = "x-limes-delivery";
/// The header naming what the body is (`alert`).
pub const EVENT_HEADER: &str = "x-limes-event";

/// How old a signed timestamp a receiver should accept, by default (and how far ahead).
pub const DEFAULT_TOLERANCE_S: i64 = 300;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Limes-Signature` value for a body sent at `timestamp`: `sha256=<64 hex digits>`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Why a receiver must refuse a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp header is missing or not an integer.
    #[error("the timestamp is not a number of seconds")]
    BadTimestamp,
    /// The timestamp is further from the receiver's clock than the tolerance: a replay, or
    /// clocks too far apart.
    #[error("the timestamp is {0} s away from now")]
    Stale(i64),
    /// The signature header is not `sha256=` and 64 hex digits.
    #[error("the signature is not sha256=<64 hex digits>")]
    BadSignature,
    /// The signature does not match: another secret, or the body or timestamp was changed.
    #[error("the signature does not match")]
    Mismatch,
}

/// What a receiver does with a delivery: checks that `timestamp` (the `X-Limes-Timestamp`
/// header) is within `tolerance_s` of `now` (Unix seconds), then that `signature` (the
/// `X-Limes-Signature` header) is the HMAC of exactly these body bytes, comparing in constant
/// time. A receiver also remembers the `X-Limes-Delivery` ids it accepted within the
/// tolerance, so a replay inside the window is a duplicate it ignores (deliveries are at least
/// once: the same alert may come twice anyway).
pub fn verify(
    secret: &[u8],
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance_s: i64,
) -> Result<(), VerifyError> {
    let t: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    let skew = now.saturating_sub(t);
    if skew.abs() > tolerance_s {
        return Err(VerifyError::Stale(skew));
    }
    let hex = signature.trim().strip_prefix("sha256=").ok_or(VerifyError::BadSignature)?;
    if hex.len() != 64 {
        return Err(VerifyError::BadSignature);
    }
    let tag = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| VerifyError::BadSignature)?;
    mac(secret, t, body).verify_slice(&tag).map_err(|_| VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_an_independent_hmac_and_verify() {
        // RFC 4231, test case 2 (key "Jefe"), with the message split as "<timestamp>.<body>".
        let rfc = sign(b"Jefe", 1234, b"what do ya want for nothing?");
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"1234.what do ya want for nothing?");
        let whole: String = m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(rfc, format!("sha256={whole}"));
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        let tag: String = m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(tag, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

        let (secret, body, t) = (b"0123456789abcdef0123", br#"{"id":7}"#, 1_800_000_000);
        let sig = sign(secret, t, body);
        assert_eq!(sig.len(), 71);
        assert_eq!(verify(secret, &t.to_string(), &sig, body, t + 10, 300), Ok(()));
        assert_eq!(verify(b"another secret", &t.to_string(), &sig, body, t, 300), Err(VerifyError::Mismatch));
        assert_eq!(verify(secret, &t.to_string(), &sig, br#"{"id":8}"#, t, 300), Err(VerifyError::Mismatch));
        assert_eq!(verify(secret, &(t + 1).to_string(), &sig, body, t, 300), Err(VerifyError::Mismatch));
        assert_eq!(verify(secret, &t.to_string(), &sig, body, t + 301, 300), Err(VerifyError::Stale(301)));
        assert_eq!(verify(secret, "soon", &sig, body, t, 300), Err(VerifyError::BadTimestamp));
        assert_eq!(verify(secret, &t.to_string(), &sig[7..], body, t, 300), Err(VerifyError::BadSignature));
        assert_eq!(verify(secret, &t.to_string(), "sha256=zz", body, t, 300), Err(VerifyError::BadSignature));
    }
}
