"""Response deadlines: which requests are still open, and the timeout sweep.

`Messenger` records each request with a deadline per recipient in
`requests:deadlines` (a zset by deadline) and `requests:pending` (its record);
an answer clears it. :func:`expire` turns the ones past their deadline into a
`response_timeout` alert in the sender's stream and a `bus.response_timeout` event,
exactly once however many processes sweep at the same time.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from pydantic import ValidationError

from aito.bus import base, keys, models, redis_connection
from aito.org.messages import AgentMessage, MessageType, Priority

log = logging.getLogger(__name__)

SWEEP_BATCH = 500
BUS_SENDER = "bus"
"""The ``from`` of messages the bus itself writes (timeouts)."""


def open_requests(conn: redis_connection.Connection) -> list[models.RequestTimeout]:
    """Requests still waiting for an answer, earliest deadline first."""
    raw: Any = conn.run(lambda r: r.hvals(conn.key(keys.REQUESTS_PENDING)), op="read requests")
    found = [timeout for text in raw if (timeout := _timeout(text)) is not None]
    return sorted(found, key=lambda r: r.deadline)


def expire(
    conn: redis_connection.Connection, *, now: dt.datetime, sink: base.EventSink
) -> list[models.RequestTimeout]:
    """Every request unanswered at ``now`` becomes a timeout (once); returns this call's."""
    expired: list[models.RequestTimeout] = []
    while True:
        seen, batch = _expire_batch(conn, now)
        expired += batch
        if seen < SWEEP_BATCH:
            break
    for timeout in expired:
        sink.append(
            "bus.response_timeout",
            timeout.model_dump(mode="json"),
            source_agent=timeout.recipient,
            target_agent=timeout.sender,
        )
    return expired


def _expire_batch(
    conn: redis_connection.Connection, now: dt.datetime
) -> tuple[int, list[models.RequestTimeout]]:
    deadlines = conn.key(keys.REQUEST_DEADLINES)
    pending = conn.key(keys.REQUESTS_PENDING)
    found: Any = conn.run(
        lambda r: r.zrangebyscore(deadlines, "-inf", models.epoch(now), 0, SWEEP_BATCH),
        op="read deadlines",
    )
    due = [str(member) for member in found]
    if not due:
        return 0, []
    infos: Any = conn.run(lambda r: r.hmget(pending, due), op="read requests")
    args: list[str] = []
    timeouts: dict[str, models.RequestTimeout] = {}
    for member, info in zip(due, infos, strict=True):
        timeout = _timeout(info)
        if timeout is None:  # unreadable: drop it, nobody to tell
            args += [member, "", "", "", ""]
            continue
        alert = _timeout_alert(timeout, now=now)
        timeouts[member] = timeout
        args += [
            member,
            conn.key(keys.agent_stream(timeout.sender)),
            conn.key(keys.agent_channel(timeout.sender)),
            alert.id,
            alert.to_wire(),
        ]
    done: Any = conn.run(
        lambda r: _EXPIRE(r, keys=[deadlines, pending], args=args), op="expire requests"
    )
    return len(due), [timeouts[member] for member in done if member in timeouts]


def _timeout(info: str | None) -> models.RequestTimeout | None:
    if info is None:
        return None
    try:
        return models.RequestTimeout.model_validate_json(info)
    except ValidationError as exc:
        log.warning("dropping an unreadable request record %r: %s", info[:200], exc)
        return None


def _timeout_alert(timeout: models.RequestTimeout, *, now: dt.datetime) -> AgentMessage:
    return AgentMessage.model_validate(
        {
            "id": base.derived_id("timeout", timeout.request_id, timeout.recipient),
            "type": MessageType.ALERT,
            "from": BUS_SENDER,
            "to": timeout.sender,
            "payload": {
                "event": "response_timeout",
                "request_id": timeout.request_id,
                "recipient": timeout.recipient,
                "deadline": timeout.deadline.isoformat(),
            },
            "priority": Priority.HIGH,
            "timestamp": max(now, timeout.deadline),
            "correlation_id": timeout.request_id,
        }
    )


# KEYS: requests:deadlines, requests:pending. ARGV: groups of five per request:
# member, sender stream, sender channel, alert id, alert JSON (stream "" = just drop it).
# Only the caller whose ZREM removes the member writes the alert: exactly one timeout.
_EXPIRE = redis_connection.Script("""
local out = {}
for i = 1, #ARGV, 5 do
  local member = ARGV[i]
  if redis.call('zrem', KEYS[1], member) == 1 then
    redis.call('hdel', KEYS[2], member)
    if ARGV[i + 1] ~= '' then
      redis.call('xadd', ARGV[i + 1], '*', 'id', ARGV[i + 3], 'message', ARGV[i + 4])
      redis.call('publish', ARGV[i + 2], ARGV[i + 3])
    end
    out[#out + 1] = member
  end
end
return out
""")
