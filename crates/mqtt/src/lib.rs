//! MQTT at the edge of a limes node: camera analytics in, alerts out.
//!
//! Cameras and video systems publish what they see on a broker: ONVIF Profile M
//! metadata in its JSON form (`onvif-mj`), Frigate's `frigate/events` and
//! `frigate/tracked_object_update`, AXIS License Plate Verifier push events, or limes's
//! own read JSON. [`run`] subscribes to the configured topics, parses each message with
//! `limes-camera-formats`, maps its source to a registered camera ([`MqttConfig::cameras`]),
//! and hands plate reads to the node's ingest path (`limes_server::ingest_reads`) and face,
//! person and vehicle detections to `limes_server::ingest_detections`, in batches, like an
//! HTTP POST. Alerts are published back on [`MqttConfig::alerts_topic`].
//!
//! Patrol units report on their own topics ([`MessageFormat::LimesPatrol`]:
//! `…/{agency}/{code}/position` and `…/status`, JSON): positions are judged and stored as
//! `POST /api/v1/patrols/units/{agency}/{code}/positions` stores them
//! (`limes_server::patrols::report`), after the batch before theirs, so a unit's positions
//! are taken in the order they came.
//!
//! Detections keep what the camera estimated (kind, age range, gender, box, zone, its
//! tracking number), never identity: the parsers drop names a source attaches (Frigate's
//! `sub_label`). A tracked object gives one stored detection per kind, its first report,
//! until it goes unreported for a minute or its track ends.
//!
//! # Delivery
//!
//! Subscriptions at QoS 1 use manual acknowledgement: a message is acknowledged to the
//! broker only after the batch it was in (its reads and its detections) is durably stored (or refused for good: a
//! malformed payload is acknowledged and counted, since redelivering it cannot help). A
//! node that stops before acknowledging gets the message again from the broker's
//! session; the reads are stored at least once. At QoS 0 the broker keeps nothing, and
//! a message in a batch not yet committed when the node stops is lost: choose QoS 0 only
//! where the cameras publish at QoS 0 anyway.
//!
//! A broker lets only a few unacknowledged messages be in flight per client (Mosquitto:
//! 20). With acknowledgement after a disk commit, that bounds one connection's rate, so
//! [`MqttConfig::connections`] opens several that share the subscriptions
//! (`$share/<group>/<topic>`).
//!
//! # Batches
//!
//! A batch closes when it holds [`MqttConfig::batch`] messages, [`MqttConfig::linger_ms`]
//! after its first, or after a millisecond without messages (at QoS 1 the broker sends no
//! more until it hears back). Two batches are under way at once: one is committed while the
//! next is decoded. Acknowledgements go out batch after batch, in the order the messages
//! came. Reads reach `ingest_reads` as domain records, without a detour through the HTTP
//! wire form.
//!
//! # TLS
//!
//! An `mqtts://` broker is reached over TLS (rustls on aws-lc-rs, TLS 1.2 and 1.3): its
//! certificate must be issued by a CA of [`TlsConfig::ca_file`] and name the URL's host; with
//! [`TlsConfig::cert_file`] and [`TlsConfig::key_file`] the node shows a client certificate
//! (mutual TLS). [`run`] reads the files before it connects, and a missing or malformed one
//! stops it with an error naming the file. A broker whose certificate is refused is retried
//! every second, as one that is down, and why is in [`MqttStats::last_connection_error`].
//!
//! # Bad input
//!
//! Every message is parsed on its own: a malformed payload, an unknown source or an
//! invalid read is counted per source ([`MqttStats`]) and logged, and never affects the
//! other messages of its batch or the connection. Payloads above
//! [`MqttConfig::max_payload_bytes`] are refused by the client before parsing.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use limes_camera_formats::{
    FormatError, Limits, Observation, Payload, TrackState, parse_axis_push_json, parse_frigate, parse_onvif_json,
    parse_onvif_xml,
};
use limes_cooperation::patrol::{Position, UnitId, UnitStatus, Verdict};
use limes_model::{CameraId, PlateRead};
use limes_server::patrols::PatrolFailure;
use limes_server::wire::ReadIn;
use limes_server::{AppState, Collector, DetectionItem, ingest_detections, ingest_reads};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS, TlsConfiguration, Transport};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

mod dedupe;
mod tls;

use dedupe::{DetectionDedupe, TrackDedupe};
pub use tls::{TlsError, describe_connection_error};

/// What a subscription's messages are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageFormat {
    /// ONVIF metadata, JSON form (`onvif-mj` topics).
    OnvifJson,
    /// ONVIF metadata, XML (`tt:MetadataStream` documents).
    OnvifXml,
    /// Frigate NVR `frigate/events` and `frigate/tracked_object_update`.
    Frigate,
    /// AXIS License Plate Verifier push-event JSON.
    AxisLpv,
    /// limes's own read JSON, as `POST /api/v1/reads` takes it (one read or an array).
    Limes,
    /// Patrol units reporting: on `…/{agency}/{code}/position` a position or an array of them
    /// as `POST /api/v1/patrols/units/{agency}/{code}/positions` takes it, on
    /// `…/{agency}/{code}/status` `{"status": "on-scene"}`.
    LimesPatrol,
}

