//! Stored detections (faces, persons, vehicles) and their search: by camera, zone, kind,
//! time, estimated age and gender, paged newest first (migration 0005).
//!
//! A detection never holds identity (see [`limes_model::Detection`]): nothing here stores
//! or searches by a name, a face template or a recognition result, and there is no search
//! by likeness.

use chrono::{DateTime, Utc};
use limes_model::{
    AgeRange, BoundingBox, BoxUnits, CameraId, Detection, DetectionKind, Gender, GeoPoint, Scored, VehicleInfo,
};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params};
use serde::Serialize;

use crate::{Store, StoreError, corrupt, from_us, to_us};

/// A detection ready to store, with when and how it reached the node.
#[derive(Debug, Clone)]
pub struct NewDetection {
    pub detection: Detection,
    /// When the node received it.
    pub received: DateTime<Utc>,
    /// How it reached the node: `http`, or the camera format (`onvif-json`, `frigate`…).
    pub source_format: String,
    vehicle: Option<String>,
}

impl NewDetection {
    /// Prepares a detection for storage; serialises its vehicle here, on the caller's
    /// thread, so that the single writer thread does as little as possible.
    pub fn new(detection: Detection, received: DateTime<Utc>, source_format: impl Into<String>) -> Self {
        let vehicle = detection.vehicle.as_ref().and_then(|v| serde_json::to_string(v).ok());
        Self { detection, received, source_format: source_format.into(), vehicle }
    }
}

/// Detections written atomically, in the writer's group commits with reads.
#[derive(Debug, Clone, Default)]
pub struct DetectionBatch {
    pub detections: Vec<NewDetection>,
}

/// A detection as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredDetection {
    pub id: i64,
    /// When the node received it.
    pub received: DateTime<Utc>,
    /// How it reached the node.
    pub source_format: String,
    pub detection: Detection,
}

/// Where a page of detections ended: the next page starts after it.
pub type DetectionCursor = crate::reads::PageCursor;

/// A search over stored detections, newest first. Every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct DetectionQuery {
    pub camera: Option<CameraId>,
    /// The zone exactly as the camera named it.
    pub zone: Option<String>,
    pub kind: Option<DetectionKind>,
    /// From this time, inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Until this time, exclusive.
    pub to: Option<DateTime<Utc>>,
    /// Detections whose estimated age range overlaps this one; detections without an age
    /// estimate do not match.
    pub age: Option<AgeRange>,
    /// Detections with this estimated gender; detections without one do not match.
    pub gender: Option<Gender>,
    /// The `next` of the previous page.
    pub after: Option<DetectionCursor>,
    /// At most this many (1..=10,000).
    pub limit: usize,
}

/// One page of detections.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionPage {
    pub detections: Vec<StoredDetection>,
    /// Set when more results may follow.
    pub next: Option<DetectionCursor>,
}

const COLUMNS: &str = "id, camera, time_us, received_us, kind, confidence, age_min, age_max, age_confidence, gender,
     gender_confidence, bbox_left, bbox_top, bbox_right, bbox_bottom, bbox_units, zone, object_id, vehicle, lat, lon,
     source_format";

/// Inserts a batch inside the writer's transaction; returns the new ids in batch order.
pub(crate) fn insert(conn: &Connection, batch: &DetectionBatch) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO detections (camera, time_us, received_us, kind, confidence, age_min, age_max, age_confidence,
                                 gender, gender_confidence, bbox_left, bbox_top, bbox_right, bbox_bottom,
                                 bbox_units, zone, object_id, vehicle, lat, lon, source_format)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
    )?;
    let mut ids = Vec::with_capacity(batch.detections.len());
    for n in &batch.detections {
        let d = &n.detection;
        let bbox = d.bbox.as_ref();
        stmt.execute(params![
            d.camera.as_str(),
            to_us(d.time),
            to_us(n.received),
            d.kind.as_str(),
            d.confidence,
            d.age.as_ref().map(|a| a.value.min),
            d.age.as_ref().map(|a| a.value.max),
            d.age.as_ref().and_then(|a| a.confidence),
            d.gender.as_ref().map(|g| g.value.as_str()),
            d.gender.as_ref().and_then(|g| g.confidence),
            bbox.map(|b| b.left),
            bbox.map(|b| b.top),
            bbox.map(|b| b.right),
            bbox.map(|b| b.bottom),
            bbox.map(|b| b.units.as_str()),
            d.zone,
            d.object_id,
            n.vehicle,
            d.position.map(|p| p.lat),
            d.position.map(|p| p.lon),
            n.source_format,
        ])?;
        ids.push(conn.last_insert_rowid());
    }
    Ok(ids)
}

