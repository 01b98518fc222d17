-- Evidence files: metadata here, content in object storage under a key
-- built only from server-generated ids.
CREATE TABLE attachments (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    school_id    TEXT NOT NULL,
    entity_type  TEXT NOT NULL CHECK (entity_type IN ('incident', 'work_order', 'survey')),
    entity_id    TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL CHECK (size_bytes >= 0),
    sha256       TEXT NOT NULL,
    object_key   TEXT NOT NULL UNIQUE,
    uploaded_by  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX attachments_entity_idx ON attachments (tenant_id, school_id, entity_type, entity_id, created_at DESC, id DESC);
