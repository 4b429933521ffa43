//! `FaultProxy`: a TCP proxy whose faults are changed while it runs.
//!
//! Each accepted connection is forwarded to the upstream address by two pumps, one per direction.
//! A pump reads a chunk, stamps it with the time it is due (now plus the direction's latency, never
//! earlier than the chunk before it, so order is kept) and a second half writes it when it is due:
//! latency delays bytes without limiting throughput, as a long link does. End of stream travels the
//! same way, so a half-close reaches the other side after the latency too.
//!
//! A cut resets both sockets (`SO_LINGER` 0, so an RST): the client sees its connection reset,
//! or closed, never a clean end of a stream it was still using. Refusing new connections stops the
//! listening socket itself (`shutdown(SHUT_RD)` on a listener makes the kernel answer SYNs with RST)
//! and `listen` starts it again on the same port, so a client sees "connection refused" exactly as
//! with a stopped node. Tokio keeps a listener's "closed" readiness once it has seen one, so the
//! accept loop registers a fresh duplicate of the socket each time the mode changes.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::RngExt;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The backlog of the proxy's listening socket.
const BACKLOG: i32 = 1024;
/// The largest chunk a pump reads at once.
const CHUNK: usize = 16 * 1024;
/// Chunks in flight per direction (read, not yet written): bounds the memory a fast sender
/// can make the proxy hold while latency delays its bytes.
const IN_FLIGHT: usize = 256;

/// One-way latency added to each direction of every connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Added to bytes from the client to the upstream.
    pub to_upstream: Duration,
    /// Added to bytes from the upstream to the client.
    pub to_client: Duration,
}

impl Latency {
    /// The same one-way latency both ways: a round trip takes at least twice `one_way`.
    pub fn symmetric(one_way: Duration) -> Latency {
        Latency { to_upstream: one_way, to_client: one_way }
    }
}

/// Connections cut at random: each new connection draws its own limits, uniformly from zero to
/// the maximum, and is cut when it reaches either.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RandomCuts {
    /// A connection lives at most this long.
    pub max_lifetime: Option<Duration>,
    /// A connection carries at most this many bytes (both directions together); the cut falls
    /// inside a chunk, so a message can be cut in the middle.
    pub max_bytes: Option<u64>,
}

impl RandomCuts {
    /// Each connection is cut after a random time up to `max`.
    pub fn lifetime_up_to(max: Duration) -> RandomCuts {
        RandomCuts { max_lifetime: Some(max), max_bytes: None }
    }

    /// Each connection is cut after a random number of bytes up to `max`.
    pub fn bytes_up_to(max: u64) -> RandomCuts {
        RandomCuts { max_lifetime: None, max_bytes: Some(max) }
    }

    fn draw(self) -> CutPlan {
        let mut rng = rand::rng();
        CutPlan {
            lifetime: self.max_lifetime.map(|max| max.mul_f64(rng.random_range(0.0..=1.0))),
            bytes: self.max_bytes.map(|max| rng.random_range(0..=max)),
        }
    }
}

/// What the proxy does with new connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Accept and forward.
    #[default]
    Up,
    /// Refuse: the port is closed, a client's connect fails with "connection refused".
    Refuse,
    /// Accept and then say nothing: no upstream connection, no byte read or written, until the
    /// connection is cut ([`FaultProxy::cut_all`]) or the proxy dropped. A client sees its
    /// connect succeed and every later read wait, as behind a link that went silent.
    Blackhole,
}

/// The proxy's counters since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted (in any mode).
    pub accepted: u64,
    /// Connections accepted in [`Mode::Blackhole`].
    pub blackholed: u64,
    /// Connections cut by a fault: [`FaultProxy::cut_all`] or [`RandomCuts`].
    pub cut: u64,
    /// Connections reset because the upstream could not be reached.
    pub upstream_failures: u64,
    /// Connections open now.
    pub active: u64,
    /// Bytes delivered from clients to the upstream.
    pub bytes_to_upstream: u64,
    /// Bytes delivered from the upstream to clients.
    pub bytes_to_client: u64,
}

