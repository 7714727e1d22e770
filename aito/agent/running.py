"""One wake-up of an agent, start to finish, as a straight pipeline: `Runner.run`.

    lease the run's lock → begin the run (or find it) → read the organization once →
    due events become tasks, results of earlier actions become outcomes →
      fresh:   gather the context → idle skip → think → guard against loops → act
      resumed: account the saved calls → think on from the saved exchanges, or act
               on the saved plan
    → finish (inbox and outcomes marked, run settled, heartbeat)

Each step is a module of its own: :mod:`~aito.agent.gathering`, :mod:`~aito.agent.thinking`
(budget, rate limit, validation) with :mod:`~aito.agent.accounting`,
:mod:`~aito.agent.guarding` (loops, escalation), :mod:`~aito.agent.acting` and
:mod:`~aito.agent.finishing`; they hand one :class:`~aito.agent.runs.Wake` along.

A run id derives from (agent, trigger), so the same wake-up run twice does its work
once: a finished run is reported as it was; an unfinished one (a crash) is resumed
from its saved model exchanges without asking the model again. The run's lock
(`lock:container:{agent}`) is a lease (:mod:`aito.bus.leasing`) renewed while the run
lives and expiring ``lock_ttl_seconds`` after it dies; a re-run of the same wake-up
takes over the lease its dead predecessor left at once, any other run waits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator

from aito.agent import (
    accounting,
    acting,
    actions,
    checking,
    context,
    executing,
    finishing,
    gathering,
    guarding,
    preparing,
    runs,
    thinking,
    tool_loop,
    world,
    world_writing,
)
from aito.agent.ports import LoopPorts, Tools
from aito.bus import keys, leasing
from aito.bus import models as bus_models
from aito.decisions import reading
from aito.errors import AitoError, ConfigError, GovernanceError, TemporaryAdapterError
from aito.llm.base import Exchange, ModelRequest
from aito.memory import base as memory_base
from aito.org import loading

log = logging.getLogger(__name__)

# The public names of a run (kept here for callers).
RunOutcome = runs.RunOutcome
ActionReport = runs.ActionReport
run_id_for = runs.run_id_for
MAX_TOKENS = thinking.MAX_TOKENS
LOOP_LIMIT = guarding.LOOP_LIMIT
LOOP_WINDOW = guarding.LOOP_WINDOW
LOCK_TTL_SECONDS = 60.0
"""A crashed run's lock is free this long after its last renewal (renewed every 5 s)."""


