"""Tidying an inbox stream: idle consumers forgotten, the stream kept bounded.

:func:`tidy` (run by :meth:`aito.bus.consuming.Consumer.reclaim` after each pass, and
callable on its own) does both in one Lua script, safe to repeat:

* it removes the group's consumers that hold no pending entry and were idle longer
  than ``forget_consumers_ms`` (a live one that was removed is created again by its
  next read, and it had nothing to lose);
* it trims the stream (XTRIM MINID) below the oldest entry any consumer group still
  needs: the oldest pending one and the group's last-delivered id, whichever is
  older. Pending and undelivered entries are never trimmed; acknowledged ones are
  kept ``keep_acknowledged_ms`` (for :func:`aito.bus.inspecting.tail`, a retried
  send's look-back and a requester reading its own inbox for answers).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from aito.bus import keys, redis_connection

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Tidied:
    """What :func:`tidy` did: entries trimmed, idle consumers removed."""

    trimmed: int = 0
    removed: list[str] = dataclasses.field(default_factory=list)


def tidy(
    conn: redis_connection.Connection,
    *,
    stream: str,
    consumer: str,
    forget_consumers_ms: int,
    keep_acknowledged_ms: int,
) -> Tidied:
    """Tidy ``stream`` (a prefixed key) on behalf of ``consumer`` (never removed itself)."""
    args = [keys.CONSUMER_GROUP, consumer, forget_consumers_ms, keep_acknowledged_ms]
    reply: Any = conn.run(lambda r: _TIDY(r, keys=[stream], args=args), op="tidy")
    tidied = Tidied(trimmed=int(reply[0]), removed=[str(n) for n in reply[1:]])
    for name in tidied.removed:
        log.info("%s: removed idle consumer %s (nothing pending)", consumer, name)
    return tidied


# KEYS[1] stream. ARGV[1] our group, [2] this consumer, [3] idle ms after which a
# consumer of our group with nothing pending is removed, [4] ms an acknowledged entry
# is kept. Trims (MINID, exact) below the oldest entry any group may still need: its
# oldest pending entry, or its last-delivered one. Returns {trimmed,
# removed consumer, ...}.
_TIDY = redis_connection.Script("""
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function older(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
if redis.call('exists', KEYS[1]) == 0 then return {0} end
local groups = {}
for _, flat in ipairs(redis.call('xinfo', 'groups', KEYS[1])) do
  local info = {}
  for i = 1, #flat, 2 do info[flat[i]] = flat[i + 1] end
  groups[#groups + 1] = info
end
local removed = {}
for _, group in ipairs(groups) do
  if group['name'] == ARGV[1] then
    for _, flat in ipairs(redis.call('xinfo', 'consumers', KEYS[1], ARGV[1])) do
      local info = {}
      for i = 1, #flat, 2 do info[flat[i]] = flat[i + 1] end
      if info['name'] ~= ARGV[2] and tonumber(info['pending']) == 0
         and tonumber(info['idle']) > tonumber(ARGV[3]) then
        redis.call('xgroup', 'delconsumer', KEYS[1], ARGV[1], info['name'])
        removed[#removed + 1] = info['name']
      end
    end
  end
end
if #groups == 0 then return {0, unpack(removed)} end
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local floor = string.format('%.0f', math.max(0, now - tonumber(ARGV[4]))) .. '-0'
for _, group in ipairs(groups) do
  if older(group['last-delivered-id'], floor) then floor = group['last-delivered-id'] end
  local summary = redis.call('xpending', KEYS[1], group['name'])
  if summary[2] and older(summary[2], floor) then floor = summary[2] end
end
local trimmed = redis.call('xtrim', KEYS[1], 'minid', floor)
return {trimmed, unpack(removed)}
""")
