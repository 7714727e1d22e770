"""Reading an agent's inbox stream: at-least-once delivery, handled at most once in effect.

One consumer group (`aito`) per agent stream; each process reading it is a
consumer with a unique name. A message stays pending until its handler returned
and the consumer acknowledged it. The guarantees, and how they are kept:

* **Dedupe by message id** (:mod:`aito.bus.acknowledging`). The acknowledgement
  records the message id in `stream:agent:{id}:done` (kept ``dedupe_ttl_seconds``) in
  the same Lua script as the XACK, so "handled" and "acknowledged" cannot disagree.
  Before handing a batch to the handler, one read-only script looks its ids up
  there: an entry whose message was already handled (a second copy: a message sent
  again with the same id) is acknowledged without calling the handler, and so is a
  second copy within one batch. Senders do their part: a `Messenger` send retried
  after a lost reply does not append what already arrived. Two copies pending at
  once and read by two consumers at once are not caught (there is no lock per
  message id); with one consumer per agent, the usual case, they are.
* **Dead consumers** (:mod:`aito.bus.reclaiming`). :meth:`Consumer.reclaim` (run on
  the first poll and then every ``reclaim_every_seconds``) takes over entries idle
  longer than ``claim_idle_seconds`` with XAUTOCLAIM and hands them to the handler
  again. An entry delivered more than ``max_deliveries`` times is dead-lettered.
  Then :meth:`Consumer.tidy` (:mod:`aito.bus.tidying`) removes the group's consumers
  that hold no pending entry and were idle longer than
  ``forget_consumers_after_seconds`` (a live one that was removed is created again
  by its next read, and it had nothing to lose).
* **A bounded stream.** The same pass trims the stream (XTRIM MINID) below the
  oldest entry any consumer group still needs: the oldest pending one and the
  group's last-delivered id, whichever is older. Pending and undelivered entries
  are never trimmed; acknowledged ones are kept ``keep_acknowledged_seconds``
  (for :func:`aito.bus.inspecting.tail`, a retried send's look-back and a
  requester reading its own inbox for answers).
* **Malformed entries** (:mod:`aito.bus.dead_lettering`: no id, not an AgentMessage,
  id mismatch, extra fields) go to `stream:dead-letters` with the reason and raw
  fields and are acknowledged, in one script; the consumer carries on.
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

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from aito.bus import (
    acknowledging,
    base,
    dead_lettering,
    keys,
    models,
    reclaiming,
    redis_connection,
    tidying,
)
from aito.bus import redis as adapter
from aito.errors import PermanentAdapterError, TemporaryAdapterError
from aito.org.messages import AgentMessage

log = logging.getLogger(__name__)

MAX_BATCH = 1_000
MAX_BLOCK_SECONDS = 5.0
FEW = 16
"""Reads returning fewer entries than this keep the consumer in its light-traffic mode."""


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
        self._unacked: list[str] = []  # entry id, message id, …: handled, ack not yet written
        self._copies: list[str] = []  # entry ids of second copies, ack not yet written
        self._last_reclaim: float | None = None
        self._reclaimer = reclaiming.Reclaimer(
            self._conn,
            stream=self._stream,
            consumer=self.name,
            claim_idle_ms=self.claim_idle_ms,
            batch_size=batch_size,
            max_deliveries=max_deliveries,
        )
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

    def _take(self, block_seconds: float) -> tuple[list[base.Read], dict[str, bool] | None]:
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

        def read(client: redis_connection.Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                pipe.xreadgroup(
                    keys.CONSUMER_GROUP,
                    self.name,
                    {self._stream: ">"},
                    count=min(FEW, self.batch_size),
                    block=block,
                )
                acknowledging.queue_done_after(
                    pipe, stream_keys=self._keys, consumer=self.name, after=after, count=2 * FEW
                )
                return list(pipe.execute())

        reply, flags = self._conn.run(read, op="read inbox")
        return reply, {str(e): f == "y" for e, f in zip(flags[::2], flags[1::2], strict=True)}

    # -- reclaiming ----------------------------------------------------------------

    def reclaim(self, handler: base.Handler, *, max_batches: int = 10) -> models.PollResult:
        """Take over entries idle longer than ``claim_idle_seconds`` (a dead consumer's,
        or ours from before a lost reply) and handle them; poison ones are dead-lettered
        (see :mod:`aito.bus.reclaiming`). Then :meth:`tidy`."""
        self._flush()
        self._last_reclaim = self._monotonic()
        if not self._group_ready:
            self.ensure_group()
        result = models.PollResult()
        for rest, poison in self._reclaimer.batches(max_batches):
            result.reclaimed += len(rest) + len(poison)
            if poison:
                self._dead_letter(
                    [
                        (eid, fields, f"not acknowledged after {n} deliveries")
                        for eid, fields, n in poison
                    ]
                )
                result.dead_lettered += len(poison)
            if rest:
                result += self._process(rest, handler)
        self.tidy()
        return result

    def tidy(self) -> tidying.Tidied:
        """Remove idle consumers without pending entries, and trim what every group is
        done with (see :mod:`aito.bus.tidying`); one script, safe to repeat."""
        if not self._group_ready:
            self.ensure_group()
        return tidying.tidy(
            self._conn,
            stream=self._stream,
            consumer=self.name,
            forget_consumers_ms=self.forget_consumers_ms,
            keep_acknowledged_ms=self.keep_acknowledged_ms,
        )

    # -- handling ----------------------------------------------------------------------

    def _process(
        self,
        entries: Sequence[base.Read],
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
            ids = [f.get(base.ID_FIELD, "") for _, f in entries]
            flags = list(
                acknowledging.already_done(self._conn, stream_keys=self._keys, message_ids=ids)
            )
        handled: list[str] = []  # entry id, message id, …
        copies: list[str] = []  # entry ids
        dead: list[tuple[str, Mapping[str, str], str]] = []
        in_batch: set[str] = set()
        for (eid, fields), was_done in zip(entries, flags, strict=True):
            if not dead_lettering.wellformed(fields):
                dead.append((eid, fields, dead_lettering.reason(fields)))
                continue
            mid = fields[base.ID_FIELD]
            if was_done == "y" or mid in in_batch:  # a second copy: acknowledge, not handle
                copies.append(eid)
                result.duplicates += 1
                continue
            try:
                message = AgentMessage.from_wire(fields[base.MESSAGE_FIELD])
            except ValidationError as exc:
                dead.append((eid, fields, dead_lettering.invalid(exc)))
                continue
            if message.id != mid:
                dead.append((eid, fields, dead_lettering.MISMATCH))
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

    def _flush(self) -> None:
        """Write the acknowledgements owed, each handled one with its `done` mark, atomically."""
        if not (self._unacked or self._copies):
            return
        twice = acknowledging.complete(
            self._conn,
            stream_keys=self._keys,
            dedupe_ttl_ms=self.dedupe_ttl_ms,
            handled=self._unacked,
            copies=self._copies,
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
        dead_lettering.dead_letter(
            self._conn,
            stream=self._stream,
            consumer=self.name,
            agent_id=self.agent_id,
            sink=self._sink,
            entries=entries,
        )


def _id_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


# Create the group reading from the start; an existing group is left as it is.
_GROUP = redis_connection.Script("""
local ok = redis.pcall('xgroup', 'create', KEYS[1], ARGV[1], '0', 'MKSTREAM')
if type(ok) == 'table' and ok.err and not string.find(ok.err, 'BUSYGROUP') then
  return redis.error_reply(ok.err)
end
return 1
""")
