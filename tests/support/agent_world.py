"""A small world for agent-loop tests: a governance repo, real services, a clock, a Runner.

:func:`governance_repo` writes the Shiba Classic example into a directory and commits
it with a fixed author and date (an ``edit`` callback may change files first, e.g. a
tighter budget). :func:`open_world` connects the embedded Postgres and Redis of the
test session (the fixture URLs), wires the loop through ``bootstrap.loop_ports`` with
a movable clock and the given model, and closes the runtime afterwards.

:class:`ScriptedModel` is the test double for the *model* port only (the remote
service): it answers with the tool calls it was given, in order, and keeps every
request it received.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from aito import bootstrap, scaffolding
from aito.agent import running
from aito.agent.ports import LoopPorts
from aito.bus import streams
from aito.decisions import proposing
from aito.forge.base import Forge, Identity
from aito.llm.base import Model, ModelRequest, ModelResponse, ToolCall, Usage
from aito.memory.embedding import Embedder
from aito.org import loading
from aito.org.messages import AgentMessage
from aito.settings import Settings

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
Call = tuple[str, dict[str, Any]]


class Clock:
    """The loop's only "now"; tests move it."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class ScriptedModel:
    """Answers each request with the next scripted list of tool calls (then a summary)."""

    def __init__(self, *answers: Sequence[Call]) -> None:
        self.answers: list[Sequence[Call]] = list(answers)
        self.requests: list[ModelRequest] = []

    @property
    def provider(self) -> str:
        return "scripted"

    def plan(self, *answers: Sequence[Call]) -> None:
        self.answers.extend(answers)

    def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        calls = self.answers.pop(0) if self.answers else [("summary", {"text": "nothing"})]
        return ModelResponse(
            provider="scripted",
            model=request.model,
            tool_calls=[
                ToolCall(id=f"toolu_{len(self.requests)}_{i}", name=name, input=data)
                for i, (name, data) in enumerate(calls)
            ],
            stop_reason="tool_use",
            usage=Usage(input_tokens=100, output_tokens=20),
        )


def git_env(stamp: dt.datetime = START - dt.timedelta(hours=1)) -> dict[str, str]:
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": "aito test",
        "GIT_AUTHOR_EMAIL": "test@aito.local",
        "GIT_COMMITTER_NAME": "aito test",
        "GIT_COMMITTER_EMAIL": "test@aito.local",
        "GIT_AUTHOR_DATE": stamp.isoformat(),
        "GIT_COMMITTER_DATE": stamp.isoformat(),
    }


def governance_repo(target: Path, *, edit: Callable[[Path], None] | None = None) -> Path:
    """The Shiba Classic example as a committed git repository in ``target``."""
    scaffolding.init(target, example="shiba-classic", git=False)
    if edit is not None:
        edit(target)
    env = git_env()
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "org"]):
        subprocess.run(["git", *args], cwd=target, check=True, env=env, capture_output=True)
    return target


def edit_agent(repo: Path, agent_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change ``org/agents/<agent_id>.yaml`` (before the commit)."""
    path = repo / "org" / "agents" / f"{agent_id}.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@dataclasses.dataclass
class World:
    repo: Path
    settings: Settings
    org: loading.Organization
    runtime: bootstrap.Runtime
    clock: Clock
    ports: LoopPorts
    runner: running.Runner
    model: Model

    def run(
        self, agent_id: str, *, key: str = "1", trigger: str = "schedule", force: bool = False
    ) -> running.RunOutcome:
        run_id = running.run_id_for(agent_id, trigger, key=key)
        return self.runner.run(agent_id, trigger=trigger, run_id=run_id, force=force)

    @property
    def governance(self) -> Forge:
        return self.ports.governance

    def forge(self, repo_key: str) -> Forge:
        return self.ports.repo_forge(repo_key)

    def identity(self, name: str) -> Identity:
        return proposing.identity_for(self.org, name)

    def messenger(self) -> streams.Messenger:
        return streams.Messenger(self.runtime.bus, groups=self.org.groups(), clock=self.clock)

    def send(self, **fields: Any) -> AgentMessage:
        """Deliver a message (``from_`` for the sender) into its recipient's stream."""
        data = {"timestamp": self.clock(), **fields}
        data["from"] = data.pop("from_")
        message = AgentMessage.model_validate(data)
        self.messenger().send(message)
        return message

    def stream(self, agent_id: str) -> list[AgentMessage]:
        return self.runtime.bus.inbox(agent_id, count=1000)

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return self.runtime.memory.events(event_type=event_type, limit=1000)

    def usage_rows(self, agent_id: str) -> int:
        return sum(
            row["calls"]
            for row in self.runtime.memory.usage_summary(
                since=START - dt.timedelta(days=30), agent_id=agent_id
            )
        )


@contextlib.contextmanager
def open_world(
    directory: Path,
    *,
    postgres_url: str,
    redis_url: str,
    model: Model,
    embedder: Embedder | bool = False,
    edit: Callable[[Path], None] | None = None,
    caps: Any = None,
) -> Iterator[World]:
    repo = governance_repo(directory, edit=edit)
    settings = Settings.from_env({"POSTGRES_URL": postgres_url, "REDIS_URL": redis_url}, repo=repo)
    org = loading.load_valid(repo)
    runtime = bootstrap.build(settings, org=org)
    try:
        clock = Clock()
        ports = bootstrap.loop_ports(
            settings, runtime, org, llm=model, clock=clock, embedder=embedder
        )
        runner = running.Runner(ports) if caps is None else running.Runner(ports, caps=caps)
        yield World(repo, settings, org, runtime, clock, ports, runner, model)
    finally:
        runtime.close()
