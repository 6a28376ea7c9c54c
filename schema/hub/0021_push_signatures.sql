-- What each site signed of its log: every pushed batch's last seq and
-- chain value with the site's Ed25519 signature (sync/chain.h), checked
-- before the batch was committed and re-verified by bl-hub audit. A
-- site's signing key is pinned at its first HELLO after enrollment.
ALTER TABLE sites ADD COLUMN sign_key BLOB;
CREATE TABLE push_sigs (
	origin  TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	chain   BLOB NOT NULL,
	sig     BLOB NOT NULL,
	at      INTEGER NOT NULL,       -- unix ms when received
	PRIMARY KEY (origin, seq)
) WITHOUT ROWID;
