-- call_id is compared as an exact decimal in the application: a float column
-- would round long fractions and let a replayed call through.
ALTER TABLE sessions ALTER COLUMN last_call_id TYPE TEXT USING NULL;
