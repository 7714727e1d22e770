-- The agent loop: runs (with their model recordings), each action's fate, what
-- comes back to an agent next time, its inbox, and the open items the dedup gate checks.
CREATE TABLE agent_runs (
    run_id       TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents (id),
    trigger      TEXT NOT NULL,
    status       TEXT NOT NULL,      -- running, skipped, completed, failed, budget_exhausted, stopped
    fingerprint  TEXT,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    summary      TEXT,
    error        TEXT,
    provider     TEXT,
    model        TEXT,
    usage        JSONB NOT NULL DEFAULT '{}'::jsonb,
    cost_usd     NUMERIC(12, 6) NOT NULL DEFAULT 0,
    exchanges    JSONB NOT NULL DEFAULT '[]'::jsonb,
    actions      JSONB
);
CREATE INDEX agent_runs_agent_time ON agent_runs (agent_id, started_at DESC);

CREATE TABLE agent_actions (
    run_id        TEXT NOT NULL REFERENCES agent_runs (run_id),
    position      INTEGER NOT NULL,
    agent_id      TEXT NOT NULL,
    action_type   TEXT NOT NULL,
    action        JSONB NOT NULL,
    content_hash  TEXT NOT NULL,
    status        TEXT NOT NULL,     -- started, executed, refused, failed
    reason        TEXT,
    ref           TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX agent_actions_agent_hash ON agent_actions (agent_id, content_hash, created_at DESC);

CREATE TABLE agent_outcomes (
    id           BIGSERIAL PRIMARY KEY,
    agent_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    ref          TEXT,
    summary      TEXT NOT NULL,
    details      JSONB NOT NULL DEFAULT '{}'::jsonb,
    dedupe_key   TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    seen_in_run  TEXT
);
CREATE INDEX agent_outcomes_unseen ON agent_outcomes (agent_id, id) WHERE seen_in_run IS NULL;

CREATE TABLE agent_inbox (
    agent_id     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    message      JSONB NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    handled_in_run TEXT,
    PRIMARY KEY (agent_id, message_id)
);
CREATE INDEX agent_inbox_unhandled ON agent_inbox (agent_id, received_at) WHERE handled_in_run IS NULL;

CREATE TABLE open_items (
    kind          TEXT NOT NULL,     -- pr, decision, task, initiative, human_action, schedule
    ref           TEXT NOT NULL,
    agent_id      TEXT NOT NULL,
    title         TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    embedding     vector(384),
    state         TEXT NOT NULL DEFAULT 'open',
    details       JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at    TIMESTAMPTZ NOT NULL,
    closed_at     TIMESTAMPTZ,
    PRIMARY KEY (kind, ref)
);
CREATE INDEX open_items_hash ON open_items (content_hash) WHERE state = 'open';
