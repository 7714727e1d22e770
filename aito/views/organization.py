"""The org chart with each agent's live state, and one agent's page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from aito.org import loading
from aito.org.agents import AgentSpec, Layer
from aito.views import budgets, paging, ports, runs

_LAYER_ORDER = {Layer.HEAD: 0, Layer.C_LEVEL: 1, Layer.WORKER: 2}


class AgentCard(BaseModel):
    """One agent in the chart: who it is, whom it reports to, and how it is doing now."""

    id: str
    name: str
    type: str
    layer: str
    reports_to: str | None
    department: str
    depth: int
    schedule: str
    heartbeat_at: dt.datetime | None
    heartbeat_age_seconds: int | None
    running_run: str | None
    running_since: dt.datetime | None
    next_slot: dt.datetime | None
    spent_today_usd: float
    daily_limit_usd: float

    @property
    def burn(self) -> float:
        """Today's spend over the daily limit (0 without a limit)."""
        return self.spent_today_usd / self.daily_limit_usd if self.daily_limit_usd else 0.0


class OrgChart(BaseModel):
    name: str
    now: dt.datetime
    agents: list[AgentCard]
    maintainers: list[str]


class AgentPage(BaseModel):
    """One agent: its card, profile, authority, git access, budgets and recent runs."""

    card: AgentCard
    model: str
    profile_path: str
    profile_text: str
    authority: dict[str, Any]
    repos: list[str]
    branch: str
    paths: list[str]
    permissions: list[str]
    workers: list[str]
    budget: budgets.ScopeBudget
    runs: paging.Page[runs.RunSummary]


def chart(org: loading.Organization, memory: ports.Memory, *, now: dt.datetime) -> OrgChart:
    """Every agent, heads first and each under whom it reports, with its live state."""
    live = {row["id"]: row for row in memory.live_agents()}
    running: dict[str, dict[str, Any]] = {}
    for row in memory.running_runs():
        running.setdefault(row["agent_id"], row)
    today = dt.datetime.combine(now.date(), dt.time(), dt.UTC)
    spent: dict[str, float] = {}
    for row in memory.usage_summary(since=today):
        spent[row["agent_id"]] = spent.get(row["agent_id"], 0.0) + float(row["cost_usd"])
    children: dict[str | None, list[AgentSpec]] = {}
    for spec in org.agents.values():
        parent = spec.reports_to if spec.reports_to in org.agents else None
        children.setdefault(parent, []).append(spec)
    for siblings in children.values():
        siblings.sort(key=lambda a: (_LAYER_ORDER[a.layer], a.type != "ceo", a.id))
    cards: list[AgentCard] = []

    def walk(spec: AgentSpec, depth: int) -> None:
        cards.append(_card(org, spec, depth, live, running, spent, now))
        for child in children.get(spec.id, []):
            walk(child, depth + 1)

    for top in children.get(None, []):
        walk(top, 0)
    return OrgChart(
        name=org.org.name,
        now=now,
        agents=cards,
        maintainers=[m.login for m in org.org.maintainers],
    )


def agent_page(
    org: loading.Organization,
    memory: ports.Memory,
    ledger: ports.Reservations,
    *,
    agent_id: str,
    now: dt.datetime,
    cursor: str | None = None,
    limit: int = 20,
) -> AgentPage | None:
    """One agent's page; None if the organization has no such agent."""
    spec = org.agents.get(agent_id)
    if spec is None:
        return None
    card = next(c for c in chart(org, memory, now=now).agents if c.id == agent_id)
    month = dt.datetime.combine(now.date().replace(day=1), dt.time(), dt.UTC)
    rows = memory.usage_summary(since=month, agent_id=agent_id)
    path = org.root / spec.profile
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return AgentPage(
        card=card,
        model=org.model_of(agent_id),
        profile_path=spec.profile,
        profile_text=text,
        authority=spec.authority.model_dump(mode="json"),
        repos=org.repos_of(agent_id),
        branch=spec.git.branch,
        paths=list(spec.git.paths),
        permissions=[p.value for p in spec.git.permissions],
        workers=list(spec.workers),
        budget=budgets.scope_budget(org, agent_id, rows, ledger, now),
        runs=runs.recent(memory, agent_id=agent_id, limit=limit, cursor=cursor),
    )


def _card(
    org: loading.Organization,
    spec: AgentSpec,
    depth: int,
    live: dict[str, dict[str, Any]],
    running: dict[str, dict[str, Any]],
    spent: dict[str, float],
    now: dt.datetime,
) -> AgentCard:
    schedule = org.schedule(spec.id)
    beat = live.get(spec.id, {}).get("last_heartbeat")
    run = running.get(spec.id)
    return AgentCard(
        id=spec.id,
        name=spec.name,
        type=spec.type,
        layer=spec.layer.value,
        reports_to=spec.reports_to,
        department=spec.department,
        depth=depth,
        schedule=schedule.text if schedule else "on demand",
        heartbeat_at=beat,
        heartbeat_age_seconds=None if beat is None else max(0, int((now - beat).total_seconds())),
        running_run=run["run_id"] if run else None,
        running_since=run["started_at"] if run else None,
        next_slot=schedule.next_slot(now, stagger_key=spec.id) if schedule else None,
        spent_today_usd=round(spent.get(spec.id, 0.0), 6),
        daily_limit_usd=spec.budget.daily_usd,
    )
