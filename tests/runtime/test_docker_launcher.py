"""An agent's wake-up in a real container (`AITO_RUNTIME=docker`): the launcher starts it,
serves its model calls through the gateway, and records how the container ended."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import docker
import pytest
from support.agent_world import ScriptedModel, World

from aito import bootstrap
from aito.agent import running
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
    assert [(a.type, a.status) for a in outcome.actions][0] == ("open_pr", "executed")
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
