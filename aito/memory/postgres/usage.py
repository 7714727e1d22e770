"""Model usage and cost: one row per model call, summed for budgets."""

from __future__ import annotations

import datetime as dt

from aito.memory.base import UsageRow
from aito.memory.postgres.connection import Connector


class UsageStore(Connector):
    def record_usage(self, row: UsageRow) -> None:
        with self._connect() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO model_usage (agent_id, run_id, model, input_tokens, output_tokens, "
                "cache_write_tokens, cache_read_tokens, cost_usd, latency_ms, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, COALESCE(%s, now()))",
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
                ),
            )

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
