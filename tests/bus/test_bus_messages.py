"""Direct and group messages through the real Redis: delivery, ack, dedupe, dead letters."""

from __future__ import annotations

import json
import threading
import time

import pytest
import redis
from support.bus_helpers import message

from aito.bus import base, consuming, inspecting, keys, streams
from aito.bus.redis import RedisBus
from aito.errors import TemporaryAdapterError
from aito.org.messages import AgentMessage

GROUPS = {"all": ["ceo", "dao", "cmo", "cto"], "head": ["ceo", "dao"], "clevel": ["cmo", "cto"]}


def test_a_direct_message_is_handled_once_and_acknowledged(bus: RedisBus) -> None:
    streams.Messenger(bus).send(message("m-1"))
    seen: list[AgentMessage] = []
    consumer = consuming.Consumer(bus, agent_id="cmo")

    result = consumer.poll(seen.append)

    assert [m.id for m in seen] == ["m-1"] and seen[0].payload == {"n": "m-1"}
    assert result.handled == 1
    assert inspecting.pending(bus, "cmo") == []
    assert consumer.poll(seen.append).handled == 0


def test_a_message_stays_pending_until_its_handler_succeeds(bus: RedisBus) -> None:
    streams.Messenger(bus).send(message("m-1"))
    consumer = consuming.Consumer(bus, agent_id="cmo", claim_idle_seconds=0.05)

    def failing(_: AgentMessage) -> None:
        raise RuntimeError("not today")

    assert consumer.poll(failing).failed == 1
    [entry] = inspecting.pending(bus, "cmo")
    assert entry.message_id == "m-1" and entry.deliveries == 1 and entry.type == "direct"

    seen: list[str] = []
    time.sleep(0.1)
    result = consumer.reclaim(lambda m: seen.append(m.id))
    assert seen == ["m-1"] and result.reclaimed == 1 and result.handled == 1
    assert inspecting.pending(bus, "cmo") == []


