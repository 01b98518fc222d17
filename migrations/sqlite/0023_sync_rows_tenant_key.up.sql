-- SSOT snapshot rows replicate too (docs/sync.md), and their ids are unique
-- only within a tenant (their primary key is (tenant_id, id)): a row's sync
-- bookkeeping is keyed by its tenant as well, so two tenants' rows that
-- share an id never share an image or clocks. SQLite cannot change a
-- primary key, so the table is rebuilt (nothing references it).
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
