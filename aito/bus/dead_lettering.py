"""Dead-lettering: stream entries a consumer cannot hand to its handler.

A malformed entry (no id, not an AgentMessage, id mismatch, extra fields) or a poison
one (delivered more than ``max_deliveries`` times, see :mod:`aito.bus.reclaiming`)
goes to `stream:dead-letters` with the reason and raw fields and is acknowledged, in
one script; the consumer carries on. An entry is written only if the XACK took it out
of the pending list, so a retry writes nothing twice. Each one written is logged and
reported to the event sink as ``bus.dead_letter``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from aito.bus import base, keys, redis_connection

log = logging.getLogger(__name__)

DEAD_LETTERS_MAXLEN = 10_000
MISMATCH = "the entry's id field is not the message's id"


def wellformed(fields: Mapping[str, str] | None) -> bool:
    """Whether an entry has exactly an id (1 to 128 characters) and a message field."""
    if not fields or len(fields) != 2 or base.MESSAGE_FIELD not in fields:
        return False
    return 0 < len(fields.get(base.ID_FIELD, "")) <= 128


def reason(fields: Mapping[str, str] | None) -> str:
    """Why an entry that is not :func:`wellformed` is not."""
    fields = fields or {}
    if base.MESSAGE_FIELD not in fields:
        return "no `message` field"
    mid = fields.get(base.ID_FIELD, "")
    if not mid or len(mid) > 128:
        return "no usable `id` field (1 to 128 characters)"
    return f"unexpected fields: {', '.join(sorted(set(fields) - {'id', 'message'}))}"


def invalid(exc: ValidationError) -> str:
    """Why an entry's message is not a valid AgentMessage (its first error)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "message"
    return f"not a valid AgentMessage: {where}: {first.get('msg', 'invalid')}"


def dead_letter(
    conn: redis_connection.Connection,
    *,
    stream: str,
    consumer: str,
    agent_id: str,
    sink: base.EventSink,
    entries: Sequence[tuple[str, Mapping[str, str], str]],
) -> None:
    """Move ``entries`` (entry id, fields, reason) of ``stream`` (a prefixed key) to the
    dead letters and acknowledge them, on behalf of ``consumer``."""
    at = dt.datetime.now(dt.UTC).isoformat()
    source = conn.strip(stream)
    dead = conn.key(keys.DEAD_LETTERS)
    args: list[Any] = [keys.CONSUMER_GROUP, consumer, DEAD_LETTERS_MAXLEN, source, at]
    for eid, fields, why in entries:
        args += [eid, why, _raw(fields)]
    written: Any = conn.run(lambda r: _DEAD(r, keys=[stream, dead], args=args), op="dead-letter")
    for eid, _, why in entries:
        if eid in written:
            log.warning("%s: dead-lettered %s: %s", consumer, eid, why)
            sink.append(
                "bus.dead_letter",
                {"stream": source, "entry_id": eid, "reason": why, "consumer": consumer},
                target_agent=agent_id,
            )


def _raw(fields: Mapping[str, str] | None) -> str:
    return json.dumps(dict(fields or {}), ensure_ascii=False, sort_keys=True)


# KEYS[1] stream, [2] dead letters. ARGV[1] group, [2] consumer, [3] maxlen, [4] source,
# [5] time; then groups of three: entry id, reason, raw fields (JSON). Written only if
# the XACK took the entry out of the pending list, so a retry writes nothing twice.
_DEAD = redis_connection.Script("""
local out = {}
for i = 6, #ARGV, 3 do
  local eid = ARGV[i]
  if redis.call('xack', KEYS[1], ARGV[1], eid) == 1 then
    redis.call('xadd', KEYS[2], 'maxlen', '~', ARGV[3], '*', 'reason', ARGV[i + 1],
               'source', ARGV[4], 'source_entry_id', eid, 'consumer', ARGV[2],
               'raw', ARGV[i + 2], 'at', ARGV[5])
    out[#out + 1] = eid
  end
end
return out
""")
