//! Publishing to an MQTT broker as a camera does: one connection, messages at QoS 0 or 1,
//! and a count of what the broker acknowledged. Serves `limes simulate --mqtt` and
//! `limes bench mqtt`, on plain `mqtt://` brokers and on `mqtts://` ones (TLS, optionally
//! with a client certificate: the flags of [`TlsArgs`], which are `[mqtt.tls]` for a node).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Args;
use limes_mqtt::TlsConfig;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// TLS to an `mqtts://` broker, the flags that stand for a node's `[mqtt.tls]`.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// For an mqtts:// broker (required there): PEM file of the CA certificates that may have
    /// issued the broker's certificate.
    #[arg(long, value_name = "PEM")]
    pub mqtt_ca: Option<PathBuf>,
    /// PEM file of a client certificate, for a broker that requires one (mutual TLS).
    #[arg(long, value_name = "PEM", requires = "mqtt_key")]
    pub mqtt_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[arg(long, value_name = "PEM", requires = "mqtt_cert")]
    pub mqtt_key: Option<PathBuf>,
}

/// A broker to publish to: its URL and, for `mqtts://`, the TLS files.
#[derive(Debug, Clone)]
pub struct Broker {
    pub url: String,
    pub tls: Option<TlsConfig>,
}

impl Broker {
    /// The broker at `url` with the TLS flags `tls`: an `mqtts://` URL needs `--mqtt-ca`, a
    /// plain one takes no TLS flag. The files are read when connecting.
    pub fn new(url: &str, tls: &TlsArgs) -> anyhow::Result<Self> {
        let address = limes_mqtt::broker_address(url).map_err(|e| anyhow::anyhow!(e))?;
        let tls = match (&tls.mqtt_ca, address.tls) {
            (Some(ca), true) => Some(TlsConfig {
                ca_file: ca.clone(),
                cert_file: tls.mqtt_cert.clone(),
                key_file: tls.mqtt_key.clone(),
            }),
            (None, true) => {
                bail!("{url} is a TLS broker: give the CA certificate that issued its certificate (--mqtt-ca)")
            }
            (None, false) if tls.mqtt_cert.is_none() => None,
            _ => bail!("--mqtt-ca, --mqtt-cert and --mqtt-key are for a TLS broker: {url} is plain TCP (use mqtts://)"),
        };
        Ok(Self { url: url.to_owned(), tls })
    }
}

/// One publishing connection.
#[derive(Debug)]
pub struct Publisher {
    client: AsyncClient,
    qos: QoS,
    published: u64,
    /// PUBACKs received (QoS 1).
    acked: Arc<AtomicU64>,
    eventloop: JoinHandle<anyhow::Result<()>>,
}

/// `0` or `1` as a [`QoS`].
pub fn qos(level: u8) -> anyhow::Result<QoS> {
    match level {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        other => bail!("QoS {other} is not 0 or 1"),
    }
}

impl Publisher {
    /// Connects to `broker` as `client_id`, with up to `inflight` QoS 1 messages
    /// unacknowledged, and returns once the broker has accepted the connection.
    pub async fn connect(broker: &Broker, client_id: &str, qos: QoS, inflight: u16) -> anyhow::Result<Self> {
        let url = &broker.url;
        let address = limes_mqtt::broker_address(url).map_err(|e| anyhow::anyhow!(e))?;
        let mut o = MqttOptions::new(client_id, address.host, address.port);
        if let Some(tls) = &broker.tls {
            let config = tls.client_config().with_context(|| format!("TLS to {url}"))?;
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
        }
        o.set_keep_alive(Duration::from_secs(30));
        o.set_inflight(inflight.max(1));
        o.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(o, 4_096);
        let acked = Arc::new(AtomicU64::new(0));
        let (connected_tx, connected) = oneshot::channel();
        let eventloop = {
            let acked = acked.clone();
            tokio::spawn(async move {
                let mut connected_tx = Some(connected_tx);
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            if let Some(tx) = connected_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(Event::Incoming(Packet::PubAck(_))) => {
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Event::Outgoing(Outgoing::Disconnect)) => return Ok(()),
                        Ok(_) => {}
                        // Reconnecting would resend what the session kept, and a camera's
                        // simulation has no use for that: a lost connection ends the run.
                        Err(e) => {
                            return Err(
                                anyhow::anyhow!(limes_mqtt::describe_connection_error(&e)).context("MQTT connection")
                            );
                        }
                    }
                }
            })
        };
        match tokio::time::timeout(Duration::from_secs(10), connected).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => match eventloop.await {
                Ok(Err(e)) => return Err(e.context(format!("connecting to {url}"))),
                _ => bail!("connecting to {url}: the connection ended"),
            },
            Err(_) => {
                eventloop.abort();
                bail!("connecting to {url}: no answer within 10 s");
            }
        }
        Ok(Self { client, qos, published: 0, acked, eventloop })
    }

    /// Queues one message; waits while the connection's queue is full.
    pub async fn publish(&mut self, topic: &str, payload: Bytes) -> anyhow::Result<()> {
        self.client.publish_bytes(topic, self.qos, false, payload).await.context("the MQTT connection ended")?;
        self.published += 1;
        Ok(())
    }

    /// Messages queued so far.
    pub fn published(&self) -> u64 {
        self.published
    }

    /// Waits until the broker has acknowledged every message (QoS 1; at QoS 0 until every
    /// message is written), then disconnects. Returns the messages acknowledged.
    pub async fn finish(self, timeout: Duration) -> anyhow::Result<u64> {
        let deadline = tokio::time::Instant::now() + timeout;
        if self.qos != QoS::AtMostOnce {
            while self.acked.load(Ordering::Relaxed) < self.published {
                if tokio::time::Instant::now() > deadline || self.eventloop.is_finished() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        // The disconnect is queued after every publish, so it is sent after them.
        let _ = self.client.disconnect().await;
        match tokio::time::timeout_at(deadline, self.eventloop).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => bail!("the broker did not take every message within {timeout:?}"),
        }
        let acked = self.acked.load(Ordering::Relaxed);
        Ok(if self.qos == QoS::AtMostOnce { self.published } else { acked })
    }
}
