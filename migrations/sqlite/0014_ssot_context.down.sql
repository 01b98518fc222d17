ALTER TABLE work_orders DROP COLUMN context;
ALTER TABLE incidents DROP COLUMN context;
