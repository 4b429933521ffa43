//! Measures the audit log alone: `cargo run --release -p limes-audit --example append_speed`.
//!
//! Many tasks on a two-thread runtime (as HTTP handlers would be) each append one event at a
//! time and wait for it to be durable, for `LIMES_AUDIT_SECONDS` (10); the log signs a
//! checkpoint every second meanwhile. Prints `name=value unit` lines, as `limes bench` does.
//! `LIMES_AUDIT_TASKS` sets the appends in flight (512); `LIMES_AUDIT_DIR` a folder to use
//! instead of a temporary one (on the same disk as the data directory, for a fair fsync);
//! `LIMES_AUDIT_CHECKPOINT_MS` the checkpoint interval (1000), to see what many checkpoints
//! cost verification.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use limes_audit::{Action, Actor, AuditEvent, AuditLog, AuditOptions, Details, Object, Outcome};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn figure(name: &str, value: impl std::fmt::Display, unit: &str) {
    println!("{name}={value} {unit}");
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn event(task: usize, i: usize) -> AuditEvent {
    AuditEvent {
        actor: Actor::User(format!("officer{}", task % 50)),
        role: "investigator".into(),
        action: if i.is_multiple_of(10) { Action::Disclose } else { Action::Consult },
        object: Object::plate(&format!("B{:03}XYZ", (task * 7919 + i) % 1000)),
        purpose: "border-control".into(),
        legal_basis: "RO Law 363/2018 art. 5".into(),
        case_ref: i.is_multiple_of(3).then(|| format!("2026/{}", task % 97)),
        outcome: Outcome::Allowed,
        details: Details::new(&serde_json::json!({"search": "exact", "results": i % 17})),
    }
}

fn main() {
    let seconds: f64 = env("LIMES_AUDIT_SECONDS", 10.0);
    let tasks: usize = env("LIMES_AUDIT_TASKS", 512);
    let temp = tempfile::tempdir().unwrap();
    let dir = std::env::var("LIMES_AUDIT_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| temp.path().to_owned());
    let mut options = AuditOptions::new("limes.bench/audit");
    options.checkpoint_interval = Duration::from_millis(env("LIMES_AUDIT_CHECKPOINT_MS", 1000));
    let log = AuditLog::open(&dir, options).unwrap();
    figure("machine.cores", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "cores");
    println!("# load average before: {}", load());

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (log, stop) = (log.clone(), stop.clone());
            rt.spawn(async move {
                let mut latencies = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    log.append(event(t, i)).await.unwrap();
                    latencies.push(at.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> =
        rt.block_on(async { futures_join(handles).await }).into_iter().flatten().collect();
    let elapsed = started.elapsed().as_secs_f64();
    println!("# load average after: {}", load());
    let n = latencies.len();
    latencies.sort();
    let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)].as_secs_f64() * 1000.0;
    figure("audit.appends_per_s", format!("{:.0}", n as f64 / elapsed), "appends/s");
    figure("audit.append_latency_p50", format!("{:.1}", pct(0.50)), "ms");
    figure("audit.append_latency_p99", format!("{:.1}", pct(0.99)), "ms");
    figure("audit.tasks", tasks, "tasks");

    log.checkpoint_now().unwrap();
    let conn = rusqlite::Connection::open(log.path()).unwrap();
    let times: Vec<i64> = conn
        .prepare("SELECT time FROM checkpoints ORDER BY size")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let max_gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    figure("audit.checkpoints", times.len(), "checkpoints");
    figure("audit.checkpoint_max_gap", max_gap, "s");
    drop(conn);
    let bytes: u64 = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", log.path().display())).ok())
        .map(|m| m.len())
        .sum();
    figure("audit.bytes_per_record", bytes / n.max(1) as u64, "bytes");

    let at = Instant::now();
    let report = log.verify().unwrap();
    let took = at.elapsed().as_secs_f64();
    figure("audit.verify_s", format!("{took:.2}"), "s");
    figure("audit.verify_leaves_per_s", format!("{:.0}", report.size as f64 / took), "leaves/s");
    println!("# verified {} records, {} checkpoints", report.size, report.checkpoints);
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
