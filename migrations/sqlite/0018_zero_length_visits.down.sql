CREATE TABLE work_order_schedules_new (
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
INSERT INTO work_order_schedules_new SELECT * FROM work_order_schedules WHERE scheduled_end > scheduled_start;
DROP TABLE work_order_schedules;
ALTER TABLE work_order_schedules_new RENAME TO work_order_schedules;
CREATE INDEX work_order_schedules_wo_idx ON work_order_schedules (tenant_id, school_id, work_order_id, created_at DESC, id DESC);
