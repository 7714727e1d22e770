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
from aito.agent import checking, context, running
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


# -- contexts built by hand (for the pure checks and the offline model) ----------------


def fact(fact_id: str, value: Any = 1) -> context.Fact:
    return context.Fact(id=fact_id, statement=fact_id, value=value, source="test", at=START)


def task(task_id: str, *, status: str = "pending", to: str, by: str) -> context.TaskView:
    return context.TaskView(
        id=task_id,
        title=f"Task {task_id}",
        description="",
        status=status,
        priority=5,
        assigned_to=to,
        created_by=by,
        due=None,
        decision=None,
    )


def message(
    message_id: str, *, type: str = "direct", sender: str = "ceo", to: str, body: str = "hello"
) -> context.InboxItem:
    return context.InboxItem(
        id=message_id,
        type=type,
        sender=sender,
        to=to,
        subject=type,
        body=body,
        payload={},
        correlation_id=None,
        requires_response=type == "status_request",
        deadline=None,
        sent_at=START,
    )


def decision(
    decision_id: str, *, role: str | None, description: str = "A plan.", stage: str = "voting"
) -> context.DecisionView:
    return context.DecisionView(
        id=decision_id,
        pr=7,
        title=f"Decision {decision_id}",
        description=description,
        tier="major",
        stage=stage,
        round=2 if role == "analysis" else 1,
        proposed_by="cmo",
        amount_usd=900,
        votes={"ceo": None, "dao": None},
        missing=["ceo", "dao"],
        my_role=role,
    )


def seen(org: loading.Organization, agent_id: str, **fields: Any) -> context.Context:
    data: dict[str, Any] = {
        "agent": context.card(org, agent_id),
        "run_id": f"{agent_id}:test:1",
        "trigger": "test",
        "now": START,
        "organization": org.org.name,
        "agents": context.org_chart(org),
        "profile": "",
        "permissions": context.permissions_of(org, agent_id, caps=checking.Caps().as_dict()),
        "state": {},
        "history": [],
        "recalled": [],
        "tasks": [],
        "delegated": [],
        "inbox": [],
        "decisions": [],
        "outcomes": [],
        "facts": [
            fact("tasks.open"),
            fact("tasks.in_progress", 0),
            fact("prs.open", 0),
            fact("budget.today", 0.0),
        ],
        "budget": context.BudgetView(
            daily_limit_usd=6, daily_spent_usd=0, monthly_limit_usd=150, monthly_spent_usd=0
        ),
    }
    data.update(fields)
    return context.Context(**data)


# -- the world ----------------------------------------------------------------------------


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


class Spy:
    """Passes every call to ``inner`` (e.g. the offline model) and keeps the requests."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.requests: list[ModelRequest] = []

    @property
    def provider(self) -> str:
        return self.inner.provider

    def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return self.inner.complete(request)

    def asked(self, agent_id: str) -> list[ModelRequest]:
        return [r for r in self.requests if r.agent_id == agent_id]


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
    model: Model | None

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
    model: Model | None,
    embedder: Embedder | bool = False,
    edit: Callable[[Path], None] | None = None,
    caps: Any = None,
    env: dict[str, str] | None = None,
) -> Iterator[World]:
    """``model=None`` lets bootstrap pick the model from the settings (``env``)."""
    repo = governance_repo(directory, edit=edit)
    settings = Settings.from_env(
        {"POSTGRES_URL": postgres_url, "REDIS_URL": redis_url, **(env or {})}, repo=repo
    )
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
