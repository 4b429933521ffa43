-- A partner's alert whose plate is the partner's pseudonym (its agreement shares alerts with
-- plates pseudonymised): 1, else 0.
ALTER TABLE alerts ADD COLUMN origin_pseudonymised INTEGER NOT NULL DEFAULT 0;
