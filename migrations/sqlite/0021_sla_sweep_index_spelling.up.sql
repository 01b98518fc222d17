-- The breach sweep asks for `sla_breached = FALSE`; SQLite only uses a
-- partial index whose WHERE the query's terms match as written, and 0001
-- spelled it `= 0`. The sweep then scanned and sorted every incident once a
-- minute (inside the writer's transaction: ~1 s at 125,000 incidents, a
-- stall for every request meanwhile). Same index, the query's spelling.
DROP INDEX incidents_sla_sweep_idx;
CREATE INDEX incidents_sla_sweep_idx ON incidents (sla_due_at) WHERE sla_breached = FALSE AND status NOT IN ('resolved', 'closed');
