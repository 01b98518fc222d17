DROP TABLE IF EXISTS work_order_rework_history;
DROP TABLE IF EXISTS work_orders;
