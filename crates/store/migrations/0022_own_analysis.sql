-- The node's own analysis of its cameras (issue #10). An event its analysis raised — a person
-- or vehicle across a line drawn on a camera's picture, in a zone, a vehicle stopped — is kept
-- with what raised it (the model files' digests, the detector's score, the picture it was
-- raised on): the log the EU AI Act's Art. 12 asks of a high-risk system. It is `pending` until
-- a person confirms or dismisses it (Art. 14); only a confirmed one may be shared.
CREATE TABLE scene_events (
    id          INTEGER PRIMARY KEY,
    camera      TEXT NOT NULL,
    time_us     INTEGER NOT NULL,
    -- line_crossed, zone_entered or stopped.
    kind        TEXT NOT NULL,
    class       TEXT NOT NULL,
    -- The line or zone it concerns ('' for a stopped vehicle).
    rule        TEXT NOT NULL,
    -- left_to_right or right_to_left for a line.
    direction   TEXT,
    -- Where in the picture (0..1 of its width and height): the object's ground point.
    at_x        REAL NOT NULL,
    at_y        REAL NOT NULL,
    track       INTEGER NOT NULL,
    score       REAL NOT NULL,
    -- The picture it was raised on, kept under attachments/ by its SHA-256.
    frame_sha256 TEXT,
    -- What raised it: the models and their digests, as JSON.
    models      TEXT NOT NULL,
    raised_us   INTEGER NOT NULL,
    exercise    INTEGER NOT NULL DEFAULT 0,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'dismissed')),
    decided_by  TEXT,
    decided_us  INTEGER,
    note        TEXT,
    -- The incident a confirmed event was raised as (`origin/n`), when it was.
    incident    TEXT
) STRICT;
CREATE INDEX scene_events_by_time ON scene_events (time_us);
CREATE INDEX scene_events_pending ON scene_events (status, time_us);

-- Vehicles across a camera's counting lines, per interval, lane, direction and class.
CREATE TABLE traffic_counts (
    camera      TEXT NOT NULL,
    interval_start_us INTEGER NOT NULL,
    interval_s  INTEGER NOT NULL,
    line        TEXT NOT NULL,
    lane        TEXT NOT NULL,
    direction   TEXT NOT NULL,
    class       TEXT NOT NULL,
    vehicles    INTEGER NOT NULL,
    PRIMARY KEY (camera, interval_start_us, line, lane, direction, class)
) STRICT, WITHOUT ROWID;