impl MessageFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OnvifJson => "onvif-json",
            Self::OnvifXml => "onvif-xml",
            Self::Frigate => "frigate",
            Self::AxisLpv => "axis-lpv",
            Self::Limes => "limes",
            Self::LimesPatrol => "limes-patrol",
        }
    }
}

/// One topic filter and the format of what is published on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// An MQTT topic filter (`+` and `#` wildcards allowed).
    pub topic: String,
    pub format: MessageFormat,
    /// 0 or 1 (default 1: acknowledged only once stored).
    #[serde(default = "default_qos")]
    pub qos: u8,
}

fn default_qos() -> u8 {
    1
}

/// How a node talks to its broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:port` (plain TCP, port 1883 by default) or `mqtts://host:port` (TLS, port
    /// 8883 by default, with [`MqttConfig::tls`]).
    pub url: String,
    /// The client id; connection `i` of several adds `-i`. Keep it stable: the broker
    /// keeps unacknowledged messages for it across restarts.
    pub client_id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    /// Where alerts are published as JSON (QoS 1), if anywhere.
    #[serde(default)]
    pub alerts_topic: Option<String>,
    /// Where face counts a person confirmed are published as ONVIF metadata (JSON, QoS 1), on
    /// `{faces_topic}/{camera}`, if anywhere: faces with their estimated age and gender, which
    /// leave the node only once confirmed (EU AI Act Art. 14).
    #[serde(default)]
    pub faces_topic: Option<String>,
    /// Source keys (as `limes-camera-formats` names sources: `topic:…`, `name:…`,
    /// `mac:…`, `serial:…`) mapped to registered camera ids. A source not listed here is
    /// taken as the camera whose id equals its value (Frigate's camera name, say).
    #[serde(default)]
    pub cameras: BTreeMap<String, String>,
    /// Connections sharing the subscriptions (more than one uses `$share/limes/…`).
    #[serde(default = "one")]
    pub connections: usize,
    /// Most messages in one batch handed to ingest.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// How long a batch waits to fill at most, milliseconds. It closes sooner when no message
    /// has come for a millisecond: at QoS 1 the broker sends no more until it is acknowledged.
    #[serde(default = "default_linger")]
    pub linger_ms: u64,
    /// Largest message accepted, bytes.
    #[serde(default = "default_max_payload")]
    pub max_payload_bytes: usize,
    /// Whom to trust and who the node is on an `mqtts://` broker (`[mqtt.tls]`).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// The TLS side of a connection to an `mqtts://` broker: the broker's certificate must be
/// issued by a CA of [`TlsConfig::ca_file`] and name the URL's host (there is no way to accept
/// any certificate, nor the system's roots); the node shows a client certificate when the
/// broker asks for one (mutual TLS). Files are PEM; relative paths are relative to the
/// configuration file ([`MqttConfig::resolve_paths`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificates of the CAs that may have issued the broker's certificate.
    pub ca_file: PathBuf,
    /// The node's certificate, followed by any intermediate CA certificates.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The private key of [`TlsConfig::cert_file`] (PKCS #8, PKCS #1 or SEC1).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

fn one() -> usize {
    1
}
fn default_batch() -> usize {
    2_000
}
fn default_linger() -> u64 {
    5
}
fn default_max_payload() -> usize {
    1 << 20
}

impl MqttConfig {
    /// A configuration with the defaults for everything but the broker and client id.
    pub fn new(url: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client_id: client_id.into(),
            username: None,
            password: None,
            subscriptions: Vec::new(),
            alerts_topic: None,
            faces_topic: None,
            cameras: BTreeMap::new(),
            connections: 1,
            batch: default_batch(),
            linger_ms: default_linger(),
            max_payload_bytes: default_max_payload(),
            tls: None,
        }
    }

    /// Makes the TLS files' relative paths relative to `base` (the configuration's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(tls) = &mut self.tls {
            for path in [Some(&mut tls.ca_file), tls.cert_file.as_mut(), tls.key_file.as_mut()].into_iter().flatten() {
                if path.is_relative() {
                    *path = base.join(&*path);
                }
            }
        }
    }

    /// Checks what serde cannot, without reading the TLS files ([`TlsConfig::client_config`]
    /// reads them).
    pub fn validate(&self) -> Result<(), String> {
        let address = broker_address(&self.url)?;
        match (&self.tls, address.tls) {
            (None, true) => {
                return Err(format!(
                    "mqtt.url {:?} is a TLS broker: [mqtt.tls] ca_file must name the CA certificate that issued its certificate",
                    self.url
                ));
            }
            (Some(_), false) => {
                return Err(format!(
                    "[mqtt.tls] is set but mqtt.url {:?} is plain TCP: use mqtts:// for TLS",
                    self.url
                ));
            }
            (Some(tls), true) => tls.check().map_err(|e| format!("[mqtt.tls] {e}"))?,
            (None, false) => {}
        }
        options(self, 0, None)?;
        if self.connections == 0 || self.connections > 64 {
            return Err(format!("mqtt.connections is {}, must be 1 to 64", self.connections));
        }
        if self.batch == 0 {
            return Err("mqtt.batch must be at least 1".into());
        }
        for s in &self.subscriptions {
            if s.qos > 1 {
                return Err(format!("subscription {:?}: qos {} is not 0 or 1", s.topic, s.qos));
            }
            if s.topic.is_empty() {
                return Err("a subscription has an empty topic".into());
            }
        }
        for (key, camera) in &self.cameras {
            CameraId::new(camera.as_str()).map_err(|e| format!("mqtt.cameras {key:?}: {e}"))?;
        }
        Ok(())
    }
}

