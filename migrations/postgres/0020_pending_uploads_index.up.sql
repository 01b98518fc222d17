-- Housekeeping looks for uploads left pending long after their URL expired;
-- pending rows are few, so a partial index finds them without a scan.
CREATE INDEX attachments_pending_idx ON attachments (created_at, id) WHERE status = 'pending';
