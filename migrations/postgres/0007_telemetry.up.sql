-- One row per (tenant, school, device, event type): the incident that
-- telemetry of that kind last opened. Locking this row serialises
-- concurrent events of one kind, so a burst opens one incident.
CREATE TABLE telemetry_dedupe (
    tenant_id           TEXT NOT NULL,
    school_id           TEXT NOT NULL,
    device_id           TEXT NOT NULL,
    event_type          TEXT NOT NULL,
    incident_id         TEXT NOT NULL DEFAULT '',
    incident_opened_at  TIMESTAMPTZ,
    events              BIGINT NOT NULL DEFAULT 0,
    last_event_at       TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, school_id, device_id, event_type)
);
