-- Incidents: a reported problem with one device at one school.
-- SQLite spelling: timestamps are fixed-width RFC 3339 UTC text, booleans 0/1.
CREATE TABLE incidents (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    school_id       TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    category        TEXT NOT NULL,
    severity        TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    status          TEXT NOT NULL CHECK (status IN ('new', 'acknowledged', 'in_progress', 'escalated', 'resolved', 'closed')),
    title           TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    reported_by     TEXT NOT NULL DEFAULT '',
    sla_due_at      TEXT NOT NULL,
    sla_breached    INTEGER NOT NULL DEFAULT 0,
    breached_at     TEXT,
    acknowledged_at TEXT,
    resolved_at     TEXT,
    closed_at       TEXT,
    status_reason   TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);

-- Keyset list per school, newest first.
CREATE INDEX incidents_scope_created_idx ON incidents (tenant_id, school_id, created_at DESC, id DESC);
CREATE INDEX incidents_scope_status_idx ON incidents (tenant_id, school_id, status);
CREATE INDEX incidents_scope_device_idx ON incidents (tenant_id, school_id, device_id);
CREATE INDEX incidents_scope_updated_idx ON incidents (tenant_id, school_id, updated_at);
-- SLA breach sweep: open, not yet breached, ordered by due time.
CREATE INDEX incidents_sla_sweep_idx ON incidents (sla_due_at) WHERE sla_breached = 0 AND status NOT IN ('resolved', 'closed');
