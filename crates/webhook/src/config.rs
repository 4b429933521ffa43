//! A webhook's configuration: one `[[webhooks]]` entry of the node's TOML.

use std::path::{Path, PathBuf};
use std::time::Duration;

use limes_model::MatchKind;
use limes_store::Alert;
use serde::{Deserialize, Serialize};

/// One `[[webhooks]]` entry.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the webhook's position in the alerts (its cursor): keep it when editing the
    /// entry, or delivery starts afresh from the newest alert.
    pub name: String,
    /// Where alerts are POSTed (`http` or `https`).
    pub url: String,
    /// The HMAC key, as text. Give this or `secret_file`.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
    /// A file holding the HMAC key (one trailing newline is dropped); a relative path is
    /// relative to the configuration file (see [`WebhookConfig::resolve_paths`]).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Only alerts of this priority or a more urgent one (1 is the most urgent, 5 the least).
    #[serde(default)]
    pub min_priority: Option<u8>,
    /// Only alerts of these kinds (`confirmed`, `possible`).
    #[serde(default)]
    pub kinds: Option<Vec<MatchKind>>,
    /// The longest one attempt may take, from connecting to the receiver's answer.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The pause after the first failed attempt; it doubles after each further failure...
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// ... up to this. Each pause is drawn between half of it and all of it (jitter).
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_retry_initial_ms() -> u64 {
    1_000
}

fn default_retry_max_ms() -> u64 {
    300_000
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &"<redacted>")
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("secret_file", &self.secret_file)
            .field("min_priority", &self.min_priority)
            .field("kinds", &self.kinds)
            .field("timeout_ms", &self.timeout_ms)
            .field("retry_initial_ms", &self.retry_initial_ms)
            .field("retry_max_ms", &self.retry_max_ms)
            .finish()
    }
}

/// Why a webhook's configuration was refused; every message names the webhook.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The name is empty or has characters other than letters, digits, `-`, `_`, `.`.
    #[error("webhook name {0:?} must be 1 to 64 letters, digits, '-', '_' or '.'")]
    BadName(String),
    /// Two entries have the same name (they would share one cursor).
    #[error("webhook {0:?} is configured twice")]
    DuplicateName(String),
    /// The URL does not parse, or is not http(s) with a host.
    #[error("webhook {name:?}: url is not an http or https URL: {detail}")]
    BadUrl { name: String, detail: String },
    /// Neither or both of `secret` and `secret_file`.
    #[error("webhook {0:?}: give exactly one of secret and secret_file")]
    SecretChoice(String),
    /// The secret file cannot be read.
    #[error("webhook {name:?}: secret_file {path}: {source}")]
    SecretFile { name: String, path: PathBuf, source: std::io::Error },
    /// The secret is shorter than [`MIN_SECRET_BYTES`].
    #[error("webhook {name:?}: the secret is {len} bytes; use at least {MIN_SECRET_BYTES} random bytes")]
    ShortSecret { name: String, len: usize },
    /// `min_priority` outside 1..=5.
    #[error("webhook {name:?}: min_priority {value} is not 1 (most urgent) to 5")]
    BadPriority { name: String, value: u8 },
    /// An empty `kinds` list would deliver nothing.
    #[error("webhook {0:?}: kinds is empty; leave it out to deliver every kind")]
    NoKinds(String),
    /// A zero timeout or pause, or a maximum pause below the first.
    #[error("webhook {name:?}: {detail}")]
    BadTiming { name: String, detail: String },
}

/// The shortest secret accepted: HMAC-SHA256 keys should carry at least 128 bits.
pub const MIN_SECRET_BYTES: usize = 16;

/// A webhook ready to run: the configuration checked, the secret read.
#[derive(Clone)]
pub(crate) struct Webhook {
    pub(crate) name: String,
    pub(crate) url: reqwest::Url,
    pub(crate) secret: Vec<u8>,
    pub(crate) min_priority: Option<u8>,
    pub(crate) kinds: Option<Vec<MatchKind>>,
    pub(crate) timeout: Duration,
    pub(crate) retry_initial: Duration,
    pub(crate) retry_max: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Webhook {
    /// Whether the webhook's filter lets this alert through.
    pub(crate) fn wants(&self, alert: &Alert) -> bool {
        self.min_priority.is_none_or(|p| alert.priority <= p)
            && self.kinds.as_ref().is_none_or(|k| k.contains(&alert.kind))
    }
}

impl WebhookConfig {
    /// Makes a relative `secret_file` relative to `base` (the configuration file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(path) = &self.secret_file
            && path.is_relative()
        {
            self.secret_file = Some(base.join(path));
        }
    }

    /// Checks the entry and reads its secret.
    pub(crate) fn build(&self) -> Result<Webhook, ConfigError> {
        let name = self.name.clone();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(ConfigError::BadName(name));
        }
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| ConfigError::BadUrl { name: name.clone(), detail: e.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::BadUrl { name, detail: format!("scheme {:?} without a host", url.scheme()) });
        }
        let secret = match (&self.secret, &self.secret_file) {
            (Some(s), None) => s.as_bytes().to_vec(),
            (None, Some(path)) => {
                let mut bytes = std::fs::read(path).map_err(|source| ConfigError::SecretFile {
                    name: name.clone(),
                    path: path.clone(),
                    source,
                })?;
                if bytes.ends_with(b"\n") {
                    bytes.pop();
                    if bytes.ends_with(b"\r") {
                        bytes.pop();
                    }
                }
                bytes
            }
            _ => return Err(ConfigError::SecretChoice(name)),
        };
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::ShortSecret { name, len: secret.len() });
        }
        if let Some(p) = self.min_priority
            && !(1..=5).contains(&p)
        {
            return Err(ConfigError::BadPriority { name, value: p });
        }
        if self.kinds.as_ref().is_some_and(Vec::is_empty) {
            return Err(ConfigError::NoKinds(name));
        }
        let timing = |detail: &str| ConfigError::BadTiming { name: name.clone(), detail: detail.to_owned() };
        if self.timeout_ms == 0 || self.retry_initial_ms == 0 {
            return Err(timing("timeout_ms and retry_initial_ms must be above 0"));
        }
        if self.retry_max_ms < self.retry_initial_ms {
            return Err(timing("retry_max_ms must be at least retry_initial_ms"));
        }
        Ok(Webhook {
            url,
            secret,
            min_priority: self.min_priority,
            kinds: self.kinds.clone(),
            timeout: Duration::from_millis(self.timeout_ms),
            retry_initial: Duration::from_millis(self.retry_initial_ms),
            retry_max: Duration::from_millis(self.retry_max_ms),
            name,
        })
    }
}

