-- Witnessed audit (design/audit.md, "Witnesses at the edge").

-- As a witness: the last checkpoint this node cosigned of each partner's audit log, by
-- partner and the log's origin (c2sp.org/tlog-witness keeps its state by origin; a partner
-- naming another's origin gets a state of its own). Only ever grows.
CREATE TABLE witness_state (
    partner    TEXT NOT NULL,
    origin     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    note       TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (partner, origin)
) STRICT;

-- As a log: this node's own checkpoints with the cosignatures its witnesses gave (the note
-- with their lines), newest by size.
CREATE TABLE cosigned (
    size       INTEGER PRIMARY KEY,
    note       TEXT NOT NULL,
    updated_us INTEGER NOT NULL
) STRICT;

-- As a receiver: the last checkpoint of each partner's audit log it accepted. Only ever grows.
CREATE TABLE checkpoint_held (
    sender     TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    note       TEXT NOT NULL,
    updated_us INTEGER NOT NULL
) STRICT;

-- Two checkpoints of one partner's log that cannot both be true, each signed by its key.
CREATE TABLE forks (
    id          INTEGER PRIMARY KEY,
    partner     TEXT NOT NULL,
    -- 'witness' (found cosigning) or 'receiver' (found judging a batch's checkpoint).
    seen_as     TEXT NOT NULL,
    held        TEXT NOT NULL,
    presented   TEXT NOT NULL,
    -- The consistency proof that failed, as JSON; none for one size with two roots.
    proof       TEXT,
    detail      TEXT NOT NULL,
    detected_us INTEGER NOT NULL,
    UNIQUE (partner, seen_as, presented)
) STRICT;

-- Why a received message is held until its sender's checkpoint is accepted (NULL: it is not).
ALTER TABLE inbox ADD COLUMN held TEXT;
CREATE INDEX inbox_held ON inbox (sender) WHERE held IS NOT NULL;
