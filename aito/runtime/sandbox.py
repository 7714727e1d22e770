"""Workers in sandboxes: a worker's thinking runs in a container that holds nothing.

The trusted side (the requesting agent's launcher) runs the worker's wake-up as any
other (:class:`~aito.agent.running.Runner`: its context, its checks, its effects), with
one difference: its plan comes from a container (:class:`SandboxThinker`). That
container gets no credential at all (no GitHub token, no model key, no database or
Redis address), no network (``none``) and nothing mounted but the gateway's socket,
through which it may only

- read its task (the request the trusted side built for it),
- ask the model: each call checked (the same request, only the feedback may differ;
  calls in order, at most :data:`~aito.agent.thinking.ATTEMPTS`), reserved on the
  worker's budget, saved and settled here, exactly as an in-process call is,
- hand back its answer: tool calls, as data.

The answer is parsed and checked here (the worker's action allowlist, its path filters
and caps, by :mod:`aito.agent.checking`) before anything of it is applied with the
right identity (a worker's pull requests are its manager's bot's). A worker that ends
without an answer, runs out of memory or past its timeout is killed and its run recorded
as ``failed``, ``oom_killed`` or ``timed_out``; its container is removed as soon as its
answer is in. An agent has at most ``max_workers`` (org files, default 3) running at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading

from aito.agent import accounting, actions, runs, thinking, tool_loop
from aito.agent.effects import WorkerRequest
from aito.agent.ports import LoopPorts
from aito.agent.running import Runner
from aito.agent.runs import Wake
from aito.bus import budgets
from aito.llm.base import Exchange, ModelRequest, ToolTurn
from aito.org.agents import Engine
from aito.runtime import coding_tasks, gateway, messages_relay, protocol, reaping, specs
from aito.runtime.base import ContainerSpec, Exit, Runtime

log = logging.getLogger(__name__)
WORKER_COMMAND = ["aito", "worker", "exec"]
LOG_EVERY_SECONDS = 1.0
"""How often a running worker's log is copied into its run record."""
ANSWER_GRACE_SECONDS = 10.0
"""How long a worker's container may take to exit once its answer is in."""
SAME_REQUEST_FIELDS = (
    "agent_id",
    "run_id",
    "model",
    "system",
    "shared_chars",
    "prompt",
    "tools",
    "max_tokens",
    "context",
    "seed",
)
"""What a worker may not change in the request it was given (only the feedback on a
rejected answer, and the answer it repeats back, may differ)."""


@dataclasses.dataclass
class SandboxWorkers:
    """Runs workers on the trusted side, each thinking in a sandbox of ``runtime``: what
    a launcher (or an in-process run) uses as its runner's ``spawn``."""

    ports: LoopPorts
    runtime: Runtime
    image: str
    user: str
    command: list[str] = dataclasses.field(default_factory=lambda: list(WORKER_COMMAND))

    def __call__(self, kind: str, run_id: str, request: WorkerRequest) -> runs.RunOutcome:
        thinker = SandboxThinker(
            runtime=self.runtime,
            image=self.image,
            parent=request.requester,
            user=self.user,
            command=list(self.command),
        )
        # Its own runner: the worker's run is checked and applied here, as any run is.
        return Runner(self.ports, thinker=thinker).run(
            kind, trigger="spawn", run_id=run_id, worker=request
        )


