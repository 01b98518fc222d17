-- Projects, their phases and checklists, site surveys and bills of
-- quantities replicate to the school's edge (docs/sync.md): every
-- replicated row names its tenant and school, so the children that named
-- only their parent get both, copied from it. The defaults keep a binary of
-- the previous release (which does not set them) writing (expand/contract).
ALTER TABLE phase_checklist_items ADD COLUMN school_id TEXT NOT NULL DEFAULT '';
UPDATE phase_checklist_items i SET school_id = p.school_id FROM phases p WHERE p.id = i.phase_id;

ALTER TABLE survey_rooms ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE survey_rooms ADD COLUMN school_id TEXT NOT NULL DEFAULT '';
UPDATE survey_rooms r SET tenant_id = s.tenant_id, school_id = s.school_id FROM site_surveys s WHERE s.id = r.survey_id;

ALTER TABLE survey_photos ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE survey_photos ADD COLUMN school_id TEXT NOT NULL DEFAULT '';
UPDATE survey_photos p SET tenant_id = s.tenant_id, school_id = s.school_id FROM site_surveys s WHERE s.id = p.survey_id;

-- An edge also queues the contents of attachments uploaded centrally, which
-- it fetches from central ('down'); its own go up ('up').
ALTER TABLE sync_blob_queue ADD COLUMN direction TEXT NOT NULL DEFAULT 'up';
