"""What one wake-up works with: the organization, the services and the model.

The loop is typed against the small protocols below, not against the Postgres and
Redis adapters: :mod:`aito.bootstrap` wires `PostgresMemory` and
`aito.bus.services.BusServices` in (they satisfy these structurally), and a later
container split may wire something else without touching the loop. Each protocol
names only what the loop calls; what another module already declares (recall and
history writes in :mod:`aito.memory`, storing verdicts in :mod:`aito.decisions.recording`,
locks in :mod:`aito.bus.leasing`) is composed in, not written again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

from aito.bus import base as bus_base
from aito.bus import budgets, leasing, waking, worker_queue
from aito.bus import models as bus_models
from aito.decisions import recording
from aito.forge.base import Forge
from aito.llm.base import Model
from aito.memory import recalling, writing
from aito.memory.base import StateValue, UsageRow
from aito.memory.embedding import Embedder
from aito.org.mcp_servers import McpServer
from aito.org.messages import AgentMessage

# -- memory (Postgres in production) ----------------------------------------------------


class RunLog(Protocol):
    """Runs, their saved model exchanges and plan, and each action's fate."""

    def begin_run(
        self, *, run_id: str, agent_id: str, trigger: str, at: dt.datetime
    ) -> dict[str, Any] | None: ...

    def run_record(self, run_id: str) -> dict[str, Any] | None: ...

    def unfinished_runs(self, agent_id: str, *, limit: int = 20) -> list[dict[str, Any]]: ...

    def save_exchanges(self, run_id: str, *, exchanges: list[dict[str, Any]]) -> None: ...

    def save_plan(self, run_id: str, *, actions: list[dict[str, Any]]) -> None: ...

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        at: dt.datetime,
        fingerprint: str | None = None,
        summary: str | None = None,
        error: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        usage: dict[str, Any] | None = None,
        cost_usd: float = 0.0,
    ) -> None: ...

    def record_container(self, run_id: str, *, container: dict[str, Any]) -> None:
        """How the run's container ended (name, image, limits, status, logs)."""
        ...

    def last_fingerprint(self, agent_id: str) -> str | None: ...

    def actions_of(self, run_id: str) -> dict[int, dict[str, Any]]: ...

    def mark_action(
        self,
        *,
        run_id: str,
        position: int,
        agent_id: str,
        action: dict[str, Any],
        content_hash: str,
        status: str,
        at: dt.datetime,
        reason: str | None = None,
        ref: str | None = None,
    ) -> None: ...

    def repeats(self, agent_id: str, content_hash: str, *, since: dt.datetime) -> int: ...