@dataclasses.dataclass
class Runner:
    """Runs wake-ups; ``force`` skips the idle check (a human asked for this run)."""

    ports: LoopPorts
    caps: checking.Caps = dataclasses.field(default_factory=checking.Caps)
    loop_limit: int = LOOP_LIMIT
    rate_limits: bus_models.RateLimits = dataclasses.field(
        default_factory=lambda: bus_models.RateLimits(
            requests_per_minute=50, tokens_per_minute=400_000
        )
    )
    max_rate_wait_seconds: float = 120.0
    lock_ttl_seconds: float = LOCK_TTL_SECONDS
    lock_wait_seconds: float = 10.0
    thinker: thinking.Thinker = thinking.think
    """How runs get their plan (a sandboxed worker's runner thinks in its container)."""
    spawn: acting.RunWorker | None = None
    """How workers run: None runs each in-process, as its own wake-up of this runner; a
    run in a container asks its launcher (:mod:`aito.runtime.launching`)."""

    def run(
        self,
        agent_id: str,
        *,
        trigger: str,
        run_id: str,
        force: bool = False,
        worker: executing.WorkerRequest | None = None,
    ) -> RunOutcome:
        """One wake-up. Runs of one agent never overlap: a second process waits up to
        ``lock_wait_seconds`` for the lock, then fails with a temporary error; one that
        lost its lock to a re-run of the same wake-up stops (LeaseLost)."""
        with leasing.Lease(
            self.ports.bus,
            keys.container_lock(agent_id),
            ttl_seconds=self.lock_ttl_seconds,
            owner=run_id,
            wait_seconds=self.lock_wait_seconds,
        ) as lease:
            # From here on, what is addressed to the agent wakes it again after this run.
            self.ports.waker.started(agent_id)
            resumed = self._resume_abandoned(agent_id, run_id=run_id, lease=lease)
            outcome = self._run(
                agent_id, trigger=trigger, run_id=run_id, lease=lease, force=force, worker=worker
            )
            outcome.resumed = resumed
            return outcome

    def _resume_abandoned(
        self, agent_id: str, *, run_id: str, lease: leasing.Lease
    ) -> list[RunOutcome]:
        """Earlier wake-ups of this agent that died unfinished, finished first.

        This run holds the agent's lock, so no other run of the agent is alive: one still
        ``running`` crashed (or lost its lease and stops at its next step). A scheduled
        slot or a daemon's message run is never started again under its own id, so
        without this it would stay ``running`` for good, and an answer it saved but had
        not accounted would be missing from `aito budget`. One that asked the model is
        resumed exactly as a re-run of it would be (its calls accounted once, its plan
        finished); one that had asked nothing is settled as failed, since this wake-up
        sees its inbox and results anyway. A worker's run is its requester's to resume
        while that requester is unfinished. A run that cannot be resumed for a reason
        that will not pass (not a service being away) is settled as failed, so it never
        blocks the agent's later wake-ups.
        """
        memory = self.ports.memory
        resumed: list[RunOutcome] = []
        for row in memory.unfinished_runs(agent_id):
            old = str(row["run_id"])
            if old == run_id or not self._orphaned(agent_id, old, trigger=str(row["trigger"])):
                continue
            if not row["asked"]:
                reason = f"interrupted before the model was asked; superseded by {run_id}"
                memory.finish_run(
                    old, status="failed", at=self.ports.clock(), summary=reason, error=reason
                )
                continue
            log.warning("%s: resuming %s, which died unfinished", run_id, old)
            try:
                resumed.append(
                    self._run(
                        agent_id,
                        trigger=str(row["trigger"]),
                        run_id=old,
                        lease=lease,
                        force=False,
                        worker=None,
                    )
                )
            except (TemporaryAdapterError, leasing.LeaseLost):
                raise  # the services are away: this run could not go on either
            except Exception as exc:  # a bug included: logged, and never a wall for later runs
                if not isinstance(exc, AitoError):
                    log.exception("%s: resuming %s failed", run_id, old)
                reason = f"interrupted; resuming it in {run_id} failed: {exc}"
                memory.finish_run(
                    old, status="failed", at=self.ports.clock(), summary=reason, error=reason
                )
        return resumed

    def _orphaned(self, agent_id: str, old: str, *, trigger: str) -> bool:
        """Whether no one else will resume ``old``: a worker's run belongs to its requester
        (which re-runs it under the same id) until that requester is finished."""
        if trigger != "spawn":
            return True
        requester = old.removeprefix(f"{agent_id}:spawn:").rpartition("#")[0]
        found = self.ports.memory.run_record(requester) if requester else None
        return found is None or found["status"] in memory_base.TERMINAL_RUN_STATUSES

    def _run(
        self,
        agent_id: str,
        *,
        trigger: str,
        run_id: str,
        lease: leasing.Lease,
        force: bool,
        worker: executing.WorkerRequest | None,
    ) -> RunOutcome:
        ports = self.ports
        now = ports.clock()
        existing = ports.memory.begin_run(run_id=run_id, agent_id=agent_id, trigger=trigger, at=now)
        if existing is None:  # the audit log's `agent.woke` event, once per run id
            ports.memory.record_wake(agent_id=agent_id, run_id=run_id, trigger=trigger, at=now)
        elif existing["status"] in memory_base.TERMINAL_RUN_STATUSES:
            return finishing.reported(existing, ports)
        forge = ports.governance
        try:
            org = reading.base_organization(forge, forge.default_branch)  # once per run
            wake = self._wake(org, agent_id, trigger=trigger, run_id=run_id, lease=lease)
        except (ConfigError, GovernanceError) as exc:  # no organization to run in: failed
            ports.memory.finish_run(
                run_id, status="failed", at=now, summary=str(exc), error=str(exc)
            )
            raise
        org = wake.org = preparing.materialize_due_events(ports, org, agent_id)
        preparing.refresh_outcomes(ports, agent_id)
        world_writing.forget_old_writes(ports, org, agent_id)
        try:
            saved = preparing.saved_run(existing)
        except preparing.UnreadableRun as exc:
            wake.outcome.status = "failed"
            wake.outcome.summary = wake.outcome.error = str(exc)
            ports.memory.finish_run(
                run_id, status="failed", at=now, summary=str(exc), error=str(exc)
            )
            return wake.outcome
        if saved is not None:
            # A crashed run: its answered calls are accounted (once), then it carries on
            # from what it saved, checked against the context it was made from.
            accounting.recover(wake, saved.exchanges)
            if saved.planned is not None:  # its facts read again from what it was given
                turns = saved.exchanges[-1].request.turns if saved.exchanges else []
                seen = tool_loop.with_facts(saved.seen, turns)
                return self._act(wake, seen, saved.planned, worker=worker)
            spend = accounting.spend_of(ports, agent_id, now=now)
            return self._think(
                wake,
                saved.seen,
                request=saved.exchanges[0].request,
                saved=saved.exchanges,
                spend=spend,
                worker=worker,
            )
        spend = accounting.spend_of(ports, agent_id, now=now)
        seen = gathering.gather(
            ports,
            org,
            agent_id=agent_id,
            run_id=run_id,
            trigger=trigger,
            budget=accounting.budget_view(org, agent_id, spend=spend),
            caps=self.caps.as_dict(),
        )
        if worker is not None:
            seen = preparing.worker_view(seen, org, worker)
        fingerprint = seen.fingerprint()
        idle = existing is None and not force and worker is None
        idle = idle and not (seen.has_news() or seen.has_work())
        if idle and fingerprint == ports.memory.last_fingerprint(agent_id):
            return finishing.skipped(wake, fingerprint=fingerprint)
        # No saved exchange: nothing was asked yet (or a crash came first), so think anew.
        request = thinking.request_for(wake, seen)
        return self._think(wake, seen, request=request, saved=[], spend=spend, worker=worker)

    def _think(
        self,
        wake: runs.Wake,
        seen: context.Context,
        *,
        request: ModelRequest,
        saved: list[Exchange],
        spend: accounting.Spend,
        worker: executing.WorkerRequest | None,
    ) -> RunOutcome:
        limits = thinking.Limits(self.rate_limits, self.max_rate_wait_seconds)
        with self._opened(wake) as tools:  # open until the plan has run (it may write)
            if not saved:  # a resumed run asks what it asked before
                request = tool_loop.offered(request, tools, max_turns=wake.org.org.mcp.max_turns)
            thought = self.thinker(wake, request, saved=saved, spend=spend, limits=limits)
            if thought.planned is None:
                wake.outcome.status = thought.failure or "failed"
                return finishing.finish(wake, seen, fingerprint=None)
            seen = tool_loop.with_facts(seen, thought.turns)  # what it read, it may cite
            # The exchanges are saved already (thinking saves each as it arrives): the plan.
            wake.ports.memory.save_plan(
                wake.run_id, actions=[a.model_dump(mode="json") for a in thought.planned]
            )
            loop = guarding.looping(wake, thought.planned, limit=self.loop_limit)
            if loop is not None:
                # Nothing of the plan runs; what it was shown counts as seen, so the agent
                # sleeps until something changes instead of spinning on the same input.
                wake.outcome.status = "stopped"
                wake.outcome.error = loop
                guarding.escalate_loop(wake, loop)
                return finishing.finish(wake, seen, fingerprint=seen.fingerprint())
            return self._act(wake, seen, thought.planned, worker=worker)

    @contextlib.contextmanager
    def _opened(self, wake: runs.Wake) -> Iterator[Tools | None]:
        """The run's MCP servers, opened once for its thinking and its acting."""
        if wake.tools is not None:
            yield wake.tools
            return
        with self._tools(wake) as tools:
            wake.tools = tools
            try:
                yield tools
            finally:
                wake.tools = None

    def _act(
        self,
        wake: runs.Wake,
        seen: context.Context,
        planned: list[actions.ActionModel],
        *,
        worker: executing.WorkerRequest | None,
    ) -> RunOutcome:
        workers = acting.worker_runner(self.spawn or self._run_worker, wake.outcome)
        with self._opened(wake):
            executor = acting.act(wake, seen, planned, caps=self.caps, workers=workers)
        fingerprint = seen.fingerprint()
        if worker is None and any(a.status == "executed" for a in wake.outcome.actions):
            # What the agent changed itself is no news to it: compare the next wake-up
            # with the world as this run left it (its own task writes included).
            org = preparing.with_tasks(wake.org, executor.written_tasks)
            unused = context.BudgetView(
                daily_limit_usd=0, daily_spent_usd=0, monthly_limit_usd=0, monthly_spent_usd=0
            )  # spend facts are not part of the fingerprint
            now = wake.ports.clock()
            fingerprint = world.world_of(
                wake.ports, org, wake.agent_id, budget=unused, now=now
            ).fingerprint()
        wake.check()
        return finishing.finish(wake, seen, fingerprint=fingerprint)

    def _tools(self, wake: runs.Wake) -> contextlib.AbstractContextManager[Tools | None]:
        """The run's MCP servers, open while it thinks (none: nothing to open)."""
        servers = wake.org.org.mcp.servers
        names = wake.org.agents[wake.agent_id].mcp_servers
        if not names:
            return contextlib.nullcontext()
        if self.ports.tools is None:
            raise ConfigError(
                f"{wake.agent_id} lists MCP servers ({', '.join(names)}) but this process "
                "cannot open them (no MCP tool hub wired)"
            )
        return self.ports.tools({name: servers[name] for name in names if name in servers})

    def _run_worker(
        self, kind: str, run_id: str, request: executing.WorkerRequest
    ) -> runs.RunOutcome:
        return self.run(kind, trigger="spawn", run_id=run_id, worker=request)

    def _wake(
        self,
        org: loading.Organization,
        agent_id: str,
        *,
        trigger: str,
        run_id: str,
        lease: leasing.Lease,
    ) -> runs.Wake:
        if agent_id not in org.agents:
            raise ConfigError(f"no agent {agent_id!r} on the base branch")
        model_name = org.model_of(agent_id)
        price = org.org.pricing.get(model_name)
        if price is None:
            raise ConfigError(
                f"no price for model {model_name!r} in org.yaml `pricing`; add it so cost is known"
            )
        return runs.Wake(
            ports=self.ports,
            org=org,
            agent_id=agent_id,
            run_id=run_id,
            trigger=trigger,
            lease=lease,
            model_name=model_name,
            price=price,
            outcome=RunOutcome(
                run_id=run_id, agent_id=agent_id, trigger=trigger, status="completed"
            ),
        )
