-- Facts about this installation, as key/value pairs. `sync_epoch` is minted
-- at first start and again by every `essp restore`: sync refuses history
-- from an older epoch (a restored backup or a cloned box re-enrolls).
CREATE TABLE node_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
