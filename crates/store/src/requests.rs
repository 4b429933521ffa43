//! Requests for full data between partner agencies, as rows: what was asked, by whom and why,
//! the deadline, the decision and, on the asker's side, what was released.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::{Store, StoreError, from_us, to_us};

/// Which way a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// This node asked a partner.
    Out,
    /// A partner asked this node.
    In,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
        }
    }
}

/// A request as both sides keep it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataRequest {
    pub direction: Direction,
    /// The other agency.
    pub partner: String,
    /// The asker's id of the request.
    pub id: String,
    /// The category of data asked for (an agreement category id).
    pub category: String,
    /// What the request names: a hit/no-hit reference or a pseudonym (empty for a clip).
    pub reference: String,
    /// For a request for a clip: the camera and the span asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip: Option<RequestedClip>,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    pub justification: String,
    pub urgent: bool,
    /// Who asked: the asker's user here, the partner agency on the owner's side.
    pub asked_by: String,
    pub created: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    /// `pending`, `approved`, `refused` or `answered`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What was released (JSON text), with the conditions it came under.
    #[serde(skip)]
    pub released: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_at: Option<DateTime<Utc>>,
    /// A request an exercise made: it releases only the exercise's reads.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub exercise: bool,
}

/// The span of one camera's recording a request for a clip asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestedClip {
    pub camera: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A decision on a request.
#[derive(Debug, Clone, Copy)]
pub struct Decision<'a> {
    /// `approved` or `refused`.
    pub status: &'a str,
    pub by: &'a str,
    pub reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

const COLUMNS: &str = "direction, partner, id, category, reference, purpose, legal_basis, case_ref, justification, \
                       urgent, asked_by, created_us, deadline_us, status, decided_by, decided_us, reason, released, \
                       released_us, exercise, clip_camera, clip_from_us, clip_to_us";

fn decode(r: &Row<'_>) -> rusqlite::Result<DataRequest> {
    let direction: String = r.get(0)?;
    Ok(DataRequest {
        direction: if direction == "in" { Direction::In } else { Direction::Out },
        partner: r.get(1)?,
        id: r.get(2)?,
        category: r.get(3)?,
        reference: r.get(4)?,
        purpose: r.get(5)?,
        legal_basis: r.get(6)?,
        case_ref: r.get(7)?,
        justification: r.get(8)?,
        urgent: r.get(9)?,
        asked_by: r.get(10)?,
        created: from_us(r.get(11)?),
        deadline: from_us(r.get(12)?),
        status: r.get(13)?,
        decided_by: r.get(14)?,
        decided: r.get::<_, Option<i64>>(15)?.map(from_us),
        reason: r.get(16)?,
        released: r.get(17)?,
        released_at: r.get::<_, Option<i64>>(18)?.map(from_us),
        exercise: r.get(19)?,
        clip: match (r.get::<_, Option<String>>(20)?, r.get::<_, Option<i64>>(21)?, r.get::<_, Option<i64>>(22)?) {
            (Some(camera), Some(from), Some(to)) => {
                Some(RequestedClip { camera, from: from_us(from), to: from_us(to) })
            }
            _ => None,
        },
    })
}

impl Store {
    /// Records a new request; `false` if one with the same direction, partner and id exists
    /// (a message applied twice), which is left as it is.
    pub fn insert_request(&self, r: &DataRequest) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let n = conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO requests ({COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
                ),
                params![
                    r.direction.as_str(),
                    r.partner,
                    r.id,
                    r.category,
                    r.reference,
                    r.purpose,
                    r.legal_basis,
                    r.case_ref,
                    r.justification,
                    r.urgent,
                    r.asked_by,
                    to_us(r.created),
                    to_us(r.deadline),
                    r.status,
                    r.decided_by,
                    r.decided.map(to_us),
                    r.reason,
                    r.released,
                    r.released_at.map(to_us),
                    r.exercise,
                    r.clip.as_ref().map(|c| c.camera.as_str()),
                    r.clip.as_ref().map(|c| to_us(c.from)),
                    r.clip.as_ref().map(|c| to_us(c.to)),
                ],
            )?;
            Ok(n == 1)
        })
    }

    /// One request.
    pub fn request(&self, direction: Direction, partner: &str, id: &str) -> Result<Option<DataRequest>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM requests WHERE direction = ?1 AND partner = ?2 AND id = ?3"
            ))?;
            Ok(stmt.query_row(params![direction.as_str(), partner, id], decode).optional()?)
        })
    }

    /// The newest requests one way, newest first.
    pub fn requests(&self, direction: Direction, limit: usize) -> Result<Vec<DataRequest>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM requests WHERE direction = ?1 ORDER BY created_us DESC, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![direction.as_str(), limit.min(10_000) as i64], decode)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Records a decision on a request that is still pending; `false` when it was not (decided
    /// already, or unknown): the first decision stands.
    pub fn decide_request(
        &self,
        direction: Direction,
        partner: &str,
        id: &str,
        d: &Decision<'_>,
    ) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let n = conn.execute(
                "UPDATE requests SET status = ?4, decided_by = ?5, reason = ?6, decided_us = ?7
                 WHERE direction = ?1 AND partner = ?2 AND id = ?3 AND status = 'pending'",
                params![direction.as_str(), partner, id, d.status, d.by, d.reason, to_us(d.at)],
            )?;
            Ok(n == 1)
        })
    }

    /// Records what was released for a request (JSON text) and marks it answered.
    pub fn release_request(
        &self,
        direction: Direction,
        partner: &str,
        id: &str,
        released: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let n = conn.execute(
                "UPDATE requests SET status = 'answered', released = ?4, released_us = ?5
                 WHERE direction = ?1 AND partner = ?2 AND id = ?3 AND status IN ('pending', 'approved')",
                params![direction.as_str(), partner, id, released, to_us(at)],
            )?;
            Ok(n == 1)
        })
    }
}
