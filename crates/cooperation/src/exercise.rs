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
//! The actions: `raise`, `note`, `status`, `severity`, `acknowledge` (incidents), `bulletin`,
//! `hotlist` (a vehicle of interest listed), `read` (a camera reads it: the vehicle crosses),
//! `assign` (a patrol unit sent to an alert or incident), `request` (full data asked for behind
//! a partner's alert) and `decide` (the partner's supervisor decides it). What an event carries
//! is what the node's API takes (`docs/api.md`), less the `exercise` mark, which the runner sets
//! on everything it writes: a scenario cannot write real data. A request and its decision are
//! a person's acts: the node names `person_token_env`, a signed-in person's session.
//!
//! References tie events together: a `raise` names its incident, a `read` the alert it must
//! raise, a `request` itself (`ref = "…"`); later events use them (`incident = "flood"`,
//! `alert = "crossing"`, `request = "ask"`), on any node — the runner waits for what the
//! federation carries to arrive.
//! [`Scenario::parse`] checks the whole file before anything is played: nodes exist, offsets
//! parse, each reference is defined once, used only after it is defined and for what it names.

use std::collections::BTreeMap;
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
    /// The environment variable holding a signed-in person's session (`limes login`), for
    /// what a person does: a request for full data (an investigator, under a case) and its
    /// decision (a supervisor).
    #[serde(default)]
    pub person_token_env: Option<String>,
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
    /// Put a vehicle of interest on the node's hotlist (`POST /hotlist`, one entry; `agency`
    /// defaults to the node's).
    Hotlist(serde_json::Map<String, serde_json::Value>),
    /// A camera reads a plate now (`POST /reads`): the vehicle crossing. `ref`, when given,
    /// names the alert the read must raise, for an assignment or a request.
    Read(serde_json::Map<String, serde_json::Value>),
    /// Send a unit: `{ unit = "ro-igpf/SV-11", incident = REF }` or `{ unit = …, alert = REF }`.
    Assign(serde_json::Map<String, serde_json::Value>),
    /// Ask the partner that raised an alert for the full data behind it (`POST /requests`):
    /// `{ ref = …, alert = REF, purpose = …, legal_basis = …, case = …, justification = … }`.
    Request(serde_json::Map<String, serde_json::Value>),
    /// The owner decides a request: `{ request = REF, approve = true, reason = "…" }`.
    Decide(serde_json::Map<String, serde_json::Value>),
}

/// What a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Incident,
    Alert,
    Request,
}

impl RefKind {
    fn word(self) -> &'static str {
        match self {
            RefKind::Incident => "incident",
            RefKind::Alert => "alert",
            RefKind::Request => "request",
        }
    }
}

/// The names of the actions, as a scenario writes them.
pub const ACTIONS: &[&str] = &[
    "raise",
    "note",
    "status",
    "severity",
    "acknowledge",
    "bulletin",
    "hotlist",
    "read",
    "assign",
    "request",
    "decide",
];

impl Action {
    fn from_name(name: &str, fields: serde_json::Map<String, serde_json::Value>) -> Option<Action> {
        Some(match name {
            "raise" => Action::Raise(fields),
            "note" => Action::Note(fields),
            "status" => Action::Status(fields),
            "severity" => Action::Severity(fields),
            "acknowledge" => Action::Acknowledge(fields),
            "bulletin" => Action::Bulletin(fields),
            "hotlist" => Action::Hotlist(fields),
            "read" => Action::Read(fields),
            "assign" => Action::Assign(fields),
            "request" => Action::Request(fields),
            "decide" => Action::Decide(fields),
            _ => return None,
        })
    }