/// Counters for one source (a camera key, or the topic when the message named none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCounters {
    pub messages: u64,
    pub reads_accepted: u64,
    /// Reads refused by validation (unknown camera, time in the future…).
    pub reads_rejected: u64,
    /// Messages that did not parse.
    pub malformed: u64,
    /// Face, person and vehicle detections received.
    pub detections: u64,
    /// Detections stored.
    #[serde(default)]
    pub detections_stored: u64,
    /// Detections refused (unmapped source, values validation refuses…).
    #[serde(default)]
    pub detections_rejected: u64,
    /// Repeated reports of an already reported tracked object (reads and detections), or
    /// positions a unit reported already.
    pub duplicates: u64,
    /// Patrol units' positions stored.
    #[serde(default)]
    pub positions_accepted: u64,
    /// Patrol units' positions and statuses refused (unknown unit, outside WGS84, older than
    /// the unit's latest…).
    #[serde(default)]
    pub positions_rejected: u64,
    /// Patrol units' status changes applied.
    #[serde(default)]
    pub statuses: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// What the MQTT side has done, per source and in total.
#[derive(Debug, Default)]
pub struct MqttStats {
    pub messages: AtomicU64,
    pub connections_lost: AtomicU64,
    pub alerts_published: AtomicU64,
    /// Why the connection was last lost, if it ever was.
    pub last_connection_error: Mutex<Option<String>>,
    sources: Mutex<BTreeMap<String, SourceCounters>>,
}

impl MqttStats {
    /// The counters of every source seen.
    pub fn sources(&self) -> BTreeMap<String, SourceCounters> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds a batch's counters, taking the lock once.
    fn merge(&self, batch: Vec<(String, SourceCounters)>) {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        for (source, add) in batch {
            // A flood of made-up sources must not grow the map without bound.
            let key =
                if sources.len() >= 10_000 && !sources.contains_key(&source) { "(other)".to_owned() } else { source };
            let c = sources.entry(key).or_default();
            c.messages += add.messages;
            c.reads_accepted += add.reads_accepted;
            c.reads_rejected += add.reads_rejected;
            c.malformed += add.malformed;
            c.detections += add.detections;
            c.detections_stored += add.detections_stored;
            c.detections_rejected += add.detections_rejected;
            c.duplicates += add.duplicates;
            c.positions_accepted += add.positions_accepted;
            c.positions_rejected += add.positions_rejected;
            c.statuses += add.statuses;
            if add.last_error.is_some() {
                c.last_error = add.last_error;
            }
        }
    }
}

/// Why the MQTT side could not start.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("mqtt config: {0}")]
    Config(String),
    /// A TLS file could not be used.
    #[error("mqtt: {0}")]
    Tls(#[from] TlsError),
    #[error("mqtt client: {0}")]
    Client(#[from] rumqttc::ClientError),
}

/// Where a broker is, from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    /// `mqtts://`: TLS over TCP.
    pub tls: bool,
}

/// The address of a broker URL: `mqtt://host:port` (or `tcp://`; port 1883 when not given)
/// or, for TLS, `mqtts://host:port` (or `ssl://`; port 8883 when not given).
pub fn broker_address(url: &str) -> Result<BrokerAddress, String> {
    let url = url.trim();
    let (rest, tls) = if let Some(rest) = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://")) {
        (rest, false)
    } else if let Some(rest) = url.strip_prefix("mqtts://").or_else(|| url.strip_prefix("ssl://")) {
        (rest, true)
    } else {
        return Err(format!("mqtt.url {url:?} must start with mqtt:// or, for TLS, mqtts://"));
    };
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("mqtt.url {url:?}: port {p:?} is not a number"))?),
        None => (rest.trim_end_matches('/'), default_port),
    };
    if host.is_empty() {
        return Err(format!("mqtt.url {url:?} names no host"));
    }
    if tls {
        // The name the broker's certificate must hold.
        rustls::pki_types::ServerName::try_from(host)
            .map_err(|_| format!("mqtt.url {url:?}: {host:?} is neither a DNS name nor an IP address"))?;
    }
    Ok(BrokerAddress { host: host.to_owned(), port, tls })
}

/// The client options of connection `connection`; `tls` is the TLS side of an `mqtts://`
/// broker ([`TlsConfig::client_config`]), `None` only while validating.
fn options(cfg: &MqttConfig, connection: usize, tls: Option<&Transport>) -> Result<MqttOptions, String> {
    let client_id = if cfg.connections > 1 { format!("{}-{connection}", cfg.client_id) } else { cfg.client_id.clone() };
    let address = broker_address(&cfg.url)?;
    if client_id.is_empty() {
        return Err("mqtt.client_id is empty".into());
    }
    let mut o = MqttOptions::new(client_id, address.host, address.port);
    if let Some(transport) = tls {
        o.set_transport(transport.clone());
    }
    o.set_keep_alive(Duration::from_secs(30));
    // Unacknowledged messages survive a reconnect or restart in the broker's session.
    o.set_clean_session(false);
    o.set_manual_acks(true);
    // The protocol's own limit: a message the client refused would cost the connection, and
    // at QoS 1 the broker would deliver it again on every reconnect. Oversized messages are
    // refused one by one instead ([`MqttConfig::max_payload_bytes`]).
    o.set_max_packet_size(MQTT_MAX_PACKET, 1 << 20);
    o.set_inflight(100);
    if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
        o.set_credentials(u.clone(), p.clone());
    }
    Ok(o)
}

