//! `Lab`: network namespaces on a private network, with packet loss and delay.
//!
//! # Layout
//!
//! A lab holds one network `198.18.N.0/24` (RFC 2544's range for benchmarking networks, routed
//! nowhere), N from 0 to 255, and these namespaces:
//!
//! ```text
//!  root namespace                hub `netlabN`                 member `netlabN-<label>`
//!  netlabN 198.18.N.1/24 ══veth══ root ─┐
//!                                       br0 (bridge) ─ m0 ══veth══ lab0 198.18.N.2/24
//!                                            └──────── m1 ══veth══ lab0 198.18.N.3/24 (next member)
//! ```
//!
//! The bridge lives in a namespace of its own, so the host's firewall (which may drop bridged
//! or forwarded traffic, as Docker's does) never sees the lab's traffic, and nothing in the root
//! namespace changes but one interface and its route: no `ip_forward`, no bridge.
//!
//! # Ownership and cleanup
//!
//! Lab N is owned by whoever holds an exclusive `flock` on `/run/limes-netlab/N.lock`. The kernel
//! releases the lock when its process dies however it dies, so a lab whose lock can be taken is
//! stale: [`Lab::new`] deletes every stale lab it finds (processes, namespaces, root interface)
//! before it claims the first free N. [`Lab`]'s `Drop` deletes its own, also when a test panics.
//!
//! # Why commands
//!
//! Namespaces, links and addresses are made by `ip`, rules by `nft`, queueing disciplines by `tc`,
//! rather than over netlink (rtnetlink, nftnl): the commands are what a person reading a failing
//! test would type to look, their errors are readable as they are, and the kernel's nftables
//! interface has no maintained Rust binding.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::Error;

/// Where the labs' lock files live.
const LOCK_DIR: &str = "/run/limes-netlab";
/// The prefix of every namespace and root interface a lab makes.
const PREFIX: &str = "netlab";
/// A member namespace's interface on the lab network.
const INTERFACE: &str = "lab0";
/// Member addresses run from .2 to .254.
const MAX_MEMBERS: usize = 253;

/// A share of packets to drop, from 0 to 100 %, kept in hundredths of a percent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loss {
    basis_points: u16,
}

impl Loss {
    /// No loss.
    pub const NONE: Loss = Loss { basis_points: 0 };

    /// `percent` % of packets lost, to a hundredth of a percent.
    pub fn percent(percent: f64) -> Result<Loss, Error> {
        if !(0.0..=100.0).contains(&percent) {
            return Err(Error::InvalidLoss(percent));
        }
        // In 0..=10_000 after the check above.
        let basis_points = (percent * 100.0).round() as u16;
        Ok(Loss { basis_points })
    }

    /// The share lost, in percent.
    pub fn as_percent(self) -> f64 {
        f64::from(self.basis_points) / 100.0
    }

    fn is_none(self) -> bool {
        self.basis_points == 0
    }
}

/// Whose packets a namespace's loss applies to, by source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// The lab's other namespaces.
    Namespaces,
    /// The root namespace (the test process and anything else on the host).
    Root,
    /// One address.
    Address(Ipv4Addr),
    /// Every packet arriving on the lab network.
    Anyone,
}

/// How [`Lab::set_loss`] drops packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossBackend {
    /// An nftables rule in each namespace drops arriving packets from the other namespaces
    /// (`numgen random`): loss between namespaces only, never on traffic with the root namespace.
    Nftables,
    /// nftables is missing: netem drops packets leaving each namespace, to the root namespace too.
    Netem,
}

/// A set of network namespaces on one private network, deleted on drop.
///
/// See the [module documentation](self) for the layout and the cleanup of stale labs.
#[derive(Debug)]
pub struct Lab {
    index: u8,
    /// Held for the lab's life: the `flock` that makes it this process's.
    _lock: File,
    members: Vec<Netns>,
    loss: Loss,
}