class Mailbox(Protocol):
    """Delivered messages kept until handled, and results shown to an agent once."""

    def store_inbox(
        self, agent_id: str, messages: Sequence[tuple[str, dict[str, Any]]], *, at: dt.datetime
    ) -> int: ...

    def unhandled_inbox(self, agent_id: str, *, limit: int = 100) -> list[dict[str, Any]]: ...

    def mark_inbox_handled(
        self, agent_id: str, message_ids: Sequence[str], *, run_id: str
    ) -> None: ...

    def add_outcome(
        self,
        *,
        agent_id: str,
        kind: str,
        summary: str,
        dedupe_key: str,
        at: dt.datetime,
        ref: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> bool: ...

    def unseen_outcomes(self, agent_id: str, *, limit: int = 50) -> list[dict[str, Any]]: ...

    def mark_outcomes_seen(self, ids: Sequence[int], *, run_id: str) -> None: ...


class OpenItems(Protocol):
    """What agents opened and is still open (the dedup gate, follow-ups)."""

    def add_item(
        self,
        *,
        kind: str,
        ref: str,
        agent_id: str,
        title: str,
        content_hash: str,
        embedding: Sequence[float] | None,
        at: dt.datetime,
        details: dict[str, Any] | None = None,
    ) -> None: ...

    def close_item(self, *, kind: str, ref: str, at: dt.datetime) -> None: ...

    def items(
        self, *, kind: str | None = None, agent_id: str | None = None, state: str | None = "open"
    ) -> list[dict[str, Any]]: ...

    def duplicate_of(
        self,
        *,
        kinds: Sequence[str],
        content_hash: str,
        embedding: Sequence[float] | None,
        min_similarity: float,
        closed_since: dt.datetime | None = None,
    ) -> dict[str, Any] | None: ...


class Recollection(
    recalling.SearchesHistory, writing.WritesHistory, writing.StoresEmbeddings, Protocol
):
    """An agent's state, history (with recall) and the audit log."""

    def get_state(self, agent_id: str, key: str) -> StateValue | None: ...

    def all_state(self, agent_id: str) -> dict[str, StateValue]: ...

    def put_state(
        self, agent_id: str, key: str, value: Any, *, expected_version: int | None
    ) -> int: ...

    def history(self, agent_id: str, *, limit: int = 50) -> list[dict[str, Any]]: ...

    def run_unembedded(self, run_id: str) -> list[tuple[uuid.UUID, str]]: ...

    def record_wake(self, *, agent_id: str, run_id: str, trigger: str, at: dt.datetime) -> bool: ...

    def append_event(
        self,
        *,
        event_type: str,
        payload: dict[str, Any],
        source_agent: str | None = None,
        target_agent: str | None = None,
        run_id: str | None = None,
        decision_id: str | None = None,
    ) -> None: ...


class Spending(Protocol):
    """Model usage: one row per answered call, summed for budgets."""

    def record_usage(self, row: UsageRow) -> bool: ...

    def spent(self, *, agent_id: str | None, since: dt.datetime) -> tuple[float, int]: ...


class Verdicts(recording.StoresVerdicts, Protocol):
    """Decisions as the governance tally last judged them."""

    def decision(self, decision_id: str) -> dict[str, Any] | None: ...

    def verdicts(self, prs: Collection[int]) -> dict[int, dict[str, Any]]: ...


class Memory(RunLog, Mailbox, OpenItems, Recollection, Spending, Verdicts, Protocol):
    """Everything the loop keeps in Postgres."""


# -- the bus (Redis in production) ------------------------------------------------------


class Subscription(Protocol):
    def get(self, *, timeout: float) -> tuple[str, str] | None: ...

    def close(self) -> None: ...


class Outbox(Protocol):
    """Sends messages; knows which requests still wait for an answer."""

    def send(self, message: AgentMessage) -> list[str]: ...

    def open_requests(self) -> list[bus_models.RequestTimeout]: ...

    def listen(self, agent_id: str) -> Subscription: ...


class Poller(Protocol):
    """Reads one agent's stream: each delivered message is handed over once."""

    def poll(self, handler: bus_base.Handler, *, block_seconds: float = 0.0) -> Any: ...


class Ledger(Protocol):
    """Model-spend budgets: reserve before a call, settle after (idempotent per id)."""

    def seed(self, scope: str, period_key: str, *, usd: float, tokens: int) -> bool: ...

    def reserve(
        self,
        *,
        reservation_id: str,
        limits: Sequence[budgets.Limit],
        usd: float,
        tokens: int,
        now: dt.datetime,
        ttl_seconds: float = 900,
    ) -> budgets.Reservation | budgets.Refusal: ...

    def settle_once(self, reservation_id: str, *, usd: float, tokens: int) -> bool: ...

    def release(self, reservation: budgets.Reservation) -> bool: ...


class Limiter(Protocol):
    def acquire(self, agent: str, *, tokens: int, now: dt.datetime) -> bus_models.RateDecision: ...


class WorkerRequests(Protocol):
    """The worker queue (:mod:`aito.bus.worker_queue`)."""

    def ask(self, request: worker_queue.SpawnRequest, *, now: dt.datetime) -> str: ...

    def claim_request(
        self,
        request: str,
        *,
        worker: str,
        now: dt.datetime,
        visibility_seconds: float,
        resume: bool = False,
    ) -> bus_models.ClaimedTask | None: ...

    def complete(
        self, claimed: bus_models.ClaimedTask, *, result: Mapping[str, Any], now: dt.datetime
    ) -> bool: ...

    def release(
        self, claimed: bus_models.ClaimedTask, *, error: str, now: dt.datetime
    ) -> bus_models.TaskState | None: ...

    def record(self, task_id: str) -> bus_models.TaskRecord | None: ...

    def running_of(self, requester: str) -> int: ...

    def pending_for(self, asked: worker_queue.SpawnRequest) -> str | None: ...

    def expire(self, request: str, *, reason: str, now: dt.datetime) -> bool: ...

    def told(self, request: str) -> None: ...


class Bus(leasing.Locks, Protocol):
    """What the loop needs from the bus: locks, heartbeats and the helpers built on it."""

    def heartbeat(
        self,
        *,
        agent_id: str,
        status: str,
        run_id: str,
        at: dt.datetime,
        ttl_seconds: int,
        container_id: str | None = None,
    ) -> None: ...

    def has_unread(self, agent_id: str) -> bool: ...

    def outbox(
        self,
        *,
        groups: Mapping[str, Collection[str]] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> Outbox: ...

    def poller(self, agent_id: str, *, batch_size: int = 100) -> Poller: ...

    def ledger(self) -> Ledger: ...

    def limiter(self, *, default: bus_models.RateLimits) -> Limiter: ...

    def worker_queue(self) -> WorkerRequests: ...

    def leader(self, default: str) -> str:
        """Who leads: ``default`` (the CEO), or the DAO while the orchestrator gave it the
        temporary lead."""
        ...


class ToolInfo(Protocol):
    """One tool of a run's MCP servers (:class:`aito.toolbox.hub.RemoteTool`)."""

    @property
    def server(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def input_schema(self) -> dict[str, Any]: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def qualified(self) -> str: ...


class ToolOutcome(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def is_error(self) -> bool: ...

    @property
    def duration_ms(self) -> float: ...

    @property
    def structured(self) -> dict[str, Any] | None: ...


class Tools(Protocol):
    """A run's MCP servers, open (:class:`aito.toolbox.hub.Hub`, on the trusted side)."""

    def tools(self) -> Sequence[ToolInfo]: ...

    def tool(self, qualified: str) -> ToolInfo | None: ...

    def call(self, server: str, tool: str, arguments: Mapping[str, Any]) -> ToolOutcome: ...

    def write(self, action: Mapping[str, Any], *, ref: str) -> ToolOutcome:
        """Make a checked write (an McpWrite, as JSON) claimed as ``ref``."""
        ...


ToolsOpener = Callable[[Mapping[str, McpServer]], contextlib.AbstractContextManager[Tools]]
"""Opens the MCP servers a run may use (started on entering, stopped on leaving)."""


@dataclasses.dataclass
class LoopPorts:
    """The adapters of one agent loop, wired by :mod:`aito.bootstrap`.

    ``governance`` is the governance repo's forge; ``repo_forge(key)`` the forge of a
    department repository (a `repos` key of org.yaml). ``clock`` is the only source
    of "now" (the demo accelerates it). ``waker`` is the bus's (what the bus delivers
    wakes its recipients: on GitHub a repository_dispatch, locally nothing; see
    :mod:`aito.bus.waking`); a run clears its agent's pending wake when it starts.
    """

    memory: Memory
    bus: Bus
    governance: Forge
    repo_forge: Callable[[str], Forge]
    model: Model
    embedder: Embedder | None
    clock: Callable[[], dt.datetime]
    waker: waking.Waker = dataclasses.field(default_factory=waking.NoWaker)
    dry_run: bool = False
    """This process's runs write nothing to the world: each write is recorded instead
    (`aito agent run --dry-run`, or org.yaml `mcp.dry_run` for the organization)."""
    tools: ToolsOpener | None = None
    """How a run whose agent lists `mcp_servers` opens them (None: MCP is unavailable
    here, and such a run fails saying so)."""
