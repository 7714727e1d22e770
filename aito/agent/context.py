"""What an agent sees when it wakes: gathered by code, rendered into the prompt.

The context is one pydantic model, so the prompt template, the offline model (which
reasons over it as data) and the recording of a run all use the same thing. Facts
are data fetched by code, each with a source, a timestamp and an id that actions cite.
This module holds the views and the pure helpers; :mod:`aito.agent.gathering` fills
them from the services, :mod:`aito.agent.world` the part the idle skip compares.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aito.org import loading
from aito.org.agents import Layer
from aito.org.messages import AgentMessage
from aito.org.records import TaskStatus

HISTORY_LAST_N = 20
VOLATILE_FACTS = ("budget.", "org.spend.")
RECALL_K = 5
OPEN_TASK_STATUSES = (TaskStatus.PENDING, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED)


class View(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgentCard(View):
    id: str
    name: str
    layer: str
    type: str
    department: str
    reports_to: str | None
    manages: list[str]


class Fact(View):
    """A datum fetched by code; actions cite it by ``id``."""

    id: str
    statement: str
    value: Any
    source: str
    at: dt.datetime


class InboxItem(View):
    id: str
    type: str
    sender: str
    to: str
    subject: str
    body: str
    payload: dict[str, Any]
    correlation_id: str | None
    requires_response: bool
    deadline: dt.datetime | None
    sent_at: dt.datetime


class AwaitedAnswer(View):
    """A request this agent sent that is still unanswered (its deadline not yet past)."""

    request_id: str
    to: str
    deadline: dt.datetime


class TaskView(View):
    id: str
    title: str
    description: str
    status: str
    priority: int
    assigned_to: str
    created_by: str
    due: dt.datetime | None
    decision: str | None


class DecisionView(View):
    id: str
    pr: int
    title: str
    description: str
    tier: str
    stage: str
    round: int
    proposed_by: str
    amount_usd: float
    votes: dict[str, str | None]
    missing: list[str]
    my_role: str | None = Field(description="vote, analysis or None (nothing asked of me)")


class OutcomeView(View):
    id: int
    kind: str
    ref: str | None
    summary: str
    details: dict[str, Any]


class MemoryItem(View):
    action_type: str
    summary: str
    at: dt.datetime
    run_id: str | None
    score: float | None


class BudgetView(View):
    daily_limit_usd: float
    daily_spent_usd: float
    monthly_limit_usd: float
    monthly_spent_usd: float

    @property
    def remaining_today_usd(self) -> float:
        return max(0.0, self.daily_limit_usd - self.daily_spent_usd)


class Permissions(View):
    repos: list[str]
    paths: list[str]
    workers: list[str]
    manages: list[str]
    may_propose: bool
    caps: dict[str, int]


class LeadView(View):
    """Who leads the organization. While the DAO holds the temporary lead (the CEO is
    down past its restart budget), its wake-ups also see the CEO's duties: the CEO's
    status round, the tasks addressed to the CEO, the messages waiting for the CEO.
    The CEO's votes are not among them: a vote belongs to its identity."""

    leader: str
    acting_for: str | None = None
    status_round: dict[str, Any] | None = None
    tasks: list[TaskView] = Field(default_factory=list)
    inbox: list[InboxItem] = Field(default_factory=list)


