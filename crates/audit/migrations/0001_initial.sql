-- The audit log (see design/audit.md).

-- The log's identity: its origin (the checkpoints' first line and key name) and the verifier
-- key of its checkpoint signatures.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- The readable records, erasable: erasure deletes the row (salt included) and keeps the leaf.
CREATE TABLE records (
    seq         INTEGER PRIMARY KEY,
    time_us     INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    object      TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    case_ref    TEXT,
    outcome     TEXT NOT NULL,
    details     TEXT NOT NULL,
    salt        BLOB NOT NULL
);
-- Exports by period; the writer gives times that never decrease, so this index only grows at
-- its end.
CREATE INDEX records_time ON records (time_us);

-- The Merkle log's leaves: SHA-256(0x00 || salt || canonical record), never deleted.
CREATE TABLE leaves (
    seq  INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);

-- Complete subtrees of the tree above the leaves, (level, index) covering leaves
-- index·2^level .. (index+1)·2^level, for proofs in O(log n) reads.
CREATE TABLE nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- Signed tree heads: `signature` is Ed25519 over "cosignature/v1\ntime <time>\n" and the
-- checkpoint body (origin, size, base64 root).
CREATE TABLE checkpoints (
    size      INTEGER PRIMARY KEY,
    root      BLOB NOT NULL,
    time      INTEGER NOT NULL,
    signature BLOB NOT NULL
);
