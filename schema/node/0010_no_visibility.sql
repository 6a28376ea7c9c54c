-- Who may receive an op is the hub's business (hub/visibility.c): nodes
-- never fill these columns, which 0007 added on both sides. Gone here.
ALTER TABLE op_log DROP COLUMN vis_site;
ALTER TABLE op_log DROP COLUMN vis_site2;
ALTER TABLE op_log DROP COLUMN vis_region;
