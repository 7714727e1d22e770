"""`wake: daemon`: the orchestrator keeps each agent's daemon container running; one killed
with SIGKILL is started again by the next pass, and past the restart budget the agent is
marked error with exactly one notice."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import docker
import pytest
import yaml
from support.agent_world import World

from aito import bootstrap
from aito.llm import offline
from aito.reconcile import applying, looping, observing, steps
from aito.runtime.docker_engine import DockerRuntime

pytestmark = [pytest.mark.docker]


def daemon_mode(repo: Path) -> None:
    path = repo / "org" / "org.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    data["orchestrator"] = {"wake": "daemon"}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_a_killed_daemon_is_started_again_and_past_its_budget_marked_error_once(
    make_world: Callable[..., World],
    docker_runtime: DockerRuntime,
    docker_client: docker.DockerClient,
    aito_image: str,
) -> None:
    world = make_world(offline.OfflineModel(seed=1), edit=daemon_mode)
    launcher = dataclasses.replace(
        bootstrap.launcher(
            world.settings, world.runtime, world.org, world.ports, tokens={}, engine=docker_runtime
        ),
        image=aito_image,
    )
    sources = observing.Sources(
        bus=world.runtime.bus,
        memory=world.runtime.memory,
        forge=world.governance,
        runtime=docker_runtime,
    )
    sent: list[steps.Notify] = []
    applier = applying.Applier(
        sources, wake=lambda *_: None, send=sent.append, start_daemon=launcher.start_daemon
    )
    orch = looping.Orchestrator(world.org, sources, applier, clock=world.clock, launcher=launcher)
    agents = observing.looping_agents(world.org)
    for agent in agents:  # their schedules are kept: only the containers are in question
        world.runtime.bus.heartbeat(
            agent_id=agent, status="idle", run_id="r", at=world.clock(), ttl_seconds=86_400
        )
    try:
        first = orch.once()
        assert sorted(a.step.agent for a in first.applied) == agents  # type: ignore[union-attr]
        ceo = docker_client.containers.get("aito-daemon-ceo")
        assert ceo.labels["aito.kind"] == "daemon" and ceo.status in ("created", "running")
        assert ceo.attrs["HostConfig"]["ReadonlyRootfs"] is True
        for attempt in (2, 3):
            docker_client.containers.get("aito-daemon-ceo").kill()  # SIGKILL
            world.clock.advance(minutes=5)  # past the backoff
            done = [a.step for a in orch.once().applied]
            assert done == [steps.Restart("ceo", attempt, daemon=True)]
            assert docker_client.containers.get("aito-daemon-ceo").id != ceo.id
            ceo = docker_client.containers.get("aito-daemon-ceo")
        ceo.kill()
        world.clock.advance(minutes=5)
        done = [type(a.step).__name__ for a in orch.once().applied]
        assert done == ["MarkError", "Notify", "ChangeLead"]  # the CEO: the DAO leads
        world.clock.advance(minutes=5)
        assert orch.once().applied == []
        assert [n.subject for n in sent] == ["ceo is down and its restart budget is spent"]
    finally:
        launcher.stop_daemons()
    assert docker_client.containers.list(all=True, filters={"label": "aito.kind=daemon"}) == []
