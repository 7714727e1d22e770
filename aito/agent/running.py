"""One wake-up of an agent, start to finish: `run_once`.

trigger → run id → (resume or begin) → due scheduled events become tasks → results
of earlier actions → context → idle skip → budget reservation → model (validated;
one retry with the validation error) → the plan is saved → each action checked,
deduplicated, executed once → history, outcomes, inbox, usage, heartbeat.

A run id derives from (agent, trigger), so the same wake-up run twice does its
work once: a finished run is reported as it was; an unfinished one (a crash) is
resumed from its saved model exchanges without asking the model again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from typing import Any

from aito.agent import actions, checking, context, executing, prompting
from aito.agent.ports import LoopPorts
from aito.bus import budgets, keys, ratelimits, streams
from aito.bus import models as bus_models
from aito.decisions import proposing, reading
from aito.errors import AdapterError, AitoError, ConfigError, TemporaryAdapterError
from aito.forge.base import PullState
from aito.llm import replay
from aito.llm.base import Exchange, ModelRequest, ModelResponse, Usage, cost_usd, worst_case
from aito.memory import writing
from aito.memory.base import UsageRow
from aito.memory.postgres.runs import TERMINAL
from aito.org import loading
from aito.org.agents import Layer, Severity
from aito.org.messages import AgentMessage, MessageType, Priority
from aito.org.records import Task

log = logging.getLogger(__name__)

MAX_TOKENS = 2048
"""Output cap per call; it also bounds the worst case reserved against budgets."""
LOOP_LIMIT = 3
"""The same action planned in this many runs within LOOP_WINDOW without progress stops the agent."""
LOOP_WINDOW = dt.timedelta(hours=24)
HEARTBEAT_TTL_FACTOR = 3


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
        }


def run_id_for(agent_id: str, trigger: str, *, key: str) -> str:
    """``key`` names the occasion: the schedule slot, the message id, the CI run id."""
    return f"{agent_id}:{trigger}:{key}"


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
    lock_ttl_seconds: float = 30 * 60
    lock_wait_seconds: float = 10.0

    def run(
        self,
        agent_id: str,
        *,
        trigger: str,
        run_id: str,
        force: bool = False,
        worker: executing.WorkerRequest | None = None,
    ) -> RunOutcome:
        """One wake-up. Runs of one agent never overlap: `lock:container:{agent}` is held
        for the run (it expires after the agent's timeout if this process dies), and a
        second process waits up to ``lock_wait_seconds`` then fails with a temporary error."""
        with self.ports.bus.lock(
            keys.container_lock(agent_id),
            ttl_seconds=self.lock_ttl_seconds,
            wait_seconds=self.lock_wait_seconds,
        ):
            return self._run(agent_id, trigger=trigger, run_id=run_id, force=force, worker=worker)

    def _run(
        self,
        agent_id: str,
        *,
        trigger: str,
        run_id: str,
        force: bool,
        worker: executing.WorkerRequest | None,
    ) -> RunOutcome:
        ports = self.ports
        now = ports.clock()
        existing = ports.memory.begin_run(run_id=run_id, agent_id=agent_id, trigger=trigger, at=now)
        if existing is None:  # the audit log's `agent.woke` event, once per run id
            ports.memory.record_wake(agent_id=agent_id, run_id=run_id, trigger=trigger, at=now)
        if existing is not None and existing["status"] in TERMINAL:
            return _reported(existing, ports)
        org = self._organization()
        if agent_id not in org.agents:
            raise ConfigError(f"no agent {agent_id!r} on the base branch")
        if materialize_due_events(ports, org, agent_id):
            org = self._organization()
        refresh_outcomes(ports, org, agent_id)
        model_name = org.model_of(agent_id)
        price = org.org.pricing.get(model_name)
        if price is None:
            raise ConfigError(
                f"no price for model {model_name!r} in org.yaml `pricing`; add it so cost is known"
            )
        resumed = _saved_plan(existing)
        if resumed is not None:
            # A crashed run: finish the plan it saved, checked against the context it was
            # made from; the model is not asked again and settled actions are skipped.
            seen, saved = resumed
            outcome = RunOutcome(
                run_id=run_id, agent_id=agent_id, trigger=trigger, status="completed"
            )
            self._act(org, seen, saved, outcome)
            self._finish(org, seen, outcome, fingerprint=seen.fingerprint())
            return outcome
        spend = self._spend(agent_id, now)
        seen = context.gather(
            ports,
            org,
            agent_id=agent_id,
            run_id=run_id,
            trigger=trigger,
            budget=self._budget_view(org, agent_id, spend),
            caps=self.caps.as_dict(),
        )
        if worker is not None:
            seen = _worker_view(seen, org, worker)
        fingerprint = seen.fingerprint()
        outcome = RunOutcome(run_id=run_id, agent_id=agent_id, trigger=trigger, status="completed")
        idle = (
            existing is None
            and not force
            and worker is None
            and not seen.has_news()
            and not seen.has_work()
        )
        if idle and fingerprint == ports.memory.last_fingerprint(agent_id):
            outcome.status = "skipped"
            outcome.summary = "nothing changed since the last run: no model call"
            ports.memory.finish_run(
                run_id,
                status="skipped",
                at=ports.clock(),
                fingerprint=fingerprint,
                summary=outcome.summary,
            )
            self._heartbeat(org, agent_id, run_id)
            return outcome
        # No saved plan: nothing ran yet (a crash during the model call), so think anew.
        recorder = replay.RecordingModel(ports.model)
        request = ModelRequest(
            agent_id=agent_id,
            run_id=run_id,
            model=model_name,
            system=prompting.system_for(seen),
            shared_chars=len(prompting.shared_for(seen)),  # the first cache breakpoint
            prompt=prompting.turn_prompt(seen),
            tools=prompting.tools_for(seen.agent.layer),
            max_tokens=MAX_TOKENS,
            context=seen.model_dump(mode="json"),
            seed=_seed(run_id),
        )
        planned, failure = self._think(
            recorder, request, org=org, agent_id=agent_id, outcome=outcome, price=price, spend=spend
        )
        ports.memory.save_plan(
            run_id,
            exchanges=[e.model_dump(mode="json") for e in recorder.exchanges],
            actions=None if planned is None else [a.model_dump(mode="json") for a in planned],
        )
        for exchange in recorder.exchanges:
            if exchange.response is not None:
                self._record_usage(org, agent_id, run_id, exchange.response, price)
        if planned is None:
            outcome.status = failure or "failed"
            self._finish(org, seen, outcome, fingerprint=None)
            return outcome
        loop = self._looping(agent_id, planned, run_id=run_id)
        if loop is not None:
            # Nothing of the plan runs; what it was shown counts as seen, so the agent
            # sleeps until something changes instead of spinning on the same input.
            outcome.status = "stopped"
            outcome.error = loop
            self._escalate_loop(org, agent_id, run_id, loop)
            self._finish(org, seen, outcome, fingerprint=fingerprint)
            return outcome
        self._act(org, seen, planned, outcome)
        if worker is None and any(a.status == "executed" for a in outcome.actions):
            # What the agent changed itself is no news to it: compare the next wake-up
            # with the world as this run left it.
            fingerprint = self._world_after(agent_id)
        self._finish(org, seen, outcome, fingerprint=fingerprint)
        return outcome

    def _world_after(self, agent_id: str) -> str:
        org = self._organization()
        unused = context.BudgetView(
            daily_limit_usd=0, daily_spent_usd=0, monthly_limit_usd=0, monthly_spent_usd=0
        )  # spend facts are not part of the fingerprint
        return context.world_of(
            self.ports, org, agent_id, budget=unused, now=self.ports.clock()
        ).fingerprint()

    # -- thinking -----------------------------------------------------------------------

    def _think(
        self,
        model: replay.RecordingModel,
        request: ModelRequest,
        *,
        org: loading.Organization,
        agent_id: str,
        outcome: RunOutcome,
        price: Any,
        spend: dict[tuple[str, str], tuple[float, int]],
    ) -> tuple[list[actions.ActionModel] | None, str | None]:
        """Ask the model; an invalid answer is retried once with the validation error."""
        ledger = budgets.BudgetLedger(self.ports.bus)
        limits = budgets.limits_for(org, agent_id)
        self._seed_ledger(ledger, limits, spend)
        for attempt in range(2):
            usd, tokens = worst_case(request, price)
            granted = ledger.reserve(
                reservation_id=f"{request.run_id}:{attempt}:{len(model.exchanges)}",
                limits=limits,
                usd=usd,
                tokens=tokens,
                now=self.ports.clock(),
            )
            if isinstance(granted, budgets.Refusal):
                outcome.error = f"budget exhausted: {granted.reason}"
                self._budget_exhausted(org, agent_id, request.run_id, granted.reason)
                return None, "budget_exhausted"
            try:
                self._respect_rate_limit(agent_id, tokens)
                response = model.complete(request)
            except AdapterError as exc:
                ledger.release(granted)
                outcome.error = f"model call failed: {exc}"
                return None, "failed"
            spent = cost_usd(response.usage, price)
            ledger.settle(granted, usd=spent, tokens=response.usage.total)
            outcome.usage = outcome.usage + response.usage
            outcome.cost_usd += spent
            try:
                return actions.parse([(c.name, c.input) for c in response.tool_calls]), None
            except actions.InvalidActions as exc:
                feedback = (
                    "Your answer was rejected and nothing of it was executed: "
                    + "; ".join(exc.problems)
                    + ". Answer again with valid tool calls."
                )
                self.ports.memory.append_event(
                    event_type="agent.invalid_answer",
                    payload={"attempt": attempt + 1, "problems": exc.problems[:20]},
                    source_agent=agent_id,
                    run_id=request.run_id,
                )
                outcome.error = f"invalid model answer: {'; '.join(exc.problems)[:1000]}"
                request = request.model_copy(
                    update={"feedback": feedback, "previous": response.tool_calls}
                )
        return None, "failed"

    def _respect_rate_limit(self, agent_id: str, tokens: int) -> None:
        """Per-agent requests/tokens per minute, shared through Redis, for real providers
        (wall-clock time: rate limits are the provider's, not the simulation's)."""
        if self.ports.model.provider in ("offline", "replay"):
            return
        limiter = ratelimits.RateLimiter(self.ports.bus, default=self.rate_limits)
        wanted = min(tokens, self.rate_limits.tokens_per_minute)
        deadline = time.monotonic() + self.max_rate_wait_seconds
        while True:
            decision = limiter.acquire(agent_id, tokens=wanted, now=dt.datetime.now(dt.UTC))
            if decision.allowed:
                return
            if time.monotonic() + decision.retry_after > deadline:
                raise TemporaryAdapterError(
                    "ratelimit",
                    f"{agent_id} is over its model rate limit "
                    f"({self.rate_limits.requests_per_minute} requests, "
                    f"{self.rate_limits.tokens_per_minute:,} tokens per minute)",
                    retry_after=decision.retry_after,
                )
            time.sleep(decision.retry_after)

    def _seed_ledger(
        self,
        ledger: budgets.BudgetLedger,
        limits: list[budgets.Limit],
        spend: dict[tuple[str, str], tuple[float, int]],
    ) -> None:
        """Postgres' model_usage is the durable record: a period Redis does not know yet
        (first call of the day, or Redis lost its data) starts from what it says."""
        now = self.ports.clock()
        for limit in limits:
            usd, tokens = spend[(limit.scope, limit.period)]
            ledger.seed(limit.scope, budgets.period_key(limit.period, now), usd=usd, tokens=tokens)

    # -- acting -------------------------------------------------------------------------

    def _act(
        self,
        org: loading.Organization,
        seen: context.Context,
        planned: list[actions.ActionModel],
        outcome: RunOutcome,
    ) -> None:
        ports = self.ports
        executor = executing.Executor(
            ports=ports, org=org, context=seen, workers=self._spawn_worker(outcome)
        )
        counts = checking.RunCounts()
        done = ports.memory.actions_of(seen.run_id)
        for position, action in enumerate(planned):
            data = action.model_dump(mode="json")
            digest = executing.content_hash(action.content_key())
            kind = str(data["type"])
            if isinstance(action, actions.RunSummary):
                outcome.summary = action.text
            row = done.get(position)
            if row is not None and row["status"] != "started":
                outcome.actions.append(
                    ActionReport(position, kind, row["status"], row["ref"], row["reason"])
                )
                if row["status"] == "executed":
                    counts.by_type[kind] += 1
                continue
            reason = checking.check(
                action,
                context=_with_created(seen, executor),
                org=org,
                counts=counts,
                caps=self.caps,
            )
            if reason is None and row is None:
                reason = executor.duplicate(action)

            def mark(status: str, reason: str | None = None, ref: str | None = None) -> None:
                ports.memory.mark_action(
                    run_id=seen.run_id,
                    position=position,  # noqa: B023 - used at once, inside this iteration
                    agent_id=seen.agent.id,
                    action=data,  # noqa: B023
                    content_hash=digest,  # noqa: B023
                    status=status,
                    reason=reason,
                    ref=ref,
                    at=ports.clock(),
                )

            result = executing.Result("refused", reason=reason)
            if reason is None:
                mark("started")
                result = executor.execute(position, action)
            mark(result.status, result.reason, result.ref)
            if result.status == "executed":
                counts.by_type[kind] += 1
                if isinstance(action, actions.UpdateTask) and action.status.value == "in_progress":
                    counts.started_tasks += 1
                if isinstance(action, actions.CompleteTask):
                    counts.finished_tasks += 1
            else:  # refused or failed: the agent sees why next time
                ports.memory.add_outcome(
                    agent_id=seen.agent.id,
                    kind=result.status,
                    summary=f"{kind} {result.status}: {result.reason}",
                    ref=kind,
                    dedupe_key=f"{result.status}:{seen.run_id}:{position}",
                    at=ports.clock(),
                    details={"action": data},
                )
            outcome.actions.append(
                ActionReport(position, kind, result.status, result.ref, result.reason)
            )
        if outcome.summary:
            refused = sum(a.status == "refused" for a in outcome.actions)
            executor.remember(
                "run_summary",
                outcome.summary + (f" ({refused} action(s) refused)" if refused else ""),
                {"trigger": outcome.trigger, "actions": len(outcome.actions)},
            )
        if executor.history:
            writer = writing.HistoryWriter(
                store=ports.memory, embedder=ports.embedder, linger_seconds=0.0
            )
            for entry in executor.history:
                writer.record(entry)
            writer.close()

    def _spawn_worker(self, outcome: RunOutcome) -> executing.WorkerRunner:
        def run_worker(request: executing.WorkerRequest) -> str:
            worker_run = run_id_for(
                request.kind, "spawn", key=f"{request.requester_run}#{request.position}"
            )
            result = self.run(request.kind, trigger="spawn", run_id=worker_run, worker=request)
            outcome.workers.append(result)
            done = [a for a in result.actions if a.status == "executed" and a.type != "summary"]
            text = result.summary or result.error or result.status
            listed = ", ".join(f"{a.type} {a.ref}" for a in done) or "none"
            return f"{result.status}: {text} ({len(done)} action(s): {listed})"

        return run_worker

    # -- persistence --------------------------------------------------------------------

    def _finish(
        self,
        org: loading.Organization,
        seen: context.Context,
        outcome: RunOutcome,
        *,
        fingerprint: str | None,
    ) -> None:
        ports = self.ports
        if outcome.status in ("completed", "stopped"):
            ports.memory.mark_inbox_handled(
                seen.agent.id, [m.id for m in seen.inbox], run_id=seen.run_id
            )
            ports.memory.mark_outcomes_seen([o.id for o in seen.outcomes], run_id=seen.run_id)
        if not outcome.summary:
            outcome.summary = outcome.error or f"{len(outcome.actions)} action(s)"
        ports.memory.finish_run(
            seen.run_id,
            status=outcome.status,
            at=ports.clock(),
            fingerprint=fingerprint,
            summary=outcome.summary,
            error=outcome.error,
            provider=ports.model.provider,
            model=org.model_of(seen.agent.id),
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
            source_agent=seen.agent.id,
            run_id=seen.run_id,
        )
        self._heartbeat(org, seen.agent.id, seen.run_id)

    def _heartbeat(self, org: loading.Organization, agent_id: str, run_id: str) -> None:
        schedule = org.schedule(agent_id) if org.agents[agent_id].loop else None
        interval = schedule.interval_seconds if schedule and schedule.interval_seconds else 3600
        self.ports.bus.heartbeat(
            agent_id=agent_id,
            status="idle",
            run_id=run_id,
            at=self.ports.clock(),
            ttl_seconds=interval * HEARTBEAT_TTL_FACTOR,
        )

    def _record_usage(
        self,
        org: loading.Organization,
        agent_id: str,
        run_id: str,
        response: ModelResponse,
        price: Any,
    ) -> None:
        usage = response.usage
        self.ports.memory.record_usage(
            UsageRow(
                agent_id=agent_id,
                run_id=run_id,
                model=response.model,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cost_usd=cost_usd(usage, price),
                latency_ms=response.latency_ms,
                created_at=self.ports.clock(),
            )
        )

    def _spend(self, agent_id: str, now: dt.datetime) -> dict[tuple[str, str], tuple[float, int]]:
        """(scope, period) → (USD, tokens) spent, from Postgres' model_usage: read once per
        run, for the agent's budget view and to seed the Redis ledger."""
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        starts = {"day": day, "month": day.replace(day=1)}
        scopes = {budgets.agent_scope(agent_id): agent_id, budgets.ORG_SCOPE: None}
        return {
            (scope, period): self.ports.memory.spent(agent_id=agent, since=start)
            for scope, agent in scopes.items()
            for period, start in starts.items()
        }

    def _budget_view(
        self,
        org: loading.Organization,
        agent_id: str,
        spend: dict[tuple[str, str], tuple[float, int]],
    ) -> context.BudgetView:
        spec = org.agents[agent_id]
        scope = budgets.agent_scope(agent_id)
        return context.BudgetView(
            daily_limit_usd=spec.budget.daily_usd,
            daily_spent_usd=spend[(scope, "day")][0],
            monthly_limit_usd=spec.budget.monthly_usd,
            monthly_spent_usd=spend[(scope, "month")][0],
        )

    # -- guards -------------------------------------------------------------------------

    def _looping(
        self, agent_id: str, planned: list[actions.ActionModel], *, run_id: str
    ) -> str | None:
        """An action planned unchanged in LOOP_LIMIT runs of the window is a loop."""
        since = self.ports.clock() - LOOP_WINDOW
        for action in planned:
            if isinstance(action, actions.RunSummary | actions.UpdateState | actions.CastVote):
                continue
            digest = executing.content_hash(action.content_key())
            if self.ports.memory.repeats(agent_id, digest, since=since) + 1 >= self.loop_limit:
                kind = action.model_dump()["type"]
                return (
                    f"the same {kind} action was planned in {self.loop_limit} runs within "
                    f"{LOOP_WINDOW} without progress; stopped and escalated"
                )
        return None

    def _escalate_loop(
        self, org: loading.Organization, agent_id: str, run_id: str, reason: str
    ) -> None:
        target = _escalation_target(org, agent_id)
        if target is not None:
            self._notify(
                org,
                agent_id,
                run_id,
                to=target,
                subject=f"{agent_id} stopped: looping",
                body=reason,
                severity=Severity.WARNING,
            )
        self._human_issue(
            org, agent_id, run_id, title=f"{agent_id} stopped: it repeats itself", body=reason
        )

    def _budget_exhausted(
        self, org: loading.Organization, agent_id: str, run_id: str, reason: str
    ) -> None:
        cfo = next((a.id for a in org.agents.values() if a.type == "cfo"), None)
        if cfo and cfo != agent_id:
            self._notify(
                org,
                agent_id,
                run_id,
                to=cfo,
                subject=f"budget exhausted: {agent_id}",
                body=reason,
                severity=Severity.WARNING,
            )
        self._human_issue(
            org, agent_id, run_id, title=f"Budget exhausted: {agent_id}", body=reason, day=True
        )

    def _notify(
        self,
        org: loading.Organization,
        agent_id: str,
        run_id: str,
        *,
        to: str,
        subject: str,
        body: str,
        severity: Severity,
    ) -> None:
        message = AgentMessage.model_validate(
            {
                "id": f"aito:{run_id}:{to}:{executing.slug(subject)}",
                "type": MessageType.ALERT,
                "from": agent_id,
                "to": to,
                "payload": {
                    "subject": subject,
                    "body": body,
                    "severity": severity.value,
                    "by": "aito",
                },
                "priority": Priority.HIGH,
                "timestamp": self.ports.clock(),
            }
        )
        streams.Messenger(self.ports.bus, groups=org.groups(), clock=self.ports.clock).send(message)
        self.ports.memory.append_event(
            event_type="agent.escalated",
            payload={"to": to, "subject": subject, "reason": body},
            source_agent=agent_id,
            run_id=run_id,
        )

    def _human_issue(
        self,
        org: loading.Organization,
        agent_id: str,
        run_id: str,
        *,
        title: str,
        body: str,
        day: bool = False,
    ) -> None:
        """One issue per problem (per agent and day for budgets), mentioning the maintainers."""
        forge = self.ports.governance
        key = f"{title} ({self.ports.clock():%Y-%m-%d})" if day else title
        for issue in forge.issues(state="open", labels=[executing.HUMAN_ACTION_LABEL]):
            if issue.title == key:
                return
        mentions = " ".join(f"@{m.login}" for m in org.org.maintainers)
        forge.open_issue(
            title=key,
            body=f"{body}\n\n---\nRaised by AITO for `{agent_id}` (run `{run_id}`). {mentions}",
            labels=[executing.HUMAN_ACTION_LABEL, executing.ALERT_LABEL],
            author=reading.governance_identity(org),
        )

    def _organization(self) -> loading.Organization:
        forge = self.ports.governance
        return reading.base_organization(forge, forge.default_branch)


def materialize_due_events(ports: LoopPorts, org: loading.Organization, agent_id: str) -> bool:
    """Scheduled events for this agent whose time has come become tasks; True if any did."""
    now = ports.clock()
    made = False
    for item in ports.memory.items(kind="schedule"):
        details = item["details"]
        if details.get("assigned_to") != agent_id or dt.datetime.fromisoformat(details["at"]) > now:
            continue
        at = dt.datetime.fromisoformat(details["at"])
        slug = executing.slug(item["title"], limit=30)
        task_id = f"{at:%Y%m%d}-{slug}-{executing.content_hash(item['ref'])[:6]}"
        if task_id not in org.tasks:
            task = Task(
                id=task_id,
                title=item["title"],
                description=details.get("description", ""),
                assigned_to=agent_id,
                created_by=item["agent_id"],
                priority=3,
                due_date=dt.datetime.fromisoformat(details["at"]),
                created_at=now,
            )
            author_id = item["agent_id"] if item["agent_id"] in org.org.bots else "ceo"
            executing.write_task(
                ports.governance,
                org,
                task,
                author=proposing.identity_for(org, author_id),
                message=f"Task {task_id}: scheduled {item['title']}",
            )
        ports.memory.close_item(kind="schedule", ref=item["ref"], at=now)
        made = True
    return made


def refresh_outcomes(ports: LoopPorts, org: loading.Organization, agent_id: str) -> None:
    """Pull requests the agent opened that were merged or closed since: outcomes for it."""
    now = ports.clock()
    for item in ports.memory.items(kind="pr", agent_id=agent_id):
        repo_key, _, number = str(item["ref"]).rpartition("#")
        try:
            pull = ports.repo_forge(repo_key).pull(int(number))
        except (AitoError, ValueError):
            continue
        if pull.state is PullState.OPEN:
            continue
        verb = "merged" if pull.state is PullState.MERGED else "closed without merging"
        ports.memory.add_outcome(
            agent_id=agent_id,
            kind=f"pr_{pull.state.value}",
            summary=f"PR {item['ref']} ({item['title']}) was {verb}",
            ref=str(item["ref"]),
            dedupe_key=f"pr:{item['ref']}:{pull.state.value}",
            at=now,
        )
        ports.memory.close_item(kind="pr", ref=str(item["ref"]), at=now)
    for item in ports.memory.items(kind="decision", agent_id=agent_id):
        decision = ports.memory.decision(str(item["ref"]))
        if decision is None or decision.get("status") in (None, "pending", "escalated"):
            continue
        ports.memory.add_outcome(
            agent_id=agent_id,
            kind="decision_outcome",
            summary=f"your decision {item['ref']} ({item['title']}) was {decision['status']}",
            ref=str(item["ref"]),
            dedupe_key=f"decision:{item['ref']}:{decision['status']}",
            at=now,
        )
        ports.memory.close_item(kind="decision", ref=str(item["ref"]), at=now)


def _escalation_target(org: loading.Organization, agent_id: str) -> str | None:
    """Whom to tell about an agent's trouble: its manager; for a head agent, the other one."""
    spec = org.agents[agent_id]
    if spec.reports_to in org.agents and spec.reports_to != agent_id:
        return spec.reports_to
    heads = [a.id for a in org.by_layer(Layer.HEAD) if a.id != agent_id]
    return heads[0] if heads else None


def _worker_view(
    seen: context.Context, org: loading.Organization, request: executing.WorkerRequest
) -> context.Context:
    """A worker sees the one task it was spawned for and its instructions."""
    task = org.tasks.get(request.task)
    tasks = [context.task_view(task)] if task is not None else []
    note = context.InboxItem(
        id=f"spawn:{request.requester_run}#{request.position}",
        type="task",
        sender=request.requester,
        to=request.kind,
        subject=f"Work on task {request.task}",
        body=request.instructions,
        payload={"task": request.task},
        correlation_id=None,
        requires_response=False,
        deadline=None,
        sent_at=seen.now,
    )
    return seen.model_copy(update={"tasks": tasks, "inbox": [note], "decisions": []})


def _with_created(seen: context.Context, executor: executing.Executor) -> context.Context:
    if not executor.created_tasks:
        return seen
    extra = list(executor.created_tasks.values())
    return seen.model_copy(
        update={
            "tasks": seen.tasks + [t for t in extra if t.assigned_to == seen.agent.id],
            "delegated": seen.delegated + [t for t in extra if t.assigned_to != seen.agent.id],
        }
    )


def _saved_plan(
    existing: dict[str, Any] | None,
) -> tuple[context.Context, list[actions.ActionModel]] | None:
    """The context and validated plan an unfinished run saved, if it got that far."""
    if existing is None or existing.get("actions") is None or not existing.get("exchanges"):
        return None
    last = Exchange.model_validate(existing["exchanges"][-1])
    saved = context.Context.model_validate(last.request.context)
    planned = actions.parse(
        [(str(a["type"]), {k: v for k, v in a.items() if k != "type"}) for a in existing["actions"]]
    )
    return saved, planned


def _reported(row: dict[str, Any], ports: LoopPorts) -> RunOutcome:
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


def _seed(run_id: str) -> int:
    return int.from_bytes(executing.content_hash(run_id).encode()[:8], "big") % (2**31)
