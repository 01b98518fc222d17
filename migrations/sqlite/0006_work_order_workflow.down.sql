DROP TABLE IF EXISTS work_order_approvals;
DROP TABLE IF EXISTS work_order_deliverables;
DROP TABLE IF EXISTS work_order_schedules;
