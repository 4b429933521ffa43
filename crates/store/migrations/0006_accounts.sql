-- People, their login sessions, and integrations' API tokens (issue #4). Secrets are never
-- stored: passwords as argon2id PHC strings, session and token secrets as SHA-256 digests.
CREATE TABLE users (
    name           TEXT PRIMARY KEY,
    display_name   TEXT,
    password_hash  TEXT,              -- NULL: signs in only through OpenID Connect
    totp_secret    TEXT,              -- base32; NULL: no second factor enrolled
    totp_last_step INTEGER,           -- the last one-time code's step, refused if replayed
    roles          TEXT NOT NULL,     -- comma-separated role names
    agency         TEXT NOT NULL,
    country        TEXT NOT NULL,
    clearance      INTEGER NOT NULL DEFAULT 0,
    cases          TEXT NOT NULL DEFAULT '',  -- comma-separated case references
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_us     INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    digest      TEXT PRIMARY KEY,
    user        TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_us  INTEGER NOT NULL,
    expires_us  INTEGER NOT NULL,
    purpose     TEXT                  -- JSON: the purpose declared at login, if any
) STRICT;
CREATE INDEX sessions_by_user ON sessions(user);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    digest      TEXT NOT NULL,
    name        TEXT NOT NULL,
    agency      TEXT NOT NULL,
    country     TEXT NOT NULL,
    scope       TEXT NOT NULL,        -- comma-separated operation ids
    purpose     TEXT,                 -- JSON: the purpose and legal basis every call serves
    created_by  TEXT NOT NULL,
    created_us  INTEGER NOT NULL,
    expires_us  INTEGER,
    revoked_us  INTEGER
) STRICT;
