"""Reclaiming a dead consumer's entries: taken over once idle, poison ones set apart.

A consumer that died (or lost a reply) leaves its entries pending in the group.
:class:`Reclaimer` walks the group's pending list with XAUTOCLAIM, one batch at a
time from a cursor it keeps between passes, and takes over the entries idle longer
than ``claim_idle_ms`` for its consumer. Each batch comes with the entries delivered
more than ``max_deliveries`` times set apart (poison: the consumer dead-letters them,
see :mod:`aito.bus.dead_lettering`); the rest go to the handler again. Redis 6.2's
XAUTOCLAIM returns entries deleted from the stream as nil and keeps them pending:
those are acknowledged here, so they do not come back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from aito.bus import base, keys, redis_connection

Poison = tuple[str, Mapping[str, str], int]
"""An entry delivered too often: (entry id, fields, times delivered)."""


class Reclaimer:
    """Takes over idle entries of one stream's group for one consumer."""

    def __init__(
        self,
        conn: redis_connection.Connection,
        *,
        stream: str,
        consumer: str,
        claim_idle_ms: int,
        batch_size: int,
        max_deliveries: int,
    ) -> None:
        self._conn = conn
        self._stream = stream
        self._consumer = consumer
        self._claim_idle_ms = claim_idle_ms
        self._batch_size = batch_size
        self._max_deliveries = max_deliveries
        self._cursor = "0-0"

    def batches(self, max_batches: int) -> Iterator[tuple[list[base.Read], list[Poison]]]:
        """Up to ``max_batches`` batches of entries now claimed by this consumer, each as
        (entries to handle again, poison entries); the group must exist. The pass ends
        early once the pending list has been walked to its end (the next starts over)."""
        for _ in range(max_batches):
            start = self._cursor
            reply = self._autoclaim(start)
            self._cursor = str(reply[0])
            claimed = [(str(eid), fields) for eid, fields in reply[1] if eid is not None]
            if len(claimed) < len(reply[1]) or (len(reply) > 2 and reply[2]):
                self._ack_deleted(start, self._cursor)
            if claimed:
                yield self._sort(claimed)
            if self._cursor in ("0-0", "0"):
                self._cursor = "0-0"
                break

    def _autoclaim(self, start: str) -> Any:
        return self._conn.run(
            lambda r: r.xautoclaim(
                self._stream,
                keys.CONSUMER_GROUP,
                self._consumer,
                self._claim_idle_ms,
                start,
                count=self._batch_size,
            ),
            op="reclaim",
        )

    def _sort(self, claimed: Sequence[base.Read]) -> tuple[list[base.Read], list[Poison]]:
        """``claimed`` split into (the rest, poison), by each entry's delivery count."""
        first, last = claimed[0][0], claimed[-1][0]
        pending: Any = self._conn.run(
            lambda r: r.xpending_range(
                self._stream,
                keys.CONSUMER_GROUP,
                min=first,
                max=last,
                count=len(claimed) * 2,
                consumername=self._consumer,
            ),
            op="read deliveries",
        )
        deliveries = {str(p["message_id"]): int(p["times_delivered"]) for p in pending}
        poison = [
            (eid, fields, deliveries[eid])
            for eid, fields in claimed
            if deliveries.get(eid, 1) > self._max_deliveries
        ]
        poisoned = {eid for eid, _, _ in poison}
        rest = [(eid, fields) for eid, fields in claimed if eid not in poisoned]
        return rest, poison

    def _ack_deleted(self, start: str, end: str) -> None:
        # Redis 6.2's XAUTOCLAIM returns deleted entries as nil and keeps them pending.
        mine: Any = self._conn.run(
            lambda r: r.xpending_range(
                self._stream,
                keys.CONSUMER_GROUP,
                min=start,
                max="+" if end in ("0-0", "0") else end,
                count=self._batch_size * 2,
                consumername=self._consumer,
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
