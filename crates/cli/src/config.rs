//! The node's TOML configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use limes_model::AgencyId;
use limes_plate::CountryCode;
use serde::{Deserialize, Serialize};

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node: NodeSection,
    #[serde(default)]
    pub api: ApiSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub retention: RetentionSection,
    #[serde(default)]
    pub matching: MatchingSection,
    /// Camera analytics from an MQTT broker, and alerts back to it.
    #[serde(default)]
    pub mqtt: Option<limes_mqtt::MqttConfig>,
    #[serde(default)]
    pub images: ImagesSection,
    /// Outbound webhooks: every new alert POSTed to each, signed (see `limes-webhook`).
    #[serde(default)]
    pub webhooks: Vec<limes_webhook::WebhookConfig>,
    /// Accounts, sessions, purposes and the access policy.
    #[serde(default)]
    pub access: AccessSection,
    /// Links to partner agencies' nodes (mutual TLS on a port of its own).
    #[serde(default)]
    pub federation: Option<FederationSection>,
    /// Incidents: acknowledgement deadlines and escalation.
    #[serde(default)]
    pub incidents: IncidentsSection,
    /// Patrol units: sharing, retention and freshness of positions.
    #[serde(default)]
    pub patrols: PatrolsSection,
    /// Camera streams the node records, and how long it keeps them.
    #[serde(default)]
    pub video: VideoSection,
    /// The node's own analysis of video: where its models are, and how each camera is watched.
    #[serde(default)]
    pub analysis: AnalysisSection,
    /// Media triage: the folder `limes triage` writes cases to, which the review reads.
    #[serde(default)]
    pub triage: TriageSection,
}

/// `[triage]`: where the cases of `limes triage --dir` are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TriageSection {
    /// The triage folder; `triage/` in the data directory when unset.
    pub dir: Option<PathBuf>,
}

/// `[analysis]` and its `[analysis.cameras.<camera id>]`: see `limes_server::analysis` and
/// `limes_vision::watch::WatchSettings` (frames per second, motion gating, plates, and the
/// lines and zones drawn on the camera's picture).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisSection {
    /// The model files; `models/` in the data directory when unset (where `limes models fetch
    /// --config` puts them).
    pub models: Option<PathBuf>,
    /// Threads per model (2 when unset).
    pub threads: Option<usize>,
    pub cameras: std::collections::BTreeMap<String, limes_vision::watch::WatchSettings>,
}

impl AnalysisSection {
    /// The options, every camera's settings checked.
    pub fn options(&self, data_dir: &Path) -> anyhow::Result<limes_server::analysis::AnalysisOptions> {
        let mut cameras = std::collections::BTreeMap::new();
        for (id, settings) in &self.cameras {
            let camera = limes_model::CameraId::new(id).with_context(|| format!("[analysis.cameras] camera {id:?}"))?;
            settings.check().map_err(|e| anyhow::anyhow!("[analysis.cameras.{id}]: {e}"))?;
            cameras.insert(camera, settings.clone());
        }
        let threads = self.threads.unwrap_or(2);
        if !(1..=64).contains(&threads) {
            bail!("[analysis] threads must be 1 to 64");
        }
        Ok(limes_server::analysis::AnalysisOptions {
            models: self.models.clone().unwrap_or_else(|| data_dir.join("models")),
            threads,
            cameras,
        })
    }
}

/// `[video]` and its `[[video.streams]]`: see `limes_server::video`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoSection {
    /// Segments older than this many days are deleted (a stream's `keep_days` overrides it;
    /// 0 keeps them until the space is needed).
    pub keep_days: u32,
    /// All segments together may take at most this many bytes (0: no limit).
    pub max_bytes: u64,
    /// The oldest segments go while the disk has fewer free bytes than this (0: no floor).
    pub min_free_bytes: u64,
    /// How often retention runs.
    pub check_every_seconds: u32,
    pub streams: Vec<StreamSection>,
}

impl Default for VideoSection {
    fn default() -> Self {
        Self { keep_days: 30, max_bytes: 0, min_free_bytes: 1 << 30, check_every_seconds: 60, streams: Vec::new() }
    }
}

/// One `[[video.streams]]`: a camera's RTSP stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSection {
    /// The camera's id in the registry.
    pub camera: String,
    /// `rtsp://host:port/path` (no credentials in it: they go below).
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding the password (never the password itself).
    #[serde(default)]
    pub password_env: Option<String>,
    /// Days this camera's segments are kept, instead of `[video] keep_days`.
    #[serde(default)]
    pub keep_days: Option<u32>,
    #[serde(default = "default_segment_seconds")]
    pub segment_seconds: u32,
}

fn default_segment_seconds() -> u32 {
    60
}

impl VideoSection {
    pub fn options(&self) -> anyhow::Result<limes_server::video::VideoOptions> {
        let days = |d: u32| (d > 0).then(|| chrono::Duration::days(d.into()));
        let mut rules = limes_recorder::RetentionRules {
            default_keep: days(self.keep_days),
            byte_budget: (self.max_bytes > 0).then_some(self.max_bytes),
            ..Default::default()
        };
        let mut streams = Vec::with_capacity(self.streams.len());
        let mut seen = std::collections::HashSet::new();
        for s in &self.streams {
            let camera = limes_model::CameraId::new(&s.camera)
                .with_context(|| format!("[[video.streams]] camera {:?}", s.camera))?;
            if !seen.insert(camera.clone()) {
                bail!("[[video.streams]]: camera {:?} is recorded twice", s.camera);
            }
            if !(1..=3600).contains(&s.segment_seconds) {
                bail!("[[video.streams]] {}: segment_seconds must be 1 to 3600", s.camera);
            }
            let credentials = match (&s.username, &s.password_env) {
                (None, None) => None,
                (Some(user), Some(var)) => {
                    let password = std::env::var(var).with_context(|| {
                        format!("[[video.streams]] {}: the password's environment variable {var} is not set", s.camera)
                    })?;
                    Some((user.clone(), password))
                }
                _ => bail!("[[video.streams]] {}: give both username and password_env, or neither", s.camera),
            };
            let source = limes_recorder::StreamSource::parse(&s.url, credentials)
                .map_err(|e| anyhow::anyhow!("[[video.streams]] {}: {e}", s.camera))?;
            if let Some(keep) = s.keep_days.and_then(days) {
                rules.keep.insert(camera.clone(), keep);
            }
            streams.push(limes_server::video::StreamConfig { camera, source, segment_seconds: s.segment_seconds });
        }
        if self.check_every_seconds == 0 {
            bail!("[video] check_every_seconds must be at least 1");
        }
        Ok(limes_server::video::VideoOptions {
            streams,
            rules,
            min_free_bytes: (self.min_free_bytes > 0).then_some(self.min_free_bytes),
            check_every: std::time::Duration::from_secs(self.check_every_seconds.into()),
        })
    }
}

