-- Head office's console users (hub/users.c): who may log in to the console
-- that bl-hub serves, and what they may do there. viewer reads; manager
-- also writes what head office writes (safety stock...). The password is
-- kept only as libsodium's crypto_pwhash_str (Argon2id, its salt and
-- limits in the string). Managed with bl-hub user add|list|remove; a
-- removed user's open sessions end at their next request.
CREATE TABLE users (
	name        TEXT PRIMARY KEY,
	role        TEXT NOT NULL CHECK (role IN ('viewer', 'manager')),
	pwhash      TEXT NOT NULL,
	created_at  INTEGER NOT NULL    -- unix ms
) WITHOUT ROWID;
