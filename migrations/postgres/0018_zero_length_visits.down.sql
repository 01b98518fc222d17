DELETE FROM work_order_schedules WHERE scheduled_end = scheduled_start;
ALTER TABLE work_order_schedules DROP CONSTRAINT work_order_schedules_check;
ALTER TABLE work_order_schedules ADD CONSTRAINT work_order_schedules_check CHECK (scheduled_end > scheduled_start);
