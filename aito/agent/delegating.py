"""Workers through the queue: an agent's `spawn_worker` asks (:mod:`aito.bus.worker_queue`),
a runner claims the request, runs the worker and reports to the requester, once.

The requesting run runs its worker itself when it can (a worker runtime, room under its
`max_workers`); otherwise the request waits for the orchestrator
(:mod:`aito.reconcile.working`), which runs it the same way. Either way the result
reaches the requester as a `worker_result` outcome keyed by the request, written before
the request is marked done: a runner that dies between the two loses its claim, the
request is claimed again, the worker's run (named after the request) is resumed rather
than redone, and the outcome is not written twice.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable

from aito.agent import executing, runs
from aito.agent.ports import Memory, WorkerRequests
from aito.bus import models as bus_models
from aito.bus import worker_queue

log = logging.getLogger(__name__)

Work = Callable[[executing.WorkerRequest], str]
"""Runs a worker's wake-up to its end; returns its report."""


def worker_run_id(request: executing.WorkerRequest) -> str:
    """The worker's run: one per request, so a request claimed again resumes it."""
    return runs.run_id_for(request.kind, "spawn", key=f"{request.requester_run}#{request.position}")


def report_of(result: runs.RunOutcome) -> str:
    done = [a for a in result.actions if a.status == "executed" and a.type != "summary"]
    text = result.summary or result.error or result.status
    listed = ", ".join(f"{a.type} {a.ref}" for a in done) or "none"
    return f"{result.status}: {text} ({len(done)} action(s): {listed})"


def worker_request(asked: worker_queue.SpawnRequest) -> executing.WorkerRequest:
    return executing.WorkerRequest(
        requester=asked.requester,
        requester_run=asked.requester_run,
        position=asked.position,
        kind=asked.kind,
        task=asked.task,
        instructions=asked.instructions,
    )


@dataclasses.dataclass
class Delegation:
    """Runs claimed worker requests and tells their requesters."""

    queue: WorkerRequests
    memory: Memory
    clock: Callable[[], dt.datetime]

    def claim(
        self, request: str, *, runner: str, visibility_seconds: float, resume: bool = False
    ) -> bus_models.ClaimedTask | None:
        """Take ``request`` to run it now; None if it runs elsewhere or has ended.
        ``resume``: ``runner``'s own claim is taken over (a resumed run's)."""
        return self.queue.claim_request(
            request,
            worker=runner,
            now=self.clock(),
            visibility_seconds=visibility_seconds,
            resume=resume,
        )

    def run(self, claimed: bus_models.ClaimedTask, work: Work) -> str:
        """Run a claimed request's worker; its report (also the requester's outcome)."""
        asked = worker_queue.spawn_request(claimed.task)
        if asked is None:  # claim_request never hands out one; a guard for the types
            raise ValueError(f"{claimed.task.task_id!r} is not a worker request")
        try:
            report = work(worker_request(asked))
        except Exception as exc:
            state = self.queue.release(
                claimed, error=f"{type(exc).__name__}: {exc}"[:500], now=self.clock()
            )
            if state is bus_models.TaskState.DEAD:
                self.tell(asked, f"failed: {type(exc).__name__}: {exc}"[:1000])
            raise
        self.tell(asked, report)
        self.queue.complete(claimed, result={"report": report}, now=self.clock())
        return report

    def tell(self, asked: worker_queue.SpawnRequest, report: str) -> None:
        """The requester's `worker_result` (once per request)."""
        self.memory.add_outcome(
            agent_id=asked.requester,
            kind="worker_result",
            summary=f"worker {asked.kind} on task {asked.task}: {report}"[:2000],
            ref=asked.task,
            dedupe_key=f"worker:{asked.request_id}",
            at=self.clock(),
        )

    def state(self, request: str) -> str:
        """What became of a request this runner could not claim."""
        record = self.queue.record(request)
        if record is None:
            return "unknown (its record expired)"
        if record.state is bus_models.TaskState.DONE:
            return f"done: {(record.result or {}).get('report', '')}"
        if record.state is bus_models.TaskState.DEAD:
            return f"failed: {record.error or 'unknown'}"
        if record.state is bus_models.TaskState.CLAIMED:
            return "running (started elsewhere); its result comes as a worker_result"
        return "queued: the orchestrator starts it"
