-- Drone and body-camera footage uploaded with its telemetry (issue #9, item 4). The file is
-- kept beside the store under footage/<sha256>; this row says what it is, and, once telemetry
-- is attached, the track (its fixes as JSON, written by limes-video) with a summary that lists
-- read without the fixes. Number 17 is taken by another branch.
CREATE TABLE footage (
    sha256       TEXT PRIMARY KEY,
    camera       TEXT NOT NULL,
    name         TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    -- When the recording started, and the offset from UTC of the camera's clock.
    start_us     INTEGER NOT NULL,
    utc_offset_s INTEGER NOT NULL,
    uploaded_us  INTEGER NOT NULL,
    uploaded_by  TEXT NOT NULL,
    -- The telemetry: all NULL until attached, all set once it is.
    telemetry_format TEXT,
    telemetry_name   TEXT,
    telemetry_us     INTEGER,
    telemetry_by     TEXT,
    fixes        INTEGER,
    track_start_us INTEGER,
    track_end_us INTEGER,
    min_lat REAL,
    min_lon REAL,
    max_lat REAL,
    max_lon REAL,
    track TEXT
) STRICT;
CREATE INDEX footage_by_start ON footage (start_us);
CREATE INDEX footage_by_camera ON footage (camera, start_us);