@dataclasses.dataclass
class SandboxThinker:
    """Thinks for one worker run of ``parent``'s, in a container of ``image``."""

    runtime: Runtime
    image: str
    parent: str
    user: str
    command: list[str] = dataclasses.field(default_factory=lambda: list(WORKER_COMMAND))

    def __call__(
        self,
        wake: Wake,
        request: ModelRequest,
        *,
        saved: list[Exchange],
        spend: accounting.Spend,
        limits: thinking.Limits,
    ) -> thinking.Thought:
        # A resumed worker run (its launcher died while it thought) thinks again in a new
        # container, with the calls it has left; its plan, once saved, is never re-asked.
        busy = self.runtime.list(
            {specs.ORG: specs.org_label(wake.org), specs.KIND: "worker", specs.PARENT: self.parent}
        )
        allowed = wake.org.max_workers_of(self.parent)
        if sum(1 for found in busy if found.running) >= allowed:
            wake.outcome.error = (
                f"{self.parent} has {allowed} worker(s) running already (max_workers); "
                "try again when one has finished"
            )
            return thinking.Thought(None, "failed")
        session = _Session(wake, request, saved=saved, spend=spend, limits=limits)
        routes = gateway.Routes(model=session.model, task=session.task, output=session.output)
        if wake.org.agents[wake.agent_id].engine is Engine.CLAUDE_CODE:
            unable = messages_relay.unable(wake)
            if unable is not None:  # said before a container starts
                wake.outcome.error = unable
                return thinking.Thought(None, "failed")
            routes = session.coding()
        other = gateway.is_another_user(self.user)
        with gateway.serving(routes, for_another_user=other) as directory:
            spec = specs.worker_container(
                wake.org,
                kind=wake.agent_id,
                parent=self.parent,
                run_id=wake.run_id,
                image=self.image,
                command=self.command,
                gateway_dir=str(directory),
                user=self.user,
                launcher=reaping.launcher_id(),
                now=dt.datetime.now(dt.UTC),  # containers live in real time
            )
            ended = self._run(spec, session)
        wake.ports.memory.record_container(
            wake.run_id, container=specs.container_record(spec, ended)
        )
        return session.thought(ended)

    def _run(self, spec: ContainerSpec, session: _Session) -> Exit:
        handle = self.runtime.start(spec)
        ended = threading.Event()

        def end_after_answer() -> None:
            # The answer ends the task: a container still going after it is stopped.
            session.changed.wait(spec.timeout_seconds)
            if ended.is_set() or ended.wait(ANSWER_GRACE_SECONDS):
                return
            log.info("%s: stopping it, its answer is in", spec.name)
            self.runtime.stop(handle, remove=False)

        def keep_logs() -> None:
            # What it printed so far, in its run record while it runs (the dashboard
            # follows a worker's log live); the record at its end replaces it.
            kept = ""
            while not ended.wait(LOG_EVERY_SECONDS):
                try:
                    logs = self.runtime.logs(handle)
                except Exception:  # a container gone meanwhile: its end records it
                    log.debug("%s: its logs could not be read", spec.name, exc_info=True)
                    continue
                if logs != kept and not ended.is_set():
                    kept = logs
                    session.wake.ports.memory.record_container(
                        session.wake.run_id, container=running_record(spec, logs)
                    )

        watcher = threading.Thread(target=end_after_answer, name=f"{spec.name}-end", daemon=True)
        watcher.start()
        follower = threading.Thread(target=keep_logs, name=f"{spec.name}-logs", daemon=True)
        follower.start()
        try:
            return self.runtime.wait(handle, timeout_seconds=spec.timeout_seconds)
        finally:
            ended.set()
            session.changed.set()
            follower.join(LOG_EVERY_SECONDS + 5)  # its last write lands before the end's
            self.runtime.stop(handle)


def running_record(spec: ContainerSpec, logs: str) -> dict[str, object]:
    """The run record's container while it runs: its limits and what it printed so far."""
    return {
        **specs.container_record(spec, Exit(status="exited", exit_code=None, logs=logs)),
        "status": "running",
    }


