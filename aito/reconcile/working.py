"""The orchestrator's workers: queued requests started, and stale ones expired.

A request is claimed in the pass (so two passes never start it twice) and its worker run
in a thread of its own: a worker may take its kind's whole timeout while the passes go
on. Its thinking runs where the orchestrator's runtime puts it (a container of the AITO
image with `AITO_RUNTIME=docker`, else a thread), through the same gateway and checks as
a worker an agent's run starts itself (:mod:`aito.runtime.sandbox`). An orchestrator
stopped or killed while a worker runs leaves its claim to lapse: the request is started
again by a later pass and its worker's run resumed, not redone.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from aito.agent import acting, delegating, executing
from aito.bus import models as bus_models
from aito.bus import worker_queue
from aito.reconcile import steps

log = logging.getLogger(__name__)
RUNNER = "orchestrator"


@dataclasses.dataclass
class QueuedWorkers:
    """Starts the orchestrator's ``SpawnWorker`` steps and applies its ``ExpireWorker`` ones."""

    delegation: delegating.Delegation
    spawn: acting.RunWorker
    background: bool = True
    """False runs each worker within the pass (the demo: its clock stands still meanwhile)."""
    done: Callable[[str], None] | None = None
    """Called with the requester once its worker has reported (to wake it)."""
    _threads: list[threading.Thread] = dataclasses.field(default_factory=list)

    def start(self, step: steps.SpawnWorker) -> None:
        claimed = self.delegation.claim(
            step.request, runner=RUNNER, visibility_seconds=step.claim_seconds
        )
        if claimed is None:
            return  # started by its requester meanwhile, or ended
        if not self.background:
            self._run(claimed, step)
            return
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(
            target=self._run, args=(claimed, step), name=f"worker {step.request}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def expire(self, step: steps.ExpireWorker, *, minutes: int | None) -> bool:
        """Bury a request that waited too long and tell its requester (once)."""
        queue = self.delegation.queue
        record = queue.record(step.request)
        reason = "expired: not started in time"
        if minutes is not None:
            reason = f"expired: not started within {minutes} minute(s) (the worker kind's timeout)"
        now = self.delegation.clock()
        if not queue.expire(step.request, reason=reason, now=now):
            return False
        asked = worker_queue.spawn_request(record) if record is not None else None
        if asked is not None:
            self.delegation.tell(asked, reason)
        return True

    def report_dead(self, step: steps.ReportDeadWorker) -> None:
        """Tell a dead request's requester it failed (once), then forget it."""
        queue = self.delegation.queue
        record = queue.record(step.request)
        asked = worker_queue.spawn_request(record) if record is not None else None
        if asked is not None and record is not None:
            why = record.error or "unknown"
            self.delegation.tell(
                asked, f"failed: started {record.attempts} time(s) without finishing ({why})"
            )
        queue.told(step.request)

    def running(self) -> int:
        """Workers this orchestrator runs now."""
        return sum(1 for t in self._threads if t.is_alive())

    def join(self, timeout_seconds: float) -> None:
        """Wait for the running workers (tests; the demo runs them in the pass)."""
        for thread in list(self._threads):
            thread.join(timeout_seconds)

    def _run(self, claimed: bus_models.ClaimedTask, step: steps.SpawnWorker) -> None:
        def work(request: executing.WorkerRequest) -> str:
            result = self.spawn(request.kind, delegating.worker_run_id(request), request)
            return delegating.report_of(result)

        try:
            report = self.delegation.run(claimed, work)
        except Exception:
            log.exception("orchestrator: the worker of %s failed", step.request)
            return
        log.info("orchestrator: worker %s for %s: %s", step.kind, step.parent, report[:200])
        if self.done is not None:
            self.done(step.parent)
