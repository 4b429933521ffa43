//! Accounts, sessions and API tokens, as rows. What roles, scopes and purposes mean is
//! `limes-access`'s business; the store keeps their names.

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

use crate::{Store, StoreError};

/// A person's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub name: String,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<u64>,
    pub roles: Vec<String>,
    pub agency: String,
    pub country: String,
    pub clearance: i64,
    pub cases: Vec<String>,
    pub disabled: bool,
    pub created_us: i64,
}

/// A login session, stored by the digest of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub digest: String,
    pub user: String,
    pub created_us: i64,
    pub expires_us: i64,
    /// The purpose declared at login, as JSON.
    pub purpose: Option<String>,
}

/// An integration's API token, stored by the digest of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    pub digest: String,
    pub name: String,
    pub agency: String,
    pub country: String,
    pub scope: Vec<String>,
    /// The purpose every call serves, as JSON.
    pub purpose: Option<String>,
    pub created_by: String,
    pub created_us: i64,
    pub expires_us: Option<i64>,
    pub revoked_us: Option<i64>,
}

fn list(text: String) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

const USER_COLUMNS: &str = "name, display_name, password_hash, totp_secret, totp_last_step, roles, agency, country, \
                            clearance, cases, disabled, created_us";

fn user(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        name: row.get(0)?,
        display_name: row.get(1)?,
        password_hash: row.get(2)?,
        totp_secret: row.get(3)?,
        totp_last_step: row.get::<_, Option<i64>>(4)?.map(|s| s.max(0) as u64),
        roles: list(row.get(5)?),
        agency: row.get(6)?,
        country: row.get(7)?,
        clearance: row.get(8)?,
        cases: list(row.get(9)?),
        disabled: row.get(10)?,
        created_us: row.get(11)?,
    })
}

/// An account's values in the order of [`USER_COLUMNS`], as stored.
fn user_values(u: &UserRow) -> [Value; 12] {
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    [
        Value::Text(u.name.clone()),
        text(&u.display_name),
        text(&u.password_hash),
        text(&u.totp_secret),
        u.totp_last_step.map_or(Value::Null, |s| Value::Integer(s as i64)),
        Value::Text(u.roles.join(",")),
        Value::Text(u.agency.clone()),
        Value::Text(u.country.clone()),
        Value::Integer(u.clearance),
        Value::Text(u.cases.join(",")),
        Value::Integer(i64::from(u.disabled)),
        Value::Integer(u.created_us),
    ]
}

const TOKEN_COLUMNS: &str =
    "id, digest, name, agency, country, scope, purpose, created_by, created_us, expires_us, revoked_us";

fn token(row: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: row.get(0)?,
        digest: row.get(1)?,
        name: row.get(2)?,
        agency: row.get(3)?,
        country: row.get(4)?,
        scope: list(row.get(5)?),
        purpose: row.get(6)?,
        created_by: row.get(7)?,
        created_us: row.get(8)?,
        expires_us: row.get(9)?,
        revoked_us: row.get(10)?,
    })
}

