-- Idempotency keys of this replica's own API: which request created a
-- record under a client-chosen id. Local, never replicated: a retry comes
-- back to the site it was first sent to.
CREATE TABLE requests (
	entity  TEXT NOT NULL,
	id      TEXT NOT NULL,
	hash    BLOB NOT NULL,      -- BLAKE2b of the request's canonical CBOR
	PRIMARY KEY (entity, id)
) WITHOUT ROWID;
