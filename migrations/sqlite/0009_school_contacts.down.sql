DROP TABLE IF EXISTS school_contacts;
