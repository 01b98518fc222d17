DROP TABLE IF EXISTS service_staff;
DROP TABLE IF EXISTS service_shops;
