//! A second factor: time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30 s
//! steps, one step of clock skew), as every authenticator app speaks them, by the `totp-rs`
//! crate. A code is accepted once: the caller keeps the last step used and passes it back.

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Why a code is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// Not the code for this time (or not six digits).
    #[error("wrong one-time code")]
    Wrong,
    /// The code's step was already used: a replay.
    #[error("one-time code already used")]
    Replayed,
    /// The stored secret is not base32 of 20 bytes or more.
    #[error("stored TOTP secret is malformed")]
    Malformed,
}

fn totp(secret_base32: &str, account: &str) -> Result<Totp, TotpError> {
    let secret = Secret::try_from_base32(secret_base32).map_err(|_| TotpError::Malformed)?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some("limes"))
        .with_account_name(account.replace(':', "_"))
        .build()
        .map_err(|_| TotpError::Malformed)
}

/// A new secret, base32, from 20 random bytes (RFC 4226's recommended 160 bits).
pub fn new_secret(random: &[u8; 20]) -> String {
    Secret::new(random.to_vec().into_boxed_slice()).to_base32()
}

/// The `otpauth://` address an authenticator app scans.
pub fn provisioning_url(secret_base32: &str, account: &str) -> Result<String, TotpError> {
    totp(secret_base32, account)?.to_url().map_err(|_| TotpError::Malformed)
}

/// The code for `unix_time` (tests and the CLI's enrolment check).
pub fn code_at(secret_base32: &str, unix_time: u64) -> Result<String, TotpError> {
    Ok(totp(secret_base32, "x")?.generate(unix_time).to_string())
}

/// Checks `code` at `unix_time`; returns the step it belongs to, which the caller stores so
/// that the same code (or an older one) is refused next time.
pub fn check(secret_base32: &str, code: &str, unix_time: u64, last_step: Option<u64>) -> Result<u64, TotpError> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Wrong);
    }
    let step = totp(secret_base32, "x")?.check(code, unix_time).ok_or(TotpError::Wrong)?;
    if last_step.is_some_and(|last| step <= last) {
        return Err(TotpError::Replayed);
    }
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vector_and_replay() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s: 94287082 (8
        // digits); its last six are the 6-digit code.
        let secret = new_secret(b"12345678901234567890");
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        let step = check(&secret, "287082", 59, None).unwrap();
        assert_eq!(step, 1);
        // One step of skew either way.
        assert_eq!(check(&secret, "287082", 80, None), Ok(1));
        assert_eq!(check(&secret, "287082", 59, Some(step)), Err(TotpError::Replayed));
        assert_eq!(check(&secret, "287082", 1_000_000, None), Err(TotpError::Wrong));
        let url = provisioning_url(&secret, "ana@ro-igpf").unwrap();
        assert!(url.starts_with("otpauth://totp/limes:ana%40ro-igpf?"), "{url}");
    }

    #[test]
    fn hostile_codes_and_secrets() {
        let secret = new_secret(&[9; 20]);
        for bad in ["", "12345", "1234567", "12 456", "abcdef", "٣٣٣٣٣٣"] {
            assert_eq!(check(&secret, bad, 59, None), Err(TotpError::Wrong), "{bad:?}");
        }
        assert_eq!(check("not base32!", "123456", 59, None), Err(TotpError::Malformed));
        assert_eq!(check("AAAA", "123456", 59, None), Err(TotpError::Malformed), "too short a secret");
    }
}
