"""A run survives its own crash and the services' crashes, exactly once.

Real crashes only: `aito agent run` in a subprocess killed with SIGKILL while a model
call is in flight, the real Redis SIGKILLed and restarted (on a new port), the real
Postgres stopped immediately and started again. The model is the real Anthropic
adapter against the local Messages API, which holds a reply back while the test
crashes something. Afterwards the same wake-up is run again and must finish exactly
as the original would have: no second pull request, message, history row or usage
row, and the model never asked again for an answer it gave.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from support import agent_world
from support.agent_world import World
from support.bus_helpers import Chaos
from support.fake_anthropic import (
    API_KEY,
    FakeAnthropic,
    ToolUseReply,
    held,
    running_fake_anthropic,
    tool_use,
)

from aito.agent import effects
from aito.bus import budgets, keys
from aito.bus.redis import RedisBus
from aito.memory.postgres import PostgresMemory
from aito.services.postgres_server import EmbeddedPostgres

MakeWorld = Callable[..., World]
RUN = "cmo:manual:crash"
AITO = str(Path(sys.executable).parent / "aito")


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as server:
        yield server


def env_for(fake: FakeAnthropic, *, postgres_url: str, redis_url: str) -> dict[str, str]:
    return {
        "POSTGRES_URL": postgres_url,
        "REDIS_URL": redis_url,
        "AITO_MODEL": "anthropic",
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": fake.base_url,
    }


def start(
    world: World, env: dict[str, str], agent: str = "cmo", *, run_id: str = RUN
) -> subprocess.Popen[str]:
    """`aito agent run` as the workflow starts it: its own process, the same run id."""
    return subprocess.Popen(
        [AITO, "--repo", str(world.repo), "agent", "run", agent, "--run-id", run_id, "--json"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    out, err = process.communicate(timeout=180)
    assert "Traceback" not in err, err
    return process.returncode, json.loads(out) if out.strip() else {}, err


def kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)


def usage_rows(memory: PostgresMemory, run_id: str) -> list[dict[str, Any]]:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    return [
        row for row in memory.usage_summary(since=since) if row["agent_id"] == run_id.split(":")[0]
    ]


def cto_message(subject: str) -> tuple[str, dict[str, Any]]:
    return ("send_message", {"to": "cto", "subject": subject, "body": "See the draft."})


def told_cto(subject: str) -> ToolUseReply:
    """The cmo's one-message plan."""
    return tool_use(cto_message(subject), ("summary", {"text": "Told the CTO."}))


WEEKLY_POST = "Draft the weekly post"


def weekly_task_id() -> str:
    """The id the cmo's task for the weekly post gets (made from today and its title)."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%d}-{effects.slug(WEEKLY_POST, limit=36)}"


def delegate_weekly_post(task_id: str) -> ToolUseReply:
    """The cmo's plan: a task for a content writer, a message to the CTO, and a worker
    spawned for the task the plan itself creates."""
    return tool_use(
        (
            "create_task",
            {"title": WEEKLY_POST, "description": "500 words.", "assigned_to": "content-writer"},
        ),
        cto_message("Weekly post coming"),
        ("spawn_worker", {"kind": "content-writer", "task": task_id, "instructions": "Write it."}),
        ("summary", {"text": "Delegated the weekly post."}),
    )


@contextlib.contextmanager
def world_on_chaos_redis(
    fake: FakeAnthropic, postgres_url: str, chaos: Chaos, tmp_path: Path
) -> Iterator[World]:
    """A world on the `chaos` Redis, which the test kills and restarts (on a new port)."""
    with agent_world.open_world(
        tmp_path / "governance",
        postgres_url=postgres_url,
        redis_url=chaos.url,
        model=None,
        env=env_for(fake, postgres_url=postgres_url, redis_url=chaos.url),
    ) as world:
        yield world


def cmo_ledger_today(bus: RedisBus) -> tuple[float, float]:
    """The cmo's spend today in the Redis ledger: (settled USD, USD still reserved)."""
    today = budgets.period_key("day", dt.datetime.now(dt.UTC))
    usd, _, reserved_usd, _ = budgets.BudgetLedger(bus).spent("agent:cmo", today)
    return usd, reserved_usd


