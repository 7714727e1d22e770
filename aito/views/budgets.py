"""Model spend per agent, day and model, and each budget against its hard limits.

What `aito budget` prints and the dashboard's Costs page draws: spend from Postgres
(`model_usage`, the durable record), what calls in flight hold from the budget ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from aito.bus import budgets
from aito.org import agents, loading, organization
from aito.views import paging, ports

Number = int | float
"""Amounts keep the type they were computed in (a sum of nothing is 0), as the JSON
output always printed them."""


class UsageDay(BaseModel):
    """Model calls of one agent on one UTC day with one model (simulated or not)."""

    agent_id: str
    day: str
    model: str
    simulated: bool
    calls: int
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    tokens: int
    cost_usd: Number
    latency_p50_ms: Number | None


class PeriodSpend(BaseModel):
    """One scope's spend in one period (a UTC day or month) against its limit."""

    period: str
    spent_usd: Number
    simulated_usd: Number
    spent_tokens: int
    limit_usd: Number
    limit_tokens: int | None
    reserved_usd: Number
    reserved_tokens: int

    @property
    def share(self) -> float | None:
        """Spent over the limit (None without a limit)."""
        return self.spent_usd / self.limit_usd if self.limit_usd else None


class ScopeBudget(BaseModel):
    """The organization's budget (``agent_id`` None) or one agent's."""

    scope: str
    agent_id: str | None
    day: PeriodSpend
    month: PeriodSpend


class BudgetReport(BaseModel):
    now: dt.datetime
    days: int
    since: dt.date
    agent: str | None
    usage: list[UsageDay]
    budgets: list[ScopeBudget]


def report(
    org: loading.Organization,
    memory: ports.Memory,
    ledger: ports.Reservations,
    *,
    now: dt.datetime,
    days: int = 7,
    agent_id: str | None = None,
) -> BudgetReport:
    """Spend of the last ``days`` UTC days (today included) and every budget (the org's
    first, then each agent's, or only ``agent_id``'s) today and this month."""
    today = now.date()
    first_day = today - dt.timedelta(days=days - 1)
    since = min(first_day, today.replace(day=1))
    rows = memory.usage_summary(since=dt.datetime.combine(since, dt.time(), dt.UTC))
    agent_ids = [agent_id] if agent_id else sorted(org.agents)
    table = [scope_budget(org, None, rows, ledger, now)]
    table += [scope_budget(org, a, rows, ledger, now) for a in agent_ids]
    usage = [
        usage_day(row)
        for row in rows
        if row["day"] >= first_day and agent_id in (None, row["agent_id"])
    ]
    return BudgetReport(
        now=now, days=days, since=first_day, agent=agent_id, usage=usage, budgets=table
    )


def scope_budget(
    org: loading.Organization,
    agent_id: str | None,
    rows: Sequence[dict[str, Any]],
    ledger: ports.Reservations,
    now: dt.datetime,
) -> ScopeBudget:
    """One scope's spend today and this month against its limits, and what it holds."""
    own: organization.OrgBudget | agents.AgentBudget = org.org.budget
    scope, daily_tokens = budgets.ORG_SCOPE, None
    if agent_id is not None:
        own = org.agents[agent_id].budget
        scope, daily_tokens = budgets.agent_scope(agent_id), own.daily_tokens
    mine = [r for r in rows if agent_id in (None, r["agent_id"])]
    today, month = now.date(), now.date().replace(day=1)
    periods = {
        "day": (budgets.period_key("day", now), today, own.daily_usd, daily_tokens),
        "month": (budgets.period_key("month", now), month, own.monthly_usd, None),
    }
    found: dict[str, PeriodSpend] = {}
    for name, (key, start, limit_usd, limit_tokens) in periods.items():
        spent = [r for r in mine if r["day"] >= start]
        _, _, reserved_usd, reserved_tokens = ledger.spent(scope, key)
        found[name] = PeriodSpend(
            period=key,
            spent_usd=round(sum(r["cost_usd"] for r in spent), 6),
            simulated_usd=round(sum(r["cost_usd"] for r in spent if r["simulated"]), 6),
            spent_tokens=sum(r["tokens"] for r in spent),
            limit_usd=limit_usd,
            limit_tokens=limit_tokens,
            reserved_usd=reserved_usd,
            reserved_tokens=reserved_tokens,
        )
    return ScopeBudget(scope=scope, agent_id=agent_id, day=found["day"], month=found["month"])


def usage_day(row: dict[str, Any]) -> UsageDay:
    return UsageDay(
        agent_id=row["agent_id"],
        day=row["day"].isoformat(),
        model=row["model"],
        simulated=row["simulated"],
        calls=row["calls"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cache_write_tokens=row["cache_write_tokens"],
        cache_read_tokens=row["cache_read_tokens"],
        tokens=row["tokens"],
        cost_usd=round(row["cost_usd"], 6),
        latency_p50_ms=row["latency_p50_ms"],
    )


class DailyCost(BaseModel):
    """One agent's spend on one UTC day (all models) against its daily limit."""

    agent_id: str
    day: str
    cost_usd: float
    simulated: bool
    limit_usd: float

    @property
    def share(self) -> float:
        return self.cost_usd / self.limit_usd if self.limit_usd else 0.0


def daily_costs(org: loading.Organization, found: BudgetReport) -> list[DailyCost]:
    """The report's usage per agent and day (newest day first, then agent)."""
    totals: dict[tuple[str, str], list[float]] = {}
    simulated: dict[tuple[str, str], bool] = {}
    for row in found.usage:
        key = (row.day, row.agent_id)
        totals.setdefault(key, []).append(float(row.cost_usd))
        simulated[key] = simulated.get(key, False) or row.simulated
    keys = sorted(totals, key=lambda key: key[1])
    keys.sort(key=lambda key: key[0], reverse=True)
    return [
        DailyCost(
            agent_id=agent_id,
            day=day,
            cost_usd=round(sum(totals[(day, agent_id)]), 6),
            simulated=simulated[(day, agent_id)],
            limit_usd=org.agents[agent_id].budget.daily_usd if agent_id in org.agents else 0.0,
        )
        for day, agent_id in keys
    ]


def daily_page(rows: list[DailyCost], *, limit: int, cursor: str | None) -> paging.Page[DailyCost]:
    """A page of :func:`daily_costs`' rows (newest day first, then agent), resumed after
    the (day, agent) a cursor names."""
    limit = paging.clamp(limit)
    start = 0
    if cursor is not None:
        day, agent_id = paging.decode(cursor, str, str)
        start = next(
            (i + 1 for i, row in enumerate(rows) if (row.day, row.agent_id) == (day, agent_id)),
            len(rows),
        )
    shown = rows[start : start + limit]
    more = start + limit < len(rows)
    last = shown[-1] if shown else None
    return paging.Page(
        items=shown,
        next=paging.encode(last.day, last.agent_id) if more and last is not None else None,
        limit=limit,
    )
