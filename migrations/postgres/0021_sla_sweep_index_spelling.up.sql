-- SQLite needed its sweep index respelled to match the query (see the
-- SQLite migration of the same name); Postgres proves `= FALSE` either way,
-- and its index is already spelled so. Kept as a version for parity.
SELECT 1;