def test_a_plan_killed_mid_way_finishes_as_the_original_would_have(
    make_world: MakeWorld, fake: FakeAnthropic, postgres_url: str, redis_url: str
) -> None:
    task_id = weekly_task_id()
    worker_answer = tool_use(
        (
            "open_pr",
            {"title": "Weekly post", "body": "Draft.", "files": {"content/drafts/w.md": "Hi"}},
        ),
        ("complete_task", {"task": task_id, "result": "Drafted the weekly post."}),
        ("summary", {"text": "Drafted."}),
    )
    in_flight = held(worker_answer)
    fake.plan(delegate_weekly_post(task_id), in_flight)
    env = env_for(fake, postgres_url=postgres_url, redis_url=redis_url)
    world = make_world(None, env=env)
    memory = world.runtime.memory

    process = start(world, env)
    assert in_flight.arrived.wait(120), process.stderr.read() if process.stderr else ""
    kill(process)  # the spawned worker is thinking: the task exists, the worker does not
    in_flight.release()
    record = memory.run_record(RUN)
    assert record is not None and record["status"] == "running"
    assert {p: r["status"] for p, r in memory.actions_of(RUN).items()} == {
        0: "executed",
        1: "executed",
        2: "started",
    }

    fake.plan(worker_answer)  # the worker had no answer: it is asked again
    started = dt.datetime.now(dt.UTC)
    code, outcome, err = finish(start(world, env))
    assert code == 0, err
    assert dt.datetime.now(dt.UTC) - started < dt.timedelta(seconds=60)  # no lock wall
    assert outcome["status"] == "completed", outcome
    assert [(a["type"], a["status"]) for a in outcome["actions"]] == [
        ("create_task", "executed"),
        ("send_message", "executed"),
        ("spawn_worker", "executed"),  # its task came from the plan itself: still found
        ("summary", "executed"),
    ]
    [worker] = outcome["workers"]
    assert worker["status"] == "completed"
    assert len(fake.requests) == 3  # cmo once; the worker twice (killed, then again)

    governance = world.governance
    task_prs = [p for p in governance.pulls(state=None) if p.head_ref.startswith("aito/tasks/")]
    assert len([p for p in task_prs if task_id in p.head_ref]) == 2  # created, then done
    assert len(world.forge("social").pulls(state=None)) == 1
    assert [m.payload["subject"] for m in world.stream("cto")] == ["Weekly post coming"]
    kinds = [h["action_type"] for h in memory.history("cmo", limit=50)]
    assert sorted(kinds) == ["message_sent", "run_summary", "task_created", "worker_spawned"]
    assert sum(row["calls"] for row in usage_rows(memory, RUN)) == 1
    assert memory.run_record(RUN)["status"] == "completed"


def test_an_answer_counts_once_when_redis_dies_right_after_it(
    fake: FakeAnthropic, postgres_url: str, chaos: Chaos, tmp_path: Path
) -> None:
    in_flight = held(told_cto("Numbers are in"))
    fake.plan(in_flight)
    with world_on_chaos_redis(fake, postgres_url, chaos, tmp_path) as world:
        process = start(world, env_for(fake, postgres_url=postgres_url, redis_url=chaos.url))
        assert in_flight.arrived.wait(120)
        chaos.kill()  # the answer arrives, Redis is gone: nothing can be settled there
        in_flight.release()
        code, _, err = finish(process)
        assert code == 6 and "redis" in err.lower()
        memory = world.runtime.memory
        record = memory.run_record(RUN)
        assert record is not None and record["status"] == "running"
        assert len(record["exchanges"]) == 1  # the answer survived in the plan record
        assert sum(row["calls"] for row in usage_rows(memory, RUN)) == 1
        cost = float(usage_rows(memory, RUN)[0]["cost_usd"])

        chaos.restart()  # a new port; the same data (append-only file)
        code, outcome, err = finish(
            start(world, env_for(fake, postgres_url=postgres_url, redis_url=chaos.url))
        )
    assert code == 0, err
    assert outcome["status"] == "completed"
    assert len(fake.requests) == 1  # resumed from the saved answer, not asked again
    assert sum(row["calls"] for row in usage_rows(memory, RUN)) == 1
    bus = chaos.bus()
    try:
        usd, reserved_usd = cmo_ledger_today(bus)
        assert usd == pytest.approx(cost, abs=2e-6) and reserved_usd == 0  # settled once
        assert [m.payload["subject"] for m in bus.inbox("cto")] == ["Numbers are in"]
    finally:
        bus.close()


