-- Edge <-> central sync (docs/sync.md, SYNC.md).

-- Every replicated row's last captured or applied image and each field's
-- HLC, on both sides: capture diffs against the image to find the fields a
-- write changed; apply compares clocks field by field.
CREATE TABLE sync_rows (
    table_name TEXT NOT NULL,
    row_id     TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    school_id  TEXT NOT NULL,
    image      TEXT NOT NULL,
    clocks     TEXT NOT NULL,
    PRIMARY KEY (table_name, row_id)
);

-- Changes waiting to leave this node, written in the same transaction as
-- the change. On an edge they go up and are trimmed only once central has
-- applied them; on central they go down to the school's edge.
CREATE TABLE sync_outbox (
    seq        BIGSERIAL PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    school_id  TEXT NOT NULL,
    table_name TEXT NOT NULL,
    row_id     TEXT NOT NULL,
    change     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Central's view of each enrolled edge: its epoch, how far its changes
-- are applied, and its last checkpoint.
CREATE TABLE sync_edges (
    tenant_id       TEXT NOT NULL,
    school_id       TEXT NOT NULL,
    epoch           TEXT NOT NULL,
    -- The box that holds the epoch (its machine id): a clone is refused.
    host            TEXT NOT NULL DEFAULT '',
    applied_seq     BIGINT NOT NULL DEFAULT 0,
    -- The last position of central's down stream that carried this school.
    down_seq        BIGINT NOT NULL DEFAULT 0,
    status          TEXT NOT NULL DEFAULT 'active',
    status_message  TEXT NOT NULL DEFAULT '',
    enrolled_at     TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ,
    last_applied_at TIMESTAMPTZ,
    checkpoint      TEXT,
    PRIMARY KEY (tenant_id, school_id)
);

-- Every value a merge overwrote or discarded, so nothing is lost silently.
CREATE TABLE sync_conflicts (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    school_id   TEXT NOT NULL,
    table_name  TEXT NOT NULL,
    row_id      TEXT NOT NULL,
    field       TEXT NOT NULL,
    kept_value  TEXT NOT NULL,
    kept_clock  TEXT NOT NULL,
    lost_value  TEXT NOT NULL,
    lost_clock  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sync_conflicts_scope_idx ON sync_conflicts (tenant_id, school_id, created_at DESC, id DESC);

-- Changes central refused (recorded centrally, and at the edge once told).
CREATE TABLE sync_rejections (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    school_id   TEXT NOT NULL,
    epoch       TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    table_name  TEXT NOT NULL,
    row_id      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, school_id, epoch, seq, row_id)
);

-- Attachment contents an edge still has to upload to central, queued in the
-- transaction that made the attachment available; removed once central
-- holds the verified blob.
CREATE TABLE sync_blob_queue (
    object_key    TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    school_id     TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT ''
);
