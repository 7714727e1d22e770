"""Sandboxed workers on the in-process runtime: the same gateway, checks and records as in
Docker, with threads for containers (Docker's own limits are tested in test_docker_*)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.agent_world import Spy, World

from aito.agent import running
from aito.decisions import reading
from aito.llm import offline
from aito.runtime import inprocess, sandbox, working


def sandboxed(world: World, **options: Any) -> None:
    """The world's runner spawns its workers in sandboxes on the in-process runtime."""
    engine = inprocess.InProcessRuntime({"aito worker exec": working.in_process})
    workers = sandbox.SandboxWorkers(
        ports=world.ports, runtime=engine, image="aito:latest", user="10001:10001", **options
    )
    world.runner = running.Runner(world.ports, spawn=workers)


def test_a_sandboxed_worker_opens_its_pr_and_its_result_reaches_the_requester(
    make_world: Callable[..., World],
) -> None:
    model = Spy(offline.OfflineModel(seed=3))
    world = make_world(model)
    sandboxed(world)
    first = world.run("cmo", key="1")
    [task_id] = [a.ref for a in first.actions if a.type == "create_task"]
    world.clock.advance(hours=4)
    second = world.run("cmo", key="2")
    [worker] = second.workers
    assert worker.agent_id == "content-writer" and worker.status == "completed"
    assert {(a.type, a.status) for a in worker.actions} >= {
        ("open_pr", "executed"),
        ("complete_task", "executed"),
    }
    [asked] = model.asked("content-writer")
    assert asked.model == "claude-haiku-4-5"
    record = world.runtime.memory.run_record(worker.run_id)
    assert record is not None and record["container"]["status"] == "exited"
    assert record["container"]["network"] == "none"
    assert "answer handed in" in record["container"]["logs"]
    assert len(record["exchanges"]) == 1  # saved by the trusted side, as in-process
    base = reading.base_organization(world.governance, world.governance.default_branch)
    assert base.tasks[task_id].status.value == "done"

    world.clock.advance(hours=4)
    world.run("cmo", key="3")
    kinds = {o["kind"]: o for o in model.asked("cmo")[-1].context["outcomes"]}
    assert kinds["worker_result"]["ref"] == task_id
    assert "completed" in kinds["worker_result"]["summary"]
