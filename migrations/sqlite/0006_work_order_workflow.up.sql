-- Around a work order: visit slots (append-only), deliverables with
-- evidence and review, and sign-off approvals.
CREATE TABLE work_order_schedules (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    school_id       TEXT NOT NULL,
    work_order_id   TEXT NOT NULL REFERENCES work_orders (id) ON DELETE CASCADE,
    scheduled_start TEXT NOT NULL,
    scheduled_end   TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    notes           TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    CHECK (scheduled_end > scheduled_start)
);
CREATE INDEX work_order_schedules_wo_idx ON work_order_schedules (tenant_id, school_id, work_order_id, created_at DESC, id DESC);

CREATE TABLE work_order_deliverables (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL,
    school_id              TEXT NOT NULL,
    work_order_id          TEXT NOT NULL REFERENCES work_orders (id) ON DELETE CASCADE,
    phase_id               TEXT NOT NULL DEFAULT '',
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'submitted', 'approved', 'rejected')),
    evidence_attachment_id TEXT NOT NULL DEFAULT '',
    submitted_by           TEXT NOT NULL DEFAULT '',
    submitted_at           TEXT,
    submission_notes       TEXT NOT NULL DEFAULT '',
    reviewed_by            TEXT NOT NULL DEFAULT '',
    reviewed_at            TEXT,
    review_notes           TEXT NOT NULL DEFAULT '',
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    version                INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX work_order_deliverables_wo_idx ON work_order_deliverables (tenant_id, school_id, work_order_id, created_at DESC, id DESC);
CREATE INDEX work_order_deliverables_phase_idx ON work_order_deliverables (tenant_id, phase_id, created_at DESC);

CREATE TABLE work_order_approvals (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    school_id      TEXT NOT NULL,
    work_order_id  TEXT NOT NULL REFERENCES work_orders (id) ON DELETE CASCADE,
    approval_type  TEXT NOT NULL CHECK (approval_type IN ('school_signoff', 'technical', 'financial')),
    status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    requested_by   TEXT NOT NULL,
    requested_at   TEXT NOT NULL,
    decided_by     TEXT NOT NULL DEFAULT '',
    decided_at     TEXT,
    decision_notes TEXT NOT NULL DEFAULT '',
    version        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX work_order_approvals_wo_idx ON work_order_approvals (tenant_id, school_id, work_order_id, requested_at DESC, id DESC);
