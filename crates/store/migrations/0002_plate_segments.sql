-- limes node store, schema version 2: the plate index by segment.
--
-- The look-alike key is random, so an index on it alone spreads every commit's inserts over
-- the whole index: as the table grew, each commit rewrote more pages and ingest fell (158k
-- rows/s empty, 54k at 4M rows). Keyed first by the read's segment (its id >> 18, 262,144 reads
-- a segment), inserts touch only the newest segment's small subtree, however large the table.
-- A plate search probes the index once per segment.
ALTER TABLE reads ADD COLUMN seg INTEGER NOT NULL DEFAULT 0;
UPDATE reads SET seg = id >> 18;
DROP INDEX reads_by_lookalike;
CREATE INDEX reads_by_plate ON reads (seg, lookalike_key);
