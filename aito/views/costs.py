"""Spend per agent, day and model against the hard limits, laid out as bar charts.

One chart per agent: a bar per UTC day of the report, stacked by model, and the agent's
daily limit as a line across; the geometry is computed here so the page draws plain
SVG on the server (no script).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from aito.org import loading
from aito.views import budgets

HEIGHT = 120
"""Pixels of a chart's plot area, top to bottom."""
BAR = 28
"""Pixels of one day's bar, and the gap after it."""
GAP = 8
PALETTE = 6
"""Colours the models cycle through (CSS classes ``model-0`` … ``model-5``)."""


class Segment(BaseModel):
    model: str
    colour: int
    cost_usd: float
    y: int
    height: int


class DayBar(BaseModel):
    day: str
    x: int
    cost_usd: float
    segments: list[Segment]
    over: bool


class AgentChart(BaseModel):
    agent_id: str
    limit_usd: float
    scale_usd: float
    limit_y: int | None
    width: int
    bars: list[DayBar]


class ModelTotal(BaseModel):
    model: str
    colour: int
    cost_usd: float
    tokens: int
    calls: int


class CostCharts(BaseModel):
    height: int
    charts: list[AgentChart]
    models: list[ModelTotal]


def charts(org: loading.Organization, found: budgets.BudgetReport) -> CostCharts:
    """Each agent's days of the window (oldest first, one bar each, empty on a day it
    spent nothing) stacked by model, scaled to the larger of its limit and its dearest
    day; and the totals per model."""
    models = sorted({row.model for row in found.usage})
    colour = {model: i % PALETTE for i, model in enumerate(models)}
    # every day of the window, a day without spend an empty bar: the axis is time
    days = [(found.since + dt.timedelta(days=n)).isoformat() for n in range(found.days)]
    per: dict[str, dict[str, dict[str, float]]] = {}
    totals: dict[str, ModelTotal] = {
        m: ModelTotal(model=m, colour=colour[m], cost_usd=0.0, tokens=0, calls=0) for m in models
    }
    for row in found.usage:
        cell = per.setdefault(row.agent_id, {}).setdefault(row.day, {})
        cell[row.model] = cell.get(row.model, 0.0) + float(row.cost_usd)
        total = totals[row.model]
        total.cost_usd = round(total.cost_usd + float(row.cost_usd), 6)
        total.tokens += row.tokens
        total.calls += row.calls
    drawn: list[AgentChart] = []
    for agent_id in sorted(per):
        limit = org.agents[agent_id].budget.daily_usd if agent_id in org.agents else 0.0
        spend = per[agent_id]
        dearest = max(sum(spend.get(d, {}).values()) for d in days)
        scale = max(limit, dearest) or 1.0
        bars: list[DayBar] = []
        for i, day in enumerate(days):
            by_model = spend.get(day, {})
            top = HEIGHT
            segments: list[Segment] = []
            for model in models:
                cost = by_model.get(model, 0.0)
                if cost <= 0:
                    continue
                height = max(1, round(cost / scale * HEIGHT))
                top -= height
                segments.append(
                    Segment(
                        model=model,
                        colour=colour[model],
                        cost_usd=round(cost, 6),
                        y=max(0, top),
                        height=height,
                    )
                )
            cost = round(sum(by_model.values()), 6)
            bars.append(
                DayBar(
                    day=day,
                    x=i * (BAR + GAP),
                    cost_usd=cost,
                    segments=segments,
                    over=bool(limit) and cost >= limit,
                )
            )
        drawn.append(
            AgentChart(
                agent_id=agent_id,
                limit_usd=limit,
                scale_usd=scale,
                limit_y=HEIGHT - round(limit / scale * HEIGHT) if limit else None,
                width=max(1, len(days)) * (BAR + GAP),
                bars=bars,
            )
        )
    return CostCharts(height=HEIGHT, charts=drawn, models=list(totals.values()))
