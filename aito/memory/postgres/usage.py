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
        """
        with self._connect() as conn:
            cursor = conn.execute(
                "SELECT u.agent_id, (u.created_at AT TIME ZONE 'UTC')::date AS day, u.model, "
                "COALESCE(r.provider IN ('offline', 'replay'), false) AS simulated, "
                "count(*) AS calls, sum(u.input_tokens) AS input_tokens, "
                "sum(u.output_tokens) AS output_tokens, "
                "sum(u.cache_write_tokens) AS cache_write_tokens, "
                "sum(u.cache_read_tokens) AS cache_read_tokens, sum(u.cost_usd) AS cost_usd, "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY u.latency_ms) AS latency_p50_ms "
                "FROM model_usage u LEFT JOIN agent_runs r ON r.run_id = u.run_id "
                "WHERE u.created_at >= %(since)s "
                "AND (%(until)s::timestamptz IS NULL OR u.created_at < %(until)s) "
                "AND (%(a)s::text IS NULL OR u.agent_id = %(a)s) "
                "GROUP BY 1, 2, 3, 4 ORDER BY 2, 1, 3, 4",
                {"since": since, "until": until, "a": agent_id},
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
