-- Verdicts as the governance tally last judged them, so an agent's wake-up reads them
-- instead of tallying every open decision again; one row per decision pull request.
CREATE TABLE decision_verdicts (
    pr           INTEGER PRIMARY KEY,
    decision_id  TEXT NOT NULL,
    head_sha     TEXT NOT NULL,   -- the head the verdict judged (a newer push makes it stale)
    status       TEXT NOT NULL,
    verdict      JSONB NOT NULL,  -- stage, round, votes, missing, deadline, head, record facts
    tallied_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX decision_verdicts_decision ON decision_verdicts (decision_id);

-- A model call is accounted once: its row is keyed by (run, exchange index), so a run
-- that recovers after a crash writes the usage its saved exchanges hold without a double.
ALTER TABLE model_usage ADD COLUMN exchange INTEGER;
CREATE UNIQUE INDEX model_usage_run_exchange ON model_usage (run_id, exchange)
    WHERE run_id IS NOT NULL AND exchange IS NOT NULL;

-- History is written as each action settles and embedded at the end of the run: find a
-- run's rows still waiting for their embedding without scanning the table.
CREATE INDEX agent_history_run_unembedded ON agent_history (run_id) WHERE embedding IS NULL;
