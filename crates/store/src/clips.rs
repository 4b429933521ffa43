//! Clips (migration 0020): the signed clips this node cut from its recordings and those
//! partners sent, and where this node's clips were sent. The store keeps each manifest as
//! signed and does not read it; the server parses and verifies it.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::{Store, StoreError, from_us, to_us, write_transaction};

/// One clip, this node's or a partner's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredClip {
    pub sha256: String,
    /// The agency that cut and signed it.
    pub origin: String,
    pub camera: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bytes: u64,
    pub made: DateTime<Utc>,
    pub made_by: String,
    /// The partner that sent it, and when it arrived; none for this node's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<DateTime<Utc>>,
    /// For a partner's clip: the message it came in, and the purpose it was shared for.
    #[serde(skip)]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The signed manifest (JSON).
    #[serde(skip)]
    pub manifest: String,
    /// For an anonymised copy this node made: the clip it was made from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymised_from: Option<String>,
}

/// One sending of a clip to a partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClipSend {
    pub partner: String,
    pub sent: DateTime<Utc>,
    pub sent_by: String,
    pub purpose: String,
}

const COLUMNS: &str = "sha256, origin, camera, from_us, to_us, bytes, made_us, made_by, received_from, received_us, \
     message, purpose, manifest, anonymised_from";

fn clip(r: &Row<'_>) -> rusqlite::Result<StoredClip> {
    Ok(StoredClip {
        sha256: r.get(0)?,
        origin: r.get(1)?,
        camera: r.get(2)?,
        from: from_us(r.get(3)?),
        to: from_us(r.get(4)?),
        bytes: r.get::<_, i64>(5)? as u64,
        made: from_us(r.get(6)?),
        made_by: r.get(7)?,
        received_from: r.get(8)?,
        received: r.get::<_, Option<i64>>(9)?.map(from_us),
        message: r.get(10)?,
        purpose: r.get(11)?,
        manifest: r.get(12)?,
        anonymised_from: r.get(13)?,
    })
}

