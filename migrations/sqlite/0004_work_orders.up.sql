-- Work orders: the repair job for one device, routed to a shop/technician.
CREATE TABLE work_orders (
    id                  TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL,
    school_id           TEXT NOT NULL,
    incident_id         TEXT NOT NULL DEFAULT '',
    device_id           TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('draft', 'assigned', 'in_repair', 'qa', 'completed', 'approved')),
    service_shop_id     TEXT NOT NULL DEFAULT '',
    assigned_staff_id   TEXT NOT NULL DEFAULT '',
    assigned_to         TEXT NOT NULL DEFAULT '',
    repair_location     TEXT NOT NULL DEFAULT 'service_shop',
    task_type           TEXT NOT NULL,
    cost_estimate_cents INTEGER NOT NULL DEFAULT 0 CHECK (cost_estimate_cents >= 0),
    notes               TEXT NOT NULL DEFAULT '',
    project_id          TEXT NOT NULL DEFAULT '',
    phase_id            TEXT NOT NULL DEFAULT '',
    onsite_contact_id   TEXT NOT NULL DEFAULT '',
    approval_status     TEXT NOT NULL DEFAULT 'not_required'
                        CHECK (approval_status IN ('not_required', 'pending', 'approved', 'rejected')),
    rework_count        INTEGER NOT NULL DEFAULT 0,
    last_rework_at      TEXT,
    last_rework_reason  TEXT NOT NULL DEFAULT '',
    created_by          TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX work_orders_scope_created_idx ON work_orders (tenant_id, school_id, created_at DESC, id DESC);
CREATE INDEX work_orders_scope_status_idx ON work_orders (tenant_id, school_id, status);
-- The original had no index here although lists filter on it.
CREATE INDEX work_orders_incident_idx ON work_orders (tenant_id, incident_id);
CREATE INDEX work_orders_project_idx ON work_orders (tenant_id, school_id, project_id, created_at DESC);

-- Every trip back through rework, append-only.
CREATE TABLE work_order_rework_history (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    school_id     TEXT NOT NULL,
    work_order_id TEXT NOT NULL REFERENCES work_orders (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    from_status   TEXT NOT NULL,
    to_status     TEXT NOT NULL,
    category      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    UNIQUE (work_order_id, seq)
);
