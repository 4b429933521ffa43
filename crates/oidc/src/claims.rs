//! What a validated token says about its holder.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The claims of a validated access or ID token.
///
/// `issuer`, `subject` and `expires_at` are always there; the three profile claims when the token
/// carries them as strings. Every other claim stays in `other` as the provider wrote it (`aud`,
/// `iat`, `scope`, `client_id`, and what the agency adds: `roles`, `agency`, `clearance`…).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// `iss`: the provider's issuer identifier.
    pub issuer: String,
    /// `sub`: the holder, unique within the issuer (for client credentials: the client).
    pub subject: String,
    /// `exp`, unix seconds.
    pub expires_at: i64,
    /// `preferred_username`.
    pub preferred_username: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// Every other claim.
    pub other: Map<String, Value>,
}

impl Claims {
    /// A claim of `other` that is a string.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.other.get(name).and_then(Value::as_str)
    }

    /// A claim of `other` as a list of strings: an array's string items, a string's
    /// space-separated words (as `scope` is written), nothing otherwise.
    pub fn strings(&self, name: &str) -> Vec<&str> {
        match self.other.get(name) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(words)) => words.split_whitespace().collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_of_arrays_and_scopes() {
        let other = serde_json::json!({
            "roles": ["analyst", 3, "operator"],
            "scope": "read  write",
            "agency": "ro-igpf",
            "clearance": {"level": 2},
        });
        let claims = Claims {
            issuer: "https://id.example".into(),
            subject: "alice".into(),
            expires_at: 0,
            preferred_username: None,
            name: None,
            email: None,
            other: other.as_object().cloned().unwrap_or_default(),
        };
        assert_eq!(claims.strings("roles"), ["analyst", "operator"]);
        assert_eq!(claims.strings("scope"), ["read", "write"]);
        assert_eq!(claims.strings("clearance"), Vec::<&str>::new());
        assert_eq!(claims.string("agency"), Some("ro-igpf"));
        assert_eq!(claims.string("roles"), None);
        assert_eq!(claims.string("missing"), None);
    }
}
