"""Finishing a wake-up: what it handled is marked, the run settled, a heartbeat sent.

A run ends in one of the terminal statuses (completed, skipped, failed,
budget_exhausted, stopped) and is then only ever reported again, never re-run.
"""

from __future__ import annotations

from typing import Any

from aito.agent import context
from aito.agent.ports import LoopPorts
from aito.agent.runs import ActionReport, RunOutcome, Wake
from aito.llm.base import Usage
from aito.org import loading

HEARTBEAT_TTL_FACTOR = 3
"""A heartbeat lives this many schedule intervals: an agent missing them is down."""


def finish(wake: Wake, seen: context.Context, *, fingerprint: str | None) -> RunOutcome:
    ports, outcome = wake.ports, wake.outcome
    if outcome.status in ("completed", "stopped"):
        ports.memory.mark_inbox_handled(
            wake.agent_id, [m.id for m in seen.inbox], run_id=wake.run_id
        )
        ports.memory.mark_outcomes_seen([o.id for o in seen.outcomes], run_id=wake.run_id)
    if not outcome.summary:
        outcome.summary = outcome.error or f"{len(outcome.actions)} action(s)"
    ports.memory.finish_run(
        wake.run_id,
        status=outcome.status,
        at=ports.clock(),
        fingerprint=fingerprint,
        summary=outcome.summary,
        error=outcome.error,
        provider=ports.model.provider,
        model=wake.model_name,
        usage=outcome.usage.model_dump(),
        cost_usd=outcome.cost_usd,
    )
    ports.memory.append_event(
        event_type="agent.run",
        payload={
            "status": outcome.status,
            "trigger": outcome.trigger,
            "actions": {a.type: a.status for a in outcome.actions},
            "cost_usd": round(outcome.cost_usd, 6),
        },
        source_agent=wake.agent_id,
        run_id=wake.run_id,
    )
    heartbeat(ports, wake.org, agent_id=wake.agent_id, run_id=wake.run_id)
    return outcome


def skipped(wake: Wake, *, fingerprint: str) -> RunOutcome:
    """Nothing changed since the last run: settled without a model call."""
    outcome = wake.outcome
    outcome.status = "skipped"
    outcome.summary = "nothing changed since the last run: no model call"
    wake.ports.memory.finish_run(
        wake.run_id,
        status="skipped",
        at=wake.ports.clock(),
        fingerprint=fingerprint,
        summary=outcome.summary,
    )
    heartbeat(wake.ports, wake.org, agent_id=wake.agent_id, run_id=wake.run_id)
    return outcome


def heartbeat(ports: LoopPorts, org: loading.Organization, *, agent_id: str, run_id: str) -> None:
    schedule = org.schedule(agent_id) if org.agents[agent_id].loop else None
    interval = schedule.interval_seconds if schedule and schedule.interval_seconds else 3600
    ports.bus.heartbeat(
        agent_id=agent_id,
        status="idle",
        run_id=run_id,
        at=ports.clock(),
        ttl_seconds=interval * HEARTBEAT_TTL_FACTOR,
    )


def reported(row: dict[str, Any], ports: LoopPorts) -> RunOutcome:
    """A finished run as it was (asking for the same wake-up again repeats nothing)."""
    done = ports.memory.actions_of(str(row["run_id"]))
    return RunOutcome(
        run_id=str(row["run_id"]),
        agent_id=str(row["agent_id"]),
        trigger=str(row["trigger"]),
        status=str(row["status"]),
        summary=str(row.get("summary") or ""),
        actions=[
            ActionReport(p, str(r["action_type"]), str(r["status"]), r["ref"], r["reason"])
            for p, r in sorted(done.items())
        ],
        usage=Usage.model_validate(row.get("usage") or {}),
        cost_usd=float(row.get("cost_usd") or 0),
        error=row.get("error"),
        repeated=True,
    )
