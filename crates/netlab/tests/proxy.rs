//! `FaultProxy` with real sockets: an echo server behind it, clients in front.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use limes_netlab::{FaultProxy, Latency, Mode, RandomCuts};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Long enough that a test waiting this long has surely failed, never a measure of speed.
const PATIENCE: Duration = Duration::from_secs(20);

/// An echo server on loopback, counting the connections it accepted.
struct Echo {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
}

async fn echo_server() -> Echo {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the echo server");
    let addr = listener.local_addr().expect("echo server address");
    let connections = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let (mut read, mut write) = socket.split();
                // Echo until end of stream, then end ours: `copy` returns and the socket closes.
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    Echo { addr, connections }
}

async fn connect(proxy: &FaultProxy) -> TcpStream {
    TcpStream::connect(proxy.local_addr()).await.expect("connect to the proxy")
}

async fn round_trip(client: &mut TcpStream, message: &[u8]) {
    client.write_all(message).await.expect("write through the proxy");
    let mut echo = vec![0; message.len()];
    tokio::time::timeout(PATIENCE, client.read_exact(&mut echo))
        .await
        .expect("the echo comes back")
        .expect("read the echo");
    assert_eq!(echo, message);
}

/// Reads until the connection ends; `Ok(0)` (a FIN) or an error (an RST) are both a close.
async fn assert_closed(client: &mut TcpStream) {
    let mut buffer = [0; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, client.read(&mut buffer)).await {
            Err(_) => panic!("the connection stayed open"),
            Ok(Ok(0) | Err(_)) => return,
            // Bytes the cut let through before it.
            Ok(Ok(_)) => {}
        }
    }
}

fn pseudo_random_bytes(length: usize) -> Vec<u8> {
    let mut state: u32 = 0x9e37_79b9;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_bytes_both_ways_and_ends_of_stream() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr).expect("start the proxy");
    assert_eq!(proxy.upstream(), echo.addr);
    assert!(proxy.local_addr().ip().is_loopback());

    let data = pseudo_random_bytes(1 << 20);
    let client = connect(&proxy).await;
    let (mut read, mut write) = client.into_split();
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        write.write_all(&sent).await?;
        // A half-close: the echo server sees the end, echoes the rest and ends its side.
        write.shutdown().await
    });
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, read.read_to_end(&mut received))
        .await
        .expect("the echo ends")
        .expect("read the echo");
    writer.await.expect("writer task").expect("write through the proxy");
    assert!(received == data, "the echo differs from what was sent ({} of {} bytes)", received.len(), data.len());

    let stats = proxy.stats();
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.bytes_to_upstream, data.len() as u64);
    assert_eq!(stats.bytes_to_client, data.len() as u64);
    assert_eq!(stats.cut, 0);
}

#[tokio::test]
async fn latency_is_added_each_way_and_can_change_while_connected() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr).expect("start the proxy");
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"warm").await;

    let latency = Latency { to_upstream: Duration::from_millis(80), to_client: Duration::from_millis(40) };
    proxy.set_latency(latency);
    for _ in 0..3 {
        let started = Instant::now();
        round_trip(&mut client, b"ping").await;
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(120), "round trip {elapsed:?} is shorter than 80 + 40 ms");
    }

    // Pipelined messages keep their order under latency.
    let messages: Vec<u8> = (0..=255).collect();
    for byte in &messages {
        client.write_all(&[*byte]).await.expect("write");
    }
    let mut echoed = vec![0; messages.len()];
    tokio::time::timeout(PATIENCE, client.read_exact(&mut echoed)).await.expect("echo").expect("read");
    assert_eq!(echoed, messages);

    // A new connection gets the latency too, the other way round.
    proxy.set_latency(Latency { to_upstream: Duration::ZERO, to_client: Duration::from_millis(100) });
    let mut second = connect(&proxy).await;
    let started = Instant::now();
    round_trip(&mut second, b"pong").await;
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn cut_all_closes_every_open_connection_and_new_ones_still_work() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr).expect("start the proxy");
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = connect(&proxy).await;
        round_trip(&mut client, b"before the cut").await;
        clients.push(client);
    }
    assert_eq!(proxy.stats().active, 3);

    proxy.cut_all();
    for client in &mut clients {
        assert_closed(client).await;
    }
    let stats = proxy.stats();
    assert_eq!(stats.cut, 3);
    assert_eq!(stats.active, 0);

    let mut after = connect(&proxy).await;
    round_trip(&mut after, b"after the cut").await;
    assert_eq!(proxy.stats().accepted, 4);
}

