//! Durability: a batch is fsynced before the API acknowledges it, and a
//! `kill -9` after acknowledgement loses nothing.

mod util;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::Value;
use util::{TestNode, camera_json, read_json, write_config};

fn batch(n: usize, tag: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                read_json("ro-cam-1", &format!("B {:03} {}", i % 1000, ["ABC", "XYZ", "KLM"][tag % 3]), Some("RO"))
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_acknowledgement_loses_nothing() {
    let mut node = TestNode::start();
    let c = node.client();
    c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-cam-1", "RO")).send().await.unwrap();

    // Writers keep posting; the node is killed while requests are in flight.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<i64>>();
    let mut writers = Vec::new();
    for w in 0..4 {
        let (c, url, tx) = (c.clone(), node.at("/api/v1/reads"), tx.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let Ok(r) = c.post(&url).json(&batch(250, w + i)).send().await else { return };
                if r.status() != StatusCode::OK {
                    return;
                }
                let Ok(v) = r.json::<Value>().await else { return };
                let ids = v["ids"].as_array().unwrap().iter().map(|i| i.as_i64().unwrap()).collect();
                if tx.send(ids).is_err() {
                    return;
                }
            }
        }));
    }
    drop(tx);
    let mut acked: Vec<i64> = Vec::new();
    while acked.len() < 20_000 {
        acked.extend(rx.recv().await.expect("writers stopped early"));
    }
    node.kill9();
    // Answers that arrived before the kill count as acknowledged too.
    while let Ok(ids) = rx.try_recv() {
        acked.extend(ids);
    }
    for w in writers {
        let _ = w.await;
    }

    let node = node.restart();
    // Spot checks by id, then a full count of the acknowledged ids present.
    acked.sort_unstable();
    for id in acked.iter().step_by(97).chain(acked.last()) {
        let r = c.get(node.at(&format!("/api/v1/reads/{id}"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "acknowledged read {id} lost after kill -9");
    }
    let count = count_rows(&node, &c, &acked).await;
    assert_eq!(count, acked.len(), "every acknowledged read is stored after kill -9");
}

/// Counts how many of `ids` the node has, by paging its search from newest to oldest.
async fn count_rows(node: &TestNode, c: &Client, ids: &[i64]) -> usize {
    let want: std::collections::HashSet<i64> = ids.iter().copied().collect();
    let mut found = 0;
    let mut cursor = String::new();
    loop {
        let v: Value =
            c.get(node.at(&format!("/api/v1/reads?limit=1000{cursor}"))).send().await.unwrap().json().await.unwrap();
        for r in v["reads"].as_array().unwrap() {
            if want.contains(&r["id"].as_i64().unwrap()) {
                found += 1;
            }
        }
        match v["next"].as_str() {
            Some(n) => cursor = format!("&cursor={n}"),
            None => return found,
        }
    }
}

/// One completed system call from an `strace -f -yy` log.
#[derive(Debug)]
struct Call {
    /// Line (0-based) where the call started and where it returned.
    started: usize,
    finished: usize,
    name: String,
    /// Arguments as printed (the first carries the fd's path or socket).
    args: String,
}

/// Parses `strace -f` output, joining `<unfinished ...>` / `<... resumed>` halves per thread.
fn parse_strace(log: &str) -> Vec<Call> {
    let mut open: HashMap<String, (usize, String, String)> = HashMap::new();
    let mut calls = Vec::new();
    for (i, line) in log.lines().enumerate() {
        let Some((pid, rest)) = line.split_once(' ') else { continue };
        let rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("<... ") {
            let name = r.split_whitespace().next().unwrap_or_default().to_owned();
            if let Some((started, name0, args)) = open.remove(pid) {
                debug_assert_eq!(name0, name);
                calls.push(Call { started, finished: i, name: name0, args });
            }
            continue;
        }
        let Some((name, args)) = rest.split_once('(') else { continue };
        if rest.ends_with("<unfinished ...>") {
            open.insert(pid.to_owned(), (i, name.to_owned(), args.to_owned()));
        } else {
            calls.push(Call { started: i, finished: i, name: name.to_owned(), args: args.to_owned() });
        }
    }
    calls.sort_by_key(|c| c.finished);
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_is_fsynced_between_the_batch_writes_and_the_2xx_reply() {
    assert!(
        Command::new("strace").arg("-V").output().is_ok_and(|o| o.status.success()),
        "strace is required for this test: .ci/run installs it (apt-get install strace)"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("strace.log");
    let wrapper = vec![
        "strace".to_owned(),
        "-f".into(),
        "-yy".into(),
        "-qq".into(),
        "-s".into(),
        "48".into(),
        "-e".into(),
        "trace=pwrite64,write,writev,sendto,sendmsg,fsync,fdatasync,read,recvfrom".into(),
        "-o".into(),
        log.display().to_string(),
    ];
    let node = TestNode::start_with(dir, config, Some(wrapper));
    let c = node.client();
    let r = c.post(node.at("/api/v1/cameras")).json(&camera_json("ro-cam-1", "RO")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = c.post(node.at("/api/v1/reads")).json(&batch(300, 0)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 300);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(node);

    let text = std::fs::read_to_string(&log).unwrap();
    let calls = parse_strace(&text);
    let is_wal = |c: &Call| c.args.starts_with(|ch: char| ch.is_ascii_digit()) && c.args.contains("limes.db-wal>");
    let is_tcp = |c: &Call| c.args.contains("TCP:[");
    // The request for the batch arriving, and its 200 reply leaving.
    let request = calls
        .iter()
        .rposition(|c| {
            matches!(c.name.as_str(), "read" | "recvfrom") && is_tcp(c) && c.args.contains("POST /api/v1/reads")
        })
        .expect("the batch request in the trace");
    let reply = calls
        .iter()
        .rposition(|c| {
            matches!(c.name.as_str(), "write" | "writev" | "sendto" | "sendmsg")
                && is_tcp(c)
                && c.args.contains("HTTP/1.1 200")
        })
        .expect("the 200 reply in the trace");
    assert!(request < reply);
    let between = &calls[request..reply];
    let last_wal_write = between.iter().rposition(|c| c.name == "pwrite64" && is_wal(c)).unwrap_or_else(|| {
        panic!("no WAL write between request and reply:\n{}", excerpt(&text, &calls[request], &calls[reply]))
    });
    let synced =
        between[last_wal_write..].iter().any(|c| matches!(c.name.as_str(), "fsync" | "fdatasync") && is_wal(c));
    assert!(
        synced,
        "no fsync/fdatasync of the WAL completed after its last write and before the reply:\n{}",
        excerpt(&text, &calls[request], &calls[reply])
    );
    // The fsync completed before the reply started.
    let sync = between[last_wal_write..]
        .iter()
        .find(|c| matches!(c.name.as_str(), "fsync" | "fdatasync") && is_wal(c))
        .unwrap();
    assert!(sync.finished < calls[reply].started, "fsync returned after the reply began");
}

fn excerpt(text: &str, from: &Call, to: &Call) -> String {
    text.lines()
        .skip(from.started)
        .take(to.finished + 1 - from.started)
        .filter(|l| !l.contains("read("))
        .take(80)
        .collect::<Vec<_>>()
        .join("\n")
}
