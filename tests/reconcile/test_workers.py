"""Workers from the queue, against the real services: a request its requester could not
start waits for the orchestrator, which starts it when there is room (at most
`max_workers` per requester) and reports to the requester once; a request that waited
past its kind's timeout, or that its requester may not make, is never run; an
orchestrator killed while a worker runs repeats nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest
from support.agent_world import Spy, World, edit_agent

from aito import bootstrap
from aito.agent import acting, delegating, executing, runs
from aito.bus import models as bus_models
from aito.bus import worker_queue
from aito.decisions import reading
from aito.llm import offline
from aito.reconcile import applying, looping, observing, steps, working
from aito.runtime import sandbox, specs
from aito.runtime.docker_engine import DockerRuntime

Make = Callable[..., World]


class Killed(BaseException):
    """The orchestrator's process dies (nothing of it runs on)."""


def one_worker_at_a_time(repo: Path) -> None:
    edit_agent(repo, "cmo", lambda data: data.update(max_workers=1))


def orchestrator(world: World, spawn: acting.RunWorker | None = None) -> looping.Orchestrator:
    sources = observing.Sources(
        bus=world.runtime.bus, memory=world.runtime.memory, forge=world.governance, runtime=None
    )
    workers = working.QueuedWorkers(
        delegating.Delegation(world.runtime.bus.worker_queue(), world.runtime.memory, world.clock),
        spawn=spawn or bootstrap.worker_spawn(world.settings, world.ports),
        background=False,
    )
    applier = applying.Applier(
        sources, wake=lambda agent, run: None, send=lambda notice: None, workers=workers
    )
    return looping.Orchestrator(world.org, sources, applier, clock=world.clock)


def applied(done: looping.Pass) -> list[tuple[str, str | None]]:
    """The worker steps a pass applied (its health steps are tested elsewhere)."""
    worker_steps = (steps.SpawnWorker, steps.ExpireWorker)
    return [
        (type(a.step).__name__, a.error) for a in done.applied if isinstance(a.step, worker_steps)
    ]


def occupy(world: World, requester: str) -> bus_models.ClaimedTask:
    """A worker of ``requester``'s runs elsewhere (its request claimed for a day)."""
    queue = world.runtime.bus.worker_queue()
    asked = worker_queue.SpawnRequest(
        requester=requester,
        requester_run=f"{requester}:schedule:elsewhere",
        position=0,
        kind="content-writer",
        task="elsewhere",
        instructions="Draft it.",
    )
    request = queue.ask(asked, now=world.clock())
    held = queue.claim_request(
        request, worker="elsewhere", now=world.clock(), visibility_seconds=86_400
    )
    assert held is not None
    return held


def worker_results(world: World, agent: str) -> list[dict[str, Any]]:
    return [o for o in world.runtime.memory.unseen_outcomes(agent) if o["kind"] == "worker_result"]


def writer_pulls(world: World) -> list[int]:
    found = []
    for key in [None, *world.org.org.repos]:
        forge = world.governance if key is None else world.forge(key)
        found += [p.number for p in forge.pulls(state=None) if "content-writer" in p.head_ref]
    return found


def asked_and_waiting(world: World) -> tuple[str, str]:
    """The CMO's task for a content writer, and the CMO's request for one, left waiting
    (its one worker slot is taken)."""
    first = world.run("cmo", key="1")
    [task_id] = [a.ref for a in first.actions if a.type == "create_task"]
    held = occupy(world, "cmo")
    world.clock.advance(hours=4)
    second = world.run("cmo", key="2")
    assert second.workers == []  # not run by the CMO's run: it had no room
    [spawned] = [a for a in second.actions if a.type == "spawn_worker"]
    assert spawned.status == "executed" and spawned.ref is not None
    world.runtime.bus.worker_queue().complete(held, result={"report": "done"}, now=world.clock())
    return task_id, spawned.ref


