-- Allocation of online and b2b orders (hub/allocate.c, sync/domain/fulfil.h).
-- An online or b2b order created without a fulfilling site has fulfil_site
-- '' and is allocated by head office: it writes one child order per site
-- that fulfils part of it, a "fulfilment order", whose parent is fixed at
-- its create (NULL for every other order). The partial index finds an
-- order's children without a pass over orders, and costs ordinary orders
-- nothing.
ALTER TABLE orders ADD COLUMN parent TEXT;
CREATE INDEX orders_parent ON orders (parent) WHERE parent IS NOT NULL;

-- A customer's region (a last-writer-wins field, customer.c): the
-- allocator prefers a site of the customer's region (sites are enrolled
-- with bl-hub enroll --region).
ALTER TABLE customers ADD COLUMN region TEXT;
