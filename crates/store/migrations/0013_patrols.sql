-- Patrols (issue #8): patrol units — this agency's and those partners shared —, their
-- positions, and the assignments that sent them somewhere.
--
-- A unit is kept as its JSON (`limes-cooperation`'s `Unit`) beside the columns queries use.
-- For this agency's units, `shared` (the last position sent to partners, JSON) and
-- `checked_us` (positions up to this time were considered for sharing) are where the
-- sharing task resumes; `checked_us` moves to the present when a unit stops being covert, so
-- what it did while covert is never shared.
CREATE TABLE patrol_units (
    id         TEXT PRIMARY KEY,
    agency     TEXT NOT NULL,
    partner    INTEGER NOT NULL,
    covert     INTEGER NOT NULL,
    status     TEXT NOT NULL,
    unit       TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    shared     TEXT,
    checked_us INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX patrol_units_by_agency ON patrol_units (agency);

-- One row per unit and fix time: a position reported again, or a partner's message applied
-- twice, adds nothing. Kept `[patrols] positions_days` (a partner's, at most as long as the
-- agreement with it says).
CREATE TABLE patrol_positions (
    unit        TEXT NOT NULL,
    time_us     INTEGER NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    speed_kmh   REAL,
    heading     REAL,
    accuracy_m  REAL,
    received_us INTEGER NOT NULL,
    PRIMARY KEY (unit, time_us)
) STRICT, WITHOUT ROWID;
CREATE INDEX patrol_positions_by_time ON patrol_positions (time_us);

CREATE TABLE patrol_assignments (
    id         INTEGER PRIMARY KEY,
    unit       TEXT NOT NULL,
    target     TEXT NOT NULL,
    at_us      INTEGER NOT NULL,
    partner    INTEGER NOT NULL,
    assignment TEXT NOT NULL,
    UNIQUE (unit, at_us)
) STRICT;
CREATE INDEX patrol_assignments_by_target ON patrol_assignments (target, at_us);
CREATE INDEX patrol_assignments_by_time ON patrol_assignments (at_us);