impl Store {
    /// Creates an account; `false` if the name is taken.
    pub fn create_user(&self, u: &UserRow) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let n = conn.execute(
                &format!("INSERT OR IGNORE INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                params_from_iter(user_values(u)),
            )?;
            Ok(n == 1)
        })
    }

    /// Replaces an account's fields (all but its name and creation time).
    pub fn update_user(&self, u: &UserRow) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            // The values of USER_COLUMNS but the last, `created_us`, which never changes.
            let values = user_values(u);
            let n = conn.execute(
                "UPDATE users SET display_name = ?2, password_hash = ?3, totp_secret = ?4, totp_last_step = ?5, \
                 roles = ?6, agency = ?7, country = ?8, clearance = ?9, cases = ?10, disabled = ?11 WHERE name = ?1",
                params_from_iter(&values[..11]),
            )?;
            if n == 0 { Err(StoreError::NotFound(format!("user {}", u.name))) } else { Ok(()) }
        })
    }

    /// Records that a one-time code's `step` was used, unless a later one already was:
    /// `false` then (a replay raced this login).
    pub fn use_totp_step(&self, name: &str, step: u64) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let n = conn.execute(
                "UPDATE users SET totp_last_step = ?2 WHERE name = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
                params![name, step as i64],
            )?;
            Ok(n == 1)
        })
    }

    pub fn user(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"))?;
            Ok(stmt.query_row([name], user).optional()?)
        })
    }

    pub fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
            let rows = stmt.query_map([], user)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn create_session(&self, s: &SessionRow) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            conn.execute(
                "INSERT INTO sessions (digest, user, created_us, expires_us, purpose) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.digest, s.user, s.created_us, s.expires_us, s.purpose],
            )?;
            Ok(())
        })
    }

    /// Declares another purpose for a session (as JSON; `None`: none), as if declared at its
    /// sign-in; false if there is no such session.
    pub fn set_session_purpose(&self, digest: &str, purpose: Option<&str>) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            Ok(conn.execute("UPDATE sessions SET purpose = ?2 WHERE digest = ?1", params![digest, purpose])? > 0)
        })
    }

    /// A session by the digest of its secret, with its account.
    pub fn session(&self, digest: &str) -> Result<Option<(SessionRow, UserRow)>, StoreError> {
        self.with_reader(|conn| {
            // The account's columns first, so that `user` decodes them; the session's after.
            let cols = USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ");
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {cols}, s.digest, s.user, s.created_us, s.expires_us, s.purpose \
                 FROM sessions s JOIN users u ON u.name = s.user WHERE s.digest = ?1"
            ))?;
            let found = stmt
                .query_row([digest], |row| {
                    let session = SessionRow {
                        digest: row.get(12)?,
                        user: row.get(13)?,
                        created_us: row.get(14)?,
                        expires_us: row.get(15)?,
                        purpose: row.get(16)?,
                    };
                    Ok((session, user(row)?))
                })
                .optional()?;
            Ok(found)
        })
    }

    /// Ends a session; `false` if there was none.
    pub fn delete_session(&self, digest: &str) -> Result<bool, StoreError> {
        self.with_admin(|conn| Ok(conn.execute("DELETE FROM sessions WHERE digest = ?1", [digest])? == 1))
    }

    /// Ends every session of `user` (password change, account disabled).
    pub fn delete_sessions_of(&self, user: &str) -> Result<usize, StoreError> {
        self.with_admin(|conn| Ok(conn.execute("DELETE FROM sessions WHERE user = ?1", [user])?))
    }

    /// Removes sessions that expired before `now_us`; returns how many.
    pub fn delete_expired_sessions(&self, now_us: i64) -> Result<usize, StoreError> {
        self.with_admin(|conn| Ok(conn.execute("DELETE FROM sessions WHERE expires_us <= ?1", [now_us])?))
    }

    pub fn create_token(&self, t: &TokenRow) -> Result<(), StoreError> {
        self.with_admin(|conn| {
            conn.execute(
                &format!(
                    "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ),
                params![
                    t.id,
                    t.digest,
                    t.name,
                    t.agency,
                    t.country,
                    t.scope.join(","),
                    t.purpose,
                    t.created_by,
                    t.created_us,
                    t.expires_us,
                    t.revoked_us
                ],
            )?;
            Ok(())
        })
    }

    pub fn token(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = ?1"))?;
            Ok(stmt.query_row([id], token).optional()?)
        })
    }

    pub fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_us, id"))?;
            let rows = stmt.query_map([], token)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Revokes a token from `at_us` on; `false` if it did not exist or was already revoked.
    pub fn revoke_token(&self, id: &str, at_us: i64) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let n = conn.execute(
                "UPDATE api_tokens SET revoked_us = ?2 WHERE id = ?1 AND revoked_us IS NULL",
                params![id, at_us],
            )?;
            Ok(n == 1)
        })
    }
}