def test_a_send_retried_after_a_lost_reply_appends_once(
    bus: RedisBus, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = bus.connection._once
    lost: list[str] = []

    def reply_lost(fn, op):  # type: ignore[no-untyped-def]
        result = original(fn, op)
        if op == "send messages" and not lost:
            lost.append(op)  # the server did it, the answer never came back
            raise TemporaryAdapterError("redis", "connection reset")
        return result

    monkeypatch.setattr(bus.connection, "_once", reply_lost)
    streams.Messenger(bus, groups=GROUPS).send_many(
        [message("m-1"), message("m-2"), message("b-1", to="all")]
    )

    raw = redis.Redis.from_url(redis_url)
    assert lost and raw.xlen(keys.agent_stream("cmo")) == 3
    assert raw.xlen(keys.agent_stream("dao")) == 1
    raw.close()


def test_copies_that_went_around_the_sender_are_handled_once(bus: RedisBus) -> None:
    bus.deliver(message("m-1"))  # deliver() has no sender-side dedupe
    bus.deliver(message("m-1"))
    seen: list[str] = []
    consumer = consuming.Consumer(bus, agent_id="cmo")

    first = consumer.poll(lambda m: seen.append(m.id))  # both copies in one batch
    bus.deliver(message("m-1"))  # and another, after it was handled
    later = consumer.poll(lambda m: seen.append(m.id))

    assert seen == ["m-1"]
    assert (first.handled, first.duplicates, later.duplicates) == (1, 1, 1)
    assert inspecting.pending(bus, "cmo") == []


def test_a_copy_handled_by_another_consumer_is_not_handled_again(bus: RedisBus) -> None:
    bus.deliver(message("m-1"))
    one = consuming.Consumer(bus, agent_id="cmo", batch_size=1)
    two = consuming.Consumer(bus, agent_id="cmo", batch_size=1)
    seen: list[str] = []
    assert one.poll(lambda m: seen.append("one")).handled == 1
    bus.deliver(message("m-1"))
    assert two.poll(lambda m: seen.append("two")).duplicates == 1
    assert seen == ["one"]


def test_two_copies_handled_at_once_by_two_consumers_are_reported(bus: RedisBus) -> None:
    bus.deliver(message("m-1"))
    bus.deliver(message("m-1"))
    sink = base.ListSink()
    one = consuming.Consumer(bus, agent_id="cmo", batch_size=1, sink=sink)
    two = consuming.Consumer(bus, agent_id="cmo", batch_size=1, sink=sink)
    seen: list[str] = []

    def slow(_: AgentMessage) -> None:
        two.poll(lambda m: seen.append("two"))  # the second copy, meanwhile
        seen.append("one")

    one.poll(slow)

    assert seen == ["two", "one"]  # the gap the docs name: no lock per message id
    assert [(e[0], e[1]["message_id"]) for e in sink.events] == [("bus.handled_twice", "m-1")]
    assert inspecting.pending(bus, "cmo") == []


def test_malformed_entries_are_dead_lettered_and_the_consumer_carries_on(
    bus: RedisBus, redis_url: str
) -> None:
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    stream = keys.agent_stream("cmo")
    raw.xadd(stream, {"junk": "1"})
    raw.xadd(stream, {"id": "m-bad", "message": "{not json"})
    raw.xadd(stream, {"id": "m-x", "message": message("m-y").to_wire()})
    raw.xadd(stream, {"id": "m-2", "message": json.dumps({"id": "m-2", "type": "nope"})})
    raw.xadd(stream, {"message": message("m-3").to_wire()})
    raw.xadd(stream, {"id": "m-4", "message": message("m-4").to_wire(), "extra": "1"})
    streams.Messenger(bus).send(message("m-ok"))
    sink = base.ListSink()
    seen: list[str] = []

    result = consuming.Consumer(bus, agent_id="cmo", sink=sink).poll(lambda m: seen.append(m.id))

    assert seen == ["m-ok"]
    assert result.dead_lettered == 6 and result.handled == 1
    letters = inspecting.dead_letters(bus)
    assert [letter.reason.split(":")[0] for letter in letters] == [
        "no `message` field",
        "not a valid AgentMessage",
        "the entry's id field is not the message's id",
        "not a valid AgentMessage",
        "no usable `id` field (1 to 128 characters)",
        "unexpected fields",
    ]
    assert json.loads(letters[0].raw) == {"junk": "1"}
    assert all(letter.source == stream for letter in letters)
    assert [e[0] for e in sink.events] == ["bus.dead_letter"] * 6
    assert inspecting.pending(bus, "cmo") == []
    # the id was not poisoned: a good message with it is still handled
    streams.Messenger(bus).send(message("m-bad"))
    consuming.Consumer(bus, agent_id="cmo").poll(lambda m: seen.append(m.id))
    assert seen == ["m-ok", "m-bad"]
    raw.close()


def test_a_message_that_keeps_failing_is_dead_lettered(bus: RedisBus) -> None:
    streams.Messenger(bus).send(message("m-1"))
    consumer = consuming.Consumer(
        bus, agent_id="cmo", claim_idle_seconds=0.02, reclaim_every_seconds=0, max_deliveries=3
    )

    def failing(_: AgentMessage) -> None:
        raise RuntimeError("poison")

    total = consumer.poll(failing)
    for _ in range(4):
        time.sleep(0.05)
        total += consumer.poll(failing)

    assert total.failed == 3 and total.dead_lettered == 1
    [letter] = inspecting.dead_letters(bus)
    assert letter.reason == "not acknowledged after 4 deliveries"
    assert inspecting.pending(bus, "cmo") == []


def test_group_messages_reach_every_member_but_the_sender(bus: RedisBus) -> None:
    messenger = streams.Messenger(bus, groups=GROUPS)

    assert messenger.send(message("b-1", to="all")) == ["cmo", "cto", "dao"]
    assert messenger.send(message("h-1", to="head", sender="cmo")) == ["ceo", "dao"]
    assert messenger.send(message("c-1", to="clevel")) == ["cmo", "cto"]

    inboxes = {agent: [m.id for m in bus.inbox(agent)] for agent in GROUPS["all"]}
    assert inboxes == {
        "ceo": ["h-1"],
        "dao": ["b-1", "h-1"],
        "cmo": ["b-1", "c-1"],
        "cto": ["b-1", "c-1"],
    }
    with pytest.raises(ValueError, match="no members known"):
        streams.Messenger(bus).send(message("b-2", to="all"))


def test_live_listeners_get_a_nudge_and_the_stream_keeps_the_copy(bus: RedisBus) -> None:
    messenger = streams.Messenger(bus, groups=GROUPS)
    listener = messenger.listen("cmo")  # its own channel, `all` and `clevel`
    try:
        messenger.send(message("b-1", to="all"))
        messenger.send(message("d-1"))
        heard = [listener.get(timeout=2), listener.get(timeout=2)]
    finally:
        listener.close()
    assert heard == [(keys.CHANNEL_BROADCAST, "b-1"), (keys.agent_channel("cmo"), "d-1")]
    # nobody listens now: the message is still delivered
    messenger.send(message("d-2"))
    assert [m.id for m in bus.inbox("cmo")] == ["b-1", "d-1", "d-2"]


def test_a_prefix_namespaces_every_key(redis_url: str) -> None:
    tenant = RedisBus(url=redis_url, prefix="t1:")
    streams.Messenger(tenant).send(message("m-1"))
    seen: list[str] = []
    consuming.Consumer(tenant, agent_id="cmo").poll(lambda m: seen.append(m.id))
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    names = set(raw.keys("*"))
    raw.close()
    tenant.close()
    assert seen == ["m-1"]
    assert names and all(name.startswith("t1:") for name in names)


def test_a_batch_is_sent_in_one_call(bus: RedisBus) -> None:
    batch = [message(f"m-{n}") for n in range(250)]
    sent = streams.Messenger(bus).send_many(batch)
    seen: list[str] = []
    consumer = consuming.Consumer(bus, agent_id="cmo", batch_size=100)
    while consumer.poll(lambda m: seen.append(m.id)).seen:
        pass
    assert len(sent) == 250 and seen == [m.id for m in batch]


def test_waiting_for_messages_returns_when_one_arrives(bus: RedisBus) -> None:
    consumer = consuming.Consumer(bus, agent_id="cmo")
    consumer.poll(lambda m: None)
    timer = threading.Timer(0.2, lambda: streams.Messenger(bus).send(message("m-1")))
    timer.start()
    started = time.monotonic()
    seen: list[str] = []
    result = consumer.poll(lambda m: seen.append(m.id), block_seconds=5)
    timer.join()
    assert seen == ["m-1"] and result.handled == 1
    assert 0.1 < time.monotonic() - started < 2


def test_handled_marks_outlive_the_dedupe_window_without_a_renewal_per_ack(
    bus: RedisBus, redis_url: str
) -> None:
    window = 100  # seconds
    consumer = consuming.Consumer(bus, agent_id="cmo", dedupe_ttl_seconds=window)
    messenger = streams.Messenger(bus)
    client = redis.Redis.from_url(redis_url)
    done = keys.handled_messages("cmo")
    messenger.send(message("m-1"))
    consumer.poll(lambda m: None)
    first = client.pttl(done)
    assert window * 1000 <= first <= 2 * window * 1000

    messenger.send(message("m-2"))
    consumer.poll(lambda m: None)
    assert client.pttl(done) <= first  # enough left: not renewed on this ack

    client.pexpire(done, window * 1000 // 2)  # time passed: less than a window left
    messenger.send(message("m-3"))
    consumer.poll(lambda m: None)
    assert client.pttl(done) >= window * 1000  # m-3's mark lives a window at least
    messenger.send(message("m-1"))  # a second copy within the window
    assert consumer.poll(lambda m: None).duplicates == 1
    client.close()
