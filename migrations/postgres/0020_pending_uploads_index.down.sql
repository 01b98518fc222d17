DROP INDEX attachments_pending_idx;
