-- Presigned uploads: an attachment is `pending` from the moment its upload
-- URL is handed out until the server has looked at the object and found
-- the declared size and SHA-256; only `available` ones are ever shown.
ALTER TABLE attachments ADD COLUMN status TEXT NOT NULL DEFAULT 'available'
    CHECK (status IN ('pending', 'available'));
