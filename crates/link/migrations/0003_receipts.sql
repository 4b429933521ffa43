-- What this node shared under an agreement, until the partner says it deleted it: a message
-- still without a receipt after its due date (sent + the agreement's retention) is flagged.
CREATE TABLE shared (
    message_id     TEXT PRIMARY KEY,
    partner        TEXT NOT NULL,
    category       TEXT NOT NULL,
    sent_us        INTEGER NOT NULL,
    due_us         INTEGER NOT NULL,
    receipt_us     INTEGER,
    receipt_reason TEXT
) STRICT;
CREATE INDEX shared_waiting ON shared (due_us) WHERE receipt_us IS NULL;