/// `[patrols]`: see `limes_server::patrols::PatrolOptions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PatrolsSection {
    /// Positions go to partners at most once per unit per this many seconds.
    pub share_every_seconds: u32,
    /// A unit that moved less than this many metres since the last position shared...
    pub share_min_distance_m: f64,
    /// ...is shared again only after this many seconds.
    pub share_heartbeat_seconds: u32,
    /// Days positions and assignments are kept (a partner's at most its agreement's).
    pub positions_days: u32,
    /// A unit whose latest position is older than this is not suggested.
    pub fresh_seconds: u32,
    /// The most positions one request or MQTT message may carry.
    pub max_positions: usize,
}

impl Default for PatrolsSection {
    fn default() -> Self {
        let d = limes_server::patrols::PatrolOptions::default();
        Self {
            share_every_seconds: d.share_every.as_secs() as u32,
            share_min_distance_m: d.share_min_distance_m,
            share_heartbeat_seconds: d.share_heartbeat.as_secs() as u32,
            positions_days: d.positions_days,
            fresh_seconds: d.fresh_within.as_secs() as u32,
            max_positions: d.max_positions,
        }
    }
}

impl PatrolsSection {
    pub fn options(&self) -> anyhow::Result<limes_server::patrols::PatrolOptions> {
        let s = |name: &str, v: u32| {
            if v == 0 {
                bail!("[patrols] {name} must be at least 1");
            }
            Ok(std::time::Duration::from_secs(u64::from(v)))
        };
        if !(0.0..=100_000.0).contains(&self.share_min_distance_m) {
            bail!("[patrols] share_min_distance_m must be 0 to 100000 metres");
        }
        if self.positions_days == 0 || !(1..=100_000).contains(&self.max_positions) {
            bail!("[patrols] positions_days must be at least 1 and max_positions 1 to 100000");
        }
        Ok(limes_server::patrols::PatrolOptions {
            share_every: s("share_every_seconds", self.share_every_seconds)?,
            share_min_distance_m: self.share_min_distance_m,
            share_heartbeat: s("share_heartbeat_seconds", self.share_heartbeat_seconds)?,
            positions_days: self.positions_days,
            fresh_within: s("fresh_seconds", self.fresh_seconds)?,
            max_positions: self.max_positions,
        })
    }
}

/// `[incidents]`: see `limes_cooperation::incident::AckDeadlines`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsSection {
    /// Seconds a notified partner has to acknowledge, by severity.
    pub ack_seconds_low: u32,
    pub ack_seconds_medium: u32,
    pub ack_seconds_high: u32,
    pub ack_seconds_critical: u32,
    /// Escalations of one unacknowledged notification, one per deadline missed.
    pub max_escalations: u32,
    /// How often deadlines are checked.
    pub check_every_seconds: u32,
}

impl Default for IncidentsSection {
    fn default() -> Self {
        let d = limes_cooperation::incident::AckDeadlines::default();
        let s = |d: chrono::Duration| d.num_seconds() as u32;
        Self {
            ack_seconds_low: s(d.low),
            ack_seconds_medium: s(d.medium),
            ack_seconds_high: s(d.high),
            ack_seconds_critical: s(d.critical),
            max_escalations: d.max_escalations,
            check_every_seconds: 5,
        }
    }
}

impl IncidentsSection {
    pub fn options(&self) -> anyhow::Result<limes_server::incidents::IncidentOptions> {
        let s = |name: &str, v: u32| {
            if v == 0 {
                bail!("[incidents] {name} must be at least 1 second");
            }
            Ok(chrono::Duration::seconds(i64::from(v)))
        };
        Ok(limes_server::incidents::IncidentOptions {
            deadlines: limes_cooperation::incident::AckDeadlines {
                low: s("ack_seconds_low", self.ack_seconds_low)?,
                medium: s("ack_seconds_medium", self.ack_seconds_medium)?,
                high: s("ack_seconds_high", self.ack_seconds_high)?,
                critical: s("ack_seconds_critical", self.ack_seconds_critical)?,
                max_escalations: self.max_escalations,
            },
            check_every: s("check_every_seconds", self.check_every_seconds)?.to_std()?,
        })
    }
}

/// `[federation]`: see `limes_link::LinkConfig`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationSection {
    /// The partners' port, separate from the API.
    pub listen: SocketAddr,
    /// What the trust anchor tells partners to connect to (`https://host:port`).
    pub url: String,
    /// The agency's name, as people know it.
    pub name: String,
    #[serde(default = "default_clock_tolerance")]
    pub clock_tolerance_seconds: u64,
    #[serde(default = "default_max_age_hours")]
    pub max_age_hours: u64,
    #[serde(default = "default_max_payload")]
    pub max_payload_bytes: usize,
    #[serde(default = "default_max_queued")]
    pub max_queued_per_partner: u64,
    #[serde(default = "default_batch")]
    pub batch_max_messages: usize,
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
    #[serde(default = "default_retry_max_seconds")]
    pub retry_max_seconds: u64,
    #[serde(default = "default_max_blob")]
    pub max_blob_bytes: u64,
    /// `[federation.hitquery]`: hit/no-hit plate queries partners send this node.
    #[serde(default)]
    pub hitquery: HitQuerySection,
    /// `[federation.witness]`: witnessed audit.
    #[serde(default)]
    pub witness: WitnessSection,
}

