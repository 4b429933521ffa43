//! `Lab` with real namespaces and real traffic. These tests need root (CAP_SYS_ADMIN and
//! CAP_NET_ADMIN) and `ip` and `nft` (scripts/test installs them): without them they fail and
//! say so, they never pass without having run.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use limes_netlab::{Error, FaultProxy, Lab, Latency, Loss, LossBackend, Netns, Peer};

const DATAGRAMS: u32 = 2_000;
/// Datagrams sent before the sender waits for the receiver (`datagrams_across`).
const BATCH: u32 = 100;

fn new_lab() -> Lab {
    Lab::new().unwrap_or_else(|error| panic!("these tests need a lab (run them as root): {error}"))
}

fn add(lab: &mut Lab, label: &str) -> Netns {
    lab.add_namespace(label).unwrap_or_else(|error| panic!("add namespace {label}: {error}"))
}

/// A TCP echo server listening on `addr` in `netns`, serving on a thread of the test process.
fn echo_server(netns: &Netns) -> SocketAddr {
    let addr = netns.addr();
    let listener = netns.run(|| TcpListener::bind((addr, 0))).expect("enter the namespace").expect("bind");
    let local = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut buffer = [0; 4096];
                while let Ok(read @ 1..) = stream.read(&mut buffer) {
                    if stream.write_all(&buffer[..read]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    local
}

fn echo_round_trip(mut stream: TcpStream, message: &[u8]) {
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    stream.write_all(message).expect("write");
    let mut echo = vec![0; message.len()];
    stream.read_exact(&mut echo).expect("read the echo");
    assert_eq!(echo, message);
}

fn namespace_list() -> String {
    let output = Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn root_links() -> String {
    let output = Command::new("ip").args(["-o", "link", "show"]).output().expect("ip link show");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn an_echo_server_in_one_namespace_is_reached_from_another_and_from_the_root() {
    let mut lab = new_lab();
    let a = add(&mut lab, "a");
    let b = add(&mut lab, "b");
    assert_ne!(a.addr(), b.addr());
    assert_eq!(lab.namespaces().len(), 2);
    let server = echo_server(&a);

    let from_b = b.run(|| TcpStream::connect(server)).expect("enter b").expect("connect from b");
    assert_eq!(from_b.local_addr().expect("address").ip(), b.addr());
    echo_round_trip(from_b, b"from namespace b");

    let from_root = TcpStream::connect(server).expect("connect from the root namespace");
    assert_eq!(from_root.local_addr().expect("address").ip(), lab.root_addr());
    echo_round_trip(from_root, b"from the root namespace");

    // A command runs inside the namespace: it sees a's address and not the root's interfaces.
    let output = a.command("ip").args(["-4", "-o", "addr", "show"]).output().expect("ip in a");
    assert!(output.status.success(), "{output:?}");
    let addresses = String::from_utf8_lossy(&output.stdout);
    assert!(addresses.contains(&format!("{}/24", a.addr())), "{addresses}");
    assert!(!addresses.contains(&lab.root_addr().to_string()), "{addresses}");
}

#[test]
fn a_fault_proxy_on_the_root_address_sits_between_two_namespaces() {
    let mut lab = new_lab();
    let a = add(&mut lab, "a");
    let b = add(&mut lab, "b");
    let server = echo_server(&a);
    // The runtime's worker drives the proxy while this thread blocks on sockets.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let proxy = {
        let _entered = runtime.enter();
        FaultProxy::start_on(SocketAddr::from((lab.root_addr(), 0)), server).expect("proxy")
    };
    proxy.set_latency(Latency::symmetric(Duration::from_millis(30)));
    let proxy_addr = proxy.local_addr();

    let stream = b.run(|| TcpStream::connect(proxy_addr)).expect("enter b").expect("connect to the proxy");
    let started = Instant::now();
    echo_round_trip(stream, b"through the proxy");
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert_eq!(proxy.stats().accepted, 1);
}

/// Sends `DATAGRAMS` numbered datagrams from `from` to `to` and returns how many distinct ones
/// arrived. The receiver reads on its own thread while the sender sends, and stops after half a
/// second of silence. Loss must be the lab's, never a full socket buffer's: on a loaded machine
/// the receiving thread can wait long for a core (a CI run lost 244 of 2000 on a path without
/// loss), so the sender sends in batches of `BATCH` and waits, before the next batch, until
/// the receiver has read a datagram of the last one. The path keeps order, so everything before
/// it has been read too, and at most two batches wait in the buffer. A batch that loses all of
/// its datagrams (2^-100 at 50 % loss) only costs the wait's time limit.
fn datagrams_across(from: &Netns, to_addr: Ipv4Addr, to: Option<&Netns>) -> u32 {
    let bind = move || UdpSocket::bind((to_addr, 0));
    let receiver = match to {
        Some(netns) => netns.run(bind).expect("enter the receiver's namespace"),
        None => bind(),
    }
    .expect("bind the receiver");
    receiver.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let target = receiver.local_addr().expect("receiver address");
    // One past the highest number read so far (0: none yet).
    let read_up_to = Arc::new(AtomicU32::new(0));
    let progress = Arc::clone(&read_up_to);
    let counting = std::thread::spawn(move || {
        let mut seen = BTreeSet::new();
        let mut buffer = [0; 64];
        loop {
            match receiver.recv(&mut buffer) {
                Ok(4) => {
                    let number = u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]);
                    seen.insert(number);
                    progress.fetch_max(number + 1, Ordering::Release);
                }
                Ok(_) => {}
                Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => break,
                Err(error) => panic!("receive: {error}"),
            }
        }
        u32::try_from(seen.len()).expect("fewer than 2^32")
    });
    let from_addr = from.addr();
    let sender = from.run(|| UdpSocket::bind((from_addr, 0))).expect("enter the sender's namespace").expect("bind");
    for batch in (0..DATAGRAMS).step_by(BATCH as usize) {
        for number in batch..(batch + BATCH).min(DATAGRAMS) {
            sender.send_to(&number.to_be_bytes(), target).expect("send");
        }
        let limit = Instant::now() + Duration::from_secs(2);
        while read_up_to.load(Ordering::Acquire) <= batch && Instant::now() < limit {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    counting.join().expect("receiver thread")
}

fn lost_percent(arrived: u32) -> f64 {
    f64::from(DATAGRAMS - arrived) * 100.0 / f64::from(DATAGRAMS)
}

#[test]
fn five_percent_loss_loses_about_five_percent_each_way_between_namespaces_only() {
    let mut lab = new_lab();
    let a = add(&mut lab, "a");
    let b = add(&mut lab, "b");

    let backend = match lab.set_loss(Loss::percent(5.0).expect("a percentage")) {
        Ok(backend) => backend,
        Err(error) => panic!("this machine cannot drop packets in a lab: {error}"),
    };
    for (from, to, direction) in [(&a, &b, "a → b"), (&b, &a, "b → a")] {
        let arrived = datagrams_across(from, to.addr(), Some(to));
        let lost = lost_percent(arrived);
        eprintln!("5 % loss ({backend:?}), {direction}: {arrived} of {DATAGRAMS} arrived, {lost:.2} % lost");
        // Binomial(2000, 5 %) has a standard deviation of 0.49 %: these bounds are 8 of them away.
        assert!((1.0..=12.0).contains(&lost), "{direction}: {lost:.2} % lost with 5 % set");
    }

    // A namespace added later gets the lab's loss too.
    let c = add(&mut lab, "c");
    let arrived = datagrams_across(&a, c.addr(), Some(&c));
    eprintln!("5 % loss, a → c (added after): {arrived} of {DATAGRAMS} arrived, {:.2} % lost", lost_percent(arrived));
    assert!((1.0..=12.0).contains(&lost_percent(arrived)));

    if backend == LossBackend::Nftables {
        // The test process's own traffic with the namespaces keeps no loss.
        assert_eq!(datagrams_across(&a, lab.root_addr(), None), DATAGRAMS, "a → root lost datagrams");
    }

    lab.set_loss(Loss::NONE).expect("remove the loss");
    for (from, to, direction) in [(&a, &b, "a → b"), (&b, &a, "b → a")] {
        let arrived = datagrams_across(from, to.addr(), Some(to));
        eprintln!("no loss, {direction}: {arrived} of {DATAGRAMS} arrived");
        assert_eq!(arrived, DATAGRAMS, "{direction} lost datagrams with no loss set");
    }
}

#[test]
fn loss_from_one_peer_applies_to_that_peer_only() {
    let mut lab = new_lab();
    let a = add(&mut lab, "a");
    let b = add(&mut lab, "b");
    let c = add(&mut lab, "c");
    b.set_loss_from(Peer::Address(a.addr()), Loss::percent(50.0).expect("a percentage"))
        .unwrap_or_else(|error| panic!("nftables loss: {error}"));

    let from_a = datagrams_across(&a, b.addr(), Some(&b));
    let from_c = datagrams_across(&c, b.addr(), Some(&b));
    let back = datagrams_across(&b, a.addr(), Some(&a));
    eprintln!("50 % from a at b: a → b {from_a}, c → b {from_c}, b → a {back} of {DATAGRAMS}");
    // Binomial(2000, 50 %): a standard deviation of 1.1 %; 35 % to 65 % is 13 of them.
    assert!((35.0..=65.0).contains(&lost_percent(from_a)), "a → b lost {:.2} %", lost_percent(from_a));
    assert_eq!(from_c, DATAGRAMS, "c → b is not from a");
    assert_eq!(back, DATAGRAMS, "b → a is the other direction");
}

#[test]
fn delay_is_applied_or_reported_unsupported() {
    let mut lab = new_lab();
    let a = add(&mut lab, "a");
    let b = add(&mut lab, "b");
    let server = echo_server(&a);
    match a.set_delay(Duration::from_millis(100)) {
        Ok(()) => {
            let stream = b.run(|| TcpStream::connect(server)).expect("enter b").expect("connect");
            let started = Instant::now();
            echo_round_trip(stream, b"delayed");
            let elapsed = started.elapsed();
            eprintln!("netem delay of 100 ms on a: a round trip b → a took {elapsed:?}");
            assert!(elapsed >= Duration::from_millis(100));
            a.set_delay(Duration::ZERO).expect("remove the delay");
        }
        Err(error @ Error::Unsupported { .. }) => {
            let message = error.to_string();
            eprintln!("netem delay: {message}");
            assert!(message.contains("netem"), "the error says what is missing: {message}");
        }
        Err(error) => panic!("set_delay failed otherwise: {error}"),
    }
}

#[test]
fn a_dropped_lab_leaves_nothing_behind_even_after_a_panic() {
    let (names, root_link) = {
        let mut lab = new_lab();
        let a = add(&mut lab, "a");
        let b = add(&mut lab, "b");
        // As `ip -o link` shows the root side of the lab's veth pair.
        let root_link = format!(": netlab{}@", lab.root_addr().octets()[2]);
        let listed = namespace_list();
        assert!(listed.contains(a.name()) && listed.contains(b.name()), "{listed}");
        (vec![a.name().to_owned(), b.name().to_owned()], root_link)
    };
    let listed = namespace_list();
    for name in &names {
        assert!(!listed.lines().any(|line| line.split_whitespace().next() == Some(name)), "{name} is left: {listed}");
    }
    let links = root_links();
    assert!(!links.contains(&root_link), "{root_link} is left: {links}");

    let mut made = Vec::new();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut lab = new_lab();
        made.push(add(&mut lab, "doomed").name().to_owned());
        panic!("a test failing with its lab alive");
    }));
    assert!(panicked.is_err());
    let listed = namespace_list();
    assert!(!listed.contains(&made[0]), "{} is left after the panic: {listed}", made[0]);
}

#[test]
fn labels_are_checked() {
    let mut lab = new_lab();
    add(&mut lab, "node-1");
    for bad in ["", "Node", "a b", "a/b", "node-1", "twenty-one-characters"] {
        assert!(matches!(lab.add_namespace(bad), Err(Error::InvalidLabel(_))), "label {bad:?} was accepted");
    }
}
