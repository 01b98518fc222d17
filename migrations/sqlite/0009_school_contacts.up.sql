-- People to call at a school. At most one primary contact per school.
CREATE TABLE school_contacts (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    school_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    name       TEXT NOT NULL,
    phone      TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    role       TEXT NOT NULL CHECK (role IN ('point_of_contact', 'head_teacher', 'ict_teacher', 'bursar', 'other')),
    is_primary INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX school_contacts_scope_idx ON school_contacts (tenant_id, school_id, is_primary DESC, active DESC, created_at DESC);
CREATE UNIQUE INDEX school_contacts_one_primary_idx ON school_contacts (tenant_id, school_id) WHERE is_primary = 1;
