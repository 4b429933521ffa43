-- Hit/no-hit queries (limes-hitquery): for each window's key (its UTC day), the two random
-- references each plate sighted in the window got in the published set, and the reads that
-- were its sightings when the set was last built. A later full-data request names a reference;
-- this table resolves it. Rows are kept as long as their window's sightings may be asked
-- about (`[federation.hitquery] window_days` after the key's day), then deleted with the key.
CREATE TABLE hitquery_plates (
    key_day    TEXT NOT NULL,           -- YYYY-MM-DD (UTC): the key, and so the window
    plate      TEXT NOT NULL,           -- canonical text, as sighted
    exact_ref  BLOB NOT NULL UNIQUE,    -- 16 random bytes
    folded_ref BLOB NOT NULL UNIQUE,    -- 16 random bytes
    read_ids   TEXT NOT NULL,           -- JSON array of read ids in the window
    PRIMARY KEY (key_day, plate)
) STRICT;
