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
fn demo_runs_for_its_duration_and_prints_a_summary() {
    // A small rate keeps the simulated fleet small enough for a debug build.
    let out = limes(&["demo", "--duration", "3", "--rate", "50", "--hotlist", "5000"]);
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
    assert!(stored >= 100, "about 50 reads/s for 3 s, got {stored}");
}
