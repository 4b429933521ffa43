-- Hotlist entries a partner agency shared (issue #6, "hotlists across the border"): a row
-- here makes the hotlist row with that id the partner's. The partner's own id for the entry,
-- the message that last carried it (named by deletion receipts), the purpose it was shared
-- for (what using it is checked against) and when it arrived (what retention counts from).
CREATE TABLE hotlist_partner (
    id          INTEGER PRIMARY KEY REFERENCES hotlist (id) ON DELETE CASCADE,
    partner     TEXT NOT NULL,
    partner_id  INTEGER NOT NULL,
    message     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    received_us INTEGER NOT NULL,
    UNIQUE (partner, partner_id)
) STRICT;

-- What this node has shared of its own entries with each partner: a digest of the entry as
-- sent, so that a change is sent once and a removal is sent for what the partner holds; the
-- purpose it was shared for (its removal is labelled with it); when it was last sent (an entry
-- still listed is sent again before the partner's retention would delete it).
CREATE TABLE hotlist_shared (
    partner TEXT NOT NULL,
    id      INTEGER NOT NULL,
    digest  BLOB NOT NULL,
    purpose TEXT NOT NULL,
    sent_us INTEGER NOT NULL,
    PRIMARY KEY (partner, id)
) STRICT, WITHOUT ROWID;