/// A TCP proxy in front of one upstream address with faults that can be changed while it runs.
///
/// It forwards bytes and never looks at them, so TLS passes through it end to end. It runs on the
/// Tokio runtime it was started in; dropping it stops it and closes every connection.
#[derive(Debug)]
pub struct FaultProxy {
    local_addr: SocketAddr,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    /// The listening socket; the accept loop registers duplicates of it with Tokio.
    listener: Arc<Socket>,
    accept_task: JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    /// Microseconds, read for every chunk so a change applies at once.
    latency_to_upstream: AtomicU64,
    latency_to_client: AtomicU64,
    random_cuts: Mutex<Option<RandomCuts>>,
    mode: watch::Sender<Mode>,
    /// Bumped by `cut_all`; every connection watches it.
    cut_generation: watch::Sender<u64>,
    accepted: AtomicU64,
    blackholed: AtomicU64,
    cut: AtomicU64,
    upstream_failures: AtomicU64,
    active: AtomicU64,
    bytes_to_upstream: AtomicU64,
    bytes_to_client: AtomicU64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    ToUpstream,
    ToClient,
}

impl Shared {
    fn latency(&self, direction: Direction) -> Duration {
        let micros = match direction {
            Direction::ToUpstream => &self.latency_to_upstream,
            Direction::ToClient => &self.latency_to_client,
        };
        Duration::from_micros(micros.load(Ordering::Relaxed))
    }

