-- The dashboard's inbox (what needs a human), newest first by keyset over partial indexes:
-- the audit log's alerts (an agent down past its restart budget, a run stopped as a loop
-- or by an exhausted budget, an agent asking the maintainers) and the decisions waiting
-- for a maintainer (escalated, or critical and still pending).
CREATE INDEX events_inbox ON events (created_at DESC, id DESC)
    WHERE event_type IN ('agent.error', 'agent.human_action')
       OR (event_type = 'agent.run' AND payload->>'status' IN ('budget_exhausted', 'stopped'));
CREATE INDEX decisions_waiting ON decisions (created_at DESC, id DESC)
    WHERE status = 'escalated' OR (tier = 'critical' AND status = 'pending');
