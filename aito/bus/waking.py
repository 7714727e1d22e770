"""Wake-ups on events: a message, task or decision result for an agent starts its run.

On GitHub Actions an agent runs when its workflow (`agent-<id>.yml`) is triggered; besides
its schedule, a `repository_dispatch` event of type `aito-wake-<id>` starts it. The
:class:`Waker` port is the bus's own (``RedisBus.waker``, set by :mod:`aito.bootstrap`):
whatever the bus delivers to agents — a message, task or alert an agent's run sends
(:class:`aito.bus.streams.Messenger`), a decision result the tally announces
(``RedisBus.deliver``), a message from `aito bus send` — wakes its recipients, with the
sender's id naming whose account sends the wake. The GitHub adapter
(:class:`aito.forge.github_waking.GitHubWakes`) sends the event.

:class:`DebouncedWaker` keeps at most **one pending wake per agent**: the first event sets
`wake:pending:{id}` (SET NX, expiring after the agent's job timeout) and sends the
dispatch; later events find the key and send nothing. The agent's run deletes the key when
it starts (:meth:`Waker.started`), so an event arriving during a run wakes it again
afterwards (GitHub queues that run behind the current one: one concurrency group per agent).
If the run never starts, the key expires and the next event dispatches again.

A wake that cannot be sent is logged and its key dropped, never raised: the message is
already in the agent's durable stream and its scheduled run reads it in any case.

On the local forge the organization runs under `aito daemon`/the demo, whose runs listen
on the bus's pub/sub nudges, so there is nothing to dispatch: :class:`NoWaker`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Protocol

from aito.bus import keys, redis_connection
from aito.errors import AdapterError, AitoError

if TYPE_CHECKING:  # the bus holds its waker: no import at run time (a cycle)
    from aito.bus import redis as adapter

log = logging.getLogger(__name__)

MAX_FIELD = 200
"""Payload fields are ids and reasons (never message text or secrets), cut to this length."""


class WakeSender(Protocol):
    """Sends one wake-up (on GitHub: a repository_dispatch event) for ``agent_id``.

    ``sender``: the agent whose account sends it (its messages go out with its own token),
    or None for the governance bot (the tally's results)."""

    def __call__(self, *, agent_id: str, reason: str, source: str, sender: str | None) -> None: ...


class Waker(Protocol):
    def wake(
        self, agents: Collection[str], *, reason: str, source: str, sender: str | None
    ) -> list[str]:
        """Wake each of ``agents`` that has no wake pending; returns those woken."""
        ...

    def started(self, agent_id: str) -> None:
        """The agent's run started: the next event wakes it again."""
        ...


class NoWaker:
    """Sends nothing (the local forge: runs there are started by the daemon or by hand)."""

    def wake(
        self, agents: Collection[str], *, reason: str, source: str, sender: str | None
    ) -> list[str]:
        return []

    def started(self, agent_id: str) -> None:
        return None


class DebouncedWaker:
    """One pending wake per agent, kept in Redis; ``ttl_seconds`` names the agents that can
    be woken (those with a workflow of their own) and how long a wake stays pending."""

    def __init__(
        self, bus: adapter.RedisBus, *, send: WakeSender, ttl_seconds: Mapping[str, float]
    ) -> None:
        self._conn = bus.connection
        self._send = send
        self._ttl = dict(ttl_seconds)

    def wake(
        self, agents: Collection[str], *, reason: str, source: str, sender: str | None
    ) -> list[str]:
        woken = []
        for agent in sorted(set(agents)):
            if agent not in self._ttl:
                continue  # a worker, or an agent without a loop: nothing to dispatch
            try:
                if not self._claim(agent, source):
                    continue  # a wake is already pending
            except AdapterError as exc:
                log.warning("wake %s for %s: could not reach Redis (%s)", agent, source, exc)
                continue
            try:
                self._send(
                    agent_id=agent,
                    reason=reason[:MAX_FIELD],
                    source=source[:MAX_FIELD],
                    sender=sender,
                )
            except AitoError as exc:  # the forge, or a token the sender does not hold
                # The message is in the agent's stream; its schedule will read it.
                log.warning(
                    "wake %s for %s failed (%s); its schedule will run it", agent, source, exc
                )
                self.started(agent)  # let the next event try again
                continue
            woken.append(agent)
        return woken

    def started(self, agent_id: str) -> None:
        key = self._conn.key(keys.wake_pending(agent_id))
        try:
            self._conn.run(lambda client: client.delete(key), op="clear a pending wake")
        except AdapterError as exc:  # the key expires after the agent's timeout anyway
            log.warning("could not clear the pending wake of %s (%s)", agent_id, exc)

    def pending(self, agent_id: str) -> bool:
        key = self._conn.key(keys.wake_pending(agent_id))
        return bool(self._conn.run(lambda client: client.exists(key), op="read a pending wake"))

    def _claim(self, agent: str, source: str) -> bool:
        """Set the agent's pending key unless set; a retried SET that finds its own value
        (the first reply was lost) still counts as claimed."""
        key = self._conn.key(keys.wake_pending(agent))
        value = f"{uuid.uuid4().hex} {source[:MAX_FIELD]}"
        ttl_ms = max(1, int(self._ttl[agent] * 1000))

        def claim(client: redis_connection.Client) -> bool:
            if client.set(key, value, nx=True, px=ttl_ms):
                return True
            held = client.get(key)
            return (held.decode() if isinstance(held, bytes) else held) == value

        return bool(self._conn.run(claim, op="claim a wake"))


def wake_ttls(timeouts_minutes: Mapping[str, int]) -> dict[str, float]:
    """Pending-wake lifetimes from the agents' job timeouts (minutes)."""
    return {agent: minutes * 60.0 for agent, minutes in timeouts_minutes.items()}