/// Checks every entry (and that names are unique), reading their secrets.
pub fn check(configs: &[WebhookConfig]) -> Result<(), ConfigError> {
    let mut names = std::collections::HashSet::new();
    for c in configs {
        c.build()?;
        if !names.insert(c.name.as_str()) {
            return Err(ConfigError::DuplicateName(c.name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use limes_model::{AgencyId, CameraId, HotlistReason};

    use super::*;

    /// One `[[webhooks]]` entry, parsed as the node's configuration file would be.
    fn config(entry: &str) -> WebhookConfig {
        #[derive(Deserialize)]
        struct File {
            webhooks: Vec<WebhookConfig>,
        }
        let file: File = toml::from_str(&format!("[[webhooks]]\n{entry}")).unwrap();
        file.webhooks.into_iter().next().unwrap()
    }

    const GOOD: &str = r#"
        name = "dispatch"
        url = "https://dispatch.example/limes"
        secret = "0123456789abcdef"
    "#;

    #[test]
    fn a_minimal_entry_gets_the_defaults_and_never_shows_its_secret() {
        let w = config(GOOD).build().unwrap();
        assert_eq!(
            (w.timeout, w.retry_initial, w.retry_max),
            (Duration::from_secs(10), Duration::from_secs(1), Duration::from_secs(300))
        );
        assert_eq!(w.secret, b"0123456789abcdef");
        let shown = format!("{:?} {w:?}", config(GOOD));
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }

    #[test]
    fn bad_entries_are_refused_naming_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = format!("{:?}", dir.path().join("missing.secret").display().to_string());
        for (entry, needle) in [
            (GOOD.replace("\"dispatch\"", "\"\""), "name"),
            (GOOD.replace("\"dispatch\"", "\"dis patch\""), "name"),
            (GOOD.replace("https://dispatch.example/limes", "ftp://dispatch.example/"), "url"),
            (GOOD.replace("https://dispatch.example/limes", "not a url"), "url"),
            (GOOD.replace("\"0123456789abcdef\"", "\"short\""), "at least 16"),
            (GOOD.replace("secret = \"0123456789abcdef\"", ""), "exactly one of secret and secret_file"),
            (format!("{GOOD}\nsecret_file = {missing}"), "exactly one"),
            (GOOD.replace("secret = \"0123456789abcdef\"", &format!("secret_file = {missing}")), "missing.secret"),
            (format!("{GOOD}\nmin_priority = 6"), "min_priority 6"),
            (format!("{GOOD}\nkinds = []"), "kinds is empty"),
            (format!("{GOOD}\ntimeout_ms = 0"), "timeout_ms"),
            (format!("{GOOD}\nretry_initial_ms = 5000\nretry_max_ms = 10"), "retry_max_ms"),
        ] {
            let err = config(&entry).build().unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} should contain {needle:?}");
        }
        let err = check(&[config(GOOD), config(GOOD)]).unwrap_err().to_string();
        assert!(err.contains("configured twice"), "{err}");
        assert!(check(&[config(GOOD), config(&GOOD.replace("dispatch\"", "other\""))]).is_ok());
    }

    #[test]
    fn a_secret_file_is_read_relative_to_the_config_without_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dispatch.secret"), "fedcba9876543210fedcba\n").unwrap();
        let mut c = config(&GOOD.replace("secret = \"0123456789abcdef\"", "secret_file = \"dispatch.secret\""));
        c.resolve_paths(dir.path());
        assert_eq!(c.build().unwrap().secret, b"fedcba9876543210fedcba");
    }

    #[test]
    fn the_filter_passes_urgent_enough_alerts_of_the_chosen_kinds() {
        let mut w = config(&format!("{GOOD}\nmin_priority = 2\nkinds = [\"confirmed\"]")).build().unwrap();
        let alert = |priority: u8, kind: MatchKind| {
            let t = chrono::Utc::now();
            Alert {
                exercise: false,
                id: 1,
                read_id: Some(1),
                entry_id: 1,
                kind,
                demoted: None,
                distance: 0,
                plate: limes_plate::PlateText::new("B123ABC").unwrap(),
                read_text: "B 123 ABC".into(),
                camera: CameraId::new("ro-cam-1").unwrap(),
                time: t,
                created: t,
                reason: HotlistReason::Stolen,
                priority,
                agency: AgencyId::new("ro-igpf").unwrap(),
                ack: None,
                origin: None,
            }
        };
        assert!(w.wants(&alert(1, MatchKind::Confirmed)));
        assert!(w.wants(&alert(2, MatchKind::Confirmed)));
        assert!(!w.wants(&alert(3, MatchKind::Confirmed)));
        assert!(!w.wants(&alert(1, MatchKind::Possible)));
        w.min_priority = None;
        w.kinds = None;
        assert!(w.wants(&alert(5, MatchKind::Possible)));
    }
}
