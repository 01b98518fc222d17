DROP TABLE IF EXISTS boq_items;
DROP TABLE IF EXISTS survey_photos;
DROP TABLE IF EXISTS survey_rooms;
DROP TABLE IF EXISTS site_surveys;
