ALTER TABLE sync_rows DROP CONSTRAINT sync_rows_pkey;
ALTER TABLE sync_rows ADD PRIMARY KEY (table_name, tenant_id, row_id);
