"""What a wake-up is while it runs and what it reports when it ends (data, no I/O).

:class:`Wake` is handed from step to step of the pipeline in :mod:`aito.agent.running`:
the organization read once at the start, the run's lease on its lock, its price, and
the :class:`RunOutcome` each step adds to.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aito.agent.ports import LoopPorts, Tools
from aito.bus import leasing
from aito.llm.base import Usage
from aito.org import loading
from aito.org.organization import ModelPrice


@dataclasses.dataclass(frozen=True)
class ActionReport:
    position: int
    type: str
    status: str
    ref: str | None = None
    reason: str | None = None


@dataclasses.dataclass
class RunOutcome:
    """What a wake-up did (also what `aito agent run --json` prints)."""

    run_id: str
    agent_id: str
    trigger: str
    status: str  # completed, skipped, failed, budget_exhausted, stopped
    summary: str = ""
    actions: list[ActionReport] = dataclasses.field(default_factory=list)
    usage: Usage = dataclasses.field(default_factory=Usage)
    cost_usd: float = 0.0
    error: str | None = None
    repeated: bool = False
    workers: list[RunOutcome] = dataclasses.field(default_factory=list)
    resumed: list[RunOutcome] = dataclasses.field(default_factory=list)
    """Earlier wake-ups of the agent that had died unfinished, finished first."""

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "agent": self.agent_id,
            "trigger": self.trigger,
            "status": self.status,
            "summary": self.summary,
            "actions": [dataclasses.asdict(a) for a in self.actions],
            "usage": self.usage.model_dump(),
            "cost_usd": round(self.cost_usd, 6),
            "error": self.error,
            "already_done": self.repeated,
            "workers": [w.as_json() for w in self.workers],
            "resumed": [r.as_json() for r in self.resumed],
        }


def outcome_from_json(data: dict[str, Any]) -> RunOutcome:
    """A :class:`RunOutcome` from :meth:`RunOutcome.as_json` (a worker's run, reported
    by the launcher to the agent's container)."""
    return RunOutcome(
        run_id=str(data["run_id"]),
        agent_id=str(data["agent"]),
        trigger=str(data["trigger"]),
        status=str(data["status"]),
        summary=str(data.get("summary") or ""),
        actions=[ActionReport(**a) for a in data.get("actions", [])],
        usage=Usage.model_validate(data.get("usage") or {}),
        cost_usd=float(data.get("cost_usd") or 0.0),
        error=data.get("error"),
        repeated=bool(data.get("already_done")),
        workers=[outcome_from_json(w) for w in data.get("workers", [])],
        resumed=[outcome_from_json(r) for r in data.get("resumed", [])],
    )


def run_id_for(agent_id: str, trigger: str, *, key: str) -> str:
    """``key`` names the occasion: the schedule slot, the message id, the CI run id."""
    return f"{agent_id}:{trigger}:{key}"


@dataclasses.dataclass
class Wake:
    """One wake-up in progress."""

    ports: LoopPorts
    org: loading.Organization
    agent_id: str
    run_id: str
    trigger: str
    lease: leasing.Lease
    model_name: str
    price: ModelPrice
    outcome: RunOutcome
    tools: Tools | None = None
    """The run's MCP servers, while they are open (the tool loop reads through them)."""

    def check(self) -> None:
        """Stop here (LeaseLost) if another process took this run over."""
        self.lease.check()