fn decode(row: &Row<'_>) -> rusqlite::Result<Result<StoredDetection, StoreError>> {
    let id: i64 = row.get(0)?;
    let camera: String = row.get(1)?;
    let (time_us, received_us): (i64, i64) = (row.get(2)?, row.get(3)?);
    let kind: String = row.get(4)?;
    let confidence: Option<f64> = row.get(5)?;
    let (age_min, age_max, age_confidence): (Option<i64>, Option<i64>, Option<f64>) =
        (row.get(6)?, row.get(7)?, row.get(8)?);
    let (gender, gender_confidence): (Option<String>, Option<f64>) = (row.get(9)?, row.get(10)?);
    let edges: [Option<f64>; 4] = [row.get(11)?, row.get(12)?, row.get(13)?, row.get(14)?];
    let units: Option<String> = row.get(15)?;
    let (zone, object_id, vehicle): (Option<String>, Option<String>, Option<String>) =
        (row.get(16)?, row.get(17)?, row.get(18)?);
    let (lat, lon): (Option<f64>, Option<f64>) = (row.get(19)?, row.get(20)?);
    let source_format: String = row.get(21)?;
    let bad = |detail: String| corrupt("detections", format!("detection {id}: {detail}"));
    Ok((|| {
        let kind = match kind.as_str() {
            "face" => DetectionKind::Face,
            "person" => DetectionKind::Person,
            "vehicle" => DetectionKind::Vehicle,
            other => return Err(bad(format!("kind {other:?}"))),
        };
        let age = match (age_min, age_max) {
            (Some(min), Some(max)) => {
                let year = |v: i64| u8::try_from(v).map_err(|_| bad(format!("age {v}")));
                Some(Scored {
                    value: AgeRange { min: year(min)?, max: year(max)? },
                    confidence: to_f32(age_confidence),
                })
            }
            _ => None,
        };
        let gender = match gender.as_deref() {
            None => None,
            Some(g) => Some(Scored {
                value: Gender::parse(g).ok_or_else(|| bad(format!("gender {g:?}")))?,
                confidence: to_f32(gender_confidence),
            }),
        };
        let bbox = match (edges, units.as_deref()) {
            ([Some(left), Some(top), Some(right), Some(bottom)], Some(units)) => Some(BoundingBox {
                left: left as f32,
                top: top as f32,
                right: right as f32,
                bottom: bottom as f32,
                units: match units {
                    "normalized" => BoxUnits::Normalized,
                    "pixels" => BoxUnits::Pixels,
                    other => return Err(bad(format!("box units {other:?}"))),
                },
            }),
            _ => None,
        };
        let position = match (lat, lon) {
            (Some(lat), Some(lon)) => Some(GeoPoint::new(lat, lon).map_err(|e| bad(e.to_string()))?),
            _ => None,
        };
        let vehicle = vehicle
            .map(|v| serde_json::from_str::<VehicleInfo>(&v))
            .transpose()
            .map_err(|e| bad(format!("vehicle: {e}")))?;
        Ok(StoredDetection {
            id,
            received: from_us(received_us),
            source_format,
            detection: Detection {
                camera: CameraId::new(camera).map_err(|e| bad(e.to_string()))?,
                time: from_us(time_us),
                kind,
                confidence: to_f32(confidence),
                age,
                gender,
                bbox,
                zone,
                object_id,
                vehicle,
                position,
            },
        })
    })())
}

/// Stored as REAL from an `f32`, so the conversion back is exact.
fn to_f32(v: Option<f64>) -> Option<f32> {
    v.map(|v| v as f32)
}

/// Detections deleted per transaction by retention.
const DELETE_CHUNK: i64 = 10_000;

