//! Live video grants (migration 0019): the grants this agency made for its cameras, and the
//! copies partners sent of theirs. Each row keeps the grant as `limes-model` serialises it,
//! with the columns lookups need beside it.

use chrono::{DateTime, Utc};
use limes_model::live::{LiveGrant, Revocation};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::{Store, StoreError, to_us, write_transaction};

/// Which grants a list holds, as seen from this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantSide<'a> {
    /// The grants this agency (`origin`) made for its own cameras.
    Given { origin: &'a str },
    /// The grants partners made to this agency (`partner`).
    Received { partner: &'a str },
}

fn decode(json: String) -> Result<LiveGrant, StoreError> {
    serde_json::from_str(&json).map_err(|e| StoreError::Corrupt { table: "live_grants", detail: e.to_string() })
}

fn upsert(tx: &Transaction<'_>, g: &LiveGrant, n: i64) -> Result<(), StoreError> {
    let json = serde_json::to_string(g).map_err(|e| StoreError::Refused(e.to_string()))?;
    tx.execute(
        "INSERT INTO live_grants (id, origin, n, partner, camera, incident, granted_us, until_us, revoked_us, grant_json) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT (id) DO UPDATE SET until_us = ?8, revoked_us = ?9, grant_json = ?10",
        params![
            g.id,
            g.origin.as_str(),
            n,
            g.partner.as_str(),
            g.camera.as_str(),
            g.incident,
            to_us(g.granted),
            to_us(g.until),
            g.revoked.as_ref().map(|r| to_us(r.at)),
            json
        ],
    )?;
    Ok(())
}

fn number(id: &str) -> Result<i64, StoreError> {
    id.rsplit_once('/')
        .and_then(|(_, n)| n.parse().ok())
        .ok_or_else(|| StoreError::Refused(format!("grant id {id:?} is not origin/n")))
}

impl Store {
    /// Keeps a new grant of this agency's: its id is `origin/n` with the next `n`, whatever
    /// `grant.id` held. The grant as kept.
    pub fn add_live_grant(&self, grant: &LiveGrant) -> Result<LiveGrant, StoreError> {
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let n: i64 = tx.query_row(
                "SELECT COALESCE(MAX(n), 0) + 1 FROM live_grants WHERE origin = ?1",
                [grant.origin.as_str()],
                |r| r.get(0),
            )?;
            let kept = LiveGrant { id: format!("{}/{n}", grant.origin), ..grant.clone() };
            upsert(&tx, &kept, n)?;
            tx.commit()?;
            Ok(kept)
        })
    }

    /// Keeps a copy a partner sent of its grant: new, or narrowing the one kept
    /// ([`LiveGrant::update`]: a copy never widens or reopens a grant). The grant as kept.
    pub fn keep_live_grant(&self, grant: &LiveGrant) -> Result<LiveGrant, StoreError> {
        let n = number(&grant.id)?;
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let old: Option<String> = tx
                .query_row("SELECT grant_json FROM live_grants WHERE id = ?1", [&grant.id], |r| r.get(0))
                .optional()?;
            let kept = match old {
                Some(json) => decode(json)?.update(grant),
                None => grant.clone(),
            };
            upsert(&tx, &kept, n)?;
            tx.commit()?;
            Ok(kept)
        })
    }

    /// Revokes a grant at `at` (its first revocation stays); `None` when there is no such grant.
    pub fn revoke_live_grant(&self, id: &str, by: &str, at: DateTime<Utc>) -> Result<Option<LiveGrant>, StoreError> {
        let n = number(id)?;
        self.with_admin(|conn| {
            let tx = write_transaction(conn)?;
            let old: Option<String> =
                tx.query_row("SELECT grant_json FROM live_grants WHERE id = ?1", [id], |r| r.get(0)).optional()?;
            let Some(old) = old else { return Ok(None) };
            let old = decode(old)?;
            let kept = old.update(&LiveGrant { revoked: Some(Revocation { at, by: by.to_owned() }), ..old.clone() });
            upsert(&tx, &kept, n)?;
            tx.commit()?;
            Ok(Some(kept))
        })
    }

    /// One grant.
    pub fn live_grant(&self, id: &str) -> Result<Option<LiveGrant>, StoreError> {
        self.with_reader(|conn| {
            conn.prepare_cached("SELECT grant_json FROM live_grants WHERE id = ?1")?
                .query_row([id], |r| r.get::<_, String>(0))
                .optional()?
                .map(decode)
                .transpose()
        })
    }

    /// The grant of `camera` (of agency `origin`) to `partner` in force at `now`, if any (the
    /// one that runs longest).
    pub fn live_grant_in_force(
        &self,
        origin: &str,
        partner: &str,
        camera: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LiveGrant>, StoreError> {
        let t = to_us(now);
        self.with_reader(|conn| {
            conn.prepare_cached(
                "SELECT grant_json FROM live_grants WHERE origin = ?1 AND partner = ?2 AND camera = ?3 \
                 AND granted_us <= ?4 AND until_us > ?4 AND (revoked_us IS NULL OR revoked_us > ?4) \
                 ORDER BY until_us DESC LIMIT 1",
            )?
            .query_row(params![origin, partner, camera, t], |r| r.get::<_, String>(0))
            .optional()?
            .map(decode)
            .transpose()
        })
    }

    /// Grants of one side, newest first, at most `limit`; with `in_force_at`, only those in
    /// force then.
    pub fn live_grants(
        &self,
        side: GrantSide<'_>,
        in_force_at: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<LiveGrant>, StoreError> {
        let (column, agency) = match side {
            GrantSide::Given { origin } => ("origin", origin),
            GrantSide::Received { partner } => ("partner", partner),
        };
        let t = in_force_at.map(to_us);
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT grant_json FROM live_grants WHERE {column} = ?1 \
                 AND (?2 IS NULL OR (granted_us <= ?2 AND until_us > ?2 AND (revoked_us IS NULL OR revoked_us > ?2))) \
                 ORDER BY granted_us DESC, id LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![agency, t, limit as i64], |r| r.get::<_, String>(0))?;
            rows.map(|r| decode(r?)).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone};
    use limes_model::{AgencyId, CameraId};

    use super::*;

    fn grant(origin: &str, partner: &str, minutes: i64) -> LiveGrant {
        let t0 = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        LiveGrant {
            id: String::new(),
            origin: AgencyId::new(origin).unwrap(),
            partner: AgencyId::new(partner).unwrap(),
            camera: CameraId::new("gate-2").unwrap(),
            camera_name: None,
            incident: format!("{origin}/1"),
            purpose: "public_security".into(),
            granted_by: "sup".into(),
            granted: t0,
            until: t0 + TimeDelta::minutes(minutes),
            clear: false,
            revoked: None,
        }
    }

    #[test]
    fn grants_are_numbered_found_in_force_revoked_once_and_copies_only_narrow() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), crate::StoreOptions::default()).unwrap();
        let a = store.add_live_grant(&grant("ro-igpf", "ua-dpsu", 30)).unwrap();
        let b = store.add_live_grant(&grant("ro-igpf", "rs-mup", 60)).unwrap();
        assert_eq!((a.id.as_str(), b.id.as_str()), ("ro-igpf/1", "ro-igpf/2"));
        let t0 = a.granted;
        let at = |m: i64| t0 + TimeDelta::minutes(m);
        assert_eq!(store.live_grant_in_force("ro-igpf", "ua-dpsu", "gate-2", at(10)).unwrap(), Some(a.clone()));
        assert_eq!(store.live_grant_in_force("ro-igpf", "ua-dpsu", "gate-2", at(30)).unwrap(), None, "ended");
        assert_eq!(store.live_grant_in_force("ro-igpf", "ua-dpsu", "gate-3", at(10)).unwrap(), None, "another camera");
        assert_eq!(store.live_grant_in_force("ro-igpf", "rs-mup", "gate-2", at(-1)).unwrap(), None, "not yet");
        let given = store.live_grants(GrantSide::Given { origin: "ro-igpf" }, Some(at(45)), 10).unwrap();
        assert_eq!(given, vec![b.clone()]);

        let revoked = store.revoke_live_grant(&b.id, "sup2", at(20)).unwrap().unwrap();
        assert_eq!(revoked.revoked.as_ref().map(|r| (r.at, r.by.as_str())), Some((at(20), "sup2")));
        assert_eq!(store.live_grant_in_force("ro-igpf", "rs-mup", "gate-2", at(19)).unwrap(), Some(revoked.clone()));
        assert_eq!(store.live_grant_in_force("ro-igpf", "rs-mup", "gate-2", at(20)).unwrap(), None);
        let again = store.revoke_live_grant(&b.id, "sup3", at(25)).unwrap().unwrap();
        assert_eq!(again, revoked, "the first revocation stays");
        assert_eq!(store.revoke_live_grant("ro-igpf/9", "sup", at(1)).unwrap(), None);

        // A partner's grant to this node, then a copy that tries to widen it and one that
        // revokes it.
        let theirs = LiveGrant { id: "ua-dpsu/4".into(), ..grant("ua-dpsu", "ro-igpf", 30) };
        assert_eq!(store.keep_live_grant(&theirs).unwrap(), theirs);
        let wider = LiveGrant { until: theirs.until + TimeDelta::hours(2), ..theirs.clone() };
        assert_eq!(store.keep_live_grant(&wider).unwrap().until, theirs.until);
        let received = store.live_grants(GrantSide::Received { partner: "ro-igpf" }, Some(at(5)), 10).unwrap();
        assert_eq!(received, vec![theirs.clone()]);
        let ended = LiveGrant { revoked: Some(Revocation { at: at(6), by: "them".into() }), ..theirs.clone() };
        store.keep_live_grant(&ended).unwrap();
        assert!(store.live_grants(GrantSide::Received { partner: "ro-igpf" }, Some(at(7)), 10).unwrap().is_empty());
        assert_eq!(store.live_grant("ua-dpsu/4").unwrap(), Some(ended));
        assert_eq!(store.live_grants(GrantSide::Given { origin: "ro-igpf" }, None, 10).unwrap().len(), 2);
        assert!(matches!(
            store.keep_live_grant(&LiveGrant { id: "bad".into(), ..theirs }),
            Err(StoreError::Refused(_))
        ));
    }
}
