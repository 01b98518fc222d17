DROP TABLE IF EXISTS audit_chain_heads;
DROP TABLE IF EXISTS audit_logs;
