"""The bus's own data: queued tasks, claims, pending entries, dead letters, limits, statuses.

Everything read back from Redis is validated through these models; what fails
validation is dead-lettered, never trusted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PositiveInt

from aito.org.common import Slug

NO_DUE = 9_999_999_999.0
"""Sort key of a task without a due date (after every real one, year 2286)."""


class BusModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueuedTask(BusModel):
    """A unit of work in `queue:tasks:{agent}` or `queue:urgent`."""

    task_id: str = Field(min_length=1, max_length=128)
    agent: Slug = Field(description="the agent the task is for (or that queued an urgent one)")
    priority: int = Field(5, ge=1, le=99, description="1 is the most urgent")
    due: AwareDatetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    def score(self) -> float:
        """Queue order: priority first, then due date (earliest first, none last)."""
        due = self.due.timestamp() if self.due is not None else NO_DUE
        return self.priority * 1e10 + due


class TaskState(enum.StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"
    DEAD = "dead"  # failed or timed out `max_attempts` times; see stream:dead-letters


class ClaimedTask(BusModel):
    """A task a worker holds until ``visible_until``; then it returns to its queue."""

    task: QueuedTask
    token: str
    attempts: int
    visible_until: AwareDatetime


class TaskRecord(BusModel):
    """Everything known about one task (`queue:task:{id}`)."""

    task: QueuedTask
    state: TaskState
    attempts: int = 0
    worker: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    completed_at: AwareDatetime | None = None
    enqueued_at: AwareDatetime | None = None


class PendingEntry(BusModel):
    """A stream entry delivered to a consumer and not yet acknowledged."""

    entry_id: str
    consumer: str
    idle_ms: int
    deliveries: int
    message_id: str | None = None
    type: str | None = None


class DeadLetter(BusModel):
    """An entry no consumer could read: why, where it was, and its raw data."""

    entry_id: str
    reason: str
    source: str
    source_entry_id: str
    consumer: str
    raw: str
    at: AwareDatetime


class RateLimits(BusModel):
    """An agent's model budget per minute: requests and tokens (both must allow)."""

    requests_per_minute: PositiveInt
    tokens_per_minute: PositiveInt


class RateDecision(BusModel):
    allowed: bool
    retry_after: float = 0.0
    """Seconds until the same request would be allowed (0 when allowed)."""


class AgentStatus(BusModel):
    """`agent:status:{id}`; it expires when heartbeats stop."""

    status: str
    last_heartbeat: AwareDatetime | None = None
    container_id: str | None = None
    run_id: str | None = None


class RequestTimeout(BusModel):
    """A request whose recipient did not answer by its deadline."""

    request_id: str
    sender: str
    recipient: str
    deadline: AwareDatetime


@dataclasses.dataclass
class PollResult:
    """What one `Consumer.poll` (or `reclaim`) did."""

    handled: int = 0
    duplicates: int = 0
    failed: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0

    def __add__(self, other: PollResult) -> PollResult:
        # field by field: dataclasses.astuple deep-copies, a cost on every poll
        return PollResult(
            handled=self.handled + other.handled,
            duplicates=self.duplicates + other.duplicates,
            failed=self.failed + other.failed,
            dead_lettered=self.dead_lettered + other.dead_lettered,
            reclaimed=self.reclaimed + other.reclaimed,
        )

    @property
    def seen(self) -> int:
        return self.handled + self.duplicates + self.failed + self.dead_lettered


def epoch(moment: dt.datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("the bus takes timezone-aware datetimes")
    return moment.timestamp()


def from_epoch(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)
