"""The Redis adapter: agent registry and status (heartbeats). The only module importing redis."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import redis

from aito.bus import keys
from aito.errors import PermanentAdapterError, TemporaryAdapterError

SERVICE = "redis"


class RedisBus:
    """AITO's fast bus. ``prefix`` namespaces every key (for tests on a shared server)."""

    def __init__(self, *, url: str, prefix: str = "") -> None:
        self._client = redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=5, socket_timeout=10
        )
        self._prefix = prefix

    def _key(self, name: str) -> str:
        return self._prefix + name

    def close(self) -> None:
        self._client.close()

    def ping(self) -> str:
        """The server's version; raises TemporaryAdapterError when unreachable."""
        try:
            info = self._client.info("server")
        except redis.ConnectionError as exc:
            raise TemporaryAdapterError(
                SERVICE,
                f"cannot reach Redis ({exc}); `aito services status` tells",
                retry_after=1.0,
            ) from exc
        except redis.RedisError as exc:
            raise PermanentAdapterError(SERVICE, str(exc)) from exc
        return str(info.get("redis_version", "unknown"))

    def register_agents(self, definitions: dict[str, str]) -> list[str]:
        """Record ``{agent id: definition hash}``; returns the ids whose entry changed.

        Agents gone from the org are removed from the registry. A status hash is
        created for new agents (status ``inactive``) and never overwritten here.
        """
        registry = self._key(keys.AGENTS_REGISTRY)
        try:
            current = _texts(self._client.hgetall(registry))
            changed = sorted(
                agent_id
                for agent_id, digest in definitions.items()
                if current.get(agent_id) != digest
            )
            gone = sorted(set(current) - set(definitions))
            with self._client.pipeline(transaction=True) as pipe:
                if changed:
                    pipe.hset(registry, mapping={a: definitions[a] for a in changed})
                if gone:
                    pipe.hdel(registry, *gone)
                for agent_id in definitions:
                    pipe.hsetnx(self._key(keys.agent_status(agent_id)), "status", "inactive")
                pipe.execute()
        except redis.ConnectionError as exc:
            raise TemporaryAdapterError(SERVICE, str(exc)) from exc
        except redis.RedisError as exc:
            raise PermanentAdapterError(SERVICE, str(exc)) from exc
        return changed + gone

    def registered(self) -> dict[str, str]:
        return _texts(self._client.hgetall(self._key(keys.AGENTS_REGISTRY)))

    def heartbeat(
        self, *, agent_id: str, status: str, run_id: str, at: dt.datetime, ttl_seconds: int
    ) -> None:
        """Mark the agent alive; the status hash expires if no heartbeat follows in time."""
        key = self._key(keys.agent_status(agent_id))
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(
                    key,
                    mapping={"status": status, "last_heartbeat": at.isoformat(), "run_id": run_id},
                )
                pipe.expire(key, ttl_seconds)
                pipe.execute()
        except redis.ConnectionError as exc:
            raise TemporaryAdapterError(SERVICE, str(exc)) from exc

    def statuses(self, agent_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """`agent:status:{id}` for each agent ({} when it never reported or expired)."""
        ids = list(agent_ids)
        with self._client.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.hgetall(self._key(keys.agent_status(agent_id)))
            results = pipe.execute()
        return {agent_id: _texts(result) for agent_id, result in zip(ids, results, strict=True)}


def _texts(mapping: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    # decode_responses=True already gives str; the client's types do not know that.
    return {str(key): str(value) for key, value in mapping.items()}
