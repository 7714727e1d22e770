-- Memory: which model embedded each history row, provenance, and filter-friendly indexes.
ALTER TABLE agent_history ADD COLUMN embedding_model TEXT;
ALTER TABLE agent_history ADD COLUMN pr_number INTEGER;
CREATE INDEX agent_history_agent_type_time ON agent_history (agent_id, action_type, created_at DESC);
CREATE INDEX agent_history_unembedded ON agent_history (created_at) WHERE embedding IS NULL;
CREATE INDEX model_usage_run ON model_usage (run_id);