/// `[federation.witness]`: see `limes_link::WitnessConfig` (the defaults are its own).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WitnessSection {
    /// Hold a partner's data messages until its audit checkpoint is fresh, cosigned by every
    /// witness the agreement names and consistent with the last one accepted, wherever an
    /// agreement is in force. `false` is the explicit escape hatch (forks still hold).
    pub require: bool,
    /// How often this node asks its witnesses to cosign its newest checkpoint.
    pub interval_seconds: u64,
    /// A cosignature older than this is renewed even when the log did not grow.
    pub refresh_seconds: u64,
}

impl Default for WitnessSection {
    fn default() -> Self {
        let d = limes_link::WitnessConfig::default();
        Self { require: d.require, interval_seconds: d.interval.as_secs(), refresh_seconds: d.refresh.as_secs() }
    }
}

impl WitnessSection {
    pub fn config(&self) -> limes_link::WitnessConfig {
        limes_link::WitnessConfig {
            require: self.require,
            interval: std::time::Duration::from_secs(self.interval_seconds.max(1)),
            refresh: std::time::Duration::from_secs(self.refresh_seconds.max(1)),
            ..limes_link::WitnessConfig::default()
        }
    }
}

/// `[federation.hitquery]`: see `limes_link::HitQueryConfig` (the defaults are its own).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HitQuerySection {
    pub window_days: u32,
    pub publish_every_seconds: u64,
    pub burst: u32,
    pub refill: u32,
    pub refill_every_hours: u64,
    pub pad_to_multiple: u64,
}

impl Default for HitQuerySection {
    fn default() -> Self {
        let d = limes_link::HitQueryConfig::default();
        Self {
            window_days: d.window_days,
            publish_every_seconds: d.publish_every.as_secs(),
            burst: d.burst,
            refill: d.refill,
            refill_every_hours: d.refill_every.as_secs() / 3600,
            pad_to_multiple: d.pad_to_multiple,
        }
    }
}

impl HitQuerySection {
    pub fn config(&self) -> limes_link::HitQueryConfig {
        limes_link::HitQueryConfig {
            window_days: self.window_days,
            publish_every: std::time::Duration::from_secs(self.publish_every_seconds),
            burst: self.burst,
            refill: self.refill,
            refill_every: std::time::Duration::from_secs(self.refill_every_hours.saturating_mul(3600)),
            pad_to_multiple: self.pad_to_multiple,
        }
    }
}

fn default_max_blob() -> u64 {
    256 << 20
}

fn default_clock_tolerance() -> u64 {
    120
}
fn default_max_age_hours() -> u64 {
    7 * 24
}
fn default_max_payload() -> usize {
    1 << 20
}
fn default_max_queued() -> u64 {
    1_000_000
}
fn default_batch() -> usize {
    500
}
fn default_retry_base_ms() -> u64 {
    200
}
fn default_retry_max_seconds() -> u64 {
    30
}

impl Config {
    /// The link settings of `[federation]`, if the node federates.
    pub fn link_config(&self) -> anyhow::Result<Option<limes_link::LinkConfig>> {
        let Some(f) = &self.federation else { return Ok(None) };
        let limits = limes_federation::Limits {
            clock_tolerance: chrono::Duration::seconds(f.clock_tolerance_seconds as i64),
            max_age: chrono::Duration::hours(f.max_age_hours as i64),
            max_payload_bytes: f.max_payload_bytes,
            max_envelopes: f.batch_max_messages.max(1000),
        };
        Ok(Some(limes_link::LinkConfig {
            agency: self.node.agency.clone(),
            name: f.name.clone(),
            country: self.node.country,
            regime: self.access.regime,
            listen: f.listen,
            url: f.url.clone(),
            limits,
            max_queued_per_partner: f.max_queued_per_partner,
            batch_max_envelopes: f.batch_max_messages,
            batch_max_bytes: 4 << 20,
            max_blob_bytes: f.max_blob_bytes,
            retry_base: std::time::Duration::from_millis(f.retry_base_ms),
            retry_max: std::time::Duration::from_secs(f.retry_max_seconds),
            purpose: self.access.collection_purpose.clone(),
            legal_basis: self.access.collection_legal_basis.clone(),
            hitquery: f.hitquery.config(),
            witness: f.witness.config(),
        }))
    }
}

/// `[access]`: see `limes_server::AccessOptions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// `led` (police, border police) or `gdpr` (towns, rescue services).
    #[serde(default)]
    pub regime: limes_access::Regime,
    /// Why camera data is collected, logged with every batch of reads that a sender without
    /// a purpose of its own (MQTT, a camera's push) delivers.
    #[serde(default = "default_collection_purpose")]
    pub collection_purpose: String,
    #[serde(default = "default_collection_legal_basis")]
    pub collection_legal_basis: String,
    #[serde(default = "default_session_hours")]
    pub session_hours: f64,
    #[serde(default = "default_max_failed_logins")]
    pub max_failed_logins: u32,
    #[serde(default = "default_lockout_seconds")]
    pub lockout_seconds: u64,
    /// Roles that must sign in with a one-time code.
    #[serde(default)]
    pub totp_required_for: Vec<String>,
    /// A Cedar policy file replacing the built-in rules (relative to the config file).
    #[serde(default)]
    pub policy_file: Option<PathBuf>,
    /// The agency's identity providers (`[[access.oidc]]`, see `limes_oidc::OidcConfig`).
    #[serde(default, skip_serializing)]
    pub oidc: Vec<limes_oidc::OidcConfig>,
}

fn default_collection_purpose() -> String {
    "detection".into()
}

fn default_collection_legal_basis() -> String {
    "not configured: set [access] collection_legal_basis".into()
}

fn default_session_hours() -> f64 {
    12.0
}

fn default_max_failed_logins() -> u32 {
    5
}

fn default_lockout_seconds() -> u64 {
    300
}

impl Default for AccessSection {
    fn default() -> Self {
        Self {
            regime: limes_access::Regime::default(),
            collection_purpose: default_collection_purpose(),
            collection_legal_basis: default_collection_legal_basis(),
            session_hours: default_session_hours(),
            max_failed_logins: default_max_failed_logins(),
            lockout_seconds: default_lockout_seconds(),
            totp_required_for: Vec::new(),
            policy_file: None,
            oidc: Vec::new(),
        }
    }
}

