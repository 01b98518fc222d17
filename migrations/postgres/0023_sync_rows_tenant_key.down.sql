ALTER TABLE sync_rows DROP CONSTRAINT sync_rows_pkey;
ALTER TABLE sync_rows ADD PRIMARY KEY (table_name, row_id);
