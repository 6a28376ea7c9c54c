-- Each site's log is a hash chain (sync/chain.h): every op held of a site
-- whose chain the replica keeps (the hub: every site; a node: its own)
-- carries chain(seq), in the log or in the quarantine. NULL where it is
-- not kept, or where an op before it is not known here.
ALTER TABLE op_log ADD COLUMN chain BLOB;
ALTER TABLE quarantine ADD COLUMN chain BLOB;