#[tokio::test]
async fn random_cuts_by_bytes_stop_a_connection_within_its_budget() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr).expect("start the proxy");
    let budget = 20_000;
    proxy.set_random_cuts(Some(RandomCuts::bytes_up_to(budget)));

    for _ in 0..5 {
        let client = connect(&proxy).await;
        let (mut read, mut write) = client.into_split();
        // More than the budget each way: the writer fails or finishes, the reader sees the cut.
        let writer = tokio::spawn(async move {
            let chunk = [7; 1024];
            for _ in 0..64 {
                if write.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        });
        let mut echoed = Vec::new();
        let end = tokio::time::timeout(PATIENCE, read.read_to_end(&mut echoed)).await.expect("the connection ends");
        if let Err(error) = &end {
            assert!(
                matches!(error.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe),
                "unexpected error {error}"
            );
        }
        writer.await.expect("writer task");
        assert!(echoed.len() as u64 <= budget, "{} bytes came back through a {budget}-byte budget", echoed.len());
    }
    let stats = proxy.stats();
    assert_eq!(stats.cut, 5);
    assert!(stats.bytes_to_upstream + stats.bytes_to_client <= 5 * budget);
}

#[tokio::test]
async fn random_cuts_by_lifetime_close_idle_connections() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr).expect("start the proxy");
    let mut untouched = connect(&proxy).await;
    // Used once, so it was accepted (and drew its cuts) before random cuts were set.
    round_trip(&mut untouched, b"accepted").await;
    proxy.set_random_cuts(Some(RandomCuts::lifetime_up_to(Duration::from_millis(200))));

    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(connect(&proxy).await);
    }
    for client in &mut clients {
        assert_closed(client).await;
    }
    assert_eq!(proxy.stats().cut, 4);
    // A connection accepted before the cuts were set keeps what it drew: nothing.
    round_trip(&mut untouched, b"still here").await;

    proxy.set_random_cuts(None);
    let mut uncut = connect(&proxy).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    round_trip(&mut uncut, b"no cuts any more").await;
}

#[tokio::test]
async fn refuse_mode_closes_the_port_and_up_opens_it_again() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr).expect("start the proxy");
    let mut open = connect(&proxy).await;
    // Used once, so the proxy has accepted it: one still in the kernel's queue would be reset.
    round_trip(&mut open, b"accepted").await;

    proxy.set_mode(Mode::Refuse).expect("refuse");
    for _ in 0..3 {
        let refused = TcpStream::connect(proxy.local_addr()).await;
        let error = refused.expect_err("a connect while refusing fails");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
    }
    // Open connections are left alone.
    round_trip(&mut open, b"open during refuse").await;

    proxy.set_mode(Mode::Up).expect("up again");
    let mut again = connect(&proxy).await;
    round_trip(&mut again, b"on the same port").await;
    assert_eq!(proxy.stats().accepted, 2);

    // And once more, the listening socket survives several rounds.
    proxy.set_mode(Mode::Refuse).expect("refuse");
    assert!(TcpStream::connect(proxy.local_addr()).await.is_err());
    proxy.set_mode(Mode::Up).expect("up again");
    round_trip(&mut connect(&proxy).await, b"third round").await;
}

