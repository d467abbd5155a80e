-- call_id is compared as an exact decimal in the application: a REAL column
-- would round long fractions and let a replayed call through.
ALTER TABLE sessions DROP COLUMN last_call_id;
ALTER TABLE sessions ADD COLUMN last_call_id TEXT;
