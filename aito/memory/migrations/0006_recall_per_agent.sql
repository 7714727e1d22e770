-- Recall per agent (aito/memory/postgres/history.py). Every recall is for one agent, so
-- the one HNSW index over everyone's rows is replaced: an agent with 1,000 embedded
-- rows or more gets a partial HNSW index of its own (named agent_history_recall_ and
-- the first 16 hex digits of md5(agent id)), one with fewer is searched exactly. Later
-- agents get theirs from the write that takes them over the threshold (built
-- concurrently); this builds those already there.
DROP INDEX IF EXISTS agent_history_embedding;
DO $$
DECLARE
    agent TEXT;
    due TEXT[] := ARRAY(  -- read first: no index is built while the table is being read
        SELECT agent_id FROM agent_history WHERE embedding IS NOT NULL
        GROUP BY agent_id HAVING count(*) >= 1000 ORDER BY agent_id
    );
BEGIN
    FOREACH agent IN ARRAY due LOOP
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS %I ON agent_history USING hnsw '
            '((embedding::halfvec(384)) halfvec_cosine_ops) WHERE agent_id = %L',
            'agent_history_recall_' || left(md5(agent), 16),
            agent
        );
    END LOOP;
    ANALYZE agent_history;
END
$$;
