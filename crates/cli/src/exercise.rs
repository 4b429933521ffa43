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

use crate::client::{answer, authed_client, send};

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
    let text = |k: &str| match f.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    match &step.action {
        Action::Raise(_) => format!("raise {} ({} {}): {}", text("ref"), text("severity"), text("type"), text("title")),
        Action::Bulletin(_) => format!("bulletin ({}): {}", text("handling"), text("title")),
        Action::Hotlist(_) => format!("hotlist {} {} ({})", text("country"), text("plate"), text("reason")),
        Action::Read(_) => format!("read {} {} at {}", text("country"), text("plate"), text("camera")),
        Action::Assign(_) => format!("assign {} to {}{}", text("unit"), text("incident"), text("alert")),
        Action::Request(_) => format!("request {} on alert {}", text("ref"), text("alert")),
        Action::Decide(_) => {
            format!("decide request {}: {}", text("request"), if f["approve"] == true { "approve" } else { "refuse" })
        }
        a => format!("{} on {}", a.name(), a.uses().first().map(|u| u.1).unwrap_or_default()),
    }
}

struct Participant {
    url: String,
    /// The node's agency.
    agency: String,
    client: Client,
    /// A signed-in person's session, for what no token may do.
    person: Option<Client>,
}

impl Participant {
    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// What a reference of the scenario became when it was played.
#[derive(Debug, Clone)]
enum Played {
    /// An incident's id (`origin/n`), the same on every node.
    Incident(String),
    /// An alert, by its id on the node (`node`, of `agency`) that raised it.
    Alert { node: String, agency: String, id: i64 },
    /// A request, by the asking agency and its id.
    Request { asker: String, id: String },
}

async fn run(s: &Scenario, speed: f64) -> anyhow::Result<()> {
    let mut tokens = BTreeMap::new();
    for (name, n) in &s.nodes {
        for var in std::iter::once(&n.token_env).chain(&n.person_token_env) {
            let token = std::env::var(var)
                .with_context(|| format!("node {name}: the environment variable {var} holds no token"))?;
            tokens.insert(var.clone(), token);
        }
    }
    run_with(s, &tokens, speed).await
}

/// Plays `s`, each node's token found in `tokens` by the name of its `token_env`.
pub async fn run_with(s: &Scenario, tokens: &BTreeMap<String, String>, speed: f64) -> anyhow::Result<()> {
    let mut nodes = BTreeMap::new();
    for (name, n) in &s.nodes {
        let token = tokens.get(&n.token_env).with_context(|| format!("node {name}: no token"))?;
        let client = authed_client(Some(token), [])?;
        let person = match &n.person_token_env {
            Some(var) => {
                let token = tokens.get(var).with_context(|| format!("node {name}: no person's session"))?;
                Some(authed_client(Some(token), [])?)
            }
            None => None,
        };
        let url = n.url.trim_end_matches('/').to_owned();
        // Every node answers before anything is played: no half-played drill.
        let node =
            send(client.get(format!("{url}/api/v1/node"))).await.with_context(|| format!("node {name} at {url}"))?;
        let agency = node["agency"].as_str().unwrap_or("?").to_owned();
        println!("{name}: {agency} ({}) at {url}", node["country"].as_str().unwrap_or("?"));
        nodes.insert(name.clone(), Participant { url, agency, client, person });
    }
    println!("EXERCISE {:?}: {} events, {}× speed", s.name, s.steps.len(), speed);
    let start = Instant::now();
    let mut refs: BTreeMap<String, Played> = BTreeMap::new();
    for step in &s.steps {
        let due = step.at.div_f64(speed);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let outcome = play(&nodes, step, &mut refs)
            .await
            .with_context(|| format!("at +{}s on {}: {}", step.at.as_secs(), step.node, describe(step)))?;
        println!("+{:>6.1}s  {:<8} EXERCISE {}  → {outcome}", start.elapsed().as_secs_f64(), step.node, describe(step));
    }
    println!("EXERCISE {:?} played: {} events", s.name, s.steps.len());
    Ok(())
}

/// The fields of an action less the scenario's own (`ref` and the references it uses), with
/// the exercise mark.
fn body(step: &Step) -> serde_json::Map<String, Value> {
    let mut m = step.action.fields().clone();
    m.remove("ref");
    for (field, _, _) in step.action.uses() {
        m.remove(field);
    }
    m.insert("exercise".into(), Value::Bool(true));
    m
}

/// How long the runner waits for what another node sent to arrive (an incident, an alert, a
/// request, a partner's hotlist entry).
const ARRIVAL: Duration = Duration::from_secs(30);

/// Asks `probe` every 200 ms until it gives something, for at most [`ARRIVAL`].
async fn arrival<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + ARRIVAL;
    loop {
        if let Some(found) = probe().await? {
            return Ok(found);
        }
        if Instant::now() > deadline {
            bail!("{what} did not arrive within {} s", ARRIVAL.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GET `url` as `client`: the answer, or `None` for 404 (not here yet).
async fn get_if_there(client: &Client, url: String) -> anyhow::Result<Option<Value>> {
    let r = client.get(&url).send().await?;
    if r.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    answer(r).await.map(Some)
}

async fn play(
    nodes: &BTreeMap<String, Participant>,
    step: &Step,
    refs: &mut BTreeMap<String, Played>,
) -> anyhow::Result<String> {
    let p = &nodes[&step.node];
    let used = |field: &str| -> anyhow::Result<Played> {
        let r = step.action.fields().get(field).and_then(Value::as_str).unwrap_or_default();
        refs.get(r).cloned().with_context(|| format!("{field} {r:?} was not played"))
    };
    let define = |refs: &mut BTreeMap<String, Played>, played: Played| {
        if let Some((r, _)) = step.action.defines() {
            refs.insert(r.to_owned(), played);
        }
    };
    match &step.action {
        Action::Raise(_) => {
            let v = send(p.client.post(p.at("/api/v1/incidents")).json(&body(step))).await?;
            let id = v["id"].as_str().context("the node named no incident id")?.to_owned();
            define(refs, Played::Incident(id.clone()));
            Ok(format!("incident {id}"))
        }
        Action::Bulletin(_) => {
            let v = send(p.client.post(p.at("/api/v1/bulletins")).json(&body(step))).await?;
            Ok(format!("bulletin {}", v["id"].as_str().unwrap_or("?")))
        }
        Action::Note(_) | Action::Status(_) | Action::Severity(_) | Action::Acknowledge(_) => {
            let Played::Incident(id) = used("incident")? else { bail!("not an incident") };
            // A partner's incident reaches the node over the federation: wait for it.
            let url = p.at(&format!("/api/v1/incidents/{id}"));
            arrival(&format!("incident {id}"), || get_if_there(&p.client, url.clone())).await?;
            let req = match &step.action {
                Action::Acknowledge(_) => p.client.post(p.at(&format!("/api/v1/incidents/{id}/ack"))),
                a => {
                    let mut b = body(step);
                    b.remove("exercise");
                    b.insert("change".into(), json!(a.name()));
                    p.client.post(p.at(&format!("/api/v1/incidents/{id}/events"))).json(&b)
                }
            };
            let v = send(req).await?;
            if v["exercise"] != Value::Bool(true) {
                bail!("incident {id} is not an exercise incident");
            }
            Ok(format!("incident {id}"))
        }
        Action::Hotlist(_) => {
            let mut b = body(step);
            b.entry("agency").or_insert_with(|| json!(p.agency));
            let v = send(p.client.post(p.at("/api/v1/hotlist")).json(&[b])).await?;
            if v["imported"] != 1 {
                bail!("the node did not take the entry: {}", v["errors"]);
            }
            Ok(format!("hotlist entry {}", v["ids"][0]))
        }
        Action::Read(_) => {
            let mut b = body(step);
            if step.action.defines().is_some() {
                // The read is meant to hit: a partner's entry must have reached the node first.
                let plate = b["plate"].as_str().unwrap_or_default().to_owned();
                let country = b.get("country").and_then(Value::as_str).unwrap_or_default().to_owned();
                let mut query = vec![("plate", plate)];
                if !country.is_empty() {
                    query.push(("country", country));
                }
                arrival("an exercise hotlist entry for the plate", || async {
                    let found = send(p.client.get(p.at("/api/v1/hotlist/search")).query(&query)).await?;
                    let any = found.as_array().is_some_and(|a| a.iter().any(|h| h["entry"]["exercise"] == true));
                    Ok(any.then_some(()))
                })
                .await?;
            }
            b.insert("time".into(), json!(chrono::Utc::now()));
            let v = send(p.client.post(p.at("/api/v1/reads")).json(&[b])).await?;
            let read = v["ids"][0].as_i64().with_context(|| format!("the node took no read: {}", v["rejected"]))?;
            if step.action.defines().is_none() {
                return Ok(format!("read {read}, {} alerts", v["alerts"]));
            }
            let alerts = send(p.client.get(p.at("/api/v1/alerts?limit=200"))).await?;
            let alert = alerts
                .as_array()
                .and_then(|a| a.iter().find(|a| a["read_id"] == read))
                .and_then(|a| a["id"].as_i64())
                .with_context(|| format!("read {read} raised no alert: is the plate on an exercise hotlist?"))?;
            define(refs, Played::Alert { node: step.node.clone(), agency: p.agency.clone(), id: alert });
            Ok(format!("read {read}, alert {alert}"))
        }
        Action::Assign(_) => {
            let mut b = body(step);
            let target = match (used("incident"), used("alert")) {
                (Ok(Played::Incident(id)), _) => {
                    b.insert("incident".into(), json!(id));
                    id
                }
                (_, Ok(alert @ Played::Alert { .. })) => {
                    let (id, _) = alert_here(nodes, &step.node, &alert).await?;
                    b.insert("alert".into(), json!(id));
                    format!("alert {id}")
                }
                _ => bail!("the assignment names no incident or alert that was played"),
            };
            let v = send(p.client.post(p.at("/api/v1/patrols/assignments")).json(&b)).await?;
            if v["assignment"]["exercise"] != true {
                bail!("the assignment is not marked as an exercise: {v}");
            }
            Ok(format!("{} en route to {target}", v["unit"]["id"].as_str().unwrap_or("the unit")))
        }
        Action::Request(_) => {
            let alert = used("alert")?;
            let (_, found) = alert_here(nodes, &step.node, &alert).await?;
            let origin = &found["origin"];
            let partner = origin["agency"].as_str().context("the alert is this node's own: ask nobody")?;
            let reference = match step.action.fields().get("reference").and_then(Value::as_str) {
                Some(r) => r.to_owned(),
                None if origin["pseudonymised"] == true => found["plate"].as_str().unwrap_or_default().to_owned(),
                None => bail!("the alert's plate came in the clear: give the `reference` to ask about"),
            };
            let mut b = body(step);
            let mut header = |k: &str| b.remove(k).and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let (purpose, basis, case) = (header("purpose"), header("legal_basis"), header("case"));
            b.insert("partner".into(), json!(partner));
            b.insert("reference".into(), json!(reference));
            let person = p.person.as_ref().context("a request for full data needs a person's session")?;
            let req = person
                .post(p.at("/api/v1/requests"))
                .header("limes-purpose", purpose)
                .header("limes-legal-basis", basis)
                .header("limes-case", case)
                .json(&b);
            let v = send(req).await?;
            let id = v["id"].as_str().context("the node named no request id")?.to_owned();
            if v["exercise"] != true {
                bail!("request {id} is not marked as an exercise");
            }
            define(refs, Played::Request { asker: nodes[&step.node].agency.clone(), id: id.clone() });
            Ok(format!("request {id} to {partner}"))
        }
        Action::Decide(_) => {
            let Played::Request { asker, id } = used("request")? else { bail!("not a request") };
            let person = p.person.as_ref().context("deciding a request needs a person's session")?;
            let url = p.at(&format!("/api/v1/requests/in/{asker}/{id}"));
            let r = arrival(&format!("request {id}"), || get_if_there(person, url.clone())).await?;
            if r["exercise"] != true {
                bail!("request {id} is not an exercise's");
            }
            let approve = step.action.fields()["approve"] == true;
            if r["status"] != "pending" {
                return Ok(format!("request {id} was {} already", r["status"].as_str().unwrap_or("?")));
            }
            let mut b = body(step);
            b.remove("exercise");
            let v = send(person.post(format!("{url}/decision")).json(&b)).await?;
            Ok(format!("request {id} {}", v["status"].as_str().unwrap_or(if approve { "approved" } else { "refused" })))
        }
    }
}

/// The id on node `here` of a played alert, and the alert as that node lists it: the node's
/// own, or the copy its partner sent (waited for).
async fn alert_here(nodes: &BTreeMap<String, Participant>, here: &str, alert: &Played) -> anyhow::Result<(i64, Value)> {
    let Played::Alert { node, agency, id } = alert else { bail!("not an alert") };
    let p = &nodes[here];
    let (node, agency, id) = (node.clone(), agency.clone(), *id);
    arrival(&format!("alert {id} of {agency}"), || {
        let (node, agency) = (node.clone(), agency.clone());
        async move {
            let alerts = send(p.client.get(p.at("/api/v1/alerts?limit=1000"))).await?;
            let found = alerts.as_array().and_then(|a| {
                a.iter().find(|a| {
                    if node == here {
                        a["id"] == id && a.get("origin").is_none()
                    } else {
                        a["origin"]["agency"] == agency.as_str() && a["origin"]["alert_id"] == id
                    }
                })
            });
            Ok(found.map(|a| (a["id"].as_i64().unwrap_or_default(), a.clone())))
        }
    })
    .await
}
