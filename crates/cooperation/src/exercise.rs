//! Exercise scenarios: joint training scripted on a timeline, played into a federation by
//! `limes exercise run`, every event marked as an exercise on every node.
//!
//! A scenario names the nodes taking part (their API and where the runner finds a token) and
//! the events, each at an offset from the start, on one node:
//!
//! ```toml
//! name = "Prut flood drill"
//!
//! [nodes.ro]
//! url = "http://127.0.0.1:8080"
//! token_env = "LIMES_TOKEN_RO"
//!
//! [nodes.ua]
//! url = "http://127.0.0.1:8081"
//! token_env = "LIMES_TOKEN_UA"
//!
//! [[events]]
//! at = "0s"
//! node = "ro"
//! raise = { ref = "flood", type = "flood", severity = "high", title = "Prut above alert level at Oancea", position = { lat = 45.92, lon = 28.11 }, notified = ["ua-dsns"] }
//!
//! [[events]]
//! at = "2m"
//! node = "ua"
//! acknowledge = { incident = "flood" }
//! ```
//!
//! What an event carries is what the node's API takes (`docs/api.md`), less the `exercise`
//! mark, which the runner sets on everything it writes: a scenario cannot write real data.
//! [`Scenario::parse`] checks the whole file before anything is played: nodes exist, offsets
//! parse, each reference is defined once and used only after it is defined.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;

/// The most events one scenario plays.
pub const MAX_EVENTS: usize = 10_000;

/// A node taking part.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Its API (`http://…` or `https://…`).
    pub url: String,
    /// The environment variable holding an API token of the node for the runner.
    pub token_env: String,
}

/// What an event does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Raise an incident (`POST /incidents`); `ref` names it for later events.
    Raise(serde_json::Map<String, serde_json::Value>),
    /// A note on an incident: `{ incident = REF, text = "…" }`.
    Note(serde_json::Map<String, serde_json::Value>),
    /// A status change: `{ incident = REF, status = "responding" }`.
    Status(serde_json::Map<String, serde_json::Value>),
    /// A severity change: `{ incident = REF, severity = "critical" }`.
    Severity(serde_json::Map<String, serde_json::Value>),
    /// Acknowledge a partner's incident: `{ incident = REF }`.
    Acknowledge(serde_json::Map<String, serde_json::Value>),
    /// Issue a bulletin (`POST /bulletins`).
    Bulletin(serde_json::Map<String, serde_json::Value>),
}

impl Action {
    /// The action's name in the scenario file.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Raise(_) => "raise",
            Action::Note(_) => "note",
            Action::Status(_) => "status",
            Action::Severity(_) => "severity",
            Action::Acknowledge(_) => "acknowledge",
            Action::Bulletin(_) => "bulletin",
        }
    }

    pub fn fields(&self) -> &serde_json::Map<String, serde_json::Value> {
        match self {
            Action::Raise(m)
            | Action::Note(m)
            | Action::Status(m)
            | Action::Severity(m)
            | Action::Acknowledge(m)
            | Action::Bulletin(m) => m,
        }
    }

    /// The reference the event defines (`ref` of a raise).
    pub fn defines(&self) -> Option<&str> {
        match self {
            Action::Raise(m) => m.get("ref").and_then(|v| v.as_str()),
            _ => None,
        }
    }

    /// The reference the event uses (`incident` of a note, status, severity, acknowledge).
    pub fn uses(&self) -> Option<&str> {
        match self {
            Action::Note(m) | Action::Status(m) | Action::Severity(m) | Action::Acknowledge(m) => {
                m.get("incident").and_then(|v| v.as_str())
            }
            _ => None,
        }
    }
}

/// One scripted event.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub node: String,
    pub action: Action,
}

// Without `deny_unknown_fields` (serde cannot with `flatten`): any other key is an action by
// that name, and refused as unknown or as a second action.
#[derive(Deserialize)]
struct RawStep {
    at: String,
    node: String,
    /// The one action, by name, before it is known which it is.
    #[serde(flatten)]
    action: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    nodes: BTreeMap<String, Node>,
    #[serde(default)]
    events: Vec<RawStep>,
}

