-- Sharing agreements with partners, as both agencies signed them (the document's text).
-- One is in force per partner at a time: adding a new one ends the previous one.
CREATE TABLE agreements (
    id         TEXT PRIMARY KEY,
    partner    TEXT NOT NULL,
    text       TEXT NOT NULL,
    added_us   INTEGER NOT NULL,
    -- Revoked or superseded; an ended agreement is kept for the audit trail.
    ended_us   INTEGER,
    end_reason TEXT
) STRICT;
CREATE INDEX agreements_by_partner ON agreements (partner);

-- The labels a received message carried (what it is, for the agreement), as signed.
ALTER TABLE inbox ADD COLUMN labels TEXT;