impl Config {
    /// The node's access options, with the policy read and validated.
    pub fn access_options(&self) -> anyhow::Result<limes_server::AccessOptions> {
        let a = &self.access;
        let policy = match &a.policy_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading policy {}", path.display()))?;
                limes_access::Policy::from_text(&text).with_context(|| format!("policy {}", path.display()))?
            }
            None => limes_access::Policy::default_policy()?,
        };
        let collection_purpose =
            limes_access::Purpose::parse(a.regime, &a.collection_purpose, &a.collection_legal_basis, None)
                .context("[access] collection_purpose and collection_legal_basis")?;
        let totp_required_for = a
            .totp_required_for
            .iter()
            .map(|r| {
                limes_access::Role::parse(r).with_context(|| format!("[access] totp_required_for: unknown role {r:?}"))
            })
            .collect::<anyhow::Result<_>>()?;
        for o in &a.oidc {
            o.check().with_context(|| format!("[[access.oidc]] {}", o.name))?;
        }
        if !(a.session_hours > 0.0 && a.session_hours <= 24.0 * 31.0) {
            bail!("[access] session_hours must be above 0 and at most 744");
        }
        Ok(limes_server::AccessOptions {
            regime: a.regime,
            agency: self.node.agency.as_str().to_owned(),
            country: self.node.country.as_str().to_owned(),
            policy,
            session_lifetime: std::time::Duration::from_secs_f64(a.session_hours * 3600.0),
            max_failed_logins: a.max_failed_logins.max(1),
            lockout: std::time::Duration::from_secs(a.lockout_seconds),
            totp_required_for,
            collection_purpose,
            oidc: a.oidc.clone(),
        })
    }
}

/// What an image posted for a read may be; see `limes_store::ImageLimits`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagesSection {
    pub max_bytes: usize,
    pub max_width: u32,
    pub max_height: u32,
    pub max_decoded_bytes: u64,
}

impl Default for ImagesSection {
    fn default() -> Self {
        let l = limes_store::ImageLimits::default();
        Self {
            max_bytes: l.max_bytes,
            max_width: l.max_width,
            max_height: l.max_height,
            max_decoded_bytes: l.max_decoded_bytes,
        }
    }
}

