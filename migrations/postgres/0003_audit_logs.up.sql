-- Audit trail: one row per mutation, written in the same transaction as the
-- change. A sealer then links rows into a hash chain per tenant (seq,
-- prev_hash, hash; NULL until sealed, normally within a second) so a
-- modified or deleted row is detectable (`essp audit verify`). Sealing after
-- the fact keeps writers of one tenant from queueing on the chain head.
CREATE TABLE audit_logs (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    seq          BIGINT,
    school_id    TEXT NOT NULL DEFAULT '',
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    -- Exact JSON text as hashed (JSONB would re-serialise it).
    before_state TEXT,
    after_state  TEXT,
    request_id   TEXT NOT NULL DEFAULT '',
    ip_address   TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMPTZ NOT NULL,
    prev_hash    TEXT,
    hash         TEXT,
    UNIQUE (tenant_id, seq)
);
CREATE INDEX audit_logs_entity_idx ON audit_logs (tenant_id, entity_type, entity_id);
CREATE INDEX audit_logs_actor_idx ON audit_logs (tenant_id, actor);
CREATE INDEX audit_logs_created_idx ON audit_logs (tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_logs_unsealed_idx ON audit_logs (tenant_id, created_at, id) WHERE seq IS NULL;

-- The head of each tenant's chain, advanced by the sealer.
CREATE TABLE audit_chain_heads (
    tenant_id TEXT PRIMARY KEY,
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL
);