impl Store {
    /// Searches stored detections, newest first.
    pub fn search_detections(&self, q: &DetectionQuery) -> Result<DetectionPage, StoreError> {
        let (sql, args, limit) = detection_sql(q);
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), decode)?;
            let mut detections = Vec::new();
            let mut more = false;
            for row in rows {
                if detections.len() == limit {
                    more = true;
                    break;
                }
                detections.push(row??);
            }
            let next = more
                .then(|| {
                    detections
                        .last()
                        .map(|d: &StoredDetection| DetectionCursor { time_us: to_us(d.detection.time), id: d.id })
                })
                .flatten();
            Ok(DetectionPage { detections, next })
        })
    }

    /// How SQLite will run a detection search (`EXPLAIN QUERY PLAN`), one line per step: for
    /// operators and for the tests that keep searches on an index.
    pub fn detection_search_plan(&self, q: &DetectionQuery) -> Result<Vec<String>, StoreError> {
        let (sql, args, _) = detection_sql(q);
        self.with_reader(|conn| {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// One detection by id.
    pub fn detection(&self, id: i64) -> Result<StoredDetection, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM detections WHERE id = ?1"))?;
            let mut rows = stmt.query_map([id], decode)?;
            rows.next().ok_or_else(|| StoreError::NotFound(format!("detection {id}")))??
        })
    }

    /// How many detections are stored.
    pub fn count_detections(&self) -> Result<u64, StoreError> {
        self.with_reader(|conn| {
            Ok(conn.query_row("SELECT COUNT(*) FROM detections", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    /// Deletes detections seen before `cutoff`, 10,000 per transaction with a pause between
    /// transactions, so that ingest is never blocked for long. Returns how many were deleted.
    /// Deletes one detection; `false` if there was none.
    pub fn delete_detection(&self, id: i64) -> Result<bool, StoreError> {
        self.with_admin(|conn| Ok(conn.execute("DELETE FROM detections WHERE id = ?1", [id])? == 1))
    }

    pub fn delete_detections_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.delete_detections_before_in(cutoff, &crate::CameraScope::All)
    }

    /// Deletes the detections of the cameras in `scope` seen before `cutoff`.
    pub fn delete_detections_before_in(
        &self,
        cutoff: DateTime<Utc>,
        scope: &crate::CameraScope,
    ) -> Result<u64, StoreError> {
        let (filter, mut args) = scope.sql();
        let sql = format!(
            "DELETE FROM detections WHERE id IN (SELECT id FROM detections WHERE time_us < ? {filter} \
             ORDER BY time_us LIMIT ?)"
        );
        args.insert(0, Value::Integer(to_us(cutoff)));
        args.push(Value::Integer(DELETE_CHUNK));
        let mut total = 0u64;
        loop {
            if total > 0 {
                crate::reads::pause_between_chunks();
            }
            let n = self.with_admin(|conn| {
                let tx = crate::write_transaction(conn)?;
                let n = tx.execute(&sql, rusqlite::params_from_iter(args.iter()))?;
                tx.commit()?;
                Ok(n as u64)
            })?;
            total += n;
            if n < DELETE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }
}

/// The SQL of a search, its arguments and the page size.
fn detection_sql(q: &DetectionQuery) -> (String, Vec<Value>, usize) {
    let limit = q.limit.clamp(1, 10_000);
    let mut conds: Vec<&str> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(c) = &q.camera {
        conds.push("camera = ?");
        args.push(Value::Text(c.as_str().to_owned()));
    }
    if let Some(z) = &q.zone {
        conds.push("zone = ?");
        args.push(Value::Text(z.clone()));
    }
    if let Some(k) = q.kind {
        conds.push("kind = ?");
        args.push(Value::Text(k.as_str().to_owned()));
    }
    if let Some(t) = q.from {
        conds.push("time_us >= ?");
        args.push(Value::Integer(to_us(t)));
    }
    if let Some(t) = q.to {
        conds.push("time_us < ?");
        args.push(Value::Integer(to_us(t)));
    }
    if let Some(a) = q.age {
        // Two ranges overlap when each starts before the other ends.
        conds.push("age_max >= ? AND age_min <= ?");
        args.push(Value::Integer(i64::from(a.min)));
        args.push(Value::Integer(i64::from(a.max)));
    }
    if let Some(g) = q.gender {
        conds.push("gender = ?");
        args.push(Value::Text(g.as_str().to_owned()));
    }
    if let Some(c) = q.after {
        conds.push("(time_us, id) < (?, ?)");
        args.push(Value::Integer(c.time_us));
        args.push(Value::Integer(c.id));
    }
    let mut sql = format!("SELECT {COLUMNS} FROM detections");
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY time_us DESC, id DESC LIMIT {}", limit + 1));
    (sql, args, limit)
}
