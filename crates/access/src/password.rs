//! Local account passwords: argon2id (RFC 9106) in PHC string form, with the parameters
//! OWASP recommends for it (19 MiB, 2 passes, 1 lane: the `argon2` crate's defaults).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Fewest characters a new password may have.
pub const MIN_CHARS: usize = 12;
/// Most bytes a password may have (hashing cost grows with length).
pub const MAX_BYTES: usize = 1024;

/// Why a password cannot be set or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short, too long, or the same as the account name.
    #[error("a password needs {MIN_CHARS} to {MAX_BYTES} bytes and must differ from the account name")]
    Weak,
    /// The stored hash is not an argon2 PHC string (the accounts table was edited).
    #[error("stored password hash is malformed: {0}")]
    Malformed(String),
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Checks a new password for `account` and hashes it with `salt` (16 random bytes from the
/// caller: this crate does no I/O).
pub fn hash(account: &str, password: &str, salt: &[u8; 16]) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_CHARS || password.len() > MAX_BYTES || password.eq_ignore_ascii_case(account) {
        return Err(PasswordError::Weak);
    }
    hasher()
        .hash_password_with_salt(password.as_bytes(), salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Malformed(e.to_string()))
}

/// Whether `password` matches the stored `phc` hash, in constant time for a given hash.
pub fn verify(password: &str, phc: &str) -> Result<bool, PasswordError> {
    if password.len() > MAX_BYTES {
        return Ok(false);
    }
    match hasher().verify_password(password.as_bytes(), phc) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(PasswordError::Malformed(e.to_string())),
    }
}

/// A hash no password matches, checked when an account does not exist so that a login for
/// an unknown name costs as long as one for a known name.
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("", "decoy password never used", &[7; 16]).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let h = hash("ana", "correct horse battery", &[1; 16]).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h).unwrap());
        assert!(!verify("correct horse batterY", &h).unwrap());
        assert!(!verify("", &h).unwrap());
        assert_ne!(h, hash("ana", "correct horse battery", &[2; 16]).unwrap());
        assert!(!verify("decoy password never used!", decoy()).unwrap());
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert_eq!(hash("ana", "short", &[1; 16]), Err(PasswordError::Weak));
        assert_eq!(hash("anastasia-pop", "Anastasia-Pop", &[1; 16]), Err(PasswordError::Weak));
        assert_eq!(hash("ana", &"x".repeat(MAX_BYTES + 1), &[1; 16]), Err(PasswordError::Weak));
    }

    #[test]
    fn hostile_stored_hashes_are_errors_not_matches() {
        for bad in
            ["", "$", "plaintext", "$argon2id$v=19$m=1,t=1,p=1$", "$argon2id$v=19$m=999999999999,t=2,p=1$c2FsdA$aGFzaA"]
        {
            assert!(!matches!(verify("anything at all", bad), Ok(true)), "{bad}");
        }
        // An over-long password is never hashed.
        assert_eq!(verify(&"x".repeat(MAX_BYTES + 1), decoy()), Ok(false));
    }
}
