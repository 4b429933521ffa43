-- Clips (issue #9): cut from this node's recordings and signed (the MP4 kept by its SHA-256
-- under attachments/, as incidents' files are), or sent by a partner (the MP4 where the link
-- keeps what partners send, verified against the digest). `manifest` is the signed manifest as
-- limes-federation's ClipManifest writes it; the columns beside it serve lists. `clip_sends`:
-- to which partner each of this node's clips went, when, by whom and for what purpose. A
-- partner's clip is deleted after its agreement's retention, with a deletion receipt.
CREATE TABLE clips (
    sha256        TEXT PRIMARY KEY,
    origin        TEXT NOT NULL,
    camera        TEXT NOT NULL,
    from_us       INTEGER NOT NULL,
    to_us         INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    made_us       INTEGER NOT NULL,
    made_by       TEXT NOT NULL,
    received_from TEXT,
    received_us   INTEGER,
    -- For a partner's clip: the message it came in (what a deletion receipt names) and the
    -- purpose it was shared for.
    message       TEXT,
    purpose       TEXT,
    manifest      TEXT NOT NULL
) STRICT;
CREATE INDEX clips_by_made ON clips (made_us);
CREATE INDEX clips_received ON clips (received_from, received_us) WHERE received_from IS NOT NULL;
CREATE TABLE clip_sends (
    sha256   TEXT NOT NULL REFERENCES clips (sha256),
    partner  TEXT NOT NULL,
    sent_us  INTEGER NOT NULL,
    sent_by  TEXT NOT NULL,
    purpose  TEXT NOT NULL,
    PRIMARY KEY (sha256, partner, sent_us)
) STRICT;
