"""What a reconcile pass may do. Each step has a ``key``: the apply step records it once
done, and a step whose key is recorded is not done again (a killed and restarted
orchestrator repeats nothing)."""

from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class Restart:
    """Wake a dead agent again: its daemon container (`daemon` mode) or a wake-up."""

    agent: str
    attempt: int
    daemon: bool
    generation: int = 0

    @property
    def key(self) -> str:
        return f"restart:{self.agent}:g{self.generation}:{self.attempt}"


@dataclasses.dataclass(frozen=True)
class MarkError:
    """The agent's restart budget is spent: it is `error` until it is healthy again."""

    agent: str
    since: dt.datetime
    generation: int = 0

    @property
    def key(self) -> str:
        return f"error:{self.agent}:g{self.generation}:{self.since.isoformat()}"


@dataclasses.dataclass(frozen=True)
class ClearError:
    """An agent marked `error` is healthy again."""

    agent: str
    generation: int = 0

    @property
    def key(self) -> str:
        return f"clear:{self.agent}:g{self.generation}"


@dataclasses.dataclass(frozen=True)
class ChangeLead:
    """The temporary lead moves: to the DAO while the CEO is down, back when it returns."""

    to: str
    reason: str

    @property
    def key(self) -> str:
        return f"lead:{self.to}"


@dataclasses.dataclass(frozen=True)
class Tally:
    """A decision's round deadline passed: tally it (the verdict applies itself)."""

    decision: str
    pr: int
    deadline: dt.datetime

    @property
    def key(self) -> str:
        return f"tally:{self.pr}:{self.deadline.isoformat()}"


@dataclasses.dataclass(frozen=True)
class SpawnWorker:
    """Start a queued worker request (its ``attempt``-th start: one whose runner died is
    started again once its claim has lapsed)."""

    request: str
    parent: str
    kind: str
    attempt: int = 1
    claim_seconds: float = 3600.0
    """How long its claim lasts: the kind's timeout and a grace."""

    @property
    def key(self) -> str:
        return f"spawn:{self.request}:{self.attempt}"


@dataclasses.dataclass(frozen=True)
class ExpireWorker:
    """A queued request waited past its kind's timeout: it fails back to its requester."""

    request: str
    parent: str
    minutes: int | None = None
    """The TTL it waited past (None: it was no valid request of this organization's)."""

    @property
    def key(self) -> str:
        return f"expire:{self.request}"


@dataclasses.dataclass(frozen=True)
class ReportDeadWorker:
    """A worker request died (started too often without finishing): its requester is
    told it failed."""

    request: str
    parent: str

    @property
    def key(self) -> str:
        return f"dead:{self.request}"


@dataclasses.dataclass(frozen=True)
class Reap:
    """Remove a container that is overdue or whose launcher is gone."""

    container: str
    reason: str

    @property
    def key(self) -> str:
        return f"reap:{self.container}"


@dataclasses.dataclass(frozen=True)
class Notify:
    """Tell the humans, once per cause."""

    cause: str
    subject: str
    body: str
    link: str | None
    severity: str

    @property
    def key(self) -> str:
        return notify_key(self.cause)


def notify_key(cause: str) -> str:
    return f"notify:{cause}"


Step = (
    Restart
    | MarkError
    | ClearError
    | ChangeLead
    | Tally
    | SpawnWorker
    | ExpireWorker
    | ReportDeadWorker
    | Reap
    | Notify
)
