"""Agent history: idempotent batched writes, embeddings, and similarity recall (pgvector).

Recall is always for one agent, so the physical design is per agent (migration 0006):

* an agent with 1,000 rows or more (:data:`indexing.EXACT_BELOW`) has an HNSW index
  of its own, partial (``WHERE agent_id = '<id>'``; :mod:`aito.memory.postgres.indexing`
  names and builds them): its searches walk a graph of its rows only. With one index
  over everyone's rows, an agent's searches were filtered graph walks: for an agent
  with a tenth of the rows, pgvector's iterative scan walked about ten times further,
  and an exact scan of its rows was faster below about 5,000 of them. With an index
  of its own, the graph is faster at every size measured (``bench/bench_memory.py``:
  0.13 ms against 0.36 ms for an exact scan at 500 rows, 0.2 against 1.2 ms at 1,500;
  an agent's rows lie scattered over the table);
* an agent with fewer rows is searched exactly (its rows through the btree on
  ``agent_id``, every distance computed, recall 1.0, under a millisecond): below that
  size a graph is not worth its upkeep (a build, and slower inserts).

An index is built (``CREATE INDEX CONCURRENTLY``: writes go on) by the write that
takes the agent over the threshold, or by ``index_recall``.
The statement names the agent as a literal, so the planner sees which partial index
applies, and it is prepared per agent (planned once per connection). Other filters
(action types, a time window) are parameters; with them the planner picks by cost
between the agent's index (pgvector's iterative scan) and an exact scan of the
matching rows. The query embedding travels in pgvector's binary form.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import struct
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg.adapt
import psycopg.pq

from aito.memory.base import HistoryEntry, RecallItem
from aito.memory.postgres import indexing
from aito.memory.postgres.connection import Connection, jsonb, rows

_COLUMNS = "id, agent_id, action_type, summary, details, created_at, run_id, pr_number"
_DISTANCE = "embedding <=> %(query)b::vector"
# The expression of the per-agent HNSW indexes: half-precision cosine distance.
_INDEXED_DISTANCE = "embedding::halfvec(384) <=> %(query)b::halfvec(384)"
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class HistoryStore(indexing.RecallIndexes):
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
        written = self._insert(entries, embeddings=embeddings, model=model)
        grown: dict[str, int] = {}
        for entry, vector in zip(entries, embeddings, strict=True):
            if vector is not None:
                grown[entry.agent_id] = grown.get(entry.agent_id, 0) + 1
        if written and grown:
            self._index_grown(grown)
        return written

    def _insert(
        self,
        entries: Sequence[HistoryEntry],
        *,
        embeddings: Sequence[Sequence[float] | None],
        model: str | None,
    ) -> int:
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
        entries are one statement, prepared per agent (see the module), outside a
        transaction; the HNSW scan's settings come with the session
        (connection.SESSION_SETTINGS).
        """
        statement, params = recall_statement(
            agent_id=agent_id,
            query=query,
            k=k,
            recent=recent,
            action_types=action_types,
            since=since,
            until=until,
            exact=exact,
        )

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


def recall_statement(
    *,
    agent_id: str,
    query: Sequence[float],
    k: int = 10,
    recent: int = 50,
    action_types: Sequence[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    exact: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The statement and parameters :meth:`HistoryStore.recall` sends (also for EXPLAIN).

    The agent (an id is a slug: nothing to escape) and the two limits are literals, so
    the plan prepared once per connection is the plan for them: the agent's partial
    index is seen to apply, and a limit the planner knows picks the btree for the
    recent rows (as a parameter it planned a sort of all the agent's rows).
    """
    literal = _SLUG.fullmatch(agent_id) is not None
    where = [f"agent_id = '{agent_id}'" if literal else "agent_id = %(agent)s"]
    params: dict[str, Any] = {}
    if not literal:
        params["agent"] = agent_id
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
    parts = []
    if k > 0:
        params["query"] = QueryVector(query)
        parts.append(_similar(clause, k=int(k), exact=exact))
    if recent > 0:
        parts.append(_latest(clause, recent=int(recent)))
    if not parts:  # nothing asked: a statement that returns no row, of the same shape
        parts.append(_latest("false", recent=1))
    return " UNION ALL ".join(f"({part})" for part in parts), params


def _similar(clause: str, *, k: int, exact: bool) -> str:
    """The ``k`` rows most similar to the query, each tagged ``similar``.

    The planner picks the path by cost: an agent without an index of its own, or few
    matching rows (its estimate, made while planning), is scanned exactly through the
    btree indexes and sorted, recall 1.0; many go through the agent's HNSW index (with
    pgvector's iterative scan when more filters apply).
    """
    candidates = f"agent_history WHERE {clause} AND embedding IS NOT NULL"
    scored = f"SELECT {_COLUMNS}, 1 - ({_DISTANCE}) AS score, 'similar' AS part"
    if exact:
        return (
            f"{scored} FROM (SELECT * FROM {candidates} OFFSET 0) AS candidates "  # noqa: S608 - ours
            f"ORDER BY {_DISTANCE} LIMIT {k}"
        )
    return f"{scored} FROM {candidates} ORDER BY {_INDEXED_DISTANCE} LIMIT {k}"


def _latest(clause: str, *, recent: int) -> str:
    """The ``recent`` newest rows, each tagged ``recent``."""
    return (
        f"SELECT {_COLUMNS}, NULL::float8 AS score, 'recent' AS part FROM agent_history "  # noqa: S608
        f"WHERE {clause} ORDER BY created_at DESC, id LIMIT {recent}"
    )


def _count(conn: Connection, ids: list[uuid.UUID]) -> int:
    row = conn.execute("SELECT count(*) FROM agent_history WHERE id = ANY(%s)", (ids,)).fetchone()
    return int(row[0]) if row else 0


class QueryVector:
    """A query embedding, sent in pgvector's binary form: no text to format here or to
    parse on the server (the cast in the statement tells Postgres its type)."""

    __slots__ = ("data",)

    def __init__(self, values: Sequence[float]) -> None:
        # vector_recv: int16 dimensions, int16 unused, then big-endian float4s
        try:
            self.data = struct.pack(f">HH{len(values)}f", len(values), 0, *values)
        except (OverflowError, struct.error) as exc:
            raise ValueError(f"not a query embedding pgvector can take: {exc}") from exc


class _QueryVectorDumper(psycopg.adapt.Dumper):
    format = psycopg.pq.Format.BINARY
    oid = 0  # unknown: the statement's cast (::vector) gives it its type

    def dump(self, obj: QueryVector) -> bytes:
        return obj.data


# Registered with psycopg's defaults, for our own type only: every connection knows it.
psycopg.adapters.register_dumper(QueryVector, _QueryVectorDumper)


def _vector(values: Sequence[float] | None) -> str | None:
    """pgvector's text form, sent with an explicit ::vector cast (no type registration
    per connection); 9 significant digits hold a float4 exactly, at half the cost of
    pgvector.Vector.to_text."""
    return None if values is None else "[" + ",".join(map("{:.9g}".format, values)) + "]"
