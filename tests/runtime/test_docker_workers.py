"""Workers in real containers: no credentials, no network, killed at their memory limit
and timeout, and their answer is only data the trusted side checks before applying it.

The "model-chosen work" inside a worker is played by a command of the test's (what a
compromised worker could run): the sandbox must hold whatever runs in it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest
from support.agent_world import Spy, World, edit_agent

from aito.agent import executing, running, runs
from aito.llm import offline
from aito.runtime import sandbox
from aito.runtime.docker_engine import DockerRuntime

pytestmark = [pytest.mark.docker]


def spawn(
    world: World,
    engine: DockerRuntime,
    image: str,
    *,
    command: list[str] | None = None,
    task: str = "weekly-post",
) -> runs.RunOutcome:
    """The CMO's worker (a content writer) on one task, as the CMO's launcher starts it."""
    workers = sandbox.SandboxWorkers(
        ports=world.ports,
        runtime=engine,
        image=image,
        user="10001:10001",
        command=command or list(sandbox.WORKER_COMMAND),
    )
    request = executing.WorkerRequest(
        requester="cmo",
        requester_run="cmo:manual:1",
        position=0,
        kind="content-writer",
        task=task,
        instructions="Draft this week's post.",
    )
    run_id = runs.run_id_for("content-writer", "spawn", key="cmo:manual:1#0")
    return workers("content-writer", run_id, request)


def python(code: str) -> list[str]:
    return ["python", "-c", code]


def container_of(world: World, outcome: runs.RunOutcome) -> dict[str, object]:
    record = world.runtime.memory.run_record(outcome.run_id)
    assert record is not None and record["container"] is not None
    return dict(record["container"])


def test_a_worker_in_a_container_opens_its_pull_request_and_its_result_reaches_the_requester(
    make_world: Callable[..., World], docker_runtime: DockerRuntime, aito_image: str
) -> None:
    model = Spy(offline.OfflineModel(seed=3))
    world = make_world(model)
    world.runner = running.Runner(
        world.ports,
        spawn=sandbox.SandboxWorkers(
            ports=world.ports, runtime=docker_runtime, image=aito_image, user="10001:10001"
        ),
    )
    first = world.run("cmo", key="1")  # the CMO makes a task
    [task_id] = [a.ref for a in first.actions if a.type == "create_task"]
    world.clock.advance(hours=4)
    second = world.run("cmo", key="2")  # and spawns its content writer on it
    [outcome] = second.workers
    assert outcome.status == "completed", outcome.error
    assert ("open_pr", "executed") in {(a.type, a.status) for a in outcome.actions}
    [asked] = model.asked("content-writer")  # asked once, by the trusted side, for it
    assert asked.model == "claude-haiku-4-5"
    [draft] = world.forge("social").pulls(state=None)
    assert draft.head_ref.startswith("aito/content-writer/")
    container = container_of(world, outcome)
    assert (container["status"], container["exit_code"]) == ("exited", 0)
    assert container["network"] == "none" and container["memory"] == "256m"
    assert docker_runtime.list({"aito.run": outcome.run_id}) == []  # removed when done

    world.clock.advance(hours=4)
    world.run("cmo", key="3")  # the result is news on the requester's next wake-up
    kinds = {o["kind"]: o for o in model.asked("cmo")[-1].context["outcomes"]}
    assert kinds["worker_result"]["ref"] == task_id
    assert "completed" in kinds["worker_result"]["summary"]


def test_a_worker_has_no_network_no_credentials_and_nothing_but_the_socket(
    make_world: Callable[..., World], docker_runtime: DockerRuntime, aito_image: str
) -> None:
    world = make_world(offline.OfflineModel(seed=3))
    probe = """
import json, os, socket
found = {"env": sorted(os.environ), "uid": os.getuid()}
found["socket"] = os.path.exists("/run/aito/gateway.sock")
found["mounts"] = [line.split()[4] for line in open("/proc/self/mountinfo")]
try:
    socket.create_connection(("1.1.1.1", 443), timeout=3)
    found["net"] = "connected"
except OSError as exc:
    found["net"] = type(exc).__name__ + ": " + str(exc)
try:
    open("/etc/aito-was-here", "w")
    found["root"] = "writable"
except OSError as exc:
    found["root"] = type(exc).__name__
