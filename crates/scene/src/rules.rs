//! What an operator draws on a camera's picture: lines (the green border, a river bank, a
//! closed crossing, a counting line across a road), zones, and when a vehicle counts as stopped;
//! checked before they are used.

use serde::{Deserialize, Serialize};

use crate::geometry::{Point, Polygon};
use crate::track::TrackerConfig;
use crate::{ObjectClass, SceneError};

/// Which way something crossed a line drawn from `a` to `b`: from its left to its right (as
/// one standing at `a` looking at `b` sees the picture), or back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crossing {
    LeftToRight,
    RightToLeft,
}

impl Crossing {
    pub fn as_str(self) -> &'static str {
        match self {
            Crossing::LeftToRight => "left_to_right",
            Crossing::RightToLeft => "right_to_left",
        }
    }
}

/// A lane of a road a counting line crosses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lane {
    pub name: String,
    pub area: Polygon,
}

/// A line: crossing it raises an event (for the classes named, all when none), and vehicles
/// crossing it are counted per lane, direction and class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineRule {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub a: Point,
    pub b: Point,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ObjectClass>,
    /// Raise events only for crossings this way (e.g. into the country); both ways when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Crossing>,
    /// Count vehicles crossing it (a counting line), per lane when lanes are drawn.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub count: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lanes: Vec<Lane>,
    /// Whether crossing it raises an event at all (a counting line may only count).
    #[serde(default = "yes")]
    pub alert: bool,
}

fn yes() -> bool {
    true
}

/// A zone: being in it (for `dwell_ms` at least) raises an intrusion event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneRule {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub area: Polygon,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ObjectClass>,
    #[serde(default)]
    pub dwell_ms: i64,
    /// A queue zone: the stopped vehicles in it are the queue (`Scene::queue`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub queue: bool,
    /// Whether being in it raises an event (a queue zone may only measure).
    #[serde(default = "yes")]
    pub alert: bool,
}

/// When a vehicle counts as stopped: it moved less than `distance` (frame units) over `seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoppedRule {
    pub seconds: f32,
    pub distance: f32,
}

impl Default for StoppedRule {
    fn default() -> Self {
        StoppedRule { seconds: 10.0, distance: 0.015 }
    }
}

/// When a track's plate is given out: as soon as this many of its reads agree, else when the
/// track ends with any read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlateRule {
    pub agreeing: usize,
}

impl Default for PlateRule {
    fn default() -> Self {
        PlateRule { agreeing: 2 }
    }
}

/// Everything drawn for one camera, and how it is watched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SceneConfig {
    pub tracker: TrackerConfig,
    pub lines: Vec<LineRule>,
    pub zones: Vec<ZoneRule>,
    pub stopped: StoppedRule,
    pub plates: PlateRule,
    /// The length of a traffic-count interval, seconds (60 when 0).
    pub count_interval_s: u32,
}

/// The most lines and zones one camera may have.
pub const MAX_RULES: usize = 64;

fn check_id(kind: &str, id: &str) -> Result<(), SceneError> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(SceneError::Rule(format!("{kind} id {id:?}: 1 to 64 letters, digits, - or _")));
    }
    Ok(())
}

