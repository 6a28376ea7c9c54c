-- A hub restored from a backup (bl-hub restore) writes nothing of its own
-- until every enrolled site has reported what it holds of the hub's own
-- ops (hub/recover.c): who has, since the restore, and the highest seq
-- of the hub's own each had seen.
CREATE TABLE recover_reports (
	site    TEXT PRIMARY KEY,
	at      INTEGER NOT NULL,       -- unix ms
	seen    INTEGER NOT NULL
) WITHOUT ROWID;
