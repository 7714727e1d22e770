"""Model usage and cost: one row per model call, summed for budgets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aito.memory.base import UsageRow
from aito.memory.postgres.connection import Connection, Connector, rows


class UsageStore(Connector):
    def record_usage(self, row: UsageRow) -> bool:
        """Write one call's usage; False when its (run, exchange) row is already there.

        A row keyed by run and exchange is retried while Postgres is away (a repeat
        after a lost reply finds it and adds nothing); an unkeyed one is written once.
        """

        def insert(conn: Connection) -> bool:
            with conn.transaction():
                found = conn.execute(
                    "INSERT INTO model_usage (agent_id, run_id, model, input_tokens, "
                    "output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, latency_ms, "
                    "created_at, exchange) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, COALESCE(%s, now()), %s) "
                    "ON CONFLICT (run_id, exchange) WHERE run_id IS NOT NULL AND exchange IS "
                    "NOT NULL DO NOTHING RETURNING 1",
                    (
                        row.agent_id,
                        row.run_id,
                        row.model,
                        row.input_tokens,
                        row.output_tokens,
                        row.cache_write_tokens,
                        row.cache_read_tokens,
                        row.cost_usd,
                        row.latency_ms,
                        row.created_at,
                        row.exchange,
                    ),
                ).fetchone()
            return found is not None

        if row.run_id is not None and row.exchange is not None:
            return self._run(insert)
        with self._connect() as conn:
            return insert(conn)

    def spent(self, *, agent_id: str | None, since: dt.datetime) -> tuple[float, int]:
        """USD and tokens spent since ``since`` (by one agent, or by all when None)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT COALESCE(sum(cost_usd), 0), COALESCE(sum(input_tokens + output_tokens "
                "+ cache_write_tokens + cache_read_tokens), 0) FROM model_usage "
                "WHERE created_at >= %(since)s AND (%(a)s::text IS NULL OR agent_id = %(a)s)",
                {"since": since, "a": agent_id},
            ).fetchone()
        return (float(row[0]), int(row[1])) if row else (0.0, 0)

    def usage_summary(
        self,
        *,
        since: dt.datetime,
        until: dt.datetime | None = None,
        agent_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Model calls in [since, until) by agent, UTC day, model and whether simulated.

        Each row: agent_id, day (a date), model, simulated (the call's run was thought
        by the offline or replay model: no money was spent), calls, input_tokens,
        output_tokens, cache_write_tokens, cache_read_tokens, tokens (all four),
        cost_usd (float) and latency_p50_ms (None when no call recorded a latency).

        Whole days before yesterday (UTC) are read from their rollup (migration 0012),
        rolled up here the first time they are asked for; the rest from the calls
        themselves, each call's run read by its key. So a month of charts reads a row
        per agent and day, not every call of the month (nor, as a join would, every
        run ever made). A day whose rollup is missing, or forgotten because a call of
        that day was written since, is read from its calls in the same statement.
        """
        first, end = _rollable(since, until)
        with self._connect() as conn:
            if first < end:
                _roll(conn, first, end)
            with conn.transaction():
                cursor = conn.execute(
                    _SUMMARY.format(
                        until="AND u.created_at < %(until)s " if until is not None else "",
                        agent="AND u.agent_id = %(a)s " if agent_id is not None else "",
                        rolled_agent="AND d.agent_id = %(a)s " if agent_id is not None else "",
                    ),
                    {
                        "since": since,
                        "until": until,
                        "a": agent_id,
                        "first": first,
                        "end": end,
                        # [since, first_at) and [end_at, until) are read from the calls
                        "first_at": min(_midnight(first), until or _midnight(first)),
                        "end_at": max(since, _midnight(end)),
                    },
                )
                found = rows(cursor)
        for row in found:
            tokens = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")
            for name in ("calls", *tokens):
                row[name] = int(row[name])
            row["tokens"] = sum(row[name] for name in tokens)
            row["cost_usd"] = float(row["cost_usd"])
            p50 = row["latency_p50_ms"]
            row["latency_p50_ms"] = None if p50 is None else float(p50)
        return found


SETTLED = dt.timedelta(days=1)
"""Days before today minus this are rolled up: calls are written as they happen, so
earlier days rarely change (when one does, its rollup is forgotten and made again)."""

_GROUPED = (
    "SELECT u.agent_id, (u.created_at AT TIME ZONE 'UTC')::date AS day, u.model, "
    "COALESCE((SELECT r.provider IN ('offline', 'replay') FROM agent_runs r "
    "WHERE r.run_id = u.run_id), false) AS simulated, "
    "count(*) AS calls, sum(u.input_tokens) AS input_tokens, "
    "sum(u.output_tokens) AS output_tokens, "
    "sum(u.cache_write_tokens) AS cache_write_tokens, "
    "sum(u.cache_read_tokens) AS cache_read_tokens, sum(u.cost_usd) AS cost_usd, "
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY u.latency_ms) AS latency_p50_ms "
    "FROM model_usage u "
)
"""Calls summed by agent, day, model and simulated (the FROM clause's end: conditions
follow). Each call's run is read by its key; a join would be planned as a hash join
over every run ever made."""

# The rollups of the days in [first, end) that have one; the calls of the rest of
# [since, until): before `first` (a part of a day), from `end` on (yesterday and today),
# and any day in between without a rollup (each branch an index range of its own).
# One statement, one snapshot: a day's rollup and its marker come and go together.
_SUMMARY = (
    "WITH rolled AS (SELECT day FROM model_usage_days_rolled "  # noqa: S608 - ours
    "WHERE day >= %(first)s AND day < %(end)s), "
    "unrolled AS (SELECT d::date AS day FROM generate_series(%(first)s::date, "
    "%(end)s::date - 1, interval '1 day') AS d WHERE d::date NOT IN (SELECT day FROM rolled)) "
    "SELECT d.agent_id, d.day, d.model, d.simulated, d.calls, d.input_tokens, "
    "d.output_tokens, d.cache_write_tokens, d.cache_read_tokens, d.cost_usd, "
    "d.latency_p50_ms FROM model_usage_days d JOIN rolled USING (day) WHERE true {rolled_agent}"
    "UNION ALL "
    "(" + _GROUPED + "WHERE u.created_at >= %(since)s AND u.created_at < %(first_at)s {agent}"
    "GROUP BY 1, 2, 3, 4) "
    "UNION ALL "
    "(" + _GROUPED + "WHERE u.created_at >= %(end_at)s {until}{agent}GROUP BY 1, 2, 3, 4) "
    "UNION ALL "
    "(" + _GROUPED + "JOIN unrolled ON u.created_at >= unrolled.day::timestamp "
    "AT TIME ZONE 'UTC' AND u.created_at < (unrolled.day + 1)::timestamp AT TIME ZONE 'UTC' "
    "WHERE true {agent}GROUP BY 1, 2, 3, 4) "
    "ORDER BY 2, 1, 3, 4"
)


def _rollable(since: dt.datetime, until: dt.datetime | None) -> tuple[dt.date, dt.date]:
    """The whole UTC days [first, end) of [since, until) that are settled."""
    start = since.astimezone(dt.UTC)
    first = start.date() if start.time() == dt.time() else start.date() + dt.timedelta(days=1)
    end = (dt.datetime.now(dt.UTC) - SETTLED).date()
    if until is not None:
        end = min(end, until.astimezone(dt.UTC).date())
    return first, max(first, end)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def _roll(conn: Connection, first: dt.date, end: dt.date) -> None:
    """Roll up the days of [first, end) that have no rollup, each in a transaction of its
    own under the day's advisory lock (the one writers share: see migration 0012)."""
    with conn.transaction():
        missing = [
            day
            for (day,) in conn.execute(
                "SELECT d::date FROM generate_series(%s::date, %s::date - 1, interval '1 day') "
                "AS d WHERE NOT EXISTS (SELECT 1 FROM model_usage_days_rolled r "
                "WHERE r.day = d::date) ORDER BY 1",
                (first, end),
            ).fetchall()
        ]
    for day in missing:
        with conn.transaction():
            # A rollup lost in a crash is made again by the next reader: its commit need
            # not wait for the disk.
            conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute("SELECT pg_advisory_xact_lock(7411, %s::date - DATE '2000-01-01')", (day,))
            if conn.execute(
                "SELECT 1 FROM model_usage_days_rolled WHERE day = %s", (day,)
            ).fetchone():
                continue  # rolled by another reader meanwhile
            conn.execute(
                "INSERT INTO model_usage_days (agent_id, day, model, simulated, calls, "
                "input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, "
                "latency_p50_ms) "
                + _GROUPED
                + "WHERE u.created_at >= %(day)s::timestamp AT TIME ZONE 'UTC' "
                "AND u.created_at < (%(day)s::date + 1)::timestamp AT TIME ZONE 'UTC' "
                "GROUP BY 1, 2, 3, 4",
                {"day": day},
            )
            conn.execute("INSERT INTO model_usage_days_rolled (day) VALUES (%s)", (day,))