def test_an_answer_counts_once_when_postgres_restarts_right_after_it(
    fake: FakeAnthropic, redis_url: str, tmp_path: Path, example_repo: Path
) -> None:
    server = EmbeddedPostgres(data_dir=tmp_path / "pg")
    admin = server.start()
    with contextlib.ExitStack() as stack:
        stack.callback(server.stop)
        PostgresMemory(url=admin).ensure_database("aito")
        url = server.url()
        assert url is not None
        in_flight = held(told_cto("Numbers are in"))
        fake.plan(in_flight)
        env = env_for(fake, postgres_url=url, redis_url=redis_url)
        world = stack.enter_context(
            agent_world.open_world(
                tmp_path / "governance", postgres_url=url, redis_url=redis_url, model=None, env=env
            )
        )
        process = start(world, env)
        assert in_flight.arrived.wait(120)
        server.stop(mode="immediate")  # a crash: recovery on the next start
        in_flight.release()  # the answer arrives while Postgres is down
        restart = threading.Timer(2.0, server.start)
        restart.start()
        code, outcome, err = finish(process)
        restart.join()
        assert code == 0, err
        assert outcome["status"] == "completed"
        memory = world.runtime.memory
        assert sum(row["calls"] for row in usage_rows(memory, RUN)) == 1
        assert len(fake.requests) == 1
        assert memory.run_record(RUN)["status"] == "completed"


def test_a_live_run_of_the_same_wake_up_is_never_taken_over(
    make_world: MakeWorld, fake: FakeAnthropic, postgres_url: str, redis_url: str
) -> None:
    in_flight = held(told_cto("Only once"))
    fake.plan(in_flight)
    env = env_for(fake, postgres_url=postgres_url, redis_url=redis_url)
    world = make_world(None, env=env)
    first = start(world, env)
    assert in_flight.arrived.wait(120)
    code, _, err = finish(start(world, env))  # e.g. a workflow and a daemon, same slot
    assert code == 6 and "held by another process" in err
    in_flight.release()
    code, outcome, err = finish(first)
    assert code == 0 and outcome["status"] == "completed", err
    assert len(fake.requests) == 1
    assert [m.payload["subject"] for m in world.stream("cto")] == ["Only once"]


# -- a crashed run whose wake-up is never started again ---------------------------------
# A scheduled slot or a daemon's message run is not started again under its own id: the
# agent's next wake-up (another run id) finishes it first.

NEXT = "cmo:manual:next"


