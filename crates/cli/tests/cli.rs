//! The `limes` command line: init, plate normalize, demo.

mod util;

use serde_json::Value;
use util::limes;

#[test]
fn init_writes_a_config_that_serve_accepts_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = util::write_config(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("agency = \"ro-igpf\"") && text.contains("# "), "commented config:\n{text}");
    let out = limes(&["init", "--dir", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = limes(&["init", "--dir", dir.path().to_str().unwrap(), "--country", "Romania"]);
    assert!(!out.status.success());
    let out = limes(&["serve", "--config", dir.path().join("missing.toml").to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn plate_normalize_prints_one_json_line_per_text() {
    // RO numbers are never 00, so "0O" is left alone (and invalid); "1O" is repaired to 10.
    let out = limes(&["plate", "normalize", "--country", "RO", "b 12 abc", "B-I2-ABC", "CJ 1O XYZ", "CJ 0O XYZ"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let texts: Vec<&str> = lines.iter().map(|l| l["normalized"]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["B12ABC", "B12ABC", "CJ10XYZ", "CJ0OXYZ"]);
    assert_eq!(lines[1]["normalized"]["repaired"], true);
    assert_eq!(lines[3]["normalized"]["valid"], false);

    let out = limes(&["plate", "normalize", "АА 1234 ВВ"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["normalized"]["text"], "AA1234BB");
    let candidates: Vec<&str> =
        v["normalized"]["candidates"].as_array().unwrap().iter().map(|c| c["country"].as_str().unwrap()).collect();
    assert!(candidates.contains(&"UA"), "{candidates:?}");

    let out = limes(&["plate", "normalize", "😀"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("error"));
}

#[test]
fn demo_runs_two_federated_nodes_and_alerts_cross_the_border() {
    // A small rate keeps the simulated fleet small enough for a debug build.
    let out = limes(&["demo", "--duration", "8", "--rate", "100", "--hotlist", "5000"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for needle in ["summary after", "reads stored", "hits (confirmed)", "possible hits", "alert latency", "p99"] {
        assert!(stdout.contains(needle), "{needle:?} missing from:\n{stdout}");
    }
    let stored: u64 = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("reads stored"))
        .and_then(|v| v.trim().parse().ok())
        .expect("reads stored figure");
    assert!(stored >= 400, "about 100 reads/s for 8 s, got {stored}");

    // Per node: the Romanian and the Ukrainian agency's.
    let header = stdout.lines().find(|l| l.trim().starts_with("per node")).expect("the per-node table");
    assert!(header.contains("RO ro-igpf") && header.contains("UA ua-dpsu"), "{header}");
    let row = |label: &str| -> Vec<u64> {
        let line = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .unwrap_or_else(|| panic!("{label:?} missing from:\n{stdout}"));
        line.split_whitespace().take(2).map(|v| v.parse().unwrap_or_else(|_| panic!("{label}: {line}"))).collect()
    };
    let reads = row("reads of its cameras");
    assert!(reads.len() == 2 && reads.iter().all(|&n| n > 0), "both countries' cameras send reads:\n{stdout}");
    assert_eq!(row("messages rejected"), [0, 0], "{stdout}");
    assert!(row("alerts that crossed").iter().any(|&n| n > 0), "no alert crossed the border:\n{stdout}");
    // Under the RO–UA agreement, which lets alerts of every hotlist reason cross.
    assert!(stdout.contains("under agreement RO-UA/ANPR/2026-01"), "{stdout}");
    assert_eq!(row("kept by the agreement"), [0, 0], "{stdout}");
    // And one hit/no-hit query from the Ukrainian node: a plate Romania read, and one nobody did.
    assert!(stdout.contains("hit/no-hit: ua-dpsu asked ro-igpf about 2 plates without revealing them"), "{stdout}");
    assert!(stdout.contains(" hit, reference ") && stdout.contains("ZZ99ZZZ      no hit"), "{stdout}");
    // One request for the reads behind the hit, approved by Romania's supervisor, answered.
    assert!(stdout.contains("ua-dpsu asked ro-igpf for the reads behind the hit"), "{stdout}");
    assert!(stdout.contains("pending at ro-igpf: a supervisor there decides"), "{stdout}");
    assert!(
        stdout.contains("approved by user:demo-supervisor (supervisor);")
            && stdout.contains("reads released to ua-dpsu"),
        "{stdout}"
    );
    assert!(stdout.contains("under RO-UA/ANPR/2026-01"), "the conditions name the agreement: {stdout}");
    // An incident from Ukraine reaches Romania, is acknowledged, and a Romanian patrol is sent;
    // then a drill, every event marked EXERCISE.
    assert!(
        stdout.contains("incident: ua-dpsu raised ua-dpsu/1 (traffic accident, high) notifying ro-igpf"),
        "{stdout}"
    );
    assert!(stdout.contains("acknowledged by ro-igpf"), "{stdout}");
    assert!(
        stdout.contains("patrol: ro-igpf/PATROL-1 suggested") && stdout.contains("assigned to ua-dpsu/1"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("  EXERCISE ").count(), 3, "three drill events: {stdout}");
    assert!(stdout.contains("played: 3 events"), "{stdout}");
    // Each node's page, with an officer to sign in.
    assert_eq!(stdout.matches("/ui/ — sign in as officer, password ").count(), 2, "{stdout}");
}

#[test]
fn agreement_check_explains_the_examples_and_refuses_incoherent_ones() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/agreements");
    for name in ["cz-pl-police.toml", "cz-pl-towns.toml", "ro-ua.toml", "ro-rs.toml"] {
        let file = docs.join(name);
        let out = limes(&["agreement", "check", "--signed", "--rules", file.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("Signed by both parties.") && stdout.contains("The agreement is coherent"), "{stdout}");
        assert!(stdout.contains("@id(\"in-force\")"), "the rules are printed: {stdout}");
    }
    // A third-country transfer without a basis: explained, then refused.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(docs.join("ro-ua.toml")).unwrap();
    let bad = dir.path().join("bad.toml");
    let without: String = text.lines().filter(|l| !l.starts_with("transfer = ")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&bad, without).unwrap();
    let out = limes(&["agreement", "check", bad.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("needs a basis (adequacy, appropriate safeguards or a derogation)"), "{stdout}");
    assert!(stdout.contains("incoherent and cannot be used"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the agreement is incoherent"));
    // Not an agreement at all.
    std::fs::write(&bad, "format = 5\n").unwrap();
    let out = limes(&["agreement", "check", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a valid agreement"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Edited after signing: coherent, but the signatures no longer hold.
    std::fs::write(&bad, text.replace("retention_days = 90", "retention_days = 91")).unwrap();
    let out = limes(&["agreement", "check", "--signed", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Not in force on any node"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not verify"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_commands_drive_a_running_node() {
    let node = util::TestNode::start();
    let url = node.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--url", &url, "--token", &node.token]);
        let out = limes(&all);
        assert!(out.status.success(), "limes {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let cams = dir.path().join("cams.csv");
    std::fs::write(
        &cams,
        "id,agency,kind,lat,lon,heading,road,lane,country,name\nro-x,ro-igpf,anpr,47.9,26.0,0,E85,1,RO,X\n",
    )
    .unwrap();
    assert!(run(&["camera", "import", cams.to_str().unwrap()]).contains("\"imported\": 1"));
    run(&[
        "camera",
        "add",
        "--id",
        "ua-y",
        "--agency",
        "ua-dpsu",
        "--kind",
        "fixed",
        "--country",
        "UA",
        "--lat",
        "47.8",
        "--lon",
        "26.3",
    ]);
    let list: Value = serde_json::from_str(&run(&["camera", "list"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let hot = dir.path().join("hot.csv");
    std::fs::write(&hot, "plate,country,reason,priority,agency\nB 99 ZZZ,RO,stolen,1,ro-igpf\n").unwrap();
    assert!(run(&["hotlist", "import", hot.to_str().unwrap()]).contains("\"imported\": 1"));
    let found: Value = serde_json::from_str(&run(&["hotlist", "search", "B*99*", "--match", "wildcard"])).unwrap();
    assert_eq!(found[0]["entry"]["plate"], "B99ZZZ");

    // A simulated run: the region's cameras, a hotlist, reads at a paced rate.
    let out = run(&[
        "simulate",
        "--rate",
        "200",
        "--duration",
        "2",
        "--seed",
        "3",
        "--setup-hotlist",
        "2000",
        "--vehicles",
        "5000",
    ]);
    assert!(out.contains("sent") && out.contains("failed requests 0"), "{out}");
    let page: Value = serde_json::from_str(&run(&["reads", "--limit", "5"])).unwrap();
    assert_eq!(page["reads"].as_array().unwrap().len(), 5);
    // The hotlisted plate passes the imported camera: a confirmed alert to acknowledge.
    let r = node
        .client()
        .post(node.at("/api/v1/reads"))
        .json(&util::read_json("ro-x", "B-99-ZZZ", Some("RO")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let alerts: Value = serde_json::from_str(&run(&["alerts", "list", "--unacknowledged"])).unwrap();
    let ours = alerts.as_array().unwrap().iter().find(|a| a["plate"] == "B99ZZZ").expect("alert for B99ZZZ");
    assert_eq!(ours["kind"], "confirmed");
    let id = ours["id"].as_i64().unwrap().to_string();
    // A person acknowledges (a token may not): the alert names who, whatever --by says.
    let out = node.limes(&["alerts", "ack", &id, "--by", "op-1"]);
    assert!(!out.status.success(), "a token acknowledged an alert");
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = limes(&["alerts", "ack", &id, "--by", "op-1", "--url", &url, "--token", &node.session]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let acked: Value = serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(acked["ack"]["by"], "tester");
    let found: Value = serde_json::from_str(&run(&["reads", "B99ZZZ", "--country", "RO"])).unwrap();
    assert_eq!(found["reads"].as_array().unwrap().len(), 1);
    // A node that is not there is a clear error.
    let out = limes(&["camera", "list", "--url", "http://127.0.0.1:9"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the node running"));
}
