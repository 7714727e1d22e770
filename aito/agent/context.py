"""What an agent sees when it wakes: gathered by code, rendered into the prompt.

The context is one pydantic model, so the prompt template, the offline model (which
reasons over it as data) and the recording of a run all use the same thing. Facts
are data fetched by code, each with a source, a timestamp and an id that actions cite.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aito.agent.ports import LoopPorts
from aito.bus import consuming, streams
from aito.decisions import applying, reading
from aito.errors import GovernanceError
from aito.forge.base import PullState
from aito.governance.tallying import Stage
from aito.memory import recalling
from aito.org import loading
from aito.org.agents import Layer
from aito.org.messages import AgentMessage
from aito.org.records import TaskStatus

log = logging.getLogger(__name__)

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

    def fingerprint(self) -> str:
        """See :func:`fingerprint_of`; new messages and outcomes count on their own
        (:meth:`has_news`)."""
        return fingerprint_of(
            tasks=self.tasks, delegated=self.delegated, decisions=self.decisions, facts=self.facts
        )

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


def take_inbox(ports: LoopPorts, agent_id: str) -> int:
    """Move delivered messages from the agent's stream into Postgres, then acknowledge.

    Stored before the acknowledgement, so a crash loses nothing; stored once per
    message id, so a redelivery is not a second message.
    """
    consumer = consuming.Consumer(ports.bus, agent_id=agent_id, batch_size=200)
    taken: list[AgentMessage] = []
    now = ports.clock()

    def keep(message: AgentMessage) -> None:
        ports.memory.store_inbox(
            agent_id, [(message.id, message.model_dump(mode="json", by_alias=True))], at=now
        )
        taken.append(message)

    for _ in range(50):
        result = consumer.poll(keep)
        if not (result.handled or result.reclaimed or result.duplicates):
            break
    return len(taken)


def decisions_for(
    ports: LoopPorts, org: loading.Organization, agent_id: str, *, now: dt.datetime
) -> list[DecisionView]:
    """Every open decision with what it asks of this agent (read-only tally)."""
    views = []
    for pull in ports.governance.pulls(state=PullState.OPEN):
        try:
            reading.decision_of(ports.governance, pull)
            result = applying.tally(ports.governance, pull.number, now=now, apply=False)
        except GovernanceError:
            continue
        verdict = result.verdict
        role = None
        if agent_id in verdict.missing and agent_id != result.decision.proposed_by:
            role = "analysis" if verdict.stage is Stage.ANALYSIS else "vote"
        if verdict.stage is Stage.DONE:
            continue
        views.append(
            DecisionView(
                id=verdict.decision_id,
                pr=verdict.pr,
                title=result.decision.title,
                description=result.decision.description[:1500],
                tier=verdict.tier.value,
                stage=verdict.stage.value,
                round=verdict.round,
                proposed_by=result.decision.proposed_by,
                amount_usd=result.decision.amount_usd,
                votes={a: v.value if v else None for a, v in verdict.votes.items()},
                missing=list(verdict.missing),
                my_role=role,
            )
        )
    return views


@dataclasses.dataclass(frozen=True)
class World:
    """The part of the context the idle skip compares: tasks, delegated tasks,
    decisions (and what each asks of the agent) and facts."""

    tasks: list[TaskView]
    delegated: list[TaskView]
    decisions: list[DecisionView]
    facts: list[Fact]

    def fingerprint(self) -> str:
        return fingerprint_of(
            tasks=self.tasks, delegated=self.delegated, decisions=self.decisions, facts=self.facts
        )


def world_of(
    ports: LoopPorts,
    org: loading.Organization,
    agent_id: str,
    *,
    budget: BudgetView,
    now: dt.datetime,
) -> World:
    spec = org.agents[agent_id]
    open_tasks = [t for t in org.tasks.values() if t.status in OPEN_TASK_STATUSES]
    mine = sorted(
        (task_view(t) for t in open_tasks if t.assigned_to == agent_id),
        key=lambda t: (t.priority, t.id),
    )
    delegated = sorted(
        (
            task_view(t)
            for t in open_tasks
            if t.created_by == agent_id and t.assigned_to != agent_id
        ),
        key=lambda t: t.id,
    )
    decisions = (
        decisions_for(ports, org, agent_id, now=now) if spec.layer is not Layer.WORKER else []
    )
    facts = _facts(
        ports, org, agent_id, budget=budget, tasks=open_tasks, decisions=decisions, now=now
    )
    return World(tasks=mine, delegated=delegated, decisions=decisions, facts=facts)


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


def gather(
    ports: LoopPorts,
    org: loading.Organization,
    *,
    agent_id: str,
    run_id: str,
    trigger: str,
    budget: BudgetView,
    caps: dict[str, int],
) -> Context:
    now = ports.clock()
    spec = org.agents[agent_id]
    memory = ports.memory
    take_inbox(ports, agent_id)
    inbox = [_inbox_item(m) for m in memory.unhandled_inbox(agent_id)]
    awaiting = [
        AwaitedAnswer(request_id=r.request_id, to=r.recipient, deadline=r.deadline)
        for r in streams.Messenger(ports.bus).open_requests()
        if r.sender == agent_id
    ]
    world = world_of(ports, org, agent_id, budget=budget, now=now)
    mine, delegated, decisions = world.tasks, world.delegated, world.decisions
    outcomes = [
        OutcomeView(
            id=int(o["id"]),
            kind=str(o["kind"]),
            ref=o["ref"],
            summary=str(o["summary"]),
            details=dict(o["details"] or {}),
        )
        for o in memory.unseen_outcomes(agent_id)
    ]
    history = [
        MemoryItem(
            action_type=str(h["action_type"]),
            summary=str(h["summary"]),
            at=h["created_at"],
            run_id=h.get("run_id"),
            score=None,
        )
        for h in memory.history(agent_id, limit=HISTORY_LAST_N)
    ]
    recalled = _recall(
        ports, agent_id, inbox=inbox, tasks=mine, decisions=decisions, history=history
    )
    forge = ports.governance
    profile_file = forge.read_tree(forge.default_branch, prefixes=[spec.profile]).get(spec.profile)
    profile = profile_file.decode("utf-8") if profile_file else ""
    return Context(
        agent=card(org, agent_id),
        run_id=run_id,
        trigger=trigger,
        now=now,
        organization=org.org.name,
        agents=org_chart(org),
        profile=profile,
        permissions=permissions_of(org, agent_id, caps=caps),
        state={k: v.value for k, v in memory.all_state(agent_id).items()},
        history=history,
        recalled=recalled,
        tasks=mine,
        delegated=delegated,
        inbox=inbox,
        awaiting_answers=awaiting,
        decisions=decisions,
        outcomes=outcomes,
        facts=world.facts,
        budget=budget,
    )


def _recall(
    ports: LoopPorts,
    agent_id: str,
    *,
    inbox: list[InboxItem],
    tasks: list[TaskView],
    decisions: list[DecisionView],
    history: list[MemoryItem],
) -> list[MemoryItem]:
    """Older memories about what is on the table now (RAG beyond the last N)."""
    topics = [m.subject for m in inbox] + [t.title for t in tasks] + [d.title for d in decisions]
    if ports.embedder is None or not topics:
        return []
    recent = {(h.action_type, h.summary) for h in history}
    found = recalling.recall(
        ports.memory,
        ports.embedder,
        agent_id=agent_id,
        query="; ".join(topics)[:2000],
        k=RECALL_K,
        recent=0,
    )
    return [
        MemoryItem(
            action_type=item.action_type,
            summary=item.summary,
            at=item.created_at,
            run_id=item.run_id,
            score=item.score,
        )
        for item in found
        if (item.action_type, item.summary) not in recent
    ]


def _facts(
    ports: LoopPorts,
    org: loading.Organization,
    agent_id: str,
    *,
    budget: BudgetView,
    tasks: list[Any],
    decisions: list[DecisionView],
    now: dt.datetime,
) -> list[Fact]:
    def fact(fact_id: str, statement: str, value: Any, source: str) -> Fact:
        return Fact(id=fact_id, statement=statement, value=value, source=source, at=now)

    mine = [t for t in tasks if t.assigned_to == agent_id]
    facts = [
        fact(
            "budget.today",
            f"{agent_id} spent ${budget.daily_spent_usd:.4f} of "
            f"${budget.daily_limit_usd:.2f} today",
            round(budget.daily_spent_usd, 6),
            "postgres:model_usage",
        ),
        fact(
            "tasks.open",
            f"{len(mine)} open task(s) assigned to {agent_id}",
            len(mine),
            "governance repo: org/tasks",
        ),
        fact(
            "tasks.in_progress",
            f"{sum(t.status is TaskStatus.IN_PROGRESS for t in mine)} task(s) in progress",
            sum(t.status is TaskStatus.IN_PROGRESS for t in mine),
            "governance repo: org/tasks",
        ),
        fact(
            "decisions.open",
            f"{len(decisions)} open decision(s) in the governance repo",
            len(decisions),
            "governance repo: open decision pull requests",
        ),
    ]
    open_prs = ports.memory.items(kind="pr", agent_id=agent_id)
    facts.append(
        fact(
            "prs.open",
            f"{len(open_prs)} pull request(s) opened by {agent_id} still open",
            len(open_prs),
            "postgres:open_items",
        )
    )
    spec = org.agents[agent_id]
    if spec.type in ("cfo", "ceo", "dao"):
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        usd, tokens = ports.memory.spent(agent_id=None, since=start)
        facts.append(
            fact(
                "org.spend.today",
                f"the organization spent ${usd:.4f} ({tokens} tokens) on models today, of a "
                f"${org.org.budget.daily_usd:g} daily budget",
                round(usd, 6),
                "postgres:model_usage",
            )
        )
    return facts


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


def _inbox_item(data: dict[str, Any]) -> InboxItem:
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
