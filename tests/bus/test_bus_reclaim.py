"""A receiver that dies: its pending messages are reclaimed and handled by another."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from support.bus_helpers import message

from aito.bus import consuming, inspecting, streams
from aito.bus.redis import RedisBus

# A consumer process that handles two messages, then dies (SIGKILL) in its third
# handler: its batch is taken, two are handled but not acknowledged (batch ack).
DYING_CONSUMER = textwrap.dedent(
    """
    import os, signal, sys
    from aito.bus import consuming
    from aito.bus.redis import RedisBus

    bus = RedisBus(url=sys.argv[1])
    handled = []

    def handler(message):
        handled.append(message.id)
        print(message.id, flush=True)
        if len(handled) == 3:
            os.kill(os.getpid(), signal.SIGKILL)

    consuming.Consumer(bus, agent_id="cmo", batch_size=5, name="doomed").poll(handler)
    """
)


def test_a_dead_consumers_messages_are_reclaimed_and_redelivered(
    bus: RedisBus, redis_url: str
) -> None:
    streams.Messenger(bus).send_many([message(f"m-{n}") for n in range(8)])

    died = subprocess.run(
        [sys.executable, "-c", DYING_CONSUMER, redis_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert died.returncode == -9, died.stderr
    assert died.stdout.split() == ["m-0", "m-1", "m-2"]
    pending = inspecting.pending(bus, "cmo")
    assert [p.message_id for p in pending] == [f"m-{n}" for n in range(5)]
    assert {p.consumer for p in pending} == {"doomed"}

    survivor = consuming.Consumer(bus, agent_id="cmo", claim_idle_seconds=0.2)
    seen: list[str] = []
    first = survivor.poll(lambda m: seen.append(m.id))
    # too fresh to be taken over: only the new entries are handled
    assert first.reclaimed == 0 and seen == ["m-5", "m-6", "m-7"]
    time.sleep(0.25)
    second = survivor.poll(lambda m: seen.append(m.id))

    assert second.reclaimed == 5
    assert sorted(seen) == [f"m-{n}" for n in range(8)]
    assert inspecting.pending(bus, "cmo") == []


def test_pending_entries_show_idle_time_and_deliveries(bus: RedisBus) -> None:
    streams.Messenger(bus).send(message("m-1"))
    consumer = consuming.Consumer(bus, agent_id="cmo", name="worker-1", claim_idle_seconds=0.01)

    def failing(_: object) -> None:
        raise RuntimeError("later")

    consumer.poll(failing)
    time.sleep(0.05)
    consumer.reclaim(failing)
    time.sleep(0.05)

    [entry] = inspecting.pending(bus, "cmo")
    assert entry.consumer == "worker-1" and entry.deliveries == 2 and entry.idle_ms >= 40
