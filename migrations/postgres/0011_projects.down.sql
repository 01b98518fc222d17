DROP TABLE IF EXISTS phase_checklist_items;
DROP TABLE IF EXISTS checklist_templates;
DROP TABLE IF EXISTS phases;
DROP TABLE IF EXISTS projects;