print("PROBE " + json.dumps(found))
"""
    outcome = spawn(world, docker_runtime, aito_image, command=python(probe))
    assert outcome.status == "failed"  # no answer handed in: nothing applied
    assert world.forge("social").pulls(state=None) == []
    logs = str(container_of(world, outcome)["logs"])
    assert "PROBE " in logs, container_of(world, outcome)
    found = json.loads(logs.split("PROBE ", 1)[1].splitlines()[0])
    assert found["net"].startswith("OSError") and "unreachable" in found["net"]
    assert found["root"] == "OSError"  # read-only root filesystem
    assert found["uid"] == 10001
    assert found["socket"] is True
    assert "/run/aito" in found["mounts"]
    assert not [m for m in found["mounts"] if "docker.sock" in m]  # never the Docker socket
    secrets = {"POSTGRES_URL", "REDIS_URL", "ANTHROPIC_API_KEY", "AITO_GITHUB_TOKEN"}
    assert not secrets & set(found["env"])
    assert not [name for name in found["env"] if "TOKEN" in name or "KEY" in name]


def test_a_worker_past_its_memory_limit_is_killed_and_recorded_so(
    make_world: Callable[..., World],
    docker_runtime: DockerRuntime,
    aito_image: str,
    run_aito,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(offline.OfflineModel(seed=3))
    hog = "chunks = []\nwhile True:\n    chunks.append(b'x' * (64 * 1024 * 1024))"
    outcome = spawn(world, docker_runtime, aito_image, command=python(hog))
    assert outcome.status == "oom_killed"
    record = world.runtime.memory.run_record(outcome.run_id)
    assert record is not None and record["status"] == "oom_killed"
    assert container_of(world, outcome)["status"] == "oom_killed"
    assert "memory" in (outcome.error or "")
    for name in ("POSTGRES_URL", "REDIS_URL"):  # `aito agent logs` shows it to a person
        monkeypatch.setenv(name, getattr(world.settings, name.lower()).get_secret_value())
    shown = run_aito("--repo", str(world.repo), "agent", "logs", outcome.run_id)
    assert shown.code == 0, shown.err
    assert "oom_killed, exit code 137" in shown.out and "memory 256m" in shown.out


def test_a_worker_past_its_timeout_is_killed_and_recorded_so(
    make_world: Callable[..., World], docker_runtime: DockerRuntime, aito_image: str
) -> None:
    def one_minute(repo):  # type: ignore[no-untyped-def]
        edit_agent(repo, "content-writer", lambda data: data.update(timeout_minutes=1))

    world = make_world(offline.OfflineModel(seed=3), edit=one_minute)
    outcome = spawn(world, docker_runtime, aito_image, command=["sleep", "600"])
    assert outcome.status == "timed_out"
    container = container_of(world, outcome)
    assert container["status"] == "timed_out" and container["timeout_seconds"] == 60

    assert 60 <= float(str(container["seconds"])) < 120
    assert docker_runtime.list({"aito.run": outcome.run_id}) == []


HOSTILE_ANSWER = """
from pathlib import Path
from aito.llm.base import ToolCall
from aito.runtime import client, protocol
gateway = client.GatewayClient(Path("/run/aito/gateway.sock"))
gateway.output(protocol.Output(tool_calls=[ToolCall(id="1", name="open_pr", input={
    "repo": "social", "title": "Tidy up", "body": "cleanup",
    "files": {".github/workflows/deploy.yml": "on: push", "content/drafts/post.md": "hi"},
})]))
print("handed in")
"""


def test_a_worker_answer_touching_paths_outside_its_filters_is_refused_and_never_applied(
    make_world: Callable[..., World], docker_runtime: DockerRuntime, aito_image: str
) -> None:
    world = make_world(offline.OfflineModel(seed=3))
    outcome = spawn(world, docker_runtime, aito_image, command=python(HOSTILE_ANSWER))
    [opened] = [a for a in outcome.actions if a.type == "open_pr"]
    assert opened.status == "refused"
    assert ".github/workflows/deploy.yml" in (opened.reason or "")
    assert world.forge("social").pulls(state=None) == []
    social = world.settings.data_dir / "repos" / "social"
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/heads/aito/"],
        cwd=social,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert refs == ""  # not even a branch was pushed
