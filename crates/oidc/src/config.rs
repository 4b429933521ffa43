//! One identity provider as the node's configuration names it (`[[auth.oidc]]`).

use std::fmt;

use serde::Deserialize;
use url::{Host, Url};

use crate::OidcError;

/// The largest clock skew a configuration may allow, in seconds.
pub const MAX_LEEWAY_SECONDS: u64 = 300;

/// One agency identity provider the node trusts.
///
/// Deserialised from one `[[auth.oidc]]` table; unknown keys are refused. `client_secret` is kept
/// out of `Debug`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The name the node uses for this provider in logs, audit records and URLs, e.g.
    /// `ro-igpf-keycloak`.
    pub name: String,
    /// The issuer identifier, exactly as the provider writes it in its tokens; its metadata is at
    /// `{issuer}/.well-known/openid-configuration`. `https`, or `http` on a loopback address only.
    pub issuer: String,
    /// The node's client identifier at this provider.
    pub client_id: String,
    /// The node's client secret, for the token endpoint of the browser login. Without it the node
    /// is a public client (PKCE only).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The `aud` that bearer access tokens for this node carry; `client_id` when absent. Set it to
    /// the node's resource or API identifier where the provider has one: with `client_id` as the
    /// audience, a provider that marks neither token type cannot be told to keep ID tokens apart
    /// from access tokens.
    #[serde(default)]
    pub audience: Option<String>,
    /// Where the provider sends the browser back after the login (the node's callback route).
    /// Without it the node accepts bearer tokens only.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// The scopes the browser login asks for; `openid` must be among them.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The clock skew allowed when checking `exp`, `nbf` and `iat`, in seconds (at most 300).
    #[serde(default = "default_leeway_seconds")]
    pub leeway_seconds: u64,
}

fn default_scopes() -> Vec<String> {
    vec!["openid".to_owned(), "profile".to_owned()]
}

fn default_leeway_seconds() -> u64 {
    60
}

impl OidcConfig {
    /// A configuration with the defaults for everything but the three names.
    pub fn new(name: impl Into<String>, issuer: impl Into<String>, client_id: impl Into<String>) -> OidcConfig {
        OidcConfig {
            name: name.into(),
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            audience: None,
            redirect_url: None,
            scopes: default_scopes(),
            leeway_seconds: default_leeway_seconds(),
        }
    }

    /// The audience bearer access tokens must carry.
    pub fn expected_audience(&self) -> &str {
        self.audience.as_deref().unwrap_or(&self.client_id)
    }

    /// Checks what can be checked without asking the provider. [`Provider::discover`] calls it.
    ///
    /// [`Provider::discover`]: crate::Provider::discover
    pub fn check(&self) -> Result<(), OidcError> {
        let bad = |what: String| Err(OidcError::Config(format!("{}: {what}", self.name)));
        if self.name.trim().is_empty() {
            return Err(OidcError::Config("a provider without a name".to_owned()));
        }
        if self.client_id.is_empty() {
            return bad("client_id is empty".to_owned());
        }
        if self.audience.as_deref().is_some_and(str::is_empty) {
            return bad("audience is empty".to_owned());
        }
        if self.client_secret.as_deref().is_some_and(str::is_empty) {
            return bad("client_secret is empty".to_owned());
        }
        let issuer = match Url::parse(&self.issuer) {
            Ok(issuer) => issuer,
            Err(error) => return bad(format!("issuer {:?} is not a URL: {error}", self.issuer)),
        };
        if let Err(reason) = secure_url(&issuer) {
            return bad(format!("issuer {:?} {reason}", self.issuer));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return bad(format!("issuer {:?} has a query or fragment", self.issuer));
        }
        if let Some(redirect) = &self.redirect_url {
            match Url::parse(redirect) {
                Ok(url) if url.fragment().is_none() && !url.cannot_be_a_base() => {}
                _ => return bad(format!("redirect_url {redirect:?} is not an absolute URL")),
            }
        }
        if !self.scopes.iter().any(|scope| scope == "openid") {
            return bad("scopes lack \"openid\"".to_owned());
        }
        if let Some(scope) =
            self.scopes.iter().find(|scope| scope.is_empty() || scope.contains(|c: char| c.is_whitespace()))
        {
            return bad(format!("scope {scope:?} is empty or holds a space"));
        }
        if self.leeway_seconds > MAX_LEEWAY_SECONDS {
            return bad(format!("leeway_seconds {} is above {MAX_LEEWAY_SECONDS}", self.leeway_seconds));
        }
        Ok(())
    }
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("audience", &self.audience)
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .field("leeway_seconds", &self.leeway_seconds)
            .finish()
    }
}

