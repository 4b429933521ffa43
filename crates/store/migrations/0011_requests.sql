-- Requests for full data (issue #6, item 4), both ways: `out` this node asked a partner, `in`
-- a partner asked this node. The asker names the request (`id`); a partner's id is unique
-- only with the partner. Both sides keep the status, the deadline and, on the asker's side,
-- what was released with the conditions it came under.
CREATE TABLE requests (
    direction     TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    partner       TEXT NOT NULL,
    id            TEXT NOT NULL,
    category      TEXT NOT NULL,
    reference     TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    legal_basis   TEXT NOT NULL,
    case_ref      TEXT NOT NULL,
    justification TEXT NOT NULL,
    urgent        INTEGER NOT NULL,
    asked_by      TEXT NOT NULL,
    created_us    INTEGER NOT NULL,
    deadline_us   INTEGER NOT NULL,
    status        TEXT NOT NULL,
    decided_by    TEXT,
    decided_us    INTEGER,
    reason        TEXT,
    released      TEXT,
    released_us   INTEGER,
    PRIMARY KEY (direction, partner, id)
) STRICT;
CREATE INDEX requests_by_time ON requests (created_us);
