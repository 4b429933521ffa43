//! `limes exercise`: play an exercise scenario (`limes_cooperation::exercise`) into a
//! federation through the nodes' APIs, everything it writes marked as an exercise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use limes_cooperation::exercise::{Action, Scenario, Step};
use reqwest::Client;
use serde_json::{Value, json};

use crate::client::{authed_client, send};

#[derive(Debug, Args)]
pub struct ExerciseArgs {
    #[command(subcommand)]
    cmd: ExerciseCmd,
}

#[derive(Debug, Subcommand)]
enum ExerciseCmd {
    /// Check a scenario file and print its timeline, without playing it.
    Check { file: PathBuf },
    /// Play a scenario: each event on its node at its offset from now.
    Run {
        file: PathBuf,
        /// Play this many times faster than the scenario's clock (a one-hour drill in six
        /// minutes with 10).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
}

pub async fn exercise(args: ExerciseArgs) -> anyhow::Result<()> {
    match args.cmd {
        ExerciseCmd::Check { file } => {
            let s = load(&file)?;
            println!("scenario {:?}: {} nodes, {} events", s.name, s.nodes.len(), s.steps.len());
            for step in &s.steps {
                println!("  +{:>6}s  {:<8} {}", step.at.as_secs(), step.node, describe(step));
            }
            Ok(())
        }
        ExerciseCmd::Run { file, speed } => {
            if !(speed.is_finite() && speed > 0.0) {
                bail!("--speed must be a positive number");
            }
            run(&load(&file)?, speed).await
        }
    }
}

fn load(file: &PathBuf) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Scenario::parse(&text).with_context(|| format!("{}", file.display()))
}

fn describe(step: &Step) -> String {
    let f = step.action.fields();
    let text = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    match &step.action {
        Action::Raise(_) => format!("raise {} ({} {}): {}", text("ref"), text("severity"), text("type"), text("title")),
        Action::Bulletin(_) => format!("bulletin ({}): {}", text("handling"), text("title")),
        a => format!("{} on {}", a.name(), a.uses().unwrap_or_default()),
    }
}

struct Participant {
    url: String,
    client: Client,
}

async fn run(s: &Scenario, speed: f64) -> anyhow::Result<()> {
    let mut tokens = BTreeMap::new();
    for (name, n) in &s.nodes {
        let token = std::env::var(&n.token_env)
            .with_context(|| format!("node {name}: the environment variable {} holds no token", n.token_env))?;
        tokens.insert(n.token_env.clone(), token);
    }
    run_with(s, &tokens, speed).await
}

/// Plays `s`, each node's token found in `tokens` by the name of its `token_env`.
pub async fn run_with(s: &Scenario, tokens: &BTreeMap<String, String>, speed: f64) -> anyhow::Result<()> {
    let mut nodes = BTreeMap::new();
    for (name, n) in &s.nodes {
        let token = tokens.get(&n.token_env).with_context(|| format!("node {name}: no token"))?;
        let client = authed_client(Some(token), [])?;
        let p = Participant { url: n.url.trim_end_matches('/').to_owned(), client };
        // Every node answers before anything is played: no half-played drill.
        let node = send(p.client.get(format!("{}/api/v1/node", p.url)))
            .await
            .with_context(|| format!("node {name} at {}", p.url))?;
        println!(
            "{name}: {} ({}) at {}",
            node["agency"].as_str().unwrap_or("?"),
            node["country"].as_str().unwrap_or("?"),
            p.url
        );
        nodes.insert(name.clone(), p);
    }
    println!("EXERCISE {:?}: {} events, {}× speed", s.name, s.steps.len(), speed);
    let start = Instant::now();
    let mut refs: BTreeMap<String, String> = BTreeMap::new();
    for step in &s.steps {
        let due = step.at.div_f64(speed);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let p = &nodes[&step.node];
        let outcome = play(p, step, &mut refs)
            .await
            .with_context(|| format!("at +{}s on {}: {}", step.at.as_secs(), step.node, describe(step)))?;
        println!("+{:>6.1}s  {:<8} EXERCISE {}  → {outcome}", start.elapsed().as_secs_f64(), step.node, describe(step));
    }
    println!("EXERCISE {:?} played: {} events", s.name, s.steps.len());
    Ok(())
}

/// The fields of an action less the scenario's own (`ref`, `incident`), with the exercise mark.
fn body(step: &Step) -> Value {
    let mut m = step.action.fields().clone();
    m.remove("ref");
    m.remove("incident");
    m.insert("exercise".into(), Value::Bool(true));
    Value::Object(m)
}

async fn play(p: &Participant, step: &Step, refs: &mut BTreeMap<String, String>) -> anyhow::Result<String> {
    let incident = || -> anyhow::Result<String> {
        let r = step.action.uses().unwrap_or_default();
        refs.get(r).cloned().with_context(|| format!("incident {r:?} was not raised"))
    };
    match &step.action {
        Action::Raise(_) => {
            let v = send(p.client.post(format!("{}/api/v1/incidents", p.url)).json(&body(step))).await?;
            let id = v["id"].as_str().context("the node named no incident id")?.to_owned();
            refs.insert(step.action.defines().unwrap_or_default().to_owned(), id.clone());
            Ok(format!("incident {id}"))
        }
        Action::Bulletin(_) => {
            let v = send(p.client.post(format!("{}/api/v1/bulletins", p.url)).json(&body(step))).await?;
            Ok(format!("bulletin {}", v["id"].as_str().unwrap_or("?")))
        }
        Action::Note(_) | Action::Status(_) | Action::Severity(_) | Action::Acknowledge(_) => {
            let id = incident()?;
            // A partner's incident reaches the node over the federation: wait for it.
            wait_for_incident(p, &id).await?;
            let (path, payload) = match &step.action {
                Action::Acknowledge(_) => (format!("/api/v1/incidents/{id}/ack"), Value::Null),
                a => {
                    let mut b = body(step);
                    b.as_object_mut().map(|m| m.remove("exercise"));
                    b["change"] = json!(a.name());
                    (format!("/api/v1/incidents/{id}/events"), b)
                }
            };
            let req = p.client.post(format!("{}{path}", p.url));
            let req = if payload.is_null() { req } else { req.json(&payload) };
            let v = send(req).await?;
            if v["exercise"] != Value::Bool(true) {
                bail!("incident {id} is not an exercise incident");
            }
            Ok(format!("incident {id}"))
        }
    }
}

async fn wait_for_incident(p: &Participant, id: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = p.client.get(format!("{}/api/v1/incidents/{id}", p.url)).send().await?;
        if r.status().is_success() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("incident {id} did not reach the node within 30 s (answer {})", r.status());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