impl SceneConfig {
    /// Checks what the types cannot: ids unique and well formed, lines with two distinct ends
    /// inside the frame, sensible thresholds.
    pub fn check(&self) -> Result<(), SceneError> {
        if self.lines.len() > MAX_RULES || self.zones.len() > MAX_RULES {
            return Err(SceneError::Rule(format!("at most {MAX_RULES} lines and {MAX_RULES} zones")));
        }
        let mut ids = std::collections::BTreeSet::new();
        for l in &self.lines {
            check_id("line", &l.id)?;
            if !ids.insert(l.id.as_str()) {
                return Err(SceneError::Rule(format!("two lines or zones are called {:?}", l.id)));
            }
            if !l.a.is_valid() || !l.b.is_valid() {
                return Err(SceneError::Rule(format!("line {:?} has an end outside the frame", l.id)));
            }
            if l.a.distance(l.b) < 0.01 {
                return Err(SceneError::Rule(format!("line {:?} is too short to cross", l.id)));
            }
            if !l.lanes.is_empty() && !l.count {
                return Err(SceneError::Rule(format!("line {:?} has lanes but does not count", l.id)));
            }
        }
        for z in &self.zones {
            check_id("zone", &z.id)?;
            if !ids.insert(z.id.as_str()) {
                return Err(SceneError::Rule(format!("two lines or zones are called {:?}", z.id)));
            }
            if !(0..=3_600_000).contains(&z.dwell_ms) {
                return Err(SceneError::Rule(format!("zone {:?}: dwell_ms 0 to one hour", z.id)));
            }
        }
        let t = &self.tracker;
        if !(0.0..1.0).contains(&t.min_iou) || !(0.0..1.0).contains(&t.min_score) {
            return Err(SceneError::Rule("tracker thresholds are from 0 to 1".into()));
        }
        if !(100..=60_000).contains(&t.max_gap_ms) {
            return Err(SceneError::Rule("tracker max_gap_ms 100 to 60000".into()));
        }
        if !(1000..=600_000).contains(&t.history_ms) || (self.stopped.seconds * 1000.0) as i64 > t.history_ms {
            return Err(SceneError::Rule(
                "tracker history_ms 1 s to 10 min, and at least the stopped rule's seconds".into(),
            ));
        }
        let s = &self.stopped;
        let stopped_ok = s.seconds > 0.0 && s.seconds <= 3600.0 && s.distance > 0.0 && s.distance < 1.0;
        if !stopped_ok {
            return Err(SceneError::Rule("stopped: seconds up to an hour, distance within the frame".into()));
        }
        if self.count_interval_s > 86_400 {
            return Err(SceneError::Rule("count_interval_s at most a day".into()));
        }
        Ok(())
    }

    pub fn count_interval_s(&self) -> u32 {
        if self.count_interval_s == 0 { 60 } else { self.count_interval_s }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::line;

    #[test]
    fn drawn_rules_are_checked_with_the_reason() {
        let ok = SceneConfig { lines: vec![line("border", (0.0, 0.5), (1.0, 0.5))], ..SceneConfig::default() };
        assert!(ok.check().is_ok());
        let cases = [
            (SceneConfig { lines: vec![line("a b", (0.0, 0.5), (1.0, 0.5))], ..ok.clone() }, "letters, digits"),
            (SceneConfig { lines: vec![line("x", (0.5, 0.5), (0.5, 0.5))], ..ok.clone() }, "too short"),
            (SceneConfig { lines: vec![line("x", (0.0, 0.5), (1.5, 0.5))], ..ok.clone() }, "outside the frame"),
            (
                SceneConfig {
                    lines: vec![line("x", (0.0, 0.5), (1.0, 0.5)), line("x", (0.0, 0.2), (1.0, 0.2))],
                    ..ok.clone()
                },
                "two lines or zones",
            ),
            (
                SceneConfig { tracker: TrackerConfig { max_gap_ms: 10, ..TrackerConfig::default() }, ..ok.clone() },
                "max_gap_ms",
            ),
            (SceneConfig { stopped: StoppedRule { seconds: -1.0, distance: 0.01 }, ..ok.clone() }, "stopped"),
        ];
        for (config, needle) in cases {
            let e = config.check().unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
        // As operators write them, in JSON; unknown fields refused.
        let text = r#"{"lines": [{"id": "green-border", "a": {"x": 0.1, "y": 0.6}, "b": {"x": 0.9, "y": 0.55},
            "classes": ["person"], "only": "left_to_right"}],
            "zones": [{"id": "river-bank", "area": [{"x": 0, "y": 0}, {"x": 0.3, "y": 0}, {"x": 0.3, "y": 0.3}], "dwell_ms": 2000}]}"#;
        let config: SceneConfig = serde_json::from_str(text).unwrap();
        assert!(config.check().is_ok());
        assert_eq!(config.lines[0].only, Some(Crossing::LeftToRight));
        assert!(serde_json::from_str::<SceneConfig>(r#"{"lines": [], "colour": "red"}"#).is_err());
    }
}
