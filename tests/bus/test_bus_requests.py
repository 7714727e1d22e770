"""Request/response with deadlines: answers, misses, late answers, timeout sweeps."""

from __future__ import annotations

import datetime as dt
import threading

from support.bus_helpers import NOW, message

from aito.bus import base, consuming, streams
from aito.bus.redis import RedisBus
from aito.org.messages import AgentMessage, MessageType


def _answer_in_background(
    bus: RedisBus, agent: str, *, payload: dict[str, str], stop: threading.Event
) -> threading.Thread:
    """``agent``'s loop: answer every status_request it reads."""
    messenger = streams.Messenger(bus)
    consumer = consuming.Consumer(bus, agent_id=agent)

    def handle(request: AgentMessage) -> None:
        if request.type is MessageType.STATUS_REQUEST:
            messenger.reply(request, responder=agent, payload=payload)

    thread = threading.Thread(
        target=consumer.run, args=(handle,), kwargs={"stop": stop.is_set, "block_seconds": 0.05}
    )
    thread.start()
    return thread


def test_a_request_returns_the_matching_response(bus: RedisBus) -> None:
    stop = threading.Event()
    worker = _answer_in_background(bus, "cmo", payload={"status": "green"}, stop=stop)
    try:
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10)
        answer = streams.Messenger(bus).request(
            sender="ceo", to="cmo", payload={"include": ["metrics"]}, deadline=deadline
        )
    finally:
        stop.set()
        worker.join()
    assert answer is not None
    assert answer.type is MessageType.STATUS_RESPONSE and answer.from_ == "cmo"
    assert answer.payload == {"status": "green"} and answer.correlation_id is not None
    # answered: nothing times out
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    assert streams.Messenger(bus).expire_requests(later) == []


def test_the_ceo_gathers_answers_and_sees_who_is_missing(bus: RedisBus) -> None:
    stop = threading.Event()
    workers = [
        _answer_in_background(bus, agent, payload={"agent": agent}, stop=stop)
        for agent in ("cmo", "cto")
    ]
    sink = base.ListSink()
    messenger = streams.Messenger(bus, sink=sink)
    try:
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
        answers = messenger.request_all(
            sender="ceo",
            recipients=["cmo", "cto", "cfo"],  # cfo is not running
            payload={},
            deadline=deadline,
            request_id="status-1",
        )
    finally:
        stop.set()
        for worker in workers:
            worker.join()

    assert {agent: a.payload if a else None for agent, a in answers.items()} == {
        "cmo": {"agent": "cmo"},
        "cto": {"agent": "cto"},
        "cfo": None,
    }
    timeouts = messenger.expire_requests(deadline + dt.timedelta(seconds=1))
    assert [(t.request_id, t.recipient, t.sender) for t in timeouts] == [
        ("status-1:cfo", "cfo", "ceo")
    ]
    assert messenger.expire_requests(deadline + dt.timedelta(seconds=2)) == []
    alert = bus.inbox("ceo")[-1]
    assert alert.type is MessageType.ALERT and alert.correlation_id == "status-1:cfo"
    assert alert.payload["event"] == "response_timeout" and alert.payload["recipient"] == "cfo"
    assert [(e[0], e[2], e[3]) for e in sink.events] == [("bus.response_timeout", "cfo", "ceo")]


def test_a_late_answer_is_missing_for_the_asker(bus: RedisBus) -> None:
    messenger = streams.Messenger(bus)
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.3)

    answer = messenger.request(
        sender="ceo", to="cmo", payload={}, deadline=deadline, request_id="r1"
    )

    assert answer is None
    [request] = bus.inbox("cmo")
    messenger.reply(request, responder="cmo", payload={"late": "yes"})
    assert messenger.expire_requests(deadline + dt.timedelta(seconds=1)) == []  # answered
    assert bus.inbox("ceo")[-1].payload == {"late": "yes"}  # it is there, just late


def test_the_timeout_sweep_reports_each_miss_once_across_sweepers(bus: RedisBus) -> None:
    messenger = streams.Messenger(bus)
    messenger.send_many(
        [
            message(
                f"q-{n}",
                type="status_request",
                requires_response=True,
                response_deadline=NOW + dt.timedelta(minutes=5),
            )
            for n in range(300)
        ]
    )
    assert len(messenger.open_requests()) == 300
    assert messenger.expire_requests(NOW + dt.timedelta(minutes=4)) == []

    found: list[list[str]] = []

    def sweep() -> None:
        other = streams.Messenger(bus)
        found.append([t.request_id for t in other.expire_requests(NOW + dt.timedelta(minutes=6))])

    sweepers = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in sweepers:
        thread.start()
    for thread in sweepers:
        thread.join()

    reported = [request_id for batch in found for request_id in batch]
    assert sorted(reported) == sorted(f"q-{n}" for n in range(300))
    alerts = [m for m in bus.inbox("ceo", count=1000) if m.type is MessageType.ALERT]
    assert len(alerts) == 300
    assert messenger.open_requests() == []
