-- Incidents (issue #8): the events every agency involved wrote, kept as they arrived (one row
-- per writer's stamp, so a message applied twice adds nothing), and each incident as its
-- events fold (`limes-cooperation`), refreshed in the transaction that adds an event.
CREATE TABLE incident_events (
    thing       TEXT NOT NULL,
    ms          INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    agency      TEXT NOT NULL,
    exercise    INTEGER NOT NULL,
    event       TEXT NOT NULL,
    received_us INTEGER NOT NULL,
    PRIMARY KEY (thing, ms, n, agency)
) STRICT;

CREATE TABLE incidents (
    id         TEXT PRIMARY KEY,
    origin     TEXT NOT NULL,
    number     INTEGER NOT NULL,
    exercise   INTEGER NOT NULL,
    status     TEXT NOT NULL,
    raised_us  INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    -- When retention deletes it (none yet for incidents: kept while open and after).
    delete_after_us INTEGER,
    state      TEXT NOT NULL
) STRICT;
CREATE INDEX incidents_by_update ON incidents (updated_ms);
CREATE UNIQUE INDEX incidents_by_number ON incidents (origin, number);
