-- Each wake-up looks for the agent's earlier runs that died unfinished (to resume or
-- settle them) without scanning the agent's whole run history.
CREATE INDEX agent_runs_unfinished ON agent_runs (agent_id, started_at) WHERE status = 'running';
