-- A run started in a container (AITO_RUNTIME=docker, or a sandboxed worker) keeps how the
-- container ended: its name, image, limits, exit status and code, and the end of its logs.
ALTER TABLE agent_runs ADD COLUMN container jsonb;
