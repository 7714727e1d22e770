"""The orchestrator's own state, in Redis (shared by every orchestrator process):
restarts per agent, who is in error since when, who leads, and which steps were applied.

A step's key is set (NX) only once it has been applied, so an orchestrator killed
mid-step does it again next pass; each step's effect is itself idempotent or checked
first (a container by its name, a tally by its verdict), so doing it again does nothing
twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

from aito.bus import keys, redis_connection
from aito.bus import redis as adapter

DONE_TTL_SECONDS = 40 * 86_400


class OrchestratorState:
    def __init__(self, bus: adapter.RedisBus) -> None:
        self._conn = bus.connection

    def restarts(self, agent_ids: Collection[str]) -> dict[str, tuple[dt.datetime, ...]]:
        ids = list(agent_ids)

        def build(pipe: redis_connection.Pipeline) -> None:
            for agent_id in ids:
                pipe.zrange(
                    self._conn.key(keys.orchestrator_restarts(agent_id)), 0, -1, withscores=True
                )

        found = self._conn.batch(build, op="read restarts")
        return {
            agent_id: tuple(dt.datetime.fromtimestamp(float(s), dt.UTC) for _, s in rows)
            for agent_id, rows in zip(ids, found, strict=True)
        }

    def add_restart(self, agent_id: str, *, at: dt.datetime, attempt: int) -> None:
        """Record restart ``attempt`` (its number names it: recorded twice, kept once)."""
        key = self._conn.key(keys.orchestrator_restarts(agent_id))

        def build(pipe: redis_connection.Pipeline) -> None:
            pipe.zadd(key, {str(attempt): at.timestamp()})
            pipe.expire(key, DONE_TTL_SECONDS)

        self._conn.transaction(build, op="record a restart")

    def errors(self) -> dict[str, dt.datetime]:
        raw = self._conn.run(
            lambda r: r.hgetall(self._conn.key(keys.ORCHESTRATOR_ERRORS)), op="read errors"
        )
        return {_text(k): dt.datetime.fromisoformat(_text(v)) for k, v in raw.items()}

    def set_error(self, agent_id: str, *, since: dt.datetime) -> None:
        self._conn.run(
            lambda r: r.hset(self._conn.key(keys.ORCHESTRATOR_ERRORS), agent_id, since.isoformat()),
            op="mark an agent error",
        )

    def clear_error(self, agent_id: str, *, generation: int) -> None:
        """Healthy again: its error goes, and so does its restart count (a new budget); its
        generation moves past ``generation`` (once, however often this is repeated)."""

        def build(pipe: redis_connection.Pipeline) -> None:
            pipe.hdel(self._conn.key(keys.ORCHESTRATOR_ERRORS), agent_id)
            pipe.delete(self._conn.key(keys.orchestrator_restarts(agent_id)))

        self._conn.transaction(build, op="clear an agent's error")
        key = self._conn.key(keys.ORCHESTRATOR_GENERATIONS)
        current = self.generations([agent_id]).get(agent_id, 0)
        if current <= generation:
            self._conn.run(lambda r: r.hset(key, agent_id, generation + 1), op="next generation")

    def generations(self, agent_ids: Collection[str]) -> dict[str, int]:
        ids = list(agent_ids)
        if not ids:
            return {}
        found = self._conn.run(
            lambda r: r.hmget(self._conn.key(keys.ORCHESTRATOR_GENERATIONS), ids),
            op="read generations",
        )
        return {a: int(v) for a, v in zip(ids, found, strict=True) if v is not None}

    def lead(self, default: str) -> str:
        found = self._conn.run(
            lambda r: r.get(self._conn.key(keys.ORCHESTRATOR_LEAD)), op="read the lead"
        )
        return _text(found) if found else default

    def set_lead(self, agent_id: str) -> None:
        self._conn.run(
            lambda r: r.set(self._conn.key(keys.ORCHESTRATOR_LEAD), agent_id), op="set the lead"
        )

    def done(self, step_keys: Iterable[str]) -> set[str]:
        """Which of these steps were applied."""
        wanted = list(step_keys)
        if not wanted:
            return set()
        names = [self._conn.key(keys.orchestrator_done(k)) for k in wanted]
        found = self._conn.run(lambda r: r.mget(names), op="read applied steps")
        return {k for k, v in zip(wanted, found, strict=True) if v is not None}

    def claim(self, step_key: str, *, at: dt.datetime) -> bool:
        """Take ``step_key`` once, ever (True the first time): what a step that cannot be
        undone or repeated (a notification) takes before it acts."""
        taken = self._conn.run(
            lambda r: r.set(
                self._conn.key(keys.orchestrator_claim(step_key)),
                at.isoformat(),
                nx=True,
                ex=DONE_TTL_SECONDS,
            ),
            op="claim a step",
        )
        return bool(taken)

    def release(self, step_key: str) -> None:
        """Give a claim back (the step failed cleanly and may be tried again)."""
        self._conn.run(
            lambda r: r.delete(self._conn.key(keys.orchestrator_claim(step_key))),
            op="release a claim",
        )

    def mark_done(self, step_key: str, *, at: dt.datetime) -> None:
        self._conn.run(
            lambda r: r.set(
                self._conn.key(keys.orchestrator_done(step_key)),
                at.isoformat(),
                ex=DONE_TTL_SECONDS,
            ),
            op="record an applied step",
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
