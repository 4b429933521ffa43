-- Joint operations (issue #8, item 4), kept like incidents: every member's events as they
-- arrived, and each operation as they fold, refreshed in the transaction that adds an event.
-- `delete_after_us` is the close plus the agreed retention; retention deletes both.
CREATE TABLE operation_events (
    thing       TEXT NOT NULL,
    ms          INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    agency      TEXT NOT NULL,
    exercise    INTEGER NOT NULL,
    event       TEXT NOT NULL,
    received_us INTEGER NOT NULL,
    PRIMARY KEY (thing, ms, n, agency)
) STRICT;

CREATE TABLE operations (
    id              TEXT PRIMARY KEY,
    origin          TEXT NOT NULL,
    number          INTEGER NOT NULL,
    exercise        INTEGER NOT NULL,
    status          TEXT NOT NULL,
    raised_us       INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    delete_after_us INTEGER,
    state           TEXT NOT NULL
) STRICT;
CREATE INDEX operations_by_update ON operations (updated_ms);
CREATE UNIQUE INDEX operations_by_number ON operations (origin, number);
