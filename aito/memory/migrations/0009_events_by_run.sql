-- A run's events (its tool calls, `aito agent tools RUN_ID`) without scanning them all.
CREATE INDEX events_run_time ON events (run_id, created_at) WHERE run_id IS NOT NULL;
