CREATE INDEX audit_logs_entity_idx ON audit_logs (tenant_id, entity_type, entity_id);
CREATE INDEX audit_logs_actor_idx ON audit_logs (tenant_id, actor);
DROP INDEX audit_logs_actor_created_idx;
DROP INDEX audit_logs_action_created_idx;
DROP INDEX audit_logs_type_created_idx;
DROP INDEX audit_logs_entity_created_idx;
