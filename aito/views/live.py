"""The org chart's changing state, as the live page pushes it: heartbeats, the run in
progress, today's budget burn, and who holds the lead.

Heartbeats are the bus's (``agent:status:{id}``, what the agent loop writes after every
run and the orchestrator reads to restart a silent agent), merged with the last wake-up
Postgres recorded (``agents.last_heartbeat``): the later of the two is shown. The lead
is the orchestrator's (``orchestrator:lead`` in Redis): the CEO, or the DAO while it
holds the temporary lead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Protocol

from pydantic import BaseModel

from aito.org import loading
from aito.views import organization, ports


class Heartbeats(Protocol):
    """The bus as the live chart reads it (:class:`aito.bus.services.BusServices`)."""

    def statuses(self, agent_ids: Collection[str]) -> dict[str, dict[str, str]]: ...

    def leader(self, default: str) -> str: ...


class LiveAgent(BaseModel):
    """One agent's changing state: what a row of the chart updates in place."""

    id: str
    heartbeat_at: dt.datetime | None
    status: str | None
    running_run: str | None
    running_since: dt.datetime | None
    spent_today_usd: float
    daily_limit_usd: float
    burn: float
    lead: bool


class LiveState(BaseModel):
    """The whole chart's changing state at ``now``."""

    now: dt.datetime
    lead: str | None
    agents: list[LiveAgent]

    def fingerprint(self) -> str:
        """What changed (everything but the clock): the stream sends only on a change."""
        return self.model_dump_json(exclude={"now"})


def default_lead(org: loading.Organization) -> str | None:
    """Who leads when the orchestrator never moved the lead: the CEO."""
    return next((a.id for a in org.agents.values() if a.type == "ceo"), None)


def lead_of(org: loading.Organization, beats: Heartbeats | None) -> str | None:
    default = default_lead(org)
    if beats is None:
        return default
    return beats.leader(default or "ceo")


def chart(
    org: loading.Organization,
    memory: ports.Memory,
    beats: Heartbeats | None,
    *,
    now: dt.datetime,
) -> tuple[organization.OrgChart, LiveState]:
    """The org chart with the bus's heartbeats merged in, and its live state."""
    found = organization.chart(org, memory, now=now)
    statuses = beats.statuses([a.id for a in found.agents]) if beats is not None else {}
    lead = lead_of(org, beats)
    cards: list[organization.AgentCard] = []
    live: list[LiveAgent] = []
    for card in found.agents:
        status = statuses.get(card.id, {})
        beat = card.heartbeat_at
        if status.get("last_heartbeat"):
            on_bus = dt.datetime.fromisoformat(status["last_heartbeat"])
            beat = on_bus if beat is None or on_bus > beat else beat
        card = card.model_copy(
            update={
                "heartbeat_at": beat,
                "heartbeat_age_seconds": None
                if beat is None
                else max(0, int((now - beat).total_seconds())),
            }
        )
        cards.append(card)
        live.append(
            LiveAgent(
                id=card.id,
                heartbeat_at=beat,
                status=status.get("status"),
                running_run=card.running_run,
                running_since=card.running_since,
                spent_today_usd=card.spent_today_usd,
                daily_limit_usd=card.daily_limit_usd,
                burn=round(card.burn, 4),
                lead=card.id == lead,
            )
        )
    return found.model_copy(update={"agents": cards}), LiveState(now=now, lead=lead, agents=live)
