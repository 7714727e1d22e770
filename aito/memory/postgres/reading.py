"""Pages for people: runs, events, decisions and tasks, newest first, by keyset.

Each page is one indexed query (migration 0010): it starts strictly after the last row
of the page before (its ``after`` key) and reads ``limit`` rows, so paging through a
long history never scans what was already shown and never uses OFFSET. A statement
names only the filters given (no ``$1 IS NULL OR ...``): psycopg prepares a statement
used often, and Postgres may then plan it once for any parameters, where a catch-all
condition cannot use an index and a rare filter would walk the whole table.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aito.memory.postgres.connection import Connector, rows

RunKey = tuple[dt.datetime, str]
"""Where a page of runs resumes: (started_at, run_id) of the last row shown."""
EventKey = tuple[dt.datetime, str]
"""(created_at, id) of the last event shown."""
DecisionKey = tuple[dt.datetime, str]
"""(created_at, id) of the last decision shown."""
TaskKey = tuple[int, str]
"""(priority, id) of the last task shown."""


class ReadStore(Connector):
    def live_agents(self) -> list[dict[str, Any]]:
        """Every registered agent's status and last heartbeat (one row per agent)."""
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT id, status, last_heartbeat FROM agents "
                    "WHERE status <> 'retired' ORDER BY id"
                )
            )

    def running_runs(self) -> list[dict[str, Any]]:
        """Runs in progress (the partial index of unfinished runs), oldest first."""
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT run_id, agent_id, trigger, started_at FROM agent_runs "
                    "WHERE status = 'running' ORDER BY started_at, run_id"
                )
            )

    def runs_page(
        self, *, agent_id: str | None = None, after: RunKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Runs newest first, of one agent when given, after ``after``."""
        where = _where(
            ("agent_id = %(a)s", agent_id is not None),
            ("(started_at, run_id) < (%(t)s, %(r)s)", after is not None),
        )
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT run_id, agent_id, trigger, status, started_at, finished_at, summary, "  # noqa: S608 - _where
                    f"error, provider, model, usage, cost_usd FROM agent_runs {where}"
                    "ORDER BY started_at DESC, run_id DESC LIMIT %(n)s",
                    {
                        "a": agent_id,
                        "t": after[0] if after else None,
                        "r": after[1] if after else None,
                        "n": limit,
                    },
                )
            )

    def events_page(
        self,
        *,
        event_type: str | None = None,
        agent_id: str | None = None,
        after: EventKey | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """The audit log newest first, of one type and/or by one agent, after ``after``."""
        where = _where(
            ("event_type = %(t)s", event_type is not None),
            ("source_agent = %(a)s", agent_id is not None),
            ("(created_at, id) < (%(at)s, %(id)s::uuid)", after is not None),
        )
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT id::text AS id, event_type, source_agent, target_agent, run_id, "  # noqa: S608 - _where
                    f"decision_id, payload, created_at FROM events {where}"
                    # events.id: the uuid (the index's order), not the text column above
                    "ORDER BY created_at DESC, events.id DESC LIMIT %(n)s",
                    {
                        "t": event_type,
                        "a": agent_id,
                        "at": after[0] if after else None,
                        "id": after[1] if after else None,
                        "n": limit,
                    },
                )
            )

    def decisions_page(
        self, *, status: str | None = None, after: DecisionKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Mirrored decisions newest first, of one status when given, after ``after``."""
        where = _where(
            ("status = %(s)s", status is not None),
            ("(created_at, id) < (%(at)s, %(id)s)", after is not None),
        )
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT id, title, proposed_by, tier, status, veto_round, ceo_vote, dao_vote, "  # noqa: S608 - _where
                    "c_level_votes, human_decision, decided_by, pr_number, pr_url, due, "
                    f"resolved_at, created_at FROM decisions {where}"
                    "ORDER BY created_at DESC, id DESC LIMIT %(n)s",
                    {
                        "s": status,
                        "at": after[0] if after else None,
                        "id": after[1] if after else None,
                        "n": limit,
                    },
                )
            )

    def tasks_page(
        self, *, status: str, after: TaskKey | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Tasks of one status, most urgent first (priority, then id), after ``after``."""
        where = _where(
            ("status = %(s)s", True),
            ("(priority, id) > (%(p)s, %(id)s)", after is not None),
        )
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT id, title, assigned_to, created_by, status, priority, due_date, "  # noqa: S608 - _where
                    f"decision_id, pr_number FROM tasks {where}"
                    "ORDER BY priority, id LIMIT %(n)s",
                    {
                        "s": status,
                        "p": after[0] if after else None,
                        "id": after[1] if after else None,
                        "n": limit,
                    },
                )
            )

    def status_counts(self, table: str) -> dict[str, int]:
        """How many decisions or tasks there are of each status (their status index)."""
        query = {
            "decisions": "SELECT status, count(*) FROM decisions GROUP BY status",
            "tasks": "SELECT status, count(*) FROM tasks GROUP BY status",
        }[table]
        with self._connect() as conn:
            found = conn.execute(query).fetchall()
        return {str(status): int(count) for status, count in found}


def _where(*conditions: tuple[str, bool]) -> str:
    """``WHERE`` and the conditions that apply (fixed texts of this module, never input),
    followed by a space; empty when none does."""
    chosen = [text for text, applies in conditions if applies]
    return f"WHERE {' AND '.join(chosen)} " if chosen else ""