def lease_expires(redis_url: str, agent: str = "cmo") -> None:
    """A minute passes: the killed run's lease expires (a re-run of the *same* wake-up
    takes it over at once; any other wake-up waits for the TTL)."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.delete(keys.container_lock(agent))
    finally:
        client.close()


def test_the_next_wake_up_finishes_a_run_killed_mid_plan(
    make_world: MakeWorld, fake: FakeAnthropic, postgres_url: str, redis_url: str
) -> None:
    task_id = weekly_task_id()
    worker_answer = tool_use(
        ("complete_task", {"task": task_id, "result": "Drafted the weekly post."}),
        ("summary", {"text": "Drafted."}),
    )
    in_flight = held(worker_answer)
    fake.plan(delegate_weekly_post(task_id), in_flight)
    env = env_for(fake, postgres_url=postgres_url, redis_url=redis_url)
    world = make_world(None, env=env)
    memory = world.runtime.memory
    process = start(world, env)
    assert in_flight.arrived.wait(120)
    kill(process)
    in_flight.release()
    assert memory.run_record(RUN)["status"] == "running"

    fake.plan(worker_answer)
    lease_expires(redis_url)
    code, outcome, err = finish(start(world, env, run_id=NEXT))

    assert code == 0, err
    [earlier] = outcome["resumed"]
    assert earlier["run_id"] == RUN and earlier["status"] == "completed", earlier
    assert [w["status"] for w in earlier["workers"]] == ["completed"]
    assert memory.run_record(RUN)["status"] == "completed"
    assert memory.unfinished_runs("cmo") == [] and memory.unfinished_runs("content-writer") == []
    asked_next = outcome["status"] != "skipped"
    assert len(fake.requests) == 3 + asked_next  # the killed run's answer is not asked again
    assert [m.payload["subject"] for m in world.stream("cto")] == ["Weekly post coming"]
    task_prs = [p for p in world.governance.pulls(state=None) if task_id in p.head_ref]
    assert len(task_prs) == 2  # created, then done: once each
    assert sum(row["calls"] for row in usage_rows(memory, RUN)) == 1 + asked_next


def test_a_call_lost_with_its_process_is_charged_at_its_worst_case_and_asked_again(
    make_world: MakeWorld, fake: FakeAnthropic, postgres_url: str, redis_url: str
) -> None:
    """Killed while the model was answering: the provider may have charged that call, so
    `aito budget` counts it at its worst case (never at nothing); the next wake-up
    finishes the run by asking again, and the message goes out once."""
    answer = told_cto("Numbers are in")
    in_flight = held(answer)
    fake.plan(in_flight)
    env = env_for(fake, postgres_url=postgres_url, redis_url=redis_url)
    world = make_world(None, env=env)
    memory = world.runtime.memory
    process = start(world, env)
    assert in_flight.arrived.wait(120)
    kill(process)  # the call was made; its answer never reached the run
    in_flight.release()
    assert usage_rows(memory, RUN) == []  # nothing accounted yet: the crash came first

    fake.plan(answer)
    lease_expires(redis_url)
    code, outcome, err = finish(start(world, env, run_id=NEXT))

    assert code == 0, err
    assert [r["run_id"] for r in outcome["resumed"]] == [RUN]
    record = memory.run_record(RUN)
    assert record["status"] == "completed"
    assert [bool(e.get("pending")) for e in record["exchanges"]] == [True, False]
    assert memory.unfinished_runs("cmo") == []
    assert [m.payload["subject"] for m in world.stream("cto")] == ["Numbers are in"]
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT exchange, output_tokens, cost_usd FROM model_usage WHERE run_id = %s "
            "ORDER BY exchange",
            (RUN,),
        ).fetchall()
    assert [row[0] for row in rows] == [0, 1]  # the lost call and the one asked again
    lost_cost, asked_cost = float(rows[0][2]), float(rows[1][2])
    assert rows[0][1] == 2048 and lost_cost > asked_cost  # the worst case: full output
    bus = RedisBus(url=redis_url)
    try:
        usd, reserved_usd = cmo_ledger_today(bus)
    finally:
        bus.close()
    spent_today = sum(float(row["cost_usd"]) for row in usage_rows(memory, RUN))
    assert usd == pytest.approx(spent_today, abs=2e-6) and reserved_usd == 0


def test_an_answer_counts_once_when_redis_dies_and_a_later_wake_up_recovers_it(
    fake: FakeAnthropic, postgres_url: str, chaos: Chaos, tmp_path: Path
) -> None:
    in_flight = held(told_cto("Numbers are in"))
    fake.plan(in_flight)
    with world_on_chaos_redis(fake, postgres_url, chaos, tmp_path) as world:
        process = start(world, env_for(fake, postgres_url=postgres_url, redis_url=chaos.url))
        assert in_flight.arrived.wait(120)
        chaos.kill()  # the answer arrives, Redis is gone: the reservation is not settled
        in_flight.release()
        code, _, err = finish(process)
        assert code == 6, err
        memory = world.runtime.memory
        cost = float(usage_rows(memory, RUN)[0]["cost_usd"])

        chaos.restart()
        lease_expires(chaos.url)
        code, outcome, err = finish(
            start(
                world,
                env_for(fake, postgres_url=postgres_url, redis_url=chaos.url),
                run_id=NEXT,
            )
        )
    assert code == 0, err
    assert [r["run_id"] for r in outcome["resumed"]] == [RUN]
    assert memory.run_record(RUN)["status"] == "completed"
    asked_next = outcome["status"] != "skipped"
    assert len(fake.requests) == 1 + asked_next
    bus = chaos.bus()
    try:
        usd, reserved_usd = cmo_ledger_today(bus)
        spent = sum(float(row["cost_usd"]) for row in usage_rows(memory, RUN))
        assert spent >= cost
        assert usd == pytest.approx(spent, abs=2e-6) and reserved_usd == 0  # settled, once
        assert [m.payload["subject"] for m in bus.inbox("cto")] == ["Numbers are in"]
    finally:
        bus.close()
