-- Site surveys of a project (rooms walked, photos taken) and its bill of
-- quantities.
CREATE TABLE site_surveys (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    school_id    TEXT NOT NULL,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    status       TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'approved')),
    conducted_by TEXT NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    risks        TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX site_surveys_project_idx ON site_surveys (tenant_id, school_id, project_id, created_at DESC);

CREATE TABLE survey_rooms (
    id            TEXT PRIMARY KEY,
    survey_id     TEXT NOT NULL REFERENCES site_surveys (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    room_type     TEXT NOT NULL,
    floor         TEXT NOT NULL DEFAULT '',
    power_notes   TEXT NOT NULL DEFAULT '',
    network_notes TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX survey_rooms_survey_idx ON survey_rooms (survey_id, created_at);

CREATE TABLE survey_photos (
    id            TEXT PRIMARY KEY,
    survey_id     TEXT NOT NULL REFERENCES site_surveys (id) ON DELETE CASCADE,
    room_id       TEXT NOT NULL DEFAULT '',
    attachment_id TEXT NOT NULL REFERENCES attachments (id),
    caption       TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX survey_photos_survey_idx ON survey_photos (survey_id, created_at);

CREATE TABLE boq_items (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    school_id            TEXT NOT NULL,
    project_id           TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    category             TEXT NOT NULL,
    description          TEXT NOT NULL,
    part_id              TEXT NOT NULL DEFAULT '',
    qty                  BIGINT NOT NULL CHECK (qty > 0),
    unit                 TEXT NOT NULL DEFAULT 'each',
    estimated_cost_cents BIGINT NOT NULL DEFAULT 0 CHECK (estimated_cost_cents >= 0),
    approved             BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX boq_items_project_idx ON boq_items (tenant_id, school_id, project_id, created_at);
