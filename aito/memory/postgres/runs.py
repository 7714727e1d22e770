"""The agent loop's records: runs, actions, outcomes, inbox and open items.

A run row is written when a wake-up starts (``running``) and finished once; the
model exchanges are saved before any action executes, so a crashed run is resumed
from its recording rather than asking the model again. Each action has one row per
(run, position): ``started`` before it touches the world, then ``executed``,
``refused`` or ``failed`` — a resumed run skips what is already settled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from aito.memory import base
from aito.memory.postgres.connection import Connection, Connector, jsonb, rows, storable

TERMINAL = base.TERMINAL_RUN_STATUSES
ANSWER_PATIENCE_SECONDS = 120.0
"""How long saving a model's answer waits for Postgres to come back (a restart, a failover)."""


class RunStore(Connector):
    # -- runs -------------------------------------------------------------------------

    def begin_run(
        self, *, run_id: str, agent_id: str, trigger: str, at: dt.datetime
    ) -> dict[str, Any] | None:
        """Start a run; returns the existing row instead when this run id was seen before."""
        with self._connect() as conn, conn.transaction():
            inserted = conn.execute(
                "INSERT INTO agent_runs (run_id, agent_id, trigger, status, started_at) "
                "VALUES (%s, %s, %s, 'running', %s) ON CONFLICT (run_id) DO NOTHING "
                "RETURNING run_id",
                (run_id, agent_id, trigger, at),
            ).fetchone()
            if inserted:
                return None
            return rows(conn.execute("SELECT * FROM agent_runs WHERE run_id = %s", (run_id,)))[0]

    def run_record(self, run_id: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            found = rows(conn.execute("SELECT * FROM agent_runs WHERE run_id = %s", (run_id,)))
        return found[0] if found else None

    def runs(self, *, agent_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT run_id, agent_id, trigger, status, started_at, finished_at, summary, "
                    "error, provider, model, usage, cost_usd FROM agent_runs "
                    "WHERE %(a)s::text IS NULL OR agent_id = %(a)s "
                    "ORDER BY started_at DESC, run_id DESC LIMIT %(n)s",
                    {"a": agent_id, "n": limit},
                )
            )

    def run_counts(self) -> dict[tuple[str, str], int]:
        """How many runs each agent has had, by status (the metrics' runs by outcome)."""
        with self._connect() as conn:
            found = conn.execute(
                "SELECT agent_id, status, count(*) FROM agent_runs GROUP BY agent_id, status"
            ).fetchall()
        return {(str(agent), str(status)): int(count) for agent, status, count in found}

    def unfinished_runs(self, agent_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """The agent's runs still ``running``, oldest first: ``run_id``, ``trigger`` and
        ``asked`` (whether it saved a model exchange)."""
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT run_id, trigger, jsonb_array_length(exchanges) > 0 AS asked "
                    "FROM agent_runs WHERE agent_id = %s AND status = 'running' "
                    "ORDER BY started_at, run_id LIMIT %s",
                    (agent_id, limit),
                )
            )

    def last_fingerprint(self, agent_id: str) -> str | None:
        """The fingerprint of the agent's last run that looked at its world."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT fingerprint FROM agent_runs WHERE agent_id = %s AND fingerprint IS NOT "
                "NULL AND status IN ('completed', 'skipped') ORDER BY started_at DESC, "
                "finished_at DESC NULLS LAST LIMIT 1",
                (agent_id,),
            ).fetchone()
        return str(row[0]) if row else None

    def save_exchanges(self, run_id: str, *, exchanges: list[dict[str, Any]]) -> None:
        """The model exchanges so far, saved as each answer arrives (the run's usage
        survives in them). An overwrite, retried while Postgres is away for up to
        :data:`ANSWER_PATIENCE_SECONDS`: an answer already paid for is worth the wait."""

        def save(conn: Connection) -> None:
            with conn.transaction():
                conn.execute(
                    "UPDATE agent_runs SET exchanges = %s WHERE run_id = %s",
                    (jsonb(exchanges), run_id),
                )

        self._run(save, patience=ANSWER_PATIENCE_SECONDS)

    def save_plan(self, run_id: str, *, actions: list[dict[str, Any]]) -> None:
        """The validated actions (the exchanges they came from are saved already, by
        :meth:`save_exchanges` as each arrived)."""

        def save(conn: Connection) -> None:
            with conn.transaction():
                conn.execute(
                    "UPDATE agent_runs SET actions = %s WHERE run_id = %s",
                    (jsonb(actions), run_id),
                )

        self._run(save)

    def record_container(self, run_id: str, *, container: dict[str, Any]) -> None:
        """How the run's container ended (retried while Postgres is away: an overwrite)."""

        def record(conn: Connection) -> None:
            with conn.transaction():
                conn.execute(
                    "UPDATE agent_runs SET container = %s WHERE run_id = %s",
                    (jsonb(container), run_id),
                )

        self._run(record)

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        at: dt.datetime,
        fingerprint: str | None = None,
        summary: str | None = None,
        error: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        usage: dict[str, Any] | None = None,
        cost_usd: float = 0.0,
    ) -> None:
        """Settle the run (retried while Postgres is away: an overwrite)."""

        def finish(conn: Connection) -> None:
            with conn.transaction():
                conn.execute(
                    "UPDATE agent_runs SET status = %s, finished_at = %s, fingerprint = %s, "
                    "summary = %s, error = %s, provider = %s, model = %s, usage = %s, "
                    "cost_usd = %s WHERE run_id = %s",
                    (
                        status,
                        at,
                        fingerprint,
                        storable(summary),
                        storable(error),
                        provider,
                        model,
                        jsonb(usage or {}),
                        cost_usd,
                        run_id,
                    ),
                )

        self._run(finish)

    # -- actions ----------------------------------------------------------------------

    def actions_of(self, run_id: str) -> dict[int, dict[str, Any]]:
        with self._connect() as conn:
            found = rows(
                conn.execute(
                    "SELECT * FROM agent_actions WHERE run_id = %s ORDER BY position", (run_id,)
                )
            )
        return {int(row["position"]): row for row in found}

    def mark_action(
        self,
        *,
        run_id: str,
        position: int,
        agent_id: str,
        action: dict[str, Any],
        content_hash: str,
        status: str,
        at: dt.datetime,
        reason: str | None = None,
        ref: str | None = None,
    ) -> None:
        """Insert or move an action's row (started → executed | refused | failed).

        Retried while Postgres is away: the same move again changes nothing."""

        def mark(conn: Connection) -> None:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO agent_actions (run_id, position, agent_id, action_type, action, "
                    "content_hash, status, reason, ref, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (run_id, position) DO UPDATE SET status = EXCLUDED.status, "
                    "reason = EXCLUDED.reason, ref = EXCLUDED.ref",
                    (
                        run_id,
                        position,
                        agent_id,
                        action["type"],
                        jsonb(action),
                        content_hash,
                        status,
                        storable(reason),
                        storable(ref),
                        at,
                    ),
                )

        self._run(mark)

    def repeats(self, agent_id: str, content_hash: str, *, since: dt.datetime) -> int:
        """How often the agent planned this same action since ``since`` (loop detection)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT count(DISTINCT run_id) FROM agent_actions WHERE agent_id = %s AND "
                "content_hash = %s AND created_at >= %s",
                (agent_id, content_hash, since),
            ).fetchone()
        return int(row[0]) if row else 0

    def action_counts(self, *, agent_id: str | None = None) -> dict[str, int]:
        with self._connect() as conn:
            found = conn.execute(
                "SELECT status, count(*) FROM agent_actions "
                "WHERE %(a)s::text IS NULL OR agent_id = %(a)s GROUP BY status",
                {"a": agent_id},
            ).fetchall()
        return {str(status): int(n) for status, n in found}

    # -- outcomes ---------------------------------------------------------------------

    def add_outcome(
        self,
        *,
        agent_id: str,
        kind: str,
        summary: str,
        dedupe_key: str,
        at: dt.datetime,
        ref: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> bool:
        """Something the agent should learn next time; once per ``dedupe_key``."""
        with self._connect() as conn, conn.transaction():
            row = conn.execute(
                "INSERT INTO agent_outcomes (agent_id, kind, ref, summary, details, dedupe_key, "
                "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                (
                    agent_id,
                    kind,
                    storable(ref),
                    storable(summary),
                    jsonb(details or {}),
                    storable(dedupe_key),
                    at,
                ),
            ).fetchone()
        return row is not None

    def unseen_outcomes(self, agent_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT id, kind, ref, summary, details, created_at FROM agent_outcomes "
                    "WHERE agent_id = %s AND seen_in_run IS NULL ORDER BY id LIMIT %s",
                    (agent_id, limit),
                )
            )

    def mark_outcomes_seen(self, ids: Sequence[int], *, run_id: str) -> None:
        if not ids:
            return
        with self._connect() as conn, conn.transaction():
            conn.execute(
                "UPDATE agent_outcomes SET seen_in_run = %s WHERE id = ANY(%s) "
                "AND seen_in_run IS NULL",
                (run_id, list(ids)),
            )

    # -- inbox ------------------------------------------------------------------------

    def store_inbox(
        self, agent_id: str, messages: Sequence[tuple[str, dict[str, Any]]], *, at: dt.datetime
    ) -> int:
        """Keep delivered messages until a run has handled them (once per message id)."""
        if not messages:
            return 0
        with self._connect() as conn, conn.transaction():
            stored = 0
            for message_id, message in messages:
                cursor = conn.execute(
                    "INSERT INTO agent_inbox (agent_id, message_id, message, received_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (agent_id, message_id, jsonb(message), at),
                )
                stored += cursor.rowcount
        return stored

    def unhandled_inbox(self, agent_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        with self._connect() as conn:
            return [
                row["message"]
                for row in rows(
                    conn.execute(
                        "SELECT message FROM agent_inbox WHERE agent_id = %s AND "
                        "handled_in_run IS NULL ORDER BY received_at, message_id LIMIT %s",
                        (agent_id, limit),
                    )
                )
            ]

    def mark_inbox_handled(self, agent_id: str, message_ids: Sequence[str], *, run_id: str) -> None:
        if not message_ids:
            return
        with self._connect() as conn, conn.transaction():
            conn.execute(
                "UPDATE agent_inbox SET handled_in_run = %s WHERE agent_id = %s AND "
                "message_id = ANY(%s) AND handled_in_run IS NULL",
                (run_id, agent_id, list(message_ids)),
            )

    # -- open items (the dedup gate) --------------------------------------------------

    def add_item(
        self,
        *,
        kind: str,
        ref: str,
        agent_id: str,
        title: str,
        content_hash: str,
        embedding: Sequence[float] | None,
        at: dt.datetime,
        details: dict[str, Any] | None = None,
    ) -> None:
        with self._connect() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO open_items (kind, ref, agent_id, title, content_hash, embedding, "
                "details, created_at) VALUES (%s, %s, %s, %s, %s, %s::vector, %s, %s) "
                "ON CONFLICT (kind, ref) DO NOTHING",
                (
                    kind,
                    ref,
                    agent_id,
                    title,
                    content_hash,
                    None if embedding is None else _vector(embedding),
                    jsonb(details or {}),
                    at,
                ),
            )

    def close_item(self, *, kind: str, ref: str, at: dt.datetime) -> None:
        with self._connect() as conn, conn.transaction():
            conn.execute(
                "UPDATE open_items SET state = 'closed', closed_at = %s "
                "WHERE kind = %s AND ref = %s AND state = 'open'",
                (at, kind, ref),
            )

    def items(
        self, *, kind: str | None = None, agent_id: str | None = None, state: str | None = "open"
    ) -> list[dict[str, Any]]:
        with self._connect() as conn:
            return rows(
                conn.execute(
                    "SELECT kind, ref, agent_id, title, state, details, created_at, closed_at "
                    "FROM open_items WHERE (%(k)s::text IS NULL OR kind = %(k)s) AND "
                    "(%(a)s::text IS NULL OR agent_id = %(a)s) AND "
                    "(%(s)s::text IS NULL OR state = %(s)s) ORDER BY created_at, ref",
                    {"k": kind, "a": agent_id, "s": state},
                )
            )

    def duplicate_of(
        self,
        *,
        kinds: Sequence[str],
        content_hash: str,
        embedding: Sequence[float] | None,
        min_similarity: float,
        closed_since: dt.datetime | None = None,
    ) -> dict[str, Any] | None:
        """An open item with the same content hash, or the most similar one above the bar
        (with ``closed_since``: also an item closed since then, a recent one)."""
        with self._connect() as conn:
            same = rows(
                conn.execute(
                    "SELECT kind, ref, agent_id, title, state, 1.0::float8 AS similarity "
                    "FROM open_items "
                    "WHERE (state = 'open' OR (state = 'closed' AND closed_at >= %(since)s)) "
                    "AND kind = ANY(%(kinds)s) AND content_hash = %(hash)s "
                    "LIMIT 1",
                    {"since": closed_since, "kinds": list(kinds), "hash": content_hash},
                )
            )
            if same or embedding is None:
                return same[0] if same else None
            near = rows(
                conn.execute(
                    "SELECT kind, ref, agent_id, title, state, 1 - (embedding <=> %(v)s::vector) "
                    "AS similarity FROM open_items WHERE (state = 'open' OR (state = 'closed' "
                    "AND closed_at >= %(since)s)) AND kind = ANY(%(kinds)s) AND "
                    "embedding IS NOT NULL ORDER BY embedding <=> %(v)s::vector LIMIT 1",
                    {"since": closed_since, "kinds": list(kinds), "v": _vector(embedding)},
                )
            )
        if near and float(near[0]["similarity"]) >= min_similarity:
            return near[0]
        return None


def _vector(values: Sequence[float]) -> str:
    return "[" + ",".join(f"{v:.7g}" for v in values) + "]"
