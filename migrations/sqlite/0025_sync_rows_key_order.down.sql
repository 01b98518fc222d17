-- Back to the key of 0023 (the table is rebuilt, as SQLite cannot change a primary key).
CREATE TABLE sync_rows_new (
    table_name TEXT NOT NULL,
    row_id     TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    school_id  TEXT NOT NULL,
    image      TEXT NOT NULL,
    clocks     TEXT NOT NULL,
    PRIMARY KEY (table_name, tenant_id, row_id)
);
INSERT INTO sync_rows_new (table_name, row_id, tenant_id, school_id, image, clocks)
    SELECT table_name, row_id, tenant_id, school_id, image, clocks FROM sync_rows;
DROP TABLE sync_rows;
ALTER TABLE sync_rows_new RENAME TO sync_rows;