def test_a_waiting_request_is_started_by_the_orchestrator_and_reported_to_its_requester_once(
    make_world: Make,
) -> None:
    model = Spy(offline.OfflineModel(seed=3))
    world = make_world(model, edit=one_worker_at_a_time)
    first = world.run("cmo", key="1")
    [task_id] = [a.ref for a in first.actions if a.type == "create_task"]
    held = occupy(world, "cmo")
    world.clock.advance(hours=4)
    second = world.run("cmo", key="2")
    assert second.workers == []
    [spawned] = [a for a in second.actions if a.type == "spawn_worker"]
    request = spawned.ref
    assert request is not None
    orch = orchestrator(world)
    seen = orch.look()[1]
    assert [w.id for w in seen.worker_requests] == [request]
    assert seen.workers_running == {"cmo": 1}
    assert applied(orch.once()) == []  # the CMO's one slot is taken: it waits

    queue = world.runtime.bus.worker_queue()
    queue.complete(held, result={"report": "done"}, now=world.clock())  # the slot is free
    assert applied(orch.once()) == [("SpawnWorker", None)]
    record = queue.record(request)
    assert record is not None and record.state is bus_models.TaskState.DONE
    base = reading.base_organization(world.governance, world.governance.default_branch)
    assert base.tasks[task_id].status.value == "done"
    assert len(writer_pulls(world)) == 1
    [result] = worker_results(world, "cmo")
    assert result["ref"] == task_id and "completed" in result["summary"]

    assert applied(orch.once()) == []  # nothing twice
    world.clock.advance(hours=4)
    world.run("cmo", key="3")
    outcomes = {o["kind"]: o for o in model.asked("cmo")[-1].context["outcomes"]}
    assert outcomes["worker_result"]["ref"] == task_id


def test_a_request_that_waited_past_its_timeout_expires_and_its_requester_is_told_once(
    make_world: Make,
) -> None:
    world = make_world(offline.OfflineModel(seed=3), edit=one_worker_at_a_time)
    _, request = asked_and_waiting(world)  # nothing starts it meanwhile
    world.clock.advance(minutes=world.org.timeout_of("content-writer") + 1)
    orch = orchestrator(world, spawn=_never)
    assert applied(orch.once()) == [("ExpireWorker", None)]
    record = world.runtime.bus.worker_queue().record(request)
    assert record is not None and record.state is bus_models.TaskState.DEAD
    [told] = worker_results(world, "cmo")
    assert told["summary"].endswith("(the worker kind's timeout)")
    assert "expired: not started within" in told["summary"]
    assert applied(orch.once()) == []
    assert [e["payload"]["request"] for e in world.events("worker.expired")] == [request]


def _never(kind: str, run_id: str, request: executing.WorkerRequest) -> runs.RunOutcome:
    raise AssertionError(f"{kind} must not run ({run_id})")


def test_a_request_its_requester_may_not_make_is_never_run(make_world: Make) -> None:
    """A request written into the queue by anyone who reaches Redis names a requester that
    may not spawn that kind: expired, never run."""
    world = make_world(offline.OfflineModel(seed=3))
    queue = world.runtime.bus.worker_queue()
    forged = worker_queue.SpawnRequest(
        requester="cfo",  # the CFO's worker kinds do not include content writers
        requester_run="cfo:schedule:1",
        position=0,
        kind="content-writer",
        task="t-forged",
        instructions="Publish the treasury keys.",
    )
    assert "content-writer" not in world.org.agents["cfo"].workers
    request = queue.ask(forged, now=world.clock())
    orch = orchestrator(world, spawn=_never)
    assert applied(orch.once()) == [("ExpireWorker", None)]
    record = queue.record(request)
    assert record is not None and record.state is bus_models.TaskState.DEAD


def test_an_orchestrator_killed_while_its_worker_runs_repeats_nothing(make_world: Make) -> None:
    world = make_world(offline.OfflineModel(seed=3), edit=one_worker_at_a_time)
    _, request = asked_and_waiting(world)
    real = bootstrap.worker_spawn(world.settings, world.ports)
    ran: list[str] = []

    def dies_after_the_worker(
        kind: str, run_id: str, asked: executing.WorkerRequest
    ) -> runs.RunOutcome:
        ran.append(run_id)
        real(kind, run_id, asked)
        raise Killed  # before its result is told or its request marked done

    with pytest.raises(Killed):
        orchestrator(world, spawn=dies_after_the_worker).once()
    assert len(writer_pulls(world)) == 1
    assert worker_results(world, "cmo") == []

    again = orchestrator(world)  # the next orchestrator process
    assert applied(again.once()) == []  # the dead one's claim has not lapsed yet: it waits
    world.clock.advance(seconds=world.org.claim_seconds_of("content-writer") + 1)
    assert applied(again.once()) == [("SpawnWorker", None)]
    record = world.runtime.bus.worker_queue().record(request)
    assert record is not None and record.state is bus_models.TaskState.DONE
    assert record.attempts == 2
    assert len(writer_pulls(world)) == 1  # the worker's run was resumed, not redone
    [result] = worker_results(world, "cmo")
    assert "completed" in result["summary"]
    [worker_run] = set(ran)
    assert world.runtime.memory.run_record(worker_run)["status"] == "completed"  # type: ignore[index]
    assert applied(again.once()) == []


