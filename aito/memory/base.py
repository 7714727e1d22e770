"""What the organization looks like to the database: rows built from org/ (pure)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

from aito.org import loading


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
