"""The reclaim pass keeps an inbox bounded: acknowledged entries are trimmed, pending and
undelivered ones never are, and consumers that went away without leaving work behind
are removed from the group."""

from __future__ import annotations

import time

from support.bus_helpers import message

from aito.bus import consuming, inspecting, keys, streams
from aito.bus.redis import RedisBus


def _consumer(bus: RedisBus, name: str, **options: float) -> consuming.Consumer:
    return consuming.Consumer(
        bus, agent_id="cmo", name=name, keep_acknowledged_seconds=0, **options
    )


def test_acknowledged_entries_do_not_pile_up(bus: RedisBus) -> None:
    messenger = streams.Messenger(bus)
    consumer = _consumer(bus, "worker", reclaim_every_seconds=0)
    seen: list[str] = []
    for round_ in range(10):
        messenger.send_many([message(f"m-{round_}-{n}") for n in range(50)])
        while consumer.poll(lambda m: seen.append(m.id)).seen:
            pass

    assert len(seen) == 500
    # the group's last-delivered entry may stay; nothing else that was acknowledged does
    assert inspecting.length(bus, "cmo") <= 1
    assert inspecting.pending(bus, "cmo") == []


def test_young_acknowledged_entries_are_kept_for_a_while(bus: RedisBus) -> None:
    streams.Messenger(bus).send_many([message(f"m-{n}") for n in range(5)])
    consumer = consuming.Consumer(bus, agent_id="cmo", keep_acknowledged_seconds=60)
    consumer.poll(lambda m: None)

    assert consumer.tidy().trimmed == 0
    assert inspecting.length(bus, "cmo") == 5


def test_pending_and_undelivered_entries_survive_trimming(bus: RedisBus) -> None:
    messenger = streams.Messenger(bus)
    messenger.send_many([message(f"old-{n}") for n in range(3)])
    failing = _consumer(bus, "failing", batch_size=1)

    def fail(_: object) -> None:
        raise RuntimeError("not now")

    assert failing.poll(fail).failed == 1  # old-0 stays pending
    done = _consumer(bus, "done", batch_size=10)
    assert done.poll(lambda m: None).handled == 2  # old-1, old-2 acknowledged
    messenger.send_many([message(f"new-{n}") for n in range(3)])  # not delivered yet

    done.tidy()

    left = [entry.message.id for entry in inspecting.tail(bus, "cmo") if entry.message]
    assert left == ["old-0", "old-1", "old-2", "new-0", "new-1", "new-2"]
    # what was older than the pending entry is gone once it is acknowledged
    time.sleep(0.02)
    rescuer = _consumer(bus, "rescuer", claim_idle_seconds=0.01)
    seen: list[str] = []
    result = rescuer.poll(lambda m: seen.append(m.id))
    assert result.reclaimed == 1
    assert seen == ["old-0", "new-0", "new-1", "new-2"]
    rescuer.tidy()
    assert inspecting.length(bus, "cmo") <= 1
    assert inspecting.pending(bus, "cmo") == []


def test_a_pending_entry_is_still_reclaimable_after_trimming(bus: RedisBus) -> None:
    messenger = streams.Messenger(bus)
    worker = _consumer(bus, "worker", claim_idle_seconds=3600)
    for n in range(20):
        messenger.send_many([message(f"m-{n}-{i}") for i in range(10)])
        worker.poll(lambda m: None)
    messenger.send(message("stuck"))
    _consumer(bus, "crashed").poll(lambda m: (_ for _ in ()).throw(RuntimeError("boom")))
    messenger.send_many([message(f"after-{i}") for i in range(10)])
    worker.poll(lambda m: None)

    worker.tidy()  # (each consumer's first poll tidied already)

    # everything older than the pending entry is gone, nothing from it on
    left = [entry.message.id for entry in inspecting.tail(bus, "cmo") if entry.message]
    assert left == ["stuck"] + [f"after-{i}" for i in range(10)]

    time.sleep(0.02)
    rescuer = _consumer(bus, "rescuer", claim_idle_seconds=0.01)
    seen: list[str] = []
    assert rescuer.reclaim(lambda m: seen.append(m.id)).reclaimed == 1
    assert seen == ["stuck"]
    assert inspecting.length(bus, "cmo") <= 1  # and now the rest could go


def test_idle_consumers_without_pending_entries_are_removed(bus: RedisBus) -> None:
    messenger = streams.Messenger(bus)
    messenger.send_many([message(f"m-{n}") for n in range(4)])
    _consumer(bus, "gone", batch_size=2).poll(lambda m: None)  # acknowledged: nothing left

    def fail(_: object) -> None:
        raise RuntimeError("dies with work in hand")

    _consumer(bus, "holding", batch_size=2).poll(fail)  # two pending
    time.sleep(0.05)

    keeper = _consumer(bus, "keeper", claim_idle_seconds=3600, forget_consumers_after_seconds=0.02)
    removed = keeper.tidy().removed

    assert removed == ["gone"]  # "holding" has pending entries
    names = {c.name: c.pending for c in inspecting.consumers(bus, "cmo")}
    assert names == {"holding": 2}


def test_the_reclaim_pass_takes_over_pending_entries_before_removing_a_consumer(
    bus: RedisBus,
) -> None:
    streams.Messenger(bus).send_many([message(f"m-{n}") for n in range(2)])

    def fail(_: object) -> None:
        raise RuntimeError("dies with work in hand")

    _consumer(bus, "dead", batch_size=2).poll(fail)
    time.sleep(0.05)
    rescuer = _consumer(
        bus, "rescuer", claim_idle_seconds=0.02, forget_consumers_after_seconds=0.02
    )
    seen: list[str] = []

    result = rescuer.reclaim(lambda m: seen.append(m.id))

    assert result.reclaimed == 2 and seen == ["m-0", "m-1"]
    assert [c.name for c in inspecting.consumers(bus, "cmo")] == ["rescuer"]
    assert inspecting.pending(bus, "cmo") == []


def test_a_removed_consumer_that_is_alive_comes_back_on_its_next_read(bus: RedisBus) -> None:
    messenger = streams.Messenger(bus)
    sleeper = _consumer(bus, "sleeper")
    sleeper.poll(lambda m: None)
    time.sleep(0.05)
    _consumer(bus, "other", forget_consumers_after_seconds=0.02).tidy()
    assert "sleeper" not in {c.name for c in inspecting.consumers(bus, "cmo")}

    messenger.send(message("later"))
    seen: list[str] = []
    sleeper.poll(lambda m: seen.append(m.id))

    assert seen == ["later"]
    assert "sleeper" in {c.name for c in inspecting.consumers(bus, "cmo")}


def test_tidying_leaves_other_groups_entries_alone(bus: RedisBus) -> None:
    stream = bus.connection.key(keys.agent_stream("cmo"))
    streams.Messenger(bus).send_many([message(f"m-{n}") for n in range(3)])
    bus.connection.run(lambda r: r.xgroup_create(stream, "audit", id="0"), op="test")
    consumer = _consumer(bus, "worker")
    consumer.poll(lambda m: None)

    consumer.tidy()

    assert inspecting.length(bus, "cmo") == 3  # the `audit` group has read nothing yet
