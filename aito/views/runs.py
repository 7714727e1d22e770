"""Runs (wake-ups): the recent ones, and one in full: context, answer, actions, cost."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel

from aito.views import paging, ports

SIMULATED_PROVIDERS = ("offline", "replay")
"""Runs thought by these providers cost nothing: their spend is simulated (priced as the
agent's model, so budgets work offline)."""


class RunSummary(BaseModel):
    """One wake-up as `aito agent runs` lists it."""

    run_id: str
    agent_id: str
    trigger: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    summary: str | None
    error: str | None
    provider: str | None
    model: str | None
    usage: dict[str, Any]
    cost_usd: float | None
    simulated: bool


class ContextSection(BaseModel):
    """A `## heading` of the prompt the model read, and its text."""

    title: str
    text: str


class ToolCallView(BaseModel):
    """One action the model answered with (a tool use), as it answered it."""

    name: str
    input: dict[str, Any]


class CallView(BaseModel):
    """One model call of the run: what it answered, or why the answer was not used."""

    index: int
    text: str
    tool_calls: list[ToolCallView]
    error: str | None
    rejected: str | None
    tokens: int


class ActionView(BaseModel):
    """One planned action and what the checks and execution made of it."""

    position: int
    type: str
    status: str
    reason: str | None
    ref: str | None


class RunDetail(RunSummary):
    """A run in full."""

    sections: list[ContextSection]
    calls: list[CallView]
    actions: list[ActionView]
    container_status: str | None


def recent(
    memory: ports.Memory, *, agent_id: str | None = None, limit: int = 20, cursor: str | None = None
) -> paging.Page[RunSummary]:
    """Runs newest first (of one agent when given), ``limit`` at a time."""
    limit = paging.clamp(limit)
    found = memory.runs_page(agent_id=agent_id, after=run_key(cursor), limit=limit + 1)
    return paging.page_of(found, limit=limit, item=summary, key=lambda r: (r.started_at, r.run_id))


def run_key(cursor: str | None) -> ports.RunKey | None:
    """The (started_at, run_id) a run listing's cursor continues after."""
    if not cursor:
        return None
    at, run_id = paging.decode(cursor, dt.datetime, str)
    assert isinstance(at, dt.datetime) and isinstance(run_id, str)
    return at, run_id


def summary(row: dict[str, Any]) -> RunSummary:
    cost = row.get("cost_usd")
    return RunSummary(
        run_id=row["run_id"],
        agent_id=row["agent_id"],
        trigger=row["trigger"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row.get("finished_at"),
        summary=row.get("summary"),
        error=row.get("error"),
        provider=row.get("provider"),
        model=row.get("model"),
        usage=row.get("usage") or {},
        cost_usd=None if cost is None else float(cost),
        simulated=row.get("provider") in SIMULATED_PROVIDERS,
    )


def detail(memory: ports.Memory, run_id: str) -> RunDetail | None:
    """One run: the context it read (the prompt's sections), each model call's answer,
    each action's fate; None if there is no such run."""
    record = memory.run_record(run_id)
    if record is None:
        return None
    exchanges: list[dict[str, Any]] = record.get("exchanges") or []
    prompt = exchanges[0]["request"].get("prompt", "") if exchanges else ""
    actions = memory.actions_of(run_id)
    container = record.get("container") or {}
    return RunDetail(
        **summary(record).model_dump(),
        sections=sections(prompt),
        calls=[_call(i, e) for i, e in enumerate(exchanges)],
        actions=[
            ActionView(
                position=position,
                type=row["action_type"],
                status=row["status"],
                reason=row.get("reason"),
                ref=row.get("ref"),
            )
            for position, row in sorted(actions.items())
        ],
        container_status=container.get("status"),
    )


_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)


def sections(prompt: str) -> list[ContextSection]:
    """The prompt split at its `## ` headings (the text before the first is "Wake-up")."""
    found: list[ContextSection] = []
    marks = list(_HEADING.finditer(prompt))
    head = prompt[: marks[0].start()] if marks else prompt
    if head.strip():
        found.append(ContextSection(title="Wake-up", text=head.strip()))
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(prompt)
        found.append(ContextSection(title=mark[1].strip(), text=prompt[mark.end() : end].strip()))
    return found


def _call(index: int, exchange: dict[str, Any]) -> CallView:
    response = exchange.get("response") or {}
    usage = response.get("usage") or {}
    return CallView(
        index=index,
        text=response.get("text") or "",
        tool_calls=[
            ToolCallView(name=call["name"], input=call.get("input") or {})
            for call in response.get("tool_calls") or []
        ],
        error=exchange.get("error"),
        rejected=exchange.get("rejected"),
        tokens=sum(int(v) for v in usage.values() if isinstance(v, int)),
    )
