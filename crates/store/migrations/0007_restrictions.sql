-- Plates whose data is restricted (LED Art. 16(3), GDPR Art. 18): kept, shown to no one but
-- the data-protection officer, until lifted (issue #4).
CREATE TABLE restrictions (
    plate        TEXT PRIMARY KEY,      -- canonical text
    created_us   INTEGER NOT NULL,
    by           TEXT NOT NULL,         -- who restricted it
    legal_basis  TEXT NOT NULL,
    case_ref     TEXT
) STRICT;
