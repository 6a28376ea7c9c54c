-- Ops quarantined until their order is held (sync/domain/own.h): the
-- daemons look for them every second, so they are found by this index,
-- not by reading the whole quarantine, which a flood of refused ops can
-- make large. The condition is the one own_retry_arrived queries by.
CREATE INDEX quarantine_waiting ON quarantine(origin, seq)
	WHERE instr(reason, ': not held here yet') > 0;
