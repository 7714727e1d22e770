"""What one reconcile pass sees: plain data, gathered by the observe step.

Times are aware datetimes; nothing here reads a clock or a service.
"""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class AgentSeen:
    """One agent's health as the services report it."""

    id: str
    slot: dt.datetime | None = None
    """The latest schedule slot whose wake-up should have left a heartbeat by now: its
    timeout and the grace have passed since (None: no schedule)."""
    last_heartbeat: dt.datetime | None = None
    daemon_running: bool = False
    """`daemon` wake mode: its daemon container runs (by label)."""
    restarts: tuple[dt.datetime, ...] = ()
    """When the orchestrator restarted it (its own record), oldest first."""
    error_since: dt.datetime | None = None
    """Marked `error` (restart budget spent) from then, and not healthy since."""
    generation: int = 0
    """How often it recovered from `error`: names its restarts and errors apart from the
    earlier ones (their steps' keys were used already)."""


@dataclasses.dataclass(frozen=True)
class ContainerSeen:
    """A container of the organization's, by its labels."""

    id: str
    kind: str  # agent, worker, daemon
    agent: str
    run: str
    running: bool
    deadline: dt.datetime | None
    parent: str | None = None
    launcher_alive: bool = True


@dataclasses.dataclass(frozen=True)
class DecisionSeen:
    """An open decision and when its current round ends."""

    id: str
    pr: int
    deadline: dt.datetime | None
    tallied_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True)
class WorkerAsked:
    """A spawn request waiting in the worker queue."""

    id: str
    parent: str
    kind: str
    task: str
    asked_at: dt.datetime
    attempts: int = 0
    """Starts so far (each lost with its runner: the claim lapsed)."""


@dataclasses.dataclass(frozen=True)
class Cause:
    """Something a human should hear about (an escalated deadlock, a critical decision
    waiting, a budget exhausted, a loop stopped): ``key`` names it, once."""

    key: str
    subject: str
    body: str
    link: str | None = None
    severity: str = "warning"


@dataclasses.dataclass(frozen=True)
class Observed:
    """Everything one pass sees."""

    agents: dict[str, AgentSeen] = dataclasses.field(default_factory=dict)
    containers: tuple[ContainerSeen, ...] = ()
    decisions: tuple[DecisionSeen, ...] = ()
    worker_requests: tuple[WorkerAsked, ...] = ()
    workers_dead: tuple[WorkerAsked, ...] = ()
    """Worker requests that died (their runners stopped too often) not reported yet."""
    workers_running: dict[str, int] = dataclasses.field(default_factory=dict)
    """Per requesting agent: its workers running now (claimed requests)."""
    causes: tuple[Cause, ...] = ()
    notified: frozenset[str] = frozenset()
    """Keys of the notifications sent already."""
    agent_links: dict[str, str] = dataclasses.field(default_factory=dict)
    """Per agent: where its runs are seen (on GitHub, its workflow's runs)."""
    lead: str = "ceo"
    """Who leads: the CEO, or the DAO while it holds the temporary lead."""