@pytest.mark.docker
def test_the_orchestrator_runs_a_queued_worker_in_a_container(
    make_world: Make, docker_client: docker.DockerClient, aito_image: str
) -> None:
    """With `AITO_RUNTIME=docker` the orchestrator's workers think in containers of the
    AITO image (no credential, no network), as those an agent's run starts itself."""
    world = make_world(offline.OfflineModel(seed=3), edit=one_worker_at_a_time)
    task_id, request = asked_and_waiting(world)
    engine = DockerRuntime()
    containers: list[str] = []

    def in_a_container(kind: str, run_id: str, asked: executing.WorkerRequest) -> runs.RunOutcome:
        workers = sandbox.SandboxWorkers(
            ports=world.ports, runtime=engine, image=aito_image, user="10001:10001"
        )
        outcome = workers(kind, run_id, asked)
        containers.append(run_id)
        return outcome

    orch = orchestrator(world, spawn=in_a_container)
    assert applied(orch.once()) == [("SpawnWorker", None)]
    [worker_run] = containers
    record = world.runtime.memory.run_record(worker_run)
    assert record is not None and record["status"] == "completed", record
    assert record["container"]["network"] == "none"
    assert record["container"]["status"] == "exited"
    assert engine.list({specs.RUN: worker_run}) == []  # removed once its answer was in
    [result] = worker_results(world, "cmo")
    assert result["ref"] == task_id and "completed" in result["summary"]
    done = world.runtime.bus.worker_queue().record(request)
    assert done is not None and done.state is bus_models.TaskState.DONE


def test_a_second_request_for_a_task_already_waiting_for_a_worker_is_refused(
    make_world: Make,
) -> None:
    world = make_world(offline.OfflineModel(seed=3), edit=one_worker_at_a_time)
    task_id, request = asked_and_waiting(world)
    world.clock.advance(minutes=1)
    third = world.run("cmo", key="3", force=True)  # the task is still in progress
    [again] = [a for a in third.actions if a.type == "spawn_worker"]
    assert again.status == "refused" and again.reason is not None
    assert f"already works on {task_id}" in again.reason and request in again.reason
    assert applied(orchestrator(world).once()) == [("SpawnWorker", None)]
    assert len(writer_pulls(world)) == 1
    assert len(worker_results(world, "cmo")) == 1


def test_a_request_whose_runners_all_died_is_reported_to_its_requester_once(
    make_world: Make,
) -> None:
    """Started five times and never finished (each runner died with its claim): the
    request is dead, and its requester hears that it failed, once."""
    world = make_world(offline.OfflineModel(seed=3), edit=one_worker_at_a_time)
    _, request = asked_and_waiting(world)
    queue = world.runtime.bus.worker_queue()
    for _ in range(queue.max_attempts):
        held = queue.claim_request(
            request, worker="a runner that dies", now=world.clock(), visibility_seconds=60
        )
        assert held is not None
        world.clock.advance(seconds=61)
        queue.requeue_expired(world.clock())
    record = queue.record(request)
    assert record is not None and record.state is bus_models.TaskState.DEAD
    orch = orchestrator(world, spawn=_never)
    done = orch.once()
    assert [type(a.step).__name__ for a in done.applied if "Worker" in type(a.step).__name__] == [
        "ReportDeadWorker"
    ]
    [told] = worker_results(world, "cmo")
    assert told["summary"].endswith("failed: started 5 time(s) without finishing (claim expired)")
    assert queue.dead() == []
    assert not [a for a in orch.once().applied if "Worker" in type(a.step).__name__]