/// A checked scenario, its events in the order they are played.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub nodes: BTreeMap<String, Node>,
    pub steps: Vec<Step>,
}

/// Why a scenario was refused: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct ScenarioError {
    /// `events[3]`, `nodes.ro`, or the parser's position.
    pub at: String,
    pub message: String,
}

fn err(at: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError { at: at.into(), message: message.into() }
}

/// Parses an offset: `90s`, `5m`, `1h30m`, `2h 5m 10s`, or a number of seconds.
pub fn parse_offset(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let (mut total, mut digits, mut any) = (0u64, String::new(), false);
    for c in s.chars().filter(|c| !c.is_whitespace()) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(format!("offset {s:?}: {c:?} is not h, m or s")),
        };
        let n: u64 = digits.parse().map_err(|_| format!("offset {s:?}: a unit without a number"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("offset {s:?} is too long"))?;
        digits.clear();
        any = true;
    }
    if !digits.is_empty() || !any {
        return Err(format!("offset {s:?} is not like 90s, 5m or 1h30m"));
    }
    Ok(Duration::from_secs(total))
}

impl Scenario {
    /// Parses and checks a scenario (TOML).
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| err("scenario", e.to_string()))?;
        if raw.name.trim().is_empty() {
            return Err(err("name", "the scenario has no name"));
        }
        if raw.nodes.is_empty() {
            return Err(err("nodes", "no node takes part"));
        }
        for (name, n) in &raw.nodes {
            if !(n.url.starts_with("http://") || n.url.starts_with("https://")) {
                return Err(err(format!("nodes.{name}"), format!("url {:?} is not http:// or https://", n.url)));
            }
            if n.token_env.trim().is_empty() {
                return Err(err(format!("nodes.{name}"), "token_env names no variable"));
            }
        }
        if raw.events.len() > MAX_EVENTS {
            return Err(err("events", format!("more than {MAX_EVENTS} events")));
        }
        let mut steps = Vec::with_capacity(raw.events.len());
        for (i, e) in raw.events.into_iter().enumerate() {
            let at = format!("events[{i}]");
            if !raw.nodes.contains_key(&e.node) {
                return Err(err(at, format!("node {:?} is not among the scenario's nodes", e.node)));
            }
            let offset = parse_offset(&e.at).map_err(|m| err(&at, m))?;
            let mut actions = e.action.into_iter();
            let (name, fields) = match (actions.next(), actions.next()) {
                (Some(one), None) => one,
                (None, _) => return Err(err(at, "no action (raise, note, status, severity, acknowledge, bulletin)")),
                (Some((a, _)), Some((b, _))) => {
                    return Err(err(at, format!("two actions, {a} and {b}: one per event")));
                }
            };
            if fields.contains_key("exercise") {
                return Err(err(at, "`exercise` is the runner's to set: everything a scenario writes is an exercise"));
            }
            let action = match name.as_str() {
                "raise" => Action::Raise(fields),
                "note" => Action::Note(fields),
                "status" => Action::Status(fields),
                "severity" => Action::Severity(fields),
                "acknowledge" => Action::Acknowledge(fields),
                "bulletin" => Action::Bulletin(fields),
                other => return Err(err(at, format!("unknown action {other:?}"))),
            };
            steps.push(Step { at: offset, node: e.node, action });
        }
        // Played in time order; events at the same offset in file order.
        let mut order: Vec<usize> = (0..steps.len()).collect();
        order.sort_by_key(|&i| (steps[i].at, i));
        let mut defined = BTreeSet::new();
        for &i in &order {
            let at = format!("events[{i}]");
            let step = &steps[i];
            if let Action::Raise(m) = &step.action {
                match m.get("ref").and_then(|v| v.as_str()) {
                    Some(r) if !r.is_empty() => {
                        if !defined.insert(r.to_owned()) {
                            return Err(err(at, format!("reference {r:?} is defined twice")));
                        }
                    }
                    _ => return Err(err(at, "a raise names itself with `ref` for later events")),
                }
            }
            if matches!(step.action, Action::Note(_) | Action::Status(_) | Action::Severity(_) | Action::Acknowledge(_))
            {
                match step.action.uses() {
                    Some(r) if defined.contains(r) => {}
                    Some(r) => return Err(err(at, format!("incident {r:?} is not raised before this event"))),
                    None => {
                        return Err(err(at, format!("{} names its incident (`incident = REF`)", step.action.name())));
                    }
                }
            }
        }
        let mut sorted: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
        let steps = order.into_iter().filter_map(|i| sorted[i].take()).collect();
        Ok(Scenario { name: raw.name, description: raw.description, nodes: raw.nodes, steps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "Prut flood drill"
[nodes.ro]
url = "http://127.0.0.1:8080"
token_env = "LIMES_TOKEN_RO"
[nodes.ua]
url = "http://127.0.0.1:8081"
token_env = "LIMES_TOKEN_UA"

[[events]]
at = "2m"
node = "ua"
acknowledge = { incident = "flood" }

[[events]]
at = "0s"
node = "ro"
raise = { ref = "flood", type = "flood", severity = "high", title = "Prut above alert level", position = { lat = 45.92, lon = 28.11 }, notified = ["ua-dsns"] }

[[events]]
at = "1h30m"
node = "ro"
status = { incident = "flood", status = "closed" }
"#;

    #[test]
    fn a_scenario_is_played_in_time_order_with_its_references_checked() {
        let s = Scenario::parse(GOOD).unwrap();
        let names: Vec<(&str, u64)> = s.steps.iter().map(|s| (s.action.name(), s.at.as_secs())).collect();
        assert_eq!(names, [("raise", 0), ("acknowledge", 120), ("status", 5400)]);
        assert_eq!(s.steps[0].action.defines(), Some("flood"));
        assert_eq!(s.steps[0].action.fields()["position"]["lat"], 45.92);
    }

    #[test]
    fn bad_scenarios_are_refused_before_anything_is_played() {
        for (edit, want) in [
            (GOOD.replace("node = \"ua\"", "node = \"md\""), "not among the scenario's nodes"),
            (GOOD.replace("at = \"2m\"", "at = \"2 weeks\""), "is not h, m or s"),
            (GOOD.replace("at = \"0s\"", "at = \"3m\""), "not raised before this event"),
            (GOOD.replace("ref = \"flood\", ", ""), "names itself with `ref`"),
            (GOOD.replace("acknowledge = {", "exercise = false\nacknowledge = {"), "invalid type"),
            (
                GOOD.replace("acknowledge = {", "note = { incident = \"flood\", text = \"x\" }\nacknowledge = {"),
                "two actions",
            ),
            (
                GOOD.replace("acknowledge = { incident", "acknowledge = { exercise = false, incident"),
                "the runner's to set",
            ),
            (GOOD.replace("acknowledge =", "delete ="), "unknown action"),
            (GOOD.replace("http://127.0.0.1:8081", "ftp://x"), "not http"),
            (GOOD.replace("name = \"Prut flood drill\"", "name = \"\""), "no name"),
            (
                format!("{GOOD}\n[[events]]\nat = \"1s\"\nnode = \"ro\"\nraise = {{ ref = \"flood\" }}\n"),
                "defined twice",
            ),
            ("name = \"x\"\nnodes = {}".into(), "no node"),
            ("name = ".into(), "scenario"),
        ] {
            let e = Scenario::parse(&edit).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn offsets_read_like_people_write_them() {
        for (s, secs) in [("0", 0), ("90", 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2h 5m 10s", 7510)] {
            assert_eq!(parse_offset(s), Ok(Duration::from_secs(secs)), "{s}");
        }
        for s in ["", "m", "5x", "1h30", "99999999999999999999h"] {
            assert!(parse_offset(s).is_err(), "{s}");
        }
    }
}
