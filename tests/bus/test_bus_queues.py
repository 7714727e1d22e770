"""Task queues: order, urgent first, visibility timeout, completion, give-up."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from support.bus_helpers import NOW

from aito.bus import base, inspecting, keys, models, queues
from aito.bus.redis import RedisBus
from aito.errors import PermanentAdapterError


def task(task_id: str, *, agent: str = "cmo", priority: int = 5, due_hours: float | None = None):  # type: ignore[no-untyped-def]
    due = NOW + dt.timedelta(hours=due_hours) if due_hours is not None else None
    return models.QueuedTask(
        task_id=task_id, agent=agent, priority=priority, due=due, payload={"title": task_id}
    )


def test_tasks_come_out_by_priority_then_due_date(bus: RedisBus) -> None:
    tasks = queues.TaskQueues(bus)
    for item in [
        task("later", priority=3, due_hours=48),
        task("no-due", priority=3),
        task("sooner", priority=3, due_hours=1),
        task("low", priority=9, due_hours=0.5),
        task("top", priority=1, due_hours=100),
    ]:
        assert tasks.enqueue(item, now=NOW)
    assert tasks.queued("cmo") == ["top", "sooner", "later", "no-due", "low"]

    order = []
    while (claimed := tasks.claim(agent="cmo", worker="w", now=NOW)) is not None:
        order.append(claimed.task.task_id)
    assert order == ["top", "sooner", "later", "no-due", "low"]


def test_the_urgent_queue_is_claimed_first_by_any_agent(bus: RedisBus) -> None:
    tasks = queues.TaskQueues(bus)
    tasks.enqueue(task("own", priority=1), now=NOW)
    tasks.enqueue(task("fire", agent="cto", priority=5), now=NOW, urgent=True)

    first = tasks.claim(agent="cmo", worker="w", now=NOW)
    second = tasks.claim(agent="cmo", worker="w", now=NOW)

    assert first is not None and first.task.task_id == "fire"
    assert second is not None and second.task.task_id == "own"
    assert tasks.queued(None) == []


def test_enqueueing_the_same_task_twice_queues_it_once(bus: RedisBus) -> None:
    tasks = queues.TaskQueues(bus)
    assert tasks.enqueue(task("t1"), now=NOW) is True
    assert tasks.enqueue(task("t1"), now=NOW) is False
    assert tasks.queued("cmo") == ["t1"]


def test_completion_records_the_result(bus: RedisBus) -> None:
    sink = base.ListSink()
    tasks = queues.TaskQueues(bus, sink=sink)
    tasks.enqueue(task("t1"), now=NOW)
    claimed = tasks.claim(agent="cmo", worker="w1", now=NOW)
    assert claimed is not None and claimed.attempts == 1
    assert tasks.record("t1").state is models.TaskState.CLAIMED  # type: ignore[union-attr]

    assert tasks.complete(claimed, result={"url": "https://example.com/pr/1"}, now=NOW)
    assert tasks.complete(claimed, result={"url": "x"}, now=NOW)  # a retry: same outcome

    record = tasks.record("t1")
    assert record is not None
    assert record.state is models.TaskState.DONE and record.result == {
        "url": "https://example.com/pr/1"
    }
    assert record.completed_at == NOW and record.worker == "w1"
    assert tasks.inflight() == [] and tasks.queued("cmo") == []
    assert [e[0] for e in sink.events] == ["task.completed"]


def test_a_crashed_workers_task_returns_after_the_visibility_timeout(bus: RedisBus) -> None:
    tasks = queues.TaskQueues(bus)
    tasks.enqueue(task("t1"), now=NOW)
    crashed = tasks.claim(agent="cmo", worker="w1", now=NOW, visibility_seconds=30)
    assert crashed is not None

    assert tasks.claim(agent="cmo", worker="w2", now=NOW + dt.timedelta(seconds=29)) is None
    retaken = tasks.claim(agent="cmo", worker="w2", now=NOW + dt.timedelta(seconds=31))

    assert retaken is not None and retaken.task.task_id == "t1" and retaken.attempts == 2
    # the crashed worker's late completion is refused; the new claim's is recorded
    assert not tasks.complete(crashed, result={"by": "w1"}, now=NOW + dt.timedelta(seconds=32))
    assert tasks.complete(retaken, result={"by": "w2"}, now=NOW + dt.timedelta(seconds=33))
    assert tasks.record("t1").result == {"by": "w2"}  # type: ignore[union-attr]


def test_a_sweep_requeues_expired_claims_and_extend_keeps_them(bus: RedisBus) -> None:
    tasks = queues.TaskQueues(bus)
    tasks.enqueue(task("t1"), now=NOW)
    tasks.enqueue(task("t2"), now=NOW)
    one = tasks.claim(agent="cmo", worker="w", now=NOW, visibility_seconds=10)
    two = tasks.claim(agent="cmo", worker="w", now=NOW, visibility_seconds=10)
    assert one is not None and two is not None
    kept = tasks.extend(two, now=NOW + dt.timedelta(seconds=5), visibility_seconds=60)
    assert kept is not None

    assert tasks.requeue_expired(NOW + dt.timedelta(seconds=20)) == ["t1"]
    assert tasks.queued("cmo") == ["t1"] and tasks.inflight() == ["t2"]
    assert tasks.extend(one, now=NOW + dt.timedelta(seconds=21), visibility_seconds=5) is None


def test_a_task_that_keeps_failing_is_given_up(bus: RedisBus) -> None:
    sink = base.ListSink()
    tasks = queues.TaskQueues(bus, max_attempts=2, sink=sink)
    tasks.enqueue(task("t1"), now=NOW)

    first = tasks.claim(agent="cmo", worker="w", now=NOW)
    assert first is not None
    assert tasks.release(first, error="boom", now=NOW) is models.TaskState.QUEUED
    second = tasks.claim(agent="cmo", worker="w", now=NOW)
    assert second is not None and second.attempts == 2
    assert tasks.release(second, error="boom again", now=NOW) is models.TaskState.DEAD

    record = tasks.record("t1")
    assert record is not None and record.state is models.TaskState.DEAD
    assert record.error == "boom again"
    assert tasks.claim(agent="cmo", worker="w", now=NOW) is None
    [letter] = inspecting.dead_letters(bus)
    assert letter.source_entry_id == "t1" and "boom again" in letter.reason
    assert letter.source == keys.task_queue("cmo")
    assert sink.events[-1][0] == "task.dead"


def test_task_payloads_are_validated(bus: RedisBus) -> None:
    with pytest.raises(ValidationError):
        models.QueuedTask(task_id="t", agent="Not A Slug", priority=0)
    tasks = queues.TaskQueues(bus)
    bus.connection.run(
        lambda r: r.hset(
            keys.task_record("bad"),
            mapping={
                "task": '{"task_id": "bad"}',
                "queue": keys.task_queue("cmo"),
                "score": "1",
                "state": "queued",
                "attempts": "0",
            },
        ),
        op="plant",
    )
    bus.connection.run(lambda r: r.zadd(keys.task_queue("cmo"), {"bad": 1}), op="plant")
    tasks.enqueue(task("good"), now=NOW)

    claimed = tasks.claim(agent="cmo", worker="w", now=NOW)

    assert claimed is not None and claimed.task.task_id == "good"
    with pytest.raises(PermanentAdapterError, match="unreadable"):
        tasks.record("bad")
    [letter] = inspecting.dead_letters(bus)
    assert letter.source_entry_id == "bad" and "unreadable task" in letter.reason
