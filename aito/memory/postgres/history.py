"""Agent history: idempotent batched writes, embeddings, and similarity recall (pgvector)."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg

from aito.memory.base import HistoryEntry, RecallItem
from aito.memory.postgres.connection import Connection, Connector, jsonb, rows

_COLUMNS = "id, agent_id, action_type, summary, details, created_at, run_id, pr_number"
_DISTANCE = "embedding <=> %(query)s::vector"
# The expression of the HNSW index (migration 0004): half-precision cosine distance.
_INDEXED_DISTANCE = "embedding::halfvec(384) <=> %(query)s::halfvec(384)"


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

    def run_unembedded(self, run_id: str) -> list[tuple[uuid.UUID, str]]:
        """One run's history rows still without an embedding (written before embedding)."""
        with self._connect() as conn:
            found = conn.execute(
                "SELECT id, summary FROM agent_history WHERE run_id = %s AND embedding IS NULL "
                "ORDER BY created_at, id",
                (run_id,),
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
        recall against an exact search). One round trip: the search and the recent
        entries are one prepared statement, outside a transaction; the HNSW scan's
        settings come with the session (connection.SESSION_SETTINGS).
        """
        where = ["agent_id = %(agent)s"]
        params: dict[str, Any] = {
            "agent": agent_id,
            "k": max(k, 0),
            "recent": max(recent, 0),
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
        statement = _recall_statement(" AND ".join(where), exact=exact)

        def search(conn: Connection) -> list[dict[str, Any]]:
            conn.autocommit = True  # a read alone: no BEGIN and COMMIT round trips
            try:
                return rows(conn.execute(statement, params, prepare=True))
            finally:
                with contextlib.suppress(psycopg.Error):  # a broken one is discarded
                    conn.autocommit = False

        found = self._run(search)
        similar = [row for row in found if row["part"] == "similar"]
        latest = [row for row in found if row["part"] == "recent"]
        # The index orders by half-precision distance; scores are full precision.
        similar.sort(key=lambda row: -row["score"])
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


def _recall_statement(clause: str, *, exact: bool) -> str:
    """One statement for both parts of a recall, each row tagged with its ``part``.

    The planner picks the similar part's path by cost: few matching rows (its estimate,
    made while planning this statement: no query of its own) are scanned exactly
    through the btree indexes and sorted, recall 1.0; many go through the HNSW index
    with pgvector's iterative scan (0.8 costs filtered scans by their selectivity).
    """
    candidates = f"agent_history WHERE {clause} AND embedding IS NOT NULL"
    scored = f"SELECT {_COLUMNS}, 1 - ({_DISTANCE}) AS score, 'similar' AS part"
    similar = (
        f"{scored} FROM (SELECT * FROM {candidates} OFFSET 0) AS candidates "  # noqa: S608 - ours
        f"ORDER BY {_DISTANCE} LIMIT %(k)s"
        if exact
        else f"{scored} FROM {candidates} ORDER BY {_INDEXED_DISTANCE} LIMIT %(k)s"
    )
    latest = (
        f"SELECT {_COLUMNS}, NULL::float8 AS score, 'recent' AS part FROM agent_history "  # noqa: S608
        f"WHERE {clause} ORDER BY created_at DESC, id LIMIT %(recent)s"
    )
    return f"({similar}) UNION ALL ({latest})"


def _count(conn: Connection, ids: list[uuid.UUID]) -> int:
    row = conn.execute("SELECT count(*) FROM agent_history WHERE id = ANY(%s)", (ids,)).fetchone()
    return int(row[0]) if row else 0


def _vector(values: Sequence[float] | None) -> str | None:
    """pgvector's text form, sent with an explicit ::vector cast (no type registration
    per connection); 9 significant digits hold a float4 exactly, at half the cost of
    pgvector.Vector.to_text."""
    return None if values is None else "[" + ",".join(map("{:.9g}".format, values)) + "]"
