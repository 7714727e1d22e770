"""The bus's front over Redis: agent registry, heartbeats, one-recipient delivery, locks.

:class:`RedisBus` holds the agent registry, heartbeats and status, a one-recipient
``deliver``, the inbox look-ups and locks. It talks to Redis through its
``.connection`` (:class:`aito.bus.redis_connection.Connection`, the one module that
imports redis-py: errors translated, retries, reconnection). Sending (`streams`,
`deadlines`), reading (`consuming`, `inspecting`), task queues (`queues`), rate
limits (`ratelimits`) and budgets (`budgets`) live beside it and take a RedisBus.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from aito import retrying
from aito.bus import base, keys, leasing, models, redis_connection, waking
from aito.errors import TemporaryAdapterError
from aito.org.messages import AgentMessage


class RedisBus:
    """AITO's fast bus. ``prefix`` namespaces every key (for tests on a shared server).

    ``url`` may be a function returning the current URL (see
    :class:`~aito.bus.redis_connection.Connection`); ``retry`` bounds how long an
    operation keeps retrying while Redis is away.
    """

    def __init__(
        self,
        *,
        url: str | Callable[[], str],
        prefix: str = "",
        retry: retrying.Policy | None = None,
    ) -> None:
        self.connection = redis_connection.Connection(url=url, prefix=prefix, policy=retry)
        self._prefix = prefix
        self.waker: waking.Waker = waking.NoWaker()
        """Wakes the agents this bus delivers to (bootstrap sets it; see aito.bus.waking)."""

    def _key(self, name: str) -> str:
        return self._prefix + name

    def close(self) -> None:
        self.connection.close()

    def ping(self) -> str:
        """The server's version; raises TemporaryAdapterError at once when unreachable."""
        info = self.connection.run(lambda r: r.info("server"), op="ping", retry=False)
        return str(info.get("redis_version", "unknown"))

    def register_agents(self, definitions: dict[str, str]) -> list[str]:
        """Record ``{agent id: definition hash}``; returns the ids whose entry changed.

        Agents gone from the org are removed from the registry. A status hash is
        created for new agents (status ``inactive``) and never overwritten here.
        """
        registry = self._key(keys.AGENTS_REGISTRY)
        current = self.registered()
        changed = sorted(a for a, digest in definitions.items() if current.get(a) != digest)
        gone = sorted(set(current) - set(definitions))

        def build(pipe: redis_connection.Pipeline) -> None:
            if changed:
                pipe.hset(registry, mapping={a: definitions[a] for a in changed})
            if gone:
                pipe.hdel(registry, *gone)
            for agent_id in definitions:
                pipe.hsetnx(self._key(keys.agent_status(agent_id)), "status", "inactive")

        self.connection.transaction(build, op="register agents")
        return changed + gone

    def registered(self) -> dict[str, str]:
        registry = self._key(keys.AGENTS_REGISTRY)
        return _texts(self.connection.run(lambda r: r.hgetall(registry), op="read registry"))

    def heartbeat(
        self,
        *,
        agent_id: str,
        status: str,
        run_id: str,
        at: dt.datetime,
        ttl_seconds: int,
        container_id: str | None = None,
    ) -> None:
        """Mark the agent alive; the status hash expires if no heartbeat follows in time."""
        key = self._key(keys.agent_status(agent_id))
        fields: dict[Any, Any] = {
            "status": status,
            "last_heartbeat": at.isoformat(),
            "run_id": run_id,
        }

        def build(pipe: redis_connection.Pipeline) -> None:
            if container_id is None:
                pipe.hdel(key, "container_id")
            else:
                fields["container_id"] = container_id
            pipe.hset(key, mapping=fields)
            pipe.expire(key, ttl_seconds)

        self.connection.transaction(build, op="heartbeat")

    def statuses(self, agent_ids: Collection[str]) -> dict[str, dict[str, str]]:
        """`agent:status:{id}` for each agent ({} when it never reported or expired)."""
        ids = list(agent_ids)

        def build(pipe: redis_connection.Pipeline) -> None:
            for agent_id in ids:
                pipe.hgetall(self._key(keys.agent_status(agent_id)))

        results = self.connection.batch(build, op="read statuses")
        return {agent_id: _texts(result) for agent_id, result in zip(ids, results, strict=True)}

    def alive(self, agent_ids: Collection[str] | None = None) -> dict[str, models.AgentStatus]:
        """The agents whose heartbeat has not expired, with their status (one round trip).

        Without ``agent_ids``, every registered agent is looked at.
        """
        if isinstance(agent_ids, str):
            raise TypeError("alive() takes a collection of agent ids, not one string")
        prefix = self._key(keys.agent_status(""))
        args = [prefix, *(agent_ids or ())]
        registry = [self._key(keys.AGENTS_REGISTRY)] if agent_ids is None else []
        reply = self.connection.run(
            lambda r: _ALIVE(r, keys=registry, args=args), op="read heartbeats"
        )
        found: dict[str, models.AgentStatus] = {}
        for agent_id, flat in zip(reply[::2], reply[1::2], strict=True):
            fields = dict(zip(flat[::2], flat[1::2], strict=True))
            found[str(agent_id)] = models.AgentStatus.model_validate(fields)
        return found

    def deliver(self, message: AgentMessage) -> str:
        """Append ``message`` to its one recipient's inbox stream; returns the stream id.

        Group targets (`all`, `head`, `clevel`), requests with deadlines and batches
        go through :class:`aito.bus.streams.Messenger`; this is one agent's durable
        copy plus a pub/sub nudge. A retry after a lost reply may append a second
        copy (the consumer handles it once); `Messenger.send` checks first.
        """
        if message.is_group:
            raise ValueError("deliver() takes one recipient; expand groups first")
        stream = self._key(keys.agent_stream(message.to))
        channel = self._key(keys.agent_channel(message.to))

        def build(pipe: redis_connection.Pipeline) -> None:
            pipe.xadd(stream, base.entry_fields(message))  # type: ignore[arg-type]
            pipe.publish(channel, message.id)

        stream_id, _ = self.connection.transaction(build, op="deliver")
        self.waker.wake(
            [message.to], reason=message.type.value, source=message.id, sender=message.from_
        )
        return str(stream_id)

    def inbox(self, agent_id: str, *, count: int = 100) -> list[AgentMessage]:
        """The newest messages in an agent's inbox stream (oldest first, unreadable skipped)."""
        stream = self._key(keys.agent_stream(agent_id))
        entries = self.connection.run(lambda r: r.xrevrange(stream, count=count), op="read inbox")
        found = []
        for _, fields in reversed(list(entries or [])):
            with contextlib.suppress(ValueError):
                found.append(AgentMessage.from_wire(str((fields or {})[base.MESSAGE_FIELD])))
        return found

    def has_unread(self, agent_id: str) -> bool:
        """Whether the agent's stream holds entries its consumer group has not read yet
        (or still pending ones): one cheap look, for waking agents on messages."""
        stream = self._key(keys.agent_stream(agent_id))

        def look(client: redis_connection.Client) -> bool:
            try:
                groups = client.xinfo_groups(stream)
            except redis_connection.ResponseError:  # no stream yet
                return False
            group = next((g for g in groups if g["name"] == keys.CONSUMER_GROUP), None)
            if group is None:
                return bool(client.xlen(stream))
            if int(group["pending"]):
                return True
            after = f"({group['last-delivered-id']}"
            return bool(client.xrange(stream, min=after, max="+", count=1))

        return self.connection.run(look, op="look for unread messages")

    def try_lock(self, name: str, *, ttl_seconds: float, token: str | None = None) -> str | None:
        """Take ``name`` (a key from `keys`) now if free: returns the owner token, or None.

        Pass the same ``token`` again to renew a lock you hold (the TTL restarts).
        """
        token = token or secrets.token_hex(16)
        key, ms = self._key(name), max(1, int(ttl_seconds * 1000))
        taken = self.connection.run(
            lambda r: _ACQUIRE(r, keys=[key], args=[token, ms]), op=f"lock {name}"
        )
        return token if int(taken) == 1 else None

    def renew_lock(self, name: str, token: str, *, ttl_seconds: float) -> bool:
        """Restart the TTL of a lock ``token`` still holds; False if it expired or was
        taken over (the holder has lost it and must stop)."""
        key, ms = self._key(name), max(1, int(ttl_seconds * 1000))
        renewed = self.connection.run(
            lambda r: _RENEW(r, keys=[key], args=[token, ms]), op=f"renew lock {name}"
        )
        return int(renewed) == 1

    def lock_holder(self, name: str) -> tuple[str, float] | None:
        """The token holding ``name`` and the seconds its TTL has left, or None if free."""
        key = self._key(name)

        def build(pipe: redis_connection.Pipeline) -> None:
            pipe.get(key)
            pipe.pttl(key)

        token, left = self.connection.batch(build, op=f"read lock {name}")
        if token is None or int(left) < 0:
            return None
        return str(token), int(left) / 1000

    def take_over_lock(self, name: str, *, old: str, token: str, ttl_seconds: float) -> bool:
        """Replace the holder ``old`` of ``name`` by ``token`` (only if ``old`` still holds
        it): for a holder known to be dead. True if ``token`` holds it now."""
        key, ms = self._key(name), max(1, int(ttl_seconds * 1000))
        taken = self.connection.run(
            lambda r: _TAKE_OVER(r, keys=[key], args=[old, token, ms]), op=f"take over {name}"
        )
        return int(taken) == 1

    def unlock(self, name: str, token: str) -> bool:
        """Release ``name`` if ``token`` still owns it; False if it expired or is another's."""
        key = self._key(name)
        released = self.connection.run(
            lambda r: _RELEASE(r, keys=[key], args=[token]), op=f"unlock {name}"
        )
        return int(released) == 1

    @contextlib.contextmanager
    def lock(
        self, name: str, *, ttl_seconds: float = 60, wait_seconds: float = 30
    ) -> Iterator[None]:
        """Hold ``name`` (a key from `keys`) exclusively; it expires if the holder dies.

        Only the owner (a random token) can release it.
        """
        token = secrets.token_hex(16)

        def take() -> None:
            if self.try_lock(name, ttl_seconds=ttl_seconds, token=token) is None:
                raise TemporaryAdapterError(
                    redis_connection.SERVICE,
                    f"{name} is held by another process; try again",
                    retry_after=1.0,
                )

        retrying.call(take, policy=leasing.waiting_for(wait_seconds), what=f"take {name}")
        try:
            yield
        finally:
            self.unlock(name, token)


# Take the lock, or renew it if this token already holds it (a retried call).
_ACQUIRE = redis_connection.Script("""
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
return 0
""")

# Hand the lock from the holder ARGV[1] to ARGV[2] (a retried call finds it done).
_TAKE_OVER = redis_connection.Script("""
local current = redis.call('get', KEYS[1])
if current == ARGV[1] or current == ARGV[2] then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
""")

# Restart the TTL only while the lock still carries this token.
_RENEW = redis_connection.Script("""
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
return 0
""")

# Delete the lock only if it still carries our token (it may have expired and been re-taken).
_RELEASE = redis_connection.Script("""
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
""")

# ARGV[1] = the status key prefix, ARGV[2..] = agent ids; or KEYS[1] = the registry.
_ALIVE = redis_connection.Script("""
local ids = {}
if #KEYS == 1 then ids = redis.call('hkeys', KEYS[1])
else for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end end
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  if redis.call('hexists', key, 'last_heartbeat') == 1 then
    out[#out + 1] = id
    out[#out + 1] = redis.call('hgetall', key)
  end
end
return out
""")


def _texts(mapping: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    # decode_responses=True already gives str; the client's types do not know that.
    return {str(key): str(value) for key, value in mapping.items()}
