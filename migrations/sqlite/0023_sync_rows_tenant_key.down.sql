CREATE TABLE sync_rows_old (
    table_name TEXT NOT NULL,
    row_id     TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    school_id  TEXT NOT NULL,
    image      TEXT NOT NULL,
    clocks     TEXT NOT NULL,
    PRIMARY KEY (table_name, row_id)
);
INSERT INTO sync_rows_old (table_name, row_id, tenant_id, school_id, image, clocks)
    SELECT table_name, row_id, tenant_id, school_id, image, clocks FROM sync_rows;
DROP TABLE sync_rows;
ALTER TABLE sync_rows_old RENAME TO sync_rows;
