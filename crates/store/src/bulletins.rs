//! Intelligence bulletins: the node's own and partners', who read them, where copies went.

use chrono::{DateTime, Utc};
use limes_cooperation::bulletin::{Bulletin, BulletinId};
use limes_model::AgencyId;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Store, StoreError, corrupt, from_us, to_us, write_transaction};

/// A bulletin as this node holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredBulletin {
    #[serde(flatten)]
    pub bulletin: Bulletin,
    /// The agency that sent this copy; none for the node's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_from: Option<String>,
    /// The federation message it came in (for deletion receipts).
    #[serde(skip)]
    pub message: Option<String>,
    pub stored: DateTime<Utc>,
    /// Who read it: readers here, and (for the node's own) the partners that did.
    pub reads: Vec<BulletinRead>,
    /// For copies this node sent: to whom, and what became of each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<BulletinCopy>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulletinRead {
    pub agency: String,
    /// A reader here; empty for a partner's receipt.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reader: String,
    pub read: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BulletinCopy {
    pub agency: String,
    /// `queued`, or why it was not sent.
    pub status: String,
    pub at: DateTime<Utc>,
}

/// Which bulletins to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulletinBox {
    /// Partners' bulletins.
    In,
    /// The node's own.
    Out,
}

fn decode(text: &str) -> Result<Bulletin, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("bulletins", e))
}

impl Store {
    /// Issues a bulletin of `origin`: numbers it (one more than the last), keeps it.
    pub fn issue_bulletin(
        &self,
        origin: &AgencyId,
        now: DateTime<Utc>,
        make: impl FnOnce(BulletinId) -> Bulletin,
    ) -> Result<Bulletin, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let last: Option<i64> =
                tx.query_row("SELECT max(number) FROM bulletins WHERE origin = ?1", [origin.as_str()], |r| r.get(0))?;
            let b = make(BulletinId { origin: origin.clone(), n: last.unwrap_or(0) as u64 + 1 });
            insert(&tx, &b, None, None, now)?;
            tx.commit()?;
            Ok(b)
        })
    }

    /// Keeps a bulletin a partner sent; `false` when this node has it already (a message
    /// applied twice, or a second copy forwarded by someone else), which is left as it is.
    pub fn put_partner_bulletin(
        &self,
        b: &Bulletin,
        from: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let new = insert(&tx, b, Some(from), Some(message), now)?;
            tx.commit()?;
            Ok(new)
        })
    }

    /// One bulletin, with its reads and copies.
    pub fn bulletin(&self, id: &BulletinId) -> Result<Option<StoredBulletin>, StoreError> {
        self.with_reader(|conn| {
            let row = conn
                .prepare_cached("SELECT bulletin, received_from, message, stored_us FROM bulletins WHERE id = ?1")?
                .query_row([id.to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)?))
                })
                .optional()?;
            let Some((text, received_from, message, stored)) = row else { return Ok(None) };
            let reads = conn
                .prepare_cached(
                    "SELECT agency, reader, read_us FROM bulletin_reads WHERE bulletin = ?1 ORDER BY read_us, agency",
                )?
                .query_map([id.to_string()], |r| {
                    Ok(BulletinRead { agency: r.get(0)?, reader: r.get(1)?, read: from_us(r.get(2)?) })
                })?
                .collect::<Result<_, _>>()?;
            let copies = conn
                .prepare_cached(
                    "SELECT agency, status, at_us FROM bulletin_copies WHERE bulletin = ?1 ORDER BY agency",
                )?
                .query_map([id.to_string()], |r| {
                    Ok(BulletinCopy { agency: r.get(0)?, status: r.get(1)?, at: from_us(r.get(2)?) })
                })?
                .collect::<Result<_, _>>()?;
            Ok(Some(StoredBulletin {
                bulletin: decode(&text)?,
                received_from,
                message,
                stored: from_us(stored),
                reads,
                copies,
            }))
        })
    }

    /// The newest bulletins of one box (without reads and copies).
    pub fn bulletins(
        &self,
        which: BulletinBox,
        exercise: Option<bool>,
        limit: usize,
    ) -> Result<Vec<StoredBulletin>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT bulletin, received_from, message, stored_us FROM bulletins
                 WHERE (received_from IS NULL) = ?1 AND (?2 IS NULL OR exercise = ?2)
                 ORDER BY stored_us DESC, id LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![which == BulletinBox::Out, exercise, limit.clamp(1, 10_000) as i64], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)?))
                })?
                .collect::<Result<Vec<(String, Option<String>, Option<String>, i64)>, _>>()?;
            rows.into_iter()
                .map(|(text, received_from, message, stored)| {
                    Ok(StoredBulletin {
                        bulletin: decode(&text)?,
                        received_from,
                        message,
                        stored: from_us(stored),
                        reads: vec![],
                        copies: vec![],
                    })
                })
                .collect()
        })
    }

    /// Records that `reader` of `agency` read a bulletin. Returns whether it was the agency's
    /// first read (so a receipt goes to the issuer once).
    pub fn record_bulletin_read(
        &self,
        id: &BulletinId,
        agency: &str,
        reader: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let before: i64 = tx.query_row(
                "SELECT count(*) FROM bulletin_reads WHERE bulletin = ?1 AND agency = ?2",
                params![id.to_string(), agency],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO bulletin_reads (bulletin, agency, reader, read_us) VALUES (?1, ?2, ?3, ?4)",
                params![id.to_string(), agency, reader, to_us(at)],
            )?;
            tx.commit()?;
            Ok(before == 0)
        })
    }

    /// Records what became of the copy of a bulletin for `agency`.
    pub fn record_bulletin_copy(
        &self,
        id: &BulletinId,
        agency: &str,
        status: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            conn.execute(
                "INSERT INTO bulletin_copies (bulletin, agency, status, at_us) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (bulletin, agency) DO UPDATE SET status = excluded.status, at_us = excluded.at_us",
                params![id.to_string(), agency, status, to_us(at)],
            )?;
            Ok(())
        })
    }
}

fn insert(
    tx: &rusqlite::Transaction<'_>,
    b: &Bulletin,
    from: Option<&str>,
    message: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let json = serde_json::to_string(b).map_err(|e| corrupt("bulletins", e))?;
    let n = tx.execute(
        "INSERT OR IGNORE INTO bulletins (id, origin, number, received_from, message, exercise, issued_us, stored_us, bulletin)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            b.id.to_string(),
            b.id.origin.as_str(),
            b.id.n as i64,
            from,
            message,
            b.exercise,
            to_us(b.issued),
            to_us(now),
            json
        ],
    )?;
    Ok(n == 1)
}
