-- limes node store, schema version 1.
-- Times are microseconds since the Unix epoch, UTC.
-- Plate keys are limes_plate::PlateKey values (base-37 packed canonical text).

CREATE TABLE cameras (
    id          TEXT PRIMARY KEY,
    agency      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    lat         REAL,
    lon         REAL,
    heading     REAL,
    road        TEXT,
    lane        TEXT,
    country     TEXT NOT NULL,
    name        TEXT,
    updated_us  INTEGER NOT NULL
) STRICT;

CREATE TABLE reads (
    id              INTEGER PRIMARY KEY,
    camera          TEXT NOT NULL,
    time_us         INTEGER NOT NULL,
    received_us     INTEGER NOT NULL,
    plate           TEXT NOT NULL,
    plate_key       INTEGER NOT NULL,
    lookalike_key   INTEGER NOT NULL,
    country         TEXT,
    valid           INTEGER NOT NULL,
    body            TEXT NOT NULL
) STRICT;
-- One index serves both exact and look-alike search: every exact match shares its
-- look-alike key, and a look-alike bucket holds only a few distinct plates. The key alone
-- (no time column) keeps entries small: random-key inserts dirty fewer pages per commit,
-- and a bucket is small enough to sort by time when searched.
CREATE INDEX reads_by_lookalike ON reads (lookalike_key);
CREATE INDEX reads_by_camera ON reads (camera, time_us);
CREATE INDEX reads_by_time ON reads (time_us);

CREATE TABLE hotlist (
    id          INTEGER PRIMARY KEY,
    plate       TEXT NOT NULL,
    country     TEXT,
    reason      TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    agency      TEXT NOT NULL,
    expires_us  INTEGER,
    fuzzy       INTEGER NOT NULL,
    note        TEXT,
    updated_us  INTEGER NOT NULL
) STRICT;

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    read_id     INTEGER NOT NULL REFERENCES reads (id) ON DELETE CASCADE,
    entry_id    INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    distance    INTEGER NOT NULL,
    plate       TEXT NOT NULL,
    read_text   TEXT NOT NULL,
    camera      TEXT NOT NULL,
    time_us     INTEGER NOT NULL,
    created_us  INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    agency      TEXT NOT NULL,
    acked_by    TEXT,
    acked_us    INTEGER,
    ack_note    TEXT
) STRICT;
CREATE INDEX alerts_by_read ON alerts (read_id);
CREATE INDEX alerts_unacked ON alerts (acked_us, id);
