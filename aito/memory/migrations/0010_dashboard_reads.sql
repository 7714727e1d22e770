-- What the dashboard and the CLI's listings page through, newest first, by keyset
-- (each page starts after the last row of the one before; no OFFSET, no full scan).
CREATE INDEX agent_runs_time ON agent_runs (started_at DESC, run_id DESC);
CREATE INDEX events_time_id ON events (created_at DESC, id DESC);
CREATE INDEX events_type_time_id ON events (event_type, created_at DESC, id DESC);
CREATE INDEX events_source_time_id ON events (source_agent, created_at DESC, id DESC)
    WHERE source_agent IS NOT NULL;
CREATE INDEX decisions_time ON decisions (created_at DESC, id DESC);
CREATE INDEX decisions_status_time ON decisions (status, created_at DESC, id DESC);
CREATE INDEX tasks_status_priority ON tasks (status, priority, id);
CREATE INDEX model_usage_time ON model_usage (created_at);
