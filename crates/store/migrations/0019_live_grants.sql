-- Live video shared with partners (issue #9): a supervisor's grant that lets one partner agency
-- watch one camera until a time, during a declared incident. The camera's node keeps the grants
-- it made (origin = this agency) and relays video only while one is in force; a partner's node
-- keeps the copies it was sent. The grant itself is the JSON limes-model's LiveGrant serialises
-- to; the columns beside it serve lookups. A grant is never deleted: it is part of the record of
-- what was shown to whom.
CREATE TABLE live_grants (
    id         TEXT PRIMARY KEY,
    origin     TEXT NOT NULL,
    n          INTEGER NOT NULL,
    partner    TEXT NOT NULL,
    camera     TEXT NOT NULL,
    incident   TEXT NOT NULL,
    granted_us INTEGER NOT NULL,
    until_us   INTEGER NOT NULL,
    revoked_us INTEGER,
    grant_json TEXT NOT NULL,
    UNIQUE (origin, n)
) STRICT;
CREATE INDEX live_grants_by_camera ON live_grants (origin, partner, camera, until_us);
CREATE INDEX live_grants_by_until ON live_grants (until_us);
