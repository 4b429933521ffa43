//! Runs the real `limes` binary in a fresh temporary directory (after ripgrep's tests/util.rs).

#![allow(dead_code)] // Each test file uses a different part of this module.

pub mod fed;
#[path = "../../../recorder/tests/support/rtsp_server.rs"]
pub mod rtsp;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn limes_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_limes"))
}

/// A node process serving from its own temporary data directory.
pub struct TestNode {
    pub dir: tempfile::TempDir,
    pub child: Child,
    pub url: String,
    pub config: PathBuf,
    /// A session of `admin`, the first administrator the node created.
    pub admin_token: String,
    /// A session of `tester`: operator, analyst, supervisor, administrator and DPO at once,
    /// signed in for "investigation".
    pub session: String,
    /// An API token holding every operation a token may hold, for "investigation": what
    /// tests of other things than access use, so that they pass every rule.
    pub token: String,
}

/// Every operation an API token may hold.
pub const TEST_TOKEN_SCOPE: &str = "reads.ingest,reads.search,reads.view,queries.ask,images.upload,images.view,\
detections.ingest,detections.search,alerts.live,alerts.list,hotlist.view,hotlist.manage,cameras.view,cameras.manage,\
stats.view,incidents.view,incidents.manage,bulletins.view,bulletins.issue,operations.view,operations.manage,patrols.view,patrols.report,patrols.manage,\
footage.upload,footage.view,video.analyse,events.view";

/// The password of the `tester` account every test node gets.
pub const TESTER_PASSWORD: &str = "tester password 2026";
/// The purpose `tester` declares at sign-in.
pub const TEST_LEGAL_BASIS: &str = "limes test suite: synthetic data";

pub fn write_config(dir: &Path) -> PathBuf {
    let out = Command::new(limes_bin())
        .args(["init", "--dir"])
        .arg(dir)
        .args(["--node-id", "test-node", "--agency", "ro-igpf", "--country", "RO", "--listen", "127.0.0.1:0"])
        .output()
        .expect("run limes init");
    assert!(out.status.success(), "limes init failed: {}", String::from_utf8_lossy(&out.stderr));
    dir.join("limes.toml")
}

impl TestNode {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_config(dir.path());
        Self::start_with(dir, config, None)
    }

    /// Starts a node whose generated config was first changed by `edit`.
    pub fn start_edited(edit: impl FnOnce(String) -> String) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_config(dir.path());
        let text = std::fs::read_to_string(&config).expect("read config");
        std::fs::write(&config, edit(text)).expect("write config");
        Self::start_with(dir, config, None)
    }

    /// Starts `limes serve`, optionally wrapped in another command (e.g. strace).
    pub fn start_with(dir: tempfile::TempDir, config: PathBuf, wrapper: Option<Vec<String>>) -> Self {
        Self::spawn(dir, config, wrapper, None)
    }

    /// Starts `limes serve` with `RUST_LOG=<filter>`, its standard error (everything it traces)
    /// going to the file `log`.
    pub fn start_logging(dir: tempfile::TempDir, config: PathBuf, filter: &str, log: &Path) -> Self {
        Self::spawn(dir, config, None, Some((filter, log)))
    }

    fn spawn(
        dir: tempfile::TempDir,
        config: PathBuf,
        wrapper: Option<Vec<String>>,
        log: Option<(&str, &Path)>,
    ) -> Self {
        let mut cmd = match &wrapper {
            Some(w) => {
                let mut c = Command::new(&w[0]);
                c.args(&w[1..]).arg(limes_bin());
                c
            }
            None => Command::new(limes_bin()),
        };
        cmd.arg("serve").arg("--config").arg(&config).stdout(Stdio::piped()).stderr(Stdio::inherit());
        if let Some((filter, path)) = log {
            cmd.env("RUST_LOG", filter).stderr(std::fs::File::create(path).expect("create the log file"));
        }
        let mut child = cmd.spawn().expect("spawn limes serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split("listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(60)).expect("node did not report its address within 60 s");
        let (admin_token, session, token) = sign_in(dir.path(), &url);
        Self { dir, child, url, config, admin_token, session, token }
    }

    /// A client that sends the test token with every request.
    pub fn client(&self) -> reqwest::Client {
        bearer_client(&self.token)
    }

    /// A client that sends `tester`'s session with every request.
    pub fn session_client(&self) -> reqwest::Client {
        bearer_client(&self.session)
    }

    /// Restarts the node on the same data directory (after a kill).
    pub fn restart(mut self) -> Self {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Move the folder out; the old value's Drop then has only a dead child to reap.
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        let config = dir.path().join("limes.toml");
        Self::start_with(dir, config, None)
    }

    /// Runs the `limes` CLI against this node as `tester`.
    pub fn limes(&self, args: &[&str]) -> std::process::Output {
        Command::new(limes_bin())
            .args(args)
            .env("LIMES_URL", &self.url)
            .env("LIMES_TOKEN", &self.token)
            .env_remove("LIMES_PURPOSE")
            .output()
            .expect("run limes")
    }

    pub fn kill9(&mut self) {
        // SIGKILL: no shutdown code runs.
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        // A wrapper (strace) would leave the node running when killed: kill its children first.
        kill_children(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGKILL to every child of process `pid` (Linux `/proc`).
fn kill_children(pid: u32) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return };
    for task in tasks.flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in children.split_whitespace() {
            let _ = Command::new("kill").args(["-9", child]).status();
        }
    }
}

/// A client sending `Authorization: Bearer <token>` with every request.
pub fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header value"));
    reqwest::Client::builder().default_headers(headers).build().expect("client")
}