class _Session:
    """One worker container's conversation with the trusted side."""

    def __init__(
        self,
        wake: Wake,
        request: ModelRequest,
        *,
        saved: list[Exchange],
        spend: accounting.Spend,
        limits: thinking.Limits,
    ) -> None:
        self.wake = wake
        self.request = request
        self.first = len(saved)
        self.exchanges = list(saved)
        self.latest = saved[-1].request if saved else request
        self.turns: list[ToolTurn] = list(self.latest.turns)
        """The turns this side made (a request may carry no others)."""
        self.spend = spend
        self.limits = limits
        self.budget = budgets.limits_for(wake.org, wake.agent_id)
        self.refusal: budgets.Refusal | None = None
        self.answer: protocol.Output | None = None
        self.seeded = False
        self.changed = threading.Event()
        """Set when the answer is in (or the container has ended)."""
        self.relay: messages_relay.MessagesRelay | None = None
        self.coding_task: protocol.Task | None = None
        self._lock = threading.Lock()

    def coding(self) -> gateway.Routes:
        """A claude-code worker's routes: its task (with the files), the Messages API
        (each call checked, budgeted and recorded here), its answer."""
        accounting.seed_ledger(self.wake, self.budget, spend=self.spend)
        self.coding_task = coding_tasks.task_for(self.wake, self.request, first_index=self.first)
        self.relay = messages_relay.MessagesRelay(
            wake=self.wake,
            budget=self.budget,
            exchanges=self.exchanges,
            max_calls=coding_tasks.MAX_TURNS + coding_tasks.EXTRA_CALLS,
            first=self.first,
        )
        return gateway.Routes(messages=self.relay, task=self.task, output=self.output)

    def task(self) -> protocol.Task:
        if self.coding_task is not None:
            return self.coding_task
        # A resumed worker goes on from its last request (its turns so far included).
        return protocol.Task(
            request=self.latest, first_index=self.first, attempts=thinking.ATTEMPTS
        )

    def model(self, call: protocol.ModelCall) -> protocol.ModelReply:
        with self._lock:  # one call at a time, in order
            if call.index != len(self.exchanges):
                raise gateway.Refusal(
                    409, f"the next call is {len(self.exchanges)}, not {call.index}"
                )
            reading = self.wake.tools is not None and any(
                tool.read_only for tool in self.wake.tools.tools()
            )  # a worker with nothing to read makes no turn
            allowed = thinking.ATTEMPTS + (self.wake.org.org.mcp.max_turns if reading else 0)
            if call.index >= allowed:
                raise gateway.Refusal(429, f"a worker run makes at most {allowed} calls")
            if call.request.turns != self.turns:
                raise gateway.Refusal(403, "the tool results are not the ones this side gave")
            changed = [
                name
                for name in SAME_REQUEST_FIELDS
                if getattr(call.request, name) != getattr(self.request, name)
            ]
            if changed:
                raise gateway.Refusal(403, f"the task's request was changed: {', '.join(changed)}")
            if not self.seeded:
                accounting.seed_ledger(self.wake, self.budget, spend=self.spend)
                self.seeded = True
            asked = thinking.ask_and_keep(
                self.wake,
                call.request,
                index=call.index,
                budget=self.budget,
                limits=self.limits,
                exchanges=self.exchanges,
            )
        if isinstance(asked, budgets.Refusal):
            self.refusal = asked
            return protocol.ModelReply(refused=asked.model_dump(mode="json"))
        if asked.rejected is not None:
            thinking.reject(self.wake, call.index, [asked.rejected], live=True)
            return protocol.ModelReply(malformed=asked.rejected)
        if asked.error is not None or asked.response is None:
            return protocol.ModelReply(error=asked.error or "no answer")
        settings = self.wake.org.org.mcp
        reads = tool_loop.reads_of(asked.response, self.wake.tools)
        if reads and len(self.turns) < settings.max_turns:  # made here, never there
            made = tool_loop.turn(
                self.wake, asked.response, max_result_chars=settings.max_result_chars
            )
            with self._lock:
                self.turns.append(made)
            return protocol.ModelReply(response=asked.response, turn=made)
        try:  # judged here as in-process, so a rejected answer is recorded whatever it does
            actions.parse([(c.name, c.input) for c in asked.response.tool_calls])
        except actions.InvalidActions as exc:
            thinking.reject(self.wake, call.index, exc.problems, live=True)
        return protocol.ModelReply(response=asked.response)

    def output(self, answer: protocol.Output) -> None:
        with self._lock:
            if self.answer is not None:
                raise gateway.Refusal(409, "the answer was handed in already")
            self.answer = answer
        self.changed.set()

    def thought(self, ended: Exit) -> thinking.Thought:
        """The plan, if the container handed in a valid answer; else why there is none."""
        wake = self.wake
        if self.refusal is None and self.relay is not None:
            self.refusal = self.relay.refusal
        if self.refusal is not None:
            return thinking.refused(wake, self.refusal)
        if self.answer is None:
            if ended.status in ("timed_out", "oom_killed"):
                what = (
                    "ran past its timeout" if ended.status == "timed_out" else "ran out of memory"
                )
                wake.outcome.error = f"the worker's container {what} and was killed"
                return thinking.Thought(None, ended.status)
            wake.outcome.error = (
                f"the worker's container ended ({ended.status}, exit code {ended.exit_code}) "
                f"without an answer: {ended.logs[-500:].strip()}"
            )
            return thinking.Thought(None, "failed")
        calls = [(c.name, c.input) for c in self.answer.tool_calls]
        try:
            return thinking.Thought(actions.parse(calls), None, list(self.turns))
        except actions.InvalidActions as exc:
            wake.outcome.error = f"the worker's answer was rejected: {'; '.join(exc.problems)}"[
                :2000
            ]
            wake.ports.memory.append_event(
                event_type="agent.invalid_answer",
                payload={"attempt": len(self.exchanges), "problems": exc.problems[:20]},
                source_agent=wake.agent_id,
                run_id=wake.run_id,
            )
            return thinking.Thought(None, "failed")
