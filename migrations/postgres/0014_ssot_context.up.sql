-- Point-in-time copies of SSOT names (school, county, contact, device) on
-- incidents and work orders: written at creation, returned by reads.
ALTER TABLE incidents ADD COLUMN context JSONB NOT NULL DEFAULT '{}';
ALTER TABLE work_orders ADD COLUMN context JSONB NOT NULL DEFAULT '{}';
