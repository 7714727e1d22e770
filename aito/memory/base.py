"""What the organization looks like to the database: rows built from org/ (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from aito.org import loading

TERMINAL_RUN_STATUSES = (
    "skipped",
    "completed",
    "failed",
    "budget_exhausted",
    "stopped",
    "timed_out",
    "oom_killed",
)
"""How a run ends; a run in any other status (``running``) is unfinished and resumable."""


@dataclasses.dataclass(frozen=True)
class AgentRow:
    """One row of the `agents` table, from `org/agents/<id>.yaml`."""

    id: str
    type: str
    layer: str
    name: str
    department: str
    profile_path: str
    reports_to: str | None
    loop_schedule: str | None
    loop_interval: int | None
    model: str
    git_repo: str
    git_branch: str
    git_paths: list[str]
    git_permissions: list[str]
    budget_daily_usd: float
    budget_monthly_usd: float
    definition: dict[str, Any]

    @property
    def definition_hash(self) -> str:
        text = json.dumps(self.definition, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class DecisionRow:
    """One row of the `decisions` table (the seed's columns plus rounds and the record)."""

    id: str
    title: str
    description: str
    proposed_by: str
    tier: str
    status: str
    veto_round: int
    ceo_vote: str | None
    dao_vote: str | None
    c_level_votes: dict[str, str]
    rounds: list[dict[str, Any]]
    human_decision: str | None
    decided_by: str | None
    pr_number: int | None
    pr_url: str | None
    due: dt.datetime | None
    resolved_at: dt.datetime | None
    record: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class TaskRow:
    """One row of the `tasks` table, from `org/tasks/<id>.yaml`."""

    id: str
    title: str
    description: str
    assigned_to: str
    created_by: str
    status: str
    priority: int
    due_date: dt.datetime | None
    completed_at: dt.datetime | None
    result: dict[str, Any] | None
    decision_id: str | None
    pr_number: int | None
    record: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class StateValue:
    """One key of an agent's state and its version (for optimistic concurrency)."""

    value: Any
    version: int


@dataclasses.dataclass(frozen=True)
class HistoryEntry:
    """Something an agent did, said or decided. ``id`` makes a retried write land once."""

    id: uuid.UUID
    agent_id: str
    action_type: str
    summary: str
    details: dict[str, Any]
    run_id: str | None = None
    pr_number: int | None = None
    created_at: dt.datetime | None = None

    @classmethod
    def new(
        cls,
        *,
        agent_id: str,
        action_type: str,
        summary: str,
        details: dict[str, Any] | None = None,
        run_id: str | None = None,
        pr_number: int | None = None,
        created_at: dt.datetime | None = None,
    ) -> HistoryEntry:
        return cls(
            uuid.uuid4(),
            agent_id,
            action_type,
            summary,
            details or {},
            run_id,
            pr_number,
            created_at,
        )


@dataclasses.dataclass(frozen=True)
class RecallItem:
    """A remembered entry, why it was recalled, and where it came from."""

    id: uuid.UUID
    agent_id: str
    action_type: str
    summary: str
    details: dict[str, Any]
    created_at: dt.datetime
    run_id: str | None
    pr_number: int | None
    score: float | None  # cosine similarity to the query; None for recent-only items
    source: str  # "recent", "similar" or "both"


@dataclasses.dataclass(frozen=True)
class UsageRow:
    """One model call, for cost accounting and budgets.

    ``exchange`` is the call's index in its run's saved exchanges: with ``run_id`` it
    keys the row, so writing it again (a run recovering after a crash) adds nothing.
    """

    agent_id: str
    run_id: str | None
    model: str
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost_usd: float
    latency_ms: int | None
    created_at: dt.datetime | None = None
    exchange: int | None = None


@dataclasses.dataclass(frozen=True)
class Registration:
    """What registering the agents changed (all zero but `unchanged` on a re-run)."""

    inserted: list[str]
    updated: list[str]
    retired: list[str]
    unchanged: list[str]

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.retired)


def agent_rows(org: loading.Organization) -> list[AgentRow]:
    rows = []
    for spec in sorted(org.agents.values(), key=lambda a: a.id):
        schedule = org.schedule(spec.id)
        rows.append(
            AgentRow(
                id=spec.id,
                type=spec.type,
                layer=spec.layer.value,
                name=spec.name,
                department=spec.department,
                profile_path=spec.profile,
                reports_to=spec.reports_to,
                loop_schedule=spec.loop.schedule if spec.loop else None,
                loop_interval=schedule.interval_seconds if schedule else None,
                model=org.model_of(spec.id),
                git_repo=",".join(org.repos_of(spec.id)),
                git_branch=spec.git.branch,
                git_paths=list(spec.git.paths),
                git_permissions=[p.value for p in spec.git.permissions],
                budget_daily_usd=spec.budget.daily_usd,
                budget_monthly_usd=spec.budget.monthly_usd,
                definition=spec.model_dump(mode="json"),
            )
        )
    return rows


def decision_rows(org: loading.Organization) -> list[DecisionRow]:
    """The repo's decision records as table rows."""
    found = []
    for decision in sorted(org.decisions.values(), key=lambda d: d.id):
        last: dict[str, str] = {}
        for record in decision.rounds:
            last.update({agent: vote.value for agent, vote in record.votes.items()})
        found.append(
            DecisionRow(
                id=decision.id,
                title=decision.title,
                description=decision.description,
                proposed_by=decision.proposed_by,
                tier=decision.tier.value,
                status=decision.status.value,
                veto_round=decision.round,
                ceo_vote=last.get("ceo"),
                dao_vote=last.get("dao"),
                c_level_votes={a: v for a, v in last.items() if a not in ("ceo", "dao")},
                rounds=[r.model_dump(mode="json") for r in decision.rounds],
                human_decision=decision.human_decision.value if decision.human_decision else None,
                decided_by=decision.decided_by,
                pr_number=decision.pr.number if decision.pr else None,
                pr_url=str(decision.pr.url) if decision.pr and decision.pr.url else None,
                due=decision.due,
                resolved_at=decision.resolved_at,
                record=decision.model_dump(mode="json"),
            )
        )
    return found


def task_rows(org: loading.Organization) -> list[TaskRow]:
    """The repo's task records as table rows."""
    return [
        TaskRow(
            id=task.id,
            title=task.title,
            description=task.description,
            assigned_to=task.assigned_to,
            created_by=task.created_by,
            status=task.status.value,
            priority=task.priority,
            due_date=task.due_date,
            completed_at=task.completed_at,
            result=task.result,
            decision_id=task.decision,
            pr_number=task.pr.number if task.pr else None,
            record=task.model_dump(mode="json"),
        )
        for task in sorted(org.tasks.values(), key=lambda t: t.id)
    ]