class Context(View):
    """Everything one wake-up of ``agent`` sees."""

    agent: AgentCard
    run_id: str
    trigger: str
    now: dt.datetime
    organization: str
    agents: list[AgentCard]
    profile: str
    permissions: Permissions
    state: dict[str, Any]
    history: list[MemoryItem]
    recalled: list[MemoryItem]
    tasks: list[TaskView]
    delegated: list[TaskView]
    inbox: list[InboxItem]
    awaiting_answers: list[AwaitedAnswer] = Field(default_factory=list)
    decisions: list[DecisionView]
    outcomes: list[OutcomeView]
    facts: list[Fact]
    budget: BudgetView
    lead: LeadView | None = None

    def fingerprint(self) -> str:
        """See :func:`fingerprint_of`; new messages and outcomes count on their own
        (:meth:`has_news`). While the agent holds the temporary lead, the duties it
        holds for the CEO count too."""
        found = fingerprint_of(
            tasks=self.tasks, delegated=self.delegated, decisions=self.decisions, facts=self.facts
        )
        if self.lead is None or self.lead.acting_for is None:
            return found
        duties = json.dumps(self.lead.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(f"{found}|{duties}".encode()).hexdigest()[:32]

    def has_news(self) -> bool:
        """Unhandled messages or results not yet shown: never an idle wake-up."""
        return bool(self.inbox or self.outcomes)

    def has_work(self) -> bool:
        """Open work to carry on — its own pending or in-progress tasks, or pending tasks
        for a worker kind it spawns — keeps an agent waking on its schedule."""
        workers = set(self.permissions.workers)
        return any(t.status in ("pending", "in_progress") for t in self.tasks) or any(
            t.status == "pending" and t.assigned_to in workers for t in self.delegated
        )

    def awaiting(self) -> list[DecisionView]:
        return [d for d in self.decisions if d.my_role]


def org_chart(org: loading.Organization) -> list[AgentCard]:
    """Who is who: every non-worker agent, by id."""
    return [card(org, a) for a in sorted(org.agents) if org.agents[a].layer is not Layer.WORKER]


def permissions_of(
    org: loading.Organization, agent_id: str, *, caps: dict[str, int]
) -> Permissions:
    """What the agent's definition allows, as shown in its prompt (and checked in code)."""
    spec = org.agents[agent_id]
    return Permissions(
        repos=org.repos_of(agent_id),
        paths=list(spec.git.paths),
        workers=list(spec.workers),
        manages=list(spec.manages),
        may_propose=spec.layer is not Layer.WORKER,
        caps=caps,
    )


def card(org: loading.Organization, agent_id: str) -> AgentCard:
    spec = org.agents[agent_id]
    return AgentCard(
        id=spec.id,
        name=spec.name,
        layer=spec.layer.value,
        type=spec.type,
        department=spec.department,
        reports_to=spec.reports_to,
        manages=list(spec.manages),
    )


def fingerprint_of(
    *,
    tasks: list[TaskView],
    delegated: list[TaskView],
    decisions: list[DecisionView],
    facts: list[Fact],
) -> str:
    """What changed-or-not means for the idle skip: the agent's tasks, the tasks it
    delegated, decisions awaiting it, and facts (not the clock, the history or spend
    figures, which move whenever anyone thinks)."""
    world = {
        "tasks": [(t.id, t.status, t.priority) for t in tasks],
        "delegated": [(t.id, t.status) for t in delegated],
        "decisions": [(d.id, d.round, d.stage) for d in decisions if d.my_role],
        "facts": sorted(
            (f.id, json.dumps(f.value, sort_keys=True))
            for f in facts
            if not f.id.startswith(VOLATILE_FACTS)
        ),
    }
    return hashlib.sha256(json.dumps(world, sort_keys=True).encode()).hexdigest()[:32]


def task_view(task: Any) -> TaskView:
    return TaskView(
        id=task.id,
        title=task.title,
        description=task.description[:1000],
        status=task.status.value,
        priority=task.priority,
        assigned_to=task.assigned_to,
        created_by=task.created_by,
        due=task.due_date,
        decision=task.decision,
    )


def inbox_item(data: dict[str, Any]) -> InboxItem:
    message = AgentMessage.model_validate(data)
    payload = dict(message.payload)
    return InboxItem(
        id=message.id,
        type=message.type.value,
        sender=message.from_,
        to=message.to,
        subject=str(payload.pop("subject", message.type.value))[:200],
        body=str(payload.pop("body", ""))[:2000],
        payload=payload,
        correlation_id=message.correlation_id,
        requires_response=message.requires_response,
        deadline=message.response_deadline,
        sent_at=message.timestamp,
    )
