-- Audit-log lists filter by entity (type, id), action or actor and return
-- the newest first (keyset on created_at, id). With only (tenant_id,
-- entity_type, entity_id) and (tenant_id, actor) to go on, such a list
-- read and sorted every matching row of the tenant, or walked the whole
-- tenant by time looking for matches (at 100,000 rows, `?entityType=incident`
-- or `?action=consume` took most of a second). These indexes hand out the
-- page in order from its first row. The entity and actor indexes replace
-- the older ones they extend.
CREATE INDEX audit_logs_entity_created_idx ON audit_logs (tenant_id, entity_type, entity_id, created_at DESC, id DESC);
CREATE INDEX audit_logs_type_created_idx ON audit_logs (tenant_id, entity_type, created_at DESC, id DESC);
CREATE INDEX audit_logs_action_created_idx ON audit_logs (tenant_id, action, created_at DESC, id DESC);
CREATE INDEX audit_logs_actor_created_idx ON audit_logs (tenant_id, actor, created_at DESC, id DESC);
DROP INDEX audit_logs_entity_idx;
DROP INDEX audit_logs_actor_idx;
