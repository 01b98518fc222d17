-- Single sources of truth (schools, devices, parts) and IMS's per-row
-- snapshots of them. Each ssot_<kind> table is owned by one SSOT service;
-- each <kind>_snapshot is IMS's copy, kept current from SSOT events and
-- a periodic reconcile. Deletes are tombstones (deleted_at) so they travel.
-- `revision` increases per (tenant, kind) in commit order: the change
-- feed's position and the snapshot's version guard.

CREATE TABLE ssot_counties (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_counties_revision ON ssot_counties (tenant_id, revision);
CREATE UNIQUE INDEX ssot_counties_code_key ON ssot_counties (tenant_id, code) WHERE deleted_at IS NULL AND code <> '';

CREATE TABLE counties_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE ssot_sub_counties (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    county_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_sub_counties_revision ON ssot_sub_counties (tenant_id, revision);
CREATE UNIQUE INDEX ssot_sub_counties_code_key ON ssot_sub_counties (tenant_id, code) WHERE deleted_at IS NULL AND code <> '';
CREATE INDEX ssot_sub_counties_county_id ON ssot_sub_counties (tenant_id, county_id);

CREATE TABLE sub_counties_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    county_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX sub_counties_snapshot_county_id ON sub_counties_snapshot (tenant_id, county_id);

CREATE TABLE ssot_schools (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '',
    county_id TEXT NOT NULL DEFAULT '',
    sub_county_id TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL DEFAULT '',
    school_type TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT false,
    knec_code TEXT NOT NULL DEFAULT '',
    uic TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL DEFAULT '',
    cluster TEXT NOT NULL DEFAULT '',
    accommodation TEXT NOT NULL DEFAULT '',
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_schools_revision ON ssot_schools (tenant_id, revision);
CREATE UNIQUE INDEX ssot_schools_code_key ON ssot_schools (tenant_id, code) WHERE deleted_at IS NULL AND code <> '';
CREATE INDEX ssot_schools_knec_code ON ssot_schools (tenant_id, knec_code);
CREATE INDEX ssot_schools_uic ON ssot_schools (tenant_id, uic);
CREATE INDEX ssot_schools_county_id_sub_county_id ON ssot_schools (tenant_id, county_id, sub_county_id);

CREATE TABLE schools_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '',
    county_id TEXT NOT NULL DEFAULT '',
    sub_county_id TEXT NOT NULL DEFAULT '',
    level TEXT NOT NULL DEFAULT '',
    school_type TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL DEFAULT false,
    knec_code TEXT NOT NULL DEFAULT '',
    uic TEXT NOT NULL DEFAULT '',
    sex TEXT NOT NULL DEFAULT '',
    cluster TEXT NOT NULL DEFAULT '',
    accommodation TEXT NOT NULL DEFAULT '',
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX schools_snapshot_code ON schools_snapshot (tenant_id, code);
CREATE INDEX schools_snapshot_knec_code ON schools_snapshot (tenant_id, knec_code);
CREATE INDEX schools_snapshot_uic ON schools_snapshot (tenant_id, uic);
CREATE INDEX schools_snapshot_county_id_sub_county_id ON schools_snapshot (tenant_id, county_id, sub_county_id);

CREATE TABLE ssot_school_contacts (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    school_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    is_primary BOOLEAN NOT NULL DEFAULT false,
    active BOOLEAN NOT NULL DEFAULT false,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_school_contacts_revision ON ssot_school_contacts (tenant_id, revision);
CREATE INDEX ssot_school_contacts_school_id ON ssot_school_contacts (tenant_id, school_id);

CREATE TABLE school_contacts_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    school_id TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    is_primary BOOLEAN NOT NULL DEFAULT false,
    active BOOLEAN NOT NULL DEFAULT false,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX school_contacts_snapshot_school_id ON school_contacts_snapshot (tenant_id, school_id);

CREATE TABLE ssot_device_models (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    make TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    spec_json TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_device_models_revision ON ssot_device_models (tenant_id, revision);
CREATE UNIQUE INDEX ssot_device_models_make_model_key ON ssot_device_models (tenant_id, make, model) WHERE deleted_at IS NULL AND make <> '' AND model <> '';

CREATE TABLE device_models_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    make TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    spec_json TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE ssot_devices (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    serial TEXT NOT NULL DEFAULT '',
    asset_tag TEXT NOT NULL DEFAULT '',
    device_model_id TEXT NOT NULL DEFAULT '',
    school_id TEXT NOT NULL DEFAULT '',
    assigned_to TEXT NOT NULL DEFAULT '',
    lifecycle TEXT NOT NULL DEFAULT '',
    enrolled BOOLEAN NOT NULL DEFAULT false,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_devices_revision ON ssot_devices (tenant_id, revision);
CREATE UNIQUE INDEX ssot_devices_serial_key ON ssot_devices (tenant_id, serial) WHERE deleted_at IS NULL AND serial <> '';
CREATE INDEX ssot_devices_asset_tag ON ssot_devices (tenant_id, asset_tag);
CREATE INDEX ssot_devices_school_id ON ssot_devices (tenant_id, school_id);

CREATE TABLE devices_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    serial TEXT NOT NULL DEFAULT '',
    asset_tag TEXT NOT NULL DEFAULT '',
    device_model_id TEXT NOT NULL DEFAULT '',
    school_id TEXT NOT NULL DEFAULT '',
    assigned_to TEXT NOT NULL DEFAULT '',
    lifecycle TEXT NOT NULL DEFAULT '',
    enrolled BOOLEAN NOT NULL DEFAULT false,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX devices_snapshot_serial ON devices_snapshot (tenant_id, serial);
CREATE INDEX devices_snapshot_asset_tag ON devices_snapshot (tenant_id, asset_tag);
CREATE INDEX devices_snapshot_school_id ON devices_snapshot (tenant_id, school_id);

CREATE TABLE ssot_network_identities (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    device_id TEXT NOT NULL DEFAULT '',
    mac_address TEXT NOT NULL DEFAULT '',
    interface_name TEXT NOT NULL DEFAULT '',
    interface_type TEXT NOT NULL DEFAULT '',
    is_primary BOOLEAN NOT NULL DEFAULT false,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_network_identities_revision ON ssot_network_identities (tenant_id, revision);
CREATE UNIQUE INDEX ssot_network_identities_mac_address_key ON ssot_network_identities (tenant_id, mac_address) WHERE deleted_at IS NULL AND mac_address <> '';
CREATE INDEX ssot_network_identities_device_id ON ssot_network_identities (tenant_id, device_id);

CREATE TABLE network_identities_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    device_id TEXT NOT NULL DEFAULT '',
    mac_address TEXT NOT NULL DEFAULT '',
    interface_name TEXT NOT NULL DEFAULT '',
    interface_type TEXT NOT NULL DEFAULT '',
    is_primary BOOLEAN NOT NULL DEFAULT false,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX network_identities_snapshot_mac_address ON network_identities_snapshot (tenant_id, mac_address);
CREATE INDEX network_identities_snapshot_device_id ON network_identities_snapshot (tenant_id, device_id);

CREATE TABLE ssot_parts (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    puk TEXT NOT NULL DEFAULT '',
    sku TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL DEFAULT '',
    unit_cost_cents BIGINT NOT NULL DEFAULT 0,
    spec_json TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_parts_revision ON ssot_parts (tenant_id, revision);
CREATE UNIQUE INDEX ssot_parts_puk_key ON ssot_parts (tenant_id, puk) WHERE deleted_at IS NULL AND puk <> '';
CREATE INDEX ssot_parts_sku ON ssot_parts (tenant_id, sku);

CREATE TABLE parts_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    puk TEXT NOT NULL DEFAULT '',
    sku TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL DEFAULT '',
    unit_cost_cents BIGINT NOT NULL DEFAULT 0,
    spec_json TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX parts_snapshot_puk ON parts_snapshot (tenant_id, puk);
CREATE INDEX parts_snapshot_sku ON parts_snapshot (tenant_id, sku);

CREATE TABLE ssot_part_compatibility (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    part_id TEXT NOT NULL DEFAULT '',
    device_model_id TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_part_compatibility_revision ON ssot_part_compatibility (tenant_id, revision);
CREATE UNIQUE INDEX ssot_part_compatibility_part_id_device_model_id_key ON ssot_part_compatibility (tenant_id, part_id, device_model_id) WHERE deleted_at IS NULL AND part_id <> '' AND device_model_id <> '';
CREATE INDEX ssot_part_compatibility_part_id ON ssot_part_compatibility (tenant_id, part_id);
CREATE INDEX ssot_part_compatibility_device_model_id ON ssot_part_compatibility (tenant_id, device_model_id);

CREATE TABLE part_compatibility_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    part_id TEXT NOT NULL DEFAULT '',
    device_model_id TEXT NOT NULL DEFAULT '',
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX part_compatibility_snapshot_part_id ON part_compatibility_snapshot (tenant_id, part_id);
CREATE INDEX part_compatibility_snapshot_device_model_id ON part_compatibility_snapshot (tenant_id, device_model_id);

CREATE TABLE ssot_vendor_skus (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    part_id TEXT NOT NULL DEFAULT '',
    vendor_id TEXT NOT NULL DEFAULT '',
    sku TEXT NOT NULL DEFAULT '',
    unit_price_cents BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT '',
    lead_time_days BIGINT NOT NULL DEFAULT 0,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX ssot_vendor_skus_revision ON ssot_vendor_skus (tenant_id, revision);
CREATE UNIQUE INDEX ssot_vendor_skus_vendor_id_sku_key ON ssot_vendor_skus (tenant_id, vendor_id, sku) WHERE deleted_at IS NULL AND vendor_id <> '' AND sku <> '';
CREATE INDEX ssot_vendor_skus_part_id ON ssot_vendor_skus (tenant_id, part_id);

CREATE TABLE vendor_skus_snapshot (
    id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    part_id TEXT NOT NULL DEFAULT '',
    vendor_id TEXT NOT NULL DEFAULT '',
    sku TEXT NOT NULL DEFAULT '',
    unit_price_cents BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT '',
    lead_time_days BIGINT NOT NULL DEFAULT 0,
    revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX vendor_skus_snapshot_part_id ON vendor_skus_snapshot (tenant_id, part_id);

-- The next revision per (tenant, kind). Taking it locks the row until
-- commit, so revisions become visible in order and a change-feed reader
-- never skips a row that commits late.
CREATE TABLE ssot_revisions (
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    revision BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

-- Written in the same transaction as the change: revisions from..to of one
-- kind changed and must be published to JetStream. Deleted once acked.
CREATE TABLE ssot_outbox (
    id BIGSERIAL PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_revision BIGINT NOT NULL,
    to_revision BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);

-- IMS's checkpoint per tenant and resource: the change-feed revision up to
-- which its snapshot is known complete.
CREATE TABLE ssot_sync_state (
    tenant_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    last_revision BIGINT NOT NULL DEFAULT 0,
    last_sync_at TIMESTAMPTZ,
    last_error TEXT NOT NULL DEFAULT '',
    rows_applied BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, resource)
);