/// The largest packet MQTT allows (its remaining-length field tops out at 256 MiB).
const MQTT_MAX_PACKET: usize = 268_435_455;

/// A message taken from the broker, waiting to be ingested.
struct Incoming {
    publish: Publish,
    format: MessageFormat,
    /// Which connection it came on, to acknowledge it there.
    connection: usize,
}

/// Connects, subscribes and ingests until the process ends; reconnects after failures.
/// Returns only on a configuration error.
pub async fn run(state: AppState, cfg: MqttConfig, stats: Arc<MqttStats>) -> Result<(), MqttError> {
    cfg.validate().map_err(MqttError::Config)?;
    // Read once, before connecting: a bad file stops the start, naming the file.
    let tls = match &cfg.tls {
        Some(tls) => Some(Transport::tls_with_config(TlsConfiguration::Rustls(tls.client_config()?))),
        None => None,
    };
    let (tx, rx) = mpsc::channel::<Incoming>(cfg.batch.max(64) * 4);
    let mut clients = Vec::new();
    for connection in 0..cfg.connections {
        let options = options(&cfg, connection, tls.as_ref()).map_err(MqttError::Config)?;
        let (client, eventloop) = AsyncClient::new(options, 1_024);
        tokio::spawn(receive(client.clone(), eventloop, cfg.clone(), connection, tx.clone(), stats.clone()));
        clients.push(client);
    }
    drop(tx);
    if let Some(topic) = cfg.alerts_topic.clone() {
        tokio::spawn(publish_alerts(state.clone(), clients[0].clone(), topic, stats.clone()));
    }
    if let Some(topic) = cfg.faces_topic.clone() {
        tokio::spawn(publish_faces(state.clone(), clients[0].clone(), topic));
    }
    ingest_loop(state, cfg, clients, rx, stats).await;
    Ok(())
}