/// One member namespace of a [`Lab`]: a cheap handle that stays valid until the lab is dropped.
#[derive(Clone, Debug)]
pub struct Netns {
    name: String,
    label: String,
    addr: Ipv4Addr,
    lab_network: u8,
    /// What netem was asked for, to write both settings each time.
    netem: Arc<Mutex<Netem>>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Netem {
    delay: Duration,
    loss: Loss,
}

impl Lab {
    /// Claims a free lab network and creates its hub, after deleting the stale labs of killed
    /// runs. Fails with [`Error::NotPermitted`] without `CAP_SYS_ADMIN` and `CAP_NET_ADMIN`, and
    /// [`Error::MissingTool`] without `ip`.
    pub fn new() -> Result<Lab, Error> {
        check_capabilities()?;
        check_tool("ip", "iproute2")?;
        fs::create_dir_all(LOCK_DIR).map_err(|source| Error::io(format!("creating {LOCK_DIR}"), source))?;
        sweep_stale()?;
        for index in 0..=u8::MAX {
            let Some(lock) = try_lock(index)? else { continue };
            // Whatever is left of this network belongs to nobody now.
            delete_lab(index);
            let lab = Lab { index, _lock: lock, members: Vec::new(), loss: Loss::NONE };
            // On failure, dropping `lab` deletes what was made.
            lab.create_hub()?;
            return Ok(lab);
        }
        Err(Error::Exhausted)
    }

    fn create_hub(&self) -> Result<(), Error> {
        let hub = hub_name(self.index);
        let root_side = hub.as_str();
        let address = format!("{}/24", self.root_addr());
        ip(&["netns", "add", &hub])?;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        ip(&["link", "add", root_side, "type", "veth", "peer", "name", "root", "netns", &hub])?;
        ip(&["-n", &hub, "link", "set", "root", "master", "br0", "up"])?;
        ip(&["addr", "add", &address, "dev", root_side])?;
        ip(&["link", "set", root_side, "up"])?;
        Ok(())
    }

    /// Adds a namespace named `netlabN-<label>` with the next address on the lab network, and the
    /// lab's loss ([`set_loss`](Self::set_loss)). `label` is 1 to 20 lowercase letters, digits or
    /// `-`, unique in the lab.
    pub fn add_namespace(&mut self, label: &str) -> Result<Netns, Error> {
        let valid = (1..=20).contains(&label.len())
            && label.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
            && self.members.iter().all(|member| member.label != label);
        if !valid {
            return Err(Error::InvalidLabel(label.to_owned()));
        }
        if self.members.len() == MAX_MEMBERS {
            return Err(Error::LabFull);
        }
        let number = self.members.len();
        // Members are .2 to .254: `number` < 253.
        let addr = Ipv4Addr::new(198, 18, self.index, 2 + number as u8);
        let netns = Netns {
            name: format!("{PREFIX}{}-{label}", self.index),
            label: label.to_owned(),
            addr,
            lab_network: self.index,
            netem: Arc::default(),
        };
        let hub = hub_name(self.index);
        let hub_side = format!("m{number}");
        let name = netns.name.as_str();
        ip(&["netns", "add", name])?;
        // Recorded before it is complete, so that `Drop` deletes a half-made namespace too.
        self.members.push(netns.clone());
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        ip(&["-n", &hub, "link", "add", &hub_side, "type", "veth", "peer", "name", INTERFACE, "netns", name])?;
        ip(&["-n", &hub, "link", "set", &hub_side, "master", "br0", "up"])?;
        ip(&["-n", name, "addr", "add", &format!("{addr}/24"), "dev", INTERFACE])?;
        ip(&["-n", name, "link", "set", INTERFACE, "up"])?;
        if !self.loss.is_none() {
            self.apply_loss(&netns, self.loss)?;
        }
        Ok(netns)
    }

