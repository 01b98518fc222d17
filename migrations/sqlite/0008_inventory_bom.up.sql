-- Stock per shop and part, every movement in a ledger, and the parts each
-- work order plans, reserves and consumes (its bill of materials).
-- The CHECKs make overselling impossible even for a buggy caller.
CREATE TABLE inventory (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    service_shop_id   TEXT NOT NULL REFERENCES service_shops (id),
    part_id           TEXT NOT NULL,
    qty_available     INTEGER NOT NULL CHECK (qty_available >= 0),
    qty_reserved      INTEGER NOT NULL DEFAULT 0 CHECK (qty_reserved >= 0 AND qty_reserved <= qty_available),
    reorder_threshold INTEGER NOT NULL DEFAULT 0 CHECK (reorder_threshold >= 0),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, service_shop_id, part_id)
);
CREATE INDEX inventory_tenant_created_idx ON inventory (tenant_id, created_at DESC, id DESC);

CREATE TABLE inventory_ledger (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    service_shop_id   TEXT NOT NULL,
    part_id           TEXT NOT NULL,
    movement          TEXT NOT NULL CHECK (movement IN ('adjust', 'reserve', 'release', 'consume')),
    qty               INTEGER NOT NULL,
    available_after   INTEGER NOT NULL,
    reserved_after    INTEGER NOT NULL,
    work_order_id     TEXT NOT NULL DEFAULT '',
    bom_item_id       TEXT NOT NULL DEFAULT '',
    actor             TEXT NOT NULL,
    created_at        TEXT NOT NULL
);
CREATE INDEX inventory_ledger_item_idx ON inventory_ledger (tenant_id, service_shop_id, part_id, created_at DESC, id DESC);

CREATE TABLE work_order_parts (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL,
    school_id              TEXT NOT NULL,
    work_order_id          TEXT NOT NULL REFERENCES work_orders (id) ON DELETE CASCADE,
    service_shop_id        TEXT NOT NULL,
    part_id                TEXT NOT NULL,
    qty_planned            INTEGER NOT NULL CHECK (qty_planned >= 0),
    qty_used               INTEGER NOT NULL DEFAULT 0 CHECK (qty_used >= 0 AND qty_used <= qty_planned),
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    version                INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX work_order_parts_wo_idx ON work_order_parts (tenant_id, school_id, work_order_id, created_at DESC, id DESC);
