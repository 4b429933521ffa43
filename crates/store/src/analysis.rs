//! The node's own analysis (migration 0022): the events it raised, each logged with what raised
//! it and waiting for a person's decision, and the traffic counts of its counting lines.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::{Store, StoreError, from_us, to_us, write_transaction};

/// An event the node's analysis raised, as it is kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SceneEventRow {
    pub id: i64,
    pub camera: String,
    pub time: DateTime<Utc>,
    /// `line_crossed`, `zone_entered` or `stopped`.
    pub kind: String,
    pub class: String,
    /// The line or zone (empty for a stopped vehicle).
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// The ground point in the picture, 0..1.
    pub at: [f32; 2],
    pub track: u64,
    pub score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_sha256: Option<String>,
    /// The models that raised it, as JSON.
    pub models: String,
    pub raised: DateTime<Utc>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
    /// `pending`, `confirmed` or `dismissed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    /// What was found, as JSON, where the kind has more to say (`faces_counted`: the faces, their
    /// estimates, the zones).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// A person's decision on a pending event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventDecision {
    Confirmed,
    Dismissed,
}

impl EventDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            EventDecision::Confirmed => "confirmed",
            EventDecision::Dismissed => "dismissed",
        }
    }
}

/// Vehicles across one counting line in one interval, lane, direction and class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrafficCount {
    pub camera: String,
    pub interval_start: DateTime<Utc>,
    pub interval_s: u32,
    pub line: String,
    pub lane: String,
    pub direction: String,
    pub class: String,
    pub vehicles: u64,
}

const COLUMNS: &str = "id, camera, time_us, kind, class, rule, direction, at_x, at_y, track, score, frame_sha256, \
     models, raised_us, exercise, status, decided_by, decided_us, note, incident, details";

fn event(r: &Row<'_>) -> rusqlite::Result<SceneEventRow> {
    Ok(SceneEventRow {
        id: r.get(0)?,
        camera: r.get(1)?,
        time: from_us(r.get(2)?),
        kind: r.get(3)?,
        class: r.get(4)?,
        rule: r.get(5)?,
        direction: r.get(6)?,
        at: [r.get::<_, f64>(7)? as f32, r.get::<_, f64>(8)? as f32],
        track: r.get::<_, i64>(9)? as u64,
        score: r.get::<_, f64>(10)? as f32,
        frame_sha256: r.get(11)?,
        models: r.get(12)?,
        raised: from_us(r.get(13)?),
        exercise: r.get(14)?,
        status: r.get(15)?,
        decided_by: r.get(16)?,
        decided: r.get::<_, Option<i64>>(17)?.map(from_us),
        note: r.get(18)?,
        incident: r.get(19)?,
        details: r.get::<_, Option<String>>(20)?.and_then(|d| serde_json::from_str(&d).ok()),
    })
}

