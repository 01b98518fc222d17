ALTER TABLE sync_blob_queue DROP COLUMN direction;
ALTER TABLE survey_photos DROP COLUMN school_id;
ALTER TABLE survey_photos DROP COLUMN tenant_id;
ALTER TABLE survey_rooms DROP COLUMN school_id;
ALTER TABLE survey_rooms DROP COLUMN tenant_id;
ALTER TABLE phase_checklist_items DROP COLUMN school_id;
