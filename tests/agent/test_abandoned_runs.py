"""Runs that died unfinished are finished by the agent's next wake-up, and never block it.

(The crashes themselves, with SIGKILL and real services, are in test_crash_recovery.py.)
Here: what an earlier run left behind that cannot be resumed — a saved record that no
longer reads back — is settled as failed instead of failing every later wake-up.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from support.agent_world import ScriptedModel, World

MakeWorld = Callable[..., World]
DAMAGED = "cmo:manual:damaged"


def test_a_run_whose_saved_record_cannot_be_read_is_settled_failed_not_a_wall(
    make_world: MakeWorld,
) -> None:
    world = make_world(ScriptedModel())
    memory = world.runtime.memory
    memory.begin_run(run_id=DAMAGED, agent_id="cmo", trigger="manual", at=world.clock())
    # e.g. saved by a version of AITO whose record format differs
    memory.save_exchanges(DAMAGED, exchanges=[{"request": {"agent_id": "cmo"}, "response": 7}])

    outcome = world.run("cmo", key="next", trigger="manual", force=True)

    assert outcome.status == "completed", outcome.error
    [earlier] = outcome.resumed
    assert earlier.run_id == DAMAGED and earlier.status == "failed"
    record = memory.run_record(DAMAGED)
    assert record is not None and record["status"] == "failed"
    assert "cannot be read back" in record["error"]
    assert memory.unfinished_runs("cmo") == []

    again = world.runner.run("cmo", trigger="manual", run_id=DAMAGED)  # its own re-run
    assert again.repeated and again.status == "failed"


def test_a_worker_run_is_left_to_its_unfinished_requester(make_world: MakeWorld) -> None:
    world = make_world(ScriptedModel())
    memory = world.runtime.memory
    requester = "cmo:manual:crashed"
    worker_run = f"content-writer:spawn:{requester}#2"
    memory.begin_run(run_id=requester, agent_id="cmo", trigger="manual", at=world.clock())
    memory.begin_run(
        run_id=worker_run, agent_id="content-writer", trigger="spawn", at=world.clock()
    )

    world.runner.run("content-writer", trigger="spawn", run_id="content-writer:spawn:other#0")

    # the requester re-runs its spawn under the same id: the worker's run is its to finish
    assert memory.run_record(worker_run)["status"] == "running"
    memory.finish_run(requester, status="completed", at=world.clock())
    world.runner.run("content-writer", trigger="spawn", run_id="content-writer:spawn:other#1")
    assert memory.run_record(worker_run)["status"] == "failed"  # orphaned, had asked nothing


def test_replaying_a_recording_that_cannot_be_read_back_says_so(  # type: ignore[no-untyped-def]
    make_world: MakeWorld, postgres_url: str, redis_url: str, monkeypatch, run_aito
) -> None:
    world = make_world(ScriptedModel())
    memory = world.runtime.memory
    memory.begin_run(run_id=DAMAGED, agent_id="cmo", trigger="manual", at=world.clock())
    memory.save_exchanges(DAMAGED, exchanges=[{"request": {"agent_id": "cmo"}, "response": 7}])
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REDIS_URL", redis_url)

    result = run_aito("--repo", str(world.repo), "agent", "replay", DAMAGED, "--json")

    assert result.code == 1, result.err  # does not reproduce; not a bug (70)
    report = json.loads(result.out)
    assert report["reproduced"] is False and "cannot be read back" in report["verdict"]
