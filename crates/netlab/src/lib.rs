//! Faults between real processes, for tests: a TCP proxy that delays and cuts connections.
//!
//! - [`FaultProxy`] (Tokio) listens on `127.0.0.1:0` (or an address you give) and forwards each
//!   connection to one upstream address. While it runs you can add one-way [`Latency`] each way,
//!   [`cut_all`](FaultProxy::cut_all) open connections, cut new ones at random
//!   ([`RandomCuts`]: after a random lifetime or number of bytes), and refuse or blackhole new
//!   connections ([`Mode`]). [`ProxyStats`] counts connections, cuts and bytes. It forwards bytes
//!   and never reads them, so TLS passes through. Dropping it stops it.
//!
//! A proxy between a client and an echo server, 50 ms each way:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use limes_netlab::{FaultProxy, Latency};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let upstream = server.local_addr()?;
//! tokio::spawn(async move {
//!     let (mut socket, _) = server.accept().await?;
//!     let (mut read, mut write) = socket.split();
//!     tokio::io::copy(&mut read, &mut write).await
//! });
//!
//! let proxy = FaultProxy::start(upstream)?;
//! proxy.set_latency(Latency::symmetric(Duration::from_millis(50)));
//! let mut client = tokio::net::TcpStream::connect(proxy.local_addr()).await?;
//! let sent = Instant::now();
//! client.write_all(b"ping").await?;
//! let mut echo = [0; 4];
//! client.read_exact(&mut echo).await?;
//! assert!(sent.elapsed() >= Duration::from_millis(100));
//!
//! proxy.cut_all();
//! assert!(matches!(client.read(&mut echo).await, Ok(0) | Err(_)));
//! assert_eq!(proxy.stats().cut, 1);
//! # Ok(()) }
//! ```

mod proxy;

pub use proxy::{FaultProxy, Latency, Mode, ProxyStats, RandomCuts};
