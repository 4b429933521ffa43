-- Exercise marks on reads, hotlist entries, alerts and requests (`limes exercise run`): what a
-- drill wrote stays apart from real data everywhere.
ALTER TABLE reads ADD COLUMN exercise INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hotlist ADD COLUMN exercise INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN exercise INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN exercise INTEGER NOT NULL DEFAULT 0;
