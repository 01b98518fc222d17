-- Rollout projects at a school, their phases, checklist templates per phase
-- type and the checklist items each phase must tick off.
CREATE TABLE projects (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    school_id     TEXT NOT NULL,
    project_type  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'paused', 'completed')),
    current_phase TEXT NOT NULL,
    notes         TEXT NOT NULL DEFAULT '',
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX projects_scope_idx ON projects (tenant_id, school_id, created_at DESC, id DESC);

CREATE TABLE phases (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    school_id  TEXT NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    phase_type TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'blocked', 'done')),
    owner_role TEXT NOT NULL,
    notes      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX phases_project_idx ON phases (tenant_id, school_id, project_id, created_at);

CREATE TABLE checklist_templates (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    phase_type TEXT NOT NULL,
    title      TEXT NOT NULL,
    required   INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE INDEX checklist_templates_type_idx ON checklist_templates (tenant_id, phase_type, created_at);

CREATE TABLE phase_checklist_items (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    phase_id   TEXT NOT NULL REFERENCES phases (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    required   INTEGER NOT NULL,
    done       INTEGER NOT NULL DEFAULT 0,
    done_by    TEXT NOT NULL DEFAULT '',
    done_at    TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX phase_checklist_items_phase_idx ON phase_checklist_items (tenant_id, phase_id, created_at);
