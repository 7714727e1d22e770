"""Agent history: idempotent batched writes, embeddings, and similarity recall (pgvector)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from pgvector import Vector

from aito.memory.base import HistoryEntry, RecallItem
from aito.memory.postgres.connection import Connection, Connector, jsonb, rows

# pgvector 0.8: keep scanning the HNSW index until enough rows pass the filters.
_ITERATIVE = (
    "SET LOCAL hnsw.iterative_scan = relaxed_order",
    "SET LOCAL hnsw.ef_search = 40",
    "SET LOCAL hnsw.max_scan_tuples = 50000",
)
# Up to this many candidate rows an exact scan is as fast as the index, and exact.
EXACT_LIMIT = 5_000


class HistoryStore(Connector):
    def write_history(
        self,
        entries: Sequence[HistoryEntry],
        *,
        embeddings: Sequence[Sequence[float] | None],
        model: str | None,
    ) -> int:
        """Insert ``entries`` in one transaction; an id already written is skipped.

        Returns how many rows were new, so a retry after a lost reply writes each once.
        """
        if len(entries) != len(embeddings):
            raise ValueError("one embedding (or None) per entry")
        if not entries:
            return 0
        with self._connect() as conn, conn.transaction():
            before = _count(conn, [e.id for e in entries])
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO agent_history (id, agent_id, run_id, action_type, summary, "
                    "details, embedding, embedding_model, pr_number, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s::vector, %s, %s, COALESCE(%s, now())) "
                    "ON CONFLICT (id) DO NOTHING",
                    [
                        (
                            e.id,
                            e.agent_id,
                            e.run_id,
                            e.action_type,
                            e.summary,
                            jsonb(e.details),
                            _vector(vector),
                            model if vector is not None else None,
                            e.pr_number,
                            e.created_at,
                        )
                        for e, vector in zip(entries, embeddings, strict=True)
                    ],
                )
            return _count(conn, [e.id for e in entries]) - before

    def unembedded(self, *, limit: int = 256) -> list[tuple[uuid.UUID, str]]:
        """Rows written without an embedding (the embedder was down): (id, summary)."""
        with self._connect() as conn:
            found = conn.execute(
                "SELECT id, summary FROM agent_history WHERE embedding IS NULL "
                "ORDER BY created_at LIMIT %s",
                (limit,),
            ).fetchall()
        return [(row[0], str(row[1])) for row in found]

    def set_embeddings(
        self, items: Sequence[tuple[uuid.UUID, Sequence[float]]], *, model: str
    ) -> None:
        with self._connect() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(
                "UPDATE agent_history SET embedding = %s::vector, embedding_model = %s "
                "WHERE id = %s AND embedding IS NULL",
                [(_vector(vector), model, row_id) for row_id, vector in items],
            )

    def history(self, agent_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The newest entries of an agent, newest first."""
        with self._connect() as conn:
            cursor = conn.execute(
                "SELECT id, action_type, summary, details, run_id, pr_number, created_at "
                "FROM agent_history WHERE agent_id = %s ORDER BY created_at DESC, id LIMIT %s",
                (agent_id, limit),
            )
            return rows(cursor)

    def history_count(self, agent_id: str | None = None) -> int:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM agent_history WHERE %(a)s::text IS NULL OR agent_id = %(a)s",
                {"a": agent_id},
            ).fetchone()
        return int(row[0]) if row else 0

    def add_history(
        self,
        *,
        agent_id: str,
        action_type: str,
        summary: str,
        details: dict[str, Any],
        run_id: str | None = None,
    ) -> None:
        """One entry without an embedding (`HistoryWriter` batches and embeds)."""
        entry = HistoryEntry.new(
            agent_id=agent_id,
            action_type=action_type,
            summary=summary,
            details=details,
            run_id=run_id,
        )
        self.write_history([entry], embeddings=[None], model=None)

    def recall(
        self,
        *,
        agent_id: str,
        query: Sequence[float],
        k: int = 10,
        recent: int = 50,
        action_types: Sequence[str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        exact: bool = False,
    ) -> list[RecallItem]:
        """The last ``recent`` entries plus the ``k`` most similar to ``query``, merged.

        Filters apply to both parts. ``exact`` skips the HNSW index (for measuring
        recall against an exact search).
        """
        where = ["agent_id = %(agent)s"]
        params: dict[str, Any] = {
            "agent": agent_id,
            "k": k,
            "recent": recent,
            "query": _vector(query),
        }
        if action_types:
            where.append("action_type = ANY(%(types)s)")
            params["types"] = list(action_types)
        if since is not None:
            where.append("created_at >= %(since)s")
            params["since"] = since
        if until is not None:
            where.append("created_at < %(until)s")
            params["until"] = until
        clause = " AND ".join(where)
        columns = "id, agent_id, action_type, summary, details, created_at, run_id, pr_number"
        with self._connect() as conn, conn.transaction():
            similar: list[dict[str, Any]] = []
            if k > 0:
                small = exact or _at_most(conn, clause, params, EXACT_LIMIT)
                if not small:
                    conn.execute("; ".join(_ITERATIVE))  # one round trip for all settings
                # A small candidate set is searched exactly (recall 1.0, a few ms); a large
                # one through the HNSW index with pgvector's iterative scan.
                source = (
                    f"(SELECT * FROM agent_history WHERE {clause} AND embedding IS NOT NULL "  # noqa: S608 - our clause
                    "OFFSET 0) AS candidates"
                    if small
                    else f"agent_history WHERE {clause} AND embedding IS NOT NULL"
                )
                similar = rows(
                    conn.execute(
                        f"SELECT {columns}, 1 - (embedding <=> %(query)s::vector) AS score "  # noqa: S608 - our clause
                        f"FROM {source} ORDER BY embedding <=> %(query)s::vector LIMIT %(k)s",
                        params,
                    )
                )
            latest = (
                rows(
                    conn.execute(
                        f"SELECT {columns}, NULL::float AS score FROM agent_history WHERE {clause} "  # noqa: S608 - clause is ours
                        "ORDER BY created_at DESC, id LIMIT %(recent)s",
                        params,
                    )
                )
                if recent > 0
                else []
            )
        return _merge(similar, latest)


def _merge(similar: list[dict[str, Any]], latest: list[dict[str, Any]]) -> list[RecallItem]:
    """Similar items first (best first), then recent ones not already there (newest first)."""
    recent_ids = {row["id"] for row in latest}
    items: list[RecallItem] = []
    seen: set[uuid.UUID] = set()
    for row in similar:
        seen.add(row["id"])
        items.append(_item(row, "both" if row["id"] in recent_ids else "similar"))
    items.extend(_item(row, "recent") for row in latest if row["id"] not in seen)
    return items


def _item(row: dict[str, Any], source: str) -> RecallItem:
    score = row["score"]
    return RecallItem(
        id=row["id"],
        agent_id=row["agent_id"],
        action_type=row["action_type"],
        summary=row["summary"],
        details=row["details"],
        created_at=row["created_at"],
        run_id=row["run_id"],
        pr_number=row["pr_number"],
        score=float(score) if score is not None else None,
        source=source,
    )


def _at_most(conn: Connection, clause: str, params: dict[str, Any], limit: int) -> bool:
    """Whether the planner expects at most ``limit`` rows to match (no rows are read)."""
    row = conn.execute(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM agent_history WHERE {clause} "  # noqa: S608 - our clause
        "AND embedding IS NOT NULL",
        params,
    ).fetchone()
    if not row:
        return False
    plan = row[0][0]["Plan"] if isinstance(row[0], list) else row[0]["Plan"]
    return bool(plan.get("Plan Rows", limit + 1) <= limit)


def _count(conn: Connection, ids: list[uuid.UUID]) -> int:
    row = conn.execute("SELECT count(*) FROM agent_history WHERE id = ANY(%s)", (ids,)).fetchone()
    return int(row[0]) if row else 0


def _vector(values: Sequence[float] | None) -> str | None:
    # Sent as text with an explicit ::vector cast: no type registration per connection.
    return None if values is None else str(Vector(list(values)).to_text())