    /// The lab's namespaces, in the order they were added.
    pub fn namespaces(&self) -> &[Netns] {
        &self.members
    }

    /// The root namespace's address on the lab network: the namespaces reach servers of the test
    /// process listening there (or on `0.0.0.0`), a [`FaultProxy`](crate::FaultProxy) for example.
    pub fn root_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.index, 1)
    }

    /// Drops `loss` of the packets between any two of the lab's namespaces, each way (so a round
    /// trip between two namespaces loses more): for namespaces there now and added later.
    /// [`Loss::NONE`] removes it. Traffic with the root namespace keeps no loss with
    /// nftables; see [`LossBackend`] for the fallback.
    ///
    /// Fails with [`Error::Unsupported`], saying why for each backend, when neither works.
    pub fn set_loss(&mut self, loss: Loss) -> Result<LossBackend, Error> {
        let mut backend = LossBackend::Nftables;
        for member in &self.members {
            backend = self.apply_loss(member, loss)?;
        }
        self.loss = loss;
        Ok(backend)
    }

    fn apply_loss(&self, member: &Netns, loss: Loss) -> Result<LossBackend, Error> {
        let nftables = match member.set_loss_from(Peer::Namespaces, loss) {
            Ok(()) => return Ok(LossBackend::Nftables),
            Err(error @ (Error::MissingTool { .. } | Error::Unsupported { .. })) => error,
            Err(error) => return Err(error),
        };
        match member.set_netem(|netem| netem.loss = loss) {
            Ok(()) => Ok(LossBackend::Netem),
            Err(netem) => {
                Err(Error::Unsupported { what: "packet loss", why: format!("nftables: {nftables}; tc netem: {netem}") })
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        delete_lab(self.index);
    }
}

impl Netns {
    /// The namespace's name, as `ip netns` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The label it was added with.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Its address on the lab network.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// A command that runs `program` in this namespace (`ip netns exec <name> <program>`); add
    /// arguments and environment as to any `Command`. `ip` replaces itself with `program`, so the
    /// child's id is the program's. Kill what you start: a process left running keeps its
    /// namespace alive, though [`Lab`]'s `Drop` kills any it finds.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// [`command`](Self::command) for Tokio (`kill_on_drop` is worth setting).
    pub fn tokio_command(&self, program: impl AsRef<OsStr>) -> tokio::process::Command {
        tokio::process::Command::from(self.command(program))
    }

    /// Runs `f` on a thread of this process that has entered the namespace. Sockets keep the
    /// namespace they were made in, so a listener or connection made in `f` can be used from
    /// anywhere afterwards: make it blocking in `f` (std's types), and hand it to Tokio with
    /// `from_std` after `set_nonblocking(true)`.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut lab = limes_netlab::Lab::new()?;
    /// let a = lab.add_namespace("a")?;
    /// let addr = a.addr();
    /// let listener = a.run(|| std::net::TcpListener::bind((addr, 0)))??;
    /// # Ok(()) }
    /// ```
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
        let path = format!("/run/netns/{}", self.name);
        let namespace = File::open(&path).map_err(|source| Error::io(format!("opening {path}"), source))?;
        let joined = std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    rustix::thread::move_into_link_name_space(
                        namespace.as_fd(),
                        Some(rustix::thread::LinkNameSpaceType::Network),
                    )
                    .map_err(|errno| Error::io(format!("entering {path}"), errno.into()))?;
                    Ok(f())
                })
                .join()
        });
        joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// Drops `loss` of the IPv4 packets arriving in this namespace on the lab network from `peer`
    /// (nftables `numgen random`, before any other rule); [`Loss::NONE`] removes the rule. Each
    /// peer has its own rule: a packet two rules cover risks both. The sender is not told, as with
    /// loss on a wire.
    pub fn set_loss_from(&self, peer: Peer, loss: Loss) -> Result<(), Error> {
        check_tool("nft", "nftables")?;
        let lab = Ipv4Addr::new(198, 18, self.lab_network, 0);
        let root = Ipv4Addr::new(198, 18, self.lab_network, 1);
        let (chain, matches) = match peer {
            Peer::Namespaces => ("from_namespaces".to_owned(), format!("ip saddr {lab}/24 ip saddr != {root}")),
            Peer::Root => ("from_root".to_owned(), format!("ip saddr {root}")),
            Peer::Address(addr) => (format!("from_{}", addr.to_string().replace('.', "_")), format!("ip saddr {addr}")),
            Peer::Anyone => ("from_anyone".to_owned(), "meta nfproto ipv4".to_owned()),
        };
        // The table and chain are declared each time (a no-op when they exist), then the chain
        // is emptied and refilled: one script, applied atomically.
        let mut script = format!(
            "table inet netlab {{\n  chain {chain} {{ type filter hook prerouting priority raw; policy accept; }}\n}}\n\
             flush chain inet netlab {chain}\n"
        );
        if !loss.is_none() {
            let _ = writeln!(
                script,
                "add rule inet netlab {chain} iifname \"{INTERFACE}\" {matches} numgen random mod 10000 < {} counter drop",
                loss.basis_points
            );
        }
        let mut command = self.command("nft");
        command.args(["-f", "-"]);
        run_with_input(command, &script).map_err(|error| match error {
            Error::Command { stderr, .. }
                if stderr.contains("Could not process rule") || stderr.contains("not supported") =>
            {
                Error::Unsupported { what: "nftables numgen drop rules", why: stderr }
            }
            error => error,
        })?;
        Ok(())
    }

    /// Delays every packet leaving this namespace on the lab network by `delay` (tc netem;
    /// zero removes it). Fails with [`Error::Unsupported`] on a kernel without netem
    /// (`CONFIG_NET_SCH_NETEM`); a [`FaultProxy`](crate::FaultProxy)'s latency works anywhere.
    pub fn set_delay(&self, delay: Duration) -> Result<(), Error> {
        self.set_netem(|netem| netem.delay = delay)
    }

    /// Changes this namespace's netem settings and applies them all.
    fn set_netem(&self, change: impl FnOnce(&mut Netem)) -> Result<(), Error> {
        check_tool("tc", "iproute2")?;
        let mut netem = self.netem.lock().unwrap_or_else(PoisonError::into_inner);
        let mut wanted = *netem;
        change(&mut wanted);
        let result = if wanted.delay.is_zero() && wanted.loss.is_none() {
            // Deleting a discipline that is not there is not an error here.
            match tc(&["-n", &self.name, "qdisc", "del", "dev", INTERFACE, "root"]) {
                Err(Error::Command { stderr, .. })
                    if stderr.contains("No such file")
                        || stderr.contains("Cannot delete qdisc with handle of zero") =>
                {
                    Ok(())
                }
                other => other,
            }
        } else {
            let delay = format!("{}us", wanted.delay.as_micros());
            let loss = format!("{}%", wanted.loss.as_percent());
            tc(&[
                "-n", &self.name, "qdisc", "replace", "dev", INTERFACE, "root", "netem", "delay", &delay, "loss", &loss,
            ])
        };
        match result {
            Ok(()) => {
                *netem = wanted;
                Ok(())
            }
            Err(Error::Command { stderr, .. }) if stderr.contains("qdisc kind is unknown") => Err(Error::Unsupported {
                what: "tc netem",
                why: format!("this kernel has no netem queueing discipline (CONFIG_NET_SCH_NETEM): {stderr}"),
            }),
            Err(error) => Err(error),
        }
    }
}

