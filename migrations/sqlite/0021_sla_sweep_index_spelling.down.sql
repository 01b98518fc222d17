DROP INDEX incidents_sla_sweep_idx;
CREATE INDEX incidents_sla_sweep_idx ON incidents (sla_due_at) WHERE sla_breached = 0 AND status NOT IN ('resolved', 'closed');
