"""Verdicts as the governance tally last judged them (one row per decision pull request).

The tally stores each verdict it computes (with the head it judged); an agent's
wake-up reads them here instead of tallying every open decision again. A row whose
head is not the pull request's current head is stale, and the reader says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from aito.memory.postgres.connection import Connection, Connector, jsonb, rows


class VerdictStore(Connector):
    def store_verdict(
        self,
        *,
        pr: int,
        decision_id: str,
        head_sha: str,
        status: str,
        verdict: dict[str, Any],
        tallied_at: dt.datetime,
    ) -> None:
        """Keep the newest verdict of ``pr`` (an older tally never overwrites a newer one).
        Retried while Postgres is away: it is an idempotent upsert."""

        def store(conn: Connection) -> None:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO decision_verdicts (pr, decision_id, head_sha, status, verdict, "
                    "tallied_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (pr) DO UPDATE SET "
                    "decision_id = EXCLUDED.decision_id, head_sha = EXCLUDED.head_sha, "
                    "status = EXCLUDED.status, verdict = EXCLUDED.verdict, "
                    "tallied_at = EXCLUDED.tallied_at "
                    "WHERE decision_verdicts.tallied_at <= EXCLUDED.tallied_at",
                    (pr, decision_id, head_sha, status, jsonb(verdict), tallied_at),
                )

        self._run(store)

    def verdicts(self, prs: Collection[int]) -> dict[int, dict[str, Any]]:
        """The stored verdicts of these pull requests, by number (absent: never tallied)."""
        if not prs:
            return {}
        found = self._run(
            lambda conn: rows(
                conn.execute(
                    "SELECT pr, decision_id, head_sha, status, verdict, tallied_at "
                    "FROM decision_verdicts WHERE pr = ANY(%s)",
                    (sorted(prs),),
                )
            )
        )
        return {int(row["pr"]): row for row in found}
