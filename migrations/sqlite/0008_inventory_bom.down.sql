DROP TABLE IF EXISTS work_order_parts;
DROP TABLE IF EXISTS inventory_ledger;
DROP TABLE IF EXISTS inventory;
