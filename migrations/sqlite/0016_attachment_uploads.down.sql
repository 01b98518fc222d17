DELETE FROM attachments WHERE status = 'pending';
ALTER TABLE attachments DROP COLUMN status;
