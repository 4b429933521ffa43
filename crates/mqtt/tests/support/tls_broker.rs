//! A Mosquitto that the test starts with a TLS listener only (no plain TCP), and the
//! certificates for it, made with rcgen: a test CA, the broker's certificate (for 127.0.0.1
//! and localhost), a client certificate from the same CA, and another CA with a broker
//! certificate of its own, which clients that trust the test CA must refuse.
//!
//! Shared by the MQTT tests of `limes-mqtt` and of the `limes` binary (`#[path]`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, Transport};
use tokio::sync::mpsc::UnboundedReceiver;

/// The test's certificates, as PEM files in a temporary folder.
pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The test CA, which issued the broker's and the client's certificates.
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    /// A certificate for the same names from a CA nobody trusts.
    foreign_server_cert: PathBuf,
    foreign_server_key: PathBuf,
}

fn ca(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    (Issuer::new(params, key), pem)
}

/// A certificate and key issued by `issuer`, as PEM.
fn leaf(issuer: &Issuer<'static, KeyPair>, name: &str, usage: ExtendedKeyUsagePurpose) -> (String, String) {
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().unwrap();
    (params.signed_by(&key, issuer).unwrap().pem(), key.serialize_pem())
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        let (test_ca, test_ca_pem) = ca("limes test CA");
        let (other_ca, _) = ca("some other CA");
        let (server_cert, server_key) = leaf(&test_ca, "broker", ExtendedKeyUsagePurpose::ServerAuth);
        let (client_cert, client_key) = leaf(&test_ca, "ro-siret-1", ExtendedKeyUsagePurpose::ClientAuth);
        let (foreign_cert, foreign_key) = leaf(&other_ca, "broker", ExtendedKeyUsagePurpose::ServerAuth);
        Self {
            ca: write("ca.pem", &test_ca_pem),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            foreign_server_cert: write("foreign-server.pem", &foreign_cert),
            foreign_server_key: write("foreign-server.key", &foreign_key),
            dir,
        }
    }
}

/// How the broker's TLS listener is set up.
#[derive(Debug, Clone, Copy)]
pub struct Listener {
    /// Refuse clients without a certificate of the test CA (mutual TLS).
    pub require_client_certificate: bool,
    /// Show the certificate of the other CA instead of the test CA's.
    pub foreign_certificate: bool,
}

/// A running `mosquitto` with one TLS listener on 127.0.0.1; ended when dropped.
pub struct TlsBroker {
    pub port: u16,
    /// `mqtts://127.0.0.1:<port>`.
    pub url: String,
    child: Child,
    log: PathBuf,
}

/// Clients made so far, for unique client ids.
static CLIENTS: AtomicU64 = AtomicU64::new(0);

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl TlsBroker {
    /// Starts a broker on `port` with the certificates of `pki`, and waits until it listens.
    pub fn start(pki: &Pki, port: u16, listener: Listener) -> Self {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]
            .into_iter()
            .find(|b| Path::new(b).exists())
            .expect("no `mosquitto` to start a TLS broker (scripts/test installs it)");
        let (cert, key) = if listener.foreign_certificate {
            (&pki.foreign_server_cert, &pki.foreign_server_key)
        } else {
            (&pki.server_cert, &pki.server_key)
        };
        let config = pki.dir.path().join(format!("mosquitto-{port}.conf"));
        std::fs::write(
            &config,
            format!(
                "# Run as root, Mosquitto would become the `mosquitto` user, who cannot read this folder.\n\
                 user root\n\
                 persistence false\n\
                 log_dest stderr\n\
                 listener {port} 127.0.0.1\n\
                 allow_anonymous true\n\
                 cafile {}\n\
                 certfile {}\n\
                 keyfile {}\n\
                 require_certificate {}\n",
                pki.ca.display(),
                cert.display(),
                key.display(),
                listener.require_client_certificate,
            ),
        )
        .unwrap();
        let log = pki.dir.path().join(format!("mosquitto-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        let mut broker = Self { port, url: format!("mqtts://127.0.0.1:{port}"), child, log };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = broker.child.try_wait().unwrap();
            assert!(
                exited.is_none() && start.elapsed() < Duration::from_secs(10),
                "mosquitto did not start ({exited:?}): {}",
                broker.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    /// A camera's connection, made with rumqttc's own PEM handling (not limes's), with the
    /// client certificate; subscribed to `listen` if given, whose messages come out of the
    /// receiver. Returns once connected (and subscribed).
    pub async fn client(&self, pki: &Pki, listen: Option<&str>) -> (AsyncClient, UnboundedReceiver<Vec<u8>>) {
        let id = format!("camera-{}-{}", std::process::id(), CLIENTS.fetch_add(1, Ordering::Relaxed));
        let mut o = MqttOptions::new(id, "127.0.0.1", self.port);
        let ca = std::fs::read(&pki.ca).unwrap();
        let identity = (std::fs::read(&pki.client_cert).unwrap(), std::fs::read(&pki.client_key).unwrap());
        o.set_transport(Transport::tls(ca, Some(identity), None));
        let (c, mut eventloop) = AsyncClient::new(o, 100);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (sub, listen) = (c.clone(), listen.map(str::to_owned));
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => match &listen {
                        Some(topic) => sub.subscribe(topic.as_str(), QoS::AtLeastOnce).await.unwrap(),
                        None => drop(ready.take().map(|r| r.send(Ok(())))),
                    },
                    Ok(Event::Incoming(Packet::SubAck(_))) => drop(ready.take().map(|r| r.send(Ok(())))),
                    Ok(Event::Incoming(Packet::Publish(p))) => drop(tx.send(p.payload.to_vec())),
                    Ok(_) => {}
                    Err(e) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(Err(e.to_string()));
                        }
                        return;
                    }
                }
            }
        });
        let connected = tokio::time::timeout(Duration::from_secs(10), ready_rx).await.expect("the camera connects");
        connected.unwrap().unwrap_or_else(|e| panic!("the camera's TLS connection: {e}\n{}", self.log()));
        (c, rx)
    }

    /// What the broker logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