impl Store {
    /// Keeps a clip's row; `false` when a clip with this digest is kept already (left as it is).
    pub fn put_clip(&self, c: &StoredClip) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let n = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO clips ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                params![
                    c.sha256,
                    c.origin,
                    c.camera,
                    to_us(c.from),
                    to_us(c.to),
                    c.bytes as i64,
                    to_us(c.made),
                    c.made_by,
                    c.received_from,
                    c.received.map(to_us),
                    c.message,
                    c.purpose,
                    c.manifest,
                    c.anonymised_from
                ],
            )?;
            tx.commit()?;
            Ok(n == 1)
        })
    }

    pub fn clip(&self, sha256: &str) -> Result<Option<StoredClip>, StoreError> {
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM clips WHERE sha256 = ?1"))?
                .query_row([sha256], clip)
                .optional()?)
        })
    }

    /// The anonymised copy of this node's clip `source`, when one was made.
    pub fn anonymised_copy(&self, source: &str) -> Result<Option<StoredClip>, StoreError> {
        self.with_reader(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM clips WHERE anonymised_from = ?1 AND received_from IS NULL \
                     ORDER BY made_us DESC LIMIT 1"
                ))?
                .query_row([source], clip)
                .optional()?)
        })
    }

    /// Clips newest first, at most `limit`.
    pub fn clips(&self, limit: usize) -> Result<Vec<StoredClip>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM clips ORDER BY made_us DESC, sha256 LIMIT ?1"))?;
            let rows = stmt.query_map([limit as i64], clip)?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    /// Notes that a clip was sent to `partner`.
    pub fn add_clip_send(&self, sha256: &str, send: &ClipSend) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            tx.execute(
                "INSERT OR IGNORE INTO clip_sends (sha256, partner, sent_us, sent_by, purpose) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![sha256, send.partner, to_us(send.sent), send.sent_by, send.purpose],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Where a clip was sent, oldest first.
    pub fn clip_sends(&self, sha256: &str) -> Result<Vec<ClipSend>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT partner, sent_us, sent_by, purpose FROM clip_sends WHERE sha256 = ?1 ORDER BY sent_us, partner",
            )?;
            let rows = stmt
                .query_map([sha256], |r| {
                    Ok(ClipSend {
                        partner: r.get(0)?,
                        sent: from_us(r.get(1)?),
                        sent_by: r.get(2)?,
                        purpose: r.get(3)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    /// Deletes the clips `origin` sent that arrived before `cutoff` (their agreement's retention
    /// has passed); gives them, for their files and the deletion receipts.
    pub fn delete_received_clips_from_before(
        &self,
        origin: &str,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<StoredClip>, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let gone: Vec<StoredClip> = tx
                .prepare(&format!("SELECT {COLUMNS} FROM clips WHERE received_from = ?1 AND received_us < ?2"))?
                .query_map(params![origin, to_us(cutoff)], clip)?
                .collect::<Result<_, _>>()?;
            tx.execute(
                "DELETE FROM clips WHERE received_from = ?1 AND received_us < ?2",
                params![origin, to_us(cutoff)],
            )?;
            tx.commit()?;
            Ok(gone)
        })
    }

    /// The partners whose clips are kept here.
    pub fn clip_senders(&self) -> Result<Vec<String>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT DISTINCT received_from FROM clips WHERE received_from IS NOT NULL")?;
            let rows = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    /// The digests of every clip kept (their files must not be swept).
    pub fn clip_digests(&self) -> Result<Vec<String>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached("SELECT sha256 FROM clips")?;
            let rows = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};

    use super::*;

    #[test]
    fn clips_are_kept_once_listed_newest_first_and_their_sends_noted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::StoreOptions::default()).unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let own = StoredClip {
            sha256: "ab".repeat(32),
            origin: "ro-igpf".into(),
            camera: "ro-siret-1".into(),
            from: t0,
            to: t0 + TimeDelta::seconds(30),
            bytes: 123_456,
            made: t0 + TimeDelta::minutes(5),
            made_by: "sup".into(),
            received_from: None,
            received: None,
            message: None,
            purpose: None,
            manifest: "{\"format\":\"limes-clip-v1\"}".into(),
            anonymised_from: None,
        };
        let theirs = StoredClip {
            sha256: "cd".repeat(32),
            origin: "ua-dpsu".into(),
            made: t0 + TimeDelta::minutes(9),
            received_from: Some("ua-dpsu".into()),
            received: Some(t0 + TimeDelta::minutes(10)),
            message: Some("ua-dpsu/clips-1/7".into()),
            purpose: Some("investigation".into()),
            ..own.clone()
        };
        assert!(store.put_clip(&own).unwrap());
        assert!(!store.put_clip(&StoredClip { made_by: "other".into(), ..own.clone() }).unwrap(), "kept once");
        assert!(store.put_clip(&theirs).unwrap());
        assert_eq!(store.clip(&own.sha256).unwrap(), Some(own.clone()));
        assert_eq!(store.clips(10).unwrap(), vec![theirs.clone(), own.clone()]);
        assert_eq!(store.clips(1).unwrap(), vec![theirs.clone()]);
        assert_eq!(store.clip(&"ef".repeat(32)).unwrap(), None);
        // An anonymised copy of the own clip is found from it; the partner's clip has none.
        assert_eq!(store.anonymised_copy(&own.sha256).unwrap(), None);
        let copy = StoredClip {
            sha256: "01".repeat(32),
            made: t0 + TimeDelta::minutes(7),
            anonymised_from: Some(own.sha256.clone()),
            ..own.clone()
        };
        assert!(store.put_clip(&copy).unwrap());
        assert_eq!(store.anonymised_copy(&own.sha256).unwrap(), Some(copy.clone()));
        assert_eq!(store.anonymised_copy(&theirs.sha256).unwrap(), None);
        assert_eq!(store.anonymised_copy(&copy.sha256).unwrap(), None);
        assert_eq!(store.clips(10).unwrap(), vec![theirs.clone(), copy.clone(), own.clone()]);
        let orphan = StoredClip { sha256: "02".repeat(32), anonymised_from: Some("ef".repeat(32)), ..own.clone() };
        assert!(store.put_clip(&orphan).is_err(), "a copy of a clip that is not kept");
        let send = ClipSend {
            partner: "ua-dpsu".into(),
            sent: t0 + TimeDelta::minutes(6),
            sent_by: "sup".into(),
            purpose: "investigation".into(),
        };
        store.add_clip_send(&own.sha256, &send).unwrap();
        store.add_clip_send(&own.sha256, &send).unwrap();
        assert_eq!(store.clip_sends(&own.sha256).unwrap(), vec![send]);
        let mut digests = store.clip_digests().unwrap();
        digests.sort();
        assert_eq!(digests, vec![copy.sha256.clone(), own.sha256.clone(), theirs.sha256.clone()]);

        // Retention: only the partner's, only once its time has passed.
        assert_eq!(store.clip_senders().unwrap(), vec!["ua-dpsu".to_owned()]);
        let arrived = theirs.received.unwrap();
        assert!(store.delete_received_clips_from_before("ua-dpsu", arrived).unwrap().is_empty());
        assert!(store.delete_received_clips_from_before("ro-igpf", t0 + TimeDelta::days(99)).unwrap().is_empty());
        let gone = store.delete_received_clips_from_before("ua-dpsu", arrived + TimeDelta::seconds(1)).unwrap();
        assert_eq!(gone, vec![theirs.clone()]);
        assert_eq!(store.clips(10).unwrap(), vec![copy, own]);
        assert!(store.clip_senders().unwrap().is_empty());
    }
}
