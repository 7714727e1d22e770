"""The human inbox's reads: the alerts in the audit log and the decisions waiting for a
maintainer, newest first, each page one query over its partial index (migration 0011)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aito.memory.postgres.connection import Connector, rows

InboxKey = tuple[dt.datetime, str]
"""(created_at, id) of the last row shown."""


class InboxStore(Connector):
    def inbox_alerts_page(
        self, *, after: InboxKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Alerts newest first (agent down, run stopped or out of budget, help asked),
        after ``after``; each with whether its agent recovered since (for an agent down)."""
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT e.id::text AS id, e.event_type, e.source_agent, e.target_agent, "
                    "e.run_id, e.payload, e.created_at, "
                    "(e.event_type = 'agent.error' AND EXISTS (SELECT 1 FROM events r "
                    "WHERE r.event_type = 'agent.recovered' AND r.target_agent = e.target_agent "
                    "AND r.created_at > e.created_at)) AS resolved "
                    # the predicate of the index events_inbox, verbatim
                    "FROM events e WHERE (event_type IN ('agent.error', 'agent.human_action') "
                    "OR (event_type = 'agent.run' "
                    "AND payload->>'status' IN ('budget_exhausted', 'stopped'))) "
                    "AND (%(at)s::timestamptz IS NULL "
                    "OR (created_at, id) < (%(at)s, %(id)s::uuid)) "
                    "ORDER BY created_at DESC, id DESC LIMIT %(n)s",
                    {
                        "at": after[0] if after else None,
                        "id": after[1] if after else None,
                        "n": limit,
                    },
                )
            )

    def waiting_decisions_page(
        self, *, after: InboxKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Decisions a maintainer decides (escalated; critical and pending), newest first,
        with the stage their last tally judged and the head it judged (``verdict`` and
        ``head_sha``: None if never tallied)."""
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT d.id, d.title, d.proposed_by, d.tier, d.status, d.pr_number, "
                    "d.pr_url, d.due, d.created_at, v.verdict, v.head_sha FROM decisions d "
                    "LEFT JOIN LATERAL (SELECT verdict, head_sha FROM decision_verdicts "
                    "WHERE decision_id = d.id ORDER BY tallied_at DESC LIMIT 1) v ON true "
                    # the predicate of the index decisions_waiting, verbatim
                    "WHERE (status = 'escalated' OR (tier = 'critical' AND status = 'pending')) "
                    "AND (%(at)s::timestamptz IS NULL OR (created_at, id) < (%(at)s, %(id)s)) "
                    "ORDER BY created_at DESC, id DESC LIMIT %(n)s",
                    {
                        "at": after[0] if after else None,
                        "id": after[1] if after else None,
                        "n": limit,
                    },
                )
            )
