-- Partners: the trust anchor as added, what we send it and accept from it.
CREATE TABLE partners (
    agency        TEXT PRIMARY KEY,
    anchor        TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    signing_key   TEXT NOT NULL,
    send_types    TEXT NOT NULL,
    receive_types TEXT NOT NULL,
    -- Suffix of the stream names we send to this partner; new each time it is added.
    epoch         TEXT NOT NULL,
    added_us      INTEGER NOT NULL,
    -- Revoked partners stay, so that their certificate and key are never trusted again.
    revoked_us    INTEGER,
    revoke_reason TEXT
) STRICT;
CREATE INDEX partners_by_fingerprint ON partners (fingerprint);
CREATE INDEX partners_by_key ON partners (signing_key);

-- The next sequence number of each stream we send.
CREATE TABLE send_streams (
    partner  TEXT NOT NULL,
    stream   TEXT NOT NULL,
    next_seq INTEGER NOT NULL,
    PRIMARY KEY (partner, stream)
) STRICT;

-- Signed messages waiting for their partner's acknowledgement, in order.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    partner    TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    stream     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    about      TEXT,
    envelope   TEXT NOT NULL,
    signature  BLOB NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
) STRICT;
CREATE INDEX outbox_by_partner ON outbox (partner, id);

-- Messages a partner refused for good (the sender's dead letters).
CREATE TABLE refused (
    id         INTEGER PRIMARY KEY,
    partner    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    about      TEXT,
    code       TEXT NOT NULL,
    error      TEXT NOT NULL,
    refused_us INTEGER NOT NULL
) STRICT;

-- The last sequence number each partner's stream took here.
CREATE TABLE recv_streams (
    sender   TEXT NOT NULL,
    stream   TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (sender, stream)
) STRICT;

-- Messages received and acknowledged; applied by the node once each. The payload is
-- dropped once applied; the id stays to refuse replays while a message may be that old.
CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE,
    sender      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    stream      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    created_us  INTEGER NOT NULL,
    received_us INTEGER NOT NULL,
    payload     BLOB NOT NULL,
    applied_us  INTEGER
) STRICT;
CREATE INDEX inbox_unapplied ON inbox (id) WHERE applied_us IS NULL;
CREATE INDEX inbox_by_received ON inbox (received_us) WHERE applied_us IS NOT NULL;