impl Store {
    /// Keeps events the analysis raised (their `id`, `status` and decision are ignored: each is
    /// new and pending); gives their ids, in order.
    pub fn put_scene_events(&self, events: &[SceneEventRow]) -> Result<Vec<i64>, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let mut ids = Vec::with_capacity(events.len());
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO scene_events (camera, time_us, kind, class, rule, direction, at_x, at_y, track, \
                     score, frame_sha256, models, raised_us, exercise, details) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                )?;
                for e in events {
                    insert.execute(params![
                        e.camera,
                        to_us(e.time),
                        e.kind,
                        e.class,
                        e.rule,
                        e.direction,
                        f64::from(e.at[0]),
                        f64::from(e.at[1]),
                        e.track as i64,
                        f64::from(e.score),
                        e.frame_sha256,
                        e.models,
                        to_us(e.raised),
                        e.exercise,
                        e.details.as_ref().map(serde_json::Value::to_string)
                    ])?;
                    ids.push(tx.last_insert_rowid());
                }
            }
            tx.commit()?;
            Ok(ids)
        })
    }

    /// Deletes the events of the cameras in `scope` raised on pictures older than `cutoff`
    /// (retention: with them go their details — the faces' age and gender estimates — and,
    /// at the next sweep, the pictures no event keeps); gives how many.
    pub fn delete_scene_events_before_in(
        &self,
        cutoff: DateTime<Utc>,
        scope: &crate::CameraScope,
    ) -> Result<u64, StoreError> {
        let (filter, mut args) = scope.sql();
        args.insert(0, rusqlite::types::Value::Integer(to_us(cutoff)));
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let n = tx.execute(
                &format!("DELETE FROM scene_events WHERE time_us < ? {filter}"),
                rusqlite::params_from_iter(args.iter()),
            )?;
            tx.commit()?;
            Ok(n as u64)
        })
    }

    /// Events newest first, of one camera or all, of one status or all, at most `limit`.
    pub fn scene_events(
        &self,
        camera: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<SceneEventRow>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM scene_events WHERE (?1 IS NULL OR camera = ?1) AND (?2 IS NULL OR status = ?2) \
                 ORDER BY time_us DESC, id DESC LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![camera, status, limit as i64], event)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn scene_event(&self, id: i64) -> Result<Option<SceneEventRow>, StoreError> {
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM scene_events WHERE id = ?1"))?
                .query_row([id], event)
                .optional()?)
        })
    }

    /// Records a person's decision on a pending event; `None` when there is no such event, the
    /// event as it was when it was already decided (nothing changes), else the event decided.
    pub fn decide_scene_event(
        &self,
        id: i64,
        decision: EventDecision,
        by: &str,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<(SceneEventRow, bool)>, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let n = tx.execute(
                "UPDATE scene_events SET status = ?2, decided_by = ?3, decided_us = ?4, note = ?5 \
                 WHERE id = ?1 AND status = 'pending'",
                params![id, decision.as_str(), by, to_us(at), note],
            )?;
            let row = tx
                .prepare_cached(&format!("SELECT {COLUMNS} FROM scene_events WHERE id = ?1"))?
                .query_row([id], event)
                .optional()?;
            tx.commit()?;
            Ok(row.map(|r| (r, n == 1)))
        })
    }

    /// Names the incident a confirmed event was raised as.
    pub fn set_scene_event_incident(&self, id: i64, incident: &str) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            tx.execute("UPDATE scene_events SET incident = ?2 WHERE id = ?1", params![id, incident])?;
            tx.commit()?;
            Ok(())
        })
    }

    /// The digests of the pictures events keep (the file sweep leaves them).
    pub fn scene_event_frames(&self) -> Result<Vec<String>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT DISTINCT frame_sha256 FROM scene_events WHERE frame_sha256 IS NOT NULL")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Adds counts (a count of an interval already kept adds to it).
    pub fn add_traffic_counts(&self, counts: &[TrafficCount]) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO traffic_counts (camera, interval_start_us, interval_s, line, lane, direction, class, \
                     vehicles) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (camera, interval_start_us, line, lane, direction, class) \
                     DO UPDATE SET vehicles = vehicles + excluded.vehicles",
                )?;
                for c in counts {
                    upsert.execute(params![
                        c.camera,
                        to_us(c.interval_start),
                        c.interval_s,
                        c.line,
                        c.lane,
                        c.direction,
                        c.class,
                        c.vehicles as i64
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Counts of intervals starting in `from..to`, of one camera or all, oldest first.
    pub fn traffic_counts(
        &self,
        camera: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<TrafficCount>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT camera, interval_start_us, interval_s, line, lane, direction, class, vehicles \
                 FROM traffic_counts WHERE (?1 IS NULL OR camera = ?1) AND interval_start_us >= ?2 \
                 AND interval_start_us < ?3 ORDER BY interval_start_us, camera, line, lane, direction, class \
                 LIMIT 100000",
            )?;
            let rows = stmt.query_map(params![camera, to_us(from), to_us(to)], |r| {
                Ok(TrafficCount {
                    camera: r.get(0)?,
                    interval_start: from_us(r.get(1)?),
                    interval_s: r.get(2)?,
                    line: r.get(3)?,
                    lane: r.get(4)?,
                    direction: r.get(5)?,
                    class: r.get(6)?,
                    vehicles: r.get::<_, i64>(7)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::StoreOptions::default()).unwrap();
        (dir, store)
    }

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn crossing(camera: &str, s: i64) -> SceneEventRow {
        SceneEventRow {
            id: 0,
            camera: camera.into(),
            time: t(s),
            kind: "line_crossed".into(),
            class: "person".into(),
            rule: "green-border".into(),
            direction: Some("left_to_right".into()),
            at: [0.5, 0.8],
            track: 3,
            score: 0.81,
            frame_sha256: Some("ab".repeat(32)),
            models: r#"{"yolov4-tiny":"…"}"#.into(),
            raised: t(s + 1),
            exercise: false,
            status: "ignored".into(),
            decided_by: Some("ignored".into()),
            decided: None,
            note: None,
            incident: None,
            details: None,
        }
    }

    #[test]
    fn an_events_details_are_kept_as_given() {
        let (_dir, store) = store();
        let details =
            serde_json::json!({"faces": [{"score": 0.9, "attributes": {"age": 34.5, "gender": "male"}}], "zones": []});
        let counted =
            SceneEventRow { kind: "faces_counted".into(), details: Some(details.clone()), ..crossing("ro-cam-1", 0) };
        let ids = store.put_scene_events(&[counted, crossing("ro-cam-1", 5)]).unwrap();
        assert_eq!(store.scene_event(ids[0]).unwrap().unwrap().details, Some(details));
        assert_eq!(store.scene_event(ids[1]).unwrap().unwrap().details, None);
    }

    #[test]
    fn an_event_is_pending_until_a_person_decides_it_once() {
        let (_dir, store) = store();
        let ids = store.put_scene_events(&[crossing("ro-cam-1", 0), crossing("ro-cam-2", 10)]).unwrap();
        assert_eq!(ids.len(), 2);
        let pending = store.scene_events(None, Some("pending"), 10).unwrap();
        assert_eq!(pending.iter().map(|e| e.camera.as_str()).collect::<Vec<_>>(), ["ro-cam-2", "ro-cam-1"]);
        assert_eq!(pending[1].decided_by, None, "a new event has no decision, whatever was given");
        let (decided, changed) = store
            .decide_scene_event(ids[0], EventDecision::Confirmed, "ana", Some("two persons"), t(60))
            .unwrap()
            .unwrap();
        assert!(changed);
        assert_eq!((decided.status.as_str(), decided.decided_by.as_deref()), ("confirmed", Some("ana")));
        let (again, changed) =
            store.decide_scene_event(ids[0], EventDecision::Dismissed, "bob", None, t(70)).unwrap().unwrap();
        assert!(!changed, "a decision stands");
        assert_eq!((again.status.as_str(), again.decided_by.as_deref()), ("confirmed", Some("ana")));
        assert!(store.decide_scene_event(999, EventDecision::Dismissed, "bob", None, t(70)).unwrap().is_none());
        assert_eq!(store.scene_events(Some("ro-cam-1"), None, 10).unwrap().len(), 1);
        store.set_scene_event_incident(ids[0], "ro-igpf/4").unwrap();
        assert_eq!(store.scene_event(ids[0]).unwrap().unwrap().incident.as_deref(), Some("ro-igpf/4"));
        assert_eq!(store.scene_event_frames().unwrap(), ["ab".repeat(32)]);

        // Retention: the events of the cameras in scope, older than the cutoff, go.
        let only = |c: &str| crate::CameraScope::Only(vec![c.to_owned()]);
        assert_eq!(store.delete_scene_events_before_in(t(5), &only("ro-cam-2")).unwrap(), 0, "not old enough");
        assert_eq!(store.delete_scene_events_before_in(t(11), &only("ro-cam-9")).unwrap(), 0, "another camera");
        assert_eq!(
            store.delete_scene_events_before_in(t(11), &crate::CameraScope::AllBut(vec!["ro-cam-1".into()])).unwrap(),
            1
        );
        assert_eq!(store.scene_events(None, None, 10).unwrap().len(), 1);
        assert_eq!(store.delete_scene_events_before_in(t(11), &crate::CameraScope::All).unwrap(), 1);
        assert!(store.scene_events(None, None, 10).unwrap().is_empty());
        assert!(store.scene_event_frames().unwrap().is_empty());
    }

    #[test]
    fn counts_of_the_same_interval_add_up() {
        let (_dir, store) = store();
        let count = |n| TrafficCount {
            camera: "ro-cam-1".into(),
            interval_start: t(0),
            interval_s: 60,
            line: "count".into(),
            lane: "1".into(),
            direction: "left_to_right".into(),
            class: "car".into(),
            vehicles: n,
        };
        store.add_traffic_counts(&[count(3)]).unwrap();
        store.add_traffic_counts(&[count(2), TrafficCount { class: "truck".into(), ..count(1) }]).unwrap();
        let got = store.traffic_counts(Some("ro-cam-1"), t(0), t(60)).unwrap();
        assert_eq!(got.iter().map(|c| (c.class.as_str(), c.vehicles)).collect::<Vec<_>>(), [("car", 5), ("truck", 1)]);
        assert!(store.traffic_counts(None, t(60), t(120)).unwrap().is_empty());
    }
}
