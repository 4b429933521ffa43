//! Faults between real processes, for tests: a TCP proxy that delays and cuts connections, and
//! network namespaces that lose packets.
//!
//! - [`FaultProxy`] (Tokio) listens on `127.0.0.1:0` (or an address you give) and forwards each
//!   connection to one upstream address. While it runs you can add one-way [`Latency`] each way,
//!   [`cut_all`](FaultProxy::cut_all) open connections, cut new ones at random
//!   ([`RandomCuts`]: after a random lifetime or number of bytes), and refuse or blackhole new
//!   connections ([`Mode`]). [`ProxyStats`] counts connections, cuts and bytes. It forwards bytes
//!   and never reads them, so TLS passes through. Dropping it stops it.
//! - [`Lab`] makes network namespaces ([`Netns`]) on a private network `198.18.N.0/24` that the
//!   test process reaches too, runs commands in them ([`Netns::command`]), makes sockets in them
//!   ([`Netns::run`]), and drops a share of the packets between them ([`Lab::set_loss`]: nftables
//!   `numgen random` rules; netem if nftables is missing; [`Error::Unsupported`] saying why if
//!   neither works). Labs need root; parallel labs get their own networks; a dropped lab deletes
//!   its namespaces, and a lab left by a killed run is deleted by the next [`Lab::new`].
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
//!
//! Two namespaces losing 5 % of the packets between them each way, a process in one, the test
//! process talking to it (as root):
//!
//! ```no_run
//! use limes_netlab::{Lab, Loss};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut lab = Lab::new()?;
//! let a = lab.add_namespace("a")?;
//! let b = lab.add_namespace("b")?;
//! lab.set_loss(Loss::percent(5.0)?)?;
//! let mut node = a.command("limes").args(["serve", "--listen", &format!("{}:7443", a.addr())]).spawn()?;
//! // … the test talks to a.addr():7443 from the root namespace without loss, and b's process
//! // talks to it with 5 % loss each way …
//! node.kill()?;
//! node.wait()?;
//! # Ok(()) }
//! ```
//!
//! The two combine: a proxy on [`Lab::root_addr`] ([`FaultProxy::start_on`]) sits between
//! processes in two namespaces.

mod lab;
mod proxy;

pub use lab::{Lab, Loss, LossBackend, Netns, Peer};
pub use proxy::{FaultProxy, Latency, Mode, ProxyStats, RandomCuts};

/// What can go wrong making or changing a [`Lab`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// This process may not make network namespaces.
    #[error("network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN: {0}")]
    NotPermitted(String),
    /// A program the lab runs is not installed.
    #[error("`{program}` is not installed (Debian package {package})")]
    MissingTool {
        /// The program.
        program: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// The kernel (or the tools) cannot do what was asked.
    #[error("{what} is not supported here: {why}")]
    Unsupported {
        /// What was asked.
        what: &'static str,
        /// Why not, as the tools said.
        why: String,
    },
    /// A command failed.
    #[error("`{command}` failed: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it wrote on its standard error.
        stderr: String,
    },
    /// Reading a file or starting a command failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// Other labs hold all 256 lab networks.
    #[error("all 256 lab networks (198.18.0.0/16) are held by running labs")]
    Exhausted,
    /// A lab has at most 253 namespaces.
    #[error("a lab has at most 253 namespaces")]
    LabFull,
    /// A namespace label is not 1 to 20 of `a-z`, `0-9`, `-`, or is taken in its lab.
    #[error("namespace label {0:?} is not 1 to 20 of a-z, 0-9 and -, or is taken")]
    InvalidLabel(String),
    /// A loss is not a percentage.
    #[error("a loss is a percentage from 0 to 100, not {0}")]
    InvalidLoss(f64),
}

impl Error {
    fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }
}
