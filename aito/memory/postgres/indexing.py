"""Per-agent HNSW indexes for recall: which agents have one, and building them.

See :mod:`aito.memory.postgres.history` for why recall's physical design is per agent.
An agent with :data:`EXACT_BELOW` embedded rows or more gets a partial HNSW index of
its own (``WHERE agent_id = '<id>'``, named by :func:`recall_index_name`; migration
0006 names and builds them the same way for the history already there). It is built
with ``CREATE INDEX CONCURRENTLY`` (writes go on) by the write that takes the agent
over the threshold, or by :meth:`RecallIndexes.index_recall` (after a bulk load).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Collection
from typing import Any

from psycopg import sql

from aito.errors import AdapterError
from aito.memory.postgres.connection import Connection, Connector

_log = logging.getLogger(__name__)

EXACT_BELOW = 1_000
"""An agent with fewer embedded history rows is searched exactly; with as many or more,
through an HNSW index of its own (see :mod:`aito.memory.postgres.history`)."""
_INDEX_PREFIX = "agent_history_recall_"
_INDEX_LOCK = 0x41495452  # advisory lock: one process builds recall indexes at a time


def recall_index_name(agent_id: str) -> str:
    """The name of ``agent_id``'s HNSW index (migration 0006 names them the same way)."""
    digest = hashlib.md5(agent_id.encode(), usedforsecurity=False).hexdigest()
    return f"{_INDEX_PREFIX}{digest[:16]}"


class RecallIndexes(Connector):
    """The per-agent indexes of `agent_history`; the history store writes through this."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._indexed: set[str] = set()  # agents known to have their HNSW index
        self._short: dict[str, int] = {}  # agent → rows it lacked at its last count
        self._indexed_lock = threading.Lock()

    exact_below: int = EXACT_BELOW
    """The threshold of this store (tests lower it)."""

    def index_recall(self, agent_ids: Collection[str] | None = None) -> list[str]:
        """Build the HNSW index of each agent (of ``agent_ids``, else all) that has at
        least :attr:`exact_below` embedded rows and none yet; returns those indexed now.

        ``CREATE INDEX CONCURRENTLY``: writes go on meanwhile. One process builds at a
        time (an advisory lock; the others skip), an index left invalid by a build that
        died is dropped and built again, and nothing is done twice.
        """
        built: list[str] = []
        # a connection of its own (CONCURRENTLY runs outside a transaction), tried once:
        # after a write, a Postgres gone away is no reason to wait
        with self._connect(retry=False, pooled=False) as conn:
            conn.autocommit = True
            locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (_INDEX_LOCK,)).fetchone()
            if not locked or not locked[0]:
                return built
            try:
                for agent_id in self._unindexed(conn, agent_ids):
                    name = sql.Identifier(recall_index_name(agent_id))
                    conn.execute(sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(name))
                    conn.execute(
                        sql.SQL(
                            "CREATE INDEX CONCURRENTLY {} ON agent_history USING hnsw "
                            "((embedding::halfvec(384)) halfvec_cosine_ops) WHERE agent_id = {}"
                        ).format(name, sql.Literal(agent_id))
                    )
                    built.append(agent_id)
                    _log.info("recall: built the HNSW index of %s", agent_id)
                if built:  # the planner's row counts, so it picks the new index
                    conn.execute("ANALYZE agent_history")
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_INDEX_LOCK,))
        with self._indexed_lock:
            self._indexed.update(built)
        return built

    def recall_indexes(self) -> dict[str, str]:
        """Agent id → the name of its (valid) HNSW index, for the agents that have one."""
        with self._connect() as conn:
            agents = [str(r[0]) for r in conn.execute("SELECT id FROM agents").fetchall()]
            valid = {
                str(r[0])
                for r in conn.execute(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE i.indrelid = 'agent_history'::regclass AND i.indisvalid "
                    "AND c.relname LIKE %s",
                    (_INDEX_PREFIX + "%",),
                ).fetchall()
            }
        return {a: recall_index_name(a) for a in sorted(agents) if recall_index_name(a) in valid}

    def _unindexed(self, conn: Connection, agent_ids: Collection[str] | None) -> list[str]:
        """Agents over the threshold without a valid index of their own."""
        wanted = (
            sorted(agent_ids)
            if agent_ids is not None
            else [str(r[0]) for r in conn.execute("SELECT id FROM agents ORDER BY id").fetchall()]
        )
        due = []
        for agent_id in wanted:
            valid = conn.execute(
                "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname = %s",
                (recall_index_name(agent_id),),
            ).fetchone()
            if valid is not None and valid[0]:
                with self._indexed_lock:
                    self._indexed.add(agent_id)
                continue
            counted = conn.execute(  # stops counting at the threshold
                "SELECT count(*) FROM (SELECT 1 FROM agent_history WHERE agent_id = %s "
                "AND embedding IS NOT NULL LIMIT %s) AS enough",
                (agent_id, self.exact_below),
            ).fetchone()
            rows = int(counted[0]) if counted is not None else 0
            if rows >= self.exact_below:
                due.append(agent_id)
            else:
                with self._indexed_lock:
                    self._short[agent_id] = self.exact_below - rows
        return due

    def _index_grown(self, written: dict[str, int]) -> None:
        """After a write: index the agents it took over the threshold. An agent is
        counted on its first write in this process, then again once this process wrote
        as many rows as it lacked (rows other processes write are noticed at that
        count); an error is logged, never the write's."""
        with self._indexed_lock:
            due = []
            for agent_id, count in written.items():
                if agent_id in self._indexed:
                    continue
                short = self._short.get(agent_id)
                if short is None or short <= count:
                    due.append(agent_id)
                else:
                    self._short[agent_id] = short - count
        if not due:
            return
        try:
            built = self.index_recall(due)
        except AdapterError as exc:
            _log.warning("recall: could not index %s (%s)", ", ".join(due), exc)
            return
        if built:
            _log.info("recall: %s now searched through an index of their own", ", ".join(built))
