-- The seed's tables, keyed by the org's own agent ids (text), plus model usage.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE agents (
    id                 TEXT PRIMARY KEY,
    type               TEXT NOT NULL,
    layer              TEXT NOT NULL,
    name               TEXT NOT NULL,
    department         TEXT NOT NULL,
    profile_path       TEXT NOT NULL,
    reports_to         TEXT,
    loop_schedule      TEXT,
    loop_interval      INTEGER,            -- seconds; NULL for cron schedules and workers
    model              TEXT NOT NULL,
    git_repo           TEXT NOT NULL,
    git_branch         TEXT NOT NULL,
    git_paths          TEXT[] NOT NULL,
    git_permissions    TEXT[] NOT NULL,
    budget_daily_usd   NUMERIC(12, 4) NOT NULL,
    budget_monthly_usd NUMERIC(12, 4) NOT NULL,
    definition         JSONB NOT NULL,     -- the whole org/agents/<id>.yaml
    definition_hash    TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'inactive'
        CHECK (status IN ('inactive', 'starting', 'active', 'stopping', 'error', 'retired')),
    container_id       TEXT,
    last_heartbeat     TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE agent_state (
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    state_key   TEXT NOT NULL,
    state_value JSONB,
    version     BIGINT NOT NULL DEFAULT 1,  -- optimistic concurrency
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, state_key)
);

CREATE TABLE agent_history (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    run_id      TEXT,
    action_type TEXT NOT NULL,  -- decision, task, communication, error, …
    summary     TEXT NOT NULL,
    details     JSONB NOT NULL DEFAULT '{}'::jsonb,
    embedding   VECTOR(384),    -- the default embedder's dimension; changing it is a migration
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX agent_history_agent_time ON agent_history (agent_id, created_at DESC);
CREATE INDEX agent_history_embedding ON agent_history USING hnsw (embedding vector_cosine_ops);

CREATE TABLE decisions (
    id             TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    proposed_by    TEXT NOT NULL,
    tier           TEXT NOT NULL CHECK (tier IN ('operational', 'minor', 'major', 'critical')),
    status         TEXT NOT NULL DEFAULT 'pending',
    veto_round     INTEGER NOT NULL DEFAULT 0,
    ceo_vote       TEXT,
    dao_vote       TEXT,
    c_level_votes  JSONB NOT NULL DEFAULT '{}'::jsonb,
    rounds         JSONB NOT NULL DEFAULT '[]'::jsonb,
    human_decision TEXT,
    decided_by     TEXT,
    pr_number      INTEGER,
    pr_url         TEXT,
    due            TIMESTAMPTZ,
    resolved_at    TIMESTAMPTZ,
    record         JSONB NOT NULL,  -- the YAML record as last synced (the repo wins)
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    assigned_to  TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    priority     INTEGER NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    due_date     TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    result       JSONB,
    decision_id  TEXT,
    pr_number    INTEGER,
    record       JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX tasks_assignee_status ON tasks (assigned_to, status, priority, due_date);

-- The audit log: append-only. Agents may be removed from org/, so no foreign keys here.
CREATE TABLE events (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type   TEXT NOT NULL,
    source_agent TEXT,
    target_agent TEXT,
    run_id       TEXT,
    decision_id  TEXT,
    payload      JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX events_time ON events (created_at);
CREATE INDEX events_type_time ON events (event_type, created_at);

CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is an append-only audit log: % is not allowed', TG_OP;
END;
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

CREATE TABLE model_usage (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id           TEXT NOT NULL,
    run_id             TEXT,
    model              TEXT NOT NULL,
    input_tokens       INTEGER NOT NULL DEFAULT 0,
    output_tokens      INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens  INTEGER NOT NULL DEFAULT 0,
    cost_usd           NUMERIC(14, 6) NOT NULL DEFAULT 0,
    latency_ms         INTEGER,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX model_usage_agent_time ON model_usage (agent_id, created_at);
