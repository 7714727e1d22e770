"""SIGKILL the real Redis in the middle of sends, takes, acks, claims and completions.

Each test runs its own embedded Redis (append-only file, fsync always) and kills it
with SIGKILL while senders, consumers and workers are busy; it comes back on a new
port, which the clients find through their URL provider. Afterwards every message
and task is handled or still pending, none is lost, and no handler ran twice for
one message id.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

import pytest
from support.bus_helpers import Chaos, message

from aito import retrying
from aito.bus import consuming, inspecting, models, queues, streams
from aito.bus.redis import RedisBus
from aito.errors import TemporaryAdapterError
from aito.org.messages import AgentMessage


def _wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _retries(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.name == "aito.retrying")


class Crew:
    """Threads that must not fail silently."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, target: Callable[[], object]) -> None:
        def guarded() -> None:
            try:
                target()
            except BaseException as exc:
                self.errors.append(exc)
                raise

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        self.threads.append(thread)

    def join(self, timeout: float = 60) -> None:
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a worker thread hung"
        assert not self.errors, self.errors


def test_no_message_is_lost_or_handled_twice_across_kills(
    chaos: Chaos, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aito.retrying")
    total, batch = 1500, 10
    ids = [f"m-{n:05d}" for n in range(total)]
    handled: list[str] = []
    stop, sent = threading.Event(), threading.Event()
    ack_kill_done = threading.Event()
    crew = Crew()

    def send() -> None:
        bus = chaos.bus()
        messenger = streams.Messenger(bus)
        for start in range(0, total, batch):
            messenger.send_many([message(i) for i in ids[start : start + batch]])
            time.sleep(0.001)
        sent.set()
        bus.close()

    def consume() -> None:
        bus = chaos.bus()

        def handler(m: AgentMessage) -> None:
            handled.append(m.id)
            if len(handled) == 1000 and not ack_kill_done.is_set():
                # dies between this handler and its acknowledgement
                chaos.bounce_in_background(0.3)
                ack_kill_done.set()

        consumer = consuming.Consumer(bus, agent_id="cmo", batch_size=20, claim_idle_seconds=0.5)
        consumer.run(handler, stop=stop.is_set, block_seconds=0.05)
        bus.close()

    crew.start(send)
    crew.start(consume)
    _wait_for(lambda: len(handled) >= 300, timeout=30, what="300 handled")
    chaos.bounce(0.3)  # while sending and consuming
    _wait_for(lambda: len(handled) >= 700, timeout=30, what="700 handled")
    chaos.bounce(0.3)
    _wait_for(sent.is_set, timeout=30, what="all sent")
    _wait_for(lambda: len(set(handled)) == total, timeout=30, what="all handled")
    time.sleep(0.7)  # past the claim time: anything left pending would be reclaimed
    stop.set()
    crew.join()

    assert chaos.kills == 3 and ack_kill_done.is_set()
    assert _retries(caplog) >= 3  # the kills did hit operations in flight
    twice = [i for i, n in collections.Counter(handled).items() if n > 1]
    assert twice == []
    assert sorted(handled) == ids
    check = chaos.bus()
    consuming.Consumer(check, agent_id="cmo", claim_idle_seconds=0.0).reclaim(
        lambda m: handled.append(m.id)
    )
    assert len(handled) == total and inspecting.pending(check, "cmo") == []
    # retried sends did not append twice: one entry per message
    assert [
        e.message.id for e in inspecting.tail(check, "cmo", count=2 * total) if e.message
    ] == ids
    check.close()


def test_pending_messages_survive_a_kill_and_are_handled_once(chaos: Chaos) -> None:
    bus = chaos.bus()
    streams.Messenger(bus).send_many([message(f"m-{n}") for n in range(10)])
    first = consuming.Consumer(bus, agent_id="cmo", name="first", claim_idle_seconds=0.2)

    def crash(_: AgentMessage) -> None:
        raise RuntimeError("the agent crashed")

    assert first.poll(crash).failed == 10
    chaos.bounce(0.2)

    pending = inspecting.pending(bus, "cmo")
    assert [p.message_id for p in pending] == [f"m-{n}" for n in range(10)]
    assert {p.consumer for p in pending} == {"first"}
    time.sleep(0.25)
    seen: list[str] = []
    second = consuming.Consumer(bus, agent_id="cmo", claim_idle_seconds=0.2)
    assert second.poll(lambda m: seen.append(m.id)).handled == 10
    assert sorted(seen) == [f"m-{n}" for n in range(10)]
    assert inspecting.pending(bus, "cmo") == []
    bus.close()


def test_no_task_is_lost_or_completed_twice_across_kills(
    chaos: Chaos, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aito.retrying")
    total = 300
    ids = [f"t-{n:04d}" for n in range(total)]
    completed: list[str] = []
    claims = 0
    enqueued, claim_kill_done = threading.Event(), threading.Event()
    lock = threading.Lock()
    crew = Crew()

    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def produce() -> None:
        bus = chaos.bus()
        tasks = queues.TaskQueues(bus)
        for n, task_id in enumerate(ids):
            tasks.enqueue(
                models.QueuedTask(task_id=task_id, agent="cto", priority=1 + n % 5),
                now=now(),
                urgent=n % 10 == 0,
            )
        enqueued.set()
        bus.close()

    def work(worker: str) -> None:
        nonlocal claims
        bus = chaos.bus()
        tasks = queues.TaskQueues(bus, max_attempts=100)
        while True:
            claimed = tasks.claim(agent="cto", worker=worker, now=now(), visibility_seconds=1)
            if claimed is None:
                if enqueued.is_set() and not tasks.queued("cto") and not tasks.inflight():
                    break
                time.sleep(0.01)
                continue
            with lock:
                claims += 1
                kill = claims == 150 and not claim_kill_done.is_set()
                if kill:
                    claim_kill_done.set()
            if kill:  # between a claim and its completion
                chaos.bounce_in_background(0.3)
            if tasks.complete(claimed, result={"by": worker}, now=now()):
                with lock:
                    completed.append(claimed.task.task_id)
        bus.close()

    crew.start(produce)
    for n in range(3):
        crew.start(lambda n=n: work(f"w{n}"))
    _wait_for(lambda: len(completed) >= 60, timeout=30, what="60 completed")
    chaos.bounce(0.3)  # while enqueueing, claiming and completing
    _wait_for(lambda: len(completed) >= 220, timeout=30, what="220 completed")
    chaos.bounce(0.3)
    crew.join()

    assert chaos.kills == 3 and claim_kill_done.is_set()
    assert _retries(caplog) >= 3
    assert [i for i, n in collections.Counter(completed).items() if n > 1] == []
    assert sorted(completed) == ids
    check = chaos.bus()
    tasks = queues.TaskQueues(check)
    for task_id in ids:
        record = tasks.record(task_id)
        assert record is not None and record.state is models.TaskState.DONE
    assert tasks.queued("cto") == [] and tasks.queued(None) == [] and tasks.inflight() == []
    check.close()


def test_redis_down_is_a_clear_temporary_error_and_the_bus_finds_it_again(
    chaos: Chaos,
) -> None:
    bus = RedisBus(url=chaos.current_url, retry=retrying.Policy(budget_seconds=0.3))
    messenger = streams.Messenger(bus)
    messenger.send(message("m-1"))
    old_url = chaos.url
    chaos.kill()

    with pytest.raises(TemporaryAdapterError, match="cannot reach Redis"):
        messenger.send(message("m-2"))

    chaos.restart()
    assert chaos.url != old_url
    messenger.send(message("m-2"))
    assert [m.id for m in bus.inbox("cmo")] == ["m-1", "m-2"]
    bus.close()
