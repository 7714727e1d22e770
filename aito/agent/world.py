"""The part of an agent's context the idle skip compares: its tasks, the tasks it
delegated, the open decisions (and what each asks of it) and the verified facts."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from aito.agent import context, verdicts
from aito.agent.ports import LoopPorts
from aito.governance.tallying import Stage
from aito.org import loading
from aito.org.agents import Layer
from aito.org.records import Task, TaskStatus


@dataclasses.dataclass(frozen=True)
class World:
    tasks: list[context.TaskView]
    delegated: list[context.TaskView]
    decisions: list[context.DecisionView]
    facts: list[context.Fact]

    def fingerprint(self) -> str:
        return context.fingerprint_of(
            tasks=self.tasks, delegated=self.delegated, decisions=self.decisions, facts=self.facts
        )


def world_of(
    ports: LoopPorts,
    org: loading.Organization,
    agent_id: str,
    *,
    budget: context.BudgetView,
    now: dt.datetime,
) -> World:
    spec = org.agents[agent_id]
    open_tasks = [t for t in org.tasks.values() if t.status in context.OPEN_TASK_STATUSES]
    assigned, created = task_sides(open_tasks, agent_id)
    mine = sorted((context.task_view(t) for t in assigned), key=lambda t: (t.priority, t.id))
    delegated = sorted((context.task_view(t) for t in created), key=lambda t: t.id)
    decisions = decisions_for(ports, agent_id, now=now) if spec.layer is not Layer.WORKER else []
    facts = _facts(
        ports, org, agent_id, budget=budget, tasks=open_tasks, decisions=decisions, now=now
    )
    return World(tasks=mine, delegated=delegated, decisions=decisions, facts=facts)


def task_sides(tasks: Iterable[Task], agent_id: str) -> tuple[list[Task], list[Task]]:
    """Of ``tasks``, the open ones assigned to ``agent_id`` and those it created for
    others: what it may update (the run-time check and the governance tally's check of a
    task record's pull request, :mod:`aito.agent.task_settling`, both read them)."""
    open_tasks = [t for t in tasks if t.status in context.OPEN_TASK_STATUSES]
    return (
        [t for t in open_tasks if t.assigned_to == agent_id],
        [t for t in open_tasks if t.created_by == agent_id and t.assigned_to != agent_id],
    )


def decisions_for(
    ports: LoopPorts, agent_id: str, *, now: dt.datetime
) -> list[context.DecisionView]:
    """Every open decision with what it asks of this agent (from the stored verdicts)."""
    views = []
    for verdict in verdicts.open_verdicts(ports, now=now):
        if verdict.stage == Stage.DONE.value:
            continue
        role = None
        if agent_id in verdict.missing and agent_id != verdict.proposed_by:
            role = "analysis" if verdict.stage == Stage.ANALYSIS.value else "vote"
        views.append(
            context.DecisionView(
                id=verdict.decision_id,
                pr=verdict.pr,
                title=verdict.title,
                description=verdict.description[:1500],
                tier=verdict.tier,
                stage=verdict.stage,
                round=verdict.round,
                proposed_by=verdict.proposed_by,
                amount_usd=verdict.amount_usd,
                votes=dict(verdict.votes),
                missing=list(verdict.missing),
                my_role=role,
            )
        )
    return views


def _facts(
    ports: LoopPorts,
    org: loading.Organization,
    agent_id: str,
    *,
    budget: context.BudgetView,
    tasks: list[Any],
    decisions: list[context.DecisionView],
    now: dt.datetime,
) -> list[context.Fact]:
    def fact(fact_id: str, statement: str, value: Any, source: str) -> context.Fact:
        return context.Fact(id=fact_id, statement=statement, value=value, source=source, at=now)

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
