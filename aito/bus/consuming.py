"""Reading an agent's inbox stream: at-least-once delivery, handled at most once in effect.

One consumer group (`aito`) per agent stream; each process reading it is a
consumer with a unique name. A message stays pending until its handler returned
and the consumer acknowledged it. The guarantees, and how they are kept:

* **Dedupe by message id.** The acknowledgement records the message id in
  `stream:agent:{id}:done` (kept ``dedupe_ttl_seconds``) in the same Lua script as
  the XACK, so "handled" and "acknowledged" cannot disagree. Before handing a batch
  to the handler, one read-only script looks its ids up there: an entry whose
  message was already handled (a second copy: a message sent again with the same
  id) is acknowledged without calling the handler, and so is a second copy within
  one batch. Senders do their part: a `Messenger` send retried after a lost reply
  does not append what already arrived. Two copies
  pending at once and read by two consumers at once are not caught (there is no
  lock per message id); with one consumer per agent, the usual case, they are.
* **Dead consumers.** :meth:`Consumer.reclaim` (run on the first poll and then every
  ``reclaim_every_seconds``) takes over entries idle longer than
  ``claim_idle_seconds`` with XAUTOCLAIM and hands them to the handler again. An
  entry delivered more than ``max_deliveries`` times is dead-lettered. Then
  :meth:`Consumer.tidy` removes the group's consumers that hold no pending entry
  and were idle longer than ``forget_consumers_after_seconds`` (a live one that
  was removed is created again by its next read, and it had nothing to lose).
* **A bounded stream.** The same pass trims the stream (XTRIM MINID) below the
  oldest entry any consumer group still needs: the oldest pending one and the
  group's last-delivered id, whichever is older. Pending and undelivered entries
  are never trimmed; acknowledged ones are kept ``keep_acknowledged_seconds``
  (for :func:`aito.bus.inspecting.tail`, a retried send's look-back and a
  requester reading its own inbox for answers).
* **Malformed entries** (no id, not an AgentMessage, id mismatch, extra fields) go
  to `stream:dead-letters` with the reason and raw fields and are acknowledged, in
  one script; the consumer carries on.
* **Redis away.** Every step retries with backoff (:mod:`aito.retrying`); an
  acknowledgement that could not be written is kept in memory and written first on
  the next poll, so this process never hands the same message to its handler twice.

What remains: a consumer that dies after its handler returned and before the
acknowledgement (at most one batch; ``batch_size=1`` narrows it to one message)
sees those messages handled again by whoever reclaims them; a handler that runs
longer than ``claim_idle_seconds`` may see its message reclaimed by another
consumer meanwhile. Handlers with outside effects should use the message id as
their idempotency key. Redis calls per batch: XREADGROUP, one read-only script,
one script that marks and acknowledges — the cost is per batch, not per message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from aito.bus import base, keys, models, redis_connection
from aito.bus import redis as adapter
from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.org.messages import AgentMessage

log = logging.getLogger(__name__)

DEAD_LETTERS_MAXLEN = 10_000
MAX_BATCH = 1_000
MAX_BLOCK_SECONDS = 5.0
FEW = 16
"""Reads returning fewer entries than this keep the consumer in its light-traffic mode."""

Read = tuple[str, Mapping[str, str]]
"""A stream entry as read: (entry id, fields)."""


@dataclasses.dataclass(frozen=True)
class Tidied:
    """What :meth:`Consumer.tidy` did: entries trimmed, idle consumers removed."""

    trimmed: int = 0
    removed: list[str] = dataclasses.field(default_factory=list)


def consumer_name(agent_id: str) -> str:
    """Unique per process: host, pid and a random suffix."""
    return f"{agent_id}@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Consumer:
    """Reads `stream:agent:{agent_id}` through the group; one instance per process."""

    def __init__(
        self,
        bus: adapter.RedisBus,
        *,
        agent_id: str,
        name: str | None = None,
        batch_size: int = 100,
        claim_idle_seconds: float = 60.0,
        reclaim_every_seconds: float | None = None,
        max_deliveries: int = 5,
        dedupe_ttl_seconds: int = 24 * 3600,
        keep_acknowledged_seconds: float = 300.0,
        forget_consumers_after_seconds: float = 24 * 3600.0,
        sink: base.EventSink | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        self._conn = bus.connection
        self.agent_id = agent_id
        self.name = name or consumer_name(agent_id)
        self.batch_size = batch_size
        self.claim_idle_ms = max(1, int(claim_idle_seconds * 1000))
        self.reclaim_every = (
            claim_idle_seconds / 2 if reclaim_every_seconds is None else reclaim_every_seconds
        )
        self.max_deliveries = max_deliveries
        self.dedupe_ttl_ms = dedupe_ttl_seconds * 1000
        self.keep_acknowledged_ms = max(0, int(keep_acknowledged_seconds * 1000))
        self.forget_consumers_ms = max(0, int(forget_consumers_after_seconds * 1000))
        self._sink = sink if sink is not None else base.NullSink()
        self._monotonic = monotonic
        self._stream = self._conn.key(keys.agent_stream(agent_id))
        self._keys = [self._stream, self._conn.key(keys.handled_messages(agent_id))]
        self._dead = self._conn.key(keys.DEAD_LETTERS)
        self._unacked: list[str] = []  # entry id, message id, …: handled, ack not yet written
        self._copies: list[str] = []  # entry ids of second copies, ack not yet written
        self._last_reclaim: float | None = None
        self._reclaim_cursor = "0-0"
        self._group_ready = False
        self._few = True  # light traffic so far: read few, check in the same round trip
        self._last_read = "0-0"

    # -- the loop -------------------------------------------------------------------

    def run(
        self, handler: base.Handler, *, stop: Callable[[], bool], block_seconds: float = 1.0
    ) -> models.PollResult:
        """Poll until ``stop()``; Redis outages are waited out, never fatal."""
        total = models.PollResult()
        while not stop():
            try:
                total += self.poll(handler, block_seconds=block_seconds)
            except TemporaryAdapterError as exc:
                log.warning("%s: %s; retrying", self.name, exc)
                time.sleep(min(1.0, max(0.05, exc.retry_after)))
        return total

    def poll(self, handler: base.Handler, *, block_seconds: float = 0.0) -> models.PollResult:
        """Handle one batch: reclaimed entries when due, then new ones (waiting up to
        ``block_seconds`` for the first)."""
        self._flush()
        result = models.PollResult()
        now = self._monotonic()
        if self._last_reclaim is None or now - self._last_reclaim >= self.reclaim_every:
            result += self.reclaim(handler)
        entries, done = self._take(block_seconds)
        return result + self._process(entries, handler, done=done)

    def ensure_group(self) -> None:
        """Create the stream's consumer group (from the first entry) unless it exists."""
        self._conn.run(
            lambda r: _GROUP(r, keys=[self._stream], args=[keys.CONSUMER_GROUP]), op="create group"
        )
        self._group_ready = True

    # -- taking new entries -----------------------------------------------------------

    def _take(self, block_seconds: float) -> tuple[list[Read], dict[str, bool] | None]:
        """New entries for this consumer, waiting up to ``block_seconds`` for one; with
        whether each was handled before, when that came along (see `_read_few`)."""
        if not self._group_ready:
            self.ensure_group()
        # capped well below the socket timeout (10 s), which would read as an outage
        seconds = min(block_seconds, MAX_BLOCK_SECONDS)
        block = max(1, int(seconds * 1000)) if block_seconds > 0 else None
        read = self._read_few if self._few else self._read
        try:
            reply, done = read(block)
        except PermanentAdapterError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group()  # the stream was deleted (or Redis lost its data)
            reply, done = read(block)
        # redis-py gives each entry's fields as a dict of str (decode_responses=True)
        entries = [(eid, fields) for _, batch in reply or [] for eid, fields in batch]
        self._few = len(entries) < min(FEW, self.batch_size) or self.batch_size <= FEW
        if entries:
            self._last_read = max(self._last_read, entries[-1][0], key=_id_order)
        return entries, done

    def _read(self, block: int | None) -> tuple[Any, None]:
        """A full batch; the handled-before check follows in its own call."""
        reply = self._conn.run(
            lambda r: r.xreadgroup(
                keys.CONSUMER_GROUP,
                self.name,
                {self._stream: ">"},
                count=self.batch_size,
                block=block,
            ),
            op="read inbox",
        )
        return reply, None

    def _read_few(self, block: int | None) -> tuple[Any, dict[str, bool]]:
        """A few entries and the handled-before check in one round trip (light traffic:
        the latency path). The script runs right after the read on this connection and
        looks at this consumer's pending entries newer than any it read before."""
        after = self._last_read
        args = [keys.CONSUMER_GROUP, self.name, after, 2 * FEW]

        def read(client: redis_connection.Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                pipe.xreadgroup(
                    keys.CONSUMER_GROUP,
                    self.name,
                    {self._stream: ">"},
                    count=min(FEW, self.batch_size),
                    block=block,
                )
                _DONE_AFTER.queue(pipe, keys=self._keys, args=args)
                return list(pipe.execute())

        reply, flags = self._conn.run(read, op="read inbox")
        return reply, {str(e): f == "y" for e, f in zip(flags[::2], flags[1::2], strict=True)}

    # -- reclaiming ----------------------------------------------------------------

    def reclaim(self, handler: base.Handler, *, max_batches: int = 10) -> models.PollResult:
        """Take over entries idle longer than ``claim_idle_seconds`` (a dead consumer's,
        or ours from before a lost reply) and handle them; poison ones are dead-lettered."""
        self._flush()
        self._last_reclaim = self._monotonic()
        result = models.PollResult()
        for _ in range(max_batches):
            start = self._reclaim_cursor
            reply = self._autoclaim(start)
            self._reclaim_cursor = str(reply[0])
            claimed = [(str(eid), fields) for eid, fields in reply[1] if eid is not None]
            if len(claimed) < len(reply[1]) or (len(reply) > 2 and reply[2]):
                self._ack_deleted(start, self._reclaim_cursor)
            if claimed:
                result.reclaimed += len(claimed)
                result += self._process_reclaimed(claimed, handler)
            if self._reclaim_cursor in ("0-0", "0"):
                self._reclaim_cursor = "0-0"
                break
        self.tidy()
        return result

    def tidy(self) -> Tidied:
        """Remove idle consumers without pending entries, and trim what every group is
        done with (see the module's docstring); one script, safe to repeat."""
        if not self._group_ready:
            self.ensure_group()
        args = [
            keys.CONSUMER_GROUP,
            self.name,
            self.forget_consumers_ms,
            self.keep_acknowledged_ms,
        ]
        reply: Any = self._conn.run(lambda r: _TIDY(r, keys=[self._stream], args=args), op="tidy")
        tidied = Tidied(trimmed=int(reply[0]), removed=[str(n) for n in reply[1:]])
        for name in tidied.removed:
            log.info("%s: removed idle consumer %s (nothing pending)", self.name, name)
        return tidied

    def _autoclaim(self, start: str) -> Any:
        if not self._group_ready:
            self.ensure_group()
        return self._conn.run(
            lambda r: r.xautoclaim(
                self._stream,
                keys.CONSUMER_GROUP,
                self.name,
                self.claim_idle_ms,
                start,
                count=self.batch_size,
            ),
            op="reclaim",
        )

    def _process_reclaimed(
        self, claimed: Sequence[Read], handler: base.Handler
    ) -> models.PollResult:
        first, last = claimed[0][0], claimed[-1][0]
        pending: Any = self._conn.run(
            lambda r: r.xpending_range(
                self._stream,
                keys.CONSUMER_GROUP,
                min=first,
                max=last,
                count=len(claimed) * 2,
                consumername=self.name,
            ),
            op="read deliveries",
        )
        deliveries = {str(p["message_id"]): int(p["times_delivered"]) for p in pending}
        poison = [
            (eid, fields, deliveries[eid])
            for eid, fields in claimed
            if deliveries.get(eid, 1) > self.max_deliveries
        ]
        result = models.PollResult()
        if poison:
            self._dead_letter(
                [
                    (eid, fields, f"not acknowledged after {n} deliveries")
                    for eid, fields, n in poison
                ]
            )
            result.dead_lettered += len(poison)
        poisoned = {eid for eid, _, _ in poison}
        rest = [(eid, fields) for eid, fields in claimed if eid not in poisoned]
        return result + self._process(rest, handler) if rest else result

    def _ack_deleted(self, start: str, end: str) -> None:
        # Redis 6.2's XAUTOCLAIM returns deleted entries as nil and keeps them pending.
        mine: Any = self._conn.run(
            lambda r: r.xpending_range(
                self._stream,
                keys.CONSUMER_GROUP,
                min=start,
                max="+" if end in ("0-0", "0") else end,
                count=self.batch_size * 2,
                consumername=self.name,
            ),
            op="read deliveries",
        )
        ids = [str(entry["message_id"]) for entry in mine]

        def ranges(pipe: redis_connection.Pipeline) -> None:
            for eid in ids:
                pipe.xrange(self._stream, eid, eid)

        found = self._conn.batch(ranges, op="read entries")
        gone = [eid for eid, entries in zip(ids, found, strict=True) if not entries]
        if gone:
            self._conn.run(
                lambda r: r.xack(self._stream, keys.CONSUMER_GROUP, *gone), op="acknowledge"
            )

    # -- handling ----------------------------------------------------------------------

    def _process(
        self,
        entries: Sequence[Read],
        handler: base.Handler,
        *,
        done: Mapping[str, bool] | None = None,
    ) -> models.PollResult:
        result = models.PollResult()
        if not entries:
            return result
        if done is not None and all(eid in done for eid, _ in entries):
            flags = ["y" if done[eid] else "n" for eid, _ in entries]
        else:
            flags = list(self._already_done([f.get(base.ID_FIELD, "") for _, f in entries]))
        handled: list[str] = []  # entry id, message id, …
        copies: list[str] = []  # entry ids
        dead: list[tuple[str, Mapping[str, str], str]] = []
        in_batch: set[str] = set()
        for (eid, fields), was_done in zip(entries, flags, strict=True):
            if not _wellformed(fields):
                dead.append((eid, fields, _reason(fields)))
                continue
            mid = fields[base.ID_FIELD]
            if was_done == "y" or mid in in_batch:  # a second copy: acknowledge, not handle
                copies.append(eid)
                result.duplicates += 1
                continue
            try:
                message = AgentMessage.from_wire(fields[base.MESSAGE_FIELD])
            except ValidationError as exc:
                dead.append((eid, fields, _invalid(exc)))
                continue
            if message.id != mid:
                dead.append((eid, fields, _MISMATCH))
                continue
            in_batch.add(mid)
            try:
                handler(message)
            except Exception:
                log.exception("%s: handler failed on %s; it stays pending", self.name, mid)
                result.failed += 1
                continue
            handled += (eid, mid)
            result.handled += 1
        if dead:
            self._dead_letter(dead)
            result.dead_lettered += len(dead)
        self._unacked += handled
        self._copies += copies
        self._flush()
        return result

    def _already_done(self, message_ids: list[str]) -> str:
        """One letter per id: ``y`` if it was handled within the dedupe window (read-only)."""
        looked_up = [mid if 0 < len(mid) <= 128 else "" for mid in message_ids]
        if not any(looked_up):
            return "n" * len(message_ids)
        args = [json.dumps(looked_up)]  # one argument: cheaper to send than one per id
        found: Any = self._conn.run(
            lambda r: _DONE(r, keys=self._keys, args=args), op="look up handled messages"
        )
        return str(found)

    def _flush(self) -> None:
        """Write the acknowledgements owed, each handled one with its `done` mark, atomically."""
        if not (self._unacked or self._copies):
            return
        args = [
            keys.CONSUMER_GROUP,
            self.dedupe_ttl_ms,
            json.dumps(self._unacked),
            json.dumps(self._copies),
        ]
        twice: Any = self._conn.run(
            lambda r: _COMPLETE(r, keys=self._keys, args=args), op="acknowledge"
        )
        self._unacked, self._copies = [], []
        for message_id in twice:  # two copies, two consumers, at the same time
            log.warning("%s: message %s was handled by two consumers", self.name, message_id)
            self._sink.append(
                "bus.handled_twice",
                {"message_id": message_id, "consumer": self.name},
                target_agent=self.agent_id,
            )

    def _dead_letter(self, entries: Sequence[tuple[str, Mapping[str, str], str]]) -> None:
        at = dt.datetime.now(dt.UTC).isoformat()
        source = self._conn.strip(self._stream)
        args: list[Any] = [keys.CONSUMER_GROUP, self.name, DEAD_LETTERS_MAXLEN, source, at]
        for eid, fields, reason in entries:
            args += [eid, reason, _raw(fields)]
        written: Any = self._conn.run(
            lambda r: _DEAD(r, keys=[self._stream, self._dead], args=args), op="dead-letter"
        )
        for eid, _, reason in entries:
            if eid in written:
                log.warning("%s: dead-lettered %s: %s", self.name, eid, reason)
                self._sink.append(
                    "bus.dead_letter",
                    {"stream": source, "entry_id": eid, "reason": reason, "consumer": self.name},
                    target_agent=self.agent_id,
                )


_MISMATCH = "the entry's id field is not the message's id"


def _id_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _wellformed(fields: Mapping[str, str] | None) -> bool:
    if not fields or len(fields) != 2 or base.MESSAGE_FIELD not in fields:
        return False
    return 0 < len(fields.get(base.ID_FIELD, "")) <= 128


def _reason(fields: Mapping[str, str] | None) -> str:
    fields = fields or {}
    if base.MESSAGE_FIELD not in fields:
        return "no `message` field"
    mid = fields.get(base.ID_FIELD, "")
    if not mid or len(mid) > 128:
        return "no usable `id` field (1 to 128 characters)"
    return f"unexpected fields: {', '.join(sorted(set(fields) - {'id', 'message'}))}"


def _invalid(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "message"
    return f"not a valid AgentMessage: {where}: {first.get('msg', 'invalid')}"


def _raw(fields: Mapping[str, str] | None) -> str:
    return json.dumps(dict(fields or {}), ensure_ascii=False, sort_keys=True)


# Create the group reading from the start; an existing group is left as it is.
_GROUP = redis_connection.Script("""
local ok = redis.pcall('xgroup', 'create', KEYS[1], ARGV[1], '0', 'MKSTREAM')
if type(ok) == 'table' and ok.err and not string.find(ok.err, 'BUSYGROUP') then
  return redis.error_reply(ok.err)
end
return 1
""")

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
