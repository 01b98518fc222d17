-- SSOT snapshot rows replicate too (docs/sync.md), and their ids are unique
-- only within a tenant (their primary key is (tenant_id, id)): a row's sync
-- bookkeeping is keyed by its tenant as well, so two tenants' rows that
-- share an id never share an image or clocks.
ALTER TABLE sync_rows DROP CONSTRAINT sync_rows_pkey;
ALTER TABLE sync_rows ADD PRIMARY KEY (table_name, tenant_id, row_id);