impl Store {
    /// Restricts a plate's data; `false` if it already was.
    pub fn restrict_plate(
        &self,
        plate: &str,
        by: &str,
        legal_basis: &str,
        case_ref: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.with_admin(|conn| {
            let n = conn.execute(
                "INSERT OR IGNORE INTO restrictions (plate, created_us, by, legal_basis, case_ref) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![plate, crate::to_us(chrono::Utc::now()), by, legal_basis, case_ref],
            )?;
            Ok(n == 1)
        })
    }

    /// Lifts a plate's restriction; `false` if there was none.
    pub fn lift_restriction(&self, plate: &str) -> Result<bool, StoreError> {
        self.with_admin(|conn| Ok(conn.execute("DELETE FROM restrictions WHERE plate = ?1", [plate])? == 1))
    }

    /// Every restricted plate.
    pub fn restricted_plates(&self) -> Result<Vec<String>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached("SELECT plate FROM restrictions ORDER BY plate")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;

    fn ana() -> UserRow {
        UserRow {
            name: "ana".into(),
            display_name: Some("Ana Pop".into()),
            password_hash: Some("$argon2id$…".into()),
            totp_secret: None,
            totp_last_step: None,
            roles: vec!["analyst".into(), "operator".into()],
            agency: "ro-igpf".into(),
            country: "RO".into(),
            clearance: 1,
            cases: vec!["2026/117".into()],
            disabled: false,
            created_us: 1,
        }
    }

    #[test]
    fn accounts_sessions_and_tokens_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert!(store.create_user(&ana()).unwrap());
        assert!(!store.create_user(&ana()).unwrap(), "names are unique");
        assert_eq!(store.user("ana").unwrap(), Some(ana()));

        let mut changed = ana();
        changed.roles = vec!["investigator".into()];
        changed.totp_secret = Some("JBSWY3DPEHPK3PXP".into());
        store.update_user(&changed).unwrap();
        assert_eq!(store.users().unwrap(), vec![changed.clone()]);
        assert!(store.use_totp_step("ana", 10).unwrap());
        assert!(!store.use_totp_step("ana", 10).unwrap(), "a step is used once");
        assert!(!store.use_totp_step("ana", 9).unwrap());

        let s = SessionRow { digest: "d1".into(), user: "ana".into(), created_us: 1, expires_us: 100, purpose: None };
        store.create_session(&s).unwrap();
        let (got, who) = store.session("d1").unwrap().unwrap();
        assert_eq!((got, who.name.as_str(), who.totp_last_step), (s, "ana", Some(10)));
        assert_eq!(store.delete_expired_sessions(50).unwrap(), 0);
        assert_eq!(store.delete_expired_sessions(100).unwrap(), 1);
        assert!(store.session("d1").unwrap().is_none());

        let t = TokenRow {
            id: "abc".into(),
            digest: "dd".into(),
            name: "gateway".into(),
            agency: "ro-igpf".into(),
            country: "RO".into(),
            scope: vec!["reads.ingest".into()],
            purpose: None,
            created_by: "admin".into(),
            created_us: 5,
            expires_us: None,
            revoked_us: None,
        };
        store.create_token(&t).unwrap();
        assert_eq!(store.token("abc").unwrap(), Some(t.clone()));
        assert!(store.revoke_token("abc", 9).unwrap());
        assert!(!store.revoke_token("abc", 10).unwrap());
        assert_eq!(store.tokens().unwrap()[0].revoked_us, Some(9));

        assert!(store.restrict_plate("B55DPO", "dora", "LED art. 16(3)", None).unwrap());
        assert!(!store.restrict_plate("B55DPO", "dora", "LED art. 16(3)", None).unwrap());
        assert_eq!(store.restricted_plates().unwrap(), ["B55DPO"]);
        assert!(store.lift_restriction("B55DPO").unwrap());
        assert!(store.restricted_plates().unwrap().is_empty());
    }
}