/// Fails unless this process has `CAP_SYS_ADMIN` (namespaces) and `CAP_NET_ADMIN` (links).
fn check_capabilities() -> Result<(), Error> {
    let status =
        fs::read_to_string("/proc/self/status").map_err(|source| Error::io("reading /proc/self/status", source))?;
    match effective_capabilities(&status) {
        Some(capabilities) if has_lab_capabilities(capabilities) => Ok(()),
        Some(capabilities) => Err(Error::NotPermitted(format!(
            "this process's effective capabilities are {capabilities:#x}; run the tests as root"
        ))),
        None => Err(Error::NotPermitted("no CapEff line in /proc/self/status".to_owned())),
    }
}

fn effective_capabilities(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix("CapEff:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

fn has_lab_capabilities(capabilities: u64) -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_ADMIN: u32 = 21;
    let wanted = (1 << CAP_NET_ADMIN) | (1 << CAP_SYS_ADMIN);
    capabilities & wanted == wanted
}

/// Fails with [`Error::MissingTool`] unless `program` can be run.
fn check_tool(program: &'static str, package: &'static str) -> Result<(), Error> {
    let flag = if program == "nft" { "--version" } else { "-V" };
    match Command::new(program).arg(flag).stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(Error::MissingTool { program, package }),
        Err(source) => Err(Error::io(format!("running {program}"), source)),
    }
}