/// `https`, or `http` to a loopback address (a provider run on the node's own host or by a test).
pub(crate) fn secure_url(url: &Url) -> Result<(), &'static str> {
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host() {
            Some(Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            Some(Host::Domain("localhost")) => Ok(()),
            _ => Err("uses http to a host that is not loopback"),
        },
        _ => Err("is neither https nor http"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: &OidcConfig, expected: Result<(), &str>) {
        let got = config.check().map_err(|error| error.to_string());
        match (got, expected) {
            (Ok(()), Ok(())) => {}
            (Err(got), Err(part)) => assert!(got.contains(part), "{got:?} lacks {part:?}"),
            (got, expected) => panic!("{config:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn toml_with_defaults_and_unknown_keys() {
        let config: OidcConfig = toml_like(
            r#"{"name": "ro-igpf", "issuer": "https://id.igpf.example/realms/limes", "client_id": "node-1"}"#,
        )
        .unwrap();
        assert_eq!(config.scopes, ["openid", "profile"]);
        assert_eq!(config.leeway_seconds, 60);
        assert_eq!(config.expected_audience(), "node-1");
        check(&config, Ok(()));
        assert!(
            toml_like::<OidcConfig>(r#"{"name": "a", "issuer": "https://a", "client_id": "b", "audiance": "x"}"#)
                .is_err()
        );
    }

    fn toml_like<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn what_check_refuses() {
        let good = OidcConfig::new("p", "https://id.example", "node");
        check(&good, Ok(()));
        let with = |f: &dyn Fn(&mut OidcConfig)| {
            let mut config = good.clone();
            f(&mut config);
            config
        };
        check(&with(&|c| c.issuer = "http://id.example".into()), Err("not loopback"));
        check(&with(&|c| c.issuer = "http://10.0.0.1:8080".into()), Err("not loopback"));
        check(&with(&|c| c.issuer = "http://127.0.0.1:8080".into()), Ok(()));
        check(&with(&|c| c.issuer = "http://[::1]:8080".into()), Ok(()));
        check(&with(&|c| c.issuer = "ftp://id.example".into()), Err("neither"));
        check(&with(&|c| c.issuer = "id.example".into()), Err("not a URL"));
        check(&with(&|c| c.issuer = "https://id.example/?a=b".into()), Err("query"));
        check(&with(&|c| c.client_id = String::new()), Err("client_id"));
        check(&with(&|c| c.name = " ".into()), Err("without a name"));
        check(&with(&|c| c.audience = Some(String::new())), Err("audience"));
        check(&with(&|c| c.client_secret = Some(String::new())), Err("secret"));
        check(&with(&|c| c.scopes = vec!["profile".into()]), Err("openid"));
        check(&with(&|c| c.scopes.push("a b".into())), Err("space"));
        check(&with(&|c| c.leeway_seconds = 301), Err("leeway"));
        check(&with(&|c| c.redirect_url = Some("/callback".into())), Err("redirect_url"));
        check(&with(&|c| c.redirect_url = Some("https://node.example/auth/oidc/callback".into())), Ok(()));
    }

    #[test]
    fn debug_hides_the_secret() {
        let mut config = OidcConfig::new("p", "https://id.example", "node");
        config.client_secret = Some("hunter2".into());
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
