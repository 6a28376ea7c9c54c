-- Retention keeps an op's content hash with its identity, so that a
-- different op coming under a dropped (origin, seq) is still told apart
-- from a copy. NULL for identities kept before this migration.
ALTER TABLE op_seen ADD COLUMN hash BLOB;
