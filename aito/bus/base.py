"""What the bus shares with its callers: the event sink port, handlers, the entry format.

The bus writes its audit events (a request that timed out, a dead letter, a task
given up) through an :class:`EventSink`, so it needs no Postgres of its own: the
wiring passes something that appends to the `events` table, e.g.::

    class MemorySink:                      # in bootstrap, over PostgresMemory
        def append(self, event_type, payload, *, source_agent=None, target_agent=None):
            memory.append_event(event_type=event_type, payload=payload, ...)

The durable copy is always in Redis (a stream entry, a task record); the sink is
called after it, so an event may be missing if the process dies in between, but a
timeout, dead letter or failed task is never lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aito.org.messages import AgentMessage

ID_FIELD = "id"
MESSAGE_FIELD = "message"

Handler = Callable[[AgentMessage], None]
"""Handles one message; raising leaves it pending (retried, dead-lettered after N tries)."""

Read = tuple[str, Mapping[str, str]]
"""A stream entry as read: (entry id, fields)."""


class EventSink(Protocol):
    """Where the bus appends audit events (Postgres `events` in production)."""

    def append(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        source_agent: str | None = None,
        target_agent: str | None = None,
    ) -> None: ...


class NullSink:
    """Drops every event (the default; Redis keeps the durable copy)."""

    def append(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        source_agent: str | None = None,
        target_agent: str | None = None,
    ) -> None:
        return None


class ListSink:
    """Keeps events in a list (tests, the CLI's dry runs)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any], str | None, str | None]] = []

    def append(
        self,
        event_type: str,
        payload: Mapping[str, Any],
        *,
        source_agent: str | None = None,
        target_agent: str | None = None,
    ) -> None:
        self.events.append((event_type, dict(payload), source_agent, target_agent))


def entry_fields(message: AgentMessage) -> dict[str, str]:
    """A message as a stream entry: its id (read by the dedupe script) and its JSON."""
    return {ID_FIELD: message.id, MESSAGE_FIELD: message.to_wire()}


def derived_id(*parts: str) -> str:
    """A message id made from others (deterministic; hashed when it would be too long)."""
    joined = ":".join(parts)
    if len(joined) <= 128:
        return joined
    return f"{parts[-1][:40]}:{hashlib.sha256(joined.encode()).hexdigest()}"
