-- Intelligence bulletins (issue #8, item 3): this node's own and those partners sent, each as
-- the copy this node holds (a partner's copy may carry pseudonyms of plates); who read them;
-- and, for the node's own, what became of each copy sent.
CREATE TABLE bulletins (
    id            TEXT PRIMARY KEY,
    origin        TEXT NOT NULL,
    number        INTEGER NOT NULL,
    -- NULL for the node's own; the agency that sent this copy otherwise.
    received_from TEXT,
    message       TEXT,
    exercise      INTEGER NOT NULL,
    issued_us     INTEGER NOT NULL,
    stored_us     INTEGER NOT NULL,
    bulletin      TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX bulletins_by_number ON bulletins (origin, number);
CREATE INDEX bulletins_by_time ON bulletins (stored_us);

-- Read receipts: at a recipient, each reader here (agency = this node's); at the issuer, the
-- first read at each partner (reader empty).
CREATE TABLE bulletin_reads (
    bulletin TEXT NOT NULL,
    agency   TEXT NOT NULL,
    reader   TEXT NOT NULL,
    read_us  INTEGER NOT NULL,
    PRIMARY KEY (bulletin, agency, reader)
) STRICT;

-- Copies sent (issued or forwarded): queued, or why not.
CREATE TABLE bulletin_copies (
    bulletin TEXT NOT NULL,
    agency   TEXT NOT NULL,
    status   TEXT NOT NULL,
    at_us    INTEGER NOT NULL,
    PRIMARY KEY (bulletin, agency)
) STRICT;
