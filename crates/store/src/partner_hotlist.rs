//! Hotlists across the border: the entries partners shared with this node (kept in the
//! `hotlist` table like the node's own, so one index matches reads against both, with their
//! origin beside them), and what this node has shared of its own with each partner.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use limes_model::HotlistEntry;
use rusqlite::{OptionalExtension, params};

use crate::{DeletedPartnerAlert, Store, StoreError, from_us, to_us};

/// Where a partner's entry came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartnerEntry {
    /// The entry's id here (in `hotlist`).
    pub id: u64,
    /// The agency that sent it.
    pub partner: String,
    /// The entry's id on the partner's node.
    pub partner_id: u64,
    /// The message that last carried it.
    pub message: String,
    /// The purpose it was shared for.
    pub purpose: String,
    pub received: DateTime<Utc>,
}

/// One of this node's entries as last shared with a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedEntry {
    /// A digest of the entry as sent.
    pub digest: Vec<u8>,
    /// The purpose it was shared for.
    pub purpose: String,
    pub sent: DateTime<Utc>,
}

/// A change a partner sent to one of its entries.
#[derive(Debug, Clone)]
pub enum PartnerHotlistChange {
    /// The entry as the partner holds it now (its `id` is the partner's).
    Upsert { entry: Box<HotlistEntry>, message: String, purpose: String },
    /// The partner no longer shares the entry with this id.
    Remove { partner_id: u64 },
}

/// What applying a partner's changes did to the local hotlist.
#[derive(Debug, Default)]
pub struct AppliedPartnerHotlist {
    /// Entries created or replaced, with local ids, and their origin.
    pub upserted: Vec<(HotlistEntry, PartnerEntry)>,
    /// Local ids of the entries removed.
    pub removed: Vec<u64>,
}

impl Store {
    /// Applies `partner`'s changes to its entries, in order, all or none. An entry keeps its
    /// local id across updates; a removal of an entry this node does not hold does nothing.
    pub fn apply_partner_hotlist(
        &self,
        partner: &str,
        changes: Vec<PartnerHotlistChange>,
        now: DateTime<Utc>,
    ) -> Result<AppliedPartnerHotlist, StoreError> {
        let now_us = to_us(now);
        self.with_admin(|conn| {
            let tx = crate::write_transaction(conn)?;
            let mut applied = AppliedPartnerHotlist::default();
            {
                let mut find = tx.prepare_cached("SELECT id FROM hotlist_partner WHERE partner = ?1 AND partner_id = ?2")?;
                let mut next: i64 = tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM hotlist", [], |r| r.get(0))?;
                for change in changes {
                    match change {
                        PartnerHotlistChange::Upsert { entry, message, purpose } => {
                            let mut entry = *entry;
                            let partner_id = entry.id;
                            let local: Option<i64> = find.query_row(params![partner, partner_id as i64], |r| r.get(0)).optional()?;
                            // A new entry takes the next free id.
                            let id = local.unwrap_or_else(|| {
                                next += 1;
                                next - 1
                            });
                            entry.id = id as u64;
                            crate::hotlist::upsert_in(&tx, &entry, now_us)?;
                            tx.execute(
                                "INSERT OR REPLACE INTO hotlist_partner (id, partner, partner_id, message, purpose, received_us)
                                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                params![id, partner, partner_id as i64, message, purpose, now_us],
                            )?;
                            let origin = PartnerEntry {
                                id: id as u64,
                                partner: partner.to_owned(),
                                partner_id,
                                message,
                                purpose,
                                received: now,
                            };
                            applied.upserted.push((entry, origin));
                        }
                        PartnerHotlistChange::Remove { partner_id } => {
                            let local: Option<i64> = find.query_row(params![partner, partner_id as i64], |r| r.get(0)).optional()?;
                            if let Some(id) = local {
                                // The origin row goes with it (ON DELETE CASCADE).
                                tx.execute("DELETE FROM hotlist WHERE id = ?1", [id])?;
                                applied.removed.push(id as u64);
                            }
                        }
                    }
                }
            }
            tx.commit()?;
            Ok(applied)
        })
    }

    /// The origin of every entry partners shared, by local id.
    pub fn partner_hotlist(&self) -> Result<Vec<PartnerEntry>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, partner, partner_id, message, purpose, received_us FROM hotlist_partner ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(PartnerEntry {
                    id: r.get::<_, i64>(0)? as u64,
                    partner: r.get(1)?,
                    partner_id: r.get::<_, i64>(2)? as u64,
                    message: r.get(3)?,
                    purpose: r.get(4)?,
                    received: from_us(r.get(5)?),
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Deletes the entries `partner` shared that arrived before `cutoff` (the agreement's
    /// retention), or all of its entries with no cutoff; returns what went, for the deletion
    /// receipts.
    pub fn delete_partner_hotlist(
        &self,
        partner: &str,
        cutoff: Option<DateTime<Utc>>,
    ) -> Result<Vec<DeletedPartnerAlert>, StoreError> {
        let cutoff = cutoff.map_or(i64::MAX, to_us);
        self.with_admin(|conn| {
            let tx = crate::write_transaction(conn)?;
            let deleted: Vec<DeletedPartnerAlert> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, partner, message FROM hotlist_partner WHERE partner = ?1 AND received_us < ?2",
                )?;
                let rows = stmt.query_map(params![partner, cutoff], |r| {
                    Ok(DeletedPartnerAlert { id: r.get(0)?, agency: r.get(1)?, message: r.get(2)? })
                })?;
                rows.collect::<Result<_, _>>()?
            };
            for d in &deleted {
                tx.execute("DELETE FROM hotlist WHERE id = ?1", [d.id])?;
            }
            tx.commit()?;
            Ok(deleted)
        })
    }

    /// What this node holds as shared with `partner`, by entry id.
    pub fn hotlist_shared(&self, partner: &str) -> Result<HashMap<u64, SharedEntry>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id, digest, purpose, sent_us FROM hotlist_shared WHERE partner = ?1")?;
            let rows = stmt.query_map([partner], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    SharedEntry { digest: r.get(1)?, purpose: r.get(2)?, sent: from_us(r.get(3)?) },
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Records entries queued for `partner` and removals queued.
    pub fn record_hotlist_shared(
        &self,
        partner: &str,
        sent: &[(u64, SharedEntry)],
        removed: &[u64],
    ) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            let tx = crate::write_transaction(conn)?;
            {
                let mut put = tx.prepare_cached(
                    "INSERT OR REPLACE INTO hotlist_shared (partner, id, digest, purpose, sent_us)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (id, e) in sent {
                    put.execute(params![partner, *id as i64, e.digest, e.purpose, to_us(e.sent)])?;
                }
                let mut del = tx.prepare_cached("DELETE FROM hotlist_shared WHERE partner = ?1 AND id = ?2")?;
                for id in removed {
                    del.execute(params![partner, *id as i64])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
}
