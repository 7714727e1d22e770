"""Read-only views for people and tools: an inbox's newest entries, what is pending
(with idle time and delivery count), the dead letters. Nothing here claims or acks.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError

from aito.bus import base, keys, models, redis_connection
from aito.bus import redis as adapter
from aito.org.messages import AgentMessage


@dataclasses.dataclass(frozen=True)
class StreamEntry:
    """One inbox entry: the message, or the raw fields and why they are unreadable."""

    entry_id: str
    message: AgentMessage | None
    raw: dict[str, str]
    problem: str | None = None


def tail(bus: adapter.RedisBus, agent_id: str, *, count: int = 20) -> list[StreamEntry]:
    """The newest ``count`` entries of `stream:agent:{agent_id}`, oldest first."""
    stream = bus.connection.key(keys.agent_stream(agent_id))
    entries: Any = bus.connection.run(lambda r: r.xrevrange(stream, count=count), op="read inbox")
    found = []
    for entry_id, fields in reversed(list(entries or [])):
        raw = {str(k): str(v) for k, v in (fields or {}).items()}
        try:
            message = AgentMessage.from_wire(raw[base.MESSAGE_FIELD])
            found.append(StreamEntry(str(entry_id), message, raw))
        except (KeyError, ValidationError) as exc:
            problem = "no `message` field" if isinstance(exc, KeyError) else "invalid message"
            found.append(StreamEntry(str(entry_id), None, raw, problem))
    return found


def pending(bus: adapter.RedisBus, agent_id: str, *, count: int = 100) -> list[models.PendingEntry]:
    """Entries delivered to a consumer of ``agent_id``'s stream and not acknowledged."""
    stream = bus.connection.key(keys.agent_stream(agent_id))

    def read(client: redis_connection.Client) -> Any:
        if not _has_group(client, stream):
            return []
        return client.xpending_range(stream, keys.CONSUMER_GROUP, "-", "+", count)

    rows: Any = bus.connection.run(read, op="read pending")
    if not rows:
        return []
    ids = [str(row["message_id"]) for row in rows]

    def fetch(pipe: redis_connection.Pipeline) -> None:
        for entry_id in ids:
            pipe.xrange(stream, entry_id, entry_id)

    bodies = bus.connection.batch(fetch, op="read entries")
    found = []
    for row, body in zip(rows, bodies, strict=True):
        fields = dict(body[0][1]) if body else {}
        message_type = None
        if base.MESSAGE_FIELD in fields:
            try:
                message_type = AgentMessage.from_wire(fields[base.MESSAGE_FIELD]).type.value
            except ValidationError:
                message_type = None
        found.append(
            models.PendingEntry(
                entry_id=str(row["message_id"]),
                consumer=str(row["consumer"]),
                idle_ms=int(row["time_since_delivered"]),
                deliveries=int(row["times_delivered"]),
                message_id=fields.get(base.ID_FIELD),
                type=message_type,
            )
        )
    return found


def dead_letters(bus: adapter.RedisBus, *, count: int = 20) -> list[models.DeadLetter]:
    """The newest ``count`` dead letters, oldest first."""
    stream = bus.connection.key(keys.DEAD_LETTERS)
    entries: Any = bus.connection.run(
        lambda r: r.xrevrange(stream, count=count), op="read dead letters"
    )
    found = []
    for entry_id, fields in reversed(list(entries or [])):
        try:
            found.append(models.DeadLetter.model_validate({"entry_id": entry_id, **fields}))
        except ValidationError:
            found.append(
                models.DeadLetter(
                    entry_id=str(entry_id),
                    reason="(unreadable dead letter)",
                    source="",
                    source_entry_id="",
                    consumer="",
                    raw=str(fields),
                    at=models.from_epoch(int(str(entry_id).split("-")[0]) / 1000),
                )
            )
    return found


@dataclasses.dataclass(frozen=True)
class ConsumerView:
    """One consumer of an inbox's group: its pending entries and idle time."""

    name: str
    pending: int
    idle_ms: int


def consumers(bus: adapter.RedisBus, agent_id: str) -> list[ConsumerView]:
    """The consumers of ``agent_id``'s stream group (none before the group exists)."""
    stream = bus.connection.key(keys.agent_stream(agent_id))

    def read(client: redis_connection.Client) -> Any:
        if not _has_group(client, stream):
            return []
        return client.xinfo_consumers(stream, keys.CONSUMER_GROUP)

    rows: Any = bus.connection.run(read, op="read consumers")
    return [
        ConsumerView(name=str(row["name"]), pending=int(row["pending"]), idle_ms=int(row["idle"]))
        for row in rows
    ]


def length(bus: adapter.RedisBus, agent_id: str) -> int:
    """How many entries `stream:agent:{agent_id}` holds (acknowledged ones included)."""
    stream = bus.connection.key(keys.agent_stream(agent_id))
    return int(bus.connection.run(lambda r: r.xlen(stream), op="read inbox"))


def _has_group(client: redis_connection.Client, stream: str) -> bool:
    """Whether ``stream`` exists with AITO's consumer group (both come with the first read)."""
    if not client.exists(stream):
        return False
    return any(str(g["name"]) == keys.CONSUMER_GROUP for g in client.xinfo_groups(stream))
