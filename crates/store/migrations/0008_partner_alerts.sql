-- Alerts a partner agency raised and sent to this node (limes-link): no read of ours, so
-- read_id becomes optional, and the alert says where it came from. SQLite cannot relax a
-- NOT NULL column in place: the table is rebuilt with its rows and indexes.
CREATE TABLE alerts_new (
    id              INTEGER PRIMARY KEY,
    -- NULL for a partner's alert.
    read_id         INTEGER REFERENCES reads (id) ON DELETE CASCADE,
    entry_id        INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    distance        INTEGER NOT NULL,
    plate           TEXT NOT NULL,
    read_text       TEXT NOT NULL,
    camera          TEXT NOT NULL,
    time_us         INTEGER NOT NULL,
    created_us      INTEGER NOT NULL,
    reason          TEXT NOT NULL,
    priority        INTEGER NOT NULL,
    agency          TEXT NOT NULL,
    acked_by        TEXT,
    acked_us        INTEGER,
    ack_note        TEXT,
    demoted         TEXT,
    -- The partner agency that raised the alert, its country and its id for the alert; the
    -- message it came in (each message takes effect once); the partner's camera position.
    origin_agency   TEXT,
    origin_country  TEXT,
    origin_alert_id INTEGER,
    origin_message  TEXT UNIQUE,
    camera_lat      REAL,
    camera_lon      REAL,
    CHECK ((read_id IS NULL) = (origin_agency IS NOT NULL))
) STRICT;
INSERT INTO alerts_new (id, read_id, entry_id, kind, distance, plate, read_text, camera, time_us, created_us,
                        reason, priority, agency, acked_by, acked_us, ack_note, demoted)
    SELECT id, read_id, entry_id, kind, distance, plate, read_text, camera, time_us, created_us,
           reason, priority, agency, acked_by, acked_us, ack_note, demoted
      FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_new RENAME TO alerts;
CREATE INDEX alerts_by_read ON alerts (read_id);
CREATE INDEX alerts_unacked ON alerts (acked_us, id);
CREATE INDEX alerts_from_partners ON alerts (created_us) WHERE origin_agency IS NOT NULL;
CREATE INDEX alerts_by_plate ON alerts (plate);
