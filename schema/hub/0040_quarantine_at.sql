-- A hub of a cluster sends the shared log what each of its transactions
-- quarantined (hub/pgstore.c): found by when it was quarantined.
CREATE INDEX quarantine_at ON quarantine(at);
