-- A visit may not end before it starts, but may end when it starts (a
-- drop-off or pick-up is a point in time): end >= start.
ALTER TABLE work_order_schedules DROP CONSTRAINT work_order_schedules_check;
ALTER TABLE work_order_schedules ADD CONSTRAINT work_order_schedules_check CHECK (scheduled_end >= scheduled_start);
