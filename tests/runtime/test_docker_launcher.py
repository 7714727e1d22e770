"""An agent's wake-up in a real container (`AITO_RUNTIME=docker`): the launcher starts it,
serves its model calls through the gateway, and records how the container ended."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from support.agent_world import ScriptedModel, World, edit_agent
from support.web_servers import Page, site

from aito import bootstrap
from aito.agent import running
from aito.decisions import reading
from aito.errors import TemporaryAdapterError
from aito.llm import offline
from aito.llm.base import ModelRequest, ModelResponse
from aito.runtime import launching
from aito.runtime.docker_engine import DockerRuntime

pytestmark = [pytest.mark.docker]


class Inspecting:
    """The launcher's model (the remote service's stand-in): while a container waits for
    its answer, it reads what `docker inspect` says of that container."""

    def __init__(self, inner: ScriptedModel, client: docker.DockerClient) -> None:
        self.inner = inner
        self.client = client
        self.inspected: list[dict[str, Any]] = []

    @property
    def provider(self) -> str:
        return "offline"

    def complete(self, request: ModelRequest) -> ModelResponse:
        found = self.client.containers.list(filters={"label": f"aito.run={request.run_id}"})
        self.inspected += [c.attrs for c in found]
        return self.inner.complete(request)


def launcher_for(world: World, engine: DockerRuntime, image: str) -> launching.Launcher:
    found = bootstrap.launcher(
        world.settings, world.runtime, world.org, world.ports, tokens={}, engine=engine
    )
    return dataclasses.replace(found, image=image)


def pr() -> tuple[str, dict[str, Any]]:
    files = {"content/week-10.md": "Hi"}
    return ("open_pr", {"title": "Weekly community post", "body": "The post.", "files": files})


def test_an_agent_wakes_in_a_hardened_container_and_opens_its_pull_request(
    make_world: Callable[..., World],
    docker_runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    aito_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Secrets in the launcher's own environment never reach the container.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-launcher-only")
    monkeypatch.setenv("AITO_GITHUB_TOKEN_CEO", "ghs_the_ceos_token")
    model = Inspecting(ScriptedModel([pr(), ("summary", {"text": "Posted."})]), docker_client)
    world = make_world(model)
    launcher = launcher_for(world, docker_runtime, aito_image)
    run_id = running.run_id_for("cmo", "manual", key="docker-1")

    outcome = launcher.run("cmo", trigger="manual", run_id=run_id, force=True)

    assert outcome.status == "completed", outcome.error
    assert (outcome.actions[0].type, outcome.actions[0].status) == ("open_pr", "executed")
    [pull] = world.forge("social").pulls()
    assert pull.title == "Weekly community post"
    assert pull.author.login == world.org.org.bots["cmo"].login

    [attrs] = model.inspected  # the container as it ran
    host = attrs["HostConfig"]
    assert host["Memory"] == 512 * 1024**2 and host["MemorySwap"] == host["Memory"]
    assert host["NanoCpus"] == 500_000_000 and host["PidsLimit"] == 256
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert attrs["Config"]["User"] == "10001:10001"
    labels = attrs["Config"]["Labels"]
    assert (labels["aito.org"], labels["aito.agent"], labels["aito.run"], labels["aito.kind"]) == (
        "Shiba Classic",
        "cmo",
        run_id,
        "agent",
    )
    env = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
    assert "ANTHROPIC_API_KEY" not in env
    assert not [name for name in env if name.startswith("AITO_GITHUB_TOKEN")]
    assert env["AITO_MODEL_GATEWAY"] == "/run/aito/gateway.sock"
    assert not [m for m in attrs["Mounts"] if "docker.sock" in m["Source"] + m["Destination"]]

    record = world.runtime.memory.run_record(run_id)
    assert record is not None and record["status"] == "completed"
    assert record["container"]["status"] == "exited" and record["container"]["exit_code"] == 0
    assert run_id in record["container"]["logs"]  # the run's own output, captured
    assert world.usage_rows("cmo") == 1  # the call accounted once (gateway and run agree)
    assert docker_runtime.list({"aito.run": run_id}) == []

    again = launcher.run("cmo", trigger="manual", run_id=run_id, force=True)
    assert again.repeated and again.status == "completed"  # no container, nothing twice
    assert len(world.forge("social").pulls()) == 1


def test_a_launcher_killed_mid_run_leaves_no_container_and_no_double_effect(
    make_world: Callable[..., World],
    docker_runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    aito_image: str,
) -> None:
    world = make_world(offline.OfflineModel(seed=3))
    run_id = running.run_id_for("cmo", "manual", key="killed")
    env = {
        **os.environ,
        "AITO_RUNTIME": "docker",
        "AITO_IMAGE": aito_image,
        "AITO_MODEL": "offline",
        "POSTGRES_URL": world.settings.postgres_url.get_secret_value(),  # type: ignore[union-attr]
        "REDIS_URL": world.settings.redis_url.get_secret_value(),  # type: ignore[union-attr]
    }
    command = [sys.executable, "-m", "aito", "--repo", str(world.repo)]
    command += ["agent", "run", "cmo", "--run-id", run_id, "--force", "--json"]
    labelled = {"label": f"aito.run={run_id}"}

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    memory = world.runtime.memory
    while not (memory.run_record(run_id) or {}).get("exchanges"):  # it has asked the model
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the run in the container never asked the model"
        time.sleep(0.02)
    first.kill()  # SIGKILL, mid-run: no cleanup of any kind
    first.communicate()
    assert docker_client.containers.list(all=True, filters=labelled)  # left behind

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    logs = (memory.run_record(run_id) or {}).get("container")
    assert second.returncode == 0, f"{second.stdout}{second.stderr}{logs}"
    assert docker_client.containers.list(all=True, filters=labelled) == []  # reaped, removed
    record = memory.run_record(run_id)
    assert record is not None and record["status"] == "completed"
    done = [row for row in memory.actions_of(run_id).values() if row["status"] == "executed"]
    assert done, "the resumed run did its work"
    base = reading.base_organization(world.governance, world.governance.default_branch)
    created = [row["ref"] for row in done if row["action_type"] == "create_task"]
    assert sorted(created) == sorted(t.id for t in base.tasks.values() if t.created_by == "cmo")
    sent = [row for row in done if row["action_type"] == "send_message"]
    from_cmo = [m for agent in world.org.agents for m in world.stream(agent) if m.from_ == "cmo"]
    assert len(from_cmo) == len(sent)
    history = memory.history("cmo", limit=500)
    keys = [(h["action_type"], h["summary"]) for h in history if h["run_id"] == run_id]
    assert len(keys) == len(set(keys))


class Stalling:
    """A model that does not answer in time (the launcher's side of a hung provider)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    @property
    def provider(self) -> str:
        return "offline"

    def complete(self, request: ModelRequest) -> ModelResponse:
        self.release.wait(120)
        raise TemporaryAdapterError("model", "too late")


def test_a_wake_up_past_its_timeout_is_killed_recorded_and_does_not_block_the_next(
    make_world: Callable[..., World], docker_runtime: DockerRuntime, aito_image: str
) -> None:
    def two_minutes(repo: Path) -> None:  # its container gets 2 minutes less one: 60 s
        edit_agent(repo, "cmo", lambda data: data["loop"].update(timeout_minutes=2))

    model = Stalling()
    world = make_world(model, edit=two_minutes)
    launcher = launcher_for(world, docker_runtime, aito_image)
    run_id = running.run_id_for("cmo", "manual", key="stalled")
    try:
        outcome = launcher.run("cmo", trigger="manual", run_id=run_id, force=True)
    finally:
        model.release.set()
    assert outcome.status == "timed_out"
    record = world.runtime.memory.run_record(run_id)
    assert record is not None and record["status"] == "timed_out"  # nothing of it had run
    assert record["container"]["status"] == "timed_out"
    assert record["container"]["timeout_seconds"] == 60
    # its run lock went with its container: the agent's next wake-up starts at once
    held = world.runtime.bus.lock_holder("lock:container:cmo")
    assert held is None


FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>
<item><title>Exchange listing confirmed</title><guid>l1</guid></item></channel></rss>"""


def test_an_agent_in_a_container_reads_through_its_launcher_which_holds_the_servers(
    make_world: Callable[..., World],
    docker_runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    aito_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The MCP servers (and their secrets) stay on the launcher's side: the container
    lists and calls their tools that read through the gateway, and holds no secret."""
    monkeypatch.setenv("AITO_MCP_NEWS_TOKEN", "news-secret")
    with site({"/feed.xml": Page(FEED, "application/rss+xml")}) as web:

        def servers(repo: Path) -> None:
            org_yaml = repo / "org" / "org.yaml"
            data = yaml.safe_load(org_yaml.read_text())
            data["mcp"] = {
                "servers": {
                    "news": {
                        "command": ["aito", "mcp", "serve", "rss"],
                        "domains": ["127.0.0.1"],
                        "env": ["AITO_MCP_NEWS_TOKEN"],
                    }
                }
            }
            org_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
            edit_agent(repo, "cmo", lambda spec: spec.update(mcp_servers=["news"]))

        script = ScriptedModel(
            [("news__read_feed", {"url": web.url("/feed.xml")})],
            [("summary", {"text": "Read the news."})],
        )
        model = Inspecting(script, docker_client)
        world = make_world(model, edit=servers)
        launcher = launcher_for(world, docker_runtime, aito_image)
        run_id = running.run_id_for("cmo", "manual", key="docker-mcp")
        outcome = launcher.run("cmo", trigger="manual", run_id=run_id, force=True)

    assert outcome.status == "completed", outcome.error
    first, then = script.requests
    assert "news__read_feed" in {t.name for t in first.tools}
    [turn] = then.turns
    assert "Exchange listing confirmed" in turn.results[0].content
    assert web.asked == ["/feed.xml"]
    [record] = [e for e in world.events("tool.called") if e["run_id"] == run_id]
    assert (record["payload"]["server"], record["payload"]["tool"]) == ("news", "read_feed")
    env = dict(item.split("=", 1) for item in model.inspected[0]["Config"]["Env"])
    assert "AITO_MCP_NEWS_TOKEN" not in env and "news-secret" not in env.values()