#[tokio::test]
async fn blackhole_mode_accepts_and_stays_silent_until_cut() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr).expect("start the proxy");
    proxy.set_mode(Mode::Blackhole).expect("blackhole");

    let mut client = connect(&proxy).await;
    client.write_all(b"anyone there?").await.expect("a write is buffered");
    let mut buffer = [0; 16];
    let silent = tokio::time::timeout(Duration::from_millis(300), client.read(&mut buffer)).await;
    assert!(silent.is_err(), "a blackholed connection answered: {silent:?}");
    assert_eq!(echo.connections.load(Ordering::Relaxed), 0, "nothing reached the upstream");
    assert_eq!(proxy.stats().blackholed, 1);

    proxy.cut_all();
    assert_closed(&mut client).await;

    proxy.set_mode(Mode::Up).expect("up");
    round_trip(&mut connect(&proxy).await, b"forwarded again").await;
    assert_eq!(echo.connections.load(Ordering::Relaxed), 1);
}

/// A TLS echo server for `localhost` with a fresh self-signed certificate, and a client
/// configuration that trusts it.
async fn tls_echo_server() -> (SocketAddr, tokio_rustls::TlsConnector) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .expect("server configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the TLS server");
    let addr = listener.local_addr().expect("TLS server address");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(socket).await else { return };
                let (mut read, mut write) = tokio::io::split(stream);
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate).expect("trust the certificate");
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (addr, tokio_rustls::TlsConnector::from(Arc::new(client_config)))
}

#[tokio::test]
async fn tls_passes_through_with_latency_and_a_cut_is_no_clean_end() {
    let (upstream, connector) = tls_echo_server().await;
    let proxy = FaultProxy::start(upstream).expect("start the proxy");
    proxy.set_latency(Latency::symmetric(Duration::from_millis(20)));
    let name = ServerName::try_from("localhost").expect("server name");

    let socket = connect(&proxy).await;
    let started = Instant::now();
    let mut tls = tokio::time::timeout(PATIENCE, connector.connect(name.clone(), socket))
        .await
        .expect("the handshake ends")
        .expect("a TLS handshake through the proxy");
    let message = pseudo_random_bytes(64 * 1024);
    tls.write_all(&message).await.expect("write over TLS");
    let mut echo = vec![0; message.len()];
    tokio::time::timeout(PATIENCE, tls.read_exact(&mut echo))
        .await
        .expect("the echo comes back")
        .expect("read over TLS");
    assert!(echo == message, "the echo over TLS differs");
    // At least the handshake's round trip and the echo's, each 2 × 20 ms.
    assert!(started.elapsed() >= Duration::from_millis(80), "{:?}", started.elapsed());
    let stats = proxy.stats();
    assert!(stats.bytes_to_upstream > message.len() as u64, "records and handshake add bytes: {stats:?}");

    // A cut is not a clean TLS close (no close_notify): the client gets an error, never Ok(0).
    proxy.cut_all();
    let mut buffer = [0; 16];
    let after_cut = tokio::time::timeout(PATIENCE, tls.read(&mut buffer)).await.expect("the cut is seen");
    assert!(after_cut.is_err(), "a cut TLS stream read {after_cut:?}");

    // A new session works after the cut.
    let mut again = connector.connect(name, connect(&proxy).await).await.expect("a new handshake");
    again.write_all(b"again").await.expect("write");
    let mut echo = [0; 5];
    again.read_exact(&mut echo).await.expect("read");
    assert_eq!(&echo, b"again");
}

#[tokio::test]
async fn an_unreachable_upstream_resets_the_client() {
    // A port nobody listens on: bound, its number kept, closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address");
    let proxy = FaultProxy::start(closed).expect("start the proxy");
    let mut client = connect(&proxy).await;
    assert_closed(&mut client).await;
    assert_eq!(proxy.stats().upstream_failures, 1);
}

#[tokio::test]
async fn dropping_the_proxy_stops_it() {
    let echo = echo_server().await;
    let proxy = FaultProxy::start(echo.addr).expect("start the proxy");
    let addr = proxy.local_addr();
    let mut client = connect(&proxy).await;
    round_trip(&mut client, b"hello").await;

    drop(proxy);
    assert_closed(&mut client).await;
    let error = TcpStream::connect(addr).await.expect_err("nobody listens after the drop");
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
}
