-- Model spend per UTC day, agent, model and simulated-or-not, summed once a day is over
-- (aito/memory/postgres/usage.py rolls a day up the first time a reader asks for it), so
-- the cost charts and the budget gauges read a row per agent and day instead of every
-- model call of the month. A day is rolled up at most once until something changes
-- under it: a model_usage row written, changed or deleted on that day, or a run's
-- provider turning simulated (offline, replay) or not, forgets that day's rollup, and
-- the next reader rolls it up again.
CREATE TABLE model_usage_days (
    day                DATE NOT NULL,
    agent_id           TEXT NOT NULL,
    model              TEXT NOT NULL,
    simulated          BOOLEAN NOT NULL,
    calls              BIGINT NOT NULL,
    input_tokens       BIGINT NOT NULL,
    output_tokens      BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cache_read_tokens  BIGINT NOT NULL,
    cost_usd           NUMERIC NOT NULL,
    latency_p50_ms     DOUBLE PRECISION,
    PRIMARY KEY (day, agent_id, model, simulated)
);

-- The days rolled up (a day without calls has no row above, but is rolled all the same).
CREATE TABLE model_usage_days_rolled (
    day       DATE PRIMARY KEY,
    rolled_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Writers hold a shared advisory lock on the day they touch until they commit; a roll
-- takes it exclusively, so it waits for them and then sees their rows, and a writer
-- that comes during a roll waits for it and then forgets what it rolled. (The lock's
-- first key is 7411, the second the day's number since 2000-01-01.)
CREATE FUNCTION model_usage_days_forget(changed DATE) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(7411, changed - DATE '2000-01-01');
    DELETE FROM model_usage_days_rolled WHERE day = changed;
    DELETE FROM model_usage_days WHERE day = changed;
END;
$$;

CREATE FUNCTION model_usage_days_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM model_usage_days_forget((OLD.created_at AT TIME ZONE 'UTC')::date);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM model_usage_days_forget((NEW.created_at AT TIME ZONE 'UTC')::date);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER model_usage_days_changed AFTER INSERT OR UPDATE OR DELETE ON model_usage
    FOR EACH ROW EXECUTE FUNCTION model_usage_days_changed();

CREATE FUNCTION model_usage_days_run_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed DATE;
BEGIN
    FOR changed IN
        SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date FROM model_usage
        WHERE run_id = OLD.run_id ORDER BY 1
    LOOP
        PERFORM model_usage_days_forget(changed);
    END LOOP;
    RETURN NULL;
END;
$$;
CREATE TRIGGER model_usage_days_provider AFTER UPDATE OF provider ON agent_runs
    FOR EACH ROW
    WHEN (COALESCE(OLD.provider IN ('offline', 'replay'), false)
          IS DISTINCT FROM COALESCE(NEW.provider IN ('offline', 'replay'), false))
    EXECUTE FUNCTION model_usage_days_run_changed();
CREATE TRIGGER model_usage_days_run_deleted AFTER DELETE ON agent_runs
    FOR EACH ROW EXECUTE FUNCTION model_usage_days_run_changed();