/// Drives one connection: (re)subscribes on every connect and forwards publishes.
async fn receive(
    client: AsyncClient,
    mut eventloop: EventLoop,
    cfg: MqttConfig,
    connection: usize,
    tx: mpsc::Sender<Incoming>,
    stats: Arc<MqttStats>,
) {
    // Topic filters are matched in order; the first that matches gives the format.
    let filters: Vec<(String, MessageFormat)> = cfg.subscriptions.iter().map(|s| (s.topic.clone(), s.format)).collect();
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(connection, url = %cfg.url, "mqtt connected");
                for s in &cfg.subscriptions {
                    let topic = if cfg.connections > 1 { format!("$share/limes/{}", s.topic) } else { s.topic.clone() };
                    let qos = if s.qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
                    if let Err(e) = client.subscribe(topic, qos).await {
                        tracing::warn!(error = %e, "mqtt subscribe");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                stats.messages.fetch_add(1, Ordering::Relaxed);
                let format = filters.iter().find(|(f, _)| topic_matches(f, &publish.topic)).map(|(_, f)| *f);
                let Some(format) = format else {
                    // A retained or stray message on a topic we no longer want.
                    let _ = client.ack(&publish).await;
                    continue;
                };
                if tx.send(Incoming { publish, format, connection }).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                stats.connections_lost.fetch_add(1, Ordering::Relaxed);
                let error = describe_connection_error(&e);
                tracing::warn!(connection, %error, "mqtt connection lost; retrying in 1 s");
                *stats.last_connection_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Whether an MQTT topic filter matches a topic (`+` one level, `#` the rest). A
/// `$share/group/` prefix is not part of the filter's match.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Batches ingested at once: while one is being committed, the next is read and decoded.
const PIPELINE: usize = 2;

/// A batch closes early when no message has come for this long: under QoS 1 the broker sends
/// no more until the batch is acknowledged, so waiting out the linger would only add delay.
const IDLE_CLOSE: Duration = Duration::from_millis(1);

/// Takes messages in batches, decodes them, ingests them and acknowledges them, in order.
///
/// Up to [`PIPELINE`] batches are under way: batch *n + 1* is taken from the connections and
/// decoded while batch *n* is committed. Acknowledgements still go out batch after batch, in
/// the order the messages came, and each only after its own batch is stored.
async fn ingest_loop(
    state: AppState,
    cfg: MqttConfig,
    clients: Vec<AsyncClient>,
    mut rx: mpsc::Receiver<Incoming>,
    stats: Arc<MqttStats>,
) {
    let limits = Limits { max_document_bytes: cfg.max_payload_bytes, ..Limits::default() };
    let linger = Duration::from_millis(cfg.linger_ms);
    let max_positions = state.options.patrols.max_positions;
    let clients = Arc::new(clients);
    let under_way = Arc::new(tokio::sync::Semaphore::new(PIPELINE));
    let mut dedupe = TrackDedupe::new(100_000);
    let mut detection_dedupe = DetectionDedupe::new(100_000);
    // Resolved once for the whole run: a configured source's camera id.
    let mapped: HashMap<String, Result<CameraId, String>> = cfg
        .cameras
        .iter()
        .map(|(source, id)| (source.clone(), CameraId::new(id.as_str()).map_err(|e| e.to_string())))
        .collect();
    // Signalled when the previous batch has been acknowledged.
    let mut previous: Option<tokio::sync::oneshot::Receiver<()>> = None;
    while let Some(first) = rx.recv().await {
        let mut batch: Vec<Incoming> = Vec::with_capacity(cfg.batch);
        batch.push(first);
        let deadline = tokio::time::Instant::now() + linger;
        'fill: while batch.len() < cfg.batch {
            while batch.len() < cfg.batch {
                match rx.try_recv() {
                    Ok(m) => batch.push(m),
                    Err(_) => break,
                }
            }
            if batch.len() >= cfg.batch {
                break;
            }
            let wait = deadline.min(tokio::time::Instant::now() + IDLE_CLOSE);
            match tokio::time::timeout_at(wait, rx.recv()).await {
                Ok(Some(m)) => batch.push(m),
                Ok(None) | Err(_) => break 'fill,
            }
        }
        let decoded = {
            let cameras = state.cameras.read().unwrap_or_else(|e| e.into_inner());
            decode_batch(&batch, &mapped, &cameras, &limits, &mut dedupe, &mut detection_dedupe, max_positions)
        };
        let Ok(permit) = under_way.clone().acquire_owned().await else { return };
        let (done, next) = tokio::sync::oneshot::channel();
        let wait_for = previous.replace(next);
        let (state, clients, stats) = (state.clone(), clients.clone(), stats.clone());
        tokio::spawn(async move {
            let Decoded { items, item_sources, detections, detection_sources, patrols, mut counters } = decoded;
            let total = items.len();
            let detections_total = detections.len();
            // Reads and detections go to the writer side by side (usually into one group
            // commit); the messages are acknowledged only once both are stored.
            let (reads, stored) = tokio::join!(
                async {
                    if items.is_empty() {
                        Ok(Vec::new())
                    } else {
                        ingest_reads(&state, &Collector::source(&state, "mqtt"), items).await.map(|r| r.rejected)
                    }
                },
                async {
                    if detections.is_empty() {
                        Ok(Vec::new())
                    } else {
                        ingest_detections(&state, &Collector::source(&state, "mqtt"), detections)
                            .await
                            .map(|r| r.rejected)
                    }
                },
            );
            // Acknowledge in order: after the batch before this one. Patrol reports are stored
            // only then too, so that a unit's positions are taken in the order they came.
            if let Some(previous) = wait_for {
                let _ = previous.await;
            }
            let patrols = if patrols.is_empty() { Ok(()) } else { store_patrols(&state, patrols, &mut counters).await };
            match (reads, stored, patrols) {
                (Ok(reads_rejected), Ok(detections_rejected), Ok(())) => {
                    for (&source, error) in item_sources.iter().zip(by_index(total, reads_rejected)) {
                        let c = &mut counters.list[source].1;
                        match error {
                            None => c.reads_accepted += 1,
                            Some(e) => {
                                c.reads_rejected += 1;
                                c.last_error = Some(e);
                            }
                        }
                    }
                    for (&source, error) in
                        detection_sources.iter().zip(by_index(detections_total, detections_rejected))
                    {
                        let c = &mut counters.list[source].1;
                        match error {
                            None => c.detections_stored += 1,
                            Some(e) => {
                                c.detections_rejected += 1;
                                c.last_error = Some(e);
                            }
                        }
                    }
                    stats.merge(counters.list);
                    for m in &batch {
                        let _ = clients[m.connection].ack(&m.publish).await;
                    }
                }
                (reads, detections, patrols) => {
                    // Not stored: leave the messages unacknowledged; the broker delivers them
                    // again after the session is resumed (what was stored is then stored again:
                    // at least once). The counts of what was decoded stand.
                    let errors =
                        [reads.err().map(|e| e.to_string()), detections.err().map(|e| e.to_string()), patrols.err()];
                    for e in errors.into_iter().flatten() {
                        tracing::error!(error = %e, messages = batch.len(), "mqtt batch not stored");
                    }
                    for (_, c) in &mut counters.list {
                        c.reads_accepted = 0;
                        c.reads_rejected = 0;
                        c.detections_stored = 0;
                        c.detections_rejected = 0;
                    }
                    stats.merge(counters.list);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            let _ = done.send(());
            drop(permit);
        });
    }
}

/// The error of each of `n` items, by index, from a report's refusals.
fn by_index(n: usize, rejected: Vec<limes_server::wire::Rejected>) -> Vec<Option<String>> {
    let mut errors = vec![None; n];
    for r in rejected {
        if let Some(slot) = errors.get_mut(r.index) {
            *slot = Some(r.error);
        }
    }
    errors
}

/// What a batch's messages hold, ready to ingest.
struct Decoded {
    /// Each read (or why it cannot be one), numbered in the batch.
    items: Vec<(usize, Result<PlateRead, String>)>,
    /// For each item, its source's slot in `counters`.
    item_sources: Vec<usize>,
    /// Each detection (or why it cannot be one), numbered in the batch.
    detections: Vec<DetectionItem>,
    /// For each detection, its source's slot in `counters`.
    detection_sources: Vec<usize>,
    /// Patrol units' reports, in the order they came, each with its source's slot.
    patrols: Vec<(usize, PatrolReport)>,
    counters: BatchCounters,
}

/// What a patrol unit published.
enum PatrolReport {
    Positions(UnitId, Vec<Position>),
    Status(UnitId, UnitStatus),
}

/// The unit and what it reports, from `…/{agency}/{code}/position|status` and the payload.
fn decode_patrol(topic: &str, payload: &[u8], limits: &Limits, max_positions: usize) -> Result<PatrolReport, String> {
    let mut levels = topic.rsplit('/');
    let (kind, code, agency) = match (levels.next(), levels.next(), levels.next()) {
        (Some(k), Some(c), Some(a)) => (k, c, a),
        _ => return Err(format!("topic {topic:?} does not end in /AGENCY/CODE/position or /AGENCY/CODE/status")),
    };
    let unit = UnitId::new(agency, code).map_err(|e| e.to_string())?;
    if payload.len() > limits.max_document_bytes {
        return Err(format!("message of {} bytes is over the limit of {}", payload.len(), limits.max_document_bytes));
    }
    let text = std::str::from_utf8(payload).map_err(|e| format!("not UTF-8: {e}"))?;
    match kind {
        "position" => limes_server::patrols::parse_positions(text, max_positions)
            .map(|p| PatrolReport::Positions(unit, p))
            .map_err(|e| e.to_string()),
        "status" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct StatusBody {
                status: UnitStatus,
            }
            let b: StatusBody = serde_json::from_str(text).map_err(|e| format!("status: {e}"))?;
            Ok(PatrolReport::Status(unit, b.status))
        }
        other => Err(format!("topic {topic:?} ends in {other:?}, not position or status")),
    }
}

/// Stores a batch's patrol reports: the positions in one transaction, then the statuses.
/// Fails only when the store does (the batch is then not acknowledged).
async fn store_patrols(
    state: &AppState,
    reports: Vec<(usize, PatrolReport)>,
    counters: &mut BatchCounters,
) -> Result<(), String> {
    let by = Collector { role: "patrol-unit".into(), ..Collector::source(state, "mqtt") };
    let mut positions = Vec::new();
    let mut position_slots = Vec::new();
    let mut statuses = Vec::new();
    for (slot, r) in reports {
        match r {
            PatrolReport::Positions(unit, p) => {
                positions.push((unit, p));
                position_slots.push(slot);
            }
            PatrolReport::Status(unit, status) => statuses.push((slot, unit, status)),
        }
    }
    if !positions.is_empty() {
        let verdicts = limes_server::patrols::report(state, &by, positions).await.map_err(|e| e.to_string())?;
        for (slot, verdicts) in position_slots.into_iter().zip(verdicts) {
            let c = &mut counters.list[slot].1;
            for v in verdicts {
                match v {
                    Verdict::Accepted => c.positions_accepted += 1,
                    Verdict::Duplicate => c.duplicates += 1,
                    Verdict::Refused(e) => {
                        c.positions_rejected += 1;
                        c.last_error = Some(e.to_string());
                    }
                }
            }
        }
    }
    for (slot, unit, status) in statuses {
        let c = &mut counters.list[slot].1;
        match limes_server::patrols::set_status(state, &unit, status).await {
            Ok(_) | Err(PatrolFailure::Conflict(_)) => c.statuses += 1,
            Err(PatrolFailure::Failed(e)) => return Err(e),
            Err(e) => {
                c.positions_rejected += 1;
                c.last_error = Some(e.to_string());
            }
        }
    }
    Ok(())
}

/// Counters of a batch's sources, merged into [`MqttStats`] once the batch is done, and each
/// source's camera, looked up once per batch.
#[derive(Default)]
struct BatchCounters {
    slots: HashMap<String, usize>,
    list: Vec<(String, SourceCounters)>,
    cameras: Vec<Option<Result<CameraId, String>>>,
}

impl BatchCounters {
    fn slot(&mut self, source: &str) -> usize {
        if let Some(&i) = self.slots.get(source) {
            return i;
        }
        let i = self.list.len();
        self.slots.insert(source.to_owned(), i);
        self.list.push((source.to_owned(), SourceCounters::default()));
        self.cameras.push(None);
        i
    }
}

fn decode_batch(
    batch: &[Incoming],
    mapped: &HashMap<String, Result<CameraId, String>>,
    cameras: &HashMap<CameraId, limes_model::Camera>,
    limits: &Limits,
    dedupe: &mut TrackDedupe,
    detection_dedupe: &mut DetectionDedupe,
    max_positions: usize,
) -> Decoded {
    let now = Utc::now();
    let mut out = Decoded {
        items: Vec::with_capacity(batch.len()),
        item_sources: Vec::new(),
        detections: Vec::new(),
        detection_sources: Vec::new(),
        patrols: Vec::new(),
        counters: Default::default(),
    };
    let counters = &mut out.counters;
    for m in batch {
        let topic_source = || format!("topic:{}", m.publish.topic);
        if m.format == MessageFormat::LimesPatrol {
            let report = decode_patrol(&m.publish.topic, &m.publish.payload, limits, max_positions);
            let source = match &report {
                Ok(PatrolReport::Positions(unit, _) | PatrolReport::Status(unit, _)) => format!("unit:{unit}"),
                Err(_) => topic_source(),
            };
            let slot = counters.slot(&source);
            let c = &mut counters.list[slot].1;
            c.messages += 1;
            match report {
                Ok(r) => out.patrols.push((slot, r)),
                Err(e) => {
                    c.malformed += 1;
                    c.last_error = Some(e);
                }
            }
            continue;
        }
        let observations = match decode(m.format, &m.publish.topic, &m.publish.payload, limits) {
            Ok(o) => o,
            Err(Undecoded::Malformed(e)) => {
                let source = topic_source();
                tracing::debug!(%source, error = %e, "mqtt message refused");
                let slot = counters.slot(&source);
                let c = &mut counters.list[slot].1;
                c.messages += 1;
                c.malformed += 1;
                c.last_error = Some(e);
                continue;
            }
            Err(Undecoded::Reads(reads)) => {
                let slot = counters.slot(&topic_source());
                counters.list[slot].1.messages += 1;
                for r in reads {
                    out.items.push((out.items.len(), r.and_then(ReadIn::into_domain)));
                    out.item_sources.push(slot);
                }
                continue;
            }
        };
        let mut counted = false;
        for o in observations {
            let source = o.source.key().unwrap_or_else(topic_source);
            let slot = counters.slot(&source);
            let c = &mut counters.list[slot].1;
            if !counted {
                c.messages += 1;
                counted = true;
            }
            if let Payload::Detection(d) = &o.payload {
                c.detections += 1;
                if !detection_dedupe.first_report(&source, &o, d.kind, now) {
                    c.duplicates += 1;
                    continue;
                }
                let camera = counters.cameras[slot].get_or_insert_with(|| camera_for(mapped, cameras, &source)).clone();
                let source_format = o.format.as_str();
                let detection =
                    camera.and_then(|camera| o.into_detection(camera, now).ok_or_else(|| "not a detection".to_owned()));
                out.detections.push(DetectionItem { index: out.detections.len(), source_format, detection });
                out.detection_sources.push(slot);
                continue;
            }
            if !dedupe.first_report(&source, &o) {
                counters.list[slot].1.duplicates += 1;
                continue;
            }
            let camera = counters.cameras[slot].get_or_insert_with(|| camera_for(mapped, cameras, &source)).clone();
            let read = match camera {
                Ok(camera) => match o.into_plate_read(camera, now) {
                    Some(read) => Ok(read),
                    None => continue,
                },
                Err(e) => Err(e),
            };
            out.items.push((out.items.len(), read));
            out.item_sources.push(slot);
        }
    }
    out
}

/// A message's content when it is not observations: malformed, or (in limes's own format) reads.
enum Undecoded {
    Malformed(String),
    Reads(Vec<Result<ReadIn, String>>),
}

fn decode(format: MessageFormat, topic: &str, payload: &[u8], limits: &Limits) -> Result<Vec<Observation>, Undecoded> {
    let malformed = |e: FormatError| Undecoded::Malformed(e.to_string());
    match format {
        MessageFormat::OnvifJson => parse_onvif_json(payload, Some(topic), limits).map_err(malformed),
        MessageFormat::OnvifXml => parse_onvif_xml(payload, Some(topic), limits).map_err(malformed),
        MessageFormat::Frigate => parse_frigate(payload, limits).map_err(malformed),
        MessageFormat::AxisLpv => parse_axis_push_json(payload, limits).map_err(malformed),
        // Taken apart before: `decode_patrol`.
        MessageFormat::LimesPatrol => Ok(vec![]),
        MessageFormat::Limes => {
            if payload.len() > limits.max_document_bytes {
                return Err(Undecoded::Malformed(format!(
                    "message of {} bytes is over the limit of {}",
                    payload.len(),
                    limits.max_document_bytes
                )));
            }
            let value: serde_json::Value =
                serde_json::from_slice(payload).map_err(|e| Undecoded::Malformed(format!("JSON: {e}")))?;
            let values = match value {
                serde_json::Value::Array(items) => items,
                one => vec![one],
            };
            Err(Undecoded::Reads(
                values.into_iter().map(|v| serde_json::from_value(v).map_err(|e| e.to_string())).collect(),
            ))
        }
    }
}

/// The registered camera a source stands for.
fn camera_for(
    mapped: &HashMap<String, Result<CameraId, String>>,
    cameras: &HashMap<CameraId, limes_model::Camera>,
    source: &str,
) -> Result<CameraId, String> {
    if let Some(id) = mapped.get(source) {
        return id.clone();
    }
    // `name:front_door` is the camera `front_door` if one is registered under that id.
    let value = source.split_once(':').map_or(source, |(_, v)| v);
    match CameraId::new(value) {
        Ok(id) if cameras.contains_key(&id) => Ok(id),
        _ => Err(format!("source {source:?} is not mapped to a camera (add it to [mqtt.cameras])")),
    }
}

/// Publishes every alert the node raises, as JSON, at QoS 1.
async fn publish_alerts(state: AppState, client: AsyncClient, topic: String, stats: Arc<MqttStats>) {
    let mut alerts = state.alerts.subscribe();
    loop {
        match alerts.recv().await {
            // A restricted plate's alerts never leave the node; a partner's alerts are not
            // passed on (onward transfer is the partner's to allow).
            Ok(alert) if state.is_restricted(&alert.plate) || alert.origin.is_some() => {}
            Ok(alert) => {
                let payload = alert.json.as_bytes().to_vec();
                if client.publish(topic.as_str(), QoS::AtLeastOnce, false, payload).await.is_ok() {
                    stats.alerts_published.fetch_add(1, Ordering::Relaxed);
                    // A transfer (LED Art. 25): to whoever subscribes to the topic on the broker.
                    state.audit_transfer("mqtt", alert.id, serde_json::json!({ "topic": topic })).await;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "mqtt alert publisher lagged");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Publishes each face count a person confirms, as ONVIF metadata, on `{topic}/{camera}`; each
/// publish is logged as a transfer of the event.
async fn publish_faces(state: AppState, client: AsyncClient, topic: String) {
    let mut confirmed = state.analysis.confirmed_faces.subscribe();
    loop {
        match confirmed.recv().await {
            Ok(faces) => {
                let to = format!("{topic}/{}", faces.camera);
                if client.publish(to.as_str(), QoS::AtLeastOnce, false, faces.json.clone()).await.is_ok() {
                    let object = limes_audit::Object::new("event", faces.event);
                    state.audit_transfer_of("mqtt", object, serde_json::json!({ "topic": to })).await;
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "mqtt face publisher lagged");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// What is read and stored from one tracked object: the first report of each plate text.
pub(crate) fn plate_text(o: &Observation) -> Option<&str> {
    match &o.payload {
        Payload::Plate(p) => Some(p.plate.text.value.as_str()),
        Payload::Detection(_) => None,
    }
}

/// Whether `o` ends its object's track.
pub(crate) fn ends_track(o: &Observation) -> bool {
    o.track == Some(TrackState::End)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_filters_match_like_a_broker() {
        for (filter, topic, ok) in [
            ("a/b", "a/b", true),
            ("a/+", "a/b", true),
            ("a/+", "a/b/c", false),
            ("a/#", "a/b/c", true),
            ("#", "x", true),
            ("frigate/events", "frigate/reviews", false),
            ("+/onvif-mj/#", "MyDevice/onvif-mj/VideoAnalytics/1", true),
            ("a/b", "a", false),
        ] {
            assert_eq!(topic_matches(filter, topic), ok, "{filter} {topic}");
        }
    }

    #[test]
    fn broker_urls_give_host_port_and_transport() {
        let address = |host: &str, port, tls| Ok(BrokerAddress { host: host.into(), port, tls });
        assert_eq!(broker_address("mqtt://127.0.0.1"), address("127.0.0.1", 1883, false));
        assert_eq!(broker_address("tcp://b:1884/"), address("b", 1884, false));
        assert_eq!(broker_address("mqtts://broker.example"), address("broker.example", 8883, true));
        assert_eq!(broker_address("ssl://10.0.0.1:9883"), address("10.0.0.1", 9883, true));
        assert!(broker_address("mqtts://bad_name!:8883").unwrap_err().contains("DNS name"));
        assert!(broker_address("https://b").unwrap_err().contains("mqtts://"));
    }

    #[test]
    fn tls_paths_are_relative_to_the_configuration() {
        let mut cfg = MqttConfig::new("mqtts://b", "n");
        cfg.tls = Some(TlsConfig {
            ca_file: "ca.pem".into(),
            cert_file: Some("/etc/limes/node.pem".into()),
            key_file: Some("keys/node.key".into()),
        });
        cfg.resolve_paths(Path::new("/etc/limes"));
        let tls = cfg.tls.unwrap();
        assert_eq!(tls.ca_file, Path::new("/etc/limes/ca.pem"));
        assert_eq!(tls.cert_file.unwrap(), Path::new("/etc/limes/node.pem"));
        assert_eq!(tls.key_file.unwrap(), Path::new("/etc/limes/keys/node.key"));
    }

    #[test]
    fn configs_are_checked() {
        let mut cfg = MqttConfig::new("mqtt://127.0.0.1:1883", "node-1");
        assert_eq!(cfg.validate(), Ok(()));
        cfg.url = "http://x".into();
        assert!(cfg.validate().unwrap_err().contains("mqtt://"));
        cfg.url = "mqtt://host:port".into();
        assert!(cfg.validate().unwrap_err().contains("port"));
        cfg.url = "mqtt://host".into();
        assert_eq!(cfg.validate(), Ok(()));
        // TLS: an mqtts:// broker needs a CA to check its certificate against, and TLS files
        // with a plain URL are a mistake, not a quiet fallback to plain TCP.
        cfg.url = "mqtts://broker.police.example".into();
        assert!(cfg.validate().unwrap_err().contains("ca_file"));
        cfg.tls = Some(TlsConfig { ca_file: "ca.pem".into(), cert_file: None, key_file: None });
        assert_eq!(cfg.validate(), Ok(()));
        cfg.tls.as_mut().unwrap().key_file = Some("client.key".into());
        assert!(cfg.validate().unwrap_err().contains("without its certificate"));
        cfg.url = "mqtt://host".into();
        assert!(cfg.validate().unwrap_err().contains("mqtts://"));
        cfg.tls = None;
        cfg.subscriptions.push(Subscription { topic: "a/#".into(), format: MessageFormat::Frigate, qos: 2 });
        assert!(cfg.validate().unwrap_err().contains("qos 2"));
        cfg.subscriptions[0].qos = 1;
        cfg.cameras.insert("name:x".into(), "bad id".into());
        assert!(cfg.validate().unwrap_err().contains("name:x"));
    }
}
