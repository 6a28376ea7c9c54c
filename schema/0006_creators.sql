-- Which op created a record, for records that two sites may create under
-- one id (two tills given the same client id offline): the create with the
-- lower (created_hlc, created_origin) defines the record at every replica,
-- whatever the arrival order.
ALTER TABLE orders ADD COLUMN created_origin TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN created_origin TEXT;
ALTER TABLE cases ADD COLUMN created_origin TEXT NOT NULL DEFAULT '';
ALTER TABLE invoices ADD COLUMN created_hlc INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invoices ADD COLUMN created_origin TEXT NOT NULL DEFAULT '';
