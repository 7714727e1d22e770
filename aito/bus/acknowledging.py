"""Acknowledging what a consumer handled: the handled-message marks and the XACK, in one step.

An agent's handled message ids live in `stream:agent:{id}:done` (a sorted set: message
id -> ms, kept for the dedupe window). :func:`complete` records each handled id there
in the same Lua script as its XACK, so "handled" and "acknowledged" cannot disagree;
second copies are acknowledged without a mark. :func:`already_done` and
:func:`queue_done_after` are the read-only look-ups that tell, before a batch goes to
the handler, which of its messages were handled already (see :mod:`aito.bus.consuming`
for how the consumer uses them). Each script takes ``stream_keys``: the stream, then
its handled-ids set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aito.bus import keys, redis_connection


def already_done(
    conn: redis_connection.Connection, *, stream_keys: Sequence[str], message_ids: list[str]
) -> str:
    """One letter per id: ``y`` if it was handled within the dedupe window (read-only)."""
    looked_up = [mid if 0 < len(mid) <= 128 else "" for mid in message_ids]
    if not any(looked_up):
        return "n" * len(message_ids)
    args = [json.dumps(looked_up)]  # one argument: cheaper to send than one per id
    found: Any = conn.run(
        lambda r: _DONE(r, keys=stream_keys, args=args), op="look up handled messages"
    )
    return str(found)


def queue_done_after(
    pipe: redis_connection.Pipeline,
    *,
    stream_keys: Sequence[str],
    consumer: str,
    after: str,
    count: int,
) -> None:
    """Add to ``pipe``, right after a read, the look-up of ``consumer``'s pending entries
    newer than ``after`` (those the read delivered): its reply is ``[entry id, y|n, …]``,
    ``y`` for an entry whose message was handled before. Read-only."""
    args = [keys.CONSUMER_GROUP, consumer, after, count]
    _DONE_AFTER.queue(pipe, keys=stream_keys, args=args)


def complete(
    conn: redis_connection.Connection,
    *,
    stream_keys: Sequence[str],
    dedupe_ttl_ms: int,
    handled: list[str],
    copies: list[str],
) -> list[Any]:
    """Mark each handled message (``handled``: entry id, message id, …) and acknowledge
    its entry, and acknowledge the second ``copies`` (entry ids), atomically; safe to
    repeat. Returns the message ids that were marked already (two consumers handled
    two copies at once)."""
    args = [keys.CONSUMER_GROUP, dedupe_ttl_ms, json.dumps(handled), json.dumps(copies)]
    twice: Any = conn.run(lambda r: _COMPLETE(r, keys=stream_keys, args=args), op="acknowledge")
    return list(twice)


# KEYS[1] stream, [2] handled message ids (zset: id -> ms). ARGV[1] JSON [message id
# ('' = none), ...]. One letter per id: y(es, handled) or n(o). Read-only, so it
# costs no AOF write (no fsync) on the way to the handler. ZMSCORE needs Redis 6.2.
_DONE = redis_connection.Script("""
local ids = cjson.decode(ARGV[1])
local ask, at, out = {}, {}, {}
for i, id in ipairs(ids) do
  out[i] = 'n'
  if id ~= '' then
    ask[#ask + 1] = id
    at[#at + 1] = i
  end
end
for first = 1, #ask, 500 do
  local last = math.min(first + 499, #ask)
  local scores = redis.call('zmscore', KEYS[2], unpack(ask, first, last))
  for j = first, last do
    if scores[j - first + 1] then out[at[j]] = 'y' end
  end
end
return table.concat(out)
""")

# KEYS as above. ARGV[1] group, [2] consumer, [3] entry id, [4] count: for this
# consumer's pending entries newer than [3] (those the read just before delivered),
# {entry id, y|n (handled before), ...}. Read-only. Reads message bodies in Lua, which
# is cheap for the few entries it is used for.
_DONE_AFTER = redis_connection.Script("""
local out = {}
local pending = redis.call('xpending', KEYS[1], ARGV[1], '(' .. ARGV[3], '+', ARGV[4], ARGV[2])
for _, entry in ipairs(pending) do
  local found = redis.call('xrange', KEYS[1], entry[1], entry[1])
  local handled = false
  if found[1] then
    local fields = found[1][2]
    for i = 1, #fields, 2 do
      if fields[i] == 'id' then handled = redis.call('zscore', KEYS[2], fields[i + 1]) end
    end
  end
  out[#out + 1] = entry[1]
  out[#out + 1] = handled and 'y' or 'n'
end
return out
""")

# KEYS as above. ARGV[1] group, [2] dedupe window ms, [3] JSON [entry id, message id,
# ...] handled: each id marked handled and its entry acknowledged, in one step;
# [4] JSON [entry id, ...] second copies: acknowledged only. Marks older than the
# window are trimmed; the set expires no sooner than a window after its newest mark.
# Returns the handled ids that were marked already (two consumers handled two copies
# at once). Safe to repeat after a lost reply.
_COMPLETE = redis_connection.Script("""
local done, copies = cjson.decode(ARGV[3]), cjson.decode(ARGV[4])
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local twice = {}
local function ack(eids)
  for first = 1, #eids, 500 do
    redis.call('xack', KEYS[1], ARGV[1], unpack(eids, first, math.min(first + 499, #eids)))
  end
end
for first = 1, #done, 1000 do
  local last = math.min(first + 999, #done)
  local ids, marks, eids = {}, {}, {}
  for i = first, last, 2 do
    ids[#ids + 1] = done[i + 1]
    eids[#eids + 1] = done[i]
    marks[#marks + 1] = now
    marks[#marks + 1] = done[i + 1]
  end
  local before = redis.call('zmscore', KEYS[2], unpack(ids))
  for j = 1, #ids do
    -- marked before, and this entry still pending: not our own retry, a second handling
    if before[j] and #redis.call('xpending', KEYS[1], ARGV[1], eids[j], eids[j], 1) > 0 then
      twice[#twice + 1] = ids[j]
    end
  end
  redis.call('zadd', KEYS[2], 'nx', unpack(marks))
  ack(eids)
end
ack(copies)
redis.call('zremrangebyscore', KEYS[2], '-inf', now - tonumber(ARGV[2]))
-- the set outlives its newest mark by a window at least: renewed to two windows once
-- less than one is left, not on every ack (each renewal is a write to sync to disk)
if redis.call('pttl', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('pexpire', KEYS[2], 2 * tonumber(ARGV[2]))
end
return twice
""")