    /// The action's name in the scenario file.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Raise(_) => "raise",
            Action::Note(_) => "note",
            Action::Status(_) => "status",
            Action::Severity(_) => "severity",
            Action::Acknowledge(_) => "acknowledge",
            Action::Bulletin(_) => "bulletin",
            Action::Hotlist(_) => "hotlist",
            Action::Read(_) => "read",
            Action::Assign(_) => "assign",
            Action::Request(_) => "request",
            Action::Decide(_) => "decide",
        }
    }

    pub fn fields(&self) -> &serde_json::Map<String, serde_json::Value> {
        match self {
            Action::Raise(m)
            | Action::Note(m)
            | Action::Status(m)
            | Action::Severity(m)
            | Action::Acknowledge(m)
            | Action::Bulletin(m)
            | Action::Hotlist(m)
            | Action::Read(m)
            | Action::Assign(m)
            | Action::Request(m)
            | Action::Decide(m) => m,
        }
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.fields().get(key).and_then(|v| v.as_str())
    }

    /// The reference the event defines (`ref`), and what it names.
    pub fn defines(&self) -> Option<(&str, RefKind)> {
        let kind = match self {
            Action::Raise(_) => RefKind::Incident,
            Action::Read(_) => RefKind::Alert,
            Action::Request(_) => RefKind::Request,
            _ => return None,
        };
        self.text("ref").map(|r| (r, kind))
    }

    /// The references the event uses: the field that names each, the reference, and what
    /// it must name.
    pub fn uses(&self) -> Vec<(&'static str, &str, RefKind)> {
        let fields: &[(&'static str, RefKind)] = match self {
            Action::Note(_) | Action::Status(_) | Action::Severity(_) | Action::Acknowledge(_) => {
                &[("incident", RefKind::Incident)]
            }
            Action::Assign(_) => &[("incident", RefKind::Incident), ("alert", RefKind::Alert)],
            Action::Request(_) => &[("alert", RefKind::Alert)],
            Action::Decide(_) => &[("request", RefKind::Request)],
            _ => &[],
        };
        fields.iter().filter_map(|&(field, kind)| self.text(field).map(|r| (field, r, kind))).collect()
    }

    /// Whether a person does it: a request for full data is an investigator's, under a case,
    /// and its decision a supervisor's (no API token may decide one).
    pub fn needs_a_person(&self) -> bool {
        matches!(self, Action::Request(_) | Action::Decide(_))
    }

    /// What the action must name, checked before anything is played.
    fn check(&self) -> Result<(), String> {
        let missing = |what: &str| Err(format!("{} names {what}", self.name()));
        let has = |k: &str| self.fields().contains_key(k);
        match self {
            Action::Raise(_) if self.text("ref").is_none_or(str::is_empty) => {
                Err("a raise names itself with `ref` for later events".into())
            }
            Action::Note(_) | Action::Status(_) | Action::Severity(_) | Action::Acknowledge(_)
                if self.text("incident").is_none() =>
            {
                missing("its incident (`incident = REF`)")
            }
            Action::Read(_) if self.fields().contains_key("time") => {
                Err("a scripted read is taken when it is played: it has no `time`".into())
            }
            Action::Read(_) if !has("camera") || !has("plate") => missing("a `camera` and a `plate`"),
            Action::Hotlist(_) if !has("plate") || !has("reason") => missing("a `plate` and a `reason`"),
            Action::Assign(_) if self.text("unit").is_none() => missing("its `unit` (`AGENCY/CODE`)"),
            Action::Assign(_) if has("incident") == has("alert") => missing("an `incident` or an `alert`, not both"),
            Action::Request(_) if self.text("alert").is_none() => missing("the `alert` behind it"),
            Action::Request(_)
                if ["purpose", "legal_basis", "case", "justification"].iter().any(|k| self.text(k).is_none()) =>
            {
                missing("its `purpose`, `legal_basis`, `case` and `justification`")
            }
            Action::Decide(_) if self.text("request").is_none() => missing("its `request`"),
            Action::Decide(_) if !self.fields().get("approve").is_some_and(|v| v.is_boolean()) => {
                missing("`approve = true` or `false`")
            }
            _ => Ok(()),
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

/// `n` before a word that starts with a vowel (`an incident`, `a request`).
fn an(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "n" } else { "" }
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
                (None, _) => return Err(err(at, format!("no action ({})", ACTIONS.join(", ")))),
                (Some((a, _)), Some((b, _))) => {
                    return Err(err(at, format!("two actions, {a} and {b}: one per event")));
                }
            };
            if fields.contains_key("exercise") {
                return Err(err(at, "`exercise` is the runner's to set: everything a scenario writes is an exercise"));
            }
            let action = Action::from_name(&name, fields)
                .ok_or_else(|| err(&at, format!("unknown action {name:?} (one of {})", ACTIONS.join(", "))))?;
            action.check().map_err(|m| err(&at, m))?;
            if action.needs_a_person() && raw.nodes[&e.node].person_token_env.is_none() {
                return Err(err(
                    at,
                    format!(
                        "{} needs a person: give nodes.{}.person_token_env, an investigator's or supervisor's \
                         session (`limes login`)",
                        action.name(),
                        e.node
                    ),
                ));
            }
            steps.push(Step { at: offset, node: e.node, action });
        }
        // Played in time order; events at the same offset in file order.
        let mut order: Vec<usize> = (0..steps.len()).collect();
        order.sort_by_key(|&i| (steps[i].at, i));
        let mut defined: BTreeMap<String, RefKind> = BTreeMap::new();
        for &i in &order {
            let at = format!("events[{i}]");
            let step = &steps[i];
            for (field, r, kind) in step.action.uses() {
                match defined.get(r) {
                    Some(k) if *k == kind => {}
                    Some(k) => {
                        return Err(err(at, format!("{field} {r:?} names a{} {}", an(k.word()), k.word())));
                    }
                    None => return Err(err(at, format!("{} {r:?} is not defined before this event", kind.word()))),
                }
            }
            if let Some((r, kind)) = step.action.defines()
                && (r.is_empty() || defined.insert(r.to_owned(), kind).is_some())
            {
                return Err(err(at, format!("reference {r:?} is empty or defined twice")));
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
        assert_eq!(s.steps[0].action.defines(), Some(("flood", RefKind::Incident)));
        assert_eq!(s.steps[0].action.fields()["position"]["lat"], 45.92);
    }

    #[test]
    fn bad_scenarios_are_refused_before_anything_is_played() {
        for (edit, want) in [
            (GOOD.replace("node = \"ua\"", "node = \"md\""), "not among the scenario's nodes"),
            (GOOD.replace("at = \"2m\"", "at = \"2 weeks\""), "is not h, m or s"),
            (GOOD.replace("at = \"0s\"", "at = \"3m\""), "incident \"flood\" is not defined before this event"),
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

    /// A vehicle of interest crosses: listed on one side, read on the other, a unit sent to
    /// the alert, the full data asked for and released.
    const CROSSING: &str = r#"
name = "Siret crossing"
[nodes.ro]
url = "http://127.0.0.1:8080"
token_env = "LIMES_TOKEN_RO"
person_token_env = "LIMES_SUPERVISOR_RO"
[nodes.ua]
url = "http://127.0.0.1:8081"
token_env = "LIMES_TOKEN_UA"
person_token_env = "LIMES_INVESTIGATOR_UA"

[[events]]
at = "0s"
node = "ua"
hotlist = { plate = "AA 1234 BB", country = "UA", reason = "stolen", priority = 1 }

[[events]]
at = "30s"
node = "ro"
read = { ref = "crossing", camera = "ro-siret-in", plate = "AA1234BB", country = "UA", confidence = 0.93 }

[[events]]
at = "40s"
node = "ro"
assign = { unit = "ro-igpf/SV-11", alert = "crossing", note = "Stop it before Suceava" }

[[events]]
at = "1m"
node = "ua"
request = { ref = "ask", alert = "crossing", purpose = "investigation", legal_basis = "LED art. 8", case = "EX-7", justification = "Stolen in Chernivtsi" }

[[events]]
at = "2m"
node = "ro"
decide = { request = "ask", approve = true }
"#;

    #[test]
    fn a_crossing_drill_names_its_alert_and_request_by_reference() {
        let s = Scenario::parse(CROSSING).unwrap();
        let names: Vec<&str> = s.steps.iter().map(|s| s.action.name()).collect();
        assert_eq!(names, ["hotlist", "read", "assign", "request", "decide"]);
        assert_eq!(s.steps[1].action.defines(), Some(("crossing", RefKind::Alert)));
        assert_eq!(s.steps[2].action.uses(), [("alert", "crossing", RefKind::Alert)]);
        assert_eq!(s.steps[4].action.uses(), [("request", "ask", RefKind::Request)]);
        for (edit, want) in [
            (CROSSING.replace("alert = \"crossing\", note", "incident = \"crossing\", note"), "names an alert"),
            (CROSSING.replace("request = \"ask\"", "request = \"asked\""), "request \"asked\" is not defined"),
            (CROSSING.replace("camera = \"ro-siret-in\", ", ""), "a `camera` and a `plate`"),
            (CROSSING.replace("confidence = 0.93", "time = \"2026-11-22T10:00:00Z\""), "no `time`"),
            (CROSSING.replace("reason = \"stolen\", ", ""), "a `plate` and a `reason`"),
            (CROSSING.replace("unit = \"ro-igpf/SV-11\", ", ""), "its `unit`"),
            (
                CROSSING.replace("alert = \"crossing\", note", "incident = \"x\", alert = \"crossing\", note"),
                "not both",
            ),
            (CROSSING.replace("case = \"EX-7\", ", ""), "`case`"),
            (CROSSING.replace("approve = true", "approve = \"yes\""), "`approve = true` or `false`"),
            (CROSSING.replace("ref = \"ask\"", "ref = \"crossing\""), "defined twice"),
            (CROSSING.replace("person_token_env = \"LIMES_SUPERVISOR_RO\"", ""), "decide needs a person"),
        ] {
            let e = Scenario::parse(&edit).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn the_documented_scenarios_are_good() {
        for (text, events) in [
            (include_str!("../../../docs/exercises/prut-flood.toml"), 7),
            (include_str!("../../../docs/exercises/siret-crossing.toml"), 5),
        ] {
            assert_eq!(Scenario::parse(text).unwrap().steps.len(), events);
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