impl ImagesSection {
    pub fn limits(&self) -> limes_store::ImageLimits {
        limes_store::ImageLimits {
            max_bytes: self.max_bytes,
            max_width: self.max_width,
            max_height: self.max_height,
            max_decoded_bytes: self.max_decoded_bytes,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchingSection {
    /// Reads whose text confidence is below this raise only possible alerts (0: off).
    pub confirm_min_confidence: f32,
    /// Reads among this share of their camera's least sure recent reads raise only possible
    /// alerts (0: off).
    #[serde(default = "default_camera_quantile")]
    pub confirm_min_camera_quantile: f32,
    /// A read whose vehicle plainly differs from the entry's raises only a possible alert.
    #[serde(default = "yes")]
    pub check_vehicle: bool,
}

fn yes() -> bool {
    true
}

fn default_camera_quantile() -> f32 {
    limes_hotlist::MatchPolicy::DEFAULT_CONFIRM_MIN_CAMERA_QUANTILE
}

impl MatchingSection {
    pub fn policy(&self) -> limes_hotlist::MatchPolicy {
        limes_hotlist::MatchPolicy {
            confirm_min_confidence: self.confirm_min_confidence,
            confirm_min_camera_quantile: self.confirm_min_camera_quantile,
            check_vehicle: self.check_vehicle,
        }
    }
}

impl Default for MatchingSection {
    fn default() -> Self {
        let policy = limes_hotlist::MatchPolicy::default();
        Self {
            confirm_min_confidence: policy.confirm_min_confidence,
            confirm_min_camera_quantile: policy.confirm_min_camera_quantile,
            check_vehicle: policy.check_vehicle,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// This node's id, unique among federated nodes.
    pub id: String,
    pub agency: AgencyId,
    pub country: CountryCode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    pub listen: SocketAddr,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

fn default_max_body() -> usize {
    32 << 20
}

impl Default for ApiSection {
    fn default() -> Self {
        Self { listen: "127.0.0.1:8080".parse().expect("literal address"), max_body_bytes: default_max_body() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Where the database lives; relative paths are relative to the config file.
    pub data_dir: PathBuf,
}

impl Default for StoreSection {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("limes-data") }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSection {
    /// Plate reads (and their alerts) older than this are deleted.
    pub reads_days: u32,
    /// Face, person and vehicle detections older than this are deleted. Separate from
    /// reads: detections describe people, and an agency may have to keep them for less.
    #[serde(default = "default_detections_days")]
    pub detections_days: u32,
    /// National limits: the reads of a country's cameras are kept this many days instead.
    #[serde(default)]
    pub reads_days_by_country: std::collections::BTreeMap<String, u32>,
    /// The same for detections.
    #[serde(default)]
    pub detections_days_by_country: std::collections::BTreeMap<String, u32>,
}

fn default_detections_days() -> u32 {
    30
}

impl Default for RetentionSection {
    fn default() -> Self {
        Self {
            reads_days: 30,
            detections_days: default_detections_days(),
            reads_days_by_country: Default::default(),
            detections_days_by_country: Default::default(),
        }
    }
}

impl Config {
    /// Reads and checks a config file; the data directory is resolved against the file's folder.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        let mut cfg: Config = toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        if cfg.node.id.trim().is_empty() {
            bail!("config {}: node.id is empty", path.display());
        }
        if !(0.0..=1.0).contains(&cfg.matching.confirm_min_confidence) {
            bail!("config {}: matching.confirm_min_confidence must be in 0..=1", path.display());
        }
        if !(0.0..=0.5).contains(&cfg.matching.confirm_min_camera_quantile) {
            bail!("config {}: matching.confirm_min_camera_quantile must be in 0..=0.5", path.display());
        }
        if cfg.retention.reads_days == 0 {
            bail!("config {}: retention.reads_days must be at least 1", path.display());
        }
        if cfg.retention.detections_days == 0 {
            bail!("config {}: retention.detections_days must be at least 1", path.display());
        }
        let r = &cfg.retention;
        for (country, days) in r.reads_days_by_country.iter().chain(&r.detections_days_by_country) {
            if *days == 0 || CountryCode::parse(country).is_err() {
                bail!(
                    "config {}: retention by country: {country:?} = {days} needs a country code and at least 1 day",
                    path.display()
                );
            }
        }
        if let Some(mqtt) = &cfg.mqtt
            && let Err(e) = mqtt.validate()
        {
            bail!("config {}: {e}", path.display());
        }
        let i = &cfg.images;
        if i.max_bytes == 0 || i.max_width == 0 || i.max_height == 0 || i.max_decoded_bytes == 0 {
            bail!(
                "config {}: images.max_bytes, max_width, max_height and max_decoded_bytes must be above 0",
                path.display()
            );
        }
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if cfg.store.data_dir.is_relative() {
            cfg.store.data_dir = base.join(&cfg.store.data_dir);
        }
        for w in &mut cfg.webhooks {
            w.resolve_paths(base);
        }
        if let Some(mqtt) = &mut cfg.mqtt {
            mqtt.resolve_paths(base);
        }
        if let Some(p) = &mut cfg.access.policy_file
            && p.is_relative()
        {
            *p = base.join(&*p);
        }
        cfg.access_options().with_context(|| format!("config {}", path.display()))?;
        if let Some(f) = &cfg.federation {
            if !f.url.starts_with("https://") {
                bail!("config {}: federation.url must be an https:// URL partners can reach", path.display());
            }
            if f.name.trim().is_empty() {
                bail!("config {}: federation.name (the agency's name) is empty", path.display());
            }
            if f.listen == cfg.api.listen && f.listen.port() != 0 {
                bail!("config {}: federation.listen must differ from api.listen", path.display());
            }
            if f.batch_max_messages == 0 || f.batch_max_messages > 1000 || f.retry_base_ms == 0 {
                bail!(
                    "config {}: federation.batch_max_messages must be 1..=1000 and retry_base_ms above 0",
                    path.display()
                );
            }
            if let Err(e) = f.hitquery.config().validate() {
                bail!("config {}: [federation.hitquery]: {e}", path.display());
            }
        }
        limes_webhook::check(&cfg.webhooks).with_context(|| format!("config {}", path.display()))?;
        Ok(cfg)
    }
}

/// The commented default configuration `limes init` writes.
pub fn default_toml(node_id: &str, agency: &str, country: &str, listen: &str, data_dir: &str) -> String {
    default_toml_with(node_id, agency, country, listen, data_dir, None)
}

/// The partners' port and the URL partners reach it at, for `[federation]`.
#[derive(Debug, Clone)]
pub struct FederationInit {
    pub listen: String,
    pub url: String,
    pub name: String,
}

/// [`default_toml`], with `[federation]` on when `federation` is given (else commented out).
pub fn default_toml_with(
    node_id: &str,
    agency: &str,
    country: &str,
    listen: &str,
    data_dir: &str,
    federation: Option<&FederationInit>,
) -> String {
    let camera_quantile = limes_hotlist::MatchPolicy::DEFAULT_CONFIRM_MIN_CAMERA_QUANTILE;
    let (on, fed_listen, fed_url, fed_name) = match federation {
        Some(f) => ("", f.listen.clone(), f.url.clone(), f.name.replace('"', "'")),
        None => ("# ", "0.0.0.0:8443".into(), "https://limes.agency.example:8443".into(), format!("{agency} (name)")),
    };
    let federation = format!(
        r#"
# Partner agencies' nodes (README: "Two agencies federate"). Mutual TLS on a port of its own:
# only the certificates of partners added with `limes partner add` are accepted. The agency's
# signing key and TLS certificate are in <data_dir>/federation/identity (made by limes init).
{on}[federation]
# The partners' port, separate from [api].
{on}listen = "{fed_listen}"
# What the trust anchor (`limes trust export`) tells partners to connect to.
{on}url = "{fed_url}"
# The agency's name, as partners know it.
{on}name = "{fed_name}"
# A batch whose sending time differs from this node's clock by more is refused (clock_skew).
{on}clock_tolerance_seconds = 120
# Older messages are refused (stale); their ids are remembered this long against replays.
{on}max_age_hours = 168
# The largest message payload accepted, in bytes.
{on}max_payload_bytes = 1048576
# The largest file (image, clip) a partner may send in chunks of 1 MiB, in bytes.
{on}max_blob_bytes = 268435456
# Messages a partner's queue may hold (a partner down for long); beyond, sending fails.
{on}max_queued_per_partner = 1000000
# Messages per request, and the first and longest pause between failed deliveries.
{on}batch_max_messages = 500
{on}retry_base_ms = 200
{on}retry_max_seconds = 30

# Hit/no-hit plate queries (design/hit-no-hit.md): partners whose agreement has a plate-reads
# flow to them in mode hit-no-hit (or push) may ask whether this node saw a plate, without it
# learning which. It publishes a set of the distinct plates read in the last window_days days
# (one key per day), rebuilt every publish_every_seconds when they changed, padded to a
# multiple of pad_to_multiple plates. Each partner has `burst` evaluations at once and `refill`
# more every refill_every_hours; a plate costs two.
{on}[federation.hitquery]
{on}window_days = 7
{on}publish_every_seconds = 60
{on}burst = 64
{on}refill = 64
{on}refill_every_hours = 24
{on}pad_to_multiple = 1024

# Witnessed audit (design/audit.md, "Witnesses at the edge"): every partner with an agreement
# in force (and each independent witness an agreement names) cosigns this node's audit
# checkpoints, asked every interval_seconds; a cosignature older than refresh_seconds is
# renewed. With require = true, a partner's data messages are held until a checkpoint of its
# audit log is at most 10 minutes old, cosigned by every witness the agreement names and
# consistent with the last one accepted. false is the escape hatch (a fork still holds them).
{on}[federation.witness]
{on}require = true
{on}interval_seconds = 10
{on}refresh_seconds = 120
"#
    );
    let text = format!(
        r#"# limes node configuration. Every key is shown with its default or an example.

[node]
# This node's id: unique among the nodes that federate with it.
id = "{node_id}"
# The agency that runs this node (letters, digits, - _ . :), e.g. "ro-igpf" or "ua-dpsu".
agency = "{agency}"
# ISO 3166-1 alpha-2 code of the country the node is in.
country = "{country}"

[api]
# Address of the HTTP API (integrations, the operations page, the CLI).
listen = "{listen}"
# Largest request body accepted, in bytes (batches of reads, hotlist and camera imports).
max_body_bytes = 33554432

[store]
# Where the embedded database (SQLite, WAL, fsync on every commit) lives.
# A relative path is relative to this file.
data_dir = "{data_dir}"

[retention]
# Plate reads and their alerts older than this many days are deleted automatically.
reads_days = 30
# Face, person and vehicle detections (estimated age range and gender, never identity) older
# than this many days are deleted automatically. Kept apart from reads_days: detections
# describe people, and the law an agency works under may allow keeping them for less.
detections_days = 30
# National limits: the reads (detections) of a country's cameras are kept this many days
# instead, whichever node holds them, e.g. {{ UA = 90 }}. Every deletion is in the audit log.
reads_days_by_country = {{}}
detections_days_by_country = {{}}

[incidents]
# Seconds a partner notified of an incident has to acknowledge it, by severity. Past the
# deadline the node sends the partner the incident again and tells its own supervisors on the
# live stream, once per deadline missed, up to max_escalations times.
ack_seconds_low = 14400
ack_seconds_medium = 3600
ack_seconds_high = 900
ack_seconds_critical = 300
max_escalations = 3
check_every_seconds = 5

[patrols]
# Units' positions go to partners whose agreement has a patrol-positions flow (never a covert
# unit's) at most once per unit per share_every_seconds, and only when it moved
# share_min_distance_m since the last one shared or share_heartbeat_seconds passed.
share_every_seconds = 15
share_min_distance_m = 25.0
share_heartbeat_seconds = 300
# Positions and assignments are deleted after this many days (a partner's sooner where its
# agreement says so).
positions_days = 30
# A unit whose latest position is older is not suggested for an alert or incident.
fresh_seconds = 600
# The most positions one POST or MQTT message may carry.
max_positions = 1000

[video]
# Camera streams recorded as they come (H.264/H.265, never transcoded) into segments under
# <data_dir>/recordings, indexed in the store (design/recording.md). Segments older than
# keep_days go (0: kept until the space is needed); past max_bytes (0: no limit), or while the
# disk has less than min_free_bytes free, the oldest go first, whichever camera.
keep_days = 30
max_bytes = 0
min_free_bytes = 1073741824
check_every_seconds = 60
# One table per camera stream; the password comes from an environment variable:
# [[video.streams]]
# camera = "ro-siret-1"
# url = "rtsp://10.0.0.21:554/Streaming/Channels/101"
# username = "limes"
# password_env = "LIMES_CAMERA_PASSWORD"
# keep_days = 14
# segment_seconds = 60

# The node's own analysis of video (persons, vehicles, plates, lines and zones; docs/api.md,
# "The node's own analysis of video"), on the model files `limes models fetch` puts in `models`
# (<data_dir>/models when unset, where `limes models fetch --config` puts them). Each camera's
# settings, by camera id:
# [analysis]
# models = "/var/lib/limes/models"
# threads = 2
# [analysis.cameras.ro-siret-1]
# fps = 5
# [[analysis.cameras.ro-siret-1.scene.lines]]
# id = "green-border"
# a = {{ x = 0.5, y = 0.0 }}
# b = {{ x = 0.5, y = 1.0 }}
# classes = ["person"]

# Media triage (child-abuse investigations): the folder `limes triage --dir` writes cases to,
# which the review (`/api/v1/triage/...`, the victim_identification role alone) reads.
# <data_dir>/triage when unset.
# [triage]
# dir = "/var/lib/limes/triage"

[matching]
# A read whose text confidence (as the camera reports it) is below this raises only
# *possible* alerts, never confirmed ones. 0 trusts every read. See docs/benchmarks.md for
# the trade-off measured on simulated traffic before raising it.
confirm_min_confidence = 0.0
# A read whose text confidence is among the lowest of its own camera's recent reads (at
# most this share of them: 0.05 is the lowest 5 %) raises only *possible* alerts, marked
# low_confidence_for_camera. It needs no number on a vendor's scale: each camera is judged
# against its own last 4,096 to 8,191 reads, once it has given 1,000 (counted afresh after a
# restart). 0 turns it off; at most 0.5. See docs/benchmarks.md for the trade-off.
confirm_min_camera_quantile = {camera_quantile:?}
# A read whose vehicle plainly differs from the hotlist entry's (another make, or a colour
# no lighting explains: red for white, not silver for white) raises only a *possible*
# alert, marked make_differs or colour_differs. Entries and readers that say nothing
# about the vehicle are not affected.
check_vehicle = true

# Camera analytics over MQTT (uncomment to use). Each subscription names its payload format:
# onvif-json (ONVIF Profile M metadata, `onvif-mj` topics), onvif-xml, frigate (frigate/events and
# frigate/tracked_object_update), axis-lpv (AXIS License Plate Verifier push events), limes
# (the JSON of POST /api/v1/reads) or limes-patrol (patrol units: …/AGENCY/CODE/position with
# the JSON of POST /api/v1/patrols/units/AGENCY/CODE/positions, …/AGENCY/CODE/status with
# {{"status": "on-scene"}}). At qos 1 a message is acknowledged to the broker only once
# what it carries is stored.
# [mqtt]
# The broker: mqtt://host:port (plain TCP, port 1883 by default) or mqtts://host:port (TLS, port
# 8883 by default; then [mqtt.tls] below is required).
# url = "mqtt://127.0.0.1:1883"
# client_id = "{node_id}"
# alerts_topic = "limes/{node_id}/alerts"
# Connections sharing the subscriptions ($share/limes/<topic>). A broker lets each connection
# have only a few messages unacknowledged (Mosquitto: 20), and at qos 1 a message is
# acknowledged after a disk commit: use 4 to 16 for thousands of messages per second.
# connections = 1
# Most messages in one batch, and how long a batch waits to fill at most (it closes after a
# millisecond without messages).
# batch = 2000
# linger_ms = 5
# subscriptions = [
#   {{ topic = "+/onvif-mj/VideoAnalytics/#", format = "onvif-json" }},
#   {{ topic = "frigate/events", format = "frigate" }},
#   {{ topic = "limes/patrols/+/+/+", format = "limes-patrol" }},
# ]
# [mqtt.tls]
# For an mqtts:// broker. PEM files, relative to this file; read when the node starts, and a
# missing or malformed one stops it. The broker's certificate must be issued by a CA of ca_file
# and name the url's host: there is no option to accept any certificate.
# ca_file = "mqtt/broker-ca.pem"
# For a broker that requires client certificates (Mosquitto: require_certificate true): this
# node's certificate (then any intermediate CA certificates) and its private key.
# cert_file = "mqtt/{node_id}.pem"
# key_file = "mqtt/{node_id}.key"
# [mqtt.cameras]
# A source as the message names it (topic:…, name:…, mac:…, serial:…) → a registered camera id.
# A Frigate camera whose name is a registered camera id needs no line here.
# "topic:MyDevice/onvif-mj/VideoAnalytics/1/MyClassifier" = "ro-siret-01"
# `limes simulate --mqtt mqtt://127.0.0.1:1883 --print-config` prints this section for the
# simulated cameras (with --mqtt-ca, --mqtt-cert and --mqtt-key for an mqtts:// broker).

[access]
# Everyone signs in: people with a password (and a one-time code), integrations with an API
# token, or through the agency's identity provider. The first start creates the account
# "admin" and writes its password to <data_dir>/initial-admin-password (README: "Accounts").
# The law this agency processes personal data under: "led" (Law Enforcement Directive:
# police, border police) or "gdpr" (towns, rescue services). It decides which purposes a
# search, an image opened or an export may declare.
regime = "led"
# What camera reads are collected for, logged with every batch from a sender that does not
# declare its own (MQTT, a camera's push); name the national provision.
collection_purpose = "detection"
collection_legal_basis = "not configured: set [access] collection_legal_basis"
# How long a sign-in lasts (hours), how many wrong passwords in a row lock an account, and
# for how long (seconds).
session_hours = 12.0
max_failed_logins = 5
lockout_seconds = 300
# Roles that must sign in with a one-time code (TOTP), e.g. ["supervisor", "dpo", "administrator"].
totp_required_for = []
# A Cedar policy replacing the built-in rules (crates/access/src/default.cedar), validated
# against the limes schema when the node starts.
# policy_file = "policy.cedar"
# People may also sign in through the agency's identity provider (OpenID Connect: Keycloak,
# Entra ID, ...), in a browser at /api/v1/auth/oidc/<name>/login, or send its access tokens as
# bearer tokens. Its tokens carry roles (limes role names), agency, cases and clearance claims.
# [[access.oidc]]
# name = "keycloak"
# issuer = "https://id.agency.example/realms/police"
# client_id = "limes-node"
# client_secret = "..."
# audience = "limes-node"
# redirect_url = "https://limes.agency.example/api/v1/auth/oidc/keycloak/callback"

[images]
# Plate crops and overview images that cameras post for their reads (JPEG or PNG), stored once
# per content under <data_dir>/images and deleted with the last read that uses them.
# The largest image file accepted, in bytes.
max_bytes = 8388608
# Images wider or taller than this are refused from their header, before any decoding.
max_width = 16384
max_height = 16384
# The most memory an image's pixels may take decoded (width x height x bytes per pixel): a
# small file declaring a huge picture (a decompression bomb) is refused.
max_decoded_bytes = 536870912

# Webhooks: each new alert is POSTed as JSON to every [[webhooks]] entry, one request per
# alert, in order, signed with HMAC-SHA256 over "<timestamp>.<body>" (headers
# X-Limes-Signature: sha256=<hex>, X-Limes-Timestamp, X-Limes-Delivery = the alert id; how a
# receiver verifies them: docs/api.md, "Webhooks"). Delivery is at least once: an attempt
# that fails (no connection, no answer within timeout_ms, a status other than 2xx) is tried
# again after a pause doubling from retry_initial_ms to retry_max_ms, for as long as it takes.
# A failing receiver never slows ingest. The position in the alerts is kept in the store
# under the entry's name and survives restarts; a new name starts with the alerts raised
# from then on. To use the example, copy it and uncomment it.
#
# [[webhooks]]
# name = "dispatch"                        # letters, digits, - _ . ; names the saved position
# url = "https://dispatch.example/limes"   # http or https; redirects are not followed
# secret = "at least 16 random bytes"      # the HMAC key...
# secret_file = "dispatch.secret"          # ...or a file holding it (relative to this file)
# min_priority = 2                         # only priorities 1 (most urgent) to 2; default: all
# kinds = ["confirmed"]                    # confirmed and/or possible; default: both
# timeout_ms = 10000
# retry_initial_ms = 1000
# retry_max_ms = 300000
"#
    );
    // Before the webhooks, which end the file (their example is uncommented from its start to
    // the end of the file by a test).
    match text.find("\n# Webhooks:") {
        Some(at) => format!("{}{federation}{}", &text[..at], &text[at..]),
        None => text + &federation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_parses_and_resolves_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("limes.toml");
        std::fs::write(&path, default_toml("n1", "ro-igpf", "RO", "127.0.0.1:9000", "data")).unwrap();
        let cfg = Config::load(&path).unwrap();
        assert_eq!(cfg.node.country, CountryCode::RO);
        assert_eq!(cfg.api.listen.port(), 9000);
        assert_eq!(cfg.store.data_dir, dir.path().join("data"));
        assert_eq!(cfg.retention.reads_days, 30);
        assert_eq!(cfg.retention.detections_days, 30);
        // A configuration written before detections were stored keeps working.
        let old = default_toml("n1", "ro-igpf", "RO", "127.0.0.1:9000", "data").replace("detections_days = 30", "");
        std::fs::write(&path, old).unwrap();
        assert_eq!(Config::load(&path).unwrap().retention.detections_days, 30);
        assert_eq!(cfg.images.limits(), limes_store::ImageLimits::default());
        assert!(cfg.webhooks.is_empty());
        assert_eq!(cfg.matching.policy(), limes_hotlist::MatchPolicy::default(), "the file says what the code does");
    }

    #[test]
    fn the_federation_section_parses_with_the_links_own_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("limes.toml");
        let init = FederationInit {
            listen: "127.0.0.1:9443".into(),
            url: "https://127.0.0.1:9443".into(),
            name: "Poliția de Frontieră".into(),
        };
        let text = default_toml_with("n1", "ro-igpf", "RO", "127.0.0.1:9000", "data", Some(&init));
        std::fs::write(&path, &text).unwrap();
        let link = Config::load(&path).unwrap().link_config().unwrap().expect("federation is on");
        assert_eq!(link.hitquery, limes_link::HitQueryConfig::default(), "the file says what the code does");
        let witness = limes_link::WitnessConfig::default();
        assert_eq!(
            (link.witness.require, link.witness.interval, link.witness.refresh),
            (witness.require, witness.interval, witness.refresh),
            "the file says what the code does"
        );
        // Without the table, the same.
        let start = text.find("[federation.hitquery]").unwrap();
        let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
        std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).unwrap();
        let link = Config::load(&path).unwrap().link_config().unwrap().unwrap();
        assert_eq!(link.hitquery, limes_link::HitQueryConfig::default());
        for (key, bad) in
            [("burst = 64", "burst = 31"), ("window_days = 7", "window_days = 0"), ("refill = 64", "refil = 64")]
        {
            std::fs::write(&path, text.replace(key, bad)).unwrap();
            let err = format!("{:#}", Config::load(&path).unwrap_err());
            assert!(err.contains("hitquery") || err.contains("refil"), "{err}");
        }
    }

    #[test]
    fn the_commented_webhook_example_parses_once_uncommented() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("limes.toml");
        std::fs::write(dir.path().join("dispatch.secret"), "0123456789abcdef0123\n").unwrap();
        let text = default_toml("n1", "ro-igpf", "RO", "127.0.0.1:9000", "data");
        let start = text.find("# [[webhooks]]").unwrap();
        let example: String = text[start..]
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .filter(|l| !l.starts_with("secret = "))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&path, format!("{}{example}\n", &text[..start])).unwrap();
        let cfg = Config::load(&path).unwrap();
        assert_eq!(cfg.webhooks.len(), 1);
        assert_eq!(cfg.webhooks[0].secret_file.as_deref(), Some(dir.path().join("dispatch.secret").as_path()));
        // Both secret and secret_file: refused, naming the webhook.
        std::fs::write(&path, format!("{}{example}\nsecret = \"0123456789abcdef\"\n", &text[..start])).unwrap();
        let err = format!("{:#}", Config::load(&path).unwrap_err());
        assert!(err.contains("\"dispatch\"") && err.contains("exactly one"), "{err}");
    }

    #[test]
    fn the_commented_mqtt_example_parses_once_uncommented() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("limes.toml");
        let text = default_toml("n1", "ro-igpf", "RO", "127.0.0.1:9000", "data");
        let (start, end) = (text.find("# [mqtt]").unwrap(), text.find("[access]").unwrap());
        // The commented keys, tables and array lines; not the prose around them.
        let example: Vec<&str> = text[start..end]
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| {
                l.starts_with(['[', ']', '"'])
                    || l.starts_with("  {")
                    || l.split_once(" = ")
                        .is_some_and(|(key, _)| key.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            })
            .collect();
        let with = |example: String| format!("{}{example}\n{}", &text[..start], &text[end..]);
        // As written: TLS files for a plain mqtt:// broker are refused, not ignored.
        std::fs::write(&path, with(example.join("\n"))).unwrap();
        let err = format!("{:#}", Config::load(&path).unwrap_err());
        assert!(err.contains("[mqtt.tls]") && err.contains("use mqtts://"), "{err}");

        std::fs::write(&path, with(example.join("\n").replace("mqtt://", "mqtts://"))).unwrap();
        let mqtt = Config::load(&path).unwrap().mqtt.expect("an [mqtt] section");
        assert_eq!(mqtt.subscriptions.len(), 3);
        assert_eq!(mqtt.cameras.len(), 1);
        let tls = mqtt.tls.expect("a [mqtt.tls] section");
        assert_eq!(tls.ca_file, dir.path().join("mqtt/broker-ca.pem"), "relative to the config file");
        assert_eq!(tls.cert_file, Some(dir.path().join("mqtt/n1.pem")));
        assert_eq!(tls.key_file, Some(dir.path().join("mqtt/n1.key")));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("limes.toml");
        let good = default_toml("n1", "ro-igpf", "RO", "127.0.0.1:9000", "data");
        let quantile = limes_hotlist::MatchPolicy::DEFAULT_CONFIRM_MIN_CAMERA_QUANTILE;
        for (bad, needle) in [
            (good.replace("reads_days = 30", "reads_days = 30\nextra = 1"), "extra"),
            (good.replace("country = \"RO\"", "country = \"Romania\""), "Romania"),
            (good.replace("reads_days = 30", "reads_days = 0"), "reads_days"),
            (good.replace("detections_days = 30", "detections_days = 0"), "detections_days"),
            (good.replace("confirm_min_confidence = 0.0", "confirm_min_confidence = 1.5"), "confirm_min_confidence"),
            (
                good.replace(
                    &format!("confirm_min_camera_quantile = {quantile:?}"),
                    "confirm_min_camera_quantile = 0.7",
                ),
                "confirm_min_camera_quantile",
            ),
            (good.replace("127.0.0.1:9000", "not-an-address"), "listen"),
            (good.replace("max_width = 16384", "max_width = 0"), "max_width"),
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = format!("{:#}", Config::load(&path).unwrap_err());
            assert!(err.contains(needle), "{err:?} should name {needle:?}");
        }
    }
}
