//! CPU time a process has spent, user and system, to the nanosecond.
//!
//! The kernel's CPU clock of a process (`clock_getcpuclockid`, then `clock_gettime`), where
//! `/proc/<pid>/stat` counts in ticks of 10 ms: too coarse for a brief run of a recorder that
//! spends a few milliseconds a second (a 2 s run of one stream read 0 ticks).

use anyhow::Context;
use nix::time::{ClockId, clock_getcpuclockid, clock_gettime};
use nix::unistd::Pid;

/// CPU seconds process `pid` has spent since it started (this process's own when `pid` is
/// `std::process::id()`).
pub fn seconds(pid: u32) -> anyhow::Result<f64> {
    let clock = if pid == std::process::id() {
        ClockId::CLOCK_PROCESS_CPUTIME_ID
    } else {
        let pid = i32::try_from(pid).context("a process id")?;
        clock_getcpuclockid(Pid::from_raw(pid)).with_context(|| format!("the CPU clock of process {pid}"))?
    };
    let t = clock_gettime(clock).with_context(|| format!("reading the CPU clock of process {pid}"))?;
    Ok(t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Work done in this process shows on its clock at once, well below a 10 ms tick.
    #[test]
    fn own_clock_counts_below_a_tick() {
        let before = seconds(std::process::id()).unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(2) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let spent = seconds(std::process::id()).unwrap() - before;
        assert!(spent > 0.0 && spent < 1.0, "{spent} s");
    }

    /// Another process's clock is read too; a process that does not exist is an error.
    #[test]
    fn child_clock_and_missing_process() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut spent = 0.0;
        // Read while it runs (a reaped child has no clock).
        while child.try_wait().unwrap().is_none() {
            if let Ok(s) = seconds(pid) {
                spent = s;
            }
        }
        assert!(spent > 0.0, "{spent} s");
        // Reaped: its process is gone (its number is not reused this soon).
        assert!(seconds(pid).is_err());
    }
}
