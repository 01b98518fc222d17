-- `?userId=…&action=…` (what did this person do of this kind) had no index
-- of its own: the planner walked the actor's or the action's index in time
-- order and filtered by the other, which on a large tenant can read most of
-- its audit rows for one page. This index hands out the page directly.
CREATE INDEX audit_logs_actor_action_created_idx ON audit_logs (tenant_id, actor, action, created_at DESC, id DESC);