fn ip(args: &[&str]) -> Result<(), Error> {
    let mut command = Command::new("ip");
    command.args(args);
    run_with_input(command, "").map(drop)
}

fn tc(args: &[&str]) -> Result<(), Error> {
    let mut command = Command::new("tc");
    command.args(args);
    run_with_input(command, "").map(drop)
}

/// Runs `command` with `input` on its standard input; returns its standard output, or its
/// standard error in [`Error::Command`] when it fails.
fn run_with_input(mut command: Command, input: &str) -> Result<String, Error> {
    let line = describe(&command);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::io(format!("running `{line}`"), source))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(|source| Error::io(format!("writing to `{line}`"), source))?;
    }
    let output = child.wait_with_output().map_err(|source| Error::io(format!("running `{line}`"), source))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::Command { command: line, stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned() })
    }
}

fn describe(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

fn hub_name(index: u8) -> String {
    format!("{PREFIX}{index}")
}

/// Takes lab `index`'s lock if nobody holds it.
fn try_lock(index: u8) -> Result<Option<File>, Error> {
    let path = format!("{LOCK_DIR}/{index}.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::io(format!("opening {path}"), source))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(source)) => Err(Error::io(format!("locking {path}"), source)),
    }
}

/// The lab network a namespace or root interface named by a lab belongs to.
fn lab_index(name: &str) -> Option<u8> {
    let rest = name.strip_prefix(PREFIX)?;
    let digits = rest.split('-').next()?;
    let index = digits.parse().ok()?;
    // `netlab007` is not lab 7's.
    (digits == format!("{index}")).then_some(index)
}

fn namespace_names() -> Vec<String> {
    let mut command = Command::new("ip");
    command.args(["netns", "list"]);
    // Lines are `name` or `name (id: 3)`.
    run_with_input(command, "")
        .map(|listing| listing.lines().filter_map(|line| line.split_whitespace().next()).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn root_link_names() -> Vec<String> {
    let mut command = Command::new("ip");
    command.args(["-o", "link", "show"]);
    // Lines are `12: name@if2: <FLAGS> …`.
    run_with_input(command, "")
        .map(|listing| {
            listing
                .lines()
                .filter_map(|line| line.split(": ").nth(1))
                .map(|name| name.split('@').next().unwrap_or(name).to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes every lab whose lock nobody holds.
fn sweep_stale() -> Result<(), Error> {
    let mut indices: Vec<u8> =
        namespace_names().iter().chain(&root_link_names()).filter_map(|name| lab_index(name)).collect();
    indices.sort_unstable();
    indices.dedup();
    for index in indices {
        if let Some(_lock) = try_lock(index)? {
            delete_lab(index);
        }
    }
    Ok(())
}

/// Deletes lab `index`: kills the processes in its namespaces, deletes the root interface (and
/// with it its peer) and the namespaces. Best effort: what is not there is not an error.
fn delete_lab(index: u8) {
    let _ = ip(&["link", "del", &hub_name(index)]);
    let names: Vec<String> = namespace_names().into_iter().filter(|name| lab_index(name) == Some(index)).collect();
    for name in &names {
        kill_processes_in(name);
    }
    for name in &names {
        let _ = ip(&["netns", "del", name]);
    }
}

/// Kills (SIGKILL) the processes left in namespace `name`, by their ids.
fn kill_processes_in(name: &str) {
    let mut command = Command::new("ip");
    command.args(["netns", "pids", name]);
    let Ok(pids) = run_with_input(command, "") else { return };
    for pid in pids.lines().filter_map(|line| line.trim().parse::<i32>().ok()) {
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_read_from_proc_status() {
        let root = "Name:\ttest\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n";
        assert_eq!(effective_capabilities(root), Some(0x1ff_feff_ffff));
        assert!(has_lab_capabilities(0x1ff_feff_ffff));
        assert!(!has_lab_capabilities(0));
        assert!(!has_lab_capabilities(1 << 12), "CAP_NET_ADMIN alone cannot make namespaces");
        assert_eq!(effective_capabilities("Name:\ttest\n"), None);
    }

    #[test]
    fn names_belong_to_their_lab_only() {
        assert_eq!(lab_index("netlab7"), Some(7));
        assert_eq!(lab_index("netlab7-node-a"), Some(7));
        assert_eq!(lab_index("netlab255-b"), Some(255));
        assert_eq!(lab_index("netlab007-b"), None);
        assert_eq!(lab_index("netlab256"), None);
        assert_eq!(lab_index("netlab"), None);
        assert_eq!(lab_index("eth0"), None);
    }

    #[test]
    fn loss_is_a_percentage() {
        assert_eq!(Loss::percent(5.0).map(Loss::as_percent).ok(), Some(5.0));
        assert_eq!(Loss::percent(0.25).map(|loss| loss.basis_points).ok(), Some(25));
        assert!(Loss::percent(100.5).is_err());
        assert!(Loss::percent(-1.0).is_err());
        assert!(Loss::percent(f64::NAN).is_err());
    }

    /// A lab left by a killed run (its lock released by the kernel, its namespaces and
    /// processes still there) is deleted by the next `Lab::new`.
    #[test]
    fn a_stale_lab_is_swept_by_the_next_lab() {
        check_capabilities().expect("this test makes network namespaces");
        fs::create_dir_all(LOCK_DIR).expect("lock directory");
        // Play the killed run: claim a network, make a namespace with a process in it, and let
        // the lock go without cleaning up, as the kernel does when a process is killed.
        let (index, lock) = (0..=u8::MAX)
            .find_map(|index| try_lock(index).expect("lock").map(|lock| (index, lock)))
            .expect("a free lab network");
        let name = format!("{PREFIX}{index}-stale");
        ip(&["netns", "add", &name]).expect("ip netns add");
        drop(lock);
        let mut stale_process = Command::new("ip")
            .args(["netns", "exec", &name, "sleep", "600"])
            .spawn()
            .expect("a process in the stale namespace");
        // `ip netns exec` has become `sleep` once the process shows in the namespace.
        while !namespace_has_processes(&name) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let lab = Lab::new().expect("a new lab");
        assert!(!namespace_names().contains(&name), "stale namespace {name} of lab {index} is still there");
        let status = stale_process.wait().expect("wait for the stale process");
        assert!(!status.success(), "the stale process was killed: {status}");
        drop(lab);
    }

    fn namespace_has_processes(name: &str) -> bool {
        let mut command = Command::new("ip");
        command.args(["netns", "pids", name]);
        run_with_input(command, "").is_ok_and(|pids| !pids.trim().is_empty())
    }
}
