-- No query looks stock movements up by ref: the index only cost every
-- movement (every sale) one more page written to the WAL and checkpointed.
DROP INDEX stock_movements_ref;
