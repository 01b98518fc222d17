-- Repair depots and their staff (tenant-wide, central-owned). Several shops
-- per county are allowed: the original's UNIQUE (tenant, county) is gone.
CREATE TABLE service_shops (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    location        TEXT NOT NULL DEFAULT '',
    county_code     TEXT NOT NULL,
    county_name     TEXT NOT NULL DEFAULT '',
    sub_county_code TEXT NOT NULL DEFAULT '',
    sub_county_name TEXT NOT NULL DEFAULT '',
    coverage_level  TEXT NOT NULL CHECK (coverage_level IN ('county', 'sub_county', 'cluster')),
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX service_shops_tenant_created_idx ON service_shops (tenant_id, created_at DESC, id DESC);
CREATE INDEX service_shops_routing_idx ON service_shops (tenant_id, county_code, sub_county_code, coverage_level, active);

CREATE TABLE service_staff (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    service_shop_id TEXT NOT NULL REFERENCES service_shops (id),
    user_id         TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('lead_technician', 'assistant_technician', 'storekeeper')),
    phone           TEXT NOT NULL DEFAULT '',
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1,
    UNIQUE (service_shop_id, user_id)
);
CREATE INDEX service_staff_tenant_created_idx ON service_staff (tenant_id, created_at DESC, id DESC);
CREATE INDEX service_staff_shop_role_idx ON service_staff (tenant_id, service_shop_id, role, active, created_at);
