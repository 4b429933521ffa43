-- limes node store, schema version 4: images of reads, webhook cursors, id floors.
-- (Version 3 belongs to another branch; versions only have to increase, see schema.rs.)

-- One row per distinct image content. The bytes live in a file named by their SHA-256,
-- images/<hex 0..2>/<hex 2..4>/<hex>, under the data directory. A row exists only while at
-- least one read refers to it (read_images); the row is deleted before the file, so a crash
-- in between leaves an orphan file (swept at startup), never a row without its file.
CREATE TABLE images (
    sha256          TEXT PRIMARY KEY,   -- lower-case hex
    bytes           INTEGER NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    format          TEXT NOT NULL,      -- jpeg | png, as found in the bytes
    first_seen_us   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Which reads use which images, with the acquisition metadata of each use. The number of
-- rows naming an image is its reference count.
CREATE TABLE read_images (
    read_id         INTEGER NOT NULL REFERENCES reads (id) ON DELETE CASCADE,
    sha256          TEXT NOT NULL REFERENCES images (sha256),
    kind            TEXT NOT NULL,      -- plate | overview
    camera          TEXT NOT NULL,
    agency          TEXT,               -- the camera's agency (none once the camera is removed)
    time_us         INTEGER NOT NULL,   -- when the camera took it: the read's time
    source_format   TEXT NOT NULL,      -- how it reached the node, e.g. "http"
    added_us        INTEGER NOT NULL,
    PRIMARY KEY (read_id, sha256, kind)
) STRICT, WITHOUT ROWID;
CREATE INDEX read_images_by_image ON read_images (sha256);

-- How far each outbound webhook has delivered: the id of the last alert it is done with.
CREATE TABLE webhook_cursors (
    name            TEXT PRIMARY KEY,
    last_alert_id   INTEGER NOT NULL,
    updated_us      INTEGER NOT NULL
) STRICT;

-- The highest id ever given in a table (reads, alerts), recorded before retention deletes
-- rows. The writer numbers new rows above it, so an id is never given twice even when the
-- newest rows are deleted: webhook cursors and the SSE Last-Event-ID rely on that.
CREATE TABLE id_floors (
    name            TEXT PRIMARY KEY,
    id              INTEGER NOT NULL
) STRICT;
