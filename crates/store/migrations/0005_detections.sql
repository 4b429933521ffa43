-- limes node store, schema version 5: face, person and vehicle detections.
--
-- A detection says that a camera's analytics saw an object, where in the picture, and what
-- it estimated about it (limes_model::Detection). It never says who: there is no column for
-- a name, a face template or embedding, a recognition result or any person identifier, and
-- none may be added. object_id is the camera's own short-lived tracking number.

-- AUTOINCREMENT: an id is never given twice, even after retention deleted the newest rows
-- (a late upload older than the retention), so an id always names one detection.
CREATE TABLE detections (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    camera              TEXT NOT NULL,
    time_us             INTEGER NOT NULL,   -- when the camera saw the object
    received_us         INTEGER NOT NULL,   -- when the node received it
    kind                TEXT NOT NULL CHECK (kind IN ('face', 'person', 'vehicle')),
    confidence          REAL,               -- of the kind, 0..1
    age_min             INTEGER,            -- estimated age range in years, both ends included
    age_max             INTEGER,
    age_confidence      REAL,
    gender              TEXT CHECK (gender IN ('female', 'male')),
    gender_confidence   REAL,
    bbox_left           REAL,               -- where in the picture, origin top left
    bbox_top            REAL,
    bbox_right          REAL,
    bbox_bottom         REAL,
    bbox_units          TEXT CHECK (bbox_units IN ('normalized', 'pixels')),
    zone                TEXT,               -- the camera analytics' zone, region or rule
    object_id           TEXT,               -- the camera's tracking number
    vehicle             TEXT,               -- limes_model::VehicleInfo as JSON (vehicles only)
    lat                 REAL,               -- the camera's own position when it moves
    lon                 REAL,
    source_format       TEXT NOT NULL,      -- how it reached the node: http, onvif-json, frigate…
    CHECK ((age_min IS NULL) = (age_max IS NULL) AND age_min <= age_max),
    CHECK ((bbox_units IS NULL) = (bbox_left IS NULL)),
    CHECK (kind <> 'vehicle' OR (age_min IS NULL AND gender IS NULL))
) STRICT;
-- Searches are newest first within a camera, a zone, or everything; each index ends with
-- the time so that a page is read in order without sorting (the rowid breaks ties).
CREATE INDEX detections_by_camera ON detections (camera, time_us);
CREATE INDEX detections_by_zone ON detections (zone, time_us);
CREATE INDEX detections_by_time ON detections (time_us);
