-- Who may receive an op (SPEC §5), decided by the hub when it logs the op:
-- a site named here, every site of a region ('*': every site), or, with
-- all three NULL, everyone. Head office receives everything. Nodes leave
-- these empty.
ALTER TABLE op_log ADD COLUMN vis_site TEXT;
ALTER TABLE op_log ADD COLUMN vis_site2 TEXT;
ALTER TABLE op_log ADD COLUMN vis_region TEXT;
