-- Ops held because their stamp was ahead of the clock: the daemons look
-- for the due ones every minute (store_quarantine_retry), by this index
-- rather than by reading the whole quarantine. The condition is the one
-- the retry queries by (sync/store.c, CLOCK_AHEAD_LIKE).
CREATE INDEX quarantine_clock ON quarantine(origin, seq)
	WHERE reason LIKE '%ms ahead (max %';