/// Signs in as the node's first administrator (its password is in the data directory),
/// creates `tester` and the test token unless they exist (a restarted node), and signs
/// `tester` in; returns the two sessions and the token.
pub fn sign_in(dir: &Path, url: &str) -> (String, String, String) {
    let run = |args: &[&str], token: Option<&str>| {
        let mut cmd = Command::new(limes_bin());
        cmd.args(args).env("LIMES_URL", url).env_remove("LIMES_TOKEN");
        if let Some(t) = token {
            cmd.env("LIMES_TOKEN", t);
        }
        let out = cmd.output().expect("run limes");
        assert!(out.status.success(), "limes {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
    };
    let admin_password = dir.join("limes-data").join("initial-admin-password");
    let admin = run(&["login", "--user", "admin", "--password-file", admin_password.to_str().unwrap()], None);
    let tester_password = dir.join("tester-password");
    let token_file = dir.join("test-token");
    if !token_file.exists() {
        let args = [
            "token",
            "create",
            "--name",
            "tests",
            "--scope",
            TEST_TOKEN_SCOPE,
            "--token-purpose",
            "investigation",
            "--token-legal-basis",
            TEST_LEGAL_BASIS,
        ];
        let created: serde_json::Value = serde_json::from_str(&run(&args, Some(&admin))).expect("token JSON");
        std::fs::write(&token_file, created["token"].as_str().expect("token")).expect("write token");
    }
    let token = std::fs::read_to_string(&token_file).expect("read token");
    if !tester_password.exists() {
        std::fs::write(&tester_password, TESTER_PASSWORD).expect("write tester password");
        let roles = ["operator", "analyst", "supervisor", "administrator", "dpo"];
        let mut args = vec!["user", "add", "tester", "--password-file", tester_password.to_str().unwrap()];
        for r in &roles {
            args.extend(["--role", r]);
        }
        run(&args, Some(&admin));
    }
    let tester = run(
        &[
            "login",
            "--user",
            "tester",
            "--password-file",
            tester_password.to_str().unwrap(),
            "--purpose",
            "investigation",
            "--legal-basis",
            TEST_LEGAL_BASIS,
        ],
        None,
    );
    (admin, tester, token)
}

/// The fetched models folder the tests that run real models use (scripts/test fills it).
pub fn models() -> String {
    std::env::var("LIMES_MODELS").expect("LIMES_MODELS: run scripts/test, or set it to a fetched models folder")
}

/// Runs the `limes` CLI to completion.
pub fn limes(args: &[&str]) -> std::process::Output {
    Command::new(limes_bin()).args(args).output().expect("run limes")
}

pub fn camera_json(id: &str, country: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "agency": "ro-igpf", "kind": "anpr", "country": country,
                       "position": {"lat": 47.95, "lon": 26.07}, "heading": 10.0})
}

pub fn read_json(camera: &str, plate: &str, country: Option<&str>) -> serde_json::Value {
    let mut v = serde_json::json!({"camera": camera, "time": chrono::Utc::now().to_rfc3339(), "plate": plate,
                                   "confidence": 0.9, "direction": "leaving"});
    if let Some(c) = country {
        v["country"] = c.into();
    }
    v
}

/// The readable records of `node`'s audit log matching `filter` (`limes audit export` flags).
pub fn audit_records(node: &TestNode, filter: &[&str]) -> Vec<serde_json::Value> {
    let data = node.dir.path().join("limes-data");
    let mut args = vec!["audit", "export", "--data-dir", data.to_str().unwrap()];
    args.extend(filter);
    let out = limes(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Waits for `f` to return true, polling; panics after `timeout`.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "condition not met within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An MQTT broker for the tests: Mosquitto on 127.0.0.1:1883 where the machine runs one,
/// otherwise a `mosquitto` started on a free port for this test process (`scripts/test`
/// installs it). Tests must use topics and client ids of their own.
#[allow(dead_code)]
pub fn mqtt_broker() -> (String, u16) {
    use std::net::TcpStream;
    static BROKER: std::sync::OnceLock<(String, u16)> = std::sync::OnceLock::new();
    BROKER
        .get_or_init(|| {
            if TcpStream::connect("127.0.0.1:1883").is_ok() {
                return ("127.0.0.1".into(), 1883);
            }
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]
                .into_iter()
                .find(|b| std::path::Path::new(b).exists())
                .expect("no MQTT broker on 127.0.0.1:1883 and no `mosquitto` to start (scripts/test installs it)");
            // Statics are never dropped: `timeout` ends the broker after the test run.
            let child = Command::new("timeout").args(["900", bin, "-p", &port.to_string()]).spawn().unwrap();
            std::mem::forget(child);
            let start = Instant::now();
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(start.elapsed() < Duration::from_secs(10), "mosquitto did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            ("127.0.0.1".into(), port)
        })
        .clone()
}

/// Runs the browser test `web/tests/<script>` under Node.js (playwright-core driving Chromium)
/// with `env` and the tester's credentials (and `LIMES_SCREENSHOTS` when set), fails the test
/// with its output when it fails, and gives the JSON report it prints.
pub async fn browser_test(script: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web");
    let mut cmd = Command::new("node");
    cmd.arg(web.join("tests").join(script))
        .current_dir(&web)
        .env("LIMES_USER", "tester")
        .env("LIMES_PASSWORD", TESTER_PASSWORD)
        .env("LIMES_LEGAL_BASIS", TEST_LEGAL_BASIS);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Ok(dir) = std::env::var("LIMES_SCREENSHOTS") {
        cmd.env("LIMES_SCREENSHOTS", dir);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the browser test's thread")
        .unwrap_or_else(|e| panic!("node runs web/tests/{script}: {e}"));
    assert!(
        out.status.success(),
        "the browser test {script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = out.stdout.trim_ascii();
    if report.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(report).unwrap_or_else(|e| panic!("the report of {script}: {e}"))
}
