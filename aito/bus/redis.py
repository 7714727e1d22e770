"""The Redis adapter: agent registry and status (heartbeats). The only module importing redis."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping

import redis

from aito.bus import keys
from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.org.messages import AgentMessage

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

    def deliver(self, message: AgentMessage) -> str:
        """Append ``message`` to each recipient's inbox stream; returns the last stream id.

        Group targets (`all`, `head`, `clevel`) must be expanded by the caller; this is
        one agent's durable copy plus a pub/sub nudge.
        """
        if message.is_group:
            raise ValueError("deliver() takes one recipient; expand groups first")
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.xadd(self._key(keys.agent_stream(message.to)), {"message": message.to_wire()})
                pipe.publish(self._key(keys.agent_channel(message.to)), message.id)
                stream_id, _ = pipe.execute()
        except redis.ConnectionError as exc:
            raise TemporaryAdapterError(SERVICE, str(exc)) from exc
        return str(stream_id)

    def inbox(self, agent_id: str, *, count: int = 100) -> list[AgentMessage]:
        """The newest messages in an agent's inbox stream (oldest first)."""
        entries = self._client.xrevrange(self._key(keys.agent_stream(agent_id)), count=count) or []
        return [
            AgentMessage.from_wire(str(fields["message"]))
            for _, fields in reversed(list(entries))
            if fields
        ]

    @contextlib.contextmanager
    def lock(
        self, name: str, *, ttl_seconds: float = 60, wait_seconds: float = 30
    ) -> Iterator[None]:
        """Hold ``name`` (a key from `keys`) exclusively; it expires if the holder dies.

        Only the owner (a random token) can release it.
        """
        key, token = self._key(name), secrets.token_hex(16)
        deadline = time.monotonic() + wait_seconds
        while not self._client.set(key, token, nx=True, px=int(ttl_seconds * 1000)):
            if time.monotonic() > deadline:
                raise TemporaryAdapterError(
                    SERVICE, f"{name} is held by another process; try again", retry_after=1.0
                )
            time.sleep(0.05)
        try:
            yield
        finally:
            self._client.eval(_RELEASE, 1, key, token)

    def statuses(self, agent_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """`agent:status:{id}` for each agent ({} when it never reported or expired)."""
        ids = list(agent_ids)
        with self._client.pipeline(transaction=False) as pipe:
            for agent_id in ids:
                pipe.hgetall(self._key(keys.agent_status(agent_id)))
            results = pipe.execute()
        return {agent_id: _texts(result) for agent_id, result in zip(ids, results, strict=True)}


# Delete the lock only if it still carries our token (it may have expired and been re-taken).
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _texts(mapping: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    # decode_responses=True already gives str; the client's types do not know that.
    return {str(key): str(value) for key, value in mapping.items()}