    fn delivered(&self, direction: Direction, bytes: usize) {
        let counter = match direction {
            Direction::ToUpstream => &self.bytes_to_upstream,
            Direction::ToClient => &self.bytes_to_client,
        };
        counter.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

impl FaultProxy {
    /// Starts a proxy on `127.0.0.1` (a free port) forwarding to `upstream`, with no faults.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        FaultProxy::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), upstream)
    }

    /// Starts a proxy listening on `listen` (port 0: a free port) forwarding to `upstream`; for
    /// example on [`Lab::root_addr`](crate::Lab::root_addr) so processes in a lab's namespaces
    /// reach it.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start_on(listen: SocketAddr, upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = Arc::new(bind_listener(listen)?);
        let local_addr = listener.local_addr()?.as_socket().ok_or(io::ErrorKind::InvalidInput)?;
        let shared = Arc::new(Shared {
            upstream,
            latency_to_upstream: AtomicU64::new(0),
            latency_to_client: AtomicU64::new(0),
            random_cuts: Mutex::new(None),
            mode: watch::Sender::new(Mode::Up),
            cut_generation: watch::Sender::new(0),
            accepted: AtomicU64::new(0),
            blackholed: AtomicU64::new(0),
            cut: AtomicU64::new(0),
            upstream_failures: AtomicU64::new(0),
            active: AtomicU64::new(0),
            bytes_to_upstream: AtomicU64::new(0),
            bytes_to_client: AtomicU64::new(0),
        });
        let accept_task = tokio::spawn(accept_loop(Arc::clone(&listener), Arc::clone(&shared)));
        Ok(FaultProxy { local_addr, upstream, shared, listener, accept_task })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address connections are forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Sets the latency added from now on, to open connections and new ones. Bytes already
    /// waiting keep the time they were given; order is always kept.
    pub fn set_latency(&self, latency: Latency) {
        let micros = |duration: Duration| u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        let shared = &self.shared;
        shared.latency_to_upstream.store(micros(latency.to_upstream), Ordering::Relaxed);
        shared.latency_to_client.store(micros(latency.to_client), Ordering::Relaxed);
    }

    /// Sets the random cuts that connections accepted from now on draw (`None`: no random cuts);
    /// open connections keep what they drew.
    pub fn set_random_cuts(&self, cuts: Option<RandomCuts>) {
        *self.shared.random_cuts.lock().unwrap_or_else(PoisonError::into_inner) = cuts;
    }

    /// Cuts every open connection now (blackholed ones included).
    pub fn cut_all(&self) {
        self.shared.cut_generation.send_modify(|generation| *generation += 1);
    }

    /// Sets what happens to new connections; open connections are left alone (see
    /// [`cut_all`](Self::cut_all)). It has taken effect when this returns: a connect made after
    /// `set_mode(Mode::Refuse)` is refused, one made after `set_mode(Mode::Up)` is forwarded.
    /// Refusing also resets connections the kernel completed that the proxy had not accepted
    /// yet, as a process closing its listener does; [`Mode::Blackhole`] applies to connections
    /// the proxy accepts after this returns.
    pub fn set_mode(&self, mode: Mode) -> io::Result<()> {
        let before = *self.shared.mode.borrow();
        // The socket first, then the mode the accept loop watches.
        match (before == Mode::Refuse, mode == Mode::Refuse) {
            // On a listening socket, Linux turns SHUT_RD into a disconnect: the port stays bound
            // (it was bound explicitly) and new SYNs are answered with RST.
            (false, true) => self.listener.shutdown(Shutdown::Read)?,
            (true, false) => self.listener.listen(BACKLOG)?,
            _ => {}
        }
        self.shared.mode.send_replace(mode);
        Ok(())
    }

    /// The counters now.
    pub fn stats(&self) -> ProxyStats {
        let shared = &self.shared;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ProxyStats {
            accepted: load(&shared.accepted),
            blackholed: load(&shared.blackholed),
            cut: load(&shared.cut),
            upstream_failures: load(&shared.upstream_failures),
            active: load(&shared.active),
            bytes_to_upstream: load(&shared.bytes_to_upstream),
            bytes_to_client: load(&shared.bytes_to_client),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The accept task owns the connections' `JoinSet`: aborting it drops them all.
        self.accept_task.abort();
    }
}

/// Binds a listening socket. A port given as 0 is first chosen and then bound by number: only a
/// socket bound to an explicit port keeps it across the `shutdown`/`listen` of [`Mode::Refuse`].
fn bind_listener(addr: SocketAddr) -> io::Result<Socket> {
    if addr.port() != 0 {
        return bind_exact(addr);
    }
    let mut last_error = None;
    for _ in 0..16 {
        let port = std::net::TcpListener::bind(addr)?.local_addr()?.port();
        match bind_exact(SocketAddr::new(addr.ip(), port)) {
            Ok(listener) => return Ok(listener),
            // Another socket took the port in between: choose again.
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
}

fn bind_exact(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

async fn accept_loop(socket: Arc<Socket>, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    let mut mode = shared.mode.subscribe();
    loop {
        // A fresh registration each round (see the module documentation), made while listening.
        if mode.wait_for(|mode| *mode != Mode::Refuse).await.is_err() {
            return;
        }
        mode.mark_unchanged();
        let listener = match socket.try_clone().and_then(|socket| TcpListener::from_std(socket.into())) {
            Ok(listener) => listener,
            Err(_) => {
                // Out of descriptors: try again shortly.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((client, _)) => {
                        shared.accepted.fetch_add(1, Ordering::Relaxed);
                        // Subscribed now, so a `cut_all` from here on reaches this connection.
                        let cut = shared.cut_generation.subscribe();
                        connections.spawn(connection(client, Arc::clone(&shared), cut));
                    }
                    // The listener was shut down (`Mode::Refuse`): wait for the mode to change.
                    Err(_) if *mode.borrow() == Mode::Refuse => {
                        if mode.changed().await.is_err() {
                            return;
                        }
                        break;
                    }
                    // Out of descriptors, a connection aborted before it was accepted…: go on.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                },
                changed = mode.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    }
}

/// How a connection drew its random cut.
#[derive(Clone, Copy, Debug, Default)]
struct CutPlan {
    lifetime: Option<Duration>,
    bytes: Option<u64>,
}

/// How forwarding ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// Both directions reached end of stream.
    Finished,
    /// A fault cut the connection.
    Cut,
    /// A socket failed (reset by its peer, for example).
    Failed,
}

async fn connection(mut client: TcpStream, shared: Arc<Shared>, mut cut: watch::Receiver<u64>) {
    if *shared.mode.borrow() == Mode::Blackhole {
        shared.blackholed.fetch_add(1, Ordering::Relaxed);
        // Hold the connection, read nothing, until it is cut (or the proxy dropped).
        let _ = cut.changed().await;
        shared.cut.fetch_add(1, Ordering::Relaxed);
        reset(client);
        return;
    }
    let mut upstream = match TcpStream::connect(shared.upstream).await {
        Ok(upstream) => upstream,
        Err(_) => {
            shared.upstream_failures.fetch_add(1, Ordering::Relaxed);
            reset(client);
            return;
        }
    };
    // The proxy adds latency only where asked to: no Nagle delay on top.
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let random_cuts = *shared.random_cuts.lock().unwrap_or_else(PoisonError::into_inner);
    let plan = random_cuts.map(RandomCuts::draw).unwrap_or_default();
    shared.active.fetch_add(1, Ordering::Relaxed);
    let end = forward(&mut client, &mut upstream, &shared, plan, &mut cut).await;
    shared.active.fetch_sub(1, Ordering::Relaxed);
    match end {
        End::Finished => {}
        End::Cut => {
            shared.cut.fetch_add(1, Ordering::Relaxed);
            reset(client);
            reset(upstream);
        }
        End::Failed => {
            reset(client);
            reset(upstream);
        }
    }
}

/// Closes a socket with an RST rather than a FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

async fn forward(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    shared: &Shared,
    plan: CutPlan,
    cut: &mut watch::Receiver<u64>,
) -> End {
    let budget = AtomicU64::new(plan.bytes.unwrap_or(u64::MAX));
    let (client_read, client_write) = client.split();
    let (upstream_read, upstream_write) = upstream.split();
    let to_upstream = pump(client_read, upstream_write, Direction::ToUpstream, shared, &budget);
    let to_client = pump(upstream_read, client_write, Direction::ToClient, shared, &budget);
    let lifetime = async {
        match plan.lifetime {
            Some(lifetime) => tokio::time::sleep(lifetime).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(to_upstream, to_client, lifetime);
    let (mut upstream_done, mut client_done) = (false, false);
    loop {
        tokio::select! {
            end = &mut to_upstream, if !upstream_done => match end {
                End::Finished => upstream_done = true,
                end => return end,
            },
            end = &mut to_client, if !client_done => match end {
                End::Finished => client_done = true,
                end => return end,
            },
            _ = cut.changed() => return End::Cut,
            () = &mut lifetime => return End::Cut,
        }
        if upstream_done && client_done {
            return End::Finished;
        }
    }
}

/// What a pump's reading half hands its writing half.
#[derive(Debug)]
enum Item {
    Bytes(Vec<u8>),
    EndOfStream,
    Cut,
    Failed,
}

/// Takes up to `wanted` bytes from the connection's budget; returns how many it may forward.
fn take_budget(budget: &AtomicU64, wanted: usize) -> usize {
    let wanted = wanted as u64;
    let mut granted = 0;
    let _ = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
        granted = left.min(wanted);
        Some(left - granted)
    });
    // `granted` ≤ `wanted`, which came from a `usize`.
    usize::try_from(granted).unwrap_or(0)
}

/// Forwards one direction: returns `Finished` after forwarding end of stream.
async fn pump<R, W>(mut from: R, mut to: W, direction: Direction, shared: &Shared, budget: &AtomicU64) -> End
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (sender, mut receiver) = mpsc::channel::<(Instant, Item)>(IN_FLIGHT);
    let reading = async move {
        let mut buffer = vec![0; CHUNK];
        let mut not_before = Instant::now();
        loop {
            let mut items = Vec::with_capacity(2);
            match from.read(&mut buffer).await {
                Ok(0) => items.push(Item::EndOfStream),
                Ok(read) => {
                    let granted = take_budget(budget, read);
                    if granted > 0 {
                        items.push(Item::Bytes(buffer[..granted].to_vec()));
                    }
                    if granted < read {
                        items.push(Item::Cut);
                    }
                }
                Err(_) => items.push(Item::Failed),
            }
            let due = not_before.max(Instant::now() + shared.latency(direction));
            not_before = due;
            for item in items {
                let last = !matches!(item, Item::Bytes(_));
                if sender.send((due, item)).await.is_err() || last {
                    return;
                }
            }
        }
    };
    let writing = async {
        while let Some((due, item)) = receiver.recv().await {
            tokio::time::sleep_until(due).await;
            match item {
                Item::Bytes(bytes) => {
                    if to.write_all(&bytes).await.is_err() {
                        return End::Failed;
                    }
                    shared.delivered(direction, bytes.len());
                }
                Item::EndOfStream => {
                    let _ = to.shutdown().await;
                    return End::Finished;
                }
                Item::Cut => return End::Cut,
                Item::Failed => return End::Failed,
            }
        }
        End::Failed
    };
    tokio::pin!(writing);
    tokio::select! {
        end = &mut writing => end,
        () = reading => writing.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_budget_is_shared_and_never_overdrawn() {
        let budget = AtomicU64::new(10);
        assert_eq!(take_budget(&budget, 4), 4);
        assert_eq!(take_budget(&budget, 8), 6);
        assert_eq!(take_budget(&budget, 8), 0);
        assert_eq!(budget.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn random_cuts_draw_within_their_maximum() {
        let cuts = RandomCuts { max_lifetime: Some(Duration::from_millis(50)), max_bytes: Some(1_000) };
        for _ in 0..1_000 {
            let plan = cuts.draw();
            assert!(plan.lifetime.is_some_and(|lifetime| lifetime <= Duration::from_millis(50)));
            assert!(plan.bytes.is_some_and(|bytes| bytes <= 1_000));
        }
        let none = RandomCuts::default().draw();
        assert_eq!((none.lifetime, none.bytes), (None, None));
    }
}
